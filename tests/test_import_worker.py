"""The tau2 parse worker process: started before the file is hashed, told its ids later,
stopped whenever the import doesn't need it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_store_data import make_results, write_json

import store
import store.importers as importers
from store.exporters import export_dict
from store.importers import import_path, import_paths


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


@pytest.fixture
def workers(monkeypatch):
    """Every parse worker process started (Popen objects), and the count when hashing began."""
    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    started: list[subprocess.Popen] = []
    at_hash: list[int] = []
    real_popen, real_hash = subprocess.Popen, importers.content_hash

    def popen(args, *a, **kw):
        proc = real_popen(args, *a, **kw)
        if "store.importers.worker" in args:
            started.append(proc)
        return proc

    def content_hash(p):
        at_hash.append(len(started))
        return real_hash(p)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(importers, "content_hash", content_hash)
    return started, at_hash


def test_worker_starts_before_the_hash_and_does_the_import(db, tmp_path, workers):
    started, at_hash = workers
    src = make_results(30)
    e = import_path(db, write_json(tmp_path / "w.json", src))
    # one worker, already running while the file was hashed, and it parsed the file
    assert at_hash == [1] and len(started) == 1
    assert started[0].returncode is not None  # reaped (killed once done: it only exits)
    assert (e["episodes"], e["messages"], e["duplicate"]) == (30, 180, False)
    assert export_dict(db, e["run_id"]) == src


def test_duplicate_stops_the_early_worker(db, tmp_path, workers):
    started, _ = workers
    p = write_json(tmp_path / "w.json", make_results(3))
    first = import_path(db, p)
    second = import_path(db, p)
    assert second["duplicate"] and second["run_id"] == first["run_id"]
    assert len(started) == 2
    # the second one was never told its ids: stopped and reaped, not left running
    assert all(proc.returncode is not None for proc in started)


def test_worker_dead_before_it_is_told_rejects_the_file(db, tmp_path, workers, monkeypatch):
    started, _ = workers
    real_hash = importers.content_hash

    def kill_then_hash(p):
        started[-1].kill()
        started[-1].wait()
        return real_hash(p)

    monkeypatch.setattr(importers, "content_hash", kill_then_hash)
    res = import_paths(db, [str(write_json(tmp_path / "w.json", make_results(3)))])
    (rej,) = res["rejected"]
    assert "the import worker process ended unexpectedly" in rej["error"]
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert db.conn.execute("SELECT count(*) FROM steps").fetchone()[0] == 0


def test_worker_without_its_ids_exits_quietly(tmp_path):
    p = write_json(tmp_path / "w.json", make_results(2))
    out = subprocess.run([sys.executable, "-m", "store.importers.worker", str(p), "w.json"],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, b"")


def test_small_file_starts_no_worker(db, tmp_path, workers, monkeypatch):
    started, at_hash = workers
    monkeypatch.delenv("T2E_IMPORT_WORKER")  # the default: only files >= 8 MB
    e = import_path(db, write_json(tmp_path / "w.json", make_results(3)))
    assert e["episodes"] == 3 and started == [] and at_hash == [0]


def test_worker_ignores_a_store_package_in_the_current_directory(db, tmp_path, monkeypatch):
    """`python -m` puts the current directory first on the module path: the worker must run
    t2e's code, not a `store/` folder wherever the command was started."""
    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    fake = tmp_path / "cwd" / "store" / "importers"
    fake.mkdir(parents=True)
    for d in (fake.parent, fake):
        (d / "__init__.py").write_text("")
    (fake / "worker.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.chdir(tmp_path / "cwd")
    res = import_paths(db, [str(write_json(tmp_path / "w.json", make_results(3)))])
    assert res["rejected"] == [] and res["imported"][0]["episodes"] == 3


def test_outbox_is_bounded_by_bytes_not_batches():
    """The worker's queue of pickled batches holds up to its size in bytes: a producer waits
    for the writer past it, a blob bigger than the bound still passes alone, and a stopped
    writer releases a waiting producer."""
    import threading

    from store.importers.worker import Outbox

    box = Outbox(10)
    assert box.put(b"a" * 6)
    done = threading.Event()
    result: list[bool] = []

    def produce():
        result.append(box.put(b"b" * 6))  # 12 bytes > 10: waits for the first to be written
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    assert not done.wait(0.3)  # still waiting: the bound holds
    first = box.take()
    assert first == b"a" * 6 and not done.is_set()  # taken is not written: still counted
    box.written(first)
    assert done.wait(10) and result == [True]
    t.join()
    assert box.take() == b"b" * 6 and box.written(b"b" * 6) is True  # nothing queued after it
    assert box.put(b"c" * 50)  # bigger than the bound, but alone: passes
    box.stop()
    assert box.put(b"d") is False  # the writer is gone: the producer is told


def test_outbox_stop_releases_a_waiting_producer():
    import threading

    from store.importers.worker import Outbox

    box = Outbox(4)
    assert box.put(b"xxxx")
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(box.put(b"yy")))
    t.start()
    t.join(0.3)
    assert t.is_alive()  # waiting for room
    box.stop()
    t.join(10)
    assert not t.is_alive() and result == [False]
