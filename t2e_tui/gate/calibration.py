"""Calibration of the gate's statistics with a seeded Bernoulli simulator of per-task outcomes.

A simulated agent solves a fixed set of tasks, each episode slipping with probability `noise`
(the scripted agent's noisy mode, in miniature); a "real fix" makes `fixed` unsolved tasks
solvable. Runs go through the real write API into a store and the real gate reads them back,
with the veto checks switched off so only the statistics decide:

- A/A (same agent twice): the share of significant comparisons must stay at or below alpha;
- A/B (a real fix): the share detected is the test's power.

`python -m t2e_tui.gate.calibration` prints both rates over a grid of noise levels. The output
is synthetic by construction: it characterises the statistics, never a model.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORLD_ID = "calibration-" + "0" * 52


def simulate_outcomes(rng: random.Random, *, n_tasks: int, solvable: int, noise: float,
                      trials: int, fixed: int = 0) -> dict[str, list[float]]:
    """Task id -> trial rewards. Tasks 0..solvable-1 succeed unless the episode slips
    (probability `noise`); the next `fixed` tasks do too when the fix is in; the rest fail."""
    out = {}
    for t in range(n_tasks):
        ok = t < solvable + fixed
        out[str(t)] = [1.0 if ok and rng.random() >= noise else 0.0 for _ in range(trials)]
    return out


def write_run(conn: Any, name: str, outcomes: dict[str, list[float]], *,
              role: str = "synthetic", candidate_hash: str | None = None) -> str:
    """Store a simulated run through store.writer (one step, one action check per episode),
    in one transaction, as an importer does: a commit per episode was most of the cost of a
    calibration of thousands of runs."""
    from store import writer

    with writer.transaction(conn):
        writer.ensure_world(conn, WORLD_ID, kind="lock", domain="calibration")
        rid = writer.create_run(conn, name=name, role=role, world_id=WORLD_ID,
                                domain="calibration", agent_model="bernoulli-simulator",
                                candidate_hash=candidate_hash,
                                num_trials=max(len(v) for v in outcomes.values()))
        writer.put_tasks(conn, rid, [{"id": t} for t in outcomes])
        for ord_, (tid, rewards) in enumerate(outcomes.items()):
            for trial, r in enumerate(rewards):
                eid = writer.begin_episode(conn, rid, episode_key=f"{tid}:{trial}", task_id=tid,
                                           trial=trial, ord=ord_ * 100 + trial)
                writer.insert_step(conn, eid, 0, {"role": "assistant", "content": "simulated"})
                writer.close_episode(conn, eid, termination_reason="user_stop", reward_info={
                    "reward": r, "reward_basis": ["DB"],
                    "action_checks": [{"action": {"action_id": "0",
                                                  "name": "get_order_details"},
                                       "action_match": r == 1.0, "tool_type": "read"}]})
    return rid


@dataclass
class CalibrationResult:
    comparisons: int
    significant: int
    p_values: list[float]

    @property
    def rate(self) -> float:
        return self.significant / self.comparisons if self.comparisons else 0.0


def run_comparisons(conn: Any, *, reps: int, seed: int, n_tasks: int = 40, solvable: int = 30,
                    noise: float = 0.05, trials: int = 1, fixed: int = 0,
                    alpha: float = 0.05, resamples: int = 200,
                    test: str = "sign") -> CalibrationResult:
    """`reps` baseline/candidate pairs (A/A when fixed == 0, else A/B), each gated with the
    vetoes off. Significant = the gate says promote."""
    from .policy import load_policy
    from .rules import evaluate

    policy = load_policy().vetoes_off()
    policy.alpha = alpha
    policy.bootstrap_resamples = resamples
    policy.test = test
    rng = random.Random(seed)
    sig, ps = 0, []
    for i in range(reps):
        a = write_run(conn, f"A{seed}-{i}", simulate_outcomes(
            rng, n_tasks=n_tasks, solvable=solvable, noise=noise, trials=trials))
        b = write_run(conn, f"B{seed}-{i}", simulate_outcomes(
            rng, n_tasks=n_tasks, solvable=solvable, noise=noise, trials=trials, fixed=fixed))
        res = evaluate(conn, a, b, policy=policy)
        ps.append(res.stats["p_value"])
        # significant = the checks and the test pass: promote on clean heldout, supported
        # on the synthetic evidence the simulator writes
        sig += res.decision in ("promote", "supported")
    return CalibrationResult(reps, sig, ps)


def shop_candidates(conn: Any, *, candidates: int, seed: int, n_tasks: int = 20,
                    solvable: int = 15, noise: float = 0.2,
                    alpha: float = 0.05) -> list[dict]:
    """Candidate shopping: one baseline and `candidates` no-op candidates (the same agent,
    each with its own text hash), all run once as heldout on one registered set and gated in
    turn with the vetoes off. Returns per gate {decision, p_value, alpha (corrected)}."""
    from store.heldout import register_set

    from .policy import load_policy
    from .rules import gate

    policy = load_policy().vetoes_off()
    policy.alpha = alpha
    policy.bootstrap_resamples = 20
    rng = random.Random(seed)
    sim = dict(n_tasks=n_tasks, solvable=solvable, noise=noise, trials=1)
    register_set(conn, f"shop-{seed}", "calibration", [str(t) for t in range(n_tasks)],
                 spec="all")
    base = write_run(conn, f"base-{seed}", simulate_outcomes(rng, **sim), role="heldout",
                     candidate_hash=f"{seed:08d}" + "0" * 56)
    out = []
    for i in range(candidates):
        cand = write_run(conn, f"noop-{seed}-{i}", simulate_outcomes(rng, **sim),
                         role="heldout", candidate_hash=f"{seed:08d}{i + 1:08d}" + "f" * 48)
        r = gate(conn, base, cand, policy=policy)
        out.append({"decision": r.decision, "p_value": r.stats["p_value"],
                    "alpha": r.stats["alpha"], "grade": r.evidence_role})
    return out


def main(argv: list[str] | None = None) -> None:
    """Print A/A false-positive rates and A/B power over a grid of noise levels."""
    import store

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tests", default="sign,permutation", help="comma-separated policy tests")
    args = ap.parse_args(argv)
    print("SYNTHETIC: Bernoulli simulator, 40 tasks (30 solvable), vetoes off, "
          f"alpha={args.alpha}, {args.reps} comparisons per cell")
    print(f"{'test':>11} {'noise':>6} {'trials':>6} {'A/A sig':>8} {'fix6 power':>10} "
          f"{'fix8 power':>10}")
    with tempfile.TemporaryDirectory() as d:
        conn = store.connect(Path(d) / "calibration.sqlite")
        for test in args.tests.split(","):
            for noise in (0.0, 0.02, 0.05, 0.1, 0.2):
                for trials in (1, 3):
                    kw = dict(reps=args.reps, seed=args.seed, noise=noise, trials=trials,
                              alpha=args.alpha, test=test)
                    aa = run_comparisons(conn, **kw)
                    b6 = run_comparisons(conn, fixed=6, **kw)
                    b8 = run_comparisons(conn, fixed=8, **kw)
                    print(f"{test:>11} {noise:>6} {trials:>6} {aa.rate:>8.3f} {b6.rate:>10.3f} "
                          f"{b8.rate:>10.3f}", flush=True)
        conn.close()


if __name__ == "__main__":  # pragma: no cover
    main()
