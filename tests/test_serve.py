"""`t2e serve` (#14): textual-serve on loopback; a public address is refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

from click.testing import CliRunner

from store import open_db
from t2e_tui.cli.main import cli
from t2e_tui.cli.serve import app_command, is_loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_and_answers_on_loopback(tmp_path):
    store = tmp_path / "s.sqlite"
    open_db(store).close()  # (a missing store is refused: test_cli_store_path)
    port = _free_port()
    env = {**os.environ, "T2E_STORE": str(store)}
    proc = subprocess.Popen([sys.executable, "-m", "t2e_tui.cli", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        body = None
        while body is None:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "t2e serve did not answer in 30 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    body = r.read().decode()
            except OSError:
                time.sleep(0.1)
        assert "xterm" in body and f"ws://127.0.0.1:{port}/ws" in body
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_refuses_a_public_address(tmp_path):
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "serve", "--host",
                                 "0.0.0.0"])
    assert r.exit_code == 2 and "not a loopback address" in r.output


def test_loopback_and_the_served_command(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    cmd = app_command(str(tmp_path / "a b.sqlite"), "alice")
    assert cmd.endswith("open --follow alice") and "'" in cmd  # the space is quoted
