"""The relabel check (`world.relabel.check_label`): a simulation filed under the wrong task is
found from its recorded checks or its trajectory, never on identity alone; twins (tasks with
identical gold actions) are told apart or graded either way; at 25,000 embedded tasks each
simulation looks only at its candidates."""

from __future__ import annotations

import json
import random

from test_world_scoring import call_msgs, run_cli
from test_world_tools import make_data

from world.db import RetailDB
from world.relabel import check_label
from world.tasks import parse_tasks

# -- scrambled labels in the shared files ------------------------------------------------------

def _shuffle_labels(data: dict, seed: int) -> dict:
    """Shuffle the simulations' task labels among them (by `seed`); returns sim id -> the
    task it really is."""
    truth = {s["id"]: s["task_id"] for s in data["simulations"]}
    labels = [s["task_id"] for s in data["simulations"]]
    random.Random(seed).shuffle(labels)
    for sim, label in zip(data["simulations"], labels):
        sim["task_id"] = label
    return truth


def _scrambled(path, tmp_path, seed, strip_checks=False):
    data = json.loads(path.read_text())
    truth = _shuffle_labels(data, seed)
    for sim in data["simulations"]:
        if strip_checks:
            sim["reward_info"]["action_checks"] = []
    out = tmp_path / f"scrambled-{seed}-{int(strip_checks)}.json"
    out.write_text(json.dumps(data))
    return out, truth


def test_relabel_recovers_scrambled_labels(tau2_dir, shared_results, tmp_path):
    out, truth = _scrambled(shared_results[0], tmp_path, seed=7)
    code, text = run_cli("score", str(out), "--data", str(tau2_dir), "--json")
    rep = json.loads(text)["files"][0]
    assert code == 0 and rep["agree"] == 40, rep["disagree"]
    moved = {sid for sid, t in truth.items()
             if t != next(s["task_id"] for s in json.loads(out.read_text())["simulations"] if s["id"] == sid)}
    assert {r["sim_id"] for r in rep["relabelled"]} == moved
    assert all(r["likely"] == truth[r["sim_id"]] for r in rep["relabelled"])


def test_relabel_from_the_trajectory_alone_is_never_wrong(shared_results, tmp_path):
    for seed in range(3):
        out, truth = _scrambled(shared_results[1], tmp_path, seed, strip_checks=True)
        data = json.loads(out.read_text())
        tasks = parse_tasks(data["tasks"])
        found = [check_label(s, tasks) for s in data["simulations"]]
        hits = [f for f in found if f is not None]
        assert all(f["likely"] == truth[f["sim_id"]] for f in hits)
        wrong_labels = sum(1 for s in data["simulations"] if s["task_id"] != truth[s["id"]])
        assert len(hits) >= wrong_labels - 5  # a few share a user and stay ambiguous


def test_correct_labels_are_kept(shared_results):
    data = json.loads(shared_results[0].read_text())
    tasks = parse_tasks(data["tasks"])
    for sim in data["simulations"]:
        assert check_label(sim, tasks) is None
        assert check_label({**sim, "reward_info": None}, tasks) is None


def test_relabel_does_not_move_a_label_on_identity_alone():
    a = {"id": "A", "evaluation_criteria": {"actions": [
        {"action_id": "A_0", "name": "get_user_details", "arguments": {"user_id": "ann_lee_1"}},
        {"action_id": "A_1", "name": "cancel_pending_order",
         "arguments": {"order_id": "#W1", "reason": "no longer needed"}}]}}
    b = {"id": "B", "evaluation_criteria": {"actions": [
        {"action_id": "B_0", "name": "get_user_details", "arguments": {"user_id": "bob_ray_3"}},
        {"action_id": "B_1", "name": "modify_pending_order_address",
         "arguments": {"order_id": "#W9", "address1": "x"}}]}}
    tasks = parse_tasks([a, b])
    wandered = call_msgs(("get_user_details", {"user_id": "bob_ray_3"}))
    assert check_label({"id": "s", "task_id": "A", "messages": wandered}, tasks) is None
    did_b = call_msgs(("get_user_details", {"user_id": "bob_ray_3"}),
                      ("modify_pending_order_address", {"order_id": "#W9", "address1": "x"}))
    assert check_label({"id": "s", "task_id": "A", "messages": did_b}, tasks) == {
        "sim_id": "s", "label": "A", "likely": "B",
        "reason": "the trajectory is about bob_ray_3, which task A does not involve; "
                  "task B fits uniquely"}


# -- twins: tasks with identical gold actions (tau2 retail 41/42, 71/72, 83/84, 96/97) ---------

def _with_twins(shared_results, tau2_dir, tmp_path, seed, strip_ids=False):
    """The shared test-split file with the twins of its tasks 42, 71 and 97 embedded too
    (41, 72, 96 from the tau2 data), labels scrambled by `seed`."""
    data = json.loads(shared_results[0].read_text())
    pre = {t["id"]: t for t in json.loads((tau2_dir / "retail" / "tasks_pre_v1.json")
                                          .read_text())}
    data["tasks"] += [pre[t] for t in ("41", "72", "96")]
    truth = _shuffle_labels(data, seed)
    for sim in data["simulations"]:
        if strip_ids:
            for c in sim["reward_info"]["action_checks"]:
                c["action"].pop("action_id", None)
    out = tmp_path / f"twins-{seed}-{int(strip_ids)}.json"
    out.write_text(json.dumps(data))
    return out, truth


def test_twins_are_told_apart_by_the_recorded_action_ids(tau2_dir, shared_results, tmp_path):
    twin_of = {"42": "41", "71": "72", "97": "96"}
    for seed in (7, 8):
        out, truth = _with_twins(shared_results, tau2_dir, tmp_path, seed)
        code, text = run_cli("score", str(out), "--data", str(tau2_dir), "--json")
        rep = json.loads(text)["files"][0]
        assert code == 0 and rep["agree"] == 40 and rep["ambiguous"] == [], rep["disagree"]
        found = {r["sim_id"]: r for r in rep["relabelled"]}
        assert all(r["likely"] == truth[sid] for sid, r in found.items())
        for sid, t in truth.items():
            if t in twin_of and sid in found:
                assert "share the recorded gold actions" in found[sid]["reason"]
                assert "the recorded action ids" in found[sid]["reason"]


def test_twins_with_identical_outcomes_grade_either_way(tau2_dir, shared_results, tmp_path):
    # without action ids nothing tells 41 from 42: their gold outcomes are identical, so
    # either is graded, and the score still agrees
    out, truth = _with_twins(shared_results, tau2_dir, tmp_path, 7, strip_ids=True)
    code, text = run_cli("score", str(out), "--data", str(tau2_dir), "--json")
    rep = json.loads(text)["files"][0]
    assert code == 0 and rep["agree"] == 40 and rep["ambiguous"] == [], rep["disagree"]


def _twin_tasks(comm_a=None, comm_b=None, scen_a="wants a refund", scen_b="wants a refund"):
    act = [{"action_id": "x_0", "name": "cancel_pending_order",
            "arguments": {"order_id": "#W1", "reason": "no longer needed"}}]

    def task(tid, comm, scen, order="#W1"):
        a = {**act[0], "action_id": f"{tid}_0",
             "arguments": {**act[0]["arguments"], "order_id": order}}
        return {"id": tid, "user_scenario": {"instructions": {"reason_for_call": scen}},
                "evaluation_criteria": {"actions": [a], "communicate_info": comm or [],
                                        "reward_basis": ["DB", "COMMUNICATE"]}}
    # A and B are twins (the same gold action); C, the wrong label, is another task
    return parse_tasks([task("A", comm_a, scen_a), task("B", comm_b, scen_b),
                        task("C", ["other"], "x", order="#W9")])


def _twin_sim(label, ids=None, said=None, user="hello"):
    checks = [{"action": {"name": "cancel_pending_order",
                          "arguments": {"order_id": "#W1", "reason": "no longer needed"},
                          **({"action_id": ids} if ids else {})},
               "action_match": True}]
    ri = {"reward": 1.0, "action_checks": checks}
    if said is not None:
        ri["communicate_checks"] = [{"info": s, "met": True} for s in said]
    return {"id": "s1", "task_id": label, "reward_info": ri,
            "messages": [{"role": "user", "content": user}]}


def test_twins_unit_evidence_order():
    tasks = _twin_tasks(comm_a=["12.50"], comm_b=["99.00"],
                        scen_a="refund for the blue kettle", scen_b="refund for the green lamp")
    # 1. action ids
    assert check_label(_twin_sim("C", ids="B_0"), tasks)["likely"] == "B"
    assert check_label(_twin_sim("B", ids="B_0"), tasks) is None
    assert check_label(_twin_sim("A", ids="B_0"), tasks)["likely"] == "B"
    # 2. communicate checks
    found = check_label(_twin_sim("C", said=["99.00"]), tasks)
    assert found["likely"] == "B" and "communicate checks" in found["reason"]
    # 3. the user's words against each scenario
    found = check_label(_twin_sim("C", user="I want a refund for my kettle, the blue one"), tasks)
    assert found["likely"] == "A" and "scenario" in found["reason"]
    # nothing tells them apart, and their outcomes differ: an ambiguous label, no guess
    found = check_label(_twin_sim("C"), tasks)
    assert found["likely"] is None and found["ambiguous"] == ["A", "B"]
    assert found["reason"].startswith("ambiguous label")
    # the label itself is one of the twins: kept
    assert check_label(_twin_sim("A"), tasks) is None


def test_twins_with_identical_outcomes_pick_one():
    tasks = _twin_tasks()
    found = check_label(_twin_sim("C"), tasks)
    assert found["likely"] == "A" and "identical gold outcomes" in found["reason"]


def test_score_counts_ambiguous_labels_apart(tmp_path):
    tasks = _twin_tasks(comm_a=["12.50"], comm_b=["99.00"])
    from world.rescore import rescore

    data = {"info": {"environment_info": {"domain_name": "retail"}},
            "tasks": [t.raw for t in tasks.values()], "simulations": [_twin_sim("C")]}
    db = RetailDB.from_dict(make_data(), "test-db")  # test_world_scoring's db fixture
    rep = rescore(data, db, source="twins.json")
    assert rep["agree"] == 0 and rep["disagree"] == [] and len(rep["ambiguous"]) == 1


# -- the relabel check at 25,000 embedded tasks ------------------------------------------------

def _many_tasks(n, seed=0):
    """n tasks of four kinds: gold naming a user, only an email, only an order, nobody."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 4
        acts = []
        if kind == 0:
            acts.append({"name": "get_user_details", "arguments": {"user_id": f"u_{i % 97}_1"}})
        elif kind == 1:
            acts.append({"name": "find_user_id_by_email",
                         "arguments": {"email": f"e{i % 89}@x.com"}})
        if kind != 3:
            acts.append({"name": "cancel_pending_order",
                         "arguments": {"order_id": f"#W{rnd.randrange(60)}",
                                       "reason": "no longer needed"}})
        out.append({"id": str(i), "user_scenario": f"call about u {i % 97} 1",
                    "evaluation_criteria": {"actions": [
                        {**a, "action_id": f"{i}_{k}"} for k, a in enumerate(acts)]}})
    return parse_tasks(out)


def _reference_check_label(sim, tasks):
    """check_label as it was: every task looked at for every simulation."""
    from world import relabel as r

    label = str(sim["task_id"])
    sig = r._recorded_signature(sim)
    if sig is not None:
        graded = [tid for tid, t in tasks.items() if t.actions and r._task_signature(t) == sig]
        if len(graded) > 1:
            return r._graded_twins(sim, label, sim.get("id"), [tasks[t] for t in graded])
        if label in graded:
            return None
        if len(graded) == 1:
            return {"likely": graded[0]}
    traj = r.trajectory_entities(sim["messages"])
    if not traj.identity():
        return None
    calls = list(r.iter_tool_calls(sim["messages"]))
    lt = tasks.get(label)
    if lt is not None:
        if r._fits(lt, traj) is not False:
            return None
        done, _, _ = r._rank(lt, calls, traj)
        if done or (r.task_entities(lt).orders & traj.orders):
            return None
    ranked = sorted(((r._rank(t, calls, traj), tid) for tid, t in tasks.items()
                     if r._fits(t, traj)), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[1][0] == ranked[0][0]):
        return None
    (done, _, seen), likely = ranked[0]
    if not done and not (seen and r.task_entities(tasks[likely]).orders):
        return None
    return {"likely": likely}


def _random_sims(tasks, n, seed):
    rnd = random.Random(seed)
    ids = list(tasks)
    sims = []
    for k in range(n):
        calls = []
        for _ in range(rnd.randrange(1, 4)):
            pick = rnd.randrange(4)
            if pick == 0:
                calls.append(("get_user_details", {"user_id": f"u_{rnd.randrange(97)}_1"}))
            elif pick == 1:
                calls.append(("find_user_id_by_email", {"email": f"e{rnd.randrange(89)}@x.com"}))
            else:
                calls.append(("cancel_pending_order", {"order_id": f"#W{rnd.randrange(60)}",
                                                       "reason": "no longer needed"}))
        sims.append({"id": f"s{k}", "task_id": rnd.choice(ids), "messages": call_msgs(*calls)})
    return sims


def test_relabel_index_gives_what_looking_at_every_task_gave():
    tasks = _many_tasks(400)
    moved = 0
    for sim in _random_sims(tasks, 300, seed=3):
        got, want = check_label(sim, tasks), _reference_check_label(sim, tasks)
        assert (got and got["likely"]) == (want and want["likely"]), sim
        moved += bool(got)
    assert moved > 10  # the data exercises relabelling, not only kept labels


def test_relabel_looks_only_at_the_tasks_a_trajectory_can_be_about(monkeypatch):
    """25,000 embedded tasks made every simulation walk every task (twice): scoring and
    importing such a file was quadratic. Now one simulation looks at its candidates only."""
    from world import relabel as r

    tasks = _many_tasks(8000)
    sims = _random_sims(tasks, 20, seed=5)
    check_label(sims[0], tasks)  # the index is built once per tasks dict
    seen = {"fits": 0, "sig": 0}
    real_fits, real_sig = r._fits, r._task_signature

    def fits(t, traj):
        seen["fits"] += 1
        return real_fits(t, traj)

    def sig(t):
        seen["sig"] += 1
        return real_sig(t)

    monkeypatch.setattr(r, "_fits", fits)
    monkeypatch.setattr(r, "_task_signature", sig)
    for sim in sims:
        check_label(sim, tasks)
    # the tasks naming nobody (a quarter) are always candidates; the rest only by key
    assert seen["sig"] == 0
    assert seen["fits"] < 20 * (8000 // 4 + 8000 // 10)
