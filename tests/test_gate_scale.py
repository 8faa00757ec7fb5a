"""Issue 18: the gate reads each run once (t2e_tui/gate/rundata.py) and prints big documents
with the C encoder (t2e_tui/jsonout.py). Every figure, check and verdict must equal what the
per-episode code computed before (tests/gate_oracle.py), on stores with the awkward cases:
infrastructure errors, unscored episodes, episodes without action checks, checks of unknown
outcome, tasks whose JSON SQLite will not read, odd gold action names, uneven trials."""

from __future__ import annotations

import copy
import json
import math
import random

import gate_oracle as oracle
import pytest
from test_gate_builders import make_run, new_store

from t2e_tui import jsonout
from t2e_tui.gate import checks as checks_mod
from t2e_tui.gate import compare_runs, evaluate, load_policy, rules, rundata
from t2e_tui.gate.metrics import gold_action_kinds, run_metrics

ODD_TASKS = [
    "{not json",
    '{"evaluation_criteria": {"actions": [{"name": "get_order_details", "x": NaN}]}}',
    '{"evaluation_criteria": {"actions": {"name": "get_order_details"}}}',
    '{"evaluation_criteria": {"actions": "get_order_details"}}',
    '{"evaluation_criteria": {"actions": [{"name": 7}, {"name": true}, {"name": null}, {}, '
    '3, "x", {"name": ""}, {"name": "cancel_pending_order"}, {"name": ["a"]}]}}',
    '{"evaluation_criteria": null}',
    '{"evaluation_criteria": [1, 2]}',
    "[1, 2, 3]",
    '{"evaluation_criteria": {"actions": []}}',
    '{"evaluation_criteria": {"actions": [{"name": "get_order_details"}, '
    '{"name": "get_order_details"}, {"name": "no_such_tool"}]}}',
]


def _random_run(conn, name, seed, tasks, tied=False):
    rng = random.Random(seed)
    outcomes, terms, actions = {}, {}, {}
    for t in tasks:
        n = rng.choice((1, 2, 2, 3))
        outcomes[t] = [None if rng.random() < 0.06 else rng.choice((0.0, 1.0, 1.0, 0.5))
                       for _ in range(n)]
        terms[t] = [rng.choice(("user_stop", "user_stop", "max_steps", "too_many_errors",
                                "agent_stop")) for _ in range(n)]
        actions[t] = [[("get_order_details", "read", rng.random() < 0.7),
                       ("cancel_pending_order", rng.choice(("write", "generic")),
                        rng.random() < 0.5)][:rng.choice((1, 2))] for _ in range(n)]
    rid = make_run(conn, name, outcomes, terminations=terms, actions=actions)
    eids = [r[0] for r in conn.execute("SELECT episode_id FROM episodes WHERE run_id = ?",
                                       (rid,))]
    for eid in eids:
        roll = rng.random()
        if roll < 0.15:    # no action-check rows at all: the gold counts as unmatched
            conn.execute("DELETE FROM checks WHERE episode_id = ? AND kind = 'action'", (eid,))
        elif roll < 0.25:  # a check whose outcome is unknown
            conn.execute("UPDATE checks SET met = NULL WHERE episode_id = ? AND pos = 0", (eid,))
        elif roll < 0.3:   # every check unknown: the episode still has rows
            conn.execute("UPDATE checks SET met = NULL WHERE episode_id = ?", (eid,))
        elif roll < 0.35:  # graded without a reward
            conn.execute("UPDATE episodes SET reward = NULL, termination_reason = 'user_stop' "
                         "WHERE episode_id = ?", (eid,))
        elif roll < 0.4:   # the relabel check and the judge flag, for the run's warnings
            conn.execute("UPDATE episodes SET likely_task_id = '999', judge_dependent = 1 "
                         "WHERE episode_id = ?", (eid,))
        conn.execute("UPDATE steps SET latency_ms = ? WHERE episode_id = ?",
                     (rng.choice((None, 0.5, 12.25, 300.0)), eid))
    if tied:  # a rerun filed under an existing trial, ordered before it by `ord`
        for (eid,) in conn.execute(
                "SELECT episode_id FROM episodes WHERE run_id = ? AND trial = 1 LIMIT 6",
                (rid,)).fetchall():
            conn.execute("UPDATE episodes SET trial = 0, ord = -ord WHERE episode_id = ?",
                         (eid,))
    for t, text in zip(rng.sample(tasks, len(ODD_TASKS)), ODD_TASKS):
        conn.execute("UPDATE tasks SET task_json = ? WHERE run_id = ? AND task_id = ?",
                     (text, rid, t))
    conn.commit()
    return rid


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    conn = new_store(tmp_path_factory.mktemp("scale"))
    tasks = [str(i) for i in range(1, 121)]
    base = _random_run(conn, "base", 1, tasks, tied=True)
    cand = _random_run(conn, "cand", 2, tasks[:110] + [str(i) for i in range(200, 206)])
    return conn, base, cand


def _same(a, b):
    """Equal, NaN included (json round trip keeps floats exact)."""
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                    default=str)


def test_gold_kinds_match_the_per_task_decoding(pair):
    conn, base, cand = pair
    for rid in (base, cand):
        new, old = gold_action_kinds(conn, rid), oracle.gold_action_kinds(conn, rid)
        assert {t: sorted(k) for t, k in new.items()} == {t: sorted(k) for t, k in old.items()}
    assert any(k == [] for k in new.values()) and any(len(k) > 2 for k in new.values())


def test_outcomes_and_rows_match_the_per_episode_code(pair):
    conn, base, cand = pair
    cmp = compare_runs(conn, base, cand, intersect=True)
    ob, oc = oracle.task_outcomes(conn, base), oracle.task_outcomes(conn, cand)
    assert cmp.baseline_data.outcomes.keys() == ob.keys()
    with pytest.raises(rundata._TiedTrials):  # the base run has reruns filed under a trial
        rundata.read_rows(conn.execute(rundata._EPISODES_BY_INDEX, (base,)), ties=True)
    rundata.read_rows(conn.execute(rundata._EPISODES_BY_INDEX, (cand,)), ties=True)
    assert cmp.baseline_data.query == rundata._EPISODES
    assert cmp.candidate_data.query == rundata._EPISODES_BY_INDEX
    _same([e.__dict__ for e in cmp.baseline_data.episodes(conn)],
          [e.__dict__ for e in oracle.load_episodes(conn, base)])
    for t, o in ob.items():
        _same(cmp.baseline_data.outcomes[t].to_dict(), o.to_dict())
    for r in cmp.rows:
        assert (r.baseline_episode_ids, r.candidate_episode_ids) == (
            ob[r.task_id].episode_ids, oc[r.task_id].episode_ids)


@pytest.mark.parametrize("restrict", [False, True])
def test_run_metrics_match_the_per_episode_code(pair, restrict):
    conn, base, cand = pair
    cmp = compare_runs(conn, base, cand, intersect=True)
    tasks = cmp.task_ids if restrict else None
    for rid, data in ((base, cmp.baseline_data), (cand, cmp.candidate_data)):
        new = run_metrics(conn, rid, tasks, data=data).to_dict()
        _same(new, oracle.run_metrics(conn, rid, tasks).to_dict())
        _same(run_metrics(conn, rid, tasks).to_dict(), new)  # read afresh: the same
    assert new["infrastructure_errors"] and new["unscored"]
    assert 0 < new["action_counts"]["overall"][0] < new["action_counts"]["overall"][1]


def test_per_task_action_match_matches(pair):
    conn, base, cand = pair
    cmp = compare_runs(conn, base, cand, intersect=True)
    new = checks_mod._per_task_action_match(conn, cmp)
    old = oracle.per_task_action_match(conn, cmp)
    _same(new, old)
    assert any(b["overall"][1] == 0 for b, _c in new.values())  # tasks with nothing to match


@pytest.mark.parametrize("alpha,same_tasks,strict", [
    (0.05, False, False), (0.9, False, False), (0.05, True, False), (0.05, False, True)])
def test_whole_verdict_matches(pair, monkeypatch, alpha, same_tasks, strict):
    conn, base, cand = pair
    policy = load_policy()
    if strict:  # every action-match check fails, so each names the tasks that went down
        policy = copy.deepcopy(policy)
        for name in ("action_match_not_worse", "read_action_match_not_worse",
                     "write_action_match_not_worse"):
            policy.params[name]["tolerance"] = -1.0
    if same_tasks:  # the run's warnings then read without a task filter
        base = cand
    new = evaluate(conn, base, cand, policy=policy, intersect=True, alpha=alpha).to_dict()
    monkeypatch.setattr(rules, "run_metrics",
                        lambda c, rid, tasks=None, data=None: oracle.run_metrics(c, rid, tasks))
    monkeypatch.setattr(checks_mod, "_per_task_action_match", oracle.per_task_action_match)
    monkeypatch.setattr(rules, "_run_warnings", oracle.run_warnings)
    old = evaluate(conn, base, cand, policy=policy, intersect=True, alpha=alpha).to_dict()
    _same(new, old)
    assert any("mislabelled" in w for w in new["warnings"])
    assert any("LLM judge" in w for w in new["warnings"])
    if strict:
        named = [c["tasks"] for c in new["checks"] if c["name"].endswith("action_match_not_worse")]
        assert named and all(named) and not any(c["passed"] for c in new["checks"]
                                                if c["name"] == "action_match_not_worse")
    assert new["stats"]["p_value"] == old["stats"]["p_value"]
    assert (new["stats"]["ci_low"], new["stats"]["ci_high"]) == (
        old["stats"]["ci_low"], old["stats"]["ci_high"])


def test_jsonout_is_the_same_json_as_json_dumps():
    class Odd:
        def __str__(self):
            return "odd ✓"

    doc = {"a": [1, 2.5, {"b": [float("nan"), math.inf, None, True]}], "é": ["x", "\"\n\u2028"],
           "empty": [], "nothing": {}, "keys": {1: "i", 2.5: "f", False: "b", None: "n"},
           "odd": Odd(), "tuple": (1, "2"), "rows": [{"x": [1, 2]}, {"y": {"z": "é"}}],
           "deep": {"one": {"two": {"three": [3]}}}}
    for ascii_only in (True, False):
        text = jsonout.dumps(doc, ensure_ascii=ascii_only)
        assert json.loads(text) == json.loads(
            json.dumps(doc, default=str, ensure_ascii=ascii_only)) or _same(
            json.loads(text), json.loads(json.dumps(doc, default=str, ensure_ascii=ascii_only)))
        assert text.isascii() == ascii_only or not ascii_only
    lines = jsonout.dumps(doc).splitlines()
    assert lines[0] == "{" and '    {"x": [1, 2]},' in lines and '  "nothing": {},' in lines
    assert jsonout.dumps([]) == "[]" and jsonout.dumps("é") == '"\\u00e9"'
    with pytest.raises(TypeError):
        jsonout.dumps({(1, 2): 3})


def test_a_run_without_any_action_checks_counts_the_gold(tmp_path):
    conn = new_store(tmp_path)
    rid = _random_run(conn, "nochecks", 3, [str(i) for i in range(1, 41)])
    conn.execute("DELETE FROM checks")
    new = run_metrics(conn, rid).to_dict()
    _same(new, oracle.run_metrics(conn, rid).to_dict())
    assert new["action_counts"]["overall"][0] == 0 < new["action_counts"]["overall"][1]


# --- the read-once paths of issue 18's second pass: each against the per-episode oracle ---

def test_gate_json_rows_are_the_text_of_each_row(pair):
    from t2e_tui.cli.gate import _rows_json

    conn, base, cand = pair
    result = evaluate(conn, base, cand, intersect=True)
    rows = _rows_json(result)
    assert len({r.text.split(", ", 1)[1] for r in rows}) < len(rows)  # shapes were shared
    plain = result.to_dict()
    fast = result.to_dict(transitions=rows)
    assert jsonout.dumps(fast) == jsonout.dumps(plain)
    assert json.loads(jsonout.dumps(fast))["transitions"] == plain["transitions"]
    for r in result.comparison.rows[::2]:  # rows not made by compare_runs: keyed by value
        del r.__dict__["_shape"]
    assert [r.text for r in _rows_json(result)] == [r.text for r in rows]


@pytest.mark.parametrize("chunk", [0, 1, 7, 1 << 16])
def test_json_in_pieces_is_the_same_text(chunk):
    doc = {"a": [1, 2.5, {"b": [float("nan"), None]}], "rows": [{"x": [1, 2]}, "é"],
           "pre": [jsonout.Encoded('{"task_id": "1", "v": 0.5}'), {"y": 1}], "none": {}}
    parts = []
    jsonout.dump(doc, parts.append, chunk=chunk)
    text = "".join(parts)
    assert text == jsonout.dumps(doc)
    assert json.loads(text)["pre"] == [{"task_id": "1", "v": 0.5}, {"y": 1}]
    if chunk > 1:
        assert all(len(p) >= chunk for p in parts[:-1])


def _needs_gold(conn, rid):
    """Tasks with a scored episode without any action-check row (per episode, in SQL)."""
    return {t for (t,) in conn.execute(
        "SELECT DISTINCT task_id FROM episodes e WHERE run_id = ? AND status = 'done' "
        "AND reward IS NOT NULL AND coalesce(termination_reason, '') != 'infrastructure_error' "
        "AND NOT EXISTS (SELECT 1 FROM checks c WHERE c.episode_id = e.episode_id "
        "AND c.kind = 'action')", (rid,))}


def test_gold_is_decoded_only_for_tasks_with_an_episode_without_checks(pair, monkeypatch):
    conn, base, _ = pair
    decoded = []
    real = rundata._loads
    monkeypatch.setattr(rundata, "_loads", lambda scan, text: decoded.append(text)
                        or real(scan, text))
    rundata.load_run(conn, base)
    texts = dict(conn.execute("SELECT task_id, task_json FROM tasks WHERE run_id = ?", (base,)))
    need = _needs_gold(conn, base)
    assert need and len(need) < len(texts)
    assert sorted(decoded) == sorted(texts[t] for t in need)


def test_a_run_with_checks_everywhere_decodes_no_task(tmp_path, monkeypatch):
    conn = new_store(tmp_path)
    rid = make_run(conn, "all", {str(i): [1.0, 0.0] for i in range(1, 9)})
    monkeypatch.setattr(rundata, "_loads", lambda scan, text: pytest.fail("decoded " + text))
    new = run_metrics(conn, rid).to_dict()
    monkeypatch.undo()
    _same(new, oracle.run_metrics(conn, rid).to_dict())
    assert new["action_counts"]["overall"] == [16, 32]  # met on the 8 successes, 2 each


def test_action_counts_when_another_run_lies_inside_the_id_range(tmp_path):
    """The checks are read by the run's episode-id range first: a run resumed after another
    one was recorded spans that run's ids, which must not count."""
    from test_gate_builders import DEFAULT_ACTIONS, reward_info

    from store import writer

    conn = new_store(tmp_path)
    tasks = [str(i) for i in range(1, 13)]
    a = _random_run(conn, "a", 5, tasks)
    _random_run(conn, "b", 6, tasks)
    for trial, t in enumerate(tasks[:4], start=7):  # later episodes of run a
        eid = writer.begin_episode(conn, a, episode_key=f"{t}:{trial}", task_id=t, trial=trial,
                                   ord=1000 + trial)
        writer.append_step(conn, eid, 0, {"role": "assistant", "content": "Hi!"},
                           latency_ms=2.5)
        writer.finish_episode(conn, eid, termination_reason="user_stop",
                              reward_info=reward_info(1.0, [(n, k, trial % 2 == 0)
                                                            for n, k in DEFAULT_ACTIONS]),
                              duration=1.0, agent_cost=0.5)
    conn.commit()
    data = rundata.load_run(conn, a)
    lo, hi = data.id_range()
    assert conn.execute("SELECT count(*) FROM episodes WHERE run_id != ? AND episode_id "
                        "BETWEEN ? AND ?", (a, lo, hi)).fetchone()[0] > 0
    _same(run_metrics(conn, a, data=data).to_dict(), oracle.run_metrics(conn, a).to_dict())
    cmp = compare_runs(conn, a, a)
    _same(checks_mod._per_task_action_match(conn, cmp), oracle.per_task_action_match(conn, cmp))


def test_step_latency_reads_only_the_partial_index(tmp_path):
    conn = new_store(tmp_path)
    a = make_run(conn, "a", {"1": [1.0], "2": [0.0]})
    b = make_run(conn, "b", {"1": [1.0], "2": [1.0]})
    conn.execute("UPDATE steps SET latency_ms = 40.0 WHERE episode_id IN "
                 "(SELECT episode_id FROM episodes WHERE run_id = ?)", (b,))
    conn.commit()
    plan = " ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT total(s.latency_ms) FROM episodes e JOIN steps s "
        "ON s.episode_id = e.episode_id WHERE e.run_id = ? AND s.latency_ms IS NOT NULL",
        (a,)))
    assert "COVERING INDEX idx_steps_latency" in plan
    assert run_metrics(conn, a).mean_step_latency_ms is None  # its range holds none
    assert run_metrics(conn, b).mean_step_latency_ms == 40.0
    assert oracle.run_metrics(conn, b).mean_step_latency_ms == 40.0


def test_pass_hat_k_is_the_worlds_mean_to_the_last_bit():
    from t2e_tui.gate.stats import run_pass_hat_k
    from world.scoring import pass_hat_k as world_pass_hat_k

    rng = random.Random(4)
    for n_tasks in (1, 7, 3000):
        shapes = [(rng.randint(0, n), n) for n in (rng.choice((3, 4, 5)) for _ in range(n_tasks))]
        got = run_pass_hat_k(shapes)
        trials = {str(i): [True] * c + [False] * (n - c) for i, (c, n) in enumerate(shapes)}
        assert got == {k: world_pass_hat_k(trials, k) for k in range(1, min(n for _, n in
                                                                            shapes) + 1)}


def test_sign_flip_is_the_same_whether_deltas_share_objects():
    from fractions import Fraction as F

    from t2e_tui.gate.stats import sign_flip_test

    rng = random.Random(9)
    values = [rng.choice((F(-1), F(-1, 2), F(0), F(1, 2), F(1), F(1, 3))) for _ in range(4000)]
    fresh = [F(v.numerator, v.denominator) for v in values]  # one object per task
    assert sign_flip_test(values) == sign_flip_test(fresh)
    assert sign_flip_test(values)[1] is True


def test_task_ids_sort_as_the_tuple_key_did():
    from t2e_tui.gate.compare import sort_task_ids, task_sort_key

    rng = random.Random(2)
    ids = [rng.choice((str(rng.randint(0, 500)), f"0{rng.randint(0, 50)}", f"t{rng.randint(0, 99)}",
                       "", "é", "10a")) for _ in range(3000)]
    for sample in (ids, [i for i in ids if i.isdigit()], ["b", "a"], []):
        assert sort_task_ids(sample) == sorted(sample, key=task_sort_key)
