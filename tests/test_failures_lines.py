"""`t2e failures`' human lines print no `None` (session 15 review, M2): a foreign episode has
no trial (`41 t1 tNone step 3: unclassified`, the unscored list too), and two identical
trajectories part at no step (`flip task_002 (fixed): episodes 4/20 part at step None: the
trajectories are identical.`)."""

from __future__ import annotations

import json

from test_analysis_unscored import _conversation, _import, _run
from test_import_tau2_1x import _sim, results_1x

from store import connect
from store.outcomes import map_reward_attr


def test_a_foreign_episode_without_a_trial_prints_none_of_it(tmp_path):
    st, rid = _import(tmp_path, [_conversation(1, score=0, loop=True), _conversation(2, score=1),
                                 _conversation(3, loop=True)])
    conn = connect(st)
    map_reward_attr(conn, rid, "app.outcome")   # what `t2e gate --reward-attr` does
    conn.close()
    doc = json.loads(_run(st, "failures", rid, "--json"))
    assert [e["trial"] for e in doc["episodes"]] == [None]
    assert [e["trial"] for e in doc["unscored_findings"]] == [None]
    out = _run(st, "failures", rid)
    assert "None" not in out, out
    failed = next(line for line in out.splitlines() if " conv1 " in line)
    assert failed.split()[1:3] == ["conv1", "step"], failed   # task, then where
    unscored = next(line for line in out.splitlines() if " conv3 " in line)
    assert unscored.split()[1:3] == ["conv3", "unscored:"], unscored


def test_identical_trajectories_part_at_no_step(tmp_path):
    tids = ["task_001", "task_002"]
    st = str(tmp_path / "s.sqlite")
    for name, rewards in (("a", (1.0, 0.0)), ("b", (1.0, 1.0))):
        doc = results_1x("telecom", sims=[_sim(f"{name}{i}", t, r, "user_stop")
                                          for i, (t, r) in enumerate(zip(tids, rewards))])
        doc["info"]["agent_info"]["llm"] = f"agent-{name}"
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        _run(st, "import", str(tmp_path / f"{name}.json"))
    doc = json.loads(_run(st, "failures", "b", "--vs", "a", "--json"))
    [flip] = doc["flips"]
    assert flip["pair_divergence"]["step"] is None   # the same messages on both sides
    out = _run(st, "failures", "b", "--vs", "a")
    line = next(x for x in out.splitlines() if x.startswith("flip "))
    assert "None" not in line and "the trajectories are identical" in line, line
    assert "part at step" not in line
