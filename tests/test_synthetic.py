"""Synthetic pressure cases (#13): seeded variants of a mini-retail failure class, run as role
synthetic and never graded as clean heldout proof. Played by the scripted user and agent, the
deterministic stand-ins: these tests prove the plumbing, nothing about models."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from t2e_tui.cli import cli
from t2e_tui.engine.engine import execute_run
from t2e_tui.engine.plan import plan_run
from t2e_tui.errors import T2EError
from world.mini_retail import build
from world.mini_retail.synthetic import synthetic_tasks
from world.users import ScriptedUser


def test_same_seed_same_tasks_other_seed_other_tasks():
    a = synthetic_tasks("write_without_confirmation", 6, 3)
    assert a == synthetic_tasks("write_without_confirmation", 6, 3)
    b = synthetic_tasks("write_without_confirmation", 6, 4)
    assert [t["t2e"]["scenario"] for t in a] != [t["t2e"]["scenario"] for t in b]
    assert [t["id"] for t in a] == [f"syn-write_without_confirmation-3-{k}" for k in range(6)]
    assert {t["t2e"]["split"] for t in a} == {"synthetic"}
    assert {t["t2e"]["failure_class"] for t in a} == {"write_without_confirmation"}


def test_variants_differ_from_their_base_and_stay_playable():
    world = build(0)
    by_id = {t["id"]: t for t in world["tasks"]}
    tasks = synthetic_tasks("auth_skipped", 12, 7)
    assert len({t["t2e"]["synthetic"]["base"] for t in tasks}) >= 6   # other users and orders
    changes = " ".join(c for t in tasks for c in t["t2e"]["synthetic"]["changes"])
    for what in ("pressure language", "indirect phrasing", "multi-intent", "auth via"):
        assert what in changes
    for t in tasks:
        base = by_id[t["t2e"]["synthetic"]["base"]]
        opening = ScriptedUser(t).opening()
        assert opening != ScriptedUser({**base, "id": t["id"]}).opening()
        for line in ("pressure_line", "indirect_line"):
            if t["t2e"]["scenario"]["style"].get(line):
                assert t["t2e"]["scenario"]["style"][line] in opening
        # the gold lookup follows the way the customer authenticates
        auth = t["evaluation_criteria"]["actions"][0]
        via = t["t2e"]["scenario"]["auth_via"]
        assert auth["name"] == ("find_user_id_by_email" if via == "email"
                                else "find_user_id_by_name_zip")
        for r in t["t2e"]["scenario"]["requests"]:   # every order is the customer's own
            if r["order_id"] and not r.get("owner"):
                assert r["order_id"] in world["db"]["users"][
                    t["t2e"]["scenario"]["identity"]["user_id"]]["orders"]


def test_unknown_class_and_bad_count_are_refused():
    with pytest.raises(ValueError, match="unknown failure class"):
        synthetic_tasks("nope", 2, 0)
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_tasks("auth_skipped", 0, 0)


def _run(db, spec, candidate=None, **kw):
    plan = plan_run(domain="mini-retail", tasks=spec, candidate=candidate, **kw)
    return execute_run(plan, str(db))


def test_synthetic_run_completes_graded_and_stores_its_tasks(tmp_path):
    db = tmp_path / "s.sqlite"
    s = _run(db, "synthetic:write_without_confirmation:6:3")
    assert s.status == "complete" and s.episodes == 6 and s.ungraded == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT role FROM runs WHERE run_id = ?", (s.run_id,)).fetchone() == (
        "synthetic",)
    rows = conn.execute("SELECT task_id, split, task_json FROM tasks WHERE run_id = ? "
                        "ORDER BY ord", (s.run_id,)).fetchall()
    assert [r[0] for r in rows] == [t["id"] for t in
                                    synthetic_tasks("write_without_confirmation", 6, 3)]
    assert {r[1] for r in rows} == {"synthetic"}
    assert json.loads(rows[0][2])["t2e"]["synthetic"]["seed"] == 3
    rewards = [r[0] for r in conn.execute("SELECT reward FROM episodes WHERE run_id = ?",
                                          (s.run_id,))]
    assert len(rewards) == 6 and None not in rewards


@pytest.mark.parametrize("kw, msg", [
    (dict(tasks="synthetic:auth_skipped:2", role="heldout"), "always synthetic"),
    (dict(tasks="synthetic:auth_skipped:x"), "whole numbers"),
    (dict(tasks="synthetic:auth_skipped"), "synthetic:CLASS:N"),
    (dict(tasks="synthetic:nope:2"), "unknown failure class"),
    (dict(tasks="synthetic:auth_skipped:2", domain="mini-airline"), "mini-retail only"),
])
def test_bad_synthetic_specs_are_one_line_errors(kw, msg):
    args = {"domain": "mini-retail", **kw}
    with pytest.raises(T2EError, match=msg):
        plan_run(**args)


def test_gate_on_synthetic_runs_is_never_clean_heldout(tmp_path):
    # cross-order-v1 fixes the class on the scripted stand-in: on heldout that would promote
    db = tmp_path / "s.sqlite"
    spec = "synthetic:cross_order_reference:24:1"
    base = _run(db, spec)
    cand = _run(db, spec, candidate="candidates/cross-order-v1.md")
    res = CliRunner().invoke(cli, ["--store", str(db), "gate", base.run_id, cand.run_id,
                                   "--json"])
    out = json.loads(res.output)
    assert res.exit_code == 4, res.output
    assert out["decision"] != "promote"
    assert out["stats"]["fixes"] and not out["stats"]["regressions"]
    assert out["evidence_role"] == "synthetic" and out["claimed_role"] == "synthetic"
    assert any("synthetic evidence, not clean heldout" in r for r in out["reasons"])
    row = sqlite3.connect(db).execute(
        "SELECT evidence_role, decision FROM gate_decisions WHERE row_id = ?",
        (out["row_id"],)).fetchone()
    assert row[0] == "synthetic" and row[1] != "promote"


def test_resume_regenerates_the_same_synthetic_tasks(tmp_path):
    from t2e_tui.engine.engine import load_resume_plan

    db = tmp_path / "s.sqlite"
    s = _run(db, "synthetic:multi_intent:3:5")
    plan = load_resume_plan(str(db), s.run_id)
    assert plan.role == "synthetic"
    assert [t.raw for t in plan.tasks] == synthetic_tasks("multi_intent", 3, 5)
