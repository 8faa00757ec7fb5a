"""Writers coexist on one store (issue 11, concurrent use), at test sizes; bench/concurrent.py
runs the full sizes. TUI-equivalent reads, a `t2e run` at concurrency 8, an import and a
gate/scoreboard loop at once: zero errors, zero lost rows. Conflicts are clear messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from test_store_data import make_results, write_json

import store
from store import locks
from t2e_tui import data_access as da

CLI = [sys.executable, "-m", "t2e_tui.cli"]


def t2e(store_path, *args, timeout=240):
    return subprocess.run([*CLI, "--store", str(store_path), *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_run_import_gate_and_reads_at_once(tmp_path):
    st = tmp_path / "s.sqlite"
    # two runs to gate against each other while everything else happens
    for seed in ("1", "2"):
        r = t2e(st, "run", "--tasks", "dev", "--num-tasks", "6", "--seed", seed, "--json")
        assert r.returncode == 0, r.stderr
    base, cand = [r["run_id"] for r in json.loads(t2e(st, "runs", "--json").stdout)]
    big = write_json(tmp_path / "big.json", make_results(1500))  # holds the write lock a while

    procs = {
        "run": subprocess.Popen([*CLI, "--store", str(st), "run", "--tasks", "all",
                                 "--num-tasks", "40", "--trials", "2", "--concurrency", "8",
                                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True),
        "import": subprocess.Popen([*CLI, "--store", str(st), "import", str(big), "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
    }
    errors: list[str] = []
    stop = threading.Event()
    gates = [0]

    def gate_loop():
        while not stop.is_set():
            for args in (["gate", base, cand, "--json"], ["scoreboard", "--json"]):
                r = t2e(st, *args)
                if r.returncode not in (0, 1, 3):
                    errors.append(f"{args[0]}: {r.returncode} {r.stderr.strip()}")
                elif args[0] == "gate":
                    gates[0] += 1

    def read_loop():  # what the app's workers do
        conn = da.open_conn(str(st))
        try:
            while not stop.is_set():
                runs = da.list_runs(conn)
                rows = da.task_rows(conn, base, cand)
                if rows:
                    ep = da.find_episode(conn, base, rows[0].task_id, None)
                    if ep is not None:
                        da.load_episode(conn, ep)
                da.search(conn, "cancel", limit=20)
                assert runs
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"reader: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=gate_loop), threading.Thread(target=read_loop)]
    for t in threads:
        t.start()
    outs = {k: p.communicate(timeout=300) for k, p in procs.items()}
    stop.set()
    for t in threads:
        t.join(timeout=120)
    for k, p in procs.items():
        assert p.returncode == 0, (k, outs[k][1])
    assert errors == []
    assert gates[0] >= 1
    run = json.loads(outs["run"][0])
    imported = json.loads(outs["import"][0])["imported"][0]
    db = store.open_db(st)
    count = lambda sql, *a: db.conn.execute(sql, a).fetchone()[0]  # noqa: E731
    assert count("SELECT count(*) FROM episodes WHERE run_id = ? AND status = 'done'",
                 run["run_id"]) == 80
    assert count("SELECT count(*) FROM episodes WHERE run_id = ?", imported["run_id"]) == 1500
    assert count("SELECT count(*) FROM steps JOIN episodes USING (episode_id) "
                 "WHERE run_id = ?", imported["run_id"]) == 1500 * 6
    # every gate answered; identical verdicts share a row (#10: idempotent gate rows)
    assert 1 <= count("SELECT count(*) FROM gate_decisions") <= gates[0]
    assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_file_being_imported_elsewhere_is_a_clear_message(tmp_path):
    st = tmp_path / "s.sqlite"
    f = write_json(tmp_path / "r.json", make_results(2))
    store.open_db(st).conn.close()
    import hashlib
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    held = locks.Lock.take(str(st), f"import-{sha[:32]}")  # as another importer would
    try:
        r = t2e(st, "import", str(f))
    finally:
        held.release()
    assert r.returncode == 2
    assert f"this file is being imported by another process (pid {os.getpid()})" in r.stderr
    # two real imports of one file at once: one imports, the other says duplicate or busy
    ps = [subprocess.Popen([*CLI, "--store", str(st), "import", str(f), "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in ps]
    for p, (out, err) in zip(ps, outs):
        assert p.returncode in (0, 2), err
        assert "UNIQUE" not in err and "internal" not in err, err
    assert store.open_db(st).conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_resuming_a_live_run_names_the_pid(tmp_path):
    st = tmp_path / "s.sqlite"
    r = t2e(st, "run", "--tasks", "dev", "--num-tasks", "2", "--json")
    rid = json.loads(r.stdout)["run_id"]
    held = locks.Lock.take(str(st), f"run-{rid}")  # the run is live in this process
    try:
        t0 = time.monotonic()
        r = t2e(st, "run", "--resume", rid)
        assert time.monotonic() - t0 < 60
    finally:
        held.release()
    assert r.returncode == 2
    assert f"run {rid} is being played or resumed by pid {os.getpid()}" in r.stderr
    assert t2e(st, "run", "--resume", rid).returncode == 0  # free again
