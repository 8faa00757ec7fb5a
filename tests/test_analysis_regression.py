"""Regression sets: versions, export, `--tasks regression:NAME`, and the gate check that
blocks a promotion."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from store import connect
from t2e_tui.cli.main import cli


@pytest.fixture(scope="module")
def demo_rw(tmp_path_factory, demo_template):
    """A demo store of our own (these tests add regression sets to it)."""
    from demo_store import copy_demo

    return copy_demo(demo_template, tmp_path_factory.mktemp("demo-reg") / "demo.sqlite")


def t2e(store, *args):
    return CliRunner().invoke(cli, ["--store", store, *args])


def test_sets_are_versioned_and_exported(demo_rw, tmp_path):
    s = demo_rw["store"]
    base = demo_rw["runs"]["baseline"]
    out = t2e(s, "regression", "add", "v-test", f"{base}:auth-02", "--note", "first")
    assert out.exit_code == 0, out.output
    assert "v-test v1: 1 item(s)" in out.output
    out = t2e(s, "regression", "add", "v-test", f"{base}:multi-02", "--json")
    doc = json.loads(out.output)
    assert doc["version"] == 2 and [i["task_id"] for i in doc["items"]] == ["auth-02", "multi-02"]
    first = json.loads(t2e(s, "regression", "show", "v-test", "--version", "1", "--json").output)
    assert [i["task_id"] for i in first["items"]] == ["auth-02"] and first["items"][0]["note"] == "first"
    assert first["items"][0]["failure_class"] == "auth_skipped"
    assert first["items"][0]["origin_episode"] is not None
    f = tmp_path / "set.jsonl"
    assert t2e(s, "regression", "export", "v-test", "-o", str(f)).exit_code == 0
    lines = [json.loads(x) for x in f.read_text().splitlines()]
    assert [(x["set"], x["version"], x["task_id"]) for x in lines] == [
        ("v-test", 2, "auth-02"), ("v-test", 2, "multi-02")]
    listed = json.loads(t2e(s, "regression", "list", "--json").output)
    assert {"name": "v-test", "version": 2, "items": 2} == {k: v for k, v in next(
        x for x in listed if x["name"] == "v-test").items() if k != "created_at"}


@pytest.mark.parametrize("args,needle", [
    (["regression", "show", "nope"], "no set named 'nope'"),
    (["regression", "export", "nope"], "no regression set named 'nope'"),
    (["regression", "add", "x:y", "1"], "without ':'"),
    (["regression", "add", "empty"], "nothing to add"),
    (["run", "--tasks", "regression:nope"], "no regression set named 'nope'"),
])
def test_bad_regression_requests_exit_2(demo_rw, args, needle):
    out = t2e(demo_rw["store"], *args)
    assert out.exit_code == 2 and needle in out.output, out.output


def test_promoted_fixes_are_offered_and_a_failing_item_blocks_the_gate(tmp_path, new_demo):
    demo_rw = new_demo(tmp_path / "gate.sqlite")    # no other set in it: every set guards
    s = demo_rw["store"]
    promoted = next(c for c in demo_rw["candidates"] if c["decision"] == "promote")
    base = demo_rw["runs"]["baseline"]
    out = t2e(s, "regression", "add", "fixed-by-cross", "--from-gate", str(promoted["row"]), "--json")
    assert out.exit_code == 0, out.output
    items = json.loads(out.output)["items"]
    assert len(items) == promoted["fixes"] and all(i["task_id"].startswith("crossorder") for i in items)
    # the promoted candidate still passes its own fixes: the gate promotes, citing the set
    gate = json.loads(t2e(s, "gate", base, promoted["run_id"], "--json").output)
    check = next(c for c in gate["checks"] if c["name"] == "regression_set_clean")
    assert check["passed"] and "fixed-by-cross v1" in check["baseline_text"]
    assert gate["decision"] == "promote"
    # an item it fails (an auth task the baseline also fails) blocks the promotion
    conn = connect(s)
    fail = conn.execute("SELECT task_id FROM episodes WHERE run_id = ? AND task_id LIKE 'auth-%' AND"
                        " reward < 1 LIMIT 1", (promoted["run_id"],)).fetchone()[0]
    assert t2e(s, "regression", "add", "fixed-by-cross", f"{base}:{fail}").exit_code == 0
    out = t2e(s, "gate", base, promoted["run_id"], "--json")
    gate = json.loads(out.output)
    check = next(c for c in gate["checks"] if c["name"] == "regression_set_clean")
    assert not check["passed"] and check["tasks"] == [fail] and gate["decision"] == "discard"
    row = conn.execute("SELECT checks_json FROM gate_decisions WHERE row_id = ?",
                       (gate["row_id"],)).fetchone()[0]
    assert "fixed-by-cross v2" in row       # the set's version is in the scoreboard row


def test_run_on_a_regression_set(demo_rw):
    s = demo_rw["store"]
    base = demo_rw["runs"]["baseline"]
    assert t2e(s, "regression", "add", "runme", f"{base}:auth-02", f"{base}:multi-02").exit_code == 0
    out = t2e(s, "run", "--tasks", "regression:runme", "--json", "--name", "reg-run")
    assert out.exit_code == 0, out.output
    rid = json.loads(out.output)["run_id"]
    conn = connect(s)
    tasks = sorted(r[0] for r in conn.execute("SELECT task_id FROM episodes WHERE run_id = ?", (rid,)))
    assert tasks == ["auth-02", "multi-02"]
    man = json.loads(conn.execute("SELECT manifest_json FROM runs WHERE run_id = ?", (rid,)).fetchone()[0])
    assert man["task_selection"]["regression_set"] == "runme" and man["task_selection"]["version"] == 1
    assert man["task_selection"]["by"] == "outcome_filter"   # never clean heldout evidence


def test_flywheel_per_version(tmp_path, new_demo):
    from t2e_tui.analysis.flywheel import class_sparklines, flywheel

    d = new_demo(tmp_path / "fly.sqlite")
    s = d["store"]
    rows = {r["version"]: r for r in flywheel(connect(s))}
    cand = {c["name"]: c for c in d["candidates"]}
    cross, skip = rows["cross-order-v1"], rows["skip-confirm-v1"]
    assert len(cross["fixed"]) == cand["cross-order-v1"]["fixes"] and cross["regressed"] == []
    assert len(skip["regressed"]) == cand["skip-confirm-v1"]["regressions"] == 1
    # found by class: the cross-order fix removes missing writes, skipping confirmations adds
    # unconfirmed writes
    base = rows["baseline"]["found"]
    assert cross["found"]["missing_write"] < base["missing_write"]
    assert skip["found"]["unconfirmed_write"] > base["unconfirmed_write"]
    assert cross["improvement_rate"] == len(cross["fixed"]) / rows["baseline"]["failed_tasks"]
    assert cross["regression_set_pass_rate"] is None
    # a regression set of the fixes: the fixing version passes all of it, its sibling not
    out = t2e(s, "regression", "add", "fly", "--from-gate", str(cand["cross-order-v1"]["row"]))
    assert out.exit_code == 0, out.output
    rows = {r["version"]: r for r in flywheel(connect(s))}
    assert rows["cross-order-v1"]["regression_set_pass_rate"] == 1.0
    assert rows["skip-confirm-v1"]["regression_set_pass_rate"] == 0.0
    lines = dict((n, line) for n, line, _ in class_sparklines(list(rows.values())))
    assert len(lines["missing_write"]) == 3
    doc = json.loads(t2e(s, "flywheel", "--json").output)
    assert [r["version"] for r in doc] == ["baseline", "cross-order-v1", "skip-confirm-v1"]
    human = t2e(s, "flywheel")
    assert human.exit_code == 0 and "missing_write" in human.output and "fixed" in human.output
