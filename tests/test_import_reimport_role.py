"""A re-import that names another role than its run's is refused, saying the role was not
changed and how to change it (`t2e runs role`); the role is never changed silently."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

from store.importers import ImportFailure, import_path
from t2e_tui.cli import cli


def run_cli(tmp_path, *args):
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), *args])
    return r.exit_code, r.output


def test_reimport_with_another_role_says_the_role_was_not_changed(tmp_path):
    p = write_json(tmp_path / "r.json", make_results(2))
    code, out = run_cli(tmp_path, "import", str(p), "--json")
    assert code == 0, out
    rid = json.loads(out)["imported"][0]["run_id"]
    code, out = run_cli(tmp_path, "import", str(p), "--role", "heldout")
    assert code == 2, out
    assert f"already imported as run {rid}, role discovery" in out
    assert "not changed to heldout" in out and f"t2e runs role {rid} heldout" in out
    runs = json.loads(run_cli(tmp_path, "runs", "--json")[1])
    assert [r["role"] for r in runs] == ["discovery"]
    # no role named, or the run's own: the no-op it always was
    for extra in ([], ["--role", "discovery"]):
        code, out = run_cli(tmp_path, "import", str(p), *extra)
        assert code == 0 and f"already imported as run {rid}" in out, out


def test_import_path_role_none_keeps_a_duplicate_role(tmp_path):
    from store.db import open_db

    db = open_db(tmp_path / "s.sqlite")
    p = write_json(tmp_path / "r.json", make_results(2))
    assert import_path(db, p, role="heldout")["duplicate"] is False
    assert import_path(db, p)["duplicate"] is True  # no role named: the run as it is
    with pytest.raises(ImportFailure, match="role heldout; its role was not changed"):
        import_path(db, p, role="development")


def test_reimport_with_another_name_says_the_name_was_not_changed(tmp_path):
    """The same for `--name`: it was ignored without a word (newcomer review)."""
    p = write_json(tmp_path / "r.json", make_results(2))
    code, out = run_cli(tmp_path, "import", str(p), "--name", "first", "--json")
    assert code == 0, out
    rid = json.loads(out)["imported"][0]["run_id"]
    code, out = run_cli(tmp_path, "import", str(p), "--name", "second")
    assert code == 2, out
    assert f"already imported as run {rid}, named 'first'" in out
    assert "not changed to 'second'" in out and f"t2e runs rename {rid} second" in out
    runs = json.loads(run_cli(tmp_path, "runs", "--json")[1])
    assert [r["name"] for r in runs] == ["first"]
    for extra in ([], ["--name", "first"]):
        code, out = run_cli(tmp_path, "import", str(p), *extra)
        assert code == 0 and f"already imported as run {rid}" in out, out
