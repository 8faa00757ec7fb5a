"""Entry point of the import worker process (see parse_worker.py): `python -m
store.importers.worker PATH DISPLAY` waits for one line `RUN_ID NEXT_EPISODE NEXT_STEP` on stdin
(the parent starts it before it knows them), then pickles the file's events to stdout. Stdin
closed without that line: the parent doesn't need it (a duplicate file...); it exits.

The events are pickled here and written by a second thread, through a queue of QUEUE_EVENTS
events: the parent reads the next batch only once it has written the last one, so with a plain
blocking write the worker would wait out every SQLite write (a pipe holds 64 KB, a batch ~2 MB)
and the two processes would take turns instead of overlapping. The writer thread holds the GIL
only around each write call."""

import gc
import pickle
import queue
import sys
import threading

from store.importers.common import ImportFailure
from store.importers.tau2 import Event, produce

QUEUE_EVENTS = 8


def worker_main(argv: list[str]) -> int:
    """The worker: produce events for one file and pickle them to stdout."""
    path, display = argv
    line = sys.stdin.buffer.readline().split()
    if len(line) != 3:
        return 0
    run_id, next_episode, next_step = (x.decode() for x in line)
    # the worker's objects are JSON values and row tuples (no cycles) and it ends with the
    # file: the cyclic collector would only walk them (~3% of the worker's CPU)
    gc.disable()
    out = sys.stdout.buffer
    pending: queue.Queue[bytes] = queue.Queue(maxsize=QUEUE_EVENTS)

    def write_all() -> None:
        try:
            while True:
                blob = pending.get()
                out.write(blob)
                if pending.empty():
                    out.flush()  # nothing queued: hand the parent what there is
                pending.task_done()
        except OSError:
            pass  # the parent stopped reading (it failed, or stops us): nothing to tell it

    writer = threading.Thread(target=write_all, name="t2e-import-writer", daemon=True)
    writer.start()

    def send(ev: Event) -> None:
        if ev[0] != "batch":
            # the head (it may carry 60 MB of embedded tasks) and the last events: pickled
            # straight to the pipe in 64 KB frames, once the queue is written out, never held
            # whole in memory
            with pending.all_tasks_done:
                while pending.unfinished_tasks and writer.is_alive():
                    pending.all_tasks_done.wait(0.5)
            pickle.dump(ev, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            return
        blob = pickle.dumps(ev, protocol=pickle.HIGHEST_PROTOCOL)
        while writer.is_alive():
            try:
                pending.put(blob, timeout=1.0)
                return
            except queue.Full:
                continue
        sys.exit(0)  # the writer stopped: the parent is gone

    try:
        for ev in produce(path, display, run_id, (int(next_episode), int(next_step))):
            send(ev)
    except ImportFailure as exc:
        send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises
        send(("crash", f"{type(exc).__name__}: {exc}"))
    return 0  # every event is written: the last ones are never queued


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
