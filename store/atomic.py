"""Files written whole or not at all, with the mode a plain ``open()`` would give them; and
the one check every output path a user names goes through (`prepare`, `Output`).

``tempfile.mkstemp`` creates its file 0600, which suits secrets; exports, gate reports and
candidate files are for a team and CI to read, so after the rename they must carry the mode
the user's umask asks for (0644 under the usual 022), as any other tool's output does."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import IO, Callable, TypeVar

from .db import StoreError

T = TypeVar("T")


def _umask() -> int:
    # os.umask can only be read by setting it; read it back from the kernel where it says
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def mkstemp_public(dir: str | os.PathLike, prefix: str, suffix: str = "") -> tuple[int, str]:
    """``tempfile.mkstemp`` in `dir`, chmod-ed to ``0666 & ~umask`` so the file renamed over
    the target reads as one written by ``open(target, "w")``."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError:  # a file system without modes (some mounts): keep mkstemp's
        pass
    return fd, tmp


# --- output files: every -o, --report and new --store path goes through here -------------

_STD_FDS = (1, 2)


@dataclass(frozen=True)
class Output:
    """A file an output goes to, checked before any work (`prepare`). `final` is the file
    written (links followed: a symbolic link is written through to its target); `stream`
    says it is written straight to (a FIFO, a device, this process's own stdout or stderr),
    else it is replaced whole by a rename (nothing half-written); `label` names it in
    messages (`-o PATH`)."""

    path: str
    final: str
    stream: bool
    label: str

    def write(self, produce: Callable[[IO], T], *, binary: bool = False) -> T:
        """Write the output through `produce(fh)` and return what it returns. An OSError of
        the file (no room, a reader that refuses) is a StoreError naming it; a closed pipe
        stays a BrokenPipeError (the CLI's exit 141)."""
        mode, enc = ("b", None) if binary else ("", "utf-8")
        try:
            if self.stream:
                # appended, never truncated: /dev/stdout under `>>` keeps what was there
                _flush_std()
                with open(self.path, "a" + mode, encoding=enc) as fh:
                    return produce(fh)
            folder, name = os.path.split(self.final)
            # the temporary name stays short whatever the target's (NAME_MAX is 255 bytes)
            fd, tmp = mkstemp_public(folder or ".", f".{name[:40]}.", ".tmp")
            try:
                with os.fdopen(fd, "w" + mode, encoding=enc) as fh:
                    out = produce(fh)
                os.replace(tmp, self.final)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            return out
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StoreError(cannot_write(self.label, exc)) from None

    def write_text(self, text: str) -> None:
        self.write(lambda fh: fh.write(text))

    def write_bytes(self, data: bytes) -> None:
        self.write(lambda fh: fh.write(data), binary=True)


def cannot_write(label: str, exc: OSError) -> str:
    return f"{label}: cannot write ({exc.strerror or exc})"


def prepare(path: str | os.PathLike, label: str | None = None, *,
            streams: bool = True) -> Output:
    """`path` checked as an output file before any work, or a StoreError naming it (`label`,
    else the path): a directory is refused; a folder that does not exist is refused (a
    mistyped one must fail loudly, not grow a tree: t2e makes only its own folders); a name
    the file system cannot hold (too long, a loop of links) or a folder it cannot write in
    is refused. With `streams` False (a store) a FIFO or device is refused too."""
    from world.errors import shown_path

    given = os.fspath(path)
    label = label or shown_path(given)
    try:
        st: os.stat_result | None = os.stat(given)  # links followed
    except (FileNotFoundError, NotADirectoryError):  # (the folder is looked at below)
        st = None
    except OSError as exc:
        raise StoreError(cannot_write(label, exc)) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{label}: is a directory; give a file name")
    if st is not None and (not stat.S_ISREG(st.st_mode) or _is_std_stream(st)):
        if not streams:
            raise StoreError(f"{label}: not a regular file; give a file name")
        return Output(given, given, True, label)
    final = os.path.realpath(given)
    folder = os.path.dirname(final) or "."
    shown_folder = shown_path(os.path.dirname(final if os.path.islink(given) else given)
                              or ".")
    try:
        fst = os.stat(folder)
    except FileNotFoundError:
        raise StoreError(f"{label}: directory {shown_folder} does not exist (create it "
                         "first)") from None
    except OSError as exc:
        raise StoreError(cannot_write(label, exc)) from None
    if not stat.S_ISDIR(fst.st_mode):
        raise StoreError(f"{label}: {shown_folder} is not a directory")
    if st is None:
        try:
            os.lstat(final)  # the name itself: too long for the file system?
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(cannot_write(label, exc)) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{label}: cannot write ({os.strerror(errno.EACCES)} in "
                         f"{shown_folder})")
    return Output(given, final, False, label)


def _is_std_stream(st: os.stat_result) -> bool:
    """Whether `st` is the file this process's stdout or stderr already writes to (the
    shell's `> FILE` named again, /dev/stdout): written through the stream, not replaced."""
    for fd in _STD_FDS:
        try:
            if os.path.samestat(st, os.fstat(fd)):
                return True
        except OSError:
            continue
    return False


def _flush_std() -> None:
    import sys

    for s in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            s.flush()
