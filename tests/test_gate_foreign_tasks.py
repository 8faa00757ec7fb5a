"""Two OpenTelemetry runs whose root spans carry no task id (session 15 review, C1): each
episode's task is its conversation (or trace) id, which differs run to run, so the gate said
"cover different task sets ... pass --intersect", then "share no task", and neither said where
a task id is read from. The refusals now say it, for the run(s) whose tasks fell back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from otel_fixture import msgs, request, span, text

from t2e_tui.cli import cli


def _conversation(n: int, *, conv: bool | str = True, task: str | None = None) -> list:
    """One trace: an invoke_agent root (an eval.score outcome; a conversation id, `conv` when
    it is text, none when false; task.id when `task`), one chat span."""
    tr = f"{n:032x}"
    root = {"gen_ai.operation.name": "invoke_agent", "eval.score": n % 2}
    if conv:
        root["gen_ai.conversation.id"] = conv if isinstance(conv, str) else f"conv-{n}"
    if task is not None:
        root["task.id"] = task
    chat = {"gen_ai.operation.name": "chat",
            "gen_ai.input.messages": msgs(text("user", f"question {n}")),
            "gen_ai.output.messages": msgs(text("assistant", f"answer {n}"))}
    return [span(tr, f"{n:016x}", "invoke_agent bot", root, start=0, end=10),
            span(tr, f"{n + 1000:016x}", "chat m", chat, parent=f"{n:016x}", start=1, end=2)]


def _store(tmp_path, runs: dict) -> str:
    st = str(tmp_path / "s.sqlite")
    for name, convs in runs.items():
        p = tmp_path / f"{name}.jsonl"
        p.write_text(json.dumps(request([s for c in convs for s in c])) + "\n")
        res = CliRunner().invoke(cli, ["--store", st, "import", str(p)])
        assert res.exit_code == 0, res.output
    return st


def _gate(st, *args) -> str:
    res = CliRunner().invoke(cli, ["--store", st, "gate", "a", "b", "--reward-attr",
                                   "eval.score", *args])
    assert res.exit_code == 2, res.output
    return res.output


@pytest.mark.parametrize("conv, said", [(True, "conversation ids (gen_ai.conversation.id)"),
                                        (False, "trace ids")])
def test_both_refusals_say_where_the_task_id_is_read_from(tmp_path, conv, said):
    st = _store(tmp_path, {"a": [_conversation(i, conv=conv) for i in (1, 2, 3)],
                           "b": [_conversation(i, conv=conv) for i in (11, 12, 13)]})
    for args, refusal in (((), "cover different task sets"), (("--intersect",), "share no task")):
        out = _gate(st, *args)
        assert refusal in out, out
        assert "pass --intersect" not in out, out   # it would share no task either
        for run in ("a", "b"):
            assert f"the tasks of 3 of 3 episodes of run {run} (" in out, out
        assert f"are their {said}" in out, out
        # where a task id comes from, and what to add
        assert "t2e.task_id or task.id attribute on the root span" in out, out


def test_atif_trajectories_without_a_task_are_named_too(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "atif" / "support_v17.json"
    doc = json.loads(fixture.read_text())
    st = str(tmp_path / "s.sqlite")
    for name in ("a", "b"):
        items = [json.loads(json.dumps(t)) for t in (doc if isinstance(doc, list) else [doc])]
        for k, t in enumerate(items):
            for key in ("task_id", "task_name"):
                (t.get("extra") or {}).pop(key, None)
            t.pop("subagent_trajectories", None)
            t["trajectory_id"] = f"traj-{name}-{k}"
        (tmp_path / f"{name}.json").write_text(json.dumps(items))
        res = CliRunner().invoke(cli, ["--store", st, "import", str(tmp_path / f"{name}.json")])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["--store", st, "gate", "a", "b"])
    assert res.exit_code == 2, res.output
    assert "of run a (" in res.output and "are their trajectory ids" in res.output, res.output
    assert "extra.task_id (or extra.task_name) in each trajectory" in res.output, res.output
    assert "task.id attribute" not in res.output   # (OpenTelemetry's words)


def test_runs_that_name_their_tasks_get_no_such_words(tmp_path):
    st = _store(tmp_path, {"a": [_conversation(i, task=f"t{i}") for i in (1, 2)],
                           "b": [_conversation(i, task=f"t{i}") for i in (2, 3)]})
    out = _gate(st)
    assert "cover different task sets" in out and "task.id" not in out, out
    assert "pass --intersect to compare the 1 task(s) they share" in out, out


def test_only_the_run_that_fell_back_is_named(tmp_path):
    st = _store(tmp_path, {"a": [_conversation(i, task=f"t{i}") for i in (1, 2)],
                           "b": [_conversation(i) for i in (3, 4)]})
    out = _gate(st)
    assert "the tasks of 2 of 2 episodes of run b (" in out and "of run a (" not in out, out


def _unmapped(tmp_path) -> str:
    """Two foreign runs sharing their tasks, never mapped to an outcome: eval.score (0/1)
    and app.rating (1-5: no reward) on their roots."""
    def conv(n, build):
        spans = _conversation(n, task=f"t{n}")
        spans[0]["attributes"] += [{"key": "app.rating", "value": {"intValue": "4"}},
                                   {"key": "app.build", "value": {"stringValue": build}}]
        return spans
    return _store(tmp_path, {"a": [conv(i, "a") for i in (1, 2)],
                             "b": [conv(i, "b") for i in (1, 2)]})


def test_no_outcome_mapped_names_the_attributes_that_could_be_one(tmp_path):
    """The refusal said "map an outcome attribute they carry ... --reward-attr NAME" and
    named none, though both runs carry one (session 15 review, M7)."""
    st = _unmapped(tmp_path)
    res = CliRunner().invoke(cli, ["--store", st, "gate", "a", "b"])
    assert res.exit_code == 2, res.output
    assert "have no task scored on both sides" in res.output, res.output
    assert "outcome values on both runs: eval.score" in res.output, res.output
    assert "app.rating" not in res.output   # 4 is no reward in [0, 1]


async def test_the_gate_screen_shows_the_whole_refusal_at_80x24(tmp_path):
    """The app's gate screen cut the refusal to three lines (the rest behind a scroll bar,
    above twenty empty ones): the attribute to map was off the screen."""
    from tui_fixture import screen_lines, settle, wait_for

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    st = _unmapped(tmp_path)
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(GateScreen("a", "b"))
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.refusal is not None)
        await settle(pilot)
        shown = " ".join(ln.strip() for ln in screen_lines(app))
    assert "--reward-attr NAME" in shown and "eval.score" in shown, shown


@pytest.mark.parametrize("a, b, convs", [
    # the reviewer's files (their conversation ids), and longer names and ids
    ("notask_a", "notask_b", lambda run: [_conversation(i, conv=f"{run}.jsonlconv-{i}")
                                          for i in range(6)]),
    ("support_bot_production_traces_week_01", "support_bot_production_traces_week_02",
     lambda run: [_conversation(i) for i in range(10**15 * int(run[-1]),
                                                  10**15 * int(run[-1]) + 8)]),
])
async def test_a_long_refusal_is_shown_whole_at_80x24(tmp_path, a, b, convs):
    """The screen kept room for the task table's header and four rows under a refusal, which
    has none; and a refusal one line longer once a scroll bar narrowed it kept the bar and
    stayed cut by that line: its last words (what to do) hidden, above empty rows."""
    from tui_fixture import screen_lines, settle, wait_for

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.runs import RunsScreen
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    st = _store(tmp_path, {a: convs(a), b: convs(b)})
    app = make_app(st, load_config=False, poll_interval=0, remember=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await settle(pilot)
        await pilot.press("b", "down", "c", "G")   # as a person gates a pair
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.refusal is not None)
        await settle(pilot)
        gate = app.screen
        lines, refusal = screen_lines(app), gate.refusal
        # a terminal's timing: the words arrived under an earlier, smaller cap (a scroll bar
        # showed), then the screen fitted them
        gate.query_one("#gate-verdict-box").styles.max_height = 3
        await settle(pilot)
        gate._fit()
        await settle(pilot)
        after = screen_lines(app)
    assert refusal.endswith("import them again"), refusal
    for seen in (lines, after):
        shown = " ".join(ln.strip() for ln in seen)
        assert "import them again" in shown, "\n".join(seen)
        assert f"pair: runs {a}" in shown, "\n".join(seen)   # from its first words
