"""Every export of ours imports again, whatever the run came from (review s15-rev2 S4).

`t2e export --format tau2` of an ATIF or Harbor run was taken for an ATIF trajectory (its
simulations' atif blocks carry `"schema_version": "ATIF-..."` in the first 64 KB) and refused
("trajectory: schema_version should be 'ATIF-v1.N', found None"); the JSONL export had the same
defect (fixed in a962cba). The sniff now reads only the file's top-level keys.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import store
from store.importers import detect_format
from t2e_tui.cli import cli

FIX = Path(__file__).parent / "fixtures"
SOURCES = {"tau2": FIX / "tau2_1x" / "voice_run", "harbor": FIX / "harbor" / "job_a",
           "atif": FIX / "atif" / "support_v17.json",
           # made from the ATIF run by our own export, then imported as a user's file
           "jsonl": "jsonl", "otel": "otel"}
DETECTED = {"tau2": "tau2", "jsonl": "t2e-jsonl", "otel": "otel"}


def _ok(res):
    assert res.exit_code == 0, res.output
    return res


def _source(tmp_path: Path, src: str, s: str) -> None:
    r = CliRunner()
    if src in ("jsonl", "otel"):
        mid = str(tmp_path / "mid.sqlite")
        _ok(r.invoke(cli, ["--store", mid, "import", str(SOURCES["atif"]), "--name", "a"]))
        f = tmp_path / f"src.{src}.jsonl"
        _ok(r.invoke(cli, ["--store", mid, "export", "a", "--format", src, "-o", str(f)]))
        path = f
    else:
        path = SOURCES[src]
    _ok(r.invoke(cli, ["--store", s, "import", str(path), "--name", "r"]))


@pytest.mark.parametrize("fmt", ["tau2", "jsonl", "otel"])
@pytest.mark.parametrize("src", list(SOURCES))
def test_an_export_imports_again(tmp_path, src, fmt):
    s, s2 = str(tmp_path / "s.sqlite"), str(tmp_path / "s2.sqlite")
    _source(tmp_path, src, s)
    out = tmp_path / ("x.json" if fmt == "tau2" else "x.jsonl")
    r = CliRunner()
    _ok(r.invoke(cli, ["--store", s, "export", "r", "--format", fmt, "-o", str(out)]))
    assert detect_format(out) == DETECTED[fmt]
    _ok(r.invoke(cli, ["--store", s2, "import", str(out)]))
    q = "SELECT task_id, reward FROM episodes ORDER BY task_id, reward"
    a, b = store.open_db(s), store.open_db(s2)
    assert a.conn.execute(q).fetchall() == b.conn.execute(q).fetchall()
