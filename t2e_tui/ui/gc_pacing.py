"""Full garbage-collector passes run just after a key's frame is on the terminal, not inside
the next key.

Why: Textual leaves most drawn lines in reference cycles (a `Strip` keeps its own division
in its `_divide_cache`, and each strip carries seven caches), so a screen that repaints 45
lines on a key leaves about a thousand objects of cyclic garbage per key. CPython sweeps it
in a full (generation 2) pass once ten young passes went by, and that pass walks every live
widget line besides: 10-30 ms, far more when a screen's big data is in reach (see
`screens.base.freeze_heap`). It fell inside whichever key came next (bench/tui_outside.py,
tasks screen at 160x48: a filter or sort key 40-60 ms to the last byte where the key's own
work is 12-18 ms).

While the app runs, CPython's own full pass waits for `CAP` young passes instead of ten (a
safety net for input that never pauses). The pass it would have run, once `DUE` young passes
went by, runs instead after the frame of the key or click that follows, unless more input came
meanwhile (whose own frame goes first). "After the frame": the key reaches its widget through
message queues, so a refresh callback registered with the key may run before the key's work;
`SETTLE_S` later the work has run, a second refresh callback waits for its frame, and `FLUSH_S`
after that the frame's bytes are out (Textual's writer thread sends them, and a pass holding the
interpreter would stall it). The same work at a moment nobody waits for it; nothing skipped.
"""

from __future__ import annotations

import gc
import time
from typing import Any

DUE = 10        # young (generation 1) passes that make a full pass due: CPython's default
CAP = 100       # CPython's own full pass while the app runs, if no quiet moment came
SETTLE_S = 0.03  # after the input, for its handler to have run
FLUSH_S = 0.01   # after its frame, for the writer thread to send it


class IdleCollector:
    """Paces full GC passes for one app: `start` on mount, `stop` on unmount, `input_seen` on
    each key or click."""

    def __init__(self, app: Any, clock=time.monotonic) -> None:
        self.app, self.clock = app, clock
        self.passes = 0                 # full passes run here (tests, diagnostics)
        self._saved: tuple[int, int, int] | None = None
        self._last_input = float("-inf")
        self._armed_at: float | None = None

    def start(self) -> None:
        """Hold CPython's own full passes back to `CAP` young passes while the app runs."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _full = self._saved
            gc.set_threshold(young, middle, CAP)

    def stop(self) -> None:
        """The thresholds as they were (tests run many apps in one process)."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input_seen(self) -> None:
        """A key or click: once its frame is drawn, run a full pass if one is due."""
        self._last_input = self.clock()
        if self._armed_at is None and self._saved is not None:
            self._armed_at = self._last_input
            self.app.call_after_refresh(self.app.set_timer, SETTLE_S, self._settled)

    def _settled(self) -> None:
        self.app.call_after_refresh(self.app.set_timer, FLUSH_S, self._collect_if_due)

    def _collect_if_due(self) -> None:
        armed, self._armed_at = self._armed_at, None
        if self._saved is None:
            return  # stopped meanwhile
        if armed is not None and self._last_input > armed:
            self.input_seen()  # more input came: after its frame
            return
        if gc.get_count()[2] >= DUE:
            gc.collect()
            self.passes += 1
