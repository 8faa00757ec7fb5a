"""Attacks on the gate (issue 10): each one got `promote` on clean heldout before the fix.

Each test plays the attack through the command line with the scripted stand-in agent (its
results prove nothing about models; here it only makes the evidence) and asserts the gate
does not call it a clean heldout promote, and says why. The honest path next to it (a set
registered first, runs made on it once, nothing viewed) still promotes.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_gate_builders import make_run, new_store

from t2e_tui.cli import cli
from t2e_tui.gate import evaluate

FIX_RULE = ("\n- When the customer says 'the same as the one I already received', look up their "
            "delivered orders to find that item and use its variant.\n")


class T2E:
    """The CLI on one store and one candidates folder."""

    def __init__(self, tmp_path):
        self.store = str(tmp_path / "s.sqlite")
        self.cands = tmp_path / "candidates"
        self.cands.mkdir()
        self.tmp = tmp_path
        self.runner = CliRunner()

    def __call__(self, *args, ok=(0,)):
        res = self.runner.invoke(cli, ["--store", self.store, *args])
        assert res.exit_code in ok, (args, res.exit_code, res.output)
        return res.output

    def run(self, name, *, seed=1, noise=0.0, tasks="heldout", role="heldout",
            candidate=None):
        args = ["run", "--tasks", tasks, "--seed", str(seed), "--noise", str(noise),
                "--role", role, "--name", name, "--json", "--candidates", str(self.cands)]
        if candidate:
            args += ["--candidate", candidate]
        return json.loads(self(*args))["run_id"]

    def gate(self, *args):
        return json.loads(self("gate", *args, "--json", ok=(0, 1, 3, 4)))

    def save(self, name, parent, extra, hypothesis="h"):
        from t2e_tui.candidates import packaged_baseline

        f = self.tmp / f"{name}.md"
        f.write_text(f"---\nname: {name}\nparent: {parent}\n---\n"
                     + packaged_baseline().body + extra)
        return json.loads(self("candidate", "save", str(f), "-m", hypothesis, "--candidates",
                               str(self.cands), "--json"))


@pytest.fixture
def t2e(tmp_path):
    t = T2E(tmp_path)
    t("heldout", "register", "ho", "--domain", "mini-retail", "--tasks", "heldout")
    return t


def test_honest_path_promotes(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b = t2e.run("base")
    c = t2e.run("cand", candidate="fix")
    doc = t2e.gate(b, c)
    assert doc["decision"] == "promote" and doc["evidence_role"] == "heldout", doc["reasons"]
    assert doc["heldout_set"]["name"] == "ho" and doc["exit_code"] == 0


@pytest.mark.slow
def test_attack_1_cherry_picking_improved_tasks(t2e):
    """A/A pair in noisy mode, rerun the second seed on the tasks that 'improved', gate with
    --intersect: used to be promote, heldout, p = 0.016."""
    a1 = t2e.run("a1", seed=3, noise=0.3)
    a2 = t2e.run("a2", seed=4, noise=0.3)
    aa = t2e.gate(a1, a2)
    assert aa["decision"] != "promote"
    improved = aa["stats"]["improved"]
    assert len(improved) >= 6   # enough for p <= 0.016 once the rest is dropped
    # typed by hand, reordered and re-spaced: still chosen by outcome
    typed = " , ".join(reversed(improved))
    cherry = t2e.run("cherry", seed=4, noise=0.3, tasks=typed)
    doc = t2e.gate(a1, cherry, "--intersect")
    assert doc["decision"] != "promote" and doc["evidence_role"] == "development"
    assert any("no registered heldout set" in r for r in doc["role_reasons"])
    assert any("--intersect" in r for r in doc["role_reasons"])


def test_attack_2_intermediate_version_hides_views(t2e):
    b = t2e.run("base")
    t2e("show", f"{b}:crossorder-02")                 # a heldout trace, read while drafting
    t2e.save("noop", "baseline", "\n- Be polite.\n")   # a no-op version...
    t2e.save("fix", "noop", "\n- Be polite.\n" + FIX_RULE)   # ...then the fix on top of it
    c = t2e.run("cand", candidate="fix")
    doc = t2e.gate(b, c)
    assert doc["decision"] == "supported" and doc["evidence_role"] == "development"
    assert doc["leaked_tasks"] == ["crossorder-02"]
    assert doc["verdict"] == "supported (development)" and doc["exit_code"] == 4


def test_attack_3_export_and_reimport_launder_the_role(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b = t2e.run("base")
    d = t2e.run("disc", candidate="fix", role="discovery")
    t2e("show", f"{d}:crossorder-05")
    out = t2e.tmp / "disc.jsonl"
    t2e("export", d, "--format", "jsonl", "-o", str(out))
    header = json.loads(out.read_text().splitlines()[0])
    prov = header["t2e_provenance"]
    assert prov["role"] == "discovery" and prov["candidate_hash"] and prov["manifest"]
    imported = json.loads(t2e("import", str(out), "--role", "heldout", "--name", "laundered",
                              "--json"))["imported"][0]
    assert any("was discovery evidence before" in w for w in imported["warnings"])
    # the baseline goes the same way (an imported world differs from the rerun's world)
    t2e("export", b, "--format", "jsonl", "-o", str(t2e.tmp / "base.jsonl"))
    t2e("import", str(t2e.tmp / "base.jsonl"), "--role", "heldout", "--name", "base-again")
    doc = t2e.gate("base-again", "laundered")
    assert doc["decision"] != "promote" and doc["evidence_role"] == "development"
    assert any("created as discovery and made heldout" in r for r in doc["role_reasons"])
    # into a fresh store too: the file's own provenance carries the history
    import store
    from store.queries import role_history

    (t2e.tmp / "elsewhere").mkdir()
    fresh = T2E(t2e.tmp / "elsewhere")
    got = json.loads(fresh("import", str(out), "--role", "heldout", "--json"))["imported"][0]

    conn = store.connect(fresh.store)
    h = role_history(conn, got["run_id"])
    conn.close()
    assert h["created_role"] == "discovery" and h["raised_to_clean_at"] is not None


def test_attack_4_domain_aliases_split_the_views(tmp_path):
    """Imported tau2 runs say 'retail', reruns 'tau2-retail': one world for the views."""
    from store.heldout import register_set

    conn = new_store(tmp_path)
    register_set(conn, "tau2-ho", "tau2-retail", ["17", "18", "19"], spec="17,18,19")
    imported = make_run(conn, "imported", {"18": [1.0]}, domain="retail", world_id="i" * 64)
    eid = conn.execute("SELECT episode_id FROM episodes WHERE run_id = ?",
                       (imported,)).fetchone()[0]
    from store.queries import record_view
    record_view(conn, eid, "cli")                     # stored with domain 'retail'
    outcomes = {"17": [0.0], "18": [0.0], "19": [0.0]}
    make_run(conn, "base", outcomes, domain="tau2-retail", role="heldout",
             agent_model="model-a")
    make_run(conn, "cand", {k: [1.0] for k in outcomes}, domain="tau2-retail",
             role="heldout", agent_model="model-b")
    r = evaluate(conn, "base", "cand")
    assert r.role.leaked_tasks == ["18"] and r.evidence_role == "development"


def test_attack_5_search_and_export_record_views(t2e):
    import store

    b = t2e.run("base")
    out = t2e("search", "delivered", "--run", b, "--json")
    hit_tasks = sorted({h["task_id"] for h in json.loads(out)})
    assert hit_tasks
    t2e.save("fix", "baseline", FIX_RULE)
    c = t2e.run("cand", candidate="fix")
    doc = t2e.gate(b, c)
    assert doc["evidence_role"] == "development" and doc["decision"] != "promote"
    assert set(hit_tasks) <= set(doc["leaked_tasks"])
    t2e("export", b, "-o", str(t2e.tmp / "b.json"))
    conn = store.connect(t2e.store)
    vias = dict(conn.execute("SELECT via, count(DISTINCT task_id) FROM evidence_views "
                             "GROUP BY via").fetchall())
    conn.close()
    assert vias["cli-search"] == len(hit_tasks) and vias["export"] == 56


def test_seed_shopping_only_the_first_run_counts(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b = t2e.run("base")
    first = t2e.run("c1", candidate="fix", seed=1)
    lucky = t2e.run("c2", candidate="fix", seed=2)
    assert t2e.gate(b, first)["decision"] == "promote"
    doc = t2e.gate(b, lucky)
    assert doc["decision"] == "supported"
    assert doc["heldout_set"]["runs"]["candidate"] == {
        "run_id": lucky, "runs_of_this_agent": 2, "first": first, "position": 2,
        "removed": 0, "agent_known": True}
    assert any("first-run rule" in r for r in doc["role_reasons"])
    # the baseline re-rolled: the same
    b2 = t2e.run("base2", seed=5)
    assert any("baseline run" in r and "first-run rule" in r
               for r in t2e.gate(b2, first)["role_reasons"])


def test_set_registered_after_the_candidate_is_not_clean(tmp_path):
    t = T2E(tmp_path)
    t.save("fix", "baseline", FIX_RULE)
    t("heldout", "register", "late", "--domain", "mini-retail", "--tasks", "heldout")
    doc = t.gate(t.run("base"), t.run("cand", candidate="fix"))
    assert doc["decision"] == "supported"
    assert any("after the candidate was saved" in r for r in doc["role_reasons"])


def test_same_gate_twice_returns_the_same_row(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b, c = t2e.run("base"), t2e.run("cand", candidate="fix")
    first = t2e.gate(b, c)
    again = t2e.gate(b, c)
    assert again["row_id"] == first["row_id"] and again["reused_row"] is True
    forced = json.loads(t2e("gate", b, c, "--new-row", "--json"))
    assert forced["row_id"] == first["row_id"] + 1 and forced["reused_row"] is False
