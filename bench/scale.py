"""Scale figures for the 100k-episode store (issue 18): prints figures, asserts nothing.

    .venv/bin/python bench/scale.py build [--store PATH] [--steps N]
    .venv/bin/python bench/scale.py gate  [--store PATH] [--t2e EXE]  # `t2e gate` CPU, wall
    .venv/bin/python bench/scale.py phases [--store PATH]     # where the gate's CPU goes
    .venv/bin/python bench/scale.py stats                     # the statistics alone, 1k..50k
    .venv/bin/python bench/scale.py search [--store PATH] [--terms W ...]  # exact ranked first page
        # default store: bench/tui.py's 1M-step store; bench/import.py --keep DIR leaves the
        # ~1M-message tau2 store (DIR/big.sqlite; 'order' is in 546k messages) to pass here

The store is two runs of 25,000 tasks x 2 trials (100,000 episodes) built with bench/tui.py's
bulk builder; `--steps 29` gives the issue's 2.9M messages, the default 3 keeps the build quick
when only the gate is measured (the gate reads steps only through idx_steps_latency; the
29-step store gives the same figures).
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


def gate(path: Path, runs: int = 5, t2e: str | None = None) -> None:
    """Whole `t2e gate --json` processes: CPU (user+sys), wall and minor page faults, best of
    `runs`, twice: with the Python environment as it is (this sandbox sets
    PYTHONDONTWRITEBYTECODE=1, so every t2e module is compiled on each start) and with a
    bytecode cache, as an installed package runs (pip writes .pyc files). `t2e` is another
    checkout's executable (before/after figures: `--t2e /work/main/.venv/bin/t2e`)."""
    import tempfile

    meta = json.loads(Path(str(path) + ".json").read_text())
    t2e = t2e or str(ROOT / ".venv" / "bin" / "t2e")
    args = [t2e, "--store", str(path), "gate", meta["base"], meta["cand"], "--json",
            "--intersect"]
    pyc = tempfile.mkdtemp(prefix="t2e-bench-pyc-")
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = pyc
    subprocess.run(args, capture_output=True, env=cached)  # writes the cache
    for label, env in (("as run here (no .pyc)", dict(os.environ)), ("with .pyc", cached)):
        best = None
        for _ in range(runs):
            t0 = time.perf_counter()
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            p = subprocess.run(args, capture_output=True, text=True, env=env)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.perf_counter() - t0
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            faults = r1.ru_minflt - r0.ru_minflt
            try:
                verdict = json.loads(p.stdout).get("decision")
            except json.JSONDecodeError:
                verdict = f"exit {p.returncode}: {p.stderr.strip()[:200]}"
            if best is None or cpu < best[0]:
                best = (cpu, wall, faults, verdict)
        cpu, wall, faults, verdict = best
        print(f"t2e gate at {meta['episodes']:,} episodes, {label}: CPU {cpu:.2f} s, wall "
              f"{wall:.2f} s, {faults:,} page faults (best of {runs} by CPU; whole process, "
              f"imports included) -> {verdict}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (figures share the CPU)")


def phases(path: Path) -> None:
    """CPU seconds of each step of one gate, in process (best of 5; the GC paused as the CLI
    does; the scoreboard row rolled back)."""
    import gc

    t0 = time.process_time()
    import store
    from t2e_tui import jsonout
    from t2e_tui.cli.gate import _rows_json
    from t2e_tui.gate import advisor, compare_runs, leakage, load_policy, rules
    from t2e_tui.gate.metrics import run_metrics
    from t2e_tui.gate.rundata import load_run

    print(f"imports (store, gate, numpy; in process): {time.process_time() - t0:.3f} s")
    meta = json.loads(Path(str(path) + ".json").read_text())
    conn = store.connect(path)
    policy = load_policy()
    base = store.queries.resolve_run(conn, meta["base"])
    gc.disable()
    best: dict[str, float] = {}

    def step(name, fn):
        t = time.process_time()
        out = fn()
        best[name] = min(best.get(name, 1e9), time.process_time() - t)
        return out

    for _ in range(5):
        step("  (one run's episodes and outcomes: load_run)",
             lambda: load_run(conn, base, actions=False))
        cmp = step("compare_runs (both runs read, rows)",
                   lambda: compare_runs(conn, meta["base"], meta["cand"], intersect=True))
        step("action checks + gold x2 (ensure_actions)",
             lambda: (cmp.baseline_data.ensure_actions(conn),
                      cmp.candidate_data.ensure_actions(conn)))
        bm, cm = step("run_metrics x2 (sums, pass^k, latency)", lambda: (
            run_metrics(conn, cmp.baseline.run_id, cmp.task_ids, data=cmp.baseline_data),
            run_metrics(conn, cmp.candidate.run_id, cmp.task_ids, data=cmp.candidate_data)))
        step("checks", lambda: rules._checks(conn, cmp, bm, cm, policy))
        step("evidence_stats (tests, bootstrap)", lambda: rules.evidence_stats(cmp, policy))
        step("role + run warnings", lambda: (
            leakage.comparison_role(conn, cmp.baseline, cmp.candidate, cmp.task_ids),
            rules._run_warnings(conn, cmp)))
        result = step("evaluate (all of the above, afresh)", lambda: rules.evaluate(
            conn, meta["base"], meta["cand"], policy=policy, intersect=True))
        result.advice = step("advisor", lambda: advisor.advise(result, conn))

        def record():
            fp = rules.fingerprint(result)
            rules.existing_row(conn, result, fp)
            conn.execute("BEGIN")
            rules.record_decision(conn, result, fp)
            conn.rollback()
        step("fingerprint + record_decision (rolled back)", record)
        text = step("to_dict + the --json text", lambda: jsonout.dumps(
            result.to_dict(transitions=_rows_json(result))))
    gc.enable()
    print(f"best of 5, CPU seconds ({len(text) / 1e6:.1f} MB of JSON):")
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


def search(path: Path, terms: list[str] | None = None, runs: int = 7, run: str | None = None
           ) -> None:
    """Ranked first page (50 hits) by `store.search.ranked_search`, exact: by FTS5's bm25 in
    one process (parts=1) and over two forked processes (parts=2), and by default (a one-word
    query in TF_MIN_HITS rows or more: from the index records, store/search_tf.py; else
    bm25 over one process per core past PARALLEL_MIN matches), next to FTS5's own `ORDER BY
    rank` over the rowids alone (what the first page cost before issue 18); with `run`, the
    ranked rows are in that run (`t2e search --rank --run`). The rows take
    turns `runs` times; median and max. CPU is this process's plus its children's (the forked
    rankers), "busiest process" the larger of the two (on two otherwise idle cores the wall is
    about that), wall is what the caller waits. The store is migrated first, and given the
    copy of its FTS size records an import leaves (store/fts_sizes.py; its time is printed)."""
    from store import fts_sizes, search_parts
    from store import search as srch
    from store.db import connect

    conn = connect(path)  # a store from before the copy of the size records: migrated
    steps = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    print(f"{path}: {steps:,} messages; {search_parts.cores()} cores, parallel past "
          f"{search_parts.PARALLEL_MIN:,} matches")
    # what an import leaves (store/fts_sizes.py): timed, as the import's end pays it
    t, fresh = time.perf_counter(), fts_sizes.is_fresh(conn)
    fts_sizes.refresh(conn)
    print(f"copy of the FTS size records: {'fresh' if fresh else 'taken'} in "
          f"{(time.perf_counter() - t) * 1000:.0f} ms")

    def once(fn) -> tuple[float, float, float, object]:
        """CPU of all processes, wall, and the CPU of the busier of this process and its
        children (with one child: what the wall would be on two idle cores), in ms."""
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        own = time.process_time() - c0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        kids = ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime
        return (own + kids) * 1000, (time.perf_counter() - w0) * 1000, max(own, kids) * 1000, out

    for q in terms or ("id", "order", "refund", "leather keyboard"):
        fq = srch.fts_query(q)
        n = conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH ?",
                         (fq,)).fetchone()[0]
        want = [r[0] for r in conn.execute(
            "SELECT f.rowid FROM steps_fts f JOIN steps s ON s.step_id = f.rowid JOIN episodes e "
            "ON e.episode_id = s.episode_id WHERE steps_fts MATCH ? AND (?2 IS NULL OR "
            "e.run_id = ?2) ORDER BY bm25(steps_fts), f.rowid LIMIT 50", (fq, run))]
        print(f"{q!r} ({n:,} matches{', in run ' + run if run else ''}):")
        rows = [
            ("FTS5 ORDER BY rank LIMIT 50, rowids only", lambda: conn.execute(
                "SELECT rowid FROM steps_fts WHERE steps_fts MATCH ? ORDER BY rank LIMIT 50",
                (fq,)).fetchall()),
            ("ranked_search, FTS5 bm25, one process", lambda: srch.ranked_search(
                conn, q, limit=50, parts=1, run_id=run)),
            ("ranked_search, FTS5 bm25, 2 processes", lambda: srch.ranked_search(
                conn, q, limit=50, parts=2, run_id=run)),
            ("ranked_search, default (t2e search --rank)", lambda: srch.ranked_search(
                conn, q, limit=50, run_id=run)),
        ]
        # the rows take turns, so a change in the machine's load falls on all of them
        got: dict[str, list] = {label: [] for label, _ in rows}
        for _ in range(runs):
            for label, fn in rows:
                *figures, out = once(fn)
                if label.startswith("ranked_search"):  # exact: the global first page
                    assert [h["step_id"] for h in out] == want, label
                got[label].append(figures)
        for label, _ in rows:
            cpu, wall, longest = (sorted(col) for col in zip(*got[label]))
            m = len(cpu) // 2
            print(f"  {label:44s} CPU med {cpu[m]:4.0f} max {cpu[-1]:4.0f}  busiest process "
                  f"med {longest[m]:4.0f}  wall min {wall[0]:4.0f} med {wall[m]:4.0f} "
                  f"max {wall[-1]:4.0f} ms")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (figures share the CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["build", "gate", "phases", "stats", "search"])
    ap.add_argument("--store", type=Path, default=DEFAULT)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--t2e", default=None, help="gate: the t2e executable to time")
    ap.add_argument("--terms", nargs="+", help="search: the words to rank (one query each)")
    ap.add_argument("--run", help="search: rank within this run id (t2e search --rank --run)")
    a = ap.parse_args()
    if a.what == "build":
        build(a.store, a.steps)
    elif a.what == "gate":
        gate(a.store, t2e=a.t2e)
    elif a.what == "phases":
        phases(a.store)
    elif a.what == "search":
        search(a.store if a.store != DEFAULT else Path("/tmp/t2e-bench-store-v1.sqlite"),
               a.terms, run=a.run)
    else:
        stats()


if __name__ == "__main__":
    main()
