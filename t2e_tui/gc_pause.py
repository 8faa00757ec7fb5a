"""`paused_gc`: hold the cyclic garbage collector while 10^5 long-lived objects are built.

Shared by the gate's run reads and the tasks screen's rows (a tiny module of its own, so the
tasks screen does not import the gate, and with it numpy, to use it)."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    """Each object built meanwhile is kept and none is cyclic garbage, so every collection pass
    would walk all of them again (a third of the time of reading a 25,000-task pair). Nests;
    restores the collector's state."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
