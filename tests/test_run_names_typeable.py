"""A run named after its file (no --name) is named by what a user can type back. A file name
holding an escape sequence, a bell, a tab or a bidi override kept them in the run's name:
listings strip them, so the name shown did not resolve (`t2e gate NAME`, `t2e show NAME:TASK`)
while the id did. Every importer takes its default name through one place
(ImportContext.start_run), as does a JSONL file whose header names its run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from otel_fixture import msgs, request, span, text
from test_store_data import make_results, write_json

from store.db import open_db
from store.importers import import_path
from store.queries import resolve_run, typeable
from t2e_tui.textsafe import one_line

FIX = Path(__file__).parent / "fixtures"
ODD = "a\x1b[31mred\x1b[0m\x1b]52;c;SGVsbG8=\x07 file\x07\tv2\u202e\u200b"
SHOWN = "ared file v2"  # what every listing shows of ODD: the name now stored


def _otel(path: Path) -> None:
    tid, root = "ab" * 16, "01" * 8
    spans = [span(tid, root, "invoke_agent support", {"gen_ai.operation.name": "invoke_agent",
                                                     "gen_ai.conversation.id": "c1"}),
             span(tid, "02" * 8, "chat m", {
                 "gen_ai.operation.name": "chat", "gen_ai.conversation.id": "c1",
                 "gen_ai.input.messages": msgs(text("user", "hi")),
                 "gen_ai.output.messages": msgs(text("assistant", "hello"))}, parent=root)]
    path.write_text(json.dumps(request(spans)) + "\n")


def _make(kind: str, folder: Path) -> Path:
    if kind == "tau2":
        return write_json(folder / f"{ODD}.json", make_results(3))
    if kind == "tau2-dir":
        return Path(shutil.copytree(FIX / "tau2_1x" / "voice_run", folder / ODD))
    if kind == "jsonl":
        p = folder / f"{ODD}.jsonl"
        p.write_text(json.dumps({"id": "s1", "task_id": "t1", "messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}) + "\n")
        return p
    if kind == "jsonl-header":  # the file names its run: the name is taken from the file too
        p = folder / "plain.jsonl"
        p.write_text(json.dumps({"type": "run", "name": ODD}) + "\n" + json.dumps(
            {"id": "s1", "task_id": "t1", "messages": [{"role": "user", "content": "q"}]})
            + "\n")
        return p
    if kind == "otel":
        p = folder / f"{ODD}.otlp.json"
        _otel(p)
        return p
    if kind == "atif":
        return Path(shutil.copy(FIX / "atif" / "support_v17.json", folder / f"{ODD}.json"))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["tau2", "tau2-dir", "jsonl", "jsonl-header", "otel", "atif"])
def test_a_run_named_after_its_file_is_named_as_shown(tmp_path, kind):
    src = _make(kind, tmp_path)
    db = open_db(tmp_path / "s.sqlite")
    entry = import_path(db, src)
    (name,) = db.conn.execute("SELECT name FROM runs WHERE run_id = ?",
                              (entry["run_id"],)).fetchone()
    expected = SHOWN + (".otlp" if kind == "otel" else "")  # (the stem of x.otlp.json)
    assert name == expected and typeable(name), repr(name)
    shown = one_line(name)
    assert shown == name  # what a listing shows is the name itself ...
    assert resolve_run(db, shown) == entry["run_id"]  # ... and it resolves


def test_a_name_given_with_name_is_kept_as_given(tmp_path):
    """--name is checked where it is given (run_name_problem) and stored as given."""
    db = open_db(tmp_path / "s.sqlite")
    entry = import_path(db, write_json(tmp_path / f"{ODD}.json", make_results(3)),
                        name="my  run [v2]")
    (name,) = db.conn.execute("SELECT name FROM runs WHERE run_id = ?",
                              (entry["run_id"],)).fetchone()
    assert name == "my  run [v2]"


@pytest.mark.parametrize("stem, expected", [
    ("\x1b[0m", "\\u001b[0m"),            # nothing visible left: the escapes, written out
    ("\u200b\u200b", "\\u200b\\u200b"),
    ("two   spaces\nand\u2028lines", "two spaces and lines"),
    ("caf\u00e9 \u540d\u524d", "caf\u00e9 \u540d\u524d"),  # printable text stays as it is
])
def test_typeable_name(stem, expected):
    from store.queries import typeable_name

    assert typeable_name(stem) == expected and typeable(expected)
