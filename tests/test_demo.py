"""`t2e demo`: a real store built by the engine and the gate (scripted stand-in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store import connect
from t2e_tui.demo import build_demo


def test_demo_store_holds_a_promoted_and_a_discarded_candidate(tmp_path):
    s = build_demo(tmp_path / "demo.sqlite")
    by = {c["name"]: c for c in s["candidates"]}
    fix, harm = by["cross-order-v1"], by["skip-confirm-v1"]
    assert fix["decision"] == "promote" and fix["human"] == "promote"
    assert fix["fixes"] >= 6 and fix["regressions"] == 0 and fix["evidence_role"] == "heldout"
    assert harm["decision"] == "discard" and harm["human"] == "discard"
    assert harm["regressions"] >= 1
    conn = connect(tmp_path / "demo.sqlite")
    rows = conn.execute("SELECT g.candidate_name, g.decision, h.decision FROM gate_decisions g "
                        "JOIN human_decisions h USING (row_id) ORDER BY g.row_id").fetchall()
    assert [(r[1], r[2]) for r in rows] == [("promote", "promote"), ("discard", "discard")]
    assert conn.execute("SELECT count(*) FROM candidates").fetchone()[0] == 3
    # 4 mini-retail runs + the negative control's 2 mini-airline transfer runs
    assert conn.execute("SELECT count(DISTINCT run_id) FROM runs").fetchone()[0] == 6


def test_demo_negative_control_is_rejected_on_transfer(tmp_path):
    """The candidate promoted on mini-retail heldout, rerun on mini-airline (role transfer):
    the gate discards it, names the regressing tasks (the stale-record class), and the
    scoreboard rows of that candidate say so."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    from t2e_tui.gate.transfer import TRANSFER_FLAG

    s = build_demo(tmp_path / "demo.sqlite")
    tr = s["transfer"]
    assert tr["name"] == "cross-order-v1" and tr["domain"] == "mini-airline"
    assert tr["decision"] == "discard" and tr["evidence_role"] == "transfer"
    assert len(tr["regressions"]) >= 6
    assert all(t.startswith("air-bags-") for t in tr["regressions"])
    assert tr["note"].startswith(TRANSFER_FLAG)
    conn = connect(tmp_path / "demo.sqlite")
    domains = dict(conn.execute("SELECT run_id, domain FROM runs WHERE role = 'transfer'"))
    assert set(domains.values()) == {"mini-airline"} and len(domains) == 2
    out = CliRunner().invoke(cli, ["--store", str(tmp_path / "demo.sqlite"), "scoreboard",
                                   "--json"])
    rows = json.loads(out.output)
    flagged = {r["row"] for r in rows if "rejected on transfer" in (r["transfer"] or "")}
    assert flagged == {1, tr["row"]}  # the heldout promote row and the transfer row
    # each told from itself: the heldout row carries the flag, the transfer row cites row 1
    assert rows[0]["transfer"].startswith(TRANSFER_FLAG)
    assert rows[tr["row"] - 1]["transfer"].endswith("promoted on heldout (row 1, mini-retail)")
    human = CliRunner().invoke(cli, ["--store", str(tmp_path / "demo.sqlite"), "scoreboard"])
    assert "promoted on heldout, rejected on transfer" in human.output


@pytest.mark.slow
def test_demo_cli_rebuilds_default_store_and_labels_stand_in(tmp_path):
    env = dict(os.environ)
    env.pop("T2E_STORE")   # neither --store nor T2E_STORE: the demo's own store
    cmd = [sys.executable, "-m", "t2e_tui.cli", "demo", "--no-open"]
    p1 = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p1.returncode == 0, p1.stderr
    assert "STAND-IN" in p1.stdout
    assert "cross-order-v1: promoted on heldout, rejected on transfer" in p1.stdout
    path = p1.stdout.splitlines()[0].split(": ", 1)[1]
    assert path.startswith(str(tmp_path / "xdg-data"))  # the default demo store
    p2 = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env)
    d = json.loads(p2.stdout)
    assert d["store"] == path
    conn = connect(path)  # rebuilt, not appended to
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 3


def test_demo_refuses_an_existing_explicit_store(tmp_path):
    target = tmp_path / "mine.sqlite"
    target.write_bytes(b"")
    p = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(target), "demo",
                        "--no-open"], capture_output=True, text=True)
    assert p.returncode == 2 and "already exists" in p.stderr
    # the suggested command is one that works (--store is the root's option, before `demo`)
    assert "t2e demo --store" not in p.stderr and "`t2e --store NEW.sqlite demo`" in p.stderr
    fresh = tmp_path / "new.sqlite"
    ok = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(fresh), "demo",
                         "--no-open"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert target.read_bytes() == b""  # the existing file was left alone


def test_demo_builds_at_t2e_store_and_never_replaces_another_store_there(tmp_path,
                                                                          monkeypatch):
    """`t2e demo` rebuilt the default demo store whatever T2E_STORE said, though every other
    command works on the store T2E_STORE names: the demo then opened on a store the next
    command does not read. It now takes its store by the same rule (--store, else
    $T2E_STORE, else its own default), rebuilds there a store that `t2e demo` built, and
    refuses, leaving it as it was, any other store at that path."""
    from click.testing import CliRunner

    from t2e_tui.cli import cli
    from t2e_tui.paths import demo_store

    target = tmp_path / "ci" / "env.sqlite"
    monkeypatch.setenv("T2E_STORE", str(target))

    def demo(*args):
        return CliRunner().invoke(cli, [*args, "demo", "--no-open", "--json"])
    first = demo()
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["store"] == str(target) and not demo_store().exists()
    again = demo()   # a demo store there: rebuilt, not appended to
    assert again.exit_code == 0, again.output
    conn = connect(target)
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 3
    conn.close()
    # a working store at the path T2E_STORE names: refused, left as it was
    work = tmp_path / "work.sqlite"
    import store

    store.open_db(work).conn.close()
    monkeypatch.setenv("T2E_STORE", str(work))
    before = work.read_bytes()
    res = demo()
    assert res.exit_code == 2, res.output
    said = json.loads(res.stdout)["error"]
    assert said.startswith(f"{work} (named by $T2E_STORE): already exists and is not a demo "
                           "store"), said
    assert "`t2e --store NEW.sqlite demo`" in said and "`env -u T2E_STORE t2e demo`" in said
    assert work.read_bytes() == before and not (tmp_path / "work-candidates").exists()
    # --store wins over T2E_STORE, as for every command
    flag = tmp_path / "flag.sqlite"
    res = demo("--store", str(flag))
    assert res.exit_code == 0 and json.loads(res.stdout)["store"] == str(flag), res.output


def test_demo_candidates_folder_is_the_stores_own(tmp_path, monkeypatch):
    """Versions saved on a demo store go to its own candidates folder (printed), never to the
    user's ./candidates; `t2e candidate save` follows the same rule as the app."""
    from t2e_tui.demo import DEMO_MARKER, store_candidates_dir

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "d" / "demo.sqlite"
    p = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(store), "demo",
                        "--no-open"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    own = tmp_path / "d" / "demo-candidates"
    assert f"candidates folder: {own}" in p.stdout
    assert store_candidates_dir(store) == own and (own / DEMO_MARKER).is_file()
    assert store_candidates_dir(tmp_path / "other.sqlite") is None
    draft = tmp_path / "draft.md"
    draft.write_text("---\nname: cross-order-v2\nparent: cross-order-v1\n---\n- Be brief.\n")
    s = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store", str(store), "candidate",
                        "save", str(draft), "-m", "brevity", "--json"],
                       capture_output=True, text=True)
    assert s.returncode == 0, s.stderr
    assert json.loads(s.stdout)["path"] == str(own / "cross-order-v2.md")
    assert not (tmp_path / "candidates").exists()


def test_demo_refuses_to_rebuild_a_store_an_app_has_open(tmp_path):
    """`t2e demo` used to delete and rebuild the store under an open app (stale ids, empty
    screens, no warning). While an app holds the store, the rebuild is refused and the store
    is left as it was."""
    from store import StoreError
    from store.inuse import hold_open, identity
    from t2e_tui.demo import build_demo

    path = tmp_path / "demo.sqlite"
    build_demo(path, concurrency=2)
    before = (identity(path), path.read_bytes())
    app_lock = hold_open(path)  # what the app takes while it runs
    try:
        with pytest.raises(StoreError, match="open in a t2e app"):
            build_demo(path, concurrency=2)
        assert (identity(path), path.read_bytes()) == before
    finally:
        app_lock.close()
    build_demo(path, concurrency=2)  # once the app is gone, it rebuilds


async def test_an_app_whose_store_was_replaced_says_so(tmp_path):
    """The app remembers which file it opened; a store replaced under it is named, not shown
    as silently stale data. It also shows which store it has open, and lets go of it."""
    from textual.widgets import Static

    import store
    from store.inuse import hold_for_rebuild
    from t2e_tui.ui.app import make_app

    path = tmp_path / "work.sqlite"
    store.open_db(path).conn.close()
    app = make_app(path, load_config=False, poll_interval=0)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert "work.sqlite" in str(app.screen.query_one("#runs-title", Static).render())
        assert not app.check_store()
        path.unlink()
        store.open_db(path).conn.close()  # a new file at the same path
        assert app.check_store()
        await pilot.pause()
        assert "replaced" in str(app.screen.query_one("#runs-title", Static).render()).lower()
        assert any("replaced" in n.message for n in app._notifications)
    hold_for_rebuild(path).close()  # the app let go of the store when it quit


def _normalised_rows(path: str, folder: str) -> dict[str, list]:
    """Every table's rows with what differs between two builds of the demo by design put
    aside: run ids (random; numbered in creation order), times and durations, the store's
    own folder, and what is derived from times (the gate rows' fingerprint, the FTS size
    copy's fingerprint)."""
    import sqlite3

    db = sqlite3.connect(path)
    ids = [r[0] for r in db.execute("SELECT run_id FROM runs ORDER BY rowid")]
    timed = {"start_time", "end_time", "timestamp", "duration", "latency_ms", "fingerprint"}

    def untimed(v):
        if isinstance(v, dict):
            return {k: untimed(x) for k, x in v.items() if "duration" not in k
                    and "latency" not in k}
        return [untimed(x) for x in v] if isinstance(v, list) else v

    def fix(col, v):
        if col.endswith("_at") or col in timed:
            return "<volatile>"
        if col == "metrics_json":
            v = json.dumps(untimed(json.loads(v)), sort_keys=True)
        if isinstance(v, str):
            for i, r in enumerate(ids):
                v = v.replace(r, f"RUN{i}")
            v = v.replace(folder, "<folder>")
        return v

    out = {}
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                              "NOT LIKE 'steps_fts%' AND name NOT LIKE 'sqlite_%' AND name != "
                              "'fts_sizes'"):
        cur = db.execute(f'SELECT * FROM "{name}"')
        cols = [d[0] for d in cur.description]
        out[name] = sorted((tuple(fix(c, v) for c, v in zip(cols, row)) for row in cur),
                           key=repr)
    db.close()
    return out


def test_a_copied_demo_store_holds_what_a_build_there_holds(tmp_path, new_demo):
    """Tests take copies of one demo store built per session (tests/demo_store.py): a copy
    holds the rows a build at its path holds, ids and times aside, and its candidates folder
    is its own (the files' paths in the store point into it)."""
    from t2e_tui.demo import store_candidates_dir

    built = build_demo(tmp_path / "built" / "demo.sqlite")
    copied = new_demo(tmp_path / "copied" / "demo.sqlite")
    assert copied["store"] == str(tmp_path / "copied" / "demo.sqlite")
    assert {k: v for k, v in copied.items() if k not in ("store", "candidates_dir", "runs",
                                                         "candidates", "transfer", "seconds")} \
        == {k: v for k, v in built.items() if k not in ("store", "candidates_dir", "runs",
                                                        "candidates", "transfer", "seconds")}
    assert [{k: v for k, v in c.items() if k not in ("run_id", "row")}
            for c in copied["candidates"]] == [
        {k: v for k, v in c.items() if k not in ("run_id", "row")} for c in built["candidates"]]
    rows_b = _normalised_rows(built["store"], built["candidates_dir"])
    rows_c = _normalised_rows(copied["store"], copied["candidates_dir"])
    assert rows_b.keys() == rows_c.keys() and rows_b["episodes"] and rows_b["steps"]
    for table in rows_b.keys() - {"demo_build"}:   # (digests of rows: ids and times inside)
        assert rows_c[table] == rows_b[table], table
    # the demo's record of what it made is the copy's own: the copy holds no work of a user
    from t2e_tui.demo_work import changes

    assert changes(Path(copied["store"]), Path(copied["candidates_dir"])) == {}
    conn = connect(copied["store"])
    paths = [p for (p,) in conn.execute("SELECT path FROM candidates ORDER BY saved_at")]
    assert len(paths) == 3
    folder = store_candidates_dir(copied["store"])
    assert folder == Path(copied["candidates_dir"])
    for p in paths:
        assert Path(p).parent == folder and Path(p).is_file()
        assert Path(p).read_text() == (Path(built["candidates_dir"]) / Path(p).name).read_text()
