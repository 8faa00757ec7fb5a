"""The OpenTelemetry import's worker process (see otel._Worker, the importing side) and the
pipe between the two: `python -m store.importers.otel_worker PATH TMP LAYOUT BLOCK_BYTES SIZE`.

The worker spills its share of the file's blocks, then builds every episode (grouping,
messages, validation) and sends them to the importer in chunks, making their step rows too
while the importer is behind. Events are framed (a length, a tag, the payload: marshal for the
episode chunks, pickle for the rest); `read_event` reads one on the importer's side.
"""

from __future__ import annotations

import gc
import marshal
import os
import pickle
import queue
import struct
import sys
import threading

from store.importers.common import ImportFailure, env_count, open_regular
from store.importers.otel_groups import episodes
from store.importers.otel_lines import BlockFailure, spill_shared
from store.importers.otel_spill import Spiller, open_spill, spill_path
from store.importers.otel_stream import spill_stream
from store.writer import step_row


def worker_main(argv: list[str]) -> int:
    """The worker (see otel._Worker): `python -m store.importers.otel_worker PATH TMP LAYOUT
    BLOCK_BYTES SIZE` (LAYOUT: lines or stream; SIZE: the bytes the import reads, the
    parent's: a file still growing is read to the same end by both)."""
    path, tmp, lines, block = argv[0], argv[1], argv[2] == "lines", int(argv[3])
    file_size = int(argv[4])
    gc.disable()  # as in import_file: nothing here is cyclic, and the process ends after
    pipe = _Pipe(sys.stdout.buffer)
    send = pipe.send
    try:
        mine = spill_path(tmp, "w")
        db = open_spill(mine)
        sp = Spiller(db, mine)
        with open_regular(path) as fh:
            if lines:
                spill_shared(sp, fh, path, file_size, tmp, block)
            else:
                spill_stream(sp, fh)
        send(("spilled", sp.spans, sp.services))
        go = sys.stdin.buffer.readline().split()
        if go[:1] != [b"go"]:
            return pipe.close()  # the parent failed on its half
        eid = int(go[1])
        stats: dict = {}
        chunk: list[tuple] = []
        size = 0
        for sim, lat, nc, conv in episodes(db, mine, spill_path(tmp, "p") if lines else None,
                                           stats):
            msgs = sim["messages"]
            size += len(msgs)
            rows = None
            if pipe.q.qsize() >= _BEHIND:  # the parent is behind: make the rows here
                names: dict[str, str] = {}
                rows = [step_row(eid, i, m, tool_names=names,
                                 latency_ms=lat[i] if lat else None) for i, m in enumerate(msgs)]
                sim["messages"], lat = [], None
            chunk.append((sim, lat, nc, conv, rows))
            eid += 1
            if size >= _CHUNK_MESSAGES:
                send(("episodes", chunk))
                chunk, size = [], 0
        # every episode built: this core is free (the parent may hash the file meanwhile)
        with open(os.path.join(tmp, "built"), "wb"):
            pass
        if chunk:
            send(("episodes", chunk))
        send(("done", stats))
    except BlockFailure as exc:
        send(("error", str(exc), exc.block, exc.line))
    except ImportFailure as exc:
        send(("error", str(exc), -1, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises
        send(("crash", f"{type(exc).__name__}: {exc}"))
    return pipe.close()


# messages a chunk: the importer waits for the worker's first chunk, and at the end the
# worker is done while the importer writes its last ones: smaller chunks shorten both waits
_CHUNK_MESSAGES = 400
# chunks waiting to go out at which the worker starts making step rows for the parent (tests
# set 0: always)
_BEHIND = env_count("T2E_OTEL_ROWS_BEHIND", 1, minimum=0)
_HEAD = struct.Struct("<Q")


def _read_exact(fh, n: int) -> bytearray | None:
    """n bytes from a pipe (an unbuffered read returns what is there); None at its end."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = fh.readinto(view[got:])
        if not k:
            return None
        got += k
    return buf


def read_event(fh) -> tuple | None:
    """One event written by _Pipe (a length, a tag, the payload); None at end of stream."""
    head = _read_exact(fh, _HEAD.size)
    if head is None:
        return None
    (n,) = _HEAD.unpack(head)
    data = _read_exact(fh, n)
    if data is None:
        return None
    if data[:1] == b"M":
        return ("episodes", marshal.loads(memoryview(data)[1:]))
    return pickle.loads(memoryview(data)[1:])


class _Pipe:
    """Events to the parent through a thread and a bounded queue: a pipe holds 64 KB, so
    writing directly would stall the worker each time the parent is busy writing rows, and
    the two processes would take turns instead of working at once. The queue lets the worker
    run ahead by up to 32 chunks (a chunk is about 400 messages)."""

    def __init__(self, out):
        self.out = out
        self.q: queue.Queue = queue.Queue(maxsize=32)
        self.broken = False
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def send(self, ev: tuple) -> None:
        if ev[0] == "episodes":  # plain JSON-like values: marshal is faster both ways
            data = b"M" + marshal.dumps(ev[1])
        else:
            data = b"P" + pickle.dumps(ev, protocol=pickle.HIGHEST_PROTOCOL)
        self.q.put(_HEAD.pack(len(data)) + data)

    def _pump(self) -> None:
        while (data := self.q.get()) is not None:
            if self.broken:
                continue  # the parent has gone: drain so that send never blocks
            try:
                self.out.write(data)
                self.out.flush()
            except OSError:
                self.broken = True

    def close(self) -> int:
        self.q.put(None)
        self.thread.join()
        return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
