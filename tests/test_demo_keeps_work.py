"""`t2e demo` again never deletes what was made in the demo store (a newcomer's review: save a
version in the app, quit, `t2e demo`: the version, its file, labels and gate rows were gone,
silently). A demo store holding work is opened as it is; `--fresh` starts over and moves the
old store and its candidates folder aside first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from store import connect
from t2e_tui.cli import cli


def _demo(store: Path, *args: str):
    res = CliRunner().invoke(cli, ["--store", str(store), "demo", "--no-open", *args])
    assert res.exit_code == 0, res.output
    return res


def _save_in_app_way(store: Path, name: str = "cross-order-v9") -> Path:
    """What the app's editor does on save (workbench_editor._save_as): save_version into the
    store's own candidates folder (workbench_context.candidates_dir_for: the demo's)."""
    from t2e_tui.candidate_versions import candidate_from_text, get_version, save_version
    from t2e_tui.demo import store_candidates_dir

    conn = connect(store)
    try:
        parent = get_version(conn, "cross-order-v1")
        cand = candidate_from_text(parent.body + "\n- Always say which order you mean.\n",
                                   name=name, parent=None)
        res = save_version(conn, cand, hypothesis="name the order", parent_ref=parent.hash,
                           name=name, candidates_dir=store_candidates_dir(store))
    finally:
        conn.close()
    return Path(res.version.path)


def _counts(store: Path) -> dict:
    conn = connect(store)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("candidates", "labels", "gate_decisions", "runs")}
    finally:
        conn.close()


def test_demo_again_keeps_a_saved_version_and_a_label(tmp_path):
    store = tmp_path / "demo.sqlite"
    _demo(store)
    saved = _save_in_app_way(store)
    conn = connect(store)
    eid = conn.execute("SELECT episode_id FROM episodes ORDER BY episode_id LIMIT 1"
                       ).fetchone()[0]
    conn.close()
    lab = CliRunner().invoke(cli, ["--store", str(store), "label", str(eid), "wrong_args",
                                   "--note", "mine"])
    assert lab.exit_code == 0, lab.output
    before = _counts(store)
    assert before["candidates"] == 4 and before["labels"] == 1

    again = _demo(store)
    assert saved.is_file(), "the saved version's file was deleted"
    assert _counts(store) == before
    out = again.output
    assert "kept as it is" in out
    assert "1 candidate version added (cross-order-v9)" in out and "1 label added" in out
    assert f"to start over: t2e --store {store} demo --fresh" in out  # typeable as printed

    as_json = json.loads(_demo(store, "--json").stdout)
    assert as_json["kept"] is True
    assert as_json["work"]["candidates"]["added"] == 1 and as_json["work"]["labels"] == {
        "added": 1, "changed": 0, "removed": 0, "names": []}


@pytest.mark.slow
def test_fresh_moves_the_old_store_and_folder_aside(tmp_path):
    store = tmp_path / "demo.sqlite"
    _demo(store)
    _save_in_app_way(store)
    res = json.loads(_demo(store, "--fresh", "--json").stdout)
    backup = Path(res["backup"])
    assert backup.parent == tmp_path and backup.name.startswith("demo-backup-")
    assert (backup / "demo-candidates" / "cross-order-v9.md").is_file()
    old = connect(backup / "demo.sqlite")
    assert old.execute("SELECT count(*) FROM candidates WHERE name = 'cross-order-v9'"
                       ).fetchone()[0] == 1
    old.close()
    # the new demo holds the demo's own work only, and its folder the demo's files
    assert res["kept"] is False and _counts(store)["candidates"] == 3
    assert not (tmp_path / "demo-candidates" / "cross-order-v9.md").exists()
    human = _demo(store, "--fresh").output  # nothing of the user's in it: no backup
    assert "backup" not in human.lower()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("demo-backup-")) == [
        backup.name]


def test_an_untouched_or_only_browsed_demo_store_is_rebuilt(tmp_path):
    """Looking (read commands, the failure cache, evidence views) is not work: the store is
    rebuilt as before, the pair it gated marked again."""
    from store.inuse import identity

    store = tmp_path / "demo.sqlite"
    _demo(store)
    conn = connect(store)
    run = conn.execute("SELECT run_id FROM runs ORDER BY created_at LIMIT 1").fetchone()[0]
    for args in (["runs"], ["scoreboard"], ["failures", "--json", run], ["candidate", "log"]):
        looked = CliRunner().invoke(cli, ["--store", str(store), *args])
        assert looked.exit_code == 0, looked.output
    from store.queries import record_view
    eid = conn.execute("SELECT episode_id FROM episodes LIMIT 1").fetchone()[0]
    record_view(conn, eid, "test")
    conn.close()
    first = identity(store)
    res = json.loads(_demo(store, "--json").stdout)
    assert res["kept"] is False and res.get("backup") is None
    assert identity(store) != first
    assert _counts(store)["gate_decisions"] == 3


def test_a_hand_edited_or_added_file_in_the_folder_is_work(tmp_path):
    store = tmp_path / "demo.sqlite"
    _demo(store)
    own = tmp_path / "demo-candidates"
    (own / "baseline.md").write_text((own / "baseline.md").read_text() + "\n- mine\n")
    (own / "draft.md").write_text("---\nname: draft\n---\n- a draft\n")
    out = _demo(store).output
    assert "kept as it is" in out
    assert "1 file in the candidates folder added, 1 changed (baseline.md, draft.md)" in out
    assert (own / "draft.md").is_file() and "- mine" in (own / "baseline.md").read_text()


def test_the_app_open_on_a_store_with_work_is_no_obstacle_but_blocks_a_fresh(tmp_path):
    from store.inuse import hold_open

    store = tmp_path / "demo.sqlite"
    _demo(store)
    _save_in_app_way(store)
    lock = hold_open(store)
    try:
        assert "kept as it is" in _demo(store).output  # opened as it is: nothing rebuilt
        res = CliRunner().invoke(cli, ["--store", str(store), "demo", "--no-open", "--fresh"])
        assert res.exit_code == 2 and "open in a t2e app" in res.output
        assert not any(p.name.startswith("demo-backup-") for p in tmp_path.iterdir())
    finally:
        lock.close()


async def test_browsing_the_demo_in_the_app_is_not_work(tmp_path):
    """The tour's looking (tasks, a compare, failures, the gate screen on the demo's pair)
    writes views, sessions and caches, none of it work: `t2e demo` rebuilds afterwards."""
    import asyncio

    from t2e_tui.demo import demo_candidates_dir
    from t2e_tui.demo_work import changes
    from t2e_tui.ui.app import make_app

    store = tmp_path / "demo.sqlite"
    await asyncio.to_thread(_demo, store)  # marks the gated pair, as the tour starts
    app = make_app(store, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("o", "enter", "escape", "f", "escape", "G"):
            await pilot.press(key)
            await pilot.pause(0.3)
        await app.workers.wait_for_complete()
    conn = connect(store)
    assert conn.execute("SELECT count(*) FROM evidence_views").fetchone()[0] > 0  # it looked
    conn.close()
    assert changes(store, demo_candidates_dir(store)) == {}
    again = await asyncio.to_thread(_demo, store, "--json")
    assert json.loads(again.stdout)["kept"] is False


def test_a_demo_store_without_a_record_is_kept_and_fresh_moves_it_aside(tmp_path):
    """A demo store built by an earlier t2e has no record of what the demo made: t2e cannot
    tell what is the user's, so it is kept; at the demo's own path a store not marked as the
    demo's (an older demo) is kept too, never rebuilt unasked."""
    import store as store_mod
    from t2e_tui.paths import demo_store

    path = tmp_path / "demo.sqlite"
    _demo(path)
    conn = connect(path)
    conn.execute("DROP TABLE demo_build")
    conn.commit()
    conn.close()
    out = _demo(path).output
    assert "kept as it is: t2e cannot tell what in it is yours" in out
    res = json.loads(_demo(path, "--fresh", "--json").stdout)
    assert res["kept"] is False and (Path(res["backup"]) / "demo.sqlite").is_file()

    own = demo_store()
    own.parent.mkdir(parents=True)
    store_mod.open_db(own).conn.close()  # unmarked, as demo stores were before the mark
    before = own.read_bytes()
    res = CliRunner(env={"T2E_STORE": None}).invoke(cli, ["demo", "--no-open"])
    assert res.exit_code == 0 and "not built by `t2e demo`" in res.output, res.output
    assert "to start over: t2e demo --fresh" in res.output
    assert own.read_bytes() == before
