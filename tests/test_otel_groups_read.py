"""The spill's read-back (otel_groups._groups) reads an episode's span records with one pread
when they lie in one stretch of the record file, else one by one: the episodes are the same
either way, in the same order, and the usual file (a request a conversation) costs a read an
episode."""

from __future__ import annotations

import os

from otel_fixture import request, spill_of
from test_import_otel_history import _chats

from store.importers import otel_groups


def _episodes(tmp_path, lines: list[dict], monkeypatch, one_read: int) -> tuple[list, int]:
    """The episodes _groups reads back from a spill of `lines`, and the preads it made."""
    sp, path = spill_of(tmp_path, lines)
    reads = []
    pread = os.pread

    def spy(fd, n, off):
        reads.append(n)
        return pread(fd, n, off)

    with monkeypatch.context() as m:
        m.setattr(otel_groups, "ONE_READ", one_read)
        m.setattr(otel_groups.os, "pread", spy)
        got = list(otel_groups._groups(sp.db, path, None))
    return got, len(reads)


def test_records_read_at_once_or_one_by_one_are_the_same(tmp_path, monkeypatch):
    """Three conversations: one in a request of its own (one stretch; its spans written
    last first, so time order is not file order), two whose spans alternate over requests
    (each episode's records apart, with the other's between)."""
    a, b, c = (_chats(t * 32, 4, conv=f"c{t}", t0=i * 100) for i, t in enumerate("abc"))
    lines = [request(a[::-1])] + [request([b[i], c[i]]) for i in range(len(b))]
    once, n_once = _episodes(tmp_path, lines, monkeypatch, otel_groups.ONE_READ)
    each, n_each = _episodes(tmp_path, lines, monkeypatch, 0)
    assert [k for k, *_ in once] == ["ca", "cb", "cc"]
    assert once == each
    assert [sp[6] for sp in once[0][2]] == [sp["spanId"] for sp in a]  # (time order)
    assert n_each == len(a) + len(b) + len(c)
    assert n_once < n_each  # (conversation a at once; b and c: within twice their bytes)


def test_an_episode_far_apart_is_read_span_by_span(tmp_path, monkeypatch):
    """Records spread over more than twice their bytes (another conversation's in between)
    are read one by one: no read of the bytes between."""
    a, b = _chats("a" * 32, 2, conv="ca"), _chats("b" * 32, 12, conv="cb", t0=100)
    lines = [request(a[:1]), request(b), request(a[1:])]
    got, n = _episodes(tmp_path, lines, monkeypatch, otel_groups.ONE_READ)
    assert [k for k, *_ in got] == ["ca", "cb"]
    assert n == len(a) + 1  # a's span by span, b's at once
