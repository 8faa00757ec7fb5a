"""Making untrusted trace text safe to show.

Trace content comes from models and simulated users. It may carry terminal escape sequences
(which would move the cursor or retitle the terminal), Rich/Textual markup (which would restyle
or hide text), or megabytes in one field. Everything that reaches the screen goes through here.
No textual import: the CLI twin uses the same functions.
"""

from __future__ import annotations

import io

from store.hidden import ANSI, HIDDEN, HIDDEN_ASCII

# escape sequences: one definition, store/hidden.py (run names and the search index use it)
_ANSI = ANSI
# Remaining C0 controls except \t and \n, DEL, C1 controls, bidi overrides, lone surrogates
# (store/hidden.py): removed from shown text; on the output streams made visible instead
_CONTROLS = HIDDEN
# their ASCII members, for bytes.translate
_ASCII_CONTROLS = HIDDEN_ASCII

DEFAULT_LIMIT = 4000   # characters shown before "press x to expand"
EXPANDED_LIMIT = 200_000  # even expanded, a 5 MB field is cut: the terminal can't use more


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences (whole: an OSC's payload goes with its ESC)."""
    return _ANSI.sub("", text) if "\x1b" in text or "\x9b" in text or "\x9d" in text else text


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences and control characters; tabs become spaces."""
    if not text:
        return ""
    text = strip_ansi(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    if text.isascii():  # the common case, ~30x faster than the regex (50 MB: 60 ms)
        return text.encode("ascii").translate(None, _ASCII_CONTROLS).decode("ascii")
    return _CONTROLS.sub("", text)


def escape_markup(text: str) -> str:
    """Escape Rich/Textual markup so `[bold]` shows as typed (for APIs that parse markup)."""
    from rich.markup import escape

    return escape(text)


def truncate(text: str, limit: int = DEFAULT_LIMIT) -> tuple[str, bool]:
    """Cut `text` to `limit` characters. Returns (text, was_truncated)."""
    if limit is None or len(text) <= limit:
        return text, False
    return text[:limit], True


def clean(value: object, limit: int | None = DEFAULT_LIMIT) -> tuple[str, bool]:
    """Any value to displayable plain text: stringified, controls stripped, truncated.

    Returns (text, was_truncated). The result is plain text: put it in a rich `Text` or
    textual `Content` (never parsed as markup) or pass it through `escape_markup` first.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    # cut before stripping so a 50 MB field costs no more than the limit (with slack for escapes)
    if limit is not None and len(text) > limit * 2 + 64:
        text = text[: limit * 2 + 64]
        text = strip_controls(text)
        return text[:limit], True
    text = strip_controls(text)
    if limit is None:
        return text, False
    return truncate(text, limit)


def one_line(value: object, width: int = 200) -> str:
    """A single display line: controls stripped, newlines shown as ⏎, cut to `width` chars."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    text = strip_controls(text[: width * 2 + 64])
    text = " ".join(text.replace("\n", " ⏎ ").split())
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text



def single_line(text: str) -> str:
    """A line of output made of trace text: controls stripped, newlines shown as ⏎ (a task id
    holding one cannot start a line of its own, e.g. a forged "[pass]"), other spacing kept
    (unlike one_line: the line's indentation and columns stay)."""
    text = strip_controls(text)
    for sep in ("\n", "\u2028", "\u2029"):  # (and the Unicode line/paragraph separators)
        if sep in text:
            text = text.replace(sep, " ⏎ ")
    return text


def visible_escapes(text: str) -> str:
    """Every byte a terminal could act on, written as a visible `\\uXXXX` escape instead.

    The last line of defence on the CLI's output streams: whatever a command forgot to clean
    shows as text and is never interpreted. Inside JSON strings the escape is valid JSON for the
    same character, so JSON output stays exact (json.dumps already escapes C0 itself)."""
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_CONTROLS)) == len(raw):
            return text
    elif not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SafeTextStream(io.TextIOBase):
    """A text stream that passes everything through `visible_escapes` to `target`.

    The CLI installs one over stdout and stderr for the whole command (`cli/main.py`), so no
    output path (click.echo, print, a traceback, a forgotten call site) can put an escape
    sequence from a trace on the terminal. `raw` is the stream underneath, for writers that
    emit their own sanitised styling (the rich console in cli/common.py)."""

    def __init__(self, target):
        super().__init__()
        self.raw = target

    @property
    def encoding(self) -> str:  # click checks this before writing text to us
        return getattr(self.raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:
        return getattr(self.raw, "errors", None)

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):  # click probes with b"" to tell text from binary streams
            raise TypeError("SafeTextStream takes str")
        self.raw.write(visible_escapes(s))
        return len(s)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.raw, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.raw.fileno()
