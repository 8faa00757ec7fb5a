"""The characters no output path writes as they are: one definition for every layer (the core
below t2e_tui cannot import it). t2e_tui/textsafe cleans trace text and the CLI's streams with
it, the app's strips (t2e_tui/ui/safe_render.py) too, and store.queries refuses run names that
hold them (or a tab or newline), because listings strip them."""

from __future__ import annotations

import re

# C0 controls but \t and \n (ESC included), DEL, C1 controls, the bidi embeddings, overrides
# (U+202A-U+202E) and isolates (U+2066-U+2069) that can visually reorder text (a known way to
# disguise content), and lone surrogates (JSON like "\ud800" gives them), which no terminal
# encoding can write
HIDDEN_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
HIDDEN = re.compile(f"[{HIDDEN_CHARS}]")
# its ASCII members as bytes, for bytes.translate (the fast path for ASCII text)
HIDDEN_ASCII = bytes(c for c in range(128) if HIDDEN.match(chr(c)))

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC
# (ESC P/X/^/_ ... ST) and two-byte escapes. Also the 8-bit C1 forms (CSI = 0x9b, OSC = 0x9d).
# Displays remove a sequence whole (an OSC's payload goes with its ESC): textsafe.strip_ansi
ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC ... BEL | ST
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?       # DCS SOS PM APC ... ST
  | \x1b[@-Z\\-_]                      # other two-byte escapes
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x9d[^\x07\x9c]*(?:\x07|\x9c)?      # 8-bit OSC
    """,
    re.VERBOSE,
)


def has_hidden(text: str) -> bool:
    """Whether `text` holds a character no display shows as it is."""
    if text.isascii():  # the common case: bytes.translate is ~3x faster than the regex
        raw = text.encode("ascii")
        return len(raw.translate(None, HIDDEN_ASCII)) != len(raw)
    return HIDDEN.search(text) is not None


def shown(text: str) -> str:
    """`text` as every display shows it: escape sequences removed whole, then the other
    hidden characters (t2e_tui.textsafe.strip_controls, which also turns tabs into spaces)."""
    if not has_hidden(text):
        return text
    return HIDDEN.sub("", ANSI.sub("", text))


def typeable_name(name: str) -> str:
    """A run name taken from a file (its name, or a name the file gives its run) as a user
    can type it back: what every listing shows of it (escape sequences removed whole, hidden
    characters removed, white space runs as one space), less the characters shown unseen
    (zero-width, soft hyphen: `typeable` refuses them). A name with nothing visible left is
    written out instead (`\\u001b[0m`), so it still names its run."""
    text = " ".join("".join(ch for ch in shown(name) if ch.isprintable() or ch.isspace())
                    .split())
    if text:
        return text
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}"
                   for ch in " ".join(name.split())) or "unnamed"


def _shown_json(text: str) -> str | None:
    """A column stored as JSON (tool calls; content that was not text) whose strings hold
    hidden characters, written as JSON escapes (`\\u001b`), as shown: the strings cleaned,
    the document written again. None when it is not such a document."""
    import json

    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, (list, dict)):
        return None
    found = False

    def clean(v):
        nonlocal found
        if isinstance(v, str):
            if has_hidden(v):
                found = True
                return shown(v)
            return v
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {clean(k): clean(x) for k, x in v.items()}
        return v

    out = clean(doc)
    return json.dumps(out, ensure_ascii=False) if found else None


def _shown_column(text: str | None) -> str | None:
    if not text:
        return None
    if has_hidden(text):
        return shown(text)
    if "\\u" in text:  # JSON escapes of hidden characters look plain here
        return _shown_json(text)
    return None


def shown_row(content: str | None, tool_calls: str | None) -> tuple | None:
    """A message's (content, tool_calls) as shown, for `steps_shown` (None in a column with
    nothing hidden), or None when neither column holds a hidden character, raw or as a JSON
    escape inside a JSON column: the search index then reads the stored text
    (store/migrations_search.py, migration 10)."""
    c, t = _shown_column(content), _shown_column(tool_calls)
    return None if c is None and t is None else (c, t)


def shown_rows(rows: list, id_at: int, content_at: int, calls_at: int) -> list[tuple]:
    """(id, content, tool_calls as shown: shown_row) for the rows (a batch of steps rows) with
    a hidden character. The batch's text is looked at whole first: nearly always nothing is
    hidden, and one look at it all is ~2x less work than one per column of each row."""
    texts = [t for r in rows for t in (r[content_at], r[calls_at]) if t]
    if not _any_hidden(texts):
        return []
    return [(r[id_at], *got) for r in rows
            if (got := shown_row(r[content_at], r[calls_at])) is not None]


def _any_hidden(texts: list[str]) -> bool:
    """Whether a text may have a shown form of its own (a hidden character, or a `\\u` JSON
    escape that may be one): False only when none of `texts` has one (joined, the texts gain
    no character; a `\\u` across two of them only sends the caller to look at each)."""
    narrow = "".join([t for t in texts if t.isascii()])
    if "\\u" in narrow:
        return True
    raw = narrow.encode("ascii")
    if len(raw.translate(None, HIDDEN_ASCII)) != len(raw):
        return True
    wide = "".join([t for t in texts if not t.isascii()])
    return "\\u" in wide or HIDDEN.search(wide) is not None
