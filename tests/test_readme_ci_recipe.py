"""The README's CI recipe, run as written (bash, the `t2e` command) on two jobs sharing a store.

It once imported both runs with `--role heldout` but registered no heldout set, so the gate
called the evidence development: a candidate better on every task got exit 4 and the job
failed whatever the candidate did.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_store_data import make_results, make_sim, make_task, write_json

README = Path(__file__).resolve().parents[1] / "README.md"
TASKS = [make_task(str(i), f"u_{i}", f"#W{1000000 + i}") for i in range(12)]
# the one argument pair a test cannot give as written (it names tau2's data directory)
DATA_ARGS = "--tasks test --data tau2-bench/data/tau2/domains"


def recipe() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### In CI"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    assert block.count(DATA_ARGS) <= 1
    return block.replace(DATA_ARGS, "--tasks " + ",".join(t["id"] for t in TASKS))


def results(agent: str, wins: int, prefix: str) -> dict:
    r = make_results(0)
    r["tasks"] = copy.deepcopy(TASKS)
    r["info"]["agent_info"]["llm"] = agent
    r["simulations"] = []
    for i, t in enumerate(TASKS):
        sim = make_sim(i, t, reward=1.0 if i < wins else 0.0)
        sim["id"] = f"{prefix}-{i}"
        # what the grader records of these trajectories: the cancel is never called, and a
        # loss never says "cancelled" (its reward is its communicate check here)
        sim["reward_info"]["action_checks"][1].update(action_match=False, action_reward=0.0)
        if i >= wins:
            sim["messages"][4]["content"] = "I could not do that."
            sim["reward_info"]["communicate_checks"][0]["met"] = False
        r["simulations"].append(sim)
    return r


def records(tmp: Path) -> None:
    """The recipe's --data directory, made here: retail records holding none of the tasks'
    users or orders, so the gold actions change nothing, the DB check matches and each
    reward is its communicate check (the gate re-scores both files on these, and a reward
    it could not re-score would cap the verdict at inconclusive)."""
    folder = tmp / "tau2-bench/data/tau2/domains/retail"
    if not folder.exists():
        folder.mkdir(parents=True)
        write_json(folder / "db.json", {"products": {}, "users": {}, "orders": {}})


def job(tmp: Path, sha: str, script: str) -> subprocess.CompletedProcess:
    records(tmp)
    # `t2e` as the README's first command installs it: this interpreter's package
    shell = f't2e() {{ "{sys.executable}" -m t2e_tui.cli "$@"; }}\n' + script
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # (python3 for the recipe's run_id)
    env = {"PATH": path, "GIT_SHA": sha, "HOME": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"}
    if os.environ.get("PYTHONPYCACHEPREFIX"):
        # the suite's bytecode cache outside the checkout (conftest): nothing is written into
        # the tree either way, and each `t2e` of the recipe no longer compiles every module it
        # imports (~0.1 CPU-s each, ~30 of them)
        env["PYTHONPYCACHEPREFIX"] = os.environ["PYTHONPYCACHEPREFIX"]
        del env["PYTHONDONTWRITEBYTECODE"]
    return subprocess.run(["bash", "-c", shell], cwd=tmp, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.slow
def test_the_recipe_passes_a_better_candidate_as_supported_and_fails_a_worse_one(tmp_path):
    """Both files name the same agent llm, as a team's baseline and candidate agents often do.
    The recipe once promised a promote there and could never give one: the two imports were
    'the same agent' and the candidate its run 2 of 2. An imported run's agent is unknown
    (never a re-roll of another file, never a first run): supported is the best verdict."""
    write_json(tmp_path / "baseline-results.json", results("agent-a", 4, "a"))
    write_json(tmp_path / "candidate-results.json", results("agent-a", 12, "b"))
    first = job(tmp_path, "abc123", recipe())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "SUPPORTED" in (tmp_path / "gate.md").read_text(encoding="utf-8")
    assert "candidate run candidate-abc123" in first.stdout
    assert "was imported: its agent cannot be identified" in first.stdout
    assert "same agent" not in first.stdout
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0"   # supported passes the job: so does its verdict case
    # the next job: the store kept, the set already there, another candidate (worse)
    write_json(tmp_path / "candidate-results.json", results("agent-a", 2, "c"))
    second = job(tmp_path, "def456", recipe())
    assert second.returncode == 1, second.stdout + second.stderr
    assert "DISCARD" in (tmp_path / "gate.md").read_text(encoding="utf-8")
    # that job re-run on the same files (a CI retry): the same verdict, the reports written
    # (the candidate's name was ambiguous once it was imported twice: exit 2, no reports)
    (tmp_path / "gate.md").unlink()
    retry = job(tmp_path, "def456", recipe())
    assert retry.returncode == 1, retry.stdout + retry.stderr
    assert "DISCARD" in (tmp_path / "gate.md").read_text(encoding="utf-8")
    # a re-run that makes a new file, its agent relabelled: no free re-roll either, it is one
    # more candidate tried on the set, the third (p <= 0.05 * 6 / (pi^2 * 27): inconclusive)
    write_json(tmp_path / "candidate-results.json", results("agent-z", 12, "d"))
    (tmp_path / "gate.md").unlink()
    again = job(tmp_path, "def456", recipe())
    assert again.returncode == 3, again.stdout + again.stderr
    assert "candidate 3 on set 'ci-heldout'" in again.stdout
    assert "INCONCLUSIVE" in (tmp_path / "gate.md").read_text(encoding="utf-8")


def test_without_the_registered_set_nothing_is_counted(tmp_path):
    """Why the recipe registers the set: without it every job is tested at the uncorrected
    alpha, so the relabelled re-run above passes."""
    write_json(tmp_path / "baseline-results.json", results("agent-a", 4, "a"))
    lines = recipe().splitlines()
    old = "\n".join(ln for ln in lines if "heldout" not in ln or "import" in ln)
    for n, (label, prefix) in enumerate((("agent-a", "b"), ("agent-z", "d"))):
        write_json(tmp_path / "candidate-results.json", results(label, 12, prefix))
        res = job(tmp_path, f"sha{n}", old)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "no registered heldout set" in res.stdout and "corrected" not in res.stdout


def test_a_refused_import_stops_the_job_with_its_message(tmp_path):
    """Without `set -e` a refused import left the run id empty and the gate refused that
    (exit 2, "no run matches ''"), with no word of the file."""
    write_json(tmp_path / "baseline-results.json", results("agent-a", 4, "a"))
    (tmp_path / "candidate-results.json").write_text("{not json")
    res = job(tmp_path, "abc123", recipe())
    assert res.returncode == 2, res.stdout + res.stderr
    assert "candidate-results.json" in res.stdout + res.stderr
    assert not (tmp_path / "gate.md").exists()
