"""A store full of hostile names, through every CLI command and every screen: no escape
sequence or C1 control from the data ever reaches the terminal (issue 11, security 1).

Task ids, tool names, run names, candidate names and message text carry an OSC 52 clipboard
write, an OSC 0 window title, SGR colours and 8-bit C1 controls."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from test_store_data import make_results, write_json

from store.hidden import typeable_name
from t2e_tui.cli.main import cli

OSC52 = "\x1b]52;c;SEVMTE8=\x07"
TITLE = "\x1b]0;pwned\x07"
SGR = "\x1b[5;38;5;199m"
C1 = "\x9b31m\x9d0;c1title\x9c\x85"
H = OSC52 + TITLE + SGR + C1  # every kind at once
# what must never be in any output: ESC, C1 (as characters; the 8-bit forms included)
UNSAFE = re.compile("[\x1b\x80-\x9f]")


def hostile_results(policy: str = "# Policy\nbe nice") -> dict:
    src = make_results(4)
    ids = {t["id"]: f"T{t['id']}{H}" for t in src["tasks"]}
    for t in src["tasks"]:
        t["id"] = ids[t["id"]]
        for a in t["evaluation_criteria"]["actions"]:
            a["name"] = a["name"] + H
    for s in src["simulations"]:
        s["task_id"] = ids[s["task_id"]]
        for m in s["messages"]:
            for c in m.get("tool_calls") or []:
                c["name"] = c["name"] + H
            if m.get("content"):
                m["content"] = m["content"] + " hostile " + H
        for c in s["reward_info"]["action_checks"]:
            c["action"]["name"] += H
    src["info"]["environment_info"]["policy"] = policy
    src["info"]["agent_info"]["llm"] = "agent" + H
    return src


def check(r, *, allow_fail: bool = True) -> None:
    out = r.stdout + (r.stderr or "")
    assert r.exit_code != 70, out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    bad = UNSAFE.search(out)
    assert bad is None, f"{bad.group()!r} at {bad.start()}: {out[max(0, bad.start() - 80):bad.start() + 40]!r}"
    if not allow_fail:
        assert r.exit_code == 0, out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(store path, run ids, episode ids, files) of a store built from hostile files."""
    d = tmp_path_factory.mktemp("hostile")
    a = write_json(d / "a.json", hostile_results())
    b_src = hostile_results()
    b_src["simulations"][3]["reward_info"]["reward"] = 1.0
    b = write_json(d / "b.json", b_src)
    other = write_json(d / "other-world.json", hostile_results("# Policy\nanother world"))
    store = str(d / "h.sqlite")
    runner = CliRunner()
    runs = []
    for i, f in enumerate((a, b, other)):
        # the run's name from a hostile file name (`--name` refuses control characters)
        named = f.rename(d / (f"run{H}" + ("", "~b", "~o")[i] + ".json"))
        r = runner.invoke(cli, ["--store", store, "import", str(named), "--json"])
        assert r.exit_code == 0, r.output
        runs.append(json.loads(r.stdout)["imported"][0]["run_id"])
    import store as st
    db = st.open_db(store)
    eps = [e for (e,) in db.conn.execute("SELECT episode_id FROM episodes ORDER BY episode_id")]
    db.conn.close()
    cand = d / "cand.md"
    cand.write_text(f"---\nname: cand-h\nhypothesis: h{H}\n---\nBe careful {H}\n")
    return store, runs, eps, {"a": d / f"run{H}.json", "cand": cand, "dir": d}


def test_every_cli_command_keeps_escapes_off_the_terminal(hostile):
    store, (ra, rb, rother), eps, files = hostile
    cands = str(files["dir"] / "cands")
    runner = CliRunner()

    def run(*args, **kw):
        r = runner.invoke(cli, ["--store", store, *args])
        check(r, **kw)
        return r

    for js in ([], ["--json"]):
        run("runs", *js, allow_fail=False)
        run("episodes", ra, *js, allow_fail=False)
        run("show", str(eps[0]), *js, allow_fail=False)
        run("show", str(eps[0]), "--full", *js, allow_fail=False)
        run("show", str(eps[0]), "--vs", str(eps[5]), *js, allow_fail=False)
        run("show", str(eps[0]), "--vs", str(eps[-1]), *js, allow_fail=False)  # other world
        run("show", f"{ra}:T0{H}", *js)
        run("show", f"nope{H}", *js)
        run("search", "hostile", *js, allow_fail=False)
        run("search", "hostile", "--rank", "--run", ra, *js, allow_fail=False)
        run("gate", ra, rother, *js)  # different worlds: an error quoting the run names
        run("gate", ra, rb, *js)
        run("scoreboard", *js, allow_fail=False)
        run("import", str(files["a"]), *js, allow_fail=False)  # duplicate: its path again
        run("score", str(files["a"]), *js)
        run("tasks", *js, allow_fail=False)
        run("models", *js, allow_fail=False)
        run("world", "hash", *js)
        run("world", "verify", *js)
        run("locate", "store", *js)
        run("run", "--tasks", f"T0{H}", "--num-tasks", "1", *js)  # unknown task quoted back
        run("runs", "role", ra, "development", *js, allow_fail=False)
        run("candidate", "save", str(files["cand"]), "--candidates", cands, *js)
        run("candidate", "save", str(files["cand"]), "--name", f"c{H}", "--candidates", cands,
            *js)  # a hostile name is refused, quoted back
        run("candidate", "log", *js, allow_fail=False)
        run("candidate", "diff", "cand-h", "--candidates", cands, *js)
        run("decide", "1", "discard", *js)
        run("export", ra, "--format", "jsonl", *js)
        run("export", ra, *js)
    run("runs", "rename", rb, "renamed" + H)  # refused, the name quoted back cleanly
    run("runs", "rename", rb, "renamed", allow_fail=False)
    run("ablate", "cand-h", "--candidates", cands, "--tasks", f"T0{H}")
    run("runs", "rm", rb, allow_fail=False)


def test_json_output_stays_exact(hostile):
    """The output streams escape what they must as \\uXXXX: JSON still carries every character."""
    store, (ra, *_), eps, _ = hostile
    r = CliRunner().invoke(cli, ["--store", store, "runs", "--json"])
    check(r, allow_fail=False)
    names = {r["name"] for r in json.loads(r.stdout)}  # (another test removes a run)
    # a name taken from a file name is stored as shown, typeable (test_run_names_typeable)
    shown = {typeable_name(f"run{H}" + s) for s in ("", "~b", "~o")}
    assert typeable_name(f"run{H}") in names and names <= shown and "pwned" not in str(names)
    r = CliRunner().invoke(cli, ["--store", store, "show", str(eps[0]), "--json"])
    check(r, allow_fail=False)
    doc = json.loads(r.stdout)
    assert doc["task_id"] == "T0" + H
    r = CliRunner().invoke(cli, ["--store", store, "export", ra])
    check(r, allow_fail=False)
    assert json.loads(r.stdout)["simulations"][0]["task_id"] == "T0" + H


def _drawn(app) -> str:
    """Everything the current screen would write to the terminal, in full."""
    update = app.screen._compositor.render_update(full=True)
    return update.render_segments(app.console)


def _assert_clean(app, where: str) -> None:
    out = _drawn(app)
    # Textual's own sequences are CSI (cursor moves, SGR); nothing else may carry an ESC
    leftover = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert "\x1b" not in leftover, f"{where}: {leftover[leftover.index(chr(27)) - 40:][:80]!r}"
    assert SGR not in out, where
    assert not re.search("[\x80-\x9f]", out), where
    assert "pwned" not in app.title and all(
        UNSAFE.search(str(s.title or "") + str(s.sub_title or "")) is None
        for s in app.screen_stack), where


async def test_every_screen_keeps_escapes_off_the_terminal(hostile, tmp_path):
    from tui_fixture import settle

    from t2e_tui.ui.app import make_app
    from t2e_tui.ui.screens import workbench_hooks

    store, (ra, rb, _), eps, files = hostile
    app = make_app(store, load_config=False, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        _assert_clean(app, "runs")
        await pilot.press("b", "down", "c", "enter")
        await settle(pilot)
        _assert_clean(app, "tasks")
        app.notify(f"task T0{H}: hostile notice", title="t" + H)
        await settle(pilot)
        _assert_clean(app, "notice")
        await pilot.press("enter")
        await settle(pilot)
        _assert_clean(app, "compare")
        await pilot.press("x")
        await settle(pilot)
        _assert_clean(app, "compare expanded")
        await pilot.press("f1")
        await settle(pilot)
        _assert_clean(app, "help")
        await pilot.press("escape")
        app.open_runs()
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"hostile", "enter")
        await settle(pilot)
        _assert_clean(app, "search")
        app.open_runs()
        await settle(pilot)
        app.open_tasks(ra, None)
        await settle(pilot)
        _assert_clean(app, "tasks vs gold")
        app.baseline_run, app.candidate_run = ra, rb
        for name in ("edit", "rerun", "gate", "lineage"):
            app.open_runs()
            await settle(pilot)
            workbench_hooks.open(app, name)
            await settle(pilot)
            _assert_clean(app, name)


def test_show_full_streams_a_long_field_whole_and_clean(tmp_path):
    """`--full` writes a field over the streaming threshold in chunks: every line, indented,
    controls stripped, nothing lost at the chunk edges (bench/show_full.py times it)."""
    from store import writer
    from store.db import open_db
    from t2e_tui.cli import episodes as cli_episodes

    lines = [f"line {i} " + ("x" * (i % 97)) + (H if i % 5000 == 0 else "")
             for i in range(40_000)]
    body = "\r\n".join(lines)
    assert len(body) > 2 * cli_episodes._CHUNK  # several chunks
    path = tmp_path / "s.sqlite"
    db = open_db(path)
    with writer.transaction(db):
        writer.ensure_world(db, "w", kind="import", domain="retail")
        rid = writer.create_run(db, name="big", world_id="w", domain="retail", run_id="rbig")
    eid = writer.begin_episode(db, rid, episode_key="t:0", task_id="t", trial=0, ord=0)
    writer.append_step(db, eid, 0, {"role": "user", "content": body})
    writer.finish_episode(db, eid, termination_reason="user_stop", reward_info={"reward": 1.0})
    r = CliRunner().invoke(cli, ["--store", str(path), "show", str(eid), "--full"])
    check(r, allow_fail=False)
    out = r.stdout.splitlines()
    start = next(i for i, x in enumerate(out) if x.startswith("  0 user")) + 1
    shown = out[start:start + len(lines)]
    from t2e_tui.textsafe import strip_controls
    assert shown == ["    " + strip_controls(x) for x in lines]
