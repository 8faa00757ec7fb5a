"""Failure classifier speed and accuracy: prints figures, asserts nothing (targets in #13).

    .venv/bin/python bench/failures.py [--passes N]
    .venv/bin/python bench/failures.py --screen [--store PATH]   # failures screen open time

1. classify rate over stored real-sized traces: the real retail and airline pairs from
   ../shared/tau2/results (120 episodes, ~30 messages each) are loaded once and every episode
   is classified as failed, N passes (target >= 2,000 episodes/s on one core);
   also the load rate (store -> EpisodeTrace) and end-to-end `ensure_classified` (load,
   classify, write the cache) on scripted mini-retail runs of 128 tasks x 10 trials.
2. accuracy on scripted runs: top class vs the injected cause (confusion table).
3. with --screen: on a copy of bench/tui.py's 100k-episode store (built if absent), classify
   its pair once, then time the failures screen from push to its table painted, headless
   (target <= 200 ms once classified; median of 5 opens).
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


def screen_bench(store: Path) -> None:
    import asyncio
    import shutil
    import statistics

    sys.path.insert(0, str(ROOT / "bench"))
    import tui

    from store import connect
    from t2e_tui.analysis.cache import ensure_classified
    from t2e_tui.ui.app import make_app

    src = tui.DEFAULT
    if not store.exists():
        if not src.exists():
            tui.build(src)
        shutil.copy(src, store)
    conn = connect(store)
    t0 = time.perf_counter()
    n = sum(ensure_classified(conn, r) for r in ("brun0000", "brun0001"))
    total = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
    print(f"store {store}: {total:,} episodes; classified now {n:,} failed episodes of the "
          f"pair in {time.perf_counter() - t0:.1f} s")
    conn.close()

    async def run() -> list[float]:
        app = make_app(store, load_config=False, poll_interval=0)
        out = []
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            for _ in range(5):
                t = time.perf_counter()
                app.open_failures("brun0001", "brun0000")    # as the f key does
                screen = app.screen_stack[-1]
                while not screen.loaded:
                    await asyncio.sleep(0.001)
                await pilot.pause()          # the table painted
                out.append((time.perf_counter() - t) * 1000)
                app.pop_screen()
                await pilot.pause()
        return out

    times = asyncio.run(run())
    print(f"failures screen open (push -> table painted): median {statistics.median(times):.0f} ms "
          f"(runs: {', '.join(f'{x:.0f}' for x in times)}; target <= 200 ms)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, default=30)
    ap.add_argument("--screen", action="store_true")
    ap.add_argument("--store", type=Path, default=Path("/tmp/t2e-bench-failures-100k.sqlite"))
    args = ap.parse_args()
    if args.screen:
        screen_bench(args.store)
        return
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
    # CPU seconds of this process: "per core", and less at the mercy of a shared machine's load
    t0 = time.process_time()
    eps = load_episodes(conn, ids)
    load_s = time.process_time() - t0
    steps = sum(len(e.steps) for e in eps) / len(eps)
    failed = [dataclasses.replace(e, reward=0.0) for e in eps]   # classify every one
    t0, w0 = time.process_time(), time.perf_counter()
    for _ in range(args.passes):
        for e in failed:
            classify(e)
    dt, wall = time.process_time() - t0, time.perf_counter() - w0
    n = len(failed) * args.passes
    print(f"real traces: {len(eps)} episodes, {steps:.1f} messages each")
    print(f"load (store -> traces): {len(eps) / load_s:,.0f} episodes per CPU-second")
    print(f"classify: {n} episodes in {dt:.3f} CPU-s = {n / dt:,.0f} episodes per CPU-second "
          f"(target >= 2,000; wall {n / wall:,.0f}/s on this machine now)")

    path = str(tmp / "scripted.sqlite")
    table: dict = {}
    e2e_n, e2e_s = 0, 0.0
    for name, cand in (("baseline", None), ("skip", "skip-confirm-v1"), ("multi", "multi-rule-v1")):
        plan = plan_run(domain="mini-retail", candidate=cand, candidates_dir=str(ROOT / "candidates"),
                        tasks="all", trials=10, concurrency=4, grade="db-communicate", name=name)
        rid = execute_run(plan, path).run_id
        sc = connect(path)
        t0 = time.process_time()
        e2e_n += ensure_classified(sc, rid)
        e2e_s += time.process_time() - t0
        body = sc.execute("SELECT c.body FROM runs r LEFT JOIN candidates c ON c.candidate_hash ="
                          " r.candidate_hash WHERE r.run_id = ?", (rid,)).fetchone()[0] or ""
        for k, v in confusion(sc, rid, behaviours_from_prompt(f"<instructions>{body}</instructions>")).items():
            table[k] = table.get(k, 0) + v
    print(f"end to end (load + classify + cache write), scripted: {e2e_n} failed episodes in "
          f"{e2e_s:.2f} CPU-s = {e2e_n / e2e_s:,.0f} episodes per CPU-second")
    print(f"accuracy (top class = injected cause): {accuracy(table):.3f} over {sum(table.values())} "
          "failed scripted episodes (a deterministic stand-in; proves nothing about models)")
    print("confusion (cause -> top class: count):")
    for (cause, top), v in sorted(table.items()):
        print(f"  {cause:<28} -> {top:<18} {v}")


if __name__ == "__main__":
    main()
