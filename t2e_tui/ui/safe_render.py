"""The one place the explorer's text becomes terminal output, made safe.

Textual turns every visible line into a `Strip` and every strip into terminal sequences with
`Strip.render`: widgets, titles, notifications, the palette, tooltips all end there. Cleaning
each segment's text there (ESC, C0/C1 controls and bidi overrides dropped) means no screen can
put a trace's `ESC]52;…` (clipboard write) or `ESC]0;…` (window title) on the terminal, whether
or not the widget that drew it remembered `textsafe`. Only Textual's own styling (added from the
segment's style, after the text is cleaned) is written.
"""

from __future__ import annotations

import re

from rich.segment import Segment
from textual.strip import Strip

from store.hidden import HIDDEN

# the cheap test: a segment with none of these is written as is (nearly every segment)
_UNSAFE = HIDDEN

_original_render = Strip.render


def _safe_segments(segments: list[Segment]) -> list[Segment]:
    if not any(_UNSAFE.search(seg.text) for seg in segments if not seg.control):
        return segments
    # Only the unsafe characters go (what follows an ESC stays, as plain text): they are all
    # zero cells wide for the strip's width, except a lone surrogate (one cell), which
    # becomes U+FFFD, so the line keeps its exact width.
    return [seg if seg.control or not _UNSAFE.search(seg.text) else
            Segment(_UNSAFE.sub(_replacement, seg.text), seg.style, None)
            for seg in segments]


def _replacement(m: re.Match) -> str:
    return "\ufffd" if "\ud800" <= m.group() <= "\udfff" else ""


def _render(self: Strip, console) -> str:
    if self._render_cache is None:
        self._segments = _safe_segments(self._segments)
    return _original_render(self, console)


def install() -> None:
    """Route every strip through the cleaner (idempotent; called when the app is built)."""
    if Strip.render is not _render:
        Strip.render = _render  # type: ignore[method-assign]
