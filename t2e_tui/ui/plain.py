"""Trace-derived text (task ids, run names, reasons, details) into a widget, as typed.

Textual reads a `str` given to `Static`, `Label`, `Static.update` or a `DataTable` cell as
markup: `[link=…]click[/link]` becomes a link, `[bold red]x[/]` a red `x`, and a raw newline in
a one-line place starts a new line. These helpers build a rich `Text`, which is never parsed,
from text made safe by `textsafe`: `plain` for one line (newlines as ⏎), `plain_block` where the
text may keep its lines. Every screen puts interpolated text into those APIs through them (a
test scans the sources for f-strings handed to them; `widgets/datatable.PlainDataTable` does it
for table cells).
"""

from __future__ import annotations

from rich.text import Text

from ..textsafe import clean, one_line


def plain(value: object, style: str = "", width: int = 400) -> Text:
    """One line of text shown as typed: controls stripped, newlines as ⏎, cut at `width`."""
    return Text(one_line(value, width), style=style, end="")


def plain_block(value: object, style: str = "", limit: int = 4000) -> Text:
    """Text that keeps its lines, shown as typed (controls stripped, cut at `limit`)."""
    return Text(clean(value, limit)[0], style=style, end="")



def plain_markup(value: object, width: int = 400) -> str:
    """For the few APIs that take only a str and read it as markup (a palette hit's help):
    one line, its brackets escaped so they show as typed."""
    from textual.markup import escape

    return escape(one_line(value, width))


def highlight(matcher, value: object, width: int = 400):
    """A palette hit's text with the typed query's letters marked, like `Matcher.highlight`,
    which reads its candidate as markup (a task id `[b]x[/b]` lost its brackets)."""
    from textual.content import Content

    text = one_line(value, width)
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if score:
        for offset in offsets:
            if not text[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
