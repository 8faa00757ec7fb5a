"""A grader one file records and the other does not (session 15 review, S2).

Two tau2 files of a domain t2e cannot re-score, the candidate's `info.git_commit` deleted: the
gate compared them on the files' own rewards without a word about the grader (SUPPORTED, exit
4, which a CI job takes for a pass), while the same pair with a changed commit is refused. The
settings rule applies to the grader too: not checked equal, so inconclusive at most, named in
the verdict and its reports; `--allow-grader-mismatch` (graders known to differ) does not lift
it. Neither run recording its grader is unchanged.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from test_import_tau2_1x import _sim, _task, results_1x

from store import grader
from t2e_tui.cli import cli

TIDS = [f"task_{i:03d}" for i in range(1, 9)]


def _write(tmp_path, name, *, commit, version=None, passing, agent):
    doc = results_1x("banking_knowledge", version=version, commit=commit,
                     tasks=[_task(t) for t in TIDS],
                     sims=[_sim(f"{name}{i}", t, float(i < passing), "user_stop")
                           for i, t in enumerate(TIDS)])
    if commit is None:
        del doc["info"]["git_commit"]
    doc["info"]["agent_info"]["llm"] = agent
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


# name -> (commit, version, passing tasks, agent)
RUNS = {"base": ("c0ffee01", None, 1, "agent-a"), "nocommit": (None, None, 8, "agent-b"),
        "versioned": (None, "1.0.1", 8, "agent-c"), "bare_a": (None, None, 1, "agent-d"),
        "bare_b": (None, None, 8, "agent-e")}


def pair(tmp_path, *names):
    """A store holding the runs `names`."""
    st = str(tmp_path / "s.sqlite")
    for name in names:
        commit, version, passing, agent = RUNS[name]
        path = _write(tmp_path, name, commit=commit, version=version, passing=passing,
                      agent=agent)
        res = CliRunner().invoke(cli, ["--store", st, "import", str(path), "--role", "heldout"])
        assert res.exit_code == 0, res.output
    return st


def gate(st, *args):
    return CliRunner().invoke(cli, ["--store", st, "gate", *args])


@pytest.mark.parametrize("cand", ["nocommit", "versioned"])
def test_a_grader_one_run_records_caps_the_verdict_and_is_named(tmp_path, cand):
    """Was SUPPORTED, exit 4, nothing about the grader (no commit), and the same for a file
    that records only a version against one that records only a commit."""
    store = pair(tmp_path, "base", cand)
    md, xml = tmp_path / "g.md", tmp_path / "g.xml"
    res = gate(store, "base", cand, "--json", "--report", "markdown", str(md),
               "--report", "junit", str(xml))
    doc = json.loads(res.stdout)
    assert res.exit_code == 3 and doc["decision"] == "inconclusive", doc["reasons"]
    said = [r for r in doc["reasons"] if "grader not recorded alike" in r]
    assert len(said) == 1, doc["reasons"]
    # each run's grader named, the one lacking it said to lack it
    assert "baseline base" in said[0] and "tau2 commit c0ffee01" in said[0]
    missing = "tau2 1.0.1" if cand == "versioned" else "tau2 (version not recorded)"
    assert f"candidate {cand}" in said[0] and missing in said[0]
    assert "inconclusive at most" in said[0]
    assert "grader not recorded alike" in md.read_text()
    cases = ET.parse(xml).getroot().iter("testcase")
    assert any("grader not recorded alike" in ET.tostring(c, encoding="unicode") for c in cases)
    # the human summary says it too
    res = gate(store, "base", cand)
    assert res.exit_code == 3 and "grader not recorded alike" in res.output


def test_allowing_a_grader_mismatch_does_not_lift_an_unknown_grader(tmp_path):
    store = pair(tmp_path, "base", "nocommit")
    res = gate(store, "base", "nocommit", "--allow-grader-mismatch", "--json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 3, doc["reasons"]
    assert any("grader not recorded alike" in r for r in doc["reasons"])
    assert "grader mismatch allowed" not in res.stderr  # nothing known to differ


def test_an_unknown_grader_is_said_under_a_discard_too(tmp_path):
    """A discard stands (the grader cannot make it better), and the grader is still said."""
    store = pair(tmp_path, "base", "nocommit")
    res = gate(store, "nocommit", "base", "--json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 1 and doc["decision"] == "discard", doc["reasons"]
    assert any("grader not recorded alike" in w for w in doc["warnings"]), doc["warnings"]


def test_neither_run_recording_its_grader_is_unchanged(tmp_path):
    store = pair(tmp_path, "bare_a", "bare_b")
    res = gate(store, "bare_a", "bare_b", "--json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 4 and doc["decision"] == "supported", doc["reasons"]
    assert not any("grader" in line for line in doc["reasons"] + doc["warnings"])


@pytest.mark.parametrize("a, b, unknown", [
    ({"commit": "c1"}, {}, True),
    ({}, {"version": "1.0"}, True),
    ({"version": "1.0"}, {"commit": "c1"}, True),
    ({"version": "1.0", "commit": "c1"}, {"commit": "c1"}, False),   # commits compared
    ({"version": "1.0", "commit": "c1"}, {"version": "1.0"}, False),  # versions compared
    ({}, {}, False),                                                   # nothing to check
    ({"commit": "c1"}, {"commit": "c2"}, False),                       # mismatch's to say
])
def test_which_grader_pairs_cannot_be_checked_equal(a, b, unknown):
    ga, gb = ({"tool": "tau2", "version": None, "commit": None, "evaluation_type": None, **g}
              for g in (a, b))
    assert (grader.unverified(ga, gb) is not None) is unknown
    assert (grader.unverified(gb, ga) is not None) is unknown
    assert grader.unverified(ga, None) is None  # a run t2e graded: the world check's
