"""Reading an OTLP/JSON file that is not one request per line (one object for the whole
file, pretty-printed, or several objects one after another) into a spill file, streamed down
to the spans: the usual export, one resourceSpans item with one scopeSpans item holding every
span of the file, is read in bounded memory (it was read whole: 413 MB RSS for a 51 MB file).
"""

from __future__ import annotations

from typing import Any, BinaryIO

from world.jsonstream import TooDeep

from .common import ImportFailure
from .jsonstream import JsonStream, JsonStreamError
from .otel_spill import Spiller, resource_service

_LIST = object()
# a streamed file's spans are handed to the spill in requests of at most this many spans or
# characters of JSON (their Python objects live until the spill has them): memory stays the
# same whatever the size of one scope's list of spans
STREAM_SPANS = 1000
STREAM_CHARS = 1 << 20


class _Irregular(Exception):
    """A resourceSpans item the stream cannot follow key by key: a key given twice where the
    value that counts is the last (a decoded object's rule), or a resource after its spans
    naming another service than they were spilled with. The item is read again, whole."""


def spill_stream(sp: Spiller, fh: BinaryIO) -> None:
    """Spill a file that is not one request per line: objects one after the other (one for
    the whole file, most often), each streamed down to its spans (resourceSpans[i] -> its
    resource, scopeSpans[j] -> its scope, spans[k] one at a time), so that one scope holding
    every span of the file is read in bounded memory (_Streamed)."""
    fh.seek(0)
    reader = _Streamed(sp, JsonStream(fh))
    try:
        while not reader.st.at_end():
            reader.request()
    except TooDeep as exc:  # named as the JSON Lines layout names its line, with the field
        raise ImportFailure(f"{reader.where}, {_field_name(reader.field)}: {exc}") from None
    except JsonStreamError as exc:
        raise ImportFailure(str(exc)) from None
    finally:
        sp.close()


def _field_name(field: tuple) -> str:
    """The place being read: (key,) a top-level key; (i, [j | key, [k | key]]) in
    resourceSpans[i], its scopeSpans[j] and that scope's spans[k], or a key of theirs."""
    if field and type(field[0]) is str:
        return f"field {field[0]}"
    out = f"resourceSpans[{field[0]}]"
    for level, part in zip((".scopeSpans[{}]", ".spans[{}]"), field[1:]):
        out += f".{part}" if type(part) is str else level.format(part)
    return out


class _Streamed:
    """Reads a streamed file's requests (objects) into the spill, one span at a time.

    Every request, item and scope is handed to the spill (Spiller.add) with the same resource
    and scope as the JSON Lines layout hands it, so the rows and the errors are that layout's
    (named `object #N, resourceSpans[i].scopeSpans[j].spans[k]` where it says `line N, ...`).
    A key given twice counts once, the last, as in a decoded object; a resource after its
    spans still names their service. Both are rare: the item is then read again whole
    (_Irregular), except where the spans already spilled stand (a later resource naming the
    same service, or none). Faults are found in file order: a span of the wrong shape is
    named even where the JSON after it, in the same item, is malformed (read whole, the item's
    malformed JSON was named first)."""

    def __init__(self, sp: Spiller, st: JsonStream):
        self.sp, self.st = sp, st
        self.n = 0
        self.where = ""
        self.field: tuple = ()  # what is being read, for a nesting error (_field_name)

    def request(self) -> None:
        """The next top-level object. As a decoded object's (the JSON Lines layout's)
        resourceSpans: the last of the key's values counts, and one that is no list is
        refused in the same words."""
        self.n += 1
        self.where = where = f"object #{self.n}"
        st, sp = self.st, self.sp
        keys: list[str] = []
        mark: tuple | None = None
        other: Any = _LIST  # the last resourceSpans value when it is no list
        for key in st.iter_object_keys():
            keys.append(key)
            self.field = (key,)
            if key != "resourceSpans":
                st.read_value()
                continue
            if mark is not None:  # the key again: what the first one spilled is undone
                sp.rollback(mark)
            mark, other = sp.mark(), _LIST
            if st.peek() == "[":
                for i in st.iter_items():
                    self.item(i)
            else:
                other = st.read_value()
        if mark is None or other is not _LIST:  # refused by add, in its words
            sp.add(where, {"resourceSpans": other} if mark else dict.fromkeys(keys))

    def item(self, i: int) -> None:
        """resourceSpans[i] (the cursor at it)."""
        st, sp = self.st, self.sp
        self.field = (i,)
        if st.peek() != "{":  # refused by add (null, a number...), in its words
            sp.add(self.where, {"resourceSpans": [st.read_value()]}, (i, 0, 0))
            return
        back, undo = st.mark(), sp.mark()
        try:
            self._item_keys(i)
        except _Irregular:
            sp.rollback(undo)
            st.rewind(back)
            self.field = (i,)
            sp.add(self.where, {"resourceSpans": [st.read_value()]}, (i, 0, 0))

    def _item_keys(self, i: int) -> None:
        st, where = self.st, self.where
        res: Any = None  # the resource read last
        service: Any = _LIST  # the service the spans were spilled with, once they were
        problem: str | None = None  # the resource's, when the spans came after it (its text:
        # the exception itself, kept in this frame, would make a cycle with its traceback)
        scopes: Any = None  # a scopes value that is no list
        seen = False  # a scopes key (scopeSpans, or the older instrumentationLibrarySpans)
        for key in st.iter_object_keys():
            self.field = (i, key)
            if key == "resource":
                res = st.read_value()
                if seen:  # after the spans (rare): they stand if it names the same service
                    try:
                        if problem is not None or resource_service(res, where, i) != service:
                            raise _Irregular
                    except ImportFailure:
                        raise _Irregular from None  # (read whole: refused if it is the last)
            elif key in ("scopeSpans", "instrumentationLibrarySpans"):
                if seen:  # which one counts depends on both: read whole
                    raise _Irregular
                seen = True
                try:
                    service = resource_service(res, where, i)
                except ImportFailure as exc:
                    # refused at the item's end, unless a resource after the spans replaces
                    # it; meanwhile the spans are only read (bounded), as a whole read would
                    problem = str(exc)
                    self._skip(3)
                    continue
                if st.peek() != "[":
                    scopes = st.read_value()  # (refused at the end unless false: none)
                    continue
                for j in st.iter_items():
                    self._scope(i, j, res)
            else:
                st.read_value()
        if problem is not None:
            raise ImportFailure(problem)
        if not seen:
            resource_service(res, where, i)  # (a resource of the wrong shape is refused)
        elif scopes:  # refused by add, in its words
            self.sp.add(where, {"resourceSpans": [{"resource": res, "scopeSpans": scopes}]},
                        (i, 0, 0))

    def _scope(self, i: int, j: int, res: Any) -> None:
        """scopeSpans[j] of resourceSpans[i] (the cursor at it): its spans handed to the
        spill in bounded requests."""
        st, sp, where = self.st, self.sp, self.where
        self.field = (i, j)
        if st.peek() != "{":  # null is no scope; anything else is refused by add
            ss = st.read_value()
            if ss is not None:
                sp.add(where, {"resourceSpans": [{"resource": res, "scopeSpans": [ss]}]},
                       (i, j, 0))
            return
        scope: dict = {}  # the scope read before the spans, carried with them (the spill
        # reads nothing of a scope: one after its spans changes nothing and is not re-read)
        seen = False
        bad: Any = None  # a spans value that is no list
        for key in st.iter_object_keys():
            self.field = (i, j, key)
            if key != "spans":
                value = st.read_value()
                if key == "scope":
                    scope = {"scope": value}
                continue
            if seen:  # the last one counts: read whole
                raise _Irregular
            seen = True
            if st.peek() != "[":
                bad = st.read_value()  # (refused at the scope's end unless null: none)
                continue
            batch: list = []
            k0, size0 = 0, st.chars_read
            for k in st.iter_items():
                self.field = (i, j, k)
                batch.append(st.read_value())
                if len(batch) >= STREAM_SPANS or st.chars_read - size0 >= STREAM_CHARS:
                    sp.add(where, {"resourceSpans": [{"resource": res, "scopeSpans": [
                        {**scope, "spans": batch}]}]}, (i, j, k0))
                    batch, k0, size0 = [], k + 1, st.chars_read
            if batch:
                sp.add(where, {"resourceSpans": [{"resource": res, "scopeSpans": [
                    {**scope, "spans": batch}]}]}, (i, j, k0))
        if bad is not None:
            sp.add(where, {"resourceSpans": [{"resource": res, "scopeSpans": [
                {**scope, "spans": bad}]}]}, (i, j, 0))

    def _skip(self, levels: int) -> None:
        """Read the value at the cursor without keeping it: its first `levels` levels of
        containers walked item by item (a scopes list, its scopes, their spans lists)."""
        st = self.st
        c = st.peek()
        if levels and c == "[":
            for _ in st.iter_items():
                self._skip(levels - 1)
        elif levels and c == "{":
            for _ in st.iter_object_keys():
                self._skip(levels - 1)
        else:
            st.read_value()
