"""Task-rerun benchmark (figures for the report; not a test).

In the app (headless, Textual's Pilot, 80x24) on a fresh demo store: open the compare screen on
one task, press `r`, confirm the dialog (k = 3) and measure, from the confirming Enter:
  - the first new step on screen (the rerun screen's live tail drawn from the store);
  - all 6 trials (3 draft + 3 baseline, scripted backend) finished and shown.
Targets: <= 100 ms and <= 1 s. Each repeat uses a fresh app; the demo store is shared.

    .venv/bin/python bench/rerun.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


async def one(path: str, a: int, b: int) -> tuple[float, float]:
    from tui_fixture import settle

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.pairdebug_dialogs import RerunTaskDialog
    from t2e_tui.ui.screens.task_rerun import TaskRerunScreen

    app = make_app(path, load_config=False, poll_interval=0,
                   start=("compare", str(a), str(b)))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        while not isinstance(app.screen, RerunTaskDialog):
            await pilot.pause(0.01)
        await settle(pilot)  # the world pre-load started by the dialog
        t0 = time.perf_counter()
        await pilot.press("enter")
        while not isinstance(app.screen, TaskRerunScreen):
            await pilot.pause(0.005)
        screen = app.screen
        deadline = time.monotonic() + 30
        while not (screen.finished_at and len(screen.rows) == 6
                   and all(r["done"] for r in screen.rows)):
            assert time.monotonic() < deadline, "rerun did not finish"
            await pilot.pause(0.005)
        return (screen.first_step_at - t0) * 1000, (screen.finished_at - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import store
    from store.queries import resolve_episode
    from t2e_tui.demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        path = build_demo(Path(tmp) / "demo.sqlite")["store"]
        conn = store.connect(path)
        base = conn.execute("SELECT run_id FROM runs WHERE name = 'baseline heldout'"
                            ).fetchone()[0]
        cand = conn.execute("SELECT run_id FROM runs WHERE name = 'cross-order-v1 heldout'"
                            ).fetchone()[0]
        a = resolve_episode(conn, f"{base}:crossorder-01")
        b = resolve_episode(conn, f"{cand}:crossorder-01")
        conn.close()
        firsts, alls = [], []
        for _ in range(args.repeat):
            f, d = asyncio.run(one(path, a, b))
            firsts.append(f)
            alls.append(d)
    print("scripted backend, k=3 per side (6 trials), from the confirming Enter:")
    print(f"  first new step on screen: median {statistics.median(firsts):6.1f} ms  "
          f"max {max(firsts):6.1f} ms  (target <= 100 ms)")
    print(f"  all 6 trials finished:    median {statistics.median(alls):6.1f} ms  "
          f"max {max(alls):6.1f} ms  (target <= 1000 ms)")


if __name__ == "__main__":
    main()
