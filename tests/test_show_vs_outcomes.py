"""`t2e show A --vs B` (the command a gate report gives for a regression) said "no difference"
for two episodes whose trajectories are the same and whose outcomes differ (reward 0 on a
timeout vs 1), and printed none of the episode lines plain `show` prints (a Harbor trial's
exception, a missing trajectory). It says the outcomes differ, and prints each side's lines."""

from __future__ import annotations

import json

from click.testing import CliRunner

from t2e_tui.cli import cli

MSGS = [{"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "Let me check."}]


def _run(tmp_path, name, reward, reason, extra=None):
    ep = {"task_id": "t1", "trial": 0, "reward": reward, "termination_reason": reason,
          "messages": MSGS, **(extra or {})}
    p = tmp_path / f"{name}.jsonl"
    p.write_text(json.dumps({"type": "run", "name": name, "domain": "retail"}) + "\n"
                 + json.dumps(ep) + "\n")
    return p


def test_same_trajectories_with_other_outcomes_are_not_no_difference(tmp_path):
    store = str(tmp_path / "s.sqlite")
    runner = CliRunner()
    for p in (_run(tmp_path, "base", 1.0, "user_stop"),
              _run(tmp_path, "cand", 0.0, "agent_error",
                   {"review": {"summary": "the agent timed out", "errors": []}})):
        r = runner.invoke(cli, ["--store", store, "import", str(p)])
        assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["--store", store, "show", "base:t1", "--vs", "cand:t1"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "no difference in the trajectories; the outcomes differ" in text, r.output
    assert "review: the agent timed out" in text, r.output
    # (the same outcome: plain "no difference", as before)
    r = runner.invoke(cli, ["--store", store, "show", "base:t1", "--vs", "base:t1"])
    text = " ".join(r.output.split())
    assert "no difference (" in text and "outcomes differ" not in text, r.output
