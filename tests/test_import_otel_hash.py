"""The OpenTelemetry import's source hash and early worker: the worker started before the
hash; a file of a size no source has hashed beside its import (BackgroundHash, reading only
while the importer waits or once the hash is needed), then awaited before the source row, so
content stored meanwhile is a duplicate and content another process is importing is refused
before any row; a worker not used is stopped and its files removed. The file's reading in
blocks: test_import_otel_split.py."""

from __future__ import annotations

import pytest
from test_import_otel_split import _lines_file, _run, _sources

import store
from store.importers import ImportFailure, import_path
from store.importers.background_hash import BackgroundHash


def test_a_file_no_source_can_be_is_hashed_beside_its_import(tmp_path, monkeypatch):
    """The worker starts first; a file of a size no source has cannot be in the store, so it
    is hashed by a low-priority thread while it is imported (not before), and the source
    keeps the file's sha256. A second file of a size the store has is hashed first, as
    before (a re-import is then told at once)."""
    import hashlib

    from store import importers
    from store.importers import otel

    events = []
    real_hash, real_init = importers.content_hash, otel._Worker.__init__
    real_bg = BackgroundHash.__init__
    monkeypatch.setattr(importers, "content_hash",
                        lambda p: events.append("hash") or real_hash(p))
    monkeypatch.setattr(BackgroundHash, "__init__",
                        lambda self, *a: events.append("hash beside") or real_bg(self, *a))

    def init(self, *a, **k):
        events.append(("worker", k.get("early", False)))
        real_init(self, *a, **k)

    monkeypatch.setattr(otel._Worker, "__init__", init)
    p = _lines_file(tmp_path / "t.jsonl")
    got, entry = _run(tmp_path, monkeypatch, p, "1")
    assert events == [("worker", True), "hash beside"]  # one worker, started first
    assert entry["episodes"] == 40 and [k for k, _ in got] == [f"{i:032x}" for i in range(40)]
    db = store.open_db(tmp_path / "s1-t.sqlite")
    assert _sources(db) == [(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)]
    # the same bytes again: a source of that size exists, so hashed first, and a duplicate
    events.clear()
    again = import_path(db, p)
    assert again["duplicate"] and again["run_id"] == entry["run_id"]
    assert events == [("worker", True), "hash"]
    # another file of that very size (one byte changed): hashed first, imported
    other = tmp_path / "o.jsonl"
    other.write_bytes(p.read_bytes().replace(b"q7", b"x7", 1))
    assert other.stat().st_size == p.stat().st_size
    assert not import_path(db, other)["duplicate"]
    assert len(_sources(db)) == 2


def test_content_stored_while_it_was_hashed_is_a_duplicate(tmp_path, monkeypatch):
    """Another process stores the same content after this import began (its size was not
    in the store then): the hash, awaited before the source row, finds it; the import is
    rolled back and reported as the duplicate it is."""
    from store import importers

    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    p = _lines_file(tmp_path / "t.jsonl")
    db = store.open_db(tmp_path / "s.sqlite")
    first = import_path(db, p)
    runs = db.conn.execute("SELECT count(*) FROM runs").fetchone()
    steps = db.conn.execute("SELECT count(*) FROM steps").fetchone()
    monkeypatch.setattr(importers, "_size_seen", lambda conn, size: False)  # as at its start
    again = import_path(db, p)
    assert again["duplicate"] and again["run_id"] == first["run_id"]
    assert again["episodes"] == first["episodes"] == 40
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == runs
    assert db.conn.execute("SELECT count(*) FROM steps").fetchone() == steps


def test_content_another_process_is_importing_is_refused_before_any_row(tmp_path, monkeypatch):
    from store import locks
    from store.importers import content_lock_name

    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    import hashlib
    p = _lines_file(tmp_path / "t.jsonl")
    db = store.open_db(tmp_path / "s.sqlite")
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    with locks.hold(tmp_path / "s.sqlite", content_lock_name(sha)):
        with pytest.raises(ImportFailure, match=r"^[^:]*t\.jsonl: this file is being imported "
                                                r"by another process \(pid \d+\); it will be in "
                                                r"the store when that import ends$"):
            import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert db.conn.execute("SELECT count(*) FROM sources").fetchone() == (0,)
    assert import_path(db, p)["episodes"] == 40  # once the other is done


def test_a_file_that_cannot_be_read_by_the_hash_is_refused(tmp_path, monkeypatch):

    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    p = _lines_file(tmp_path / "t.jsonl")
    db = store.open_db(tmp_path / "s.sqlite")

    def broken(self):
        self.out = PermissionError(13, "Permission denied")

    monkeypatch.setattr(BackgroundHash, "_run", broken)
    with pytest.raises(ImportFailure, match=r"^[^:]*t\.jsonl: cannot read \(Permission denied\)$"):
        import_path(db, p)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_an_early_worker_not_used_is_stopped_and_its_files_removed(tmp_path, monkeypatch):
    """A duplicate import (or one refused before the import proper) stops the worker started
    for it and leaves no spill files behind."""
    import tempfile

    from store.importers import otel

    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    workers = []
    real_init = otel._Worker.__init__

    def init(self, *a, **k):
        real_init(self, *a, **k)
        workers.append(self)

    monkeypatch.setattr(otel._Worker, "__init__", init)
    p = _lines_file(tmp_path / "t.jsonl")
    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    db = store.open_db(tmp_path / "s.sqlite")
    first = import_path(db, p)
    again = import_path(db, p)
    assert again["duplicate"] and again["run_id"] == first["run_id"]
    assert len(workers) == 2 and all(w.proc.poll() is not None for w in workers)
    assert list(spill.glob("t2e-otel-*")) == []
    # a bad line in the worker's part is still named, and its files go too
    bad = _lines_file(tmp_path / "bad.jsonl", bad=[(2, "{not json")])
    with pytest.raises(ImportFailure, match=r"line 3: not JSON"):
        import_path(db, bad)
    assert list(spill.glob("t2e-otel-*")) == [] and len(workers) == 3


def test_a_store_folder_where_t2e_runs_is_not_the_workers_code(tmp_path, monkeypatch):
    here = tmp_path / "cwd"
    (here / "store" / "importers").mkdir(parents=True)
    for init in ("store/__init__.py", "store/importers/__init__.py"):
        (here / init).write_text("")
    (here / "store/importers/otel_worker.py").write_text("raise SystemExit(3)\n")
    p = _lines_file(tmp_path / "t.jsonl")
    monkeypatch.chdir(here)
    got, entry = _run(tmp_path, monkeypatch, p, "1")
    assert entry["episodes"] == 40


def _until(cond, seconds=10.0):
    import time
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_the_import_hashes_only_while_it_waits_or_once_it_needs_the_hash(tmp_path):
    """BackgroundHash reads nothing until the importer waits for its worker (waiting()),
    the worker says it has built everything (done) or the hash is asked for."""
    import hashlib
    import time


    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * (3 << 20) + b"y" * 1000)  # (the bytes past the import's size: not)
    want = (hashlib.sha256(b"x" * (3 << 20)).hexdigest(), 3 << 20)
    h = BackgroundHash(p, str(p), 3 << 20)
    time.sleep(0.2)
    assert h.out is None  # not a byte hashed: the importer never waited
    with h.waiting():
        _until(lambda: h.out is not None)  # while it waits, on to the end
    assert h.result() == want
    h.close()
    built = []
    h = BackgroundHash(p, str(p), 3 << 20, lambda: bool(built))
    time.sleep(0.2)
    assert h.out is None
    built.append(1)  # the worker has built every episode
    _until(lambda: h.out is not None)
    assert h.result() == want
    h.close()
    h = BackgroundHash(p, str(p), 3 << 20)
    assert h.result() == want  # asked for: hashed then
    h.close()
    h = BackgroundHash(p, str(p), 3 << 20)
    h.close()  # the import failed first: the thread ends, nothing read
    assert h.out is None and not h.thread.is_alive()
