"""`t2e show --full` on an episode with one huge tool result: seconds and peak RSS.

    python bench/show_full.py [--mb 50] [--timeout 600]

Builds a store in a temp dir with store.writer (one episode, a tool result of --mb megabytes of
JSON-ish text with newlines every ~100 characters), then times `t2e show EPISODE --full`
in a child writing to a file, against writing the same bytes with `cat` (the floor).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(path: Path, mb: float) -> int:
    from store import writer
    from store.db import open_db

    line = '{"order_id": "#W0000000", "status": "delivered", "items": [1, 2, 3]}, ' * 1 + "\n"
    body = line * int(mb * 1e6 / len(line))
    db = open_db(path)
    with writer.transaction(db):
        writer.ensure_world(db, "w", kind="import", domain="retail")
        rid = writer.create_run(db, name="big", world_id="w", domain="retail", run_id="runbig")
    eid = writer.begin_episode(db, rid, episode_key="t:0", task_id="t", trial=0, ord=0)
    msgs = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "name": "get_order_details", "arguments": {"order_id": "#W1"},
         "requestor": "assistant"}]},
        {"role": "tool", "id": "c1", "content": body, "requestor": "assistant", "error": False}]
    names: dict = {}
    for i, m in enumerate(msgs):
        writer.append_step(db, eid, i, m, tool_names=names)
    writer.finish_episode(db, eid, termination_reason="user_stop", reward_info={"reward": 1.0})
    db.conn.close()
    return eid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        store = Path(d) / "s.sqlite"
        eid = build(store, args.mb)
        out = Path(d) / "out.txt"
        t0 = time.perf_counter()
        try:
            with open(out, "w") as fh:
                subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(store),
                                "show", str(eid), "--full"], stdout=fh, check=True,
                               timeout=args.timeout, cwd=ROOT)
            took = time.perf_counter() - t0
            status = f"{took:.2f} s"
        except subprocess.TimeoutExpired:
            status = f"> {args.timeout:.0f} s (timed out)"
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size = out.stat().st_size / 1e6
        t1 = time.perf_counter()
        subprocess.run(["cat", str(out)], stdout=subprocess.DEVNULL, check=True)
        floor = time.perf_counter() - t1
        print(f"show --full, {args.mb:g} MB field: {status}, peak RSS {rss:.0f} MB, "
              f"{size:.1f} MB written (cat of the output: {floor:.2f} s)")


if __name__ == "__main__":
    main()
