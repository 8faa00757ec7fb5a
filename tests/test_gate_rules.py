"""The promotion rule on hand-made runs: each check failing alone, warnings, n/a kinds, the
verdicts and their exit codes."""

from __future__ import annotations

import pytest
from test_gate_builders import make_run, new_store

from t2e_tui.errors import T2EError
from t2e_tui.gate import evaluate, load_policy
from t2e_tui.gate.policy import parse_policy

ALL_MET = [("get", "read", True), ("do", "write", True)]


def base10():
    """10 tasks: 1-4 pass, 5-10 fail."""
    return {str(i): [1.0 if i <= 4 else 0.0] for i in range(1, 11)}


def six_fixes():
    return {str(i): [1.0] for i in range(1, 11)}


def failed(result):
    return [c.name for c in result.checks if not c.passed]


def check(result, name):
    return next(c for c in result.checks if c.name == name)


def test_six_fixes_are_supported_on_development_evidence(tmp_path):
    # the checks and the test pass, but the runs are development evidence: not a promote
    conn = new_store(tmp_path)
    make_run(conn, "base", base10())
    make_run(conn, "cand", six_fixes())
    r = evaluate(conn, "base", "cand")
    assert r.decision == "supported" and r.exit_code == 4
    assert r.verdict_label == "supported (development)"
    assert failed(r) == []
    assert r.stats["p_value"] == pytest.approx(0.015625)
    assert r.stats["test"] == "mcnemar_exact"
    assert r.stats["fixes"] == ["5", "6", "7", "8", "9", "10"]
    assert r.stats["regressions"] == []
    # the exact bootstrap distribution of the mean of six 1s and four 0s is Bin(10, 0.6)/10:
    # its 2.5% and 97.5% quantiles are 0.3 and 0.9 (P(X <= 2) = 0.012, P(X <= 3) = 0.055,
    # P(X <= 8) = 0.954, P(X <= 9) = 0.994); the seeded bootstrap lands on them
    assert (r.stats["ci_low"], r.stats["ci_high"]) == pytest.approx((0.3, 0.9), abs=1e-9)
    names = [c["name"] for c in r.to_dict()["checks"]]
    assert names == ["reward_improved", "pass_rate_not_worse", "action_match_not_worse",
                     "read_action_match_not_worse", "write_action_match_not_worse",
                     "no_task_regressions", "no_max_steps"]


def test_two_fixes_are_inconclusive(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", base10())
    cand = base10()
    cand["5"] = cand["6"] = [1.0]
    make_run(conn, "cand", cand)
    r = evaluate(conn, "base", "cand")
    assert failed(r) == []
    assert r.decision == "inconclusive" and r.exit_code == 3
    assert r.stats["p_value"] == pytest.approx(0.25)
    # the same evidence passes at a looser alpha
    assert evaluate(conn, "base", "cand", alpha=0.3).decision == "supported"


def test_reward_not_improved_fails_alone(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", base10())
    make_run(conn, "cand", base10())
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["reward_improved"]
    assert r.decision == "discard" and r.exit_code == 1
    assert any("reward_improved failed" in x for x in r.reasons)


def test_pass_rate_decline_fails_alone(tmp_path):
    # reward rises through partial credit while the pass rate falls; no task goes 1 -> 0
    conn = new_store(tmp_path)
    acts = {t: [ALL_MET, ALL_MET] for t in ("1", "2", "3")}
    make_run(conn, "base", {"1": [1.0, 1.0], "2": [0.0, 0.0], "3": [0.0, 0.0]}, actions=acts)
    make_run(conn, "cand", {"1": [1.0, 0.9], "2": [0.5, 0.5], "3": [0.5, 0.5]}, actions=acts)
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["pass_rate_not_worse"]
    assert check(r, "pass_rate_not_worse").tasks == ["1"]
    assert r.decision == "discard"
    # a drop smaller than 1 -> 0 is a warning, not a regression
    assert any("task 1 dropped from 1.00 to 0.50" in w for w in r.warnings)


def _am_runs(conn, base_acts, cand_acts):
    """Six fixes (everything else passes) with the given per-task action checks."""
    make_run(conn, "base", base10(), actions={t: [base_acts] for t in base10()})
    make_run(conn, "cand", six_fixes(), actions={t: [cand_acts] for t in six_fixes()})


def test_overall_action_match_fails_alone(tmp_path):
    conn = new_store(tmp_path)
    _am_runs(conn, ALL_MET + [("think", "generic", True)],
             ALL_MET + [("think", "generic", False)])
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["action_match_not_worse"]
    assert len(check(r, "action_match_not_worse").tasks) == 10


def test_read_action_match_fails_alone(tmp_path):
    conn = new_store(tmp_path)
    _am_runs(conn, [("a", "read", True), ("b", "read", True), ("c", "write", False),
                    ("d", "write", False)],
             [("a", "read", True), ("b", "read", False), ("c", "write", True),
              ("d", "write", True)])
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["read_action_match_not_worse"]


def test_write_action_match_fails_alone(tmp_path):
    conn = new_store(tmp_path)
    _am_runs(conn, [("a", "read", False), ("b", "read", False), ("c", "write", True),
                    ("d", "write", True)],
             [("a", "read", True), ("b", "read", True), ("c", "write", True),
              ("d", "write", False)])
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["write_action_match_not_worse"]


def test_task_regression_fails_alone(tmp_path):
    # 7 fixes, 1 regression: reward and pass rate up, sign test p = 9/256 < 0.05
    conn = new_store(tmp_path)
    base = {str(i): [1.0 if i <= 2 else 0.0] for i in range(1, 11)}
    cand = {str(i): [0.0 if i == 1 else 1.0] for i in range(1, 11)}
    cand["10"] = [0.0]
    make_run(conn, "base", base)
    make_run(conn, "cand", cand)
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["no_task_regressions"]
    assert check(r, "no_task_regressions").tasks == ["1"]
    assert r.stats["p_value"] == pytest.approx(9 / 256)
    assert r.decision == "discard"
    # counts of tasks, said so (review: "1 / 1" with no unit read like metric values)
    d = next(c for c in r.to_dict()["checks"] if c["name"] == "no_task_regressions")
    assert (d["baseline"], d["candidate"]) == (2, 1)
    assert (d["baseline_text"], d["candidate_text"]) == ("2 tasks at 1", "1 task 1→0")
    assert d["unit"].startswith("tasks")
    assert d["detail"] == "1 of the 2 task(s) at 1 in the baseline went to 0: 1"


def test_check_rows_say_what_they_count(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", base10())  # gold actions met iff the episode succeeded
    make_run(conn, "cand", six_fixes())
    checks = {c["name"]: c for c in evaluate(conn, "base", "cand").to_dict()["checks"]}
    assert checks["no_task_regressions"]["baseline_text"] == "4 tasks at 1"
    assert checks["no_task_regressions"]["candidate_text"] == "0 tasks 1→0"
    assert checks["no_max_steps"]["baseline_text"] == "0 episodes"
    assert checks["no_max_steps"]["unit"] == "episodes that hit max steps"
    assert checks["reward_improved"]["unit"] == "mean reward"
    assert checks["reward_improved"]["candidate_text"] == "1.000"
    assert checks["write_action_match_not_worse"]["baseline_text"] == "0.400 (4/10)"
    assert all(c["unit"] and c["baseline_text"] and c["candidate_text"]
               for c in checks.values())


def test_max_steps_fails_alone(tmp_path):
    conn = new_store(tmp_path)
    base, cand = base10(), six_fixes()
    base["11"] = cand["11"] = [0.0]
    make_run(conn, "base", base)
    make_run(conn, "cand", cand, terminations={"11": ["max_steps"]})
    r = evaluate(conn, "base", "cand")
    assert failed(r) == ["no_max_steps"]
    assert check(r, "no_max_steps").tasks == ["11"]
    # the policy can allow some
    pol = parse_policy("[checks.no_max_steps]\nmax_episodes = 1\n")
    assert evaluate(conn, "base", "cand", policy=pol).decision == "supported"


def test_kind_without_gold_actions_is_na_not_zero(tmp_path):
    conn = new_store(tmp_path)
    reads = [("a", "read", True)]
    make_run(conn, "base", base10(), actions={t: [reads] for t in base10()})
    make_run(conn, "cand", six_fixes(), actions={t: [reads] for t in six_fixes()})
    r = evaluate(conn, "base", "cand")
    w = check(r, "write_action_match_not_worse")
    assert w.na and w.passed and w.baseline is None and w.candidate is None
    assert r.decision == "supported"


def test_infra_errors_are_left_out_and_listed(tmp_path):
    conn = new_store(tmp_path)
    cand = six_fixes()
    cand["3"] = [None, 1.0]
    make_run(conn, "base", base10())
    cid = make_run(conn, "cand", cand)
    # one trial a task, as the baseline: task 3's infrastructure error was played again
    conn.execute("UPDATE runs SET num_trials = 1 WHERE run_id = ?", (cid,))
    r = evaluate(conn, "base", "cand")
    assert r.candidate_metrics.episodes == 10
    assert r.candidate_metrics.infrastructure_errors[0]["task_id"] == "3"
    assert any("infrastructure error" in w for w in r.warnings)
    assert r.decision == "supported"


def test_vetoes_off_lets_only_the_statistics_decide(tmp_path):
    conn = new_store(tmp_path)
    base = {str(i): [1.0 if i <= 2 else 0.0] for i in range(1, 11)}
    cand = {str(i): [0.0 if i == 1 else 1.0] for i in range(1, 11)}
    make_run(conn, "base", base)
    make_run(conn, "cand", cand)
    r = evaluate(conn, "base", "cand", policy=load_policy().vetoes_off())
    assert r.checks == [] and len(r.disabled_checks) == 7
    assert r.decision == "supported"   # 8 up, 1 down: p = 10/512


def test_policy_errors_name_the_file_and_key(tmp_path):
    p = tmp_path / "pol.toml"
    p.write_text("[checks.no_task_regresions]\nenabled = false\n")
    with pytest.raises(T2EError, match=r"pol.toml: unknown check \[checks.no_task_regresions\]"):
        load_policy(p)
    p.write_text("[stats]\nalpha = 'x'\n")
    with pytest.raises(T2EError, match="alpha must be a float"):
        load_policy(p)
    p.write_text("[stats\n")
    with pytest.raises(T2EError, match="not valid TOML"):
        load_policy(p)
    with pytest.raises(T2EError, match="no such policy file"):
        load_policy(tmp_path / "missing.toml")


def test_default_policy_is_the_seed_protocol():
    pol = load_policy()
    assert pol.alpha == 0.05 and pol.require_significance
    assert all(pol.enabled.values())
    assert pol.param("reward_improved", "min_delta") == 0.0


def test_policy_thresholds_change_the_verdict(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", base10())
    cand = base10()
    cand["5"] = [1.0]
    make_run(conn, "cand", cand)
    assert evaluate(conn, "base", "cand").decision == "inconclusive"
    loose = parse_policy("[stats]\nrequire_significance = false\n")
    assert evaluate(conn, "base", "cand", policy=loose).decision == "supported"
    strict = parse_policy("[stats]\nrequire_significance = false\n"
                          "[checks.reward_improved]\nmin_delta = 0.15\n")
    r = evaluate(conn, "base", "cand", policy=strict)
    assert r.decision == "discard" and failed(r) == ["reward_improved"]


def test_alpha_override_does_not_touch_the_callers_policy(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", base10())
    make_run(conn, "cand", six_fixes())
    pol = load_policy()
    r = evaluate(conn, "base", "cand", policy=pol, alpha=0.01)
    assert r.decision == "inconclusive" and r.stats["alpha"] == 0.01
    assert pol.alpha == 0.05


def test_permutation_policy_weighs_how_far_tasks_moved(tmp_path):
    # 3 trials: two tasks go 0/3 -> 3/3, three tasks slip 3/3 -> 2/3. The sign test sees
    # 2 up, 3 down; the permutation test sees +2 against -1.
    conn = new_store(tmp_path)
    base = {str(i): ([0.0] * 3 if i <= 2 else [1.0] * 3) for i in range(1, 9)}
    cand = {str(i): ([1.0] * 3 if i <= 2 else [1.0] * 3) for i in range(1, 9)}
    for t in ("3", "4", "5"):
        cand[t] = [1.0, 1.0, 0.0]
    make_run(conn, "base", base)
    make_run(conn, "cand", cand)
    pol = load_policy().vetoes_off()
    sign = evaluate(conn, "base", "cand", policy=pol)
    assert sign.stats["test"] == "sign_test" and sign.stats["p_value"] == pytest.approx(26 / 32)
    pol.test = "permutation"
    perm = evaluate(conn, "base", "cand", policy=pol)
    assert perm.stats["test"] == "paired_permutation_exact"
    # in thirds |d| = 3, 3, 1, 1, 1, observed sum 3. Sign patterns reaching 3: both 3s up
    # (8 patterns), exactly one 3 up and all 1s up (2) -> 10/32
    assert perm.stats["p_value"] == pytest.approx(10 / 32)
    assert perm.stats["p_value"] < sign.stats["p_value"]
    with pytest.raises(T2EError, match="test must be one of"):
        parse_policy('[stats]\ntest = "t-test"\n')
