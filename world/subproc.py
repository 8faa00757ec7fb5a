"""Worker processes running this checkout's code: `python -P -m MODULE ...` (stdlib only; the
scoring workers of world/ and the import workers of store/ start and stop through here).

Why -P: `-m` puts the current directory first on the module path, so a `world/` or `store/`
folder wherever t2e runs was imported as the worker's code. The checkout's root goes first on
PYTHONPATH instead (an installed t2e and a source tree behave the same)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = str(Path(__file__).resolve().parents[1])


def spawn_module(module: str, *args: str, **popen: Any) -> subprocess.Popen:
    """Start `python -P -m module args` with this checkout first on its module path; popen's
    keywords (pipes) go to subprocess.Popen."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                else "")
    return subprocess.Popen([sys.executable, "-P", "-m", module, *args], env=env, **popen)


def stop(proc: subprocess.Popen) -> None:
    """Kill the worker if it still runs, close its pipes and reap it; safe to call twice. A
    pipe that can't be closed (a buffered write to a worker already gone) is let go."""
    if proc.poll() is None:
        proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass
    proc.wait()
