"""What t2e writes for others to read (gate reports, exports, candidate files) gets the mode
the user's umask asks for, as a plain open() would: the atomic writes used mkstemp's 0600."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner
from test_gate_builders import make_run, new_store

from store.atomic import mkstemp_public
from t2e_tui.cli import cli


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_mkstemp_public_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        fd, tmp = mkstemp_public(tmp_path, ".x.")
        os.close(fd)
    finally:
        os.umask(old)
    assert mode(tmp) == 0o640


def test_reports_exports_and_candidates_are_readable_by_the_team(tmp_path, umask_022):
    conn = new_store(tmp_path, "s.sqlite")
    make_run(conn, "base", {str(i): [1.0] for i in range(1, 7)})
    make_run(conn, "cand", {str(i): [1.0] for i in range(1, 7)})
    conn.close()
    store = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    for fmt in ("junit", "markdown"):
        out = tmp_path / f"gate.{fmt}"
        res = run(cli, ["--store", store, "gate", "base", "cand", "--report", fmt, str(out)])
        assert out.exists(), res.output
        assert mode(out) == 0o644, fmt
    exported = tmp_path / "base.json"
    res = run(cli, ["--store", store, "export", "base", "-o", str(exported)])
    assert res.exit_code == 0, res.output
    assert mode(exported) == 0o644

    from store import connect
    from t2e_tui.candidate_versions import save_version
    from t2e_tui.candidates import packaged_baseline

    conn = connect(tmp_path / "s.sqlite")
    saved = save_version(conn, packaged_baseline(), hypothesis="h",
                         candidates_dir=tmp_path / "cands", name="base")
    conn.close()
    assert mode(saved.version.path) == 0o644
