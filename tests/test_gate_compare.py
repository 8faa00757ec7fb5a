"""Task outcomes, transitions and run metrics on hand-made runs."""

from __future__ import annotations

import pytest
from test_gate_builders import make_run, new_store

from t2e_tui.errors import T2EError
from t2e_tui.gate import compare_runs, run_metrics, task_outcomes, transition


@pytest.mark.parametrize("b,c,name", [
    (1.0, 0.0, "regressed"), (0.0, 1.0, "fixed"), (1.0, 1.0, "both_pass"),
    (0.0, 0.0, "both_fail"), (0.5, 0.5, "flaky"), (0.25, 0.75, "improved"),
    (1.0, 0.5, "worsened"), (0.5, 0.0, "worsened"), (0.0, 0.5, "improved"),
])
def test_transition_names(b, c, name):
    assert transition(b, c) == name


def test_task_outcomes_exclude_infra_errors(tmp_path):
    conn = new_store(tmp_path)
    rid = make_run(conn, "r", {"1": [1.0, 0.0, 1.0], "2": [None, None], "3": [None, 1.0]})
    out = task_outcomes(conn, rid)
    assert out["1"].rewards == [1.0, 0.0, 1.0]
    assert out["1"].rate == pytest.approx(2 / 3)
    assert out["1"].flip_rate == pytest.approx(2 / 3)  # 2 of the 3 trial pairs disagree
    assert out["2"].rate is None and len(out["2"].excluded) == 2
    assert out["3"].rewards == [1.0] and out["3"].rate == 1.0


def test_compare_rows_and_transitions(tmp_path):
    conn = new_store(tmp_path)
    b = make_run(conn, "base", {"1": [1.0], "2": [0.0], "3": [1.0], "4": [0.0]})
    c = make_run(conn, "cand", {"1": [0.0], "2": [1.0], "3": [1.0], "4": [0.0]})
    cmp = compare_runs(conn, "base", c)
    assert [r.transition for r in cmp.rows] == ["regressed", "fixed", "both_pass", "both_fail"]
    assert cmp.regressions == ["1"] and cmp.fixes == ["2"]
    assert cmp.rows[0].baseline == [1.0] and cmp.rows[0].candidate == [0.0]
    assert cmp.rows[0].candidate_terminations == ["user_stop"]
    assert cmp.baseline.run_id == b


def test_compare_refuses_different_task_sets_unless_intersect(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", {"1": [1.0], "2": [0.0], "3": [1.0]})
    make_run(conn, "cand", {"1": [1.0], "2": [1.0], "9": [1.0]})
    with pytest.raises(T2EError, match="different task sets"):
        compare_runs(conn, "base", "cand")
    cmp = compare_runs(conn, "base", "cand", intersect=True)
    assert cmp.task_ids == ["1", "2"]
    assert cmp.only_baseline == ["3"] and cmp.only_candidate == ["9"] and cmp.intersected


def test_compare_refuses_different_worlds(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", {"1": [1.0]}, world_id="a" * 64)
    make_run(conn, "cand", {"1": [1.0]}, world_id="b" * 64)
    with pytest.raises(T2EError, match="different worlds") as err:
        compare_runs(conn, "base", "cand", intersect=True)
    assert err.value.exit_code == 2


def test_compare_unknown_run_is_bad_input(tmp_path):
    conn = new_store(tmp_path)
    make_run(conn, "base", {"1": [1.0]})
    with pytest.raises(T2EError, match="no run matches 'nope'"):
        compare_runs(conn, "base", "nope")


def test_run_metrics_figures(tmp_path):
    conn = new_store(tmp_path)
    rid = make_run(
        conn, "r", {"1": [1.0, 1.0], "2": [1.0, 0.0], "3": [0.0, None]},
        actions={"2": [[("g", "read", True), ("c", "write", True)],
                       [("g", "read", True), ("c", "write", False)]]},
        terminations={"3": ["max_steps", "user_stop"]})
    m = run_metrics(conn, rid)
    assert m.episodes == 5 and m.tasks == 3
    assert m.reward == pytest.approx(3 / 5)
    assert m.pass_rate == pytest.approx(3 / 5)
    # pass^1 = mean(1, 1/2, 0); pass^2 only over tasks with >= 2 trials -> K = 1 here
    assert m.pass_hat_k == {1: pytest.approx(0.5)}
    assert m.max_steps == 1
    assert [e["task_id"] for e in m.infrastructure_errors] == ["3"]
    # read: 1,1 (task 1) + 1,1 (task 2) + 0 (task 3) = 4/5; write: 1,1,1,0,0 = 3/5
    assert m.action_match["read"] == pytest.approx(4 / 5)
    assert m.action_match["write"] == pytest.approx(3 / 5)
    assert m.action_match["overall"] == pytest.approx(7 / 10)
    assert m.agent_cost == pytest.approx(0.05)


def test_action_match_na_when_no_gold_actions_of_a_kind(tmp_path):
    conn = new_store(tmp_path)
    rid = make_run(conn, "r", {"1": [1.0]}, actions={"1": [[("g", "read", True)]]})
    m = run_metrics(conn, rid)
    assert m.action_match["read"] == 1.0
    assert m.action_match["write"] is None  # n/a, never 0
