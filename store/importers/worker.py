"""Entry point of the import worker process (see tau2.py): `python -m store.importers.worker
PATH DISPLAY RUN_ID NEXT_EPISODE NEXT_STEP` pickles the file's events to stdout."""

import pickle
import sys

from store.importers.common import ImportFailure
from store.importers.tau2 import Event, produce


def worker_main(argv: list[str]) -> int:
    """The worker: produce events for one file and pickle them to stdout."""
    path, display, run_id, next_episode, next_step = argv
    out = sys.stdout.buffer

    def send(ev: Event) -> None:
        pickle.dump(ev, out, protocol=pickle.HIGHEST_PROTOCOL)

    try:
        for ev in produce(path, display, run_id, (int(next_episode), int(next_step))):
            send(ev)
            if ev[0] == "done":
                out.flush()  # the parent stops reading here
    except ImportFailure as exc:
        send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises
        send(("crash", f"{type(exc).__name__}: {exc}"))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
