"""Files written whole or not at all, with the mode a plain ``open()`` would give them.

``tempfile.mkstemp`` creates its file 0600, which suits secrets; exports, gate reports and
candidate files are for a team and CI to read, so after the rename they must carry the mode
the user's umask asks for (0644 under the usual 022), as any other tool's output does."""

from __future__ import annotations

import os
import tempfile


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
