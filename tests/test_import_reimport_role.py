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


# (option, first import's value or None, the other value, what the run says, the command told)
CASES = {
    "role": ("--role", None, "heldout", "role discovery", "t2e runs role {rid} heldout",
             "discovery"),
    "name": ("--name", "first", "second", "named 'first'", "t2e runs rename {rid} second",
             "first"),
}


@pytest.mark.parametrize("field", list(CASES))
def test_reimport_naming_another_value_says_it_was_not_changed(tmp_path, field):
    """`--role` and `--name` on a file already imported were ignored without a word: the
    re-import is refused, saying what the run has and how to change it; the run keeps it."""
    opt, first, other, says, fix, kept = CASES[field]
    p = write_json(tmp_path / "r.json", make_results(2))
    code, out = run_cli(tmp_path, "import", str(p), *([opt, first] if first else []), "--json")
    assert code == 0, out
    rid = json.loads(out)["imported"][0]["run_id"]
    code, out = run_cli(tmp_path, "import", str(p), opt, other)
    assert code == 2, out
    assert f"already imported as run {rid}, {says}" in out
    quoted = other if field == "role" else repr(other)
    assert f"not changed to {quoted}" in out and fix.format(rid=rid) in out
    runs = json.loads(run_cli(tmp_path, "runs", "--json")[1])
    assert [r[field] for r in runs] == [kept]
    # none named, or the run's own: the no-op it always was
    for extra in ([], [opt, kept]):
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
