"""What every importer shares: the failure type, file checks, world ids; the per-file context
and run metadata (context.py) are importable from here."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any


class ImportFailure(ValueError):
    """This file cannot be imported; the message says what was found and what was wrong."""


BOM = b"\xef\xbb\xbf"


def without_bom(line: bytes) -> bytes:
    """A JSON Lines line less the UTF-8 byte order mark before it, if any: an editor's before
    the first line, and files that each had one, joined with cat, put one at the start of a
    line in the middle. JSON has no place for one, so it is skipped (the OTLP and JSONL
    readers alike), never reported as the line's first character."""
    return line[3:] if line[:3] == BOM else line


def open_regular(path: str | os.PathLike, shown: str | None = None):
    """Open `path` for binary reading only if it is a regular file (a FIFO, a device such as
    /dev/zero or a socket is refused at once: reading one would hang or never end).

    Opened non-blocking so a FIFO cannot block the open itself, then checked on the open file
    (no window between the check and the read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImportFailure(f"{shown or path}: not a regular file ({_kind(st.st_mode)}); "
                                "only regular files and results directories are imported")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "a special file"


# what not_a_file says of a path that is not there, and of a link that cannot be resolved
MISSING = "is missing"
LOOPS = "is a symbolic link that cannot be resolved (it loops)"


def not_a_file(path: Path) -> str | None:
    """Why `path` (symlinks followed) is not a regular file to read, in words that follow its
    name: MISSING, LOOPS, "is a directory, not a file", "is not a regular file (a FIFO)", ...;
    None when it is one. (is_file() said False for all of these alike, so a directory or a
    FIFO read as missing, and a loop, which inside() cannot resolve, as a link outside.)"""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is a symbolic link to a file that does not exist" if path.is_symlink() \
            else MISSING
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LOOPS
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    return f"is not a regular file ({_kind(st.st_mode)})"


def not_a_folder(path: Path) -> str | None:
    """Why an existing `path` is not a folder to read ("is a file, not a folder", "is not a
    folder (a FIFO)"), or None (a folder, or nothing there: the caller says what that
    means)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return None
    if stat.S_ISREG(st.st_mode):
        return "is a file, not a folder"
    return f"is not a folder ({_kind(st.st_mode)})"


def link_loops(path: Path) -> bool:
    """Whether `path` is a symbolic link that cannot be resolved (it leads back to itself)."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def inside(root: Path, candidate: Path) -> bool:
    """Whether `candidate` (symlinks followed) lies inside the directory `root`. A link that
    loops is not (it leads nowhere): callers that name the problem ask link_loops first."""
    try:
        return candidate.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def import_world_id(domain: str, policy: str | None, tasks: list[dict] | None) -> str:
    """The world id of an imported run (world.lock's definition, the one place it lives)."""
    from world.lock import import_world_id as world_import_id

    return world_import_id(domain, policy, tasks)



def env_count(name: str, default: int, minimum: int = 1) -> int:
    """An integer tuning knob from the environment (T2E_IMPORT_BATCH...): `default` when unset
    or not a whole number of at least `minimum`. Read at import time by every command, so a
    stray value must not become an internal error."""
    text = os.environ.get(name, "").strip()
    return int(text) if text.isdigit() and int(text) >= minimum else default


# From this size a file is read by two processes, tau2 and OTLP alike (a worker's start-up
# costs ~0.3 s)
WORKER_MIN_BYTES = 8 << 20


def wants_worker(size: int) -> bool:
    """Whether a file of `size` bytes is read by two processes (T2E_IMPORT_WORKER=1 or 0
    forces the choice: tests)."""
    mode = os.environ.get("T2E_IMPORT_WORKER", "")
    return mode == "1" or (mode != "0" and size >= WORKER_MIN_BYTES)


# moved to context.py (an import's context, a file's run-level parts); importable from here.
# Last: context.py takes ImportFailure from this module
from .context import ImportContext, RunMeta, number_trials  # noqa: E402,F401
