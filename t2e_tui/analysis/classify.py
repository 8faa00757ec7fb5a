"""Classify one episode: the verdicts of every class's detector, ranked, plus the first
divergence. Pure functions over an EpisodeTrace (no store): the evolve loop calls these.

CLASSIFIER_VERSION changes whenever a rule changes, so cached results are recomputed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from os.path import commonprefix

from store import INFRA as INFRA_TERMINATION

from ..align_events import SAME, diff_args, norm_value
from ..fitting import around, end_cut
from .classes import AGENT, BLAME, INFRA, UNCLASSIFIED, FailureClass, Verdict, registered
from .facts import Facts
from .outcome import UNSCORED
from .trace import EpisodeTrace

# rules-3: unscored episodes are not failures (only the classes that need no gold look at them),
# and an episode with no stored task gets no class that needs gold
# rules-4: a verdict names the tool of the call it is about, and the clusters key on it (not on
# the first call of the failing step, which may hold several)
# rules-5: `aborted`, an episode that ended on an error of the agent's own run (a Harbor
# trial's exception, tau2's agent_error, 1.x's timeout): it was unclassified
CLASSIFIER_VERSION = "rules-5"


@dataclass
class Analysis:
    """The classifier's result for one episode. `classes`: agent classes, top first (or one
    `unclassified`); `flags`: blame flags beside them; `infra`: excluded from figures.
    `unscored`: the episode has no reward, so it did not fail: `classes` are only what the
    classes that need no gold found (maybe none, never `unclassified`), with no first
    divergence (there is no gold outcome to diverge from)."""
    episode_id: int | None
    task_id: str | None
    trial: int | None
    reward: float | None
    classes: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    first_divergence: dict | None = None
    infra: bool = False
    features: dict = field(default_factory=dict)   # what the failing step looks like (clusters)
    unscored: bool = False

    @property
    def top(self) -> str | None:
        return self.classes[0].name if self.classes else None

    def to_dict(self) -> dict:
        """The `t2e failures --json` episode document."""
        d = {"episode_id": self.episode_id, "task_id": self.task_id, "trial": self.trial,
             "reward": self.reward, "classes": [v.to_dict() for v in self.classes],
             "flags": [v.to_dict() for v in self.flags],
             "first_divergence": self.first_divergence}
        if self.unscored:
            d["outcome"] = UNSCORED
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Analysis":
        return cls(d.get("episode_id"), d.get("task_id"), d.get("trial"), d.get("reward"),
                   [Verdict.from_dict(v) for v in d.get("classes") or []],
                   [Verdict.from_dict(v) for v in d.get("flags") or []],
                   d.get("first_divergence"), bool(d.get("infra")), d.get("features") or {},
                   d.get("outcome") == UNSCORED)

    def dumps(self) -> str:
        d = self.to_dict()
        if self.infra:
            d["infra"] = True
        if self.features:
            d["features"] = self.features
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def classify(ep: EpisodeTrace, classes: list[FailureClass] | None = None) -> Analysis:
    """Run every detector on a failed episode; a passing episode gets no class. An unscored
    episode (no reward) is not failed: only the classes that need no gold look at it
    (`Analysis.unscored`). A failed episode whose task is not stored (a foreign trace given a
    reward with `--reward-attr`) has no gold either: the same classes, else `unclassified`."""
    classes = registered() if classes is None else sorted(classes, key=lambda c: (c.priority, c.name))
    res = Analysis(ep.episode_id, ep.task_id, ep.trial, ep.reward)
    if ep.termination == INFRA_TERMINATION:
        res.infra = True
        res.classes = [Verdict("infrastructure", [], "the model endpoint failed; excluded from every "
                               "figure.", kind=INFRA)]
        return res
    if ep.success:
        return res
    res.unscored = ep.reward is None
    gold = ep.has_task and not res.unscored
    f = Facts(ep)
    for fc in classes:
        if fc.kind == INFRA or (fc.needs_gold and not gold):
            continue
        for v in fc.detector(ep, f) or []:
            v.kind = fc.kind
            (res.flags if fc.kind == BLAME else res.classes).append(v)
    res.classes, res.flags = _merge(res.classes), _merge(res.flags)
    prio = {fc.name: fc.priority for fc in classes}
    res.classes.sort(key=lambda v: v.rank if v.rank is not None else prio.get(v.name, 50))
    if res.unscored:
        return res      # findings only: no failure to explain, no gold outcome to diverge from
    if not res.classes:
        res.classes = [Verdict(UNCLASSIFIED, [], "no rule explains this failure; read the trace.")]
    res.first_divergence = first_divergence(res, f)
    res.features = step_features(res, ep)
    return res


_NUM = re.compile(r"#?\b[A-Z]*\d[\w-]*\b|\$[\d,.]+")
_WORD = re.compile(r"[a-z']+")


def step_features(res: Analysis, ep: EpisodeTrace) -> dict:
    """The failing step in a few comparable features: the tool of the call the top verdict is
    about (`Verdict.tool`; a step may hold several calls), else the first call at or after the
    first divergence, the shape of the top verdict's argument diff, and the agent's words there
    (ids and numbers dropped), for offline clustering."""
    top = res.classes[0] if res.classes else None
    step = (res.first_divergence or {}).get("step")
    tool, text = top.tool if top is not None else None, ""
    for s in ep.steps:
        if step is not None and s.idx >= step and s.role == "assistant":
            if s.calls and tool is None:
                tool = s.calls[0].name
            if s.text and not text:
                text = s.text
            if tool and text:
                break
    diff = sorted((top.detail or {}).get("diff", {})) if top else []
    words = _WORD.findall(_NUM.sub(" ", text).lower())[:12]
    return {"tool": tool, "diff": diff, "words": words}


def _merge(verdicts: list) -> list:
    """One verdict per class: the steps of repeated verdicts join the first one's."""
    out: dict = {}
    for v in verdicts:
        if v.name in out:
            first = out[v.name]
            first.steps = sorted(set(first.steps) | set(v.steps))
            first.detail.setdefault("more", []).append(v.why)
            if v.rank is not None and (first.rank is None or v.rank < first.rank):
                first.rank = v.rank
        else:
            out[v.name] = v
    return list(out.values())


def first_divergence(res: Analysis, f: Facts) -> dict:
    """The earliest step from which the gold outcome was no longer reached: the earliest step
    an agent class cites (a wrong or missing write, a transfer, a stop), else the end."""
    best = None
    for v in res.classes:
        if v.kind != AGENT or v.name == UNCLASSIFIED or not v.steps:
            continue
        # a write verdict cites the question then the write: the write is where it diverged
        step = max(v.steps) if v.name == "unconfirmed_write" else min(v.steps)
        if best is None or step < best[0]:
            best = (step, v)
    if best is None:
        if not f.ep.has_task:
            return {"step": f.last_step, "why": "the conversation ended with a failing reward; "
                    "no task definition is stored to say where it went wrong."}
        return {"step": f.last_step, "why": "the conversation ended without the gold outcome."}
    return {"step": best[0], "why": f"{best[1].name}: {best[1].why}"}


def _step_key(s) -> tuple:
    calls = tuple((c.name, json.dumps(c.args, sort_keys=True)) for c in s.calls)
    return (s.role, (s.text or "").strip() if not calls else "", calls)


def pair_divergence(a: EpisodeTrace, b: EpisodeTrace) -> dict:
    """The first step where two trajectories of a task part, messages as well as tool calls.
    Returns {"step", "why"} (`step` is the same index in both: the prefix before it is equal)."""
    for i, (sa, sb) in enumerate(zip(a.steps, b.steps)):
        ka, kb = _step_key(sa), _step_key(sb)
        if ka != kb:
            da, db = _describe_pair(sa, sb)
            return {"step": i, "why": f"step {i}: {da} vs {db}."}
    n = min(len(a.steps), len(b.steps))
    if len(a.steps) == len(b.steps):
        return {"step": None, "why": "the trajectories are identical."}
    longer = "the first" if len(a.steps) > n else "the second"
    return {"step": n, "why": f"step {n}: {longer} trajectory goes on after the other ended."}


def _describe(s) -> str:
    if s.calls:
        return f"{s.role} calls {', '.join(c.name for c in s.calls)}"
    text = " ".join((s.text or "").split())
    return f"{s.role} says \"{end_cut(text, 50)}\""


def _describe_pair(sa, sb) -> tuple[str, str]:
    """Two steps that differ, each said where it differs from the other: messages quoted
    around their first differing character, alike calls with the argument they differ in."""
    if sa.calls and sb.calls:
        for ca, cb in zip(sa.calls, sb.calls):
            if ca.name != cb.name:
                break
            arg = next((d for d in diff_args(ca.args, cb.args) if d.status != SAME), None)
            if arg is not None:
                return (f"{sa.role} calls {ca.name}({_arg(arg.key, arg.a, arg.status != 'only_b')})",
                        f"{sb.role} calls {cb.name}({_arg(arg.key, arg.b, arg.status != 'only_a')})")
    if sa.calls or sb.calls:
        return _describe(sa), _describe(sb)
    ta, tb = (" ".join((s.text or "").split()) for s in (sa, sb))
    at = len(commonprefix([ta, tb]))
    same = " (differs in spacing only)" if ta == tb else ""
    return (f"{sa.role} says \"{around(ta, at, 50)}\"{same}",
            f"{sb.role} says \"{around(tb, at, 50)}\"{same}")


def _arg(key: str, value, given: bool) -> str:
    """`key=value` of one argument (the value as JSON, at most 40 cells), or `no key`."""
    return f"{key}={end_cut(norm_value(value), 40)}" if given else f"no {key}"


def summary_counts(analyses: list[Analysis]) -> dict:
    """class -> number of failed episodes carrying it (infrastructure and unscored excluded)."""
    out: dict = {}
    for a in analyses:
        if a.infra or a.unscored:
            continue
        for v in a.classes:
            out[v.name] = out.get(v.name, 0) + 1
        for v in a.flags:
            out[v.name] = out.get(v.name, 0) + 1
    return out


__all__ = ["Analysis", "CLASSIFIER_VERSION", "classify", "first_divergence", "pair_divergence",
           "summary_counts", "AGENT", "BLAME"]
