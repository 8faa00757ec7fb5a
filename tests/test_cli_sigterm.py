"""SIGTERM ends a command as Ctrl-C does (session 15 review, M1): its cleanup runs (temporary
files, worker processes, the open transaction) and it exits 143. An OpenTelemetry import
terminated so (CI cancelling a job) left its spill folder (/tmp/t2e-otel-*, 73 MB for a
119 MB file) behind; SIGINT removed it.

The import is held, not raced: its worker process is kept from starting (a sitecustomize on
the worker's module path that waits, in `python -P` processes only: the worker's), so the
import waits on it for as long as the test likes, its spill folder made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from otel_fixture import msgs, request, span, text

import store
from store.importers.common import WORKER_MIN_BYTES

ROOT = Path(__file__).resolve().parents[1]
HOLD = """\
import os, sys, time
if sys.flags.safe_path and os.environ.get("T2E_TEST_HOLD_WORKER"):
    with open(os.environ["T2E_TEST_HOLD_WORKER"], "w") as fh:
        fh.write(str(os.getpid()))
    while True:
        time.sleep(1)
"""


def _big_otlp(path: Path) -> None:
    """JSON Lines of one conversation each, past the size read by two processes."""
    pad = "x" * 1500
    with open(path, "w") as fh:
        n = 0
        while fh.tell() < WORKER_MIN_BYTES + (1 << 20):
            tr, root = f"{n + 1:032x}", f"{n + 1:016x}"
            chat = {"gen_ai.operation.name": "chat",
                    "gen_ai.input.messages": msgs(text("user", f"question {n} {pad}")),
                    "gen_ai.output.messages": msgs(text("assistant", f"answer {n}"))}
            fh.write(json.dumps(request([
                span(tr, root, "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                                    "gen_ai.conversation.id": f"c{n}"}),
                span(tr, f"{n + 1:015x}f", "chat m", chat, parent=root)])) + "\n")
            n += 1


def _wait(cond, what: str, proc: subprocess.Popen, err: Path, bound: float = 120.0) -> None:
    end = time.monotonic() + bound
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"the import ended (exit {proc.returncode}) before {what}: "
                        f"{err.read_text()}")
        if time.monotonic() > end:
            pytest.fail(f"no {what} after {bound:.0f} s: {err.read_text()}")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_sigterm_during_an_otel_import_removes_its_spill_folder(tmp_path):
    data, tmp, hold = tmp_path / "big.jsonl", tmp_path / "tmp", tmp_path / "hold"
    tmp.mkdir()
    hold.mkdir()
    (hold / "sitecustomize.py").write_text(HOLD)
    _big_otlp(data)
    worker_pid = tmp_path / "worker.pid"
    env = dict(os.environ, TMPDIR=str(tmp), T2E_TEST_HOLD_WORKER=str(worker_pid),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(hold)]))
    st, err = tmp_path / "s.sqlite", tmp_path / "stderr.txt"
    with open(err, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "t2e_tui.cli", "--store", str(st),
                                 "import", str(data)], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=fh)
    pid = None
    try:
        spills = lambda: list(tmp.glob("t2e-otel-*"))  # noqa: E731
        _wait(lambda: worker_pid.exists() and worker_pid.read_text(), "worker started", proc,
              err)
        pid = int(worker_pid.read_text())
        _wait(spills, "spill folder", proc, err)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 60 s after SIGTERM: {err.read_text()}")
        said = err.read_text()
        assert proc.returncode == 143, said
        assert said.strip().splitlines()[-1] == "terminated", said
        assert spills() == [], said                    # was left behind
        end = time.monotonic() + 30   # (reaped by the import before it exits: no waiting)
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        assert not _alive(pid), "the import's worker process outlived it"
        conn = store.connect(st)
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0  # nothing half-in
        conn.close()
    finally:
        for p in ([proc.pid] if proc.poll() is None else []) + ([pid] if pid else []):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
