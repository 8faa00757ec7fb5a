"""The per-episode and per-task records the gate computes its figures from (shared by
metrics.py and rundata.py, so neither imports the other's module at load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from store import INFRA

from .stats import SUCCESS_TOL, flip_rate, is_success


@dataclass
class Episode:
    episode_id: int
    task_id: str
    trial: int | None
    reward: float | None
    termination_reason: str | None
    agent_cost: float | None
    user_cost: float | None
    duration: float | None
    tokens_in: int | None
    tokens_out: int | None

    @property
    def success(self) -> bool:
        return is_success(self.reward)

    @property
    def scored(self) -> bool:
        """Counts in figures: not an infrastructure error, and graded."""
        return self.termination_reason != INFRA and self.reward is not None


@dataclass
class TaskOutcome:
    """One task of one run: its trials (in trial order) and its outcome."""
    task_id: str
    rewards: list[float] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)
    terminations: list[str | None] = field(default_factory=list)
    episode_ids: list[int] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)  # infra errors / unscored episodes

    @property
    def n_trials(self) -> int:
        return len(self.rewards)

    @property
    def rate(self) -> float | None:
        """Success rate over the scored trials (None when there are none)."""
        return sum(self.successes) / len(self.successes) if self.successes else None

    @property
    def mean_reward(self) -> float | None:
        return sum(self.rewards) / len(self.rewards) if self.rewards else None

    @property
    def flip_rate(self) -> float | None:
        return flip_rate(self.successes)

    def to_dict(self) -> dict:
        return {"task_id": self.task_id, "rewards": self.rewards, "rate": self.rate,
                "mean_reward": self.mean_reward, "n_trials": self.n_trials,
                "terminations": self.terminations, "flip_rate": self.flip_rate,
                "episode_ids": self.episode_ids, "excluded": self.excluded}


def outcomes_from_episodes(episodes: Iterable[Episode]) -> dict[str, TaskOutcome]:
    """Group episodes by task (Episode.scored / .success inlined: this runs per episode)."""
    out: dict[str, TaskOutcome] = {}
    get = out.get
    for ep in episodes:
        tid = ep.task_id
        t = get(tid)
        if t is None:
            t = out[tid] = TaskOutcome(tid)
        reward, term = ep.reward, ep.termination_reason
        if term == INFRA or reward is None:
            why = INFRA if term == INFRA else "not scored"
            t.excluded.append({"episode_id": ep.episode_id, "trial": ep.trial, "why": why})
            continue
        reward = float(reward)
        t.rewards.append(reward)
        t.successes.append(abs(reward - 1.0) <= SUCCESS_TOL)
        t.terminations.append(term)
        t.episode_ids.append(ep.episode_id)
    return out
