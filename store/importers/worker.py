"""Entry point of the import worker process (see parse_worker.py): `python -m
store.importers.worker PATH DISPLAY` waits for one line `RUN_ID NEXT_EPISODE NEXT_STEP` on stdin
(the parent starts it before it knows them), then pickles the file's events to stdout. Stdin
closed without that line: the parent doesn't need it (a duplicate file...); it exits.

The events are pickled here and written by a second thread, through an Outbox of up to
QUEUE_BYTES of pickled batches: the parent reads the next batch only once it has written the
last one, so with a plain blocking write the worker would wait out every SQLite write (a pipe
holds 64 KB, a batch ~0.5 MB) and the two processes would take turns instead of overlapping.
The writer thread holds the GIL only around each write call.

Why QUEUE_BYTES is 12 MB: every 16,000 messages the parent fills the FTS rows in one statement
(0.3-0.9 s; one of them is FTS5's crisis merge), and the worker, the slower of the two, must not
wait that out. With a queue of 8 batches (~4 MB) it waited 1.0-1.9 s in all on the 300 MB bench
file; with 16-24 MB, 0.01-0.8 s (a loaded machine: the stalls vary). More costs memory that
counts against the 300 MB bound of `bench/import.py --tasks 25000` (peak RSS 287 MB with 8
batches, 296 MB with 16 MB: the queue fills while the parent stores the 25,000 tasks). Bounded
by bytes, not batches: a batch of huge messages weighs what it holds."""

import gc
import pickle
import sys
import threading
from collections import deque

from store.importers.common import ImportFailure, env_count
from store.importers.tau2 import Event, produce

QUEUE_BYTES = env_count("T2E_IMPORT_QUEUE_MB", 12) << 20


class Outbox:
    """Pickled batches between the producing thread and the writer thread, bounded by their
    total size (a blob bigger than the bound still passes, alone)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.cv = threading.Condition()
        self.blobs: deque[bytes] = deque()
        self.held = 0  # bytes queued or being written
        self.dead = False  # the writer stopped: the parent is gone

    def put(self, blob: bytes) -> bool:
        """Queue `blob`, waiting for room; False once the writer has stopped."""
        with self.cv:
            while self.held and self.held + len(blob) > self.limit and not self.dead:
                self.cv.wait(0.5)
            if self.dead:
                return False
            self.blobs.append(blob)
            self.held += len(blob)
            self.cv.notify_all()
            return True

    def take(self) -> bytes:
        """The next blob for the writer (waits for one)."""
        with self.cv:
            while not self.blobs:
                self.cv.wait(0.5)
            return self.blobs.popleft()

    def written(self, blob: bytes) -> bool:
        """The writer wrote `blob`; True when nothing else is queued."""
        with self.cv:
            self.held -= len(blob)
            self.cv.notify_all()
            return not self.blobs

    def drain(self) -> None:
        """Wait until every queued blob is written (or the writer stopped)."""
        with self.cv:
            while self.held and not self.dead:
                self.cv.wait(0.5)

    def stop(self) -> None:
        with self.cv:
            self.dead = True
            self.cv.notify_all()


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
    box = Outbox(QUEUE_BYTES)

    def write_all() -> None:
        try:
            while True:
                blob = box.take()
                out.write(blob)
                if box.written(blob):
                    out.flush()  # nothing queued: hand the parent what there is
        except OSError:
            pass  # the parent stopped reading (it failed, or stops us): nothing to tell it
        finally:
            box.stop()

    writer = threading.Thread(target=write_all, name="t2e-import-writer", daemon=True)
    writer.start()

    def send(ev: Event) -> None:
        if ev[0] != "batch":
            # the head (it may carry 60 MB of embedded tasks) and the last events: pickled
            # straight to the pipe in 64 KB frames, once the queue is written out, never held
            # whole in memory
            box.drain()
            pickle.dump(ev, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            return
        if not box.put(pickle.dumps(ev, protocol=pickle.HIGHEST_PROTOCOL)):
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
