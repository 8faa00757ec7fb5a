"""Foreign traces (OpenTelemetry, ATIF) name their conversations with ids the application
chooses: a test harness reuses `conv-0` in every run, so an id says which scenario, not which
conversation. Such an id is no evidence that two episodes are one (only the same trajectory
is), and the episodes of one task are its trials, numbered in run order."""

from __future__ import annotations

import json

import pytest
from otel_fixture import msgs, request, span, text

import store
from store import provenance
from store.importers import import_path


def _otlp(path, said: str, tasks=("t0", "t1", "t0"), trace_base=0):
    """One conversation per task given (a task may come twice), ids `conv-N` whatever the
    file; the user says `said`."""
    spans = []
    for i, task in enumerate(tasks):
        tr = f"{trace_base + i + 1:032x}"
        spans.append(span(tr, f"r{i}", "invoke_agent bot", {
            "gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": f"conv-{i}",
            "task.id": task, "app.passed": True, "gen_ai.agent.name": "helper"},
            start=i * 10, end=i * 10 + 5))
        spans.append(span(tr, f"c{i}", "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.conversation.id": f"conv-{i}",
            "gen_ai.input.messages": msgs(text("user", f"{said} ({task})")),
            "gen_ai.output.messages": msgs(text("assistant", "on it"))},
            parent=f"r{i}", start=i * 10 + 1, end=i * 10 + 2))
    path.write_text(json.dumps(request(spans)) + "\n")
    return path


def _atif(path, said: str, tasks=("t0", "t1", "t0")):
    path.write_text(json.dumps([
        {"schema_version": "ATIF-v1.6", "session_id": f"s-{i}", "trajectory_id": f"tr-{i}",
         "agent": {"name": "a", "version": "1"}, "extra": {"task_id": task, "passed": True},
         "steps": [{"step_id": 1, "source": "user", "message": f"{said} ({task})"},
                   {"step_id": 2, "source": "agent", "message": "on it"}]}
        for i, task in enumerate(tasks)]))
    return path


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


@pytest.mark.parametrize("make", [_otlp, _atif])
def test_reused_ids_with_other_content_are_no_reimport(db, tmp_path, make):
    """A harness reusing its conversation ids: a later heldout run of other conversations was
    taken for a re-import of the discovery run (matched by id alone), so its heldout role
    counted as raised after the fact and the discovery run's views were copied onto it."""
    first = import_path(db, make(tmp_path / "a", "my order is broken"), role="discovery")
    ep = db.conn.execute("SELECT min(episode_id) FROM episodes").fetchone()[0]
    db.conn.execute("INSERT INTO evidence_views (episode_id, run_id, domain, task_id, "
                    "viewed_at, via) VALUES (?, ?, 'd', 't0', '2026-01-01', 'show')",
                    (ep, first["run_id"]))
    later = import_path(db, make(tmp_path / "b", "my parcel is damaged"), role="heldout")
    assert_no_copy(db, first, later)


def assert_no_copy(db, first: dict, later: dict) -> None:
    """Run `later` is taken for no copy of run `first`: no warning says so, no episode
    matches, its role history and views are its own (none)."""
    rid = later["run_id"]
    said = " ".join(later["warnings"])
    assert "raised after the fact" not in said and "re-import" not in said, said
    assert "graded differently" not in said, said
    assert provenance._matches(db.conn, rid) == {}
    assert provenance.copies_of(db, rid, first["run_id"]) == 0
    assert db.conn.execute("SELECT count(*) FROM run_role_changes WHERE run_id = ?",
                           (rid,)).fetchone() == (0,)
    assert db.conn.execute("SELECT count(*) FROM evidence_views WHERE run_id = ?",
                           (rid,)).fetchone() == (0,)


@pytest.mark.parametrize("make", [_otlp, _atif])
def test_the_same_conversations_again_are_still_a_reimport(db, tmp_path, make):
    """The control: the same trajectories under the same ids (another file: a blank line
    more) are the same evidence, so a heldout claim on them is raised after the fact."""
    a = make(tmp_path / "a", "my order is broken")
    import_path(db, a, role="discovery")
    b = tmp_path / "b"
    b.write_text(a.read_text() + "\n")
    later = import_path(db, b, role="heldout")
    assert any("raised after the fact" in w for w in later["warnings"]), later["warnings"]
    assert len(provenance._matches(db.conn, later["run_id"])) == 3


@pytest.mark.parametrize("make", [_otlp, _atif])
def test_episodes_of_one_task_are_its_trials_in_run_order(db, tmp_path, make):
    """Every foreign episode was trial 0, so a task run twice had two `trial 0` episodes:
    `show RUN:TASK:0` was ambiguous and `RUN:TASK:1` did not exist."""
    rid = import_path(db, make(tmp_path / "a", "hello", tasks=("t0", "t1", "t0", "t0")))[
        "run_id"]
    rows = db.conn.execute("SELECT task_id, trial FROM episodes WHERE run_id = ? ORDER BY ord",
                           (rid,)).fetchall()
    # (a task's only episode has no trial to tell it from another: none, as in JSON Lines)
    assert rows == [("t0", 0), ("t1", None), ("t0", 1), ("t0", 2)]


def test_given_trials_are_kept_and_only_missing_ones_numbered(db, tmp_path):
    """Our own export says each episode's trial (t2e.trial): kept as given."""
    p = _otlp(tmp_path / "a", "hello", tasks=("t0", "t0"))
    doc = json.loads(p.read_text())
    roots = [s for s in doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
             if s["name"] == "invoke_agent bot"]
    for root, trial in zip(roots, (4, 7)):
        root["attributes"].append({"key": "t2e.trial", "value": {"intValue": str(trial)}})
    p.write_text(json.dumps(doc) + "\n")
    rid = import_path(db, p)["run_id"]
    assert db.conn.execute("SELECT trial FROM episodes WHERE run_id = ? ORDER BY ord",
                           (rid,)).fetchall() == [(4,), (7,)]


@pytest.mark.parametrize("make", [_otlp, _atif])
def test_an_exported_foreign_run_keeps_its_outcomes_and_agent(db, tmp_path, make):
    """`t2e export --format otel` of a foreign run wrote only our own attributes on each root:
    the re-imported run had no outcome left to map (`--reward-attr app.passed` refused), and
    the agent's name was the run's."""
    from store import outcomes
    from store.exporters import export_run

    rid = import_path(db, make(tmp_path / "a", "hello"), name="base")["run_id"]
    out = tmp_path / "x.jsonl"
    export_run(db, rid, "otel", out)
    again = import_path(db, out)["run_id"]
    roots = [r for line in out.read_text().splitlines()
             for r in json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
             if not r.get("parentSpanId")]
    agents = {a["value"].get("stringValue") for r in roots for a in r["attributes"]
              if a["key"] == "gen_ai.agent.name"}
    if make is _otlp:  # the root span's own name, and its agent's
        assert {r["name"] for r in roots} == {"invoke_agent bot"} and agents == {"helper"}
    key = "app.passed" if make is _otlp else "passed"
    got = outcomes.reward_mapping(db, again, key)
    assert got["mapped"] == 3 and got["missing"] == 0, got


@pytest.mark.parametrize("make", [_otlp, _atif])
def test_show_says_a_foreign_episodes_attributes_and_instructions(tmp_path, make):
    """`t2e show` of a foreign episode said nothing of the attributes its trace carries (the
    outcomes `--reward-attr` maps: a user had to guess their names) or of its system
    instructions; `--json` left them out too. The detail lines (the compare screen's too)
    and the JSON now carry them."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    p = make(tmp_path / "a", "hello")
    doc = json.loads(p.read_text()) if make is _atif else None
    if doc is not None:
        doc[0]["steps"].insert(0, {"step_id": 0, "source": "system",
                                   "message": "Follow the policy."})
        p.write_text(json.dumps(doc))
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    assert run(cli, ["--store", st, "import", str(p), "--name", "f"]).exit_code == 0
    out = run(cli, ["--store", st, "show", "f:t0:0"]).output
    key = "app.passed" if make is _otlp else "passed"
    said = " ".join(out.split())  # (as wrapped at the terminal's width)
    assert "trace attributes: " in said and f" {key} true " in said, out
    assert "--reward-attr NAME" in said, out
    if make is _atif:
        assert "system instructions: Follow the policy." in said, out
    got = json.loads(run(cli, ["--store", st, "show", "f:t0:0", "--json"]).output)
    assert got["trace_attributes"][key] is True
