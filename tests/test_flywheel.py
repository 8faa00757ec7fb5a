"""`t2e flywheel` and the failures screen's flywheel view: why it is empty (one sentence for
the CLI and the app), and which run is each version's point (like with like: the same task
set and agent, never a partial rerun)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from store import connect
from t2e_tui.cli.main import cli


def t2e(store, *args):
    return CliRunner().invoke(cli, ["--store", str(store), *args])


def test_imported_runs_only_say_there_is_no_candidate_version_and_what_to_do(real_pair):
    store, _ = real_pair
    out = t2e(store, "flywheel")
    assert out.exit_code == 0, out.output
    # the way out: save a version, then run it (imported runs carry none)
    assert out.output.startswith("no candidate versions yet: ")
    for said in ("imported runs", "t2e candidate save FILE", "t2e run --candidate NAME"):
        assert said in out.output
    assert json.loads(t2e(store, "flywheel", "--json").output) == []
    # one function says it, for the CLI and the app (test_tui_failures.py)
    from t2e_tui.analysis.flywheel import flywheel_chart

    chart = flywheel_chart(connect(store))
    assert chart["rows"] == [] and chart["basis"] is None
    assert out.output == "{}: {}\n".format(*chart["empty"])


def _partial_rerun(store, candidate: str) -> str:
    """A task rerun's side, as `r` makes it: one task, 3 trials, role development."""
    out = t2e(store, "run", "--candidate", candidate, "--tasks", "auth-01", "--trials", "3",
              "--concurrency", "3", "--role", "development", "--model", "scripted",
              "--user", "scripted", "--json")
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)["run_id"]


def test_a_partial_rerun_is_not_a_versions_point(tmp_path, new_demo):
    from t2e_tui.analysis.flywheel import flywheel

    d = new_demo(tmp_path / "fly.sqlite")
    s = d["store"]
    before = flywheel(connect(s))
    before_cli = t2e(s, "flywheel").output
    # the newest runs of the baseline and of a candidate: one task, 3 trials
    reruns = {_partial_rerun(s, "baseline"), _partial_rerun(s, "cross-order-v1")}
    rows = flywheel(connect(s))
    by_name = {r["version"]: r for r in rows}
    cand = {c["name"]: c for c in d["candidates"]}
    # each point is the version's newest complete run on the set most versions ran: the
    # heldout set (56 tasks, the scripted agent), never the 1-task reruns
    assert by_name["baseline"]["run_id"] == d["runs"]["baseline"]
    assert by_name["cross-order-v1"]["run_id"] == cand["cross-order-v1"]["run_id"]
    assert not reruns & {r["run_id"] for r in rows}

    def figures(rows):
        return [{k: v for k, v in r.items() if k != "runs_elsewhere"} for r in rows]

    assert figures(rows) == figures(before)
    assert by_name["baseline"]["runs_elsewhere"] == 2      # the train run and the rerun
    # the CLI says which runs are the points, and plots the same figures as before
    out = t2e(s, "flywheel")
    assert out.exit_code == 0, out.output
    said = "newest complete run on the same 56 mini-retail tasks, agent scripted"
    assert said in out.output and "3 run(s) on other sets left out" in out.output
    assert [x for x in out.output.splitlines() if said not in x] == [
        x for x in before_cli.splitlines() if said not in x]

    from t2e_tui.analysis.flywheel import flywheel_chart

    basis = flywheel_chart(connect(s))["basis"]
    assert basis == {"domain": "mini-retail", "agent_model": "scripted", "tasks": 56,
                     "left_out": 3}


def test_a_version_with_no_run_on_the_set_is_a_gap(tmp_path, new_demo):
    from t2e_tui.analysis.flywheel import class_sparklines, flywheel

    d = new_demo(tmp_path / "fly.sqlite")
    s = d["store"]
    # skip-confirm-v1's only run becomes a partial one: its heldout run is removed
    skip = next(c for c in d["candidates"] if c["name"] == "skip-confirm-v1")
    _partial_rerun(s, "skip-confirm-v1")
    out = t2e(s, "runs", "rm", skip["run_id"])
    assert out.exit_code == 0, out.output
    rows = {r["version"]: r for r in flywheel(connect(s))}
    assert rows["skip-confirm-v1"]["run_id"] is None
    assert rows["skip-confirm-v1"]["runs_elsewhere"] == 1
    assert all(line.endswith("·") for _, line, _ in class_sparklines(list(rows.values())))
