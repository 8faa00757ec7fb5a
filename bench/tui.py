"""Explorer speed on a big store: prints figures, asserts nothing (targets in the issue).

    .venv/bin/python bench/tui.py [--store PATH] [--rebuild] [--outside]

`--outside` times the tasks screen from outside the app instead (bench/tui_outside.py: `t2e
open` in a pseudo-terminal at 160x48 and 80x24, open and keys to the bytes at the terminal).

Builds (once, cached under /tmp) a store of 100,000 episodes and ~1,000,000 steps with bulk
SQL in the shape store.writer produces: two runs of 10,000 tasks × 2 trials (the tasks-screen
pair), six more runs of 10,000 episodes, and one pair of 500-step trajectories. Then, headless
(`App.run_test`), it measures:

- first screen interactive after launch (imports included)   target ≤ 1 s
- tasks screen (10,000 tasks × 2 trials): keypress repaint     target ≤ 50 ms
- compare of two 500-step trajectories: open → first paint     target ≤ 100 ms
- FTS search                                                  target ≤ 200 ms
- peak RSS                                                     target ≤ 300 MB
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
# `python bench/tui.py` puts bench/ first on the path, where bench/concurrent.py would shadow
# the stdlib package asyncio imports: the repo root replaces it
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))

DEFAULT = Path("/tmp/t2e-bench-store-v1.sqlite")
N_TASKS = 10_000
TRIALS = 2
OTHER_RUNS = 6
OTHER_EPISODES = 10_000
STEPS_PER_EPISODE = 10
LONG = 500
DETAIL_DELAY_MS = 50  # t2e_tui.screens.compare.DETAIL_DELAY

WORDS = ("order delivered exchange return refund cancel pending processed address payment "
         "gift card credit paypal item product variant shipping tracking user email zip "
         "confirm proceed sorry help thanks please account balance color size leather "
         "keyboard laptop watch backpack lamp bottle jacket boots sneakers").split()
TOOLS = [("get_order_details", "order_id", "read"), ("get_user_details", "user_id", "read"),
         ("get_product_details", "product_id", "read"),
         ("find_user_id_by_email", "email", "read"),
         ("cancel_pending_order", "order_id", "write"),
         ("exchange_delivered_order_items", "order_id", "write")]
TERMS = ["user_stop"] * 8 + ["max_steps", "too_many_errors"]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _episode_steps(rng: random.Random, eid: int, n: int, variant: int = 0):
    """Rows for steps and tool_calls of one episode: user / assistant call / tool result."""
    steps, calls = [], []
    for idx in range(n):
        kind = idx % 3
        sid = None
        if kind == 0:
            steps.append((eid, idx, "user", _text(rng, 12), None, None, None, 0))
        elif kind == 1:
            name, key, tk = TOOLS[(idx // 3 + variant * (idx % 7 == 1)) % len(TOOLS)]
            args = {key: f"#W{rng.randrange(10**6)}" if key == "order_id" else
                    f"{key}_{rng.randrange(1000)}"}
            tc = [{"id": f"c{idx}", "name": name, "arguments": args, "requestor": "assistant"}]
            steps.append((eid, idx, "assistant", None, json.dumps(tc), None, None, 0))
            calls.append((eid, idx, f"c{idx}", name, json.dumps(args), tk))
        else:
            err = int(rng.random() < 0.03)
            content = ("Error: " + _text(rng, 4)) if err else json.dumps(
                {"status": rng.choice(WORDS), "note": _text(rng, 8)})
            steps.append((eid, idx, "tool", content, None, f"c{idx - 1}", None, err))
        del sid
    return steps, calls


def build(path: Path) -> dict:
    """Write the bench store (one transaction per run); returns ids the bench needs."""
    from store.db import connect

    if path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    conn = connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(7)
    now = "2026-01-01T00:00:00+00:00"
    conn.execute("INSERT INTO worlds VALUES ('wbench', 'import', 'retail', NULL, ?)", (now,))
    eid = 0
    runs = [("bench-base", N_TASKS, TRIALS), ("bench-cand", N_TASKS, TRIALS)] + [
        (f"bench-other-{i}", OTHER_EPISODES, 1) for i in range(OTHER_RUNS)]
    long_pair = []
    t0 = time.perf_counter()
    for r, (name, n_tasks, trials) in enumerate(runs):
        run_id = f"brun{r:04d}"
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO runs (run_id, name, role, world_id, domain, status, agent_model, "
            "num_trials, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (run_id, name, "discovery", "wbench", "retail", "complete",
             "scripted" if r == 7 else f"model-{r}", trials, now))
        if r < 2:
            gold = {"evaluation_criteria": {"actions": [
                {"action_id": "0_0", "name": "get_order_details",
                 "arguments": {"order_id": "#W1"}, "compare_args": None}]}}
            conn.executemany("INSERT INTO tasks VALUES (?,?,?,?,?,?)",
                             [(run_id, str(t), None, None, t, json.dumps({"id": str(t), **gold}))
                              for t in range(n_tasks)])
        ep_rows, step_rows, call_rows = [], [], []
        for t in range(n_tasks):
            for trial in range(trials):
                eid += 1
                long = r < 2 and t == 0 and trial == 0
                n = LONG if long else STEPS_PER_EPISODE
                if long:
                    long_pair.append(eid)
                p = 0.7 if r != 1 else 0.68
                ok = rng.random() < p
                ep_rows.append((eid, run_id, f"{t}:{trial}", t * trials + trial, str(t), trial,
                                "done", rng.choice(TERMS) if not ok else "user_stop",
                                1.0 if ok else 0.0, int(ok), n, n // 3))
                s, c = _episode_steps(rng, eid, n, variant=r if long else 0)
                step_rows += s
                call_rows += c
        conn.executemany(
            "INSERT INTO episodes (episode_id, run_id, episode_key, ord, task_id, trial, status, "
            "termination_reason, reward, success, n_steps, n_tool_calls) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", ep_rows)
        conn.executemany(
            "INSERT INTO steps (episode_id, idx, role, content, tool_calls, tool_call_id, "
            "tool_name, error) VALUES (?,?,?,?,?,?,?,?)", step_rows)
        conn.executemany(
            "INSERT INTO tool_calls (step_id, episode_id, pos, call_id, name, arguments, kind) "
            "SELECT step_id, ?, 0, ?, ?, ?, ? FROM steps WHERE episode_id = ? AND idx = ?",
            [(e, cid, name, args, kind, e, idx) for e, idx, cid, name, args, kind in call_rows])
        conn.execute("COMMIT")
        print(f"  built run {name}: {len(ep_rows)} episodes, {len(step_rows)} steps "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    conn.execute("INSERT INTO steps_fts (steps_fts) VALUES ('rebuild')")
    conn.execute("PRAGMA optimize")
    n_eps = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
    n_steps = conn.execute("SELECT count(*) FROM steps").fetchone()[0]
    conn.close()
    meta = {"episodes": n_eps, "steps": n_steps, "long_pair": long_pair,
            "base": "brun0000", "cand": "brun0001"}
    Path(str(path) + ".json").write_text(json.dumps(meta))
    return meta


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(path: Path, meta: dict) -> dict:
    from t2e_tui.ui.app import make_app  # imports counted in "first screen"
    from t2e_tui.ui.screens.compare import CompareScreen
    from t2e_tui.ui.widgets.lanes import AlignedLanes
    from t2e_tui.ui.widgets.linetable import LineTable

    # Pilot waits for idle after each key (timers tick at ~60 Hz), which would dominate the
    # figures; instead record when our widgets actually rendered their lines.
    rendered: dict[str, float] = {}
    _tab_render, _lane_render = LineTable.render_line, AlignedLanes.render_line

    def tab_render(self, y):
        strip = _tab_render(self, y)
        rendered["table"] = time.perf_counter()
        if self.rows:
            rendered.setdefault("table_rows", rendered["table"])
        return strip

    def lane_render(self, y):
        strip = _lane_render(self, y)
        if self.alignment is not None:
            rendered.setdefault("lanes_first", time.perf_counter())
            rendered["lanes"] = time.perf_counter()
        return strip

    LineTable.render_line, AlignedLanes.render_line = tab_render, lane_render

    async def key_ms(key: str, which: str) -> float:
        rendered.pop(which, None)
        t0 = time.perf_counter()
        await pilot.press(key)
        return ((rendered.get(which) or time.perf_counter()) - t0) * 1000

    out: dict = {}
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        while not getattr(app.screen, "runs", None):
            await pilot.pause(0.005)
        await pilot.pause()
        out["first_screen_s"] = time.perf_counter() - T_START

        await app.workers.wait_for_complete()  # the runs screen's reads and imports
        rendered.pop("table_rows", None)
        t0 = time.perf_counter()
        app.open_tasks(meta["base"], meta["cand"])
        await pilot.pause()
        tasks = app.screen
        while not tasks.loaded:
            await pilot.pause(0.01)
        await pilot.pause()
        out["tasks_open_s"] = time.perf_counter() - t0
        out["tasks_first_rows_s"] = rendered["table_rows"] - t0
        await app.workers.wait_for_complete()
        times = []
        for key in ["down"] * 30 + ["pagedown"] * 10 + ["up"] * 10 + ["end", "home"]:
            times.append(await key_ms(key, "table"))
        out["tasks_rows"] = len(tasks.shown)
        out["key_ms_median"] = statistics.median(times)
        out["key_ms_max"] = max(times)
        out["key_ms_p90"] = sorted(times)[int(len(times) * 0.9)]
        out["filter_key_ms"] = await key_ms("2", "table")
        await pilot.press("1")
        out["sort_key_ms"] = await key_ms("s", "table")

        a, b = meta["long_pair"]
        paints = []
        kt = []
        dt = []
        from textual._compositor import Compositor

        from t2e_tui.ui.widgets.detail import StepDetail

        _show, _update = StepDetail.show, Compositor.render_update

        def show(self, *args, **kw):
            rendered["detail_start"] = time.perf_counter()
            rendered.pop("detail_end", None)
            return _show(self, *args, **kw)

        def update(self, *args, **kw):
            out = _update(self, *args, **kw)
            if "detail_start" in rendered:
                rendered.setdefault("detail_end", time.perf_counter())
            return out

        StepDetail.show, Compositor.render_update = show, update
        for _ in range(10):
            rendered.pop("lanes_first", None)
            t0 = time.perf_counter()
            app.open_compare(a, b)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            while "lanes_first" not in rendered:
                await pilot.pause(0.001)
            paints.append((rendered["lanes_first"] - t0) * 1000)
            await app.workers.wait_for_complete()
            out["compare_rows"] = len(screen.alignment.rows)
            for key in ["n", "n", "p", "pagedown", "down"]:
                kt.append(await key_ms(key, "lanes"))
            # the detail pane follows once the cursor rests: its update, to the next paint
            for _ in range(3):
                rendered.pop("detail_end", None)
                await pilot.press("down")
                await pilot.pause(0.15)
                if "detail_start" in rendered and "detail_end" in rendered:
                    dt.append((rendered["detail_end"] - rendered["detail_start"]) * 1000)
            app.pop_screen()
            await pilot.pause()
        out["compare_key_ms_max"] = max(kt)
        out["compare_key_ms_median"] = statistics.median(kt)
        out["compare_first_paint_ms"] = paints
        out["detail_ms"] = dt
        del LineTable
    from t2e_tui import data_access as da

    conn = da.open_conn(str(path))
    st = []
    for q in ["refund", "leather jacket", "gift card balance", "tracking", "zzzznotthere",
              "order"]:
        t0 = time.perf_counter()
        hits = da.search(conn, q)
        st.append(((time.perf_counter() - t0) * 1000, q, len(hits)))
    conn.close()
    out["search_ms"] = st
    from t2e_tui.align import align

    conn = da.open_conn(str(path))
    core = []
    for _ in range(10):
        t0 = time.perf_counter()
        ea, eb = da.load_episode(conn, a), da.load_episode(conn, b)
        align(ea.steps, eb.steps, ea.task, checks_a=ea.checks, checks_b=eb.checks)
        core.append((time.perf_counter() - t0) * 1000)
    conn.close()
    out["compare_core_ms"] = statistics.median(core)
    out["rss_mb"] = rss_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=DEFAULT)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--outside", action="store_true",
                    help="time the tasks screen from a pseudo-terminal (bench/tui_outside.py)")
    args = ap.parse_args()
    if args.outside:
        sys.path.insert(0, str(ROOT / "bench"))
        import tui_outside

        for cols, rows in ((160, 48), (80, 24)):
            tui_outside.report(tui_outside.measure(args.store, cols, rows))
        print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
              + f" on {os.cpu_count()} cores (wall figures share the CPU)")
        return
    meta_path = Path(str(args.store) + ".json")
    if args.rebuild or not args.store.exists() or not meta_path.exists():
        print(f"building {args.store} (once; cached) …", flush=True)
        meta = build(args.store)
        print("rerun the bench now that the store is built (cold imports are measured)")
        return
    meta = json.loads(meta_path.read_text())
    import asyncio

    out = asyncio.run(measure(args.store, meta))
    print(f"store: {meta['episodes']:,} episodes, {meta['steps']:,} steps ({args.store})")
    print(f"first screen interactive: {out['first_screen_s']:.2f} s (target ≤ 1 s)")
    print(f"tasks screen open ({out['tasks_rows']:,} tasks × {TRIALS} trials): first rows "
          f"painted {out['tasks_first_rows_s']:.2f} s (target ≤ 0.5 s), every row in "
          f"{out['tasks_open_s']:.2f} s")
    print(f"tasks keypress repaint: median {out['key_ms_median']:.1f} ms, "
          f"p90 {out['key_ms_p90']:.1f} ms, max {out['key_ms_max']:.1f} ms (target ≤ 50 ms); filter key "
          f"{out['filter_key_ms']:.1f} ms; sort key {out['sort_key_ms']:.1f} ms")
    paints = out["compare_first_paint_ms"]
    print(f"compare 2×{LONG} steps ({out['compare_rows']} aligned rows), open → first paint: "
          f"median {statistics.median(paints):.0f} ms, min {min(paints):.0f}, max "
          f"{max(paints):.0f} (target ≤ 100 ms); load+align alone {out['compare_core_ms']:.0f} "
          f"ms; keys (n/p/pagedown/down) median {out['compare_key_ms_median']:.1f} ms, max "
          f"{out['compare_key_ms_max']:.1f} ms")
    dt = out["detail_ms"] or [float("nan")]
    print(f"compare detail pane (after the cursor rests {DETAIL_DELAY_MS} ms): update → painted "
          f"median {statistics.median(dt):.0f} ms, max {max(dt):.0f} ms")
    print("FTS search: " + "; ".join(f"{q!r} {ms:.0f} ms ({n} hits)"
                                     for ms, q, n in out["search_ms"]) + " (target ≤ 200 ms)")
    print(f"peak RSS: {out['rss_mb']:.0f} MB (target ≤ 300 MB)")
    print("machine load average (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores: figures are wall-clock and share the CPU")


if __name__ == "__main__":
    main()
