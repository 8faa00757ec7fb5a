"""Trace-derived text (task ids, run names, reasons) is shown as typed on every screen: never
read as Rich/Textual markup, a newline shown as ⏎ instead of breaking the line, an OSC sequence
removed whole (its payload too), a tab never cutting the text after it.

The store is two JSON Lines runs whose task ids and run names carry markup, raw newlines, tabs,
runs of spaces, a bidi override and an OSC title sequence. Each id starts with a marker
(`Qz1`...), so wherever a marker is drawn, what follows it must be the id's one-line form
(`textsafe.one_line`), or a prefix of it cut with `…`."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from textual.widgets import Input
from tui_fixture import palette_shows, settle, wait_for

from t2e_tui.cli.main import cli
from t2e_tui.textsafe import one_line

OSC = "\x1b]0;TITLE\x07"
TASKS = ["Qz1[bold red]x[/]", "Qz2[link=http://evil.example]click[/link]", "Qz3t\nnl",
         "Qz4tab\tx", "Qz5sp  two ", "Qz6bidi\u202eevil"]
RUNS = {"A": "Rz1[b]runA[/b]" + OSC, "B": "Rz2[link=http://e.x]runB[/link]" + OSC}
SHOWN = {re.match(r"[QR]z\d", s).group(): re.sub(r"\s+", "", one_line(s, 10_000))
         for s in [*TASKS, *RUNS.values()]}


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("untrusted")
    files = []
    for run, reward in (("A", 1), ("B", 0)):
        f = d / f"{run}.jsonl"
        f.write_text("".join(json.dumps({
            "run": RUNS[run], "task_id": t, "trial": 0, "termination_reason": "user_stop",
            "reward": reward, "messages": [{"role": "user", "content": f"hello {t}"},
                                           {"role": "assistant", "content": "hostile reply"}]})
            + "\n" for t in TASKS))
        files.append(str(f))
    store = str(d / "s.sqlite")
    r = CliRunner().invoke(cli, ["--store", store, "import", *files, "--json"])
    assert r.exit_code == 0, r.output
    runs = [x["run_id"] for x in json.loads(r.stdout)["imported"]]
    return store, runs


# box drawing and block elements: borders and scrollbars between a wrapped line and the next
_FRAME = re.compile("[\u2500-\u259f]")


def widget_texts(app) -> tuple[list[tuple[str, bool]], list]:
    """The text each innermost visible widget draws (its own region of the screen's lines,
    frames removed: a wrapped line goes on in the same widget), with whether its scrolling
    container cuts it off below (its text goes on out of view), and the screen's strips."""
    strips = app.screen._compositor.render_strips()
    lines = ["".join(seg.text for seg in strip) for strip in strips]
    shown = app.screen._compositor.visible_widgets
    parents = {a for w in shown for a in w.ancestors}
    out = []
    for w, (region, clip) in shown.items():
        if w in parents or isinstance(w, Input):  # what the user typed is no id
            continue
        r = region.intersection(clip)
        out.append(("\n".join(_FRAME.sub(" ", line[r.x:r.right])
                              for line in lines[r.y:r.bottom]), region.bottom > clip.bottom))
    return out, strips


def assert_literal(app, where: str) -> str:
    """Every marker drawn on the screen is followed by its id as typed (one line); no link
    style, no OSC payload. Returns the screen's text."""
    texts, strips = widget_texts(app)
    text = "\n".join("".join(seg.text for seg in strip) for strip in strips)
    for part, cut_below in texts:
        flat = re.sub(r"\s+", "", part)
        for marker, shown in SHOWN.items():
            for m in re.finditer(marker, flat):
                drawn = flat[m.start():m.start() + len(shown)]
                cut = drawn.find("…")
                if cut < 0 and cut_below and m.start() + len(shown) > len(flat):
                    cut = len(drawn)  # wrapped onto the next row, scrolled out of view
                ok = shown.startswith(drawn[:cut]) if cut >= 0 else drawn == shown
                assert ok, f"{where}: {shown!r} drawn as {drawn!r}\n{part}\n\n{text}"
    assert "TITLE" not in text and "]0;" not in text, f"{where}: OSC remnant\n{text}"
    links = [seg.text for strip in strips for seg in strip if seg.style and seg.style.link]
    assert not links, f"{where}: markup made a link of {links}"
    return text


SIZES = [(160, 48), (80, 24)]


@pytest.mark.parametrize("size", SIZES)
async def test_every_screen_shows_hostile_ids_and_names_as_typed(hostile_store, size):
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.compare import CompareScreen
    from t2e_tui.ui.screens.failures import FailuresScreen
    from t2e_tui.ui.screens.tasks import TasksScreen
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    store, (ra, rb) = hostile_store
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        seen = assert_literal(app, "runs")
        assert "Rz1" in seen and "Rz2" in seen
        await pilot.press("b", "down", "c")
        await settle(pilot)
        assert (app.baseline_run, app.candidate_run) == (ra, rb)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TasksScreen))
        await settle(pilot)
        assert "Qz1" in assert_literal(app, "tasks")
        await pilot.press("g")          # the go-to-task palette lists the ids
        await palette_shows(pilot, "Qz")
        assert "Qz1" in assert_literal(app, "task palette")
        await pilot.press(*"Qz2")
        await palette_shows(pilot, "Qz2")
        assert "Qz2" in assert_literal(app, "task palette search")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await settle(pilot)
        assert_literal(app, "compare")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("R")          # the rerun launcher on the tasks shown
        await settle(pilot)
        assert_literal(app, "launcher")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FailuresScreen))
        await settle(pilot)
        assert "Rz2" in assert_literal(app, "failures")
        for view in ("2", "3"):
            await pilot.press(view)
            await settle(pilot)
            assert_literal(app, f"failures {view}")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen))
        await wait_for(pilot, lambda: app.screen.result is not None)
        await settle(pilot)
        gate = assert_literal(app, "gate")
        assert "Qz1" in gate
        for name in ("L", "e"):
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press(name)
            await settle(pilot)
            assert_literal(app, name)


async def test_gate_reasons_keep_one_line_per_reason(hostile_store):
    """The reason lines quote task ids: a newline in an id no longer starts a new line."""
    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens.workbench_gate import GateScreen

    store, (ra, rb) = hostile_store
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        app.baseline_run, app.candidate_run = ra, rb
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen)
                       and app.screen.result is not None)
        await settle(pilot)
        lines = assert_literal(app, "gate").splitlines()
        # every line that shows an id's start shows its end too
        for line in lines:
            if "Qz3t" in line:
                assert "Qz3t ⏎ nl" in line, line
        assert not any(line.strip().startswith("nl") for line in lines)


# --- the sources: no interpolated str reaches an API that reads markup ------------------------

UI = __import__("pathlib").Path(__file__).resolve().parents[1] / "t2e_tui" / "ui"
# calls that read a str argument as markup (Static/Label content, Static.update, titles)
MARKUP_CALLS = {"Static", "Label", "update", "Button", "from_markup"}


def _interpolated(node) -> bool:
    """An f-string with a value in it, a str concatenation or a .format() call."""
    import ast

    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return any(isinstance(x, (ast.JoinedStr, ast.Constant)) and
                   not isinstance(getattr(x, "value", None), (int, float))
                   or _interpolated(x) for x in (node.left, node.right))
    if isinstance(node, ast.IfExp):
        return _interpolated(node.body) or _interpolated(node.orelse)
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format" and isinstance(node.func.value, ast.Constant))


def test_no_screen_hands_interpolated_text_to_a_markup_api():
    """Static("…{name}…"), widget.update(f"…"), Label(a + b) read their text as markup: a
    run name or task id in it is interpreted. Build a Text (`ui/plain.py`) instead. And every
    table is a PlainDataTable, whose str cells are plain text."""
    import ast

    found = []
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            where = f"{path.relative_to(UI)}:{node.lineno}"
            if name in MARKUP_CALLS and node.args and _interpolated(node.args[0]):
                found.append(f"{where} {name}(...)")
            if name == "DataTable" and path.name != "datatable.py":
                found.append(f"{where} DataTable(...): use widgets/datatable.PlainDataTable")
    assert not found, "\n".join(found)
