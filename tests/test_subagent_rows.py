"""ATIF subagent steps and reasoning in `t2e show` and the compare (review s15-2 C4).

Before: a subagent's delegated prompt was a `U` row in the compare (the CLI's `show --vs` and
the app's lanes, one `event_segments`), like the customer's words, and its messages `A` rows
like the parent agent's; `t2e show --full` ("Do not truncate long fields") cut a step's
reasoning at 400 characters as plain `show` does."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from t2e_tui.align_events import events_of
from t2e_tui.align_print import event_segments
from t2e_tui.cli import cli

FIX = Path(__file__).parent / "fixtures" / "atif" / "support_v17.json"
LONG = " ".join(f"thought{i}" for i in range(200))  # 1,489 characters, no cut word repeats


def _two_files(tmp_path):
    doc = json.loads(FIX.read_text())
    doc["steps"][2]["reasoning_content"] = LONG
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(doc))
    b.write_text(json.dumps(doc, indent=1))  # another file (hash), the same trajectory
    st = str(tmp_path / "s.sqlite")
    for p, name in ((a, "a"), (b, "b")):
        res = CliRunner().invoke(cli, ["--store", st, "import", str(p), "--name", name])
        assert res.exit_code == 0, res.output
    return st


def test_show_full_prints_the_whole_reasoning(tmp_path):
    st = _two_files(tmp_path)
    full = CliRunner().invoke(cli, ["--store", st, "show", "a:refund-7", "--full"]).output
    said = " ".join(full.split())
    assert f"reasoning: {LONG}" in said, full
    short = CliRunner().invoke(cli, ["--store", st, "show", "a:refund-7"]).output
    assert "thought199" not in short and "thought30 " in " ".join(short.split())


def test_subagent_rows_are_marked_apart_from_the_customer_and_the_agent(tmp_path):
    st = _two_files(tmp_path)
    out = CliRunner().invoke(cli, ["--store", st, "show", "a:refund-7", "--vs",
                                   "b:refund-7"]).output
    rows = [ln for ln in out.splitlines() if "check policy" in ln or "refunds allowed" in ln
            and "↳" in ln]
    assert any("↳U check policy" in ln for ln in rows), out
    assert "U Refund order" in out and "↳U Refund" not in out
    import store
    db = store.open_db(st)
    steps = [dict(zip(("idx", "role", "content", "tool_calls", "extra_json"), r)) for r in
             db.conn.execute("SELECT idx, role, content, tool_calls, extra_json FROM steps "
                             "WHERE episode_id = 1 ORDER BY idx")]
    for s in steps:
        s["tool_calls"] = json.loads(s["tool_calls"]) if s["tool_calls"] else None
    tags = [event_segments(ev)[0][0] for ev in events_of(steps) if ev.kind == "text"]
    assert tags == ["U ", "A ", "↳U ", "↳A ", "A "], tags
