"""Readable JSON for big documents, at the speed of the C encoder (issue 18).

`json.dumps(doc, indent=2)` falls back to the pure-Python encoder (CPython 3.11's C encoder
does not indent): a 25,000-task `t2e gate --json` document (14 MB) took seconds to print. Here
only the two outer levels are indented, one member per line, and every deeper value is one
compact line from the C encoder (`", "` and `": "` separators): a gate's transitions come out
one task per line. The output is ordinary JSON; parse it rather than match its layout.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Callable

try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # another Python: the stdlib encoder, compact
    _c_make_encoder = None


class Encoded:
    """A value already encoded as one compact line (what `compact_encoder` gives): `dumps`
    writes its text as it is. Only at or above `dumps`' depth (a deeper one would reach the C
    encoder, which does not know it)."""
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def compact_encoder(*, default: Callable[[Any], Any] | None = str,
                    ensure_ascii: bool = True) -> Callable[[Any], str]:
    """The one-line encoder `dumps` uses below its depth (C encoder, `", "` and `": "`)."""
    string = encode_basestring_ascii if ensure_ascii else encode_basestring
    if _c_make_encoder is not None:
        enc = _c_make_encoder({}, default, string, None, ": ", ", ", False, False, True)

        def compact(o: Any) -> str:
            return "".join(enc(o, 0))
    else:  # pragma: no cover - CPython always has _json
        def compact(o: Any) -> str:
            return json.dumps(o, default=default, ensure_ascii=ensure_ascii,
                              separators=(", ", ": "))
    return compact


def dumps(obj: Any, *, default: Callable[[Any], Any] | None = str, ensure_ascii: bool = True,
          indent: int = 2, depth: int = 2) -> str:
    """JSON text of `obj` with containers above `depth` indented by `indent` spaces and
    everything below on one line each. Same values as json.dumps(obj, default=default,
    ensure_ascii=ensure_ascii) (non-string keys are converted the same way); an `Encoded`
    value is written as it is."""
    parts: list[str] = []
    dump(obj, parts.append, default=default, ensure_ascii=ensure_ascii, indent=indent,
         depth=depth, chunk=0)
    return "".join(parts)


def dump(obj: Any, write: Callable[[str], Any], *, default: Callable[[Any], Any] | None = str,
         ensure_ascii: bool = True, indent: int = 2, depth: int = 2, chunk: int = 1 << 16
         ) -> None:
    """`dumps(obj)` handed to `write` in pieces of about `chunk` characters (0: as made), so
    a 10 MB document is never one string: each copy of it on the way out (the safe stream,
    the encoder) would fault in fresh pages, a fifth of `t2e gate --json`'s time."""
    string = encode_basestring_ascii if ensure_ascii else encode_basestring
    compact = compact_encoder(default=default, ensure_ascii=ensure_ascii)

    def key(k: Any) -> str:
        if isinstance(k, str):
            return string(k)
        if k is True or k is False or k is None:
            return string(json.dumps(k))
        if isinstance(k, (int, float)):
            return string(compact(k))
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")

    buf: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        if not chunk:
            write(text)
            return
        buf.append(text)
        size += len(text)
        if size >= chunk:
            write("".join(buf))
            buf.clear()
            size = 0

    def walk(o: Any, level: int) -> None:
        if type(o) is Encoded:
            put(o.text)
            return
        if level >= depth or not o or not isinstance(o, (dict, list, tuple)):
            put(string(o) if isinstance(o, str) else compact(o))
            return
        pad = "\n" + " " * (indent * (level + 1))
        if isinstance(o, dict):
            put("{")
            sep = pad
            for k, v in o.items():
                put(sep + key(k) + ": ")
                walk(v, level + 1)
                sep = "," + pad
            put("\n" + " " * (indent * level) + "}")
            return
        if level + 1 >= depth and all(isinstance(v, str) for v in o):
            put("[" + pad + ("," + pad).join(map(string, o))
                + "\n" + " " * (indent * level) + "]")
            return
        put("[")
        sep = pad
        for v in o:
            put(sep)
            walk(v, level + 1)
            sep = "," + pad
        put("\n" + " " * (indent * level) + "]")

    walk(obj, 0)
    if buf:
        write("".join(buf))
