"""Unscored episodes (no reward: foreign traces carry no gold) are never failures: not in the
failure counts, not in `t2e episodes --failed`, no "fails at step N" and no "no difference from
the gold actions" where there is no gold. Failure classes that need no gold still apply to
them, said as unscored. A reward mapped with `--reward-attr` makes an episode scored."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from otel_fixture import msgs, request, span, text
from tui_fixture import open_compare, settle, wait_for

from store import connect
from store.outcomes import map_reward_attr
from t2e_tui.align import align
from t2e_tui.align_where import no_difference
from t2e_tui.analysis import classify
from t2e_tui.analysis.outcome import FAILED, PASSED, UNSCORED, outcome
from t2e_tui.analysis.trace import Call, EpisodeTrace, Step, load_episodes
from t2e_tui.analysis.views import brief, failed_episodes, unscored_brief
from t2e_tui.cli.main import cli


def _conversation(i: int, *, loop: bool = False, score=None) -> list:
    """One plain conversation as one trace: an invoke_agent root, two chat spans in the GenAI
    parts form and an execute_tool span; no t2e.* attribute. `loop`: the agent calls the same
    tool with the same arguments three times. `score`: an app.outcome attribute on the root."""
    tid = f"{i:x}" * 32
    tid = tid[:32]
    root, conv = f"{i:02x}" + "0" * 14, f"conv{i}"
    u1 = text("user", f"Where is order #W{i}?")
    common = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "m",
              "gen_ai.conversation.id": conv, "gen_ai.operation.name": "chat"}
    attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": conv,
             "gen_ai.agent.name": "support"}
    if score is not None:
        attrs["app.outcome"] = score
    spans = [span(tid, root, "invoke_agent support", attrs, start=0, end=100)]
    history = [text("system", "Be brief."), u1]
    for k in range(3 if loop else 1):
        cid = f"call_{i}_{k}"
        call = {"type": "tool_call", "id": cid, "name": "get_order_details",
                "arguments": {"order_id": f"#W{i}"}}
        a1 = {"role": "assistant", "parts": [call]}
        t1 = {"role": "tool", "parts": [{"type": "tool_call_response", "id": cid,
                                         "response": "shipped"}]}
        spans += [
            span(tid, f"{i:02x}{k:02x}" + "1" * 12, "chat m", {
                **common, "gen_ai.input.messages": msgs(*history),
                "gen_ai.output.messages": msgs(a1)}, parent=root, start=1 + 10 * k, end=5 + 10 * k),
            span(tid, f"{i:02x}{k:02x}" + "2" * 12, "execute_tool get_order_details", {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order_details",
                "gen_ai.tool.call.id": cid,
                "gen_ai.tool.call.arguments": json.dumps({"order_id": f"#W{i}"}),
                "gen_ai.tool.call.result": "shipped"}, parent=root, start=6 + 10 * k, end=8 + 10 * k),
        ]
        history += [a1, t1]
    spans.append(span(tid, f"{i:02x}" + "3" * 14, "chat m", {
        **common, "gen_ai.input.messages": msgs(*history),
        "gen_ai.output.messages": msgs(text("assistant", "It has shipped."))},
        parent=root, start=60, end=70))
    return spans


def _import(tmp_path, convs, name="plain"):
    p = tmp_path / f"{name}.otlp.json"
    p.write_text(json.dumps(request([s for c in convs for s in c])) + "\n")
    st = str(tmp_path / "s.sqlite")
    res = CliRunner().invoke(cli, ["--store", st, "import", str(p), "--json"])
    assert res.exit_code == 0, res.output
    conn = connect(st)
    rid = conn.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()[0]
    conn.close()
    return st, rid


def _run(st, *args):
    res = CliRunner().invoke(cli, ["--store", st, *args])
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture
def plain(tmp_path):
    return _import(tmp_path, [_conversation(i) for i in (1, 2, 3)])


def test_plain_foreign_conversations_are_unscored_not_failed(plain):
    st, rid = plain
    doc = json.loads(_run(st, "failures", rid, "--json"))
    assert doc["episodes"] == [] and doc["counts"] == {}
    assert doc["unscored"] == 3 and doc["unscored_findings"] == []
    text_out = _run(st, "failures", rid)
    assert "3 failed" not in text_out and "unclassified" not in text_out
    assert "0 failed episode(s)" in text_out and "3 unscored" in text_out
    assert "--reward-attr" in text_out
    assert json.loads(_run(st, "runs", "--json"))[0]["scored"] == 0   # the same fact


def test_episodes_failed_leaves_unscored_out(plain):
    st, rid = plain
    assert json.loads(_run(st, "episodes", rid, "--failed", "--json")) == []
    assert len(json.loads(_run(st, "episodes", rid, "--json"))) == 3
    out = _run(st, "episodes", rid, "--failed", "--table")
    assert "no failed episodes" in out and "3 unscored" in out


def test_compare_header_words_for_an_unscored_episode(plain):
    st, rid = plain
    conn = connect(st)
    eids = [r[0] for r in conn.execute("SELECT episode_id FROM episodes WHERE run_id = ?", (rid,))]
    assert len(eids) == 3
    for eid in eids:
        assert brief(conn, eid) is None          # no "A fails at step 3"
        assert unscored_brief(conn, eid) is None  # nothing found that needs no gold
    assert failed_episodes(conn, rid) == []
    conn.close()


def test_the_compare_header_lists_no_gold_components_for_a_trace_without_gold(plain):
    """The compare header of a foreign episode read `A r=– DB– diag COMM– diag ACT diag`:
    components of a grading it never had. Nothing graded, no component: `A r=– · not
    recorded · label`; a tau2 episode keeps its breakdown."""
    from t2e_tui import data_access as da
    from t2e_tui.align_print import reward_components
    from t2e_tui.ui.screens.compare_reward import reward_compact, reward_line
    st, rid = plain
    conn = connect(st)
    eid = conn.execute("SELECT min(episode_id) FROM episodes").fetchone()[0]
    ep = da.load_episode(conn, eid)
    compact, wide = reward_compact("A", ep).plain, reward_line("A", ep).plain
    conn.close()
    for said in (compact, wide):
        assert "DB" not in said and "COMM" not in said and "ACT" not in said, said
    assert compact.startswith("A r=– · not recorded · "), compact
    graded = {"reward_basis_json": '["DB", "COMMUNICATE"]', "db_reward": 1.0,
              "communicate_reward": 0.0}
    assert [c["name"] for c in reward_components(graded, []) if c["relevant"]] == [
        "DB", "COMMUNICATE", "ACTION"]


def test_no_difference_from_gold_only_where_gold_exists():
    steps = [{"idx": 0, "role": "user", "content": "cancel #W1"},
             {"idx": 1, "role": "assistant", "content": None, "tool_calls": [
                 {"id": "c1", "name": "cancel_order", "arguments": {"order_id": "#W1"}}]},
             {"idx": 2, "role": "tool", "content": "ok", "tool_call_id": "c1"},
             {"idx": 3, "role": "assistant", "content": "Done."}]
    al = align(steps, None, None)            # task definition not stored
    assert al.blocks == [] and not al.gold_known
    assert "gold actions" not in no_difference(al) or "no gold" in no_difference(al)
    assert no_difference(al) != "no difference from the gold actions"
    task = {"id": "t", "evaluation_criteria": {"actions": [
        {"action_id": "a", "name": "cancel_order", "arguments": {"order_id": "#W1"}}]}}
    al = align(steps, None, task)
    assert al.gold_known and al.blocks == []
    assert no_difference(al) == "no difference from the gold actions"
    # an empty list of gold actions is gold too (a task whose right answer is no write)
    al = align(steps, None, {"id": "t", "evaluation_criteria": {"actions": []}})
    assert al.gold_known and no_difference(al) == "no difference from the gold actions"
    assert no_difference(align(steps, steps, None)) == "no difference"


def test_a_gold_free_class_applies_to_an_unscored_episode_said_as_such(tmp_path):
    st, rid = _import(tmp_path, [_conversation(1, loop=True), _conversation(2)])
    doc = json.loads(_run(st, "failures", rid, "--json"))
    assert doc["episodes"] == [] and doc["counts"] == {}
    assert doc["unscored"] == 2
    [f] = doc["unscored_findings"]
    assert [c["name"] for c in f["classes"]] == ["loop"] and f["first_divergence"] is None
    assert doc["unscored_counts"] == {"loop": 1}
    out = _run(st, "failures", rid)
    assert "0 failed episode(s)" in out and "unscored" in out and "loop" in out
    assert "fails" not in out and "step None" not in out
    conn = connect(st)
    eid = f["episode_id"]
    assert brief(conn, eid) is None
    said = unscored_brief(conn, eid)
    assert said is not None and said.startswith("unscored") and "loop" in said
    conn.close()


def test_a_mapped_reward_makes_episodes_scored_even_after_a_cached_report(tmp_path):
    st, rid = _import(tmp_path, [_conversation(1, score=0), _conversation(2, score=1),
                                 _conversation(3)])
    before = json.loads(_run(st, "failures", rid, "--json"))
    assert before["episodes"] == [] and before["unscored"] == 3
    conn = connect(st)
    map_reward_attr(conn, rid, "app.outcome")   # what `t2e gate --reward-attr` does
    conn.close()
    doc = json.loads(_run(st, "failures", rid, "--json"))
    assert [e["task_id"] for e in doc["episodes"]] == ["conv1"]
    assert doc["episodes"][0]["reward"] == 0.0
    assert doc["counts"] == {"unclassified": 1} and doc["unscored"] == 1
    listed = json.loads(_run(st, "episodes", rid, "--failed", "--json"))
    assert [e["task_id"] for e in listed] == ["conv1"]
    conn = connect(st)
    eid = doc["episodes"][0]["episode_id"]
    assert brief(conn, eid) is not None                # failed: it has a reward of 0
    conn.close()


def test_outcome_is_one_definition():
    assert outcome(None, None) == UNSCORED
    assert outcome(0.0, None) == FAILED
    assert outcome(1.0, "user_stop") == PASSED
    assert outcome(None, "infrastructure_error") == "infrastructure"
    assert outcome(None, None, "running") == "running"


def test_classify_an_unscored_trace_runs_only_gold_free_classes():
    calls = [Call(1, "cancel_order", {"order_id": "#W1"}, "write", "c1", "ok", False, 2)]
    steps = [Step(0, "user", "cancel #W1"), Step(1, "assistant", None, calls),
             Step(2, "tool", "ok"), Step(3, "assistant", "It has been cancelled.")]
    ep = EpisodeTrace(1, "t", steps, reward=None, has_task=False)
    a = classify(ep)
    # an unconfirmed write / extra write would need gold to say the write was not wanted
    assert a.unscored and a.classes == [] and a.first_divergence is None
    # the same trace with a mapped reward of 0 and no task: failed, but no gold class guessed
    ep = EpisodeTrace(1, "t", steps, reward=0.0, has_task=False)
    a = classify(ep)
    assert not a.unscored and [v.name for v in a.classes] == ["unclassified"]
    assert a.first_divergence["step"] == 3


def test_load_episodes_knows_when_no_task_is_stored(plain):
    st, rid = plain
    conn = connect(st)
    eids = [r[0] for r in conn.execute("SELECT episode_id FROM episodes WHERE run_id = ?", (rid,))]
    assert [e.has_task for e in load_episodes(conn, eids)] == [False] * 3
    conn.close()


def test_flywheel_counts_no_unscored_task_as_failing(plain):
    from t2e_tui.analysis.flywheel import _task_pass

    st, rid = plain
    conn = connect(st)
    assert _task_pass(conn, rid) == {}       # was every task failing
    conn.close()


async def test_the_compare_header_of_an_unscored_episode(tmp_path):
    """The app's compare header for a foreign episode alone: no "fails at", no "no difference
    from the gold actions" (there is no gold), and what the gold-free classes found, said as
    unscored."""

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.widgets.fittitle import FitTitle

    st, rid = _import(tmp_path, [_conversation(1, loop=True)])
    conn = connect(st)
    (eid,) = conn.execute("SELECT episode_id FROM episodes WHERE run_id = ?", (rid,)).fetchone()
    conn.close()
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await open_compare(app, pilot, eid)
        title = str(app.screen.query_one("#cmp-title", FitTitle).render())
    assert "fails" not in title and "from the gold actions" not in title, title
    assert "no gold actions to compare with" in title, title
    assert "A unscored · loop at step" in title, title


async def _open_failures(pilot, rid: str):
    """The failures screen of run `rid`, loaded."""
    from t2e_tui.ui.screens.failures import FailuresScreen

    app = pilot.app
    await settle(pilot)
    app.push_screen(FailuresScreen(rid))
    await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen) and app.screen.loaded)
    await settle(pilot)
    return app.screen


async def test_the_failures_screen_says_how_many_episodes_are_unscored(tmp_path):
    """The app's failures screen said "0 failed" and nothing of the unscored episodes, while
    `t2e failures` said "3 unscored": the same count on both."""

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.widgets.fittitle import FitTitle

    st, rid = _import(tmp_path, [_conversation(i) for i in (1, 2, 3)])
    assert "3 unscored" in _run(st, "failures", rid)
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_failures(pilot, rid)
        (title,) = app.screen.query_one("#fail-title", FitTitle).lines_at(158)
    assert "0 failed · 3 unscored (no reward: not failures)" in title, title


def test_a_graded_runs_episode_without_a_reward_is_not_called_foreign(tmp_path):
    """A tau2 results file whose simulation has `reward_info: null`: unscored, but the words
    were the foreign traces' ("carry no gold") and suggested --reward-attr, which refuses
    graded runs."""
    from test_store_data import make_results

    results = make_results(4)
    results["simulations"][1]["reward_info"] = None
    p = tmp_path / "r.json"
    p.write_text(json.dumps(results))
    st = str(tmp_path / "s.sqlite")
    res = CliRunner().invoke(cli, ["--store", st, "import", str(p), "--json"])
    assert res.exit_code == 0, res.output
    rid = json.loads(res.stdout)["imported"][0]["run_id"]
    out = _run(st, "failures", rid)
    assert "1 unscored" in out and "no reward recorded for it" in out, out
    assert "foreign" not in out and "--reward-attr" not in out, out
    eps = _run(st, "episodes", rid, "--failed")
    assert "--reward-attr" not in eps and "foreign" not in eps


async def test_the_failures_screen_lists_what_t2e_failures_lists_for_unscored_episodes(tmp_path):
    """`t2e failures` lists, for unscored episodes, the findings of the classes that need no
    gold (class counts, then each episode with its classes and why); the app's failures
    screen only counted the unscored episodes and pointed at the CLI. One truth: the screen
    lists the same findings (classes view: the counts; episodes view: each episode, its
    classes and steps, its why; Enter opens it)."""

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.compare import CompareScreen
    from t2e_tui.ui.widgets.linetable import LineTable

    st, rid = _import(tmp_path, [_conversation(1, loop=True), _conversation(2),
                                 _conversation(3, loop=True)])
    doc = json.loads(_run(st, "failures", rid, "--json"))
    found = {f["episode_id"]: f for f in doc["unscored_findings"]}
    assert doc["unscored_counts"] == {"loop": 2} and len(found) == 2

    def plain(cell) -> str:
        return cell if isinstance(cell, str) else "".join(t for t, _ in cell)

    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await _open_failures(pilot, rid)
        screen = app.screen
        table = screen.query_one(LineTable)
        rows = [[plain(c) for c in r] for r in table.rows]
        assert [r[:2] for r in rows] == [["loop", "2"]], rows   # the CLI's unscored_counts
        assert "unscored" in rows[0][-1] and "not failures" in rows[0][-1], rows
        await pilot.press("enter")                               # that class's episodes
        await wait_for(pilot, lambda: screen.view == "episodes" and screen.episodes_loaded)
        await settle(pilot)
        rows = [[plain(c) for c in r] for r in table.rows]
        assert len(rows) == 2 and [s.episode_id for s in screen._shown] == list(found), rows
        for r, eid in zip(rows, found):
            f = found[eid]
            assert r[0] == f["task_id"], rows
            steps = ", ".join(map(str, f["classes"][0]["steps"]))
            assert r[-1] == f"unscored: loop (steps {steps})", rows   # t2e failures' words
        why = str(screen.query_one("#fail-why").render())
        first = found[screen._shown[0].episode_id]
        assert first["classes"][0]["why"] in why and "unscored" in why, why
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))


def test_a_human_label_wins_on_an_unscored_episode_too(tmp_path):
    """`t2e label` took a rejection (and an added class) on an unscored episode without a word,
    and `t2e failures` went on listing what the rules found: the README's "a human label
    wins everywhere" held for failures only. Now the findings of unscored episodes are the
    labelled ones: a rejected class goes (the episode with it, when none is left), an added
    one is listed as human (`*`), and the counts follow."""
    st, rid = _import(tmp_path, [_conversation(1, loop=True), _conversation(2)])
    [f] = json.loads(_run(st, "failures", rid, "--json"))["unscored_findings"]
    eid, other = f["episode_id"], f["episode_id"] + 1
    _run(st, "label", str(eid), "--reject", "loop")
    _run(st, "label", f"{other}:1", "tool_error_storm", "--note", "retries")
    doc = json.loads(_run(st, "failures", rid, "--json"))
    assert [f["episode_id"] for f in doc["unscored_findings"]] == [other]
    [c] = doc["unscored_findings"][0]["classes"]
    assert (c["name"], c["source"]) == ("tool_error_storm", "human")
    assert doc["unscored_counts"] == {"tool_error_storm": 1}
    out = _run(st, "failures", rid)
    assert "loop" not in out and "unscored: tool_error_storm* (steps 1)" in out
    conn = connect(st)
    assert unscored_brief(conn, eid) is None
    assert unscored_brief(conn, other) == "unscored · tool_error_storm* at step 1"
    conn.close()
