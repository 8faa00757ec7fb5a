"""Scale figures for the 100k-episode store (issue 18): prints figures, asserts nothing.

    .venv/bin/python bench/scale.py build [--store PATH] [--steps N]
    .venv/bin/python bench/scale.py gate  [--store PATH]      # `t2e gate` CPU and wall time
    .venv/bin/python bench/scale.py phases [--store PATH]     # where the gate's CPU goes
    .venv/bin/python bench/scale.py stats                     # the statistics alone, 1k..50k
    .venv/bin/python bench/scale.py search [--store PATH]     # ranked first page (bench/tui.py's 1M-step store)

The store is two runs of 25,000 tasks x 2 trials (100,000 episodes) built with bench/tui.py's
bulk builder; `--steps 29` gives the issue's 2.9M messages, the default 3 keeps the build quick
when only the gate is measured (the gate reads episodes and checks, not steps).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT = Path("/tmp/t2e-bench-scale-v1.sqlite")


def build(path: Path, steps: int) -> None:
    import tui  # bench/tui.py: the bulk builder in store.writer's shape

    tui.N_TASKS, tui.TRIALS, tui.OTHER_RUNS, tui.STEPS_PER_EPISODE = 25_000, 2, 0, steps
    tui.LONG = max(steps, 30)
    meta = tui.build(path)
    print(f"built {path}: {meta['episodes']:,} episodes")


def gate(path: Path) -> None:
    meta = json.loads(Path(str(path) + ".json").read_text())
    t2e = str(ROOT / ".venv" / "bin" / "t2e")
    for _ in range(3):
        t0 = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([t2e, "--store", str(path), "gate", meta["base"], meta["cand"],
                            "--json", "--intersect"], capture_output=True, text=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter() - t0
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        try:
            out = json.loads(p.stdout)
            verdict = out.get("decision")
        except json.JSONDecodeError:
            verdict = f"exit {p.returncode}: {p.stderr.strip()[:200]}"
        print(f"t2e gate at {meta['episodes']:,} episodes: wall {wall:.2f} s, CPU {cpu:.2f} s "
              f"(whole process, imports included) -> {verdict}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (figures share the CPU)")


def phases(path: Path) -> None:
    """CPU seconds of each step of one gate, in process (best of 3; the GC paused as the CLI
    does; nothing recorded)."""
    import gc

    t0 = time.process_time()
    import store
    from t2e_tui import jsonout
    from t2e_tui.gate import compare_runs, leakage, load_policy, rules
    from t2e_tui.gate.metrics import run_metrics

    print(f"imports (store, gate, numpy): {time.process_time() - t0:.3f} s")
    meta = json.loads(Path(str(path) + ".json").read_text())
    conn = store.connect(path)
    policy = load_policy()
    gc.disable()
    best: dict[str, float] = {}
    for _ in range(3):
        marks = [("start", time.process_time())]
        cmp = compare_runs(conn, meta["base"], meta["cand"], intersect=True)
        marks.append(("compare_runs (both runs read)", time.process_time()))
        bm = run_metrics(conn, cmp.baseline.run_id, cmp.task_ids, data=cmp.baseline_data)
        cm = run_metrics(conn, cmp.candidate.run_id, cmp.task_ids, data=cmp.candidate_data)
        marks.append(("run_metrics x2 (gold, action checks, latency)", time.process_time()))
        rules._checks(conn, cmp, bm, cm, policy)
        marks.append(("checks", time.process_time()))
        rules.evidence_stats(cmp, policy)
        marks.append(("evidence_stats", time.process_time()))
        leakage.comparison_role(conn, cmp.baseline, cmp.candidate, cmp.task_ids)
        rules._run_warnings(conn, cmp)
        marks.append(("role + run warnings", time.process_time()))
        result = rules.evaluate(conn, meta["base"], meta["cand"], policy=policy, intersect=True)
        marks.append(("evaluate (all of the above)", time.process_time()))
        rules.record_decision(conn, result)
        conn.rollback()
        marks.append(("record_decision (not committed)", time.process_time()))
        text = jsonout.dumps(result.to_dict())
        marks.append((f"to_dict + jsonout ({len(text) / 1e6:.1f} MB)", time.process_time()))
        for (_, a), (name, b) in zip(marks, marks[1:]):
            best[name] = min(best.get(name, 1e9), b - a)
    gc.enable()
    for name, sec in best.items():
        print(f"  {name:48s} {sec:.3f} s")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def stats() -> None:
    import random

    from t2e_tui.gate import stats as st

    for n in (1_000, 10_000, 50_000):
        rng = random.Random(n)
        deltas = [rng.choice((-1.0, -0.5, 0.0, 0.0, 0.0, 0.5, 1.0)) for _ in range(n)]
        t0 = time.process_time()
        ci = st.bootstrap_mean_ci(deltas, seed=0)
        t1 = time.process_time()
        p = st.sign_flip_test(deltas)
        t2 = time.process_time()
        imp = sum(d > 0 for d in deltas)
        wor = sum(d < 0 for d in deltas)
        ps = st.sign_test(imp, wor)
        t3 = time.process_time()
        print(f"n={n:>6,}: bootstrap {t1 - t0:.3f} s CI=({ci[0]:.5f}, {ci[1]:.5f}); sign-flip "
              f"{t2 - t1:.3f} s p={p[0]:.4g} exact={p[1]}; sign test {t3 - t2:.3f} s p={ps:.4g}")


def search(path: Path) -> None:
    """Ranked first page (50 hits) by `store.search.ranked_search`: the default (past
    RANK_BOUND matches only the newest are ranked) and every match ranked (bound=None), next
    to FTS5's own `ORDER BY rank` over the rowids alone (what the first page cost before).
    Median of 5, CPU of this process and wall."""
    from store import search as srch
    from store.db import connect

    conn = connect(path)
    steps = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    print(f"{path}: {steps:,} messages; RANK_BOUND {srch.RANK_BOUND:,}")

    def timed(fn) -> tuple[float, float, object]:
        runs = []
        for _ in range(5):
            w0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            runs.append((time.process_time() - c0, time.perf_counter() - w0))
        cpu, wall = sorted(r[0] for r in runs)[2], sorted(r[1] for r in runs)[2]
        return cpu * 1000, wall * 1000, out

    for q in ("id", "order", "refund", "leather keyboard"):
        fq = srch.fts_query(q)
        n = conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH ?",
                         (fq,)).fetchone()[0]
        print(f"{q!r} ({n:,} matches):")
        rows = [
            ("FTS5 ORDER BY rank LIMIT 50, rowids only", lambda: conn.execute(
                "SELECT rowid FROM steps_fts WHERE steps_fts MATCH ? ORDER BY rank LIMIT 50",
                (fq,)).fetchall()),
            ("ranked_search, every match ranked", lambda: srch.ranked_search(
                conn, q, limit=50, bound=None)),
            ("ranked_search, default (t2e search --rank)", lambda: srch.ranked_search(
                conn, q, limit=50)),
        ]
        for label, fn in rows:
            cpu, wall, out = timed(fn)
            note = ""
            if isinstance(out, srch.RankedPage) and out.ranked is not None:
                note = f"  [newest {out.ranked:,} of {out.matches:,} ranked]"
            print(f"  {label:44s} CPU {cpu:5.0f} ms  wall {wall:5.0f} ms{note}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (figures share the CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["build", "gate", "phases", "stats", "search"])
    ap.add_argument("--store", type=Path, default=DEFAULT)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    if a.what == "build":
        build(a.store, a.steps)
    elif a.what == "gate":
        gate(a.store)
    elif a.what == "phases":
        phases(a.store)
    elif a.what == "search":
        search(a.store if a.store != DEFAULT else Path("/tmp/t2e-bench-store-v1.sqlite"))
    else:
        stats()


if __name__ == "__main__":
    main()
