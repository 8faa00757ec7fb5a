"""The OpenTelemetry import's file reading: JSON Lines files spilled in blocks by two processes
(each taking the next block in turn), error lines in either process's blocks, files that
are not one request per line, and files that grow or shrink while they are read. The source
hash taken beside the import and the early worker: test_import_otel_hash.py."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, new_convention_file, request, span, text
from test_import_otel import episodes

import store
from store.importers import (
    ImportFailure,
    import_path,
    otel_groups,
    otel_lines,
    otel_read,
    otel_spill,
)


def _chat_line(i: int) -> str:
    tr = f"{i:032x}"
    return json.dumps(request([
        span(tr, f"r{i}", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent"},
             start=i * 10, end=i * 10 + 5),
        span(tr, f"c{i}", "chat m", {"gen_ai.operation.name": "chat",
                                      "gen_ai.input.messages": msgs(text("user", f"q{i}")),
                                      "gen_ai.output.messages": msgs(text("assistant", "a"))},
             parent=f"r{i}", start=i * 10 + 1, end=i * 10 + 2)]))


def _lines_file(path, n=40, bad=()):
    lines = [_chat_line(i) for i in range(n)]
    for at, text_ in bad:
        lines[at] = text_
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(tmp_path, monkeypatch, path, mode):
    monkeypatch.setenv("T2E_IMPORT_WORKER", mode)
    monkeypatch.setattr(otel_lines, "SPILL_BLOCK", 512)  # small files: many blocks
    db = store.open_db(tmp_path / f"s{mode}-{path.stem}.sqlite")
    entry = import_path(db, path)
    return [(e["key"], e["steps"]) for e in episodes(db, entry["run_id"])], entry


def test_split_file_gives_the_same_episodes_in_file_order(tmp_path, monkeypatch):
    p = _lines_file(tmp_path / "t.jsonl")
    one, e1 = _run(tmp_path, monkeypatch, p, "0")
    two, e2 = _run(tmp_path, monkeypatch, p, "1")  # both processes take blocks
    assert one == two and len(one) == 40
    assert [k for k, _ in two] == [f"{i:032x}" for i in range(40)]  # all blocks, in order
    assert e1["warnings"] == e2["warnings"]


@pytest.mark.parametrize("mode", ["0", "1"])
def test_bad_line_in_either_half_is_named_with_its_line(tmp_path, monkeypatch, mode):
    late = _lines_file(tmp_path / "late.jsonl", bad=[(33, "{not json")])
    with pytest.raises(ImportFailure, match=r"line 34: not JSON"):
        _run(tmp_path, monkeypatch, late, mode)
    # errors in two blocks: the first in the file is the one reported, whoever spilled it
    both = _lines_file(tmp_path / "both.jsonl", bad=[(5, json.dumps({"x": 1})),
                                                     (35, "{not json")])
    with pytest.raises(ImportFailure, match=r"line 6: no 'resourceSpans' list"):
        _run(tmp_path, monkeypatch, both, mode)


@pytest.mark.parametrize("mode", ["0", "1"])
def test_objects_one_after_another_are_all_read(tmp_path, monkeypatch, mode):
    # a JSON Lines file whose lines are too long to take for records is streamed, and every
    # object in it is read (only the first one was, before)
    monkeypatch.setattr(otel_lines, "MAX_LINE", 64)
    p = new_convention_file(tmp_path / "t.jsonl")
    got, entry = _run(tmp_path, monkeypatch, p, mode)
    assert entry["episodes"] == 2 and len(got[0][1]) >= 5
    pretty = tmp_path / "pretty.json"
    pretty.write_text("\n".join(json.dumps(json.loads(line), indent=2)
                                for line in p.read_text().splitlines()))
    got2, _ = _run(tmp_path, monkeypatch, pretty, mode)
    assert got2 == got


def _one(attrs=None, **fields):
    ok = {"gen_ai.operation.name": {"stringValue": "chat"},
          "gen_ai.output.messages": {"stringValue": msgs(text("assistant", "hi"))}}
    sp = {"traceId": "a" * 32, "spanId": "s1", "name": "chat m", "startTimeUnixNano": "1",
          "endTimeUnixNano": "2",
          "attributes": [{"key": k, "value": v} for k, v in {**ok, **(attrs or {})}.items()]}
    sp.update(fields)
    return {"resourceSpans": [{"scopeSpans": [{"spans": [sp]}]}]}


@pytest.mark.parametrize("text_, said", [
    (json.dumps(_one({"x": {"doubleValue": float("nan")}})),
     r"line 1: field resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.attributes\[2\]\.value"
     r"\.doubleValue: NaN"),
    (json.dumps(_one({"x": {"intValue": 10 ** 30}})), r"line 1: field .*intValue: a 31-digit"),
    (json.dumps(_one({"x": {"stringValue": "\ud800"}})), r"line 1: field .*stringValue: a lone "
                                                         r"surrogate"),
    ('{"resourceSpans": ' + "[" * 100_000 + "]" * 100_000 + "}", r"line 1: nesting too deep"),
    (json.dumps({"resourceSpans": [{"scopeSpans": "x"}]}), r"line 1, resourceSpans\[0\]: "
                                                           r"scopeSpans should be a list"),
    (json.dumps({"resourceSpans": [{"scopeSpans": [5]}]}),
     r"line 1, resourceSpans\[0\]\.scopeSpans\[0\]: expected an object with a 'spans' list"),
], ids=["nan", "int-beyond-64-bits", "lone-surrogate", "too-deep", "scopes-not-list",
        "scope-not-object"])
def test_values_the_store_cannot_hold_are_named(tmp_path, text_, said):
    # before: NaN and lone surrogates were stored (invalid JSON, or a UnicodeEncodeError),
    # the rest failed with a Python error ("cannot be imported (AttributeError...)")
    p = tmp_path / "bad.jsonl"
    p.write_text(text_ + "\n", encoding="utf-8", errors="surrogatepass")
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=said):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_numbers_beyond_64_bits_in_strings_stay_text(tmp_path):
    """A time past 64 bits is read as no time; a token count past them was an OverflowError
    binding it, then left out without a word: now refused naming the attribute, as ATIF and
    tau2 files refuse it (test_import_otel_fidelity)."""
    big = "1" + "0" * 30
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(_one({"gen_ai.usage.input_tokens": {"intValue": "7"}},
                                 startTimeUnixNano=big)) + "\n")
    db = store.open_db(tmp_path / "s.sqlite")
    entry = import_path(db, p)
    assert entry["episodes"] == 1
    assert db.conn.execute("SELECT tokens_in FROM steps WHERE tokens_in IS NOT NULL"
                           ).fetchall() == [(7,)]
    p.write_text(json.dumps(_one({"gen_ai.usage.input_tokens": {"intValue": big}})) + "\n")
    with pytest.raises(ImportFailure, match="gen_ai.usage.input_tokens: a 31-digit integer"):
        import_path(store.open_db(tmp_path / "s2.sqlite"), p)


@pytest.mark.parametrize("data", [b"", b"a", b"a\n", b"abc\ndefghijklmnop\n\nxyz", b"\n\n",
                                  b"0123456789abcdefghij\nk\n"])
def test_lines_read_in_blocks_are_the_file_lines(monkeypatch, data):
    import io
    monkeypatch.setattr(otel_read, "_BLOCK", 7)  # lines longer than a block, and across
    want = data.split(b"\n")
    if want[-1] == b"":
        want.pop()
    assert list(otel_read.read_lines(io.BytesIO(b"xx" + data), 2, 2 + len(data))) == want


@pytest.mark.parametrize("data", [b"", b"abc", b"abc\n", b"a\nbc\n\ndef", b"\n\n\n",
                                  b"x" * 200_000 + b"\nyz\n"])
def test_a_block_starts_at_the_first_line_start_at_or_after_its_offset(data):
    import io
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 10 and i + 1 < len(data)]
    fh = io.BytesIO(data)
    for at in range(0, len(data) + 2, max(1, len(data) // 50)):
        want = next((s for s in starts if s >= at), len(data))
        assert otel_read.line_start(fh, at, len(data)) == want, at


def test_tickets_are_taken_once_each_in_order_by_any_number_of_takers(tmp_path):
    a, b = otel_lines.Tickets(str(tmp_path)), otel_lines.Tickets(str(tmp_path))
    got = [a.take(), b.take(), b.take(), a.take(), b.take()]
    assert got == [0, 1, 2, 3, 4]
    a.stop()  # a failed: b takes no more (a's error is earlier than any block left)
    assert b.take() is None and a.take() is None
    a.close(), b.close()


class _EveryOther:
    """Tickets for one of two pretend processes: blocks `first`, first + 2, ... (so the two
    spills interleave block by block whatever the order they run in)."""

    def __init__(self, first):
        self.next = first

    def take(self):
        self.next += 2
        return self.next - 2

    def stop(self):
        pass


def test_blocks_spilled_in_turn_by_two_processes_give_the_file_in_order(tmp_path):
    """Each process spills every other block (with the chat histories of a trace in blocks
    the other process took): the episodes are those of the file spilled whole, in order."""
    import marshal
    lines = [json.loads(_chat_line(i)) for i in range(12)]
    # one conversation's calls across many lines: its inputs extend each other across blocks
    for i, req in enumerate(lines):
        span = req["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
        span["traceId"] = "f" * 32
        # one time for all: only the file order (seq) orders the calls
        span["startTimeUnixNano"], span["endTimeUnixNano"] = "5", "6"
        history = [text("user", f"q{j}") for j in range(i + 1)]
        for a in span["attributes"]:
            if a["key"] == "gen_ai.input.messages":
                a["value"]["stringValue"] = msgs(*history)
    p = tmp_path / "t.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    size = p.stat().st_size

    def spill(which, tickets, block):
        path = otel_spill.spill_path(str(tmp_path), "wp"[which])
        db = otel_spill.open_spill(path)
        sp = otel_spill.Spiller(db, path, which)
        with open(p, "rb") as fh:
            otel_lines.spill_blocks(sp, fh, size, tickets, block, lambda at: 1)
        return db, path

    def got(db, path, other):
        out = []
        for sim, *_ in otel_groups.episodes(db, path, other, {}):
            out.append(marshal.dumps([sim["id"], sim["messages"]]))
        return out

    whole_db, whole = spill(0, _EveryOther(0), size)  # one block, one process
    want = got(whole_db, whole, None)
    whole_db.close()
    for f in tmp_path.glob("spans-w.sqlite*"):
        f.unlink()
    w_db, w = spill(0, _EveryOther(0), 300)  # blocks 0, 2, 4 ...
    p_db, pp = spill(1, _EveryOther(1), 300)  # blocks 1, 3, 5 ...
    assert p_db.execute("SELECT count(*) FROM s").fetchone()[0] > 4  # both took blocks
    assert w_db.execute("SELECT count(*) FROM s").fetchone()[0] > 4
    p_db.close()
    assert len(want) == 13 and got(w_db, w, pp) == want


def test_lines_without_surrogate_escapes_skip_the_scan(monkeypatch):
    # the shortcut: a line with no surrogate escape is decoded by the strict decoder alone (it
    # cannot hold a lone surrogate); one with such an escape, or any failure, goes through loads
    plain = json.dumps(_one({"x": {"stringValue": "é ok"}}), ensure_ascii=False).encode()
    other = json.dumps(_one({"x": {"stringValue": "é \ud7ff"}})).encode()
    escaped = json.dumps(_one({"x": {"stringValue": "é \ud83d\ude00"}})).encode()
    bad = json.dumps(_one({"x": {"intValue": 10 ** 30}})).encode()
    calls = []
    real = otel_lines.strict_loads
    monkeypatch.setattr(otel_lines, "strict_loads", lambda t: calls.append(t) or real(t))
    assert otel_lines._decode(plain) == json.loads(plain)
    assert otel_lines._decode(other) == json.loads(other)  # \u00e9 and \ud7ff: no surrogate
    assert calls == []
    assert otel_lines._decode(escaped) == json.loads(escaped)
    assert len(calls) == 1
    with pytest.raises(ValueError, match="31-digit"):
        otel_lines._decode(bad)
    assert len(calls) == 2


def _sources(db):
    return db.conn.execute("SELECT sha256, size_bytes FROM sources ORDER BY source_id").fetchall()


def _grow_during_spill(monkeypatch, p, data):
    """Append `data` (or cut the file to `data` bytes, an int) once the importing process has
    taken the file's size, before the worker starts."""
    from store.importers import otel

    real = otel.spawn_module

    def spawn(*a, **k):
        if isinstance(data, int):
            with open(p, "r+b") as fh:
                fh.truncate(data)
        else:
            with open(p, "ab") as fh:
                fh.write(data)
        return real(*a, **k)

    monkeypatch.setattr(otel, "spawn_module", spawn)


def test_a_file_growing_during_its_import_is_stored_as_the_part_imported(tmp_path,
                                                                         monkeypatch):
    """A collector may still be appending: both processes read the size the import began
    with (the worker is told it), and the hash covers those bytes, so the grown file is new content, not a duplicate
    of the part imported (the hash used to read on to the end: the last lines could never be
    imported)."""
    import hashlib
    import os
    import time


    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    monkeypatch.setattr(otel_lines, "SPILL_BLOCK", 512)
    p = _lines_file(tmp_path / "t.jsonl")
    first = p.read_bytes()
    _grow_during_spill(monkeypatch, p, (_chat_line(40) + "\n").encode())
    real = otel_lines.spill_blocks

    def worker_first(sp, fh, size, tickets, block, first_line):
        # the worker takes every block (the last included) before this process takes one
        end = time.monotonic() + 10
        while os.fstat(tickets.fd).st_size <= size // block + 1 and time.monotonic() < end:
            time.sleep(0.01)
        return real(sp, fh, size, tickets, block, first_line)

    monkeypatch.setattr(otel_lines, "spill_blocks", worker_first)  # (this process only)
    db = store.open_db(tmp_path / "s.sqlite")
    e = import_path(db, p)
    assert e["episodes"] == 40  # not the line appended meanwhile, by either process
    assert _sources(db) == [(hashlib.sha256(first).hexdigest(), len(first))]
    monkeypatch.undo()
    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    again = import_path(db, p)  # the whole file now: new content
    assert not again["duplicate"] and again["episodes"] == 41


def test_a_file_cut_short_during_its_import_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    p = _lines_file(tmp_path / "t.jsonl")
    cut = p.read_bytes().index(b"\n", len(p.read_bytes()) // 2) + 1  # a line end
    _grow_during_spill(monkeypatch, p, cut)
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=r"^[^:]*t\.jsonl: the file shrank while it was "
                                            r"imported \(\d+ bytes when the import began, "
                                            rf"{cut} now\); nothing was written$"):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


class _InTurn:
    """Tickets for one process alone: 0, 1, 2 ..."""

    def __init__(self):
        self.next = -1

    def take(self):
        self.next += 1
        return self.next

    def stop(self):
        pass


def test_a_line_longer_than_many_blocks_is_scanned_once(tmp_path, monkeypatch):
    """Each block inside a long line starts at that line's end: found once and remembered
    (each block looked for it again: a 1 GB line took ~70 s of scanning at 2 MB blocks)."""
    long = json.loads(_chat_line(1))
    long["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(
        {"key": "note", "value": {"stringValue": "x" * 40_000}})
    p = tmp_path / "t.jsonl"
    p.write_text(_chat_line(0) + "\n" + json.dumps(long) + "\n" + _chat_line(2) + "\n")
    calls = []
    real = otel_lines.line_start
    monkeypatch.setattr(otel_lines, "line_start", lambda *a: calls.append(a[1]) or real(*a))
    path = otel_spill.spill_path(str(tmp_path), "w")
    db = otel_spill.open_spill(path)
    sp = otel_spill.Spiller(db, path)
    with open(p, "rb") as fh:
        otel_lines.spill_blocks(sp, fh, p.stat().st_size, _InTurn(), 256, lambda at: 1)
    assert sp.spans == 6  # every line, once
    assert p.stat().st_size // 256 > 150 and len(calls) < 10, len(calls)


def test_the_earliest_block_error_wins_when_both_processes_fail(tmp_path, monkeypatch):
    """This process holds the block with line 6 until the worker has failed on line 36 (a
    later block): both report an error, and the earlier line is the one named."""
    import os
    import time


    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    monkeypatch.setattr(otel_lines, "SPILL_BLOCK", 512)
    p = _lines_file(tmp_path / "t.jsonl", bad=[(5, json.dumps({"x": 1})), (35, "{not json")])
    data = p.read_bytes()
    early = (sum(len(x) + 1 for x in data.split(b"\n")[:5])) // 512  # line 6's block
    real = otel_lines.spill_blocks
    failed_here = []

    class HoldEarly:
        def __init__(self, tickets):
            self.t = tickets

        def take(self):
            k = self.t.take()
            if k == early:  # wait for the worker's failure (its stop file)
                end = time.monotonic() + 10
                while not os.path.exists(self.t.stop_path) and time.monotonic() < end:
                    time.sleep(0.01)
            return k

        def stop(self):
            self.t.stop()

    def held(sp, fh, size, tickets, block, first_line):
        try:
            return real(sp, fh, size, HoldEarly(tickets), block, first_line)
        except otel_lines.BlockFailure:
            failed_here.append(1)
            raise

    monkeypatch.setattr(otel_lines, "spill_blocks", held)  # (this process only)
    db = store.open_db(tmp_path / "s.sqlite")
    with pytest.raises(ImportFailure, match=r"line 6: no 'resourceSpans' list"):
        import_path(db, p)
    assert failed_here  # (this process failed too: the two errors were compared)
