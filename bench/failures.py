"""Failure classifier speed and accuracy: prints figures, asserts nothing (targets in #13).

    .venv/bin/python bench/failures.py [--passes N]

1. classify rate over stored real-sized traces: the real retail and airline pairs from
   ../shared/tau2/results (120 episodes, ~30 messages each) are loaded once and every episode
   is classified as failed, N passes (target >= 2,000 episodes/s on one core);
   also the load rate (store -> EpisodeTrace) and end-to-end `ensure_classified` (load,
   classify, write the cache) on scripted mini-retail runs of 128 tasks x 10 trials.
2. accuracy on scripted runs: top class vs the injected cause (confusion table).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, default=30)
    args = ap.parse_args()
    from click.testing import CliRunner

    from store import connect
    from t2e_tui.analysis import classify, load_episodes
    from t2e_tui.analysis.cache import ensure_classified
    from t2e_tui.analysis.mini_retail import accuracy, confusion
    from t2e_tui.cli.main import cli
    from t2e_tui.engine.engine import execute_run
    from t2e_tui.engine.plan import plan_run
    from t2e_tui.engine.scripted_rules import behaviours_from_prompt

    tmp = Path(tempfile.mkdtemp(prefix="t2e-bench-fa-"))
    res = ROOT.parent / "shared" / "tau2" / "results"
    store = str(tmp / "real.sqlite")
    files = sorted(str(p) for p in res.glob("*_test-split_1trial.json"))
    out = CliRunner().invoke(cli, ["--store", store, "import", *files, "--json"])
    assert out.exit_code == 0, out.output
    conn = connect(store)
    ids = [r[0] for r in conn.execute("SELECT episode_id FROM episodes")]
    t0 = time.perf_counter()
    eps = load_episodes(conn, ids)
    load_s = time.perf_counter() - t0
    steps = sum(len(e.steps) for e in eps) / len(eps)
    failed = [dataclasses.replace(e, reward=0.0) for e in eps]   # classify every one
    t0 = time.perf_counter()
    for _ in range(args.passes):
        for e in failed:
            classify(e)
    dt = time.perf_counter() - t0
    n = len(failed) * args.passes
    print(f"real traces: {len(eps)} episodes, {steps:.1f} messages each")
    print(f"load (store -> traces): {len(eps) / load_s:,.0f} episodes/s")
    print(f"classify: {n} episodes in {dt:.3f} s = {n / dt:,.0f} episodes/s (target >= 2,000)")

    path = str(tmp / "scripted.sqlite")
    table: dict = {}
    e2e_n, e2e_s = 0, 0.0
    for name, cand in (("baseline", None), ("skip", "skip-confirm-v1"), ("multi", "multi-rule-v1")):
        plan = plan_run(domain="mini-retail", candidate=cand, candidates_dir=str(ROOT / "candidates"),
                        tasks="all", trials=10, concurrency=4, grade="db-communicate", name=name)
        rid = execute_run(plan, path).run_id
        sc = connect(path)
        t0 = time.perf_counter()
        e2e_n += ensure_classified(sc, rid)
        e2e_s += time.perf_counter() - t0
        body = sc.execute("SELECT c.body FROM runs r LEFT JOIN candidates c ON c.candidate_hash ="
                          " r.candidate_hash WHERE r.run_id = ?", (rid,)).fetchone()[0] or ""
        for k, v in confusion(sc, rid, behaviours_from_prompt(f"<instructions>{body}</instructions>")).items():
            table[k] = table.get(k, 0) + v
    print(f"end to end (load + classify + cache write), scripted: {e2e_n} failed episodes in "
          f"{e2e_s:.2f} s = {e2e_n / e2e_s:,.0f} episodes/s")
    print(f"accuracy (top class = injected cause): {accuracy(table):.3f} over {sum(table.values())} "
          "failed scripted episodes (a deterministic stand-in; proves nothing about models)")
    print("confusion (cause -> top class: count):")
    for (cause, top), v in sorted(table.items()):
        print(f"  {cause:<28} -> {top:<18} {v}")


if __name__ == "__main__":
    main()
