"""Workbench speed figures (printed, not asserted): `t2e demo` build time, the difflib diff
core on long instructions, and DiffView's first paint / page-down on a long diff.

    .venv/bin/python bench/workbench.py [--lines 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path


def texts(n: int, seed: int = 7) -> tuple[str, str]:
    rng = random.Random(seed)
    words = "confirm order customer address refund tracking item variant policy user".split()
    old = [f"- {' '.join(rng.choice(words) for _ in range(rng.randint(4, 14)))}." for _ in range(n)]
    new = list(old)
    for i in rng.sample(range(n), n // 50):  # 2% of the lines change, insert or go
        r = rng.random()
        if r < 0.5:
            new[i] = new[i].replace(rng.choice(words), "CHANGED", 1)
        elif r < 0.75:
            new[i] = new[i] + "\n- an inserted rule line."
        else:
            new[i] = ""
    return "\n".join(old), "\n".join(x for x in new if x)


async def paint(old: str, new: str, size: tuple[int, int]) -> tuple[float, float]:
    from textual.app import App

    from t2e_tui.ui.widgets.diffview import DiffView

    class One(App):
        def compose(self):
            yield DiffView(old, new)

    app = One()
    app.animation_level = "none"  # as T2EApp: scrolling animations would dominate the figure
    t0 = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        first = time.perf_counter() - t0
        view = app.query_one(DiffView)
        view.focus()
        t1 = time.perf_counter()
        for _ in range(20):
            await pilot.press("pagedown")
        await pilot.pause()
        page = (time.perf_counter() - t1) / 20
    return first, page


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20_000)
    args = ap.parse_args()

    from t2e_tui import difftext
    from t2e_tui.demo import build_demo

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        s = build_demo(Path(d) / "demo.sqlite")
        print(f"t2e demo build: {time.perf_counter() - t0:.2f} s "
              f"({len(s['runs']) + len(s['candidates'])} scripted runs, {len(s['candidates'])} "
              "candidates gated)")

    old, new = texts(args.lines)
    t0 = time.perf_counter()
    diff = difftext.compare(old, new)
    t = time.perf_counter() - t0
    print(f"difftext.compare, {args.lines} lines: {t * 1000:.0f} ms "
          f"(+{diff.stats.added} -{diff.stats.removed} ~{diff.stats.changed})")
    t0 = time.perf_counter()
    hunks = diff.unified()
    print(f"unified hunks: {(time.perf_counter() - t0) * 1000:.0f} ms ({len(hunks)} lines)")
    for size in ((80, 24), (160, 48)):
        first, page = asyncio.run(paint(old, new, size))
        print(f"DiffView {size[0]}x{size[1]}: app + first paint {first * 1000:.0f} ms, "
              f"page down {page * 1000:.1f} ms/key")


if __name__ == "__main__":
    main()
