"""A path named in a message keeps every character: control characters are written as
escapes (`\\x1b`), never stripped, so the name shown is the file's (`x<ESC>[31m.json` was
said as `x.json`: another file's name). One helper, world.errors.shown_path."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_store_data import make_results, write_json

from t2e_tui.cli import cli
from t2e_tui.errors import error_text
from world.errors import shown_path

ESC_NAME = "x\x1b[31m.json"


def run_cli(tmp_path, *args):
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), *args])
    return r.exit_code, r.output


def test_shown_path_escapes_what_a_display_would_strip():
    assert shown_path("plain name.json") == "plain name.json"
    assert shown_path(ESC_NAME) == "x\\x1b[31m.json"
    assert shown_path("a\nb\u202ec\x07") == "a\\x0ab\\u202ec\\x07"
    assert shown_path(b"caf\xe9.json") == "caf\\xe9.json"  # not UTF-8: the byte, escaped


def test_import_of_a_missing_file_names_it_escaped(tmp_path):
    code, out = run_cli(tmp_path, "import", str(tmp_path / ESC_NAME))
    assert code == 2
    assert "x\\x1b[31m.json: no such file or directory" in out
    assert "x.json" not in out


def test_import_rejection_of_a_bad_file_names_it_escaped(tmp_path):
    bad = tmp_path / ESC_NAME
    bad.write_text("{")
    code, out = run_cli(tmp_path, "import", str(bad), "--json")
    assert code == 2
    (r,) = json.loads(out)["rejected"]
    assert "x\\x1b[31m.json:" in r["error"]


def test_imported_source_is_named_escaped(tmp_path):
    p = write_json(tmp_path / ESC_NAME, make_results(1))
    code, out = run_cli(tmp_path, "import", str(p))
    assert code == 0, out
    assert "x\\x1b[31m.json: imported as run" in out


def test_score_names_the_file_escaped(tmp_path):
    code, out = run_cli(tmp_path, "score", str(tmp_path / ESC_NAME))
    assert code == 2
    assert "x\\x1b[31m.json: no such file" in out


def test_error_text_names_an_os_error_path_escaped(tmp_path):
    try:
        open(tmp_path / ESC_NAME)
    except OSError as exc:
        text = error_text(exc)
    # the path as every message names it (not repr's quotes), then what went wrong
    assert f"{shown_path(tmp_path / ESC_NAME)}: No such file or directory" in text
