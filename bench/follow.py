"""Follow-mode benchmark (figures for the report; not a test).

Two apps in one process (Textual's Pilot, 80x24) on one store, the second following the first
through the sessions table. The leader moves its compare cursor N times; for each move we time
how long until the follower's cursor is on the same row. Target: <= 500 ms.

    .venv/bin/python bench/follow.py [--moves 20]
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


async def run(path: Path, a: int, b: int, moves: int) -> list[float]:
    from tui_fixture import settle

    import store
    from store import sessions
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.compare import CompareScreen
    from t2e_tui.ui.widgets.lanes import AlignedLanes

    leader = make_app(path, load_config=False, poll_interval=0, session={"name": "lead"},
                      start=("compare", str(a), str(b)))
    out = []
    async with leader.run_test(size=(80, 24)) as lp:
        await settle(lp)
        while leader.session_link.session_id is None:
            await lp.pause(0.01)
        conn = store.connect(path)
        sid = sessions.find_leader(conn, "lead")["session_id"]
        conn.close()
        follower = make_app(path, load_config=False, poll_interval=0,
                            session={"follow": sid, "leader_name": "lead"})
        async with follower.run_test(size=(80, 24)) as fp:
            await settle(fp)
            while not (isinstance(follower.screen, CompareScreen)
                       and follower.screen.alignment is not None):
                await fp.pause(0.01)
            lanes = leader.screen.query_one(AlignedLanes)
            lanes.move_to(0)
            await lp.pause(0.3)
            span = max(1, min(4, lanes.n_rows - 1))
            for i in range(moves):
                before = lanes.cursor
                await lp.press("down" if (i // span) % 2 == 0 else "up")
                target = lanes.cursor
                if target == before:  # at an end: not a move
                    continue
                t0 = time.perf_counter()
                while follower.screen.query_one(AlignedLanes).cursor != target:
                    await fp.pause(0.005)
                out.append((time.perf_counter() - t0) * 1000)
                await lp.pause(0.05)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=20)
    args = ap.parse_args()
    from tui_fixture import build_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fx.sqlite"
        ids = build_store(path)
        a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
        xs = asyncio.run(run(path, a, b, args.moves))
    print(f"leader cursor move -> follower on the same row ({len(xs)} moves): median "
          f"{statistics.median(xs):.0f} ms, max {max(xs):.0f} ms (target <= 500 ms)")


if __name__ == "__main__":
    main()
