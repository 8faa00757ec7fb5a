"""tau2-compatible scoring: each reward component, premature-termination rules by version, NL
verdict handling, pass^k, and the 80/80 agreement on the shared files (re-scored through
`world.rescore`). The `t2e score` command is tested in test_cli_score.py, the relabel check in
test_world_relabel.py."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner
from test_world_tools import make_data

from t2e_tui.cli import cli
from world.db import RetailDB
from world.rescore import load_results, rescore
from world.scoring import is_success, pass_hat_k, score_episode
from world.tasks import parse_task, parse_tasks


def run_cli(*args):
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


# -- small world helpers -----------------------------------------------------------------------

@pytest.fixture
def db():
    return RetailDB.from_dict(make_data(), "test-db")


def task(actions=(), basis=None, communicate=(), nl=(), tid="t1"):
    crit = {"actions": [{"action_id": f"{tid}_{i}", "requestor": "assistant", "name": n,
                         "arguments": a, "info": None, "compare_args": c}
                        for i, (n, a, c) in enumerate(actions)],
            "env_assertions": None, "communicate_info": list(communicate),
            "nl_assertions": list(nl)}
    if basis is not None:
        crit["reward_basis"] = basis
    return parse_task({"id": tid, "user_scenario": {"instructions": "x"},
                       "evaluation_criteria": crit})


def call_msgs(*calls, text=None):
    """Assistant tool-call messages with their (placeholder) tool messages."""
    out = []
    for i, (name, args) in enumerate(calls):
        out.append({"role": "assistant", "content": None,
                    "tool_calls": [{"id": f"c{i}", "name": name, "arguments": args,
                                    "requestor": "assistant"}]})
        out.append({"role": "tool", "id": f"c{i}", "content": "", "error": False})
    if text is not None:
        out.append({"role": "assistant", "content": text})
    return out


CANCEL = ("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"}, None)


READ = ("get_order_details", {"order_id": "#W1"}, None)


# -- the DB check ------------------------------------------------------------------------------

def test_db_check_replays_writes_against_gold(db):
    t = task([READ, CANCEL])
    good = score_episode(t, call_msgs(CANCEL[:2]), "user_stop", base_db=db)
    assert good["reward"] == 1.0 and good["db_check"] == {"db_match": True, "db_reward": 1.0}
    assert good["reward_basis"] == ["DB", "COMMUNICATE"]  # tau2's default when absent
    wrong = ("cancel_pending_order", {"order_id": "#W1", "reason": "ordered by mistake"})
    bad = score_episode(t, call_msgs(wrong), "user_stop", base_db=db)
    assert bad["reward"] == 0.0 and bad["db_check"]["db_match"] is False
    # The action check matches on the call's own arguments: the wrong reason is no match.
    assert [c["action_match"] for c in bad["action_checks"]] == [False, False]
    assert [c["tool_type"] for c in bad["action_checks"]] == ["read", "write"]


def test_path_is_irrelevant_and_reads_only_pass_by_doing_nothing(db):
    addr = {"user_id": "bob_ray_3", "address1": "a", "address2": "", "city": "c",
            "state": "s", "country": "USA", "zip": "1"}
    t = task([("modify_user_address", addr, None)])
    detour = call_msgs(("modify_user_address", {**addr, "city": "other"}),
                       ("get_user_details", {"user_id": "bob_ray_3"}),
                       ("modify_user_address", addr))
    assert score_episode(t, detour, "agent_stop", base_db=db)["reward"] == 1.0
    assert score_episode(task([READ]), [], "user_stop", base_db=db)["reward"] == 1.0


def test_failing_gold_actions_are_skipped(db):
    refused = ("cancel_pending_order", {"order_id": "#W3", "reason": "no longer needed"}, None)
    t = task([refused, CANCEL])
    assert score_episode(t, call_msgs(CANCEL[:2]), "user_stop", base_db=db)["reward"] == 1.0


def test_failed_agent_calls_and_unknown_tools_change_nothing(db):
    msgs = call_msgs(("cancel_pending_order", {"order_id": "#W3", "reason": "no longer needed"}),
                     ("teleport", {"x": 1}), ("cancel_pending_order", "not json"))
    assert score_episode(task([READ]), msgs, "user_stop", base_db=db)["reward"] == 1.0


# -- communicate and actions -------------------------------------------------------------------

def test_communicate_substring_rule(db):
    t = task(communicate=["1000", "Visa", "12,5"])
    msgs = [{"role": "user", "content": "visa 12,5 1000"},
            {"role": "assistant", "content": "   "},
            {"role": "assistant", "content": "You paid $1,000.00 with your VISA card."}]
    r = score_episode(t, msgs, "user_stop", base_db=db)
    # Commas are removed from the content, never from the info: "12,5" can never match.
    assert [c["met"] for c in r["communicate_checks"]] == [True, True, False]
    assert r["communicate_checks"][0]["justification"].startswith(
        "Information '1000' communicated in the message:\n 'You paid $1,000.00")
    assert r["communicate_checks"][2]["justification"] == "Information '12,5' not communicated."
    assert r["reward"] == 0.0 and r["reward_breakdown"] == {"DB": 1.0, "COMMUNICATE": 0.0}
    assert score_episode(task(), msgs, "user_stop", base_db=db)["communicate_checks"] is None


def test_action_compare_args_and_action_basis(db):
    transfer = ("transfer_to_human_agents", {"summary": "gold words"}, [])
    partial = ("find_user_id_by_email", {"email": "a@b.c", "extra": 1}, ["email"])
    t = task([transfer, partial], basis=["DB", "ACTION"])
    msgs = call_msgs(("transfer_to_human_agents", {"summary": "other words"}),
                     ("find_user_id_by_email", {"email": "a@b.c"}))
    r = score_episode(t, msgs, "user_stop", base_db=db)
    assert [c["action_match"] for c in r["action_checks"]] == [True, True]
    assert r["reward"] == 1.0 and r["reward_breakdown"] == {"DB": 1.0, "ACTION": 1.0}
    r = score_episode(t, msgs[:2], "user_stop", base_db=db)
    assert r["reward"] == 0.0 and r["reward_breakdown"]["ACTION"] == 0.0
    # compare_args None: only the keys the call itself gives are compared.
    t2 = task([("find_user_id_by_email", {"email": "a@b.c"}, None)])
    loose = call_msgs(("find_user_id_by_email", {}))
    assert score_episode(t2, loose, "user_stop", base_db=db)["action_checks"][0]["action_match"]


def test_string_arguments_are_understood(db):
    t = task([CANCEL])
    msgs = call_msgs(("cancel_pending_order", json.dumps(CANCEL[1])))
    r = score_episode(t, msgs, "user_stop", base_db=db)
    assert r["reward"] == 1.0 and r["action_checks"][0]["action_match"]


# -- termination rules by version --------------------------------------------------------------

@pytest.mark.parametrize("reason, v1_zero, v0_zero", [
    ("user_stop", False, False), ("agent_stop", False, False),
    ("max_steps", True, True), ("too_many_errors", True, True),
    ("agent_error", True, False), (None, True, False),
])
def test_premature_termination(db, reason, v1_zero, v0_zero):
    t = task([READ])
    for replay, zero in (("v1", v1_zero), ("v0", v0_zero)):
        r = score_episode(t, [], reason, base_db=db, replay=replay)
        assert r["reward"] == (0.0 if zero else 1.0), (replay, reason)
        if zero:
            assert r["db_check"] is None and r["reward_basis"] is None
            assert r["info"]["note"] == f"Simulation terminated prematurely. Termination reason: {reason}"


def test_no_evaluation_criteria_rewards_one(db):
    t = parse_task({"id": "x", "evaluation_criteria": None})
    assert score_episode(t, [], "user_stop", base_db=db)["reward"] == 1.0


# -- NL assertions: never invented -------------------------------------------------------------

def test_nl_verdicts_recorded_judged_or_left_out(db):
    t = task([READ], basis=["DB", "NL_ASSERTION"], nl=["agent was polite"])
    recorded = {"nl_assertions": [{"nl_assertion": "agent was polite", "met": False,
                                   "justification": "rude"}]}
    r = score_episode(t, [], "user_stop", base_db=db, recorded=recorded)
    assert r["reward"] == 0.0 and r["judge_dependent"] is True
    assert r["nl_assertions"] == recorded["nl_assertions"]
    missing = score_episode(t, [], "user_stop", base_db=db)
    assert missing["reward"] is None and not is_success(missing["reward"])
    assert "no recorded verdicts" in missing["info"]["nl"]["note"]
    seen = []

    def judge(task_, messages):
        seen.append(task_.id)
        return [{"nl_assertion": "agent was polite", "met": True, "justification": "ok"}]

    judged = score_episode(t, [], "user_stop", base_db=db, grading="judge", judge=judge)
    assert judged["reward"] == 1.0 and judged["judge_dependent"] and seen == ["t1"]
    det = score_episode(t, [], "user_stop", base_db=db, grading="db-communicate")
    assert det["reward"] == 1.0 and det["judge_dependent"] is False
    assert det["reward_basis"] == ["DB", "COMMUNICATE"]


def test_nl_not_in_basis_is_diagnostic_only(db):
    t = task([READ], nl=["something"])
    recorded = {"nl_assertions": [{"nl_assertion": "something", "met": False, "justification": ""}]}
    r = score_episode(t, [], "user_stop", base_db=db, recorded=recorded)
    assert r["reward"] == 1.0 and r["judge_dependent"] is False
    assert r["nl_assertions"][0]["met"] is False


def test_recorded_nl_outcome_without_verdicts(db):
    t = task([READ], basis=["DB", "NL_ASSERTION"], nl=["x"])
    for value in (0.0, 1.0):
        rec = {"nl_assertions": [], "reward_breakdown": {"DB": 1.0, "NL_ASSERTION": value}}
        r = score_episode(t, [], "user_stop", base_db=db, recorded=rec)
        assert r["reward"] == value and r["judge_dependent"]


# -- success and pass^k ------------------------------------------------------------------------

def test_is_success_and_pass_hat_k():
    assert is_success(1.0) and is_success(1 - 1e-7) and not is_success(0.999) and not is_success(None)
    outcomes = {"a": [True, True, False, False], "b": [True, True, True, True]}
    assert pass_hat_k(outcomes, 1) == pytest.approx((0.5 + 1.0) / 2)
    assert pass_hat_k(outcomes, 2) == pytest.approx((1 / 6 + 1.0) / 2)
    assert pass_hat_k(outcomes, 4) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_hat_k(outcomes, 5)
    with pytest.raises(ValueError):
        pass_hat_k({}, 1)


# -- re-scoring results files ------------------------------------------------------------------

def test_shared_files_agree_80_of_80(tau2_dir, shared_results):
    base = RetailDB.load(tau2_dir / "retail" / "db.json")
    total = 0
    for path in shared_results:
        data = load_results(path)
        rep = rescore(data, base, source=str(path))
        assert rep["disagree"] == [] and rep["relabelled"] == []
        assert rep["agree"] == rep["simulations"] == 40
        total += rep["agree"]
        # The components agree too, not just the product.
        tasks = parse_tasks(data["tasks"])
        for sim in data["simulations"]:
            new = score_episode(tasks[sim["task_id"]], sim["messages"], sim["termination_reason"],
                                base_db=base, recorded=sim["reward_info"])
            rec = sim["reward_info"]
            assert new["db_check"] == rec["db_check"]
            assert [c["met"] for c in new["communicate_checks"] or []] == \
                [c["met"] for c in rec["communicate_checks"] or []]
            assert [c["action_match"] for c in new["action_checks"]] == \
                [c["action_match"] for c in rec["action_checks"]]
    assert total == 80


def test_v0_replay_rescores_the_shared_files_the_same(tau2_dir, shared_results):
    base = RetailDB.load(tau2_dir / "retail" / "db.json")
    for path in shared_results:
        rep = rescore(load_results(path), base, replay="v0")
        assert rep["agree"] == 40
    code, out = run_cli("score", str(shared_results[0]), "--data", str(tau2_dir), "--replay", "v0",
                        "--json")
    assert code == 0 and json.loads(out)["files"][0]["agree"] == 40


def test_tasks_with_unknown_tools_are_reported_per_simulation(db):
    good = {"id": "1", "evaluation_criteria": {"actions": [
        {"action_id": "1_0", "name": "get_order_details", "arguments": {"order_id": "#W1"}}]}}
    odd = {"id": "2", "evaluation_criteria": {"actions": [
        {"action_id": "2_0", "name": "book_flight", "arguments": {}}]}}
    sims = [{"id": "s1", "task_id": "1", "termination_reason": "user_stop", "messages": [],
             "reward_info": {"reward": 1.0}},
            {"id": "s2", "task_id": "2", "termination_reason": "user_stop", "messages": [],
             "reward_info": {"reward": 1.0}},
            {"id": "s3", "task_id": "9", "termination_reason": "user_stop", "messages": [],
             "reward_info": {"reward": 1.0}},
            "garbage"]
    rep = rescore({"tasks": [good, odd], "simulations": sims}, db)
    assert rep["agree"] == 1
    reasons = {d["sim_id"]: d["reason"] for d in rep["disagree"]}
    assert reasons["s2"] == "task 2 references tools the retail domain lacks: book_flight"
    assert reasons["s3"] == "task '9' is not embedded in the file"
    assert "simulation #3 is malformed" in reasons[None]


def test_directory_format(tmp_path, db):
    t = {"id": "1", "evaluation_criteria": {"actions": []}}
    sim = {"id": "abc", "task_id": "1", "termination_reason": "user_stop", "messages": [],
           "reward_info": {"reward": 1.0}}
    (tmp_path / "run" / "simulations").mkdir(parents=True)
    (tmp_path / "run" / "results.json").write_text(json.dumps(
        {"tasks": [t], "simulation_index": [{"id": "abc", "task_id": "1"}]}))
    (tmp_path / "run" / "simulations" / "abc.json").write_text(json.dumps(sim))
    data = load_results(tmp_path / "run")
    assert rescore(copy.deepcopy(data), db)["agree"] == 1
