"""Scoring one results file on several cores (`t2e score --jobs N`).

Where a simulation's time goes on one core (304 MB retail file, 10k simulations): reading it
~0.27 ms (JSON parse), relabel check + replay + checks ~0.17 ms. Handing parsed simulations to
a worker costs nearly as much as parsing them (pickling ~0.13 ms, unpickling ~0.06 ms), so the
file is split instead: each process reads and scores its own byte range of the simulations
array, and only the small per-part reports travel back.

Where a part may start is guessed from the layout: tau2 writes the array with one item per
indentation level (`,\\n    {`), and the same separator after the first item's indentation
marks the next items. A guess is never trusted: the part before it must end exactly there,
right after a `,` between two items of the array, having read every item from the array's
own `[`. Parts are thus checked in a chain from the first, so the items each process reads
are exactly those a single reader would read. Any doubt (a wrong guess, a malformed item, a
worker that fails or dies, an exception while scoring) drops the parallel attempt and the file
is scored serially from the start, which gives the serial report or the serial error, word for
word. Workers are plain `python -m world.score_worker` children (pickle over a pipe), as the
import worker is: multiprocessing's spawn re-imports the caller's __main__ and fork is unsafe
from threaded callers such as the app.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import threading
from pathlib import Path
from typing import Any

from .jsonstream import JsonStream, JsonStreamError
from .subproc import spawn_module, stop

WINDOW = 4 << 20     # bytes searched after a split target for an item separator
MIN_PART = 4 << 20   # no part smaller than this (a worker costs ~0.2 s to start)


def auto_jobs(size_bytes: int) -> int:
    """Processes for a file of this size: 1 below 128 MB (an 81 MB file scored slower in two
    processes on a busy machine: starting a worker costs ~0.3 s), else 2 on 2+ cores unless
    the machine is already busy. T2E_SCORE_JOBS overrides (1 = serial)."""
    env = os.environ.get("T2E_SCORE_JOBS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    cores = os.cpu_count() or 1
    if size_bytes < (128 << 20) or cores < 2:
        return 1
    # a second process helps only if a core is free: at load 5 on 2 cores the 304 MB bench
    # file took 10.5 s in two processes and 7.8 s in one (at load 2: 3.1 s and 5.7 s)
    if os.getloadavg()[0] >= cores + 1:
        return 1
    return 2


class Unverified(Exception):
    """This part can't be vouched for; score the file serially."""


class _Limited:
    """A binary file read from its current position up to `n` bytes (then end of file)."""

    def __init__(self, fh, n: int):
        self._fh, self._left = fh, n

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._fh.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data


def split_points(path: Path, at: int, parts: int) -> list[int]:
    """Byte offsets where parts 2.. start (each at an item's `{`), guessed from the first
    item's indentation; fewer (or none) when the layout gives no separator."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(at)
        head = fh.read(4096)
        if not head.startswith(b"["):
            return []
        body = head[1:]
        lead = body[:len(body) - len(body.lstrip(b" \t\r\n"))]
        if b"\n" not in lead or not body[len(lead):].startswith(b"{"):
            return []  # compact JSON: nothing marks where items begin
        sep = b",\n" + lead.rsplit(b"\n", 1)[1] + b"{"
        points: list[int] = []
        for k in range(1, parts):
            target = at + (size - at) * k // parts
            if target - (points[-1] if points else at) < MIN_PART or size - target < MIN_PART:
                continue
            fh.seek(target)
            window = fh.read(WINDOW)
            i = window.find(sep)
            if i >= 0:
                points.append(target + i + len(sep) - 1)
    return points


def read_part(scorer: Any, path: Path, start: int, limit: int | None,
              first: bool = False) -> dict:
    """Score the items of the array between `start` (the `[` for the first part, an item's
    `{` for the others) and `limit` (the next part's start; None: to the end of the file).
    Returns the part's report; raises Unverified when the part does not end exactly at
    `limit` after a separator, or anything is amiss (the caller then reads serially)."""
    from .rescore import is_malformed, new_report, tally

    part = new_report()
    with open(path, "rb") as raw:
        raw.seek(start)
        js = JsonStream(_Limited(raw, limit - start) if limit is not None else raw)
        try:
            if first:
                js.expect("[", "'['")
                if js.peek() == "]":
                    raise Unverified("empty array")  # nothing to share out
            j = 0
            while True:
                sim = js.read_value()
                disagree = tally(part, scorer.one(j, sim))
                if disagree is not None and is_malformed(sim):
                    disagree["_i"] = j  # renumbered when the parts are joined
                j += 1
                if js.expect(",]", "',' or ']'") == "]":
                    if limit is not None:
                        raise Unverified("the array ended before the part's end")
                    _finish_object(js)
                    return part
                if limit is not None and js.peek() == "":
                    return part  # at the next part's start, right after a separator
        except (JsonStreamError, UnicodeDecodeError) as exc:
            raise Unverified(str(exc)) from None


def _finish_object(js: JsonStream) -> None:
    """Read the top-level keys after the simulations, as the serial reader does."""
    while js.expect(",}", "',' or '}'") == ",":
        if js.peek() != '"':
            raise Unverified("a key was expected")
        js.read_value()
        js.expect(":", "':'")
        js.read_value()


def score_split(scorer: Any, path: Path, at: int, jobs: int) -> dict | None:
    """The file's report, read in up to `jobs` parts (this process reads the first, workers
    the others); None when the file can't be split or any part fails (score serially)."""
    points = split_points(path, at, jobs)
    if not points:
        return None
    starts, limits = [at, *points], [*points, None]
    workers = [_start(scorer, path, s, lim) for s, lim in zip(starts[1:], limits[1:])]
    parts: list[dict] = []
    try:
        try:
            parts.append(read_part(scorer, path, starts[0], limits[0], first=True))
        except Exception:  # noqa: BLE001 - Unverified, or scoring raised: serial says what
            return None
        for w in workers:
            part = _result(w)
            if part is None:
                return None
            parts.append(part)
    finally:
        for w in workers:
            stop(w)
    return _join(parts)


def _join(parts: list[dict]) -> dict:
    from .rescore import malformed_reason, new_report

    report = new_report()

    for part in parts:
        for d in part["disagree"]:
            if "_i" in d:
                d["reason"] = malformed_reason(report["simulations"] + d.pop("_i"))
        for key in ("disagree", "relabelled", "ambiguous"):
            report[key].extend(part[key])
        for key in ("simulations", "agree", "judge_dependent", "recorded_successes"):
            report[key] += part[key]
    return report


def _start(scorer: Any, path: Path, start: int, limit: int | None) -> subprocess.Popen:
    proc = spawn_module("world.score_worker", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL)
    job = pickle.dumps((scorer, str(path), start, limit), protocol=pickle.HIGHEST_PROTOCOL)

    def feed() -> None:  # the worker reads it once started; this process reads part 1 meanwhile
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except (OSError, ValueError):  # ValueError: stop() closed the pipe meanwhile
            pass  # it died: its missing result says so

    threading.Thread(target=feed, daemon=True).start()
    return proc


def _result(proc: subprocess.Popen) -> dict | None:
    try:
        kind, value = pickle.load(proc.stdout)
    except Exception:  # noqa: BLE001 - it died or wrote garbage: read serially
        return None
    return value if kind == "ok" else None
