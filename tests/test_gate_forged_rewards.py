"""A results file whose rewards were edited (every `reward` and action match set to 1) must not
pass the gate: where the domain can be re-scored here, the gate re-scores imported runs and
evidence whose recorded rewards do not reproduce supports nothing (inconclusive, naming the
simulations and both values). Where it could but the records were not given, nobody vouches for
the rewards: inconclusive at most.

The forged files are built at run time: from the real tau2 results in ../shared (skipped when
absent) and from an export of a scripted mini-retail run (always available)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from t2e_tui.cli import cli


def forge(src, dst, matched: set | None = None) -> list[tuple[str, str, float]]:
    """Copy results file `src` to `dst` with every reward and action match set to 1 (db and
    communicate checks too, so the record looks whole); returns the (sim id, task id, real
    reward) of the simulations whose reward went up. `matched` gets the ids of those whose
    action matches went up."""
    data = json.loads(src.read_text())
    raised = []
    for s in data["simulations"]:
        ri = s["reward_info"]
        if ri["reward"] != 1.0:
            raised.append((s["id"], str(s["task_id"]), ri["reward"]))
        if matched is not None and not all(a["action_match"] for a in ri["action_checks"]):
            matched.add(s["id"])
        ri["reward"] = 1.0
        for ac in ri.get("action_checks") or []:
            ac["action_match"], ac["action_reward"] = True, 1.0
        if ri.get("db_check"):
            ri["db_check"] = {"db_match": True, "db_reward": 1.0}
        for c in ri.get("communicate_checks") or []:
            c["met"] = True
        if isinstance(ri.get("reward_breakdown"), dict):
            ri["reward_breakdown"] = {k: 1.0 for k in ri["reward_breakdown"]}
    dst.write_text(json.dumps(data, indent=2))
    return raised


class Store:
    def __init__(self, tmp_path):
        self.path = str(tmp_path / "s.sqlite")
        self.runner = CliRunner()

    def __call__(self, *args, ok=(0,)):
        res = self.runner.invoke(cli, ["--store", self.path, *args])
        assert res.exit_code in ok, (args, res.exit_code, res.output)
        return res

    def imp(self, path, name, *extra) -> dict:
        doc = json.loads(self("import", str(path), "--name", name, "--json", *extra).output)
        return doc["imported"][0]

    def gate(self, b, c, *extra) -> tuple[dict, int]:
        res = self("gate", b, c, "--json", *extra, ok=(0, 1, 3, 4))
        return json.loads(res.output), res.exit_code


@pytest.fixture
def forged_pair(tmp_path, shared_results, tau2_dir):
    base_file, cand_file = shared_results
    s = Store(tmp_path)
    s("heldout", "register", "ci", "--domain", "retail", "--tasks", "test",
      "--data", str(tau2_dir / "retail"))
    matched: set = set()
    raised = forge(cand_file, tmp_path / "forged.json", matched)
    base = s.imp(base_file, "base", "--role", "heldout")["run_id"]
    cand = s.imp(tmp_path / "forged.json", "forged", "--role", "heldout")["run_id"]
    return s, base, cand, raised, matched


def test_forged_rewards_are_re_scored_and_support_nothing(forged_pair, tau2_dir):
    s, base, cand, raised, matched = forged_pair
    assert len(raised) == 6
    doc, rc = s.gate(base, cand, "--data", str(tau2_dir))
    assert (doc["decision"], rc) == ("inconclusive", 3), doc["reasons"]
    why = doc["reasons"][0]
    assert "do not reproduce" in why and "candidate run forged" in why
    for sim, task, real in raised:
        assert f"{sim} (task {task}): recorded 1.0, recomputed {real}" in why
    resc = doc["rescore"]
    assert resc["candidate"]["status"] == "differs"
    # the 6 raised rewards, and every simulation whose action matches were raised
    assert resc["candidate"]["rescored"] == 40
    differ = {d["sim_id"]: d for d in resc["candidate"]["differ"]}
    assert set(differ) == matched | {r[0] for r in raised} and len(matched) > 6
    assert all("action matches recorded" in differ[sim]["reason"] for sim in matched)
    assert resc["baseline"]["status"] == "reproduced" and resc["baseline"]["differ"] == []
    # the records found through TAU2_DATA_DIR: the same verdict
    s.runner.env = {"TAU2_DATA_DIR": str(tau2_dir)}
    again, rc = s.gate(base, cand)
    assert (again["decision"], rc) == ("inconclusive", 3)


def test_the_real_pair_reproduces_and_keeps_its_verdict(tmp_path, shared_results, tau2_dir):
    s = Store(tmp_path)
    base = s.imp(shared_results[0], "base")["run_id"]
    cand = s.imp(shared_results[1], "cand")["run_id"]
    doc, rc = s.gate(base, cand, "--data", str(tau2_dir))
    assert (doc["decision"], rc) == ("discard", 1)  # 6 up, 6 down: the regressions veto
    for side in ("baseline", "candidate"):
        assert doc["rescore"][side]["status"] == "reproduced"
        assert doc["rescore"][side]["rescored"] == 40


def test_without_records_the_rewards_are_not_vouched_for(forged_pair, monkeypatch):
    """retail can be re-scored here, but its records were not given: nobody checked the
    rewards, so the verdict is inconclusive at most (it was supported, exit 4, on the
    file's word)."""
    s, base, cand, *_ = forged_pair
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    doc, rc = s.gate(base, cand)
    assert doc["rescore"]["candidate"]["status"] == "not_rescored"
    said = [r for r in doc["reasons"] if "cannot be vouched for" in r]
    assert len(said) == 1 and said[0].count("pass --data DIR to re-score") == 2, doc["reasons"]
    assert not [w for w in doc["warnings"] if "not re-scored here" in w]
    assert (doc["decision"], rc) == ("inconclusive", 3)


def test_reimporting_with_other_rewards_says_what_differs(tmp_path, shared_results):
    s = Store(tmp_path)
    real = s.imp(shared_results[1], "real")
    matched: set = set()
    raised = forge(shared_results[1], tmp_path / "forged.json", matched)
    again = s.imp(tmp_path / "forged.json", "forged")
    assert again["episodes"] == 40
    said = " | ".join(again["warnings"])
    # not a silent re-import: the outcomes that differ are named, run and simulation
    assert "40 episode(s) re-import" not in said
    assert f"run {real['run_id']}" in said and "record a different outcome" in said
    differ = matched | {sim for sim, *_ in raised}
    assert f"{len(differ)} episode(s) repeat episodes of run" in said
    for sim, _task, real_reward in raised:
        assert f"{sim}: reward {real_reward} there, 1.0 here" in said
    # the rest record the same outcome: still re-imports
    assert f"{40 - len(differ)} episode(s) re-import episodes already in the store" in said


# -- without ../shared: an export of a scripted mini-retail run, forged -------------------------

def test_forged_export_of_a_mini_retail_run(tmp_path):
    s = Store(tmp_path)
    run = json.loads(s("run", "--tasks", "heldout", "--seed", "1", "--noise", "0.3",
                       "--role", "heldout", "--name", "made", "--json").output)["run_id"]
    s("export", run, "--format", "tau2", "-o", str(tmp_path / "made.json"))
    raised = forge(tmp_path / "made.json", tmp_path / "forged.json")
    assert raised
    base = s.imp(tmp_path / "made.json", "base")["run_id"]
    cand = s.imp(tmp_path / "forged.json", "forged")["run_id"]
    doc, rc = s.gate(base, cand)   # mini-retail: re-scored on the built-in records
    assert (doc["decision"], rc) == ("inconclusive", 3), doc["reasons"]
    assert len(doc["rescore"]["candidate"]["differ"]) == len(raised)
    assert doc["rescore"]["baseline"]["status"] == "reproduced"
    # runs t2e made are scored by t2e itself: nothing to re-score
    other = json.loads(s("run", "--tasks", "heldout", "--seed", "2", "--noise", "0.3",
                         "--role", "heldout", "--name", "made2", "--json").output)["run_id"]
    doc, _ = s.gate(run, other)
    assert {r["status"] for r in doc["rescore"].values()} == {"scored_here"}
