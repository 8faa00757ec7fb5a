"""The README's CI recipe, run as written (bash, the `t2e` command) on two jobs sharing a store.

It once imported both runs with `--role heldout` but registered no heldout set, so the gate
called the evidence development: a candidate better on every task got exit 4 and the job
failed whatever the candidate did.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

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
        r["simulations"].append(sim)
    return r


def job(tmp: Path, sha: str, script: str) -> subprocess.CompletedProcess:
    # `t2e` as the README's first command installs it: this interpreter's package
    shell = f't2e() {{ "{sys.executable}" -m t2e_tui.cli "$@"; }}\n' + script
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # (python3 for the recipe's run_id)
    return subprocess.run(["bash", "-c", shell], cwd=tmp, capture_output=True, text=True,
                          env={"PATH": path, "GIT_SHA": sha, "HOME": str(tmp),
                               "PYTHONDONTWRITEBYTECODE": "1"}, timeout=300)


def test_the_recipe_promotes_a_better_candidate_and_fails_a_worse_one(tmp_path):
    write_json(tmp_path / "baseline-results.json", results("agent-a", 4, "a"))
    write_json(tmp_path / "candidate-results.json", results("agent-b", 12, "b"))
    first = job(tmp_path, "abc123", recipe())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "PROMOTE" in (tmp_path / "gate.md").read_text(encoding="utf-8")
    suite = ET.parse(tmp_path / "gate.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0"
    # the next job: the store kept, the set already there, another candidate (worse)
    write_json(tmp_path / "candidate-results.json", results("agent-c", 2, "c"))
    second = job(tmp_path, "def456", recipe())
    assert second.returncode == 1, second.stdout + second.stderr
    assert "DISCARD" in (tmp_path / "gate.md").read_text(encoding="utf-8")
    # that job re-run on the same files (a CI retry): the same verdict, the reports written
    # (the candidate's name was ambiguous once it was imported twice: exit 2, no reports)
    (tmp_path / "gate.md").unlink()
    retry = job(tmp_path, "def456", recipe())
    assert retry.returncode == 1, retry.stdout + retry.stderr
    assert "DISCARD" in (tmp_path / "gate.md").read_text(encoding="utf-8")
    # a re-run that makes a new run of the same agent: its second run on the set, which does
    # not count (first-run rule), however good: not a promote (with the two agents before it
    # on the set it also needs p <= 0.05 * 6 / (pi^2 * 8): inconclusive), reports written
    write_json(tmp_path / "candidate-results.json", results("agent-c", 12, "d"))
    (tmp_path / "gate.md").unlink()
    again = job(tmp_path, "def456", recipe())
    assert again.returncode == 3, again.stdout + again.stderr
    assert "is run 2 of 2 by the same agent" in again.stdout
    assert "INCONCLUSIVE" in (tmp_path / "gate.md").read_text(encoding="utf-8")


def test_without_the_registered_set_the_same_evidence_is_not_a_promote(tmp_path):
    """Why the recipe registers the set: the old recipe (imports and gate only) gave exit 4."""
    write_json(tmp_path / "baseline-results.json", results("agent-a", 4, "a"))
    write_json(tmp_path / "candidate-results.json", results("agent-b", 12, "b"))
    lines = recipe().splitlines()
    old = "\n".join(ln for ln in lines if "heldout" not in ln or "import" in ln)
    res = job(tmp_path, "abc123", old)
    assert res.returncode == 4, res.stdout + res.stderr


def test_a_refused_import_stops_the_job_with_its_message(tmp_path):
    """Without `set -e` a refused import left the run id empty and the gate refused that
    (exit 2, "no run matches ''"), with no word of the file."""
    write_json(tmp_path / "baseline-results.json", results("agent-a", 4, "a"))
    (tmp_path / "candidate-results.json").write_text("{not json")
    res = job(tmp_path, "abc123", recipe())
    assert res.returncode == 2, res.stdout + res.stderr
    assert "candidate-results.json" in res.stdout + res.stderr
    assert not (tmp_path / "gate.md").exists()
