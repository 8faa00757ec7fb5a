"""A scoring worker (world/score_split.py): `python -m world.score_worker` reads one pickled
job (scorer, path, start, limit) from stdin, reads and scores that part of the file, and
writes ("ok", part report) or ("fail", why) to stdout."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main() -> int:
    """Run one job."""
    try:
        scorer, path, start, limit = pickle.load(sys.stdin.buffer)
        from world.score_split import read_part

        msg = ("ok", read_part(scorer, Path(path), start, limit))
    except Exception as exc:  # noqa: BLE001 - the parent then scores serially
        msg = ("fail", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
