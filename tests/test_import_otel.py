"""OpenTelemetry GenAI (OTLP/JSON) import: new and old attribute names, event and flattened
message forms, OpenInference, content capture off, grouping, bad input."""

from __future__ import annotations

import json

import pytest
from otel_fixture import new_convention_file, old_convention_file, openinference_file, request, span

import store
from store.importers import ImportFailure, detect_format, import_path


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def episodes(db, run_id):
    out = []
    for eid, key, task, extra in db.conn.execute(
            "SELECT episode_id, episode_key, task_id, extra_json FROM episodes WHERE run_id = ? "
            "ORDER BY ord", (run_id,)).fetchall():
        steps = db.conn.execute(
            "SELECT role, content, tool_calls, tool_call_id, error, latency_ms, tokens_in, "
            "tokens_out, extra_json FROM steps WHERE episode_id = ? ORDER BY idx",
            (eid,)).fetchall()
        out.append({"key": key, "task": task, "extra": json.loads(extra), "steps": steps})
    return out


def test_new_convention_groups_by_conversation_and_keeps_usage(db, tmp_path):
    p = new_convention_file(tmp_path / "traces.jsonl")
    assert detect_format(p) == "otel"
    entry = import_path(db, p)
    eps = episodes(db, entry["run_id"])
    assert [e["key"] for e in eps] == ["conv-1", "c" * 32]
    conv = eps[0]
    assert [(s[0], s[1]) for s in conv["steps"]] == [
        ("user", "Where is order #W100?"), ("assistant", None), ("tool", "shipped"),
        ("assistant", "It has shipped."), ("user", "Thanks, bye"), ("assistant", "Bye!")]
    assert json.loads(conv["steps"][1][2]) == [{"id": "call_1", "name": "get_order_details",
                                                "arguments": {"order_id": "#W100"},
                                                "requestor": "assistant"}]
    assert conv["steps"][2][3] == "call_1"
    assert conv["steps"][1][5] == pytest.approx(20.0)  # chat span latency, ms
    assert conv["steps"][1][6:8] == (50, 7)
    extra = json.loads(conv["steps"][1][8])
    assert extra["usage"]["cache_write_tokens"] == 40 and extra["usage"]["cache_read_tokens"] == 3
    assert extra["provider"] == "openai" and extra["model"] == "model-new"
    assert conv["extra"]["otel"]["system_instructions"] == ["Be brief."]
    assert conv["extra"]["otel"]["attributes"]["app.outcome.score"] == 1.0
    run = db.conn.execute("SELECT domain, agent_model, grading FROM runs").fetchone()
    assert run == ("support-bot", "model-new", "foreign")


def test_content_capture_off_is_shown_not_dropped(db, tmp_path):
    entry = import_path(db, new_convention_file(tmp_path / "traces.jsonl"))
    off = episodes(db, entry["run_id"])[1]
    assert [(s[0], s[1]) for s in off["steps"]] == [
        ("user", "(content not captured)"), ("assistant", "(content not captured)"),
        ("tool", "(content not captured)"), ("assistant", "(content not captured)")]
    # the tool call the execute_tool span names joins the uncaptured assistant turn
    assert json.loads(off["steps"][1][2])[0]["name"] == "cancel_order"
    assert off["steps"][2][4] == 1  # the tool span's error status
    assert any("not captured" in w and "1 episode" in w for w in entry["warnings"])
    assert db.conn.execute("SELECT termination_reason FROM episodes WHERE episode_key = ?",
                           ("c" * 32,)).fetchone() == ("agent_error",)


def test_old_names_events_and_flattened_prompts(db, tmp_path):
    p = old_convention_file(tmp_path / "old.json")
    assert detect_format(p) == "otel"
    entry = import_path(db, p)
    eps = episodes(db, entry["run_id"])
    assert [(s[0], s[1]) for s in eps[0]["steps"]] == [
        ("user", "Cancel order #W7"), ("assistant", None), ("tool", "cancelled")]
    assert json.loads(eps[0]["steps"][1][2])[0]["arguments"] == {"order_id": "#W7",
                                                                 "reason": "no longer needed"}
    assert eps[0]["steps"][1][6:8] == (20, 6)
    extra = json.loads(eps[0]["steps"][1][8])
    assert extra["provider"] == "anthropic" and extra["usage"]["cache_write_tokens"] == 11
    assert [(s[0], s[1]) for s in eps[1]["steps"]] == [("user", "Hi there"),
                                                      ("assistant", "Hello! How can I help?")]


def test_openinference_spans(db, tmp_path):
    entry = import_path(db, openinference_file(tmp_path / "oi.json"))
    (ep,) = episodes(db, entry["run_id"])
    assert ep["key"] == "sess-9"
    assert [s[0] for s in ep["steps"]] == ["user", "assistant", "tool"]
    assert json.loads(ep["steps"][1][2])[0] == {
        "id": "call_a", "name": "modify_user_address",
        "arguments": {"user_id": "u1", "city": "Oslo"}, "requestor": "assistant"}
    assert ep["steps"][2][1] == "ok" and ep["steps"][1][6:8] == (12, 9)


def test_bad_span_is_named_and_nothing_is_written(db, tmp_path):
    bad = request([span("a" * 32, "s1", "chat", {}), {"spanId": "s2", "name": "x"}])
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(request([span("b" * 32, "t1", "chat", {})])) + "\n"
                 + json.dumps(bad) + "\n")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert "line 2" in str(exc.value) and "spans[1]" in str(exc.value) \
        and "traceId" in str(exc.value)
    assert db.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def _scored_run(path, score_by_task, service="bot", more=lambda score: {}, model=None):
    """`more(score)`: other root attributes of the task's episode; `model`: the chat spans'
    gen_ai.request.model (the run's agent)."""
    from otel_fixture import msgs, text
    spans = []
    for i, (task, score) in enumerate(score_by_task.items()):
        tr = f"{i:032x}"
        spans.append(span(tr, f"r{i}", "invoke_agent bot", {
            "gen_ai.operation.name": "invoke_agent", "task.id": task,
            "app.outcome": score, **more(score)}, start=i * 10, end=i * 10 + 5))
        spans.append(span(tr, f"c{i}", "chat m", {
            "gen_ai.operation.name": "chat", "gen_ai.input.messages": msgs(text("user", task)),
            "gen_ai.output.messages": msgs(text("assistant", "done")),
            **({"gen_ai.request.model": model} if model else {})}, parent=f"r{i}",
            start=i * 10 + 1, end=i * 10 + 2))
    path.write_text(json.dumps(request(spans, service=service)) + "\n")
    return path


def test_gates_on_other_attributes_get_their_own_rows_and_say_which(tmp_path):
    """The same runs gated on two outcome attributes whose rewards differ: two scoreboard
    rows (the second gate reused the first's, showing figures it did not compute), and the
    verdict and both reports name the attribute, also when a later gate only reuses the
    mapping kept on the runs."""
    import xml.etree.ElementTree as ET

    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    for name in ("base", "cand"):  # the same scores in both runs, and their inverses
        p = _scored_run(tmp_path / f"{name}.jsonl", {f"t{i}": float(i % 3 == 0)
                                                     for i in range(12)},
                        more=lambda score: {"app.inverse": 1.0 - score, "app.run": name})
        assert run(cli, ["--store", st, "import", str(p), "--name", name]).exit_code == 0
    docs = []
    for attr in ("app.outcome", "app.inverse"):
        md, xml = tmp_path / f"{attr}.md", tmp_path / f"{attr}.xml"
        res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", attr, "--json",
                        "--report", "markdown", str(md), "--report", "junit", str(xml)])
        assert res.exit_code in (1, 3), res.output
        doc = json.loads(res.stdout)
        docs.append(doc)
        assert doc["reward_from"] == {"baseline": [attr], "candidate": [attr]}
        assert f"mapped from outcome attribute {attr}" in md.read_text()
        props = {p.get("name"): p.get("value") for p in ET.parse(xml).getroot().iter("property")}
        assert props["reward_from_baseline"] == props["reward_from_candidate"] == attr
    (a, b) = docs
    assert [c["baseline"] for c in a["checks"]] != [c["baseline"] for c in b["checks"]]
    assert a["row_id"] != b["row_id"] and not b["reused_row"]
    res = run(cli, ["--store", st, "gate", "base", "cand", "--json"])  # the mapping kept
    assert json.loads(res.stdout)["reward_from"] == {"baseline": ["app.inverse"],
                                                     "candidate": ["app.inverse"]}


def test_gate_compares_foreign_runs_on_a_mapped_outcome(tmp_path):
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    base = {f"t{i}": ("pass" if i < 4 else "fail") for i in range(12)}
    cand = {f"t{i}": ("pass" if i < 11 else "fail") for i in range(12)}
    run = CliRunner().invoke
    for name, scores in (("base", base), ("cand", cand)):
        p = _scored_run(tmp_path / f"{name}.jsonl", scores)
        assert run(cli, ["--store", st, "import", str(p), "--name", name]).exit_code == 0
    res = run(cli, ["--store", st, "gate", "base", "cand", "--json"])
    assert res.exit_code != 0  # no gold, no reward: nothing to compare
    assert "--reward-attr NAME" in res.output  # and it says what to do
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "nope"])
    assert res.exit_code == 2 and "app.outcome" in res.output  # names what it saw
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "app.outcome",
                    "--json"])
    assert res.exit_code in (0, 3, 4), res.output  # 4: supported on development evidence
    doc = json.loads(res.stdout)
    assert doc["metrics"]["baseline"]["reward"] == pytest.approx(4 / 12)
    assert doc["metrics"]["candidate"]["reward"] == pytest.approx(11 / 12)
    assert len(doc["tasks"]) == 12


def test_foreign_runs_read_as_unscored_not_running(db, tmp_path):
    from t2e_tui import data_access as da
    from t2e_tui.ui.screens.tasks import trials_cell
    rid = import_path(db, new_convention_file(tmp_path / "t.jsonl"))["run_id"]
    rows = da.task_rows(db.conn, rid, None)
    assert {r.transition for r in rows} == {"unscored"}  # was "running"
    assert trials_cell(rows[0].base) == [("?", "dim")]
    rid2 = import_path(db, old_convention_file(tmp_path / "o.json"))["run_id"]
    assert da.transition_of(rows[0].base, da.task_rows(db.conn, rid2, None)[0].base) \
        == "unscored"


def test_worker_process_gives_the_same_run(tmp_path, monkeypatch):
    p = new_convention_file(tmp_path / "t.jsonl")
    got = []
    for mode in ("0", "1"):
        monkeypatch.setenv("T2E_IMPORT_WORKER", mode)
        db = store.open_db(tmp_path / f"s{mode}.sqlite")
        entry = import_path(db, p)
        eps = episodes(db, entry["run_id"])
        got.append(([(e["key"], e["steps"]) for e in eps], entry["warnings"],
                    db.conn.execute("SELECT agent_model, grading FROM runs").fetchone()))
    assert got[0] == got[1]


def test_traces_without_genai_spans_are_skipped_and_named(db, tmp_path):
    http = span("9" * 32, "h1", "GET /health", {"http.request.method": "GET"})
    p = new_convention_file(tmp_path / "t.jsonl")
    p.write_text(p.read_text() + json.dumps(request([http])) + "\n")
    entry = import_path(db, p)
    assert entry["episodes"] == 2
    assert any("1 trace(s) without any GenAI span" in w for w in entry["warnings"])
    only = tmp_path / "http.jsonl"
    only.write_text(json.dumps(request([http])) + "\n")
    with pytest.raises(ImportFailure) as exc:
        import_path(db, only)
    assert "no GenAI spans" in str(exc.value)


def test_a_run_name_with_control_characters_is_refused(tmp_path):
    """Listings strip them, so such a run could not be named back (`t2e gate NAME`)."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    p = new_convention_file(tmp_path / "t.jsonl")
    for bad in ("cand\x1b[31mRED", "a\tb", "two\nlines", "c\x9bx"):
        res = CliRunner().invoke(cli, ["--store", st, "import", str(p), "--name", bad])
        assert res.exit_code == 2 and "control characters" in res.output, res.output
    res = CliRunner().invoke(cli, ["--store", st, "import", str(p), "--name", "ok ✓", "--json"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--store", st, "show", "ok ✓:" + _first_task(st)])
    assert res.exit_code == 0, res.output
    assert "termination not recorded" in res.output and "termination None" not in res.output


def _first_task(st):
    import store as st_mod
    conn = st_mod.connect(st)
    try:
        return conn.execute("SELECT task_id FROM episodes ORDER BY episode_id").fetchone()[0]
    finally:
        conn.close()


def test_non_finite_outcomes_are_no_reward_and_the_gate_says_so(tmp_path):
    """Proto3 JSON writes a double NaN as the string "NaN": such outcome text mapped to a
    NaN/inf reward, stored as JSON SQLite refuses ("malformed JSON": exit 70), the run's
    reward read `inf`, and the store was left changed. Non-finite values are no outcome."""
    import sqlite3

    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    base = {"t0": "1", "t1": "0", "t2": "1", "t3": "0"}
    cand = {"t0": "NaN", "t1": "inf", "t2": "1", "t3": "-Infinity"}
    for name, scores in (("base", base), ("cand", cand)):
        p = _scored_run(tmp_path / f"{name}.jsonl", scores)
        assert run(cli, ["--store", st, "import", str(p), "--name", name]).exit_code == 0
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "app.outcome"])
    assert res.exit_code in (1, 3, 4), res.output  # a verdict, not an internal error (70)
    assert "cand: 3 episode(s) carry 'app.outcome' values that are no outcome" in res.output
    # and the tasks left out are not blamed on infrastructure errors alone
    assert "3 task(s) left out: no scored trial on one side (no outcome mapped, or " \
           "infrastructure errors): t0, t1, t3" in res.output
    conn = sqlite3.connect(st)
    rewards = conn.execute("SELECT e.reward, e.reward_info_json FROM episodes e JOIN runs r "
                           "USING (run_id) WHERE r.name = 'cand' ORDER BY e.task_id").fetchall()
    assert rewards[2][0] == 1.0 and [r for r, _ in rewards].count(None) == 3
    for _, info in rewards:
        assert info is None or "NaN" not in info and "Infinity" not in info


def test_a_refused_mapping_leaves_both_runs_as_they_were(tmp_path):
    """The baseline's outcomes were mapped (and committed) before the candidate was found to
    carry none: the refused gate left the baseline scored. Both runs are mapped at once."""
    import sqlite3

    from click.testing import CliRunner

    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    p = _scored_run(tmp_path / "base.jsonl", {"t0": "pass", "t1": "fail"})
    assert run(cli, ["--store", st, "import", str(p), "--name", "base"]).exit_code == 0
    p = _scored_run(tmp_path / "cand.jsonl", {"t0": "n/a", "t1": "NaN"})
    assert run(cli, ["--store", st, "import", str(p), "--name", "cand"]).exit_code == 0
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "app.outcome"])
    assert res.exit_code == 2 and "no episode of run 'cand' carries an outcome" in res.output
    conn = sqlite3.connect(st)
    assert conn.execute("SELECT count(*) FROM episodes WHERE reward IS NOT NULL OR "
                        "reward_info_json IS NOT NULL").fetchone()[0] == 0


def test_an_outcome_attribute_chosen_after_another_is_no_clean_evidence(tmp_path):
    """On a registered heldout set: gated on judge_a (inconclusive), then on judge_b
    (PROMOTE, candidate 1 judged). Picking the outcome after seeing a verdict is picking by
    outcome: the second gate's evidence is development and says which attributes were tried
    (imported runs are never a clean first run either, since the agent ledger: the reason is
    said whatever else keeps the evidence from being clean)."""
    from click.testing import CliRunner

    import store as st_mod
    from store.heldout import register_set
    from t2e_tui.cli import cli
    st = str(tmp_path / "s.sqlite")
    tasks = [f"t{i}" for i in range(10)]
    conn = st_mod.connect(st)
    register_set(conn, "H", "bot", tasks, spec="all")  # (the domain: the service name)
    conn.close()
    run = CliRunner().invoke
    for name, model, a, b in (("base", "m-base", 3, 3), ("cand", "m-cand", 4, 10)):
        # judge_a: one more pass (within noise); judge_b: seven more (significant)
        p = _scored_run(tmp_path / f"{name}.jsonl", {t: float(i < a) for i, t in
                                                     enumerate(tasks)},
                        more=lambda score, i=iter(range(10)), b=b: {
                            "judge_a": score, "judge_b": float(next(i) < b)}, model=model)
        res = run(cli, ["--store", st, "import", str(p), "--name", name, "--role", "heldout"])
        assert res.exit_code == 0, res.output
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "judge_a", "--json"])
    assert json.loads(res.stdout)["decision"] == "inconclusive", res.output
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "judge_b", "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 4 and doc["decision"] == "supported", doc["reasons"]
    assert doc["evidence_role"] == "development"
    assert any("outcome attributes tried on these runs: judge_a, judge_b" in r
               for r in doc["role_reasons"]), doc["role_reasons"]


def test_outcomes_on_evaluation_events_and_evaluator_spans_are_kept(db, tmp_path):
    tr = "e" * 32
    chat = {"gen_ai.operation.name": "chat",
            "gen_ai.input.messages": json.dumps([{"role": "user", "content": "hi"}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "hello"}])}
    spans = [
        span(tr, "a1", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                            "gen_ai.conversation.id": "cv"}, end=50),
        span(tr, "c1", "chat m", chat, parent="a1", start=1, end=10, events=[
            (5, "gen_ai.evaluation.result", {"gen_ai.evaluation.score.value": 0.5,
                                             "gen_ai.evaluation.name": "helpful"})]),
        span(tr, "o1", "judge", {"judge.score": 3, "judge.note": "fine"}, parent="a1",
             start=20, end=30),
        span(tr, "o2", "work", {}, parent="a1", start=31, end=32,
             events=[(31, "log", {"score": 9})]),  # (not an evaluation event)
    ]
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    (ep,) = episodes(db, import_path(db, p)["run_id"])
    kept = ep["extra"]["otel"]["attributes"]
    assert {k: v for k, v in kept.items() if k != "gen_ai.operation.name"} == {
        "gen_ai.conversation.id": "cv", "gen_ai.evaluation.score.value": 0.5,
        "gen_ai.evaluation.name": "helpful", "judge.score": 3}


def test_without_an_agent_span_the_root_is_the_span_above_the_others(db, tmp_path):
    tr = "f" * 32
    chat = {"gen_ai.operation.name": "chat",
            "gen_ai.input.messages": json.dumps([{"role": "user", "content": "hi"}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "hello"}])}
    spans = [span(tr, "c1", "chat m", chat, parent="w1", start=1, end=10),  # (first in time)
             span(tr, "w1", "handle request", {"app.outcome": "ok"}, start=2, end=20)]
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(request(spans)) + "\n")
    (ep,) = episodes(db, import_path(db, p)["run_id"])
    assert ep["extra"]["otel"]["root_span"] == "handle request"
    assert ep["extra"]["otel"]["attributes"] == {"app.outcome": "ok"}


def test_every_face_says_the_rewards_were_mapped_from_an_attribute(tmp_path):
    """`t2e gate --reward-attr` said where the rewards came from in its Markdown and JUnit
    reports only: its own text said "not re-scored (the file's word)", and the Markdown said
    it twice (a line a side). Now the rewards line, the one summary every face shows (the
    CLI's text, the Markdown, the app's gate screen), names the attribute."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    from t2e_tui.gate.rescore import summary_of
    st = str(tmp_path / "s.sqlite")
    run = CliRunner().invoke
    for name, ok in (("base", 4), ("cand", 11)):
        p = _scored_run(tmp_path / f"{name}.jsonl", {f"t{i}": float(i < ok) for i in range(12)})
        assert run(cli, ["--store", st, "import", str(p), "--name", name]).exit_code == 0
    md = tmp_path / "r.md"
    res = run(cli, ["--store", st, "gate", "base", "cand", "--reward-attr", "app.outcome",
                    "--report", "markdown", str(md)])
    assert ("  rewards: baseline and candidate mapped from outcome attribute app.outcome "
            "(--reward-attr)") in res.output.splitlines(), res.output
    text = md.read_text()
    assert text.count("mapped from outcome attribute app.outcome") == 1, text
    doc = json.loads(run(cli, ["--store", st, "gate", "base", "cand", "--json"]).stdout)
    assert doc["rescore"]["candidate"]["mapped_from"] == ["app.outcome"]
    assert summary_of(doc["rescore"], short=True) == "mapped from app.outcome"
