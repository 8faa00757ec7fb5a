"""Attacks on the gate through the runs' settings (session 12): each got `promote` (exit 0) on
clean heldout before the fix.

1. A baseline crippled with run flags (`--max-steps 4`) against a candidate run with others
   (`--noise 0.6`): the gate compared the rewards as if the experiment were the same.
2. Uneven trials (baseline `--trials 1`, candidate `--trials 5`): tasks going 1.00 -> 0.20
   were only warnings.
3. A registered set judged runs made on an edited copy of its data (same task ids).
4. The CI printed next to a corrected alpha was the uncorrected 95% one.

The scripted stand-in agent makes the evidence here; its results prove nothing about models.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from test_gate_attacks import FIX_RULE, T2E
from test_gate_builders import make_run, new_store

from t2e_tui.cli import cli
from t2e_tui.errors import T2EError
from t2e_tui.gate import evaluate


@pytest.fixture
def t2e(tmp_path):
    t = T2E(tmp_path)
    t("heldout", "register", "hs", "--domain", "mini-retail", "--tasks", "heldout")
    return t


def run_args(name, *extra, candidate="baseline", cands=None):
    return ["run", "--candidates", str(cands), "--candidate", candidate, "--tasks", "heldout",
            "--role", "heldout", "--name", name, "--json", *extra]


def run(t, name, *extra, candidate="baseline"):
    return json.loads(t(*run_args(name, *extra, candidate=candidate, cands=t.cands)))["run_id"]


def gate_refused(t, b, c):
    """`t2e gate B C` whatever its exit code (the T2E helper asserts one)."""
    return t.runner.invoke(cli, ["--store", t.store, "gate", b, c])


def fresh(path):
    path.mkdir()
    return T2E(path)


# -- 1. settings -----------------------------------------------------------------------------

def test_attack_crippled_baseline_made_with_run_flags_is_refused(t2e):
    """The reviewer's commands: a no-op candidate (the baseline text plus '- Be polite.'), a
    baseline run with --max-steps 4 and the candidate with --noise 0.6. It was PROMOTE, exit
    0, p = 1.9e-9 with 29 'fixes'. Now the gate refuses, as it refuses different worlds
    (exit 2), naming each differing setting and both values."""
    t2e.save("noop", "baseline", "\n- Be polite.\n")
    b = run(t2e, "base", "--max-steps", "4")
    c = run(t2e, "cand", "--noise", "0.6", candidate="noop")
    res = gate_refused(t2e, b, c)
    assert res.exit_code == 2, res.output
    out = res.output
    assert "different settings" in out
    assert "max_steps (--max-steps): 4 vs 200" in out
    assert "agent noise (--noise): 0.0 vs 0.6" in out
    # the same refusal in --json, and nothing was added to the scoreboard
    doc = json.loads(t2e("gate", b, c, "--json", ok=(2,)))
    assert "max_steps (--max-steps): 4 vs 200" in doc["error"]
    assert json.loads(t2e("scoreboard", "--json")) == []


def test_same_settings_other_seed_is_a_replication_and_says_so(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b = run(t2e, "base", "--seed", "1")
    c = run(t2e, "cand", "--seed", "2", candidate="fix")
    doc = t2e.gate(b, c)
    assert doc["decision"] == "promote", doc["reasons"]
    assert any("seeds differ (1 vs 2)" in w for w in doc["warnings"])


BASE_MANIFEST = {
    "manifest_version": 1, "trials": 1, "max_steps": 30, "max_errors": 10, "seed": 300,
    "grading": "judge",
    "agent": {"kind": "openai", "model": "m", "noise": 0.0,
              "endpoint": {"name": "e", "base_url": "http://a/v1", "params": {"temperature": 0}}},
    "user": {"kind": "openai", "model": "u",
             "endpoint": {"name": "e", "base_url": "http://a/v1", "params": {"temperature": 0}}},
    "judge": {"kind": "openai", "model": "j",
              "endpoint": {"name": "e", "base_url": "http://a/v1", "params": {}}},
}


def _changed(path, value):
    m = json.loads(json.dumps(BASE_MANIFEST))
    *head, last = path
    d = m
    for k in head:
        d = d[k]
    d[last] = value
    return m


@pytest.mark.parametrize("path, value, said", [
    (("max_errors",), 3, "max_errors (--max-errors): 10 vs 3"),
    (("grading",), "db-communicate", 'grading (--grade): "judge" vs "db-communicate"'),
    (("agent", "noise"), 0.3, "agent noise (--noise): 0.0 vs 0.3"),
    (("agent", "endpoint", "params"), {"temperature": 1},
     'agent request params: {"temperature":0} vs {"temperature":1}'),
    (("user", "model"), "weak-user", 'user simulator (--user): "u" vs "weak-user"'),
    (("user", "endpoint", "base_url"), "http://elsewhere/v1",
     'user endpoint: "http://a/v1" vs "http://elsewhere/v1"'),
    (("user", "endpoint", "params"), {"temperature": 1},
     'user request params: {"temperature":0} vs {"temperature":1}'),
    (("judge",), None, 'judge (--judge): "j" vs "none"'),
])
def test_every_experiment_setting_is_compared(tmp_path, path, value, said):
    conn = new_store(tmp_path)
    outcomes = {str(i): [0.0] for i in range(1, 9)}
    make_run(conn, "base", outcomes, manifest=BASE_MANIFEST)
    make_run(conn, "cand", {k: [1.0] for k in outcomes}, manifest=_changed(path, value))
    with pytest.raises(T2EError) as exc:
        evaluate(conn, "base", "cand")
    assert said in str(exc.value) and exc.value.exit_code == 2


def test_settings_compare_values_not_spellings():
    """A manifest's temperature 0 and a tau2 file's 0.0 are one setting; key order is none."""
    from t2e_tui.gate.settings import differences

    assert differences({"agent_params": {"temperature": 0, "top_p": 1}},
                       {"agent_params": {"top_p": 1.0, "temperature": 0.0}}) == []
    assert differences({"agent_params": {"stream": True}}, {"agent_params": {"stream": 1}})


def test_the_agent_under_test_may_differ(tmp_path):
    """The candidate text, the agent model and its endpoint are what is gated."""
    conn = new_store(tmp_path)
    outcomes = {str(i): [0.0] for i in range(1, 9)}
    make_run(conn, "base", outcomes, manifest=BASE_MANIFEST, agent_model="openai:m")
    other = _changed(("agent", "model"), "m2")
    other["agent"]["endpoint"]["base_url"] = "http://b/v1"
    make_run(conn, "cand", {k: [1.0] for k in outcomes}, manifest=other,
             agent_model="openai:m2")
    assert evaluate(conn, "base", "cand").decision == "supported"


def _export(t, run_id, path, edit=None):
    t("export", run_id, "--format", "tau2", "-o", str(path))
    if edit:
        doc = json.loads(path.read_text())
        doc.pop("t2e_provenance", None)
        edit(doc["info"])
        path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("edit, said", [
    (lambda i: i.update(max_steps=4), "max_steps (--max-steps): 200 vs 4"),
    (lambda i: i["user_info"].update(llm="weak-user"),
     'user simulator (--user): "scripted" vs "weak-user"'),
    (lambda i: i["user_info"].update(llm_args={"temperature": 1.0}),
     'user request params: {"temperature":0.0} vs {"temperature":1.0}'),
])
def test_imported_runs_compare_what_their_files_record(tmp_path, edit, said):
    """tau2 results files record max_steps, trials and the user simulator in `info`: the
    gate compares them the same way (and refuses, exit 2)."""
    eng = fresh(tmp_path / "e")
    rid = json.loads(eng("run", "--tasks", "heldout", "--num-tasks", "8", "--json"))["run_id"]
    # as tau2 writes them: the user simulator's request params recorded on both sides
    sampled = {"temperature": 0.0}
    base = _export(eng, rid, tmp_path / "base.json",
                   edit=lambda i: i["user_info"].update(llm_args=sampled))
    cand = _export(eng, rid, tmp_path / "cand.json",
                   edit=lambda i: (i["user_info"].update(llm_args=sampled), edit(i),
                                   i["agent_info"].update(llm="another-agent")))
    t = T2E(tmp_path)
    for p, name in ((base, "base"), (cand, "cand")):
        t("import", str(p), "--name", name, "--role", "heldout")
    res = gate_refused(t, "base", "cand")
    assert res.exit_code == 2 and said in res.output, res.output


# -- 2. trials --------------------------------------------------------------------------------

def test_attack_uneven_trials_are_refused(t2e):
    """Baseline --trials 1, candidate --trials 5 at the same noise: tasks going 1.00 -> 0.20
    were warnings and the pair was PROMOTE, exit 0."""
    t2e.save("fix", "baseline", FIX_RULE)
    b = run(t2e, "base", "--noise", "0.1", "--trials", "1")
    c = run(t2e, "cand", "--noise", "0.1", "--trials", "5", candidate="fix")
    res = gate_refused(t2e, b, c)
    assert res.exit_code == 2, res.output
    assert "trials (--trials): 1 vs 5" in res.output


def test_trials_not_recorded_are_counted_from_the_episodes(tmp_path):
    """A run that does not record its trial count (a foreign trace) is compared on the most
    trials it holds for a task."""
    conn = new_store(tmp_path)
    make_run(conn, "base", {str(i): [1.0] for i in range(1, 9)})
    make_run(conn, "cand", {str(i): [1.0, 0.0, 0.0, 0.0, 1.0] for i in range(1, 9)})
    conn.execute("UPDATE runs SET num_trials = NULL")
    with pytest.raises(T2EError, match=r"trials \(--trials\): 1 vs 5"):
        evaluate(conn, "base", "cand")


@pytest.mark.parametrize("b, c, regressed", [
    ([1.0] * 5, [1.0, 0.0, 0.0, 0.0, 0.0], True),     # 1.00 -> 0.20
    ([1.0] * 5, [1.0, 1.0, 0.0, 0.0, 0.0], True),     # 1.00 -> 0.40: fell by more than half
    ([1.0, 1.0, 1.0, 1.0, 0.0], [0.0] * 5, True),     # 0.80 -> 0.00
    ([1.0] * 5, [1.0, 1.0, 1.0, 0.0, 0.0], False),    # 1.00 -> 0.60: a warning
    ([1.0, 1.0], [1.0, 0.0], False),                  # 1/2 is no more than half
    ([1.0, 1.0], [0.0, 0.0], True),
])
def test_a_multi_trial_task_regresses_when_its_rate_falls_by_more_than_half(
        tmp_path, b, c, regressed):
    """With one trial a side the rule is 1 -> 0; with several, a success rate falling by more
    than one half, so more trials neither hide a regression nor make one."""
    conn = new_store(tmp_path)
    base = {str(i): [0.0] * len(b) for i in range(1, 11)}
    cand = {str(i): [1.0] * len(b) for i in range(1, 11)}
    base["1"], cand["1"] = b, c
    make_run(conn, "base", base)
    make_run(conn, "cand", cand)
    r = evaluate(conn, "base", "cand")
    reg = next(ch for ch in r.checks if ch.name == "no_task_regressions")
    assert reg.passed is not regressed
    assert (r.decision == "discard") is regressed
    assert (r.stats["regressions"] == ["1"]) is regressed
    assert (r.comparison.rows[0].transition == "regressed") is regressed


def test_the_advisor_reckons_noise_by_the_same_rule():
    """The trial-budget advisor's chance of a regression by noise follows the rule: with one
    or two trials a side it is the old all-pass -> all-fail figure, with three it counts
    3/3 -> 1/3 and 2/3 -> 0/3 too."""
    from t2e_tui.gate.advisor import regress_prob

    e = 0.1
    assert regress_prob(1, 1, 1 - e, 1 - e) == pytest.approx((1 - e) * e)
    assert regress_prob(2, 2, 1 - e, 1 - e) == pytest.approx(((1 - e) * e) ** 2)
    q = 1 - e
    three = q ** 3 * (e ** 3 + 3 * q * e ** 2) + 3 * q ** 2 * e * e ** 3
    assert regress_prob(3, 3, q, q) == pytest.approx(three)
    assert regress_prob(1, 5, 1.0, 0.2) == pytest.approx(1 - 0.2 ** 5 - 5 * 0.2 ** 4 * 0.8
                                                         - 10 * 0.2 ** 3 * 0.8 ** 2)


# -- 3. the registered set's content --------------------------------------------------------

def _tau2_folder(path):
    """Our own mini-retail world written in tau2's data layout (no tau2 file is used)."""
    from world.mini_retail import build

    built = build(seed=0)
    path.mkdir()
    (path / "db.json").write_text(json.dumps(built["db"]))
    (path / "tasks.json").write_text(json.dumps(built["tasks"]))
    (path / "policy.md").write_text(built["policy"])
    (path / "split_tasks.json").write_text(json.dumps(built["splits"]))
    return path


def test_attack_runs_on_edited_data_do_not_match_the_registered_set(tmp_path):
    """The set registered on one data folder; both runs made with --data on an edited copy
    (same task ids, a task and the policy changed): it was PROMOTE, exit 0."""
    import shutil

    orig = _tau2_folder(tmp_path / "orig")
    edited = tmp_path / "edited"
    shutil.copytree(orig, edited)
    tasks = json.loads((edited / "tasks.json").read_text())
    held = json.loads((edited / "split_tasks.json").read_text())["heldout"]
    victim = next(t for t in tasks if t["id"] == held[0])
    victim["description"] = {"notes": "edited after the registration"}
    (edited / "tasks.json").write_text(json.dumps(tasks))
    (edited / "policy.md").write_text((edited / "policy.md").read_text() + "\nAn edit.\n")

    t = T2E(tmp_path)
    t("heldout", "register", "hs", "--domain", "tau2-retail", "--tasks", "heldout",
      "--data", str(orig))
    t.save("fix", "baseline", FIX_RULE)

    def tau2_run(name, data, candidate="baseline"):
        return run(t, name, "--domain", "tau2-retail", "--data", str(data), "--grade",
                   "db-communicate", candidate=candidate)

    b, c = tau2_run("base", edited), tau2_run("cand", edited, "fix")
    doc = t.gate(b, c)
    assert doc["decision"] == "supported" and doc["exit_code"] == 4, doc["reasons"]
    assert doc["evidence_role"] == "development"
    said = [r for r in doc["role_reasons"] if "registered with" in r]
    assert said and all(victim["id"] in r and "policy" in r for r in said), doc["role_reasons"]
    # runs on the registered content itself are clean (another agent pair, the honest path)
    t2 = fresh(tmp_path / "honest")
    t2("heldout", "register", "hs", "--domain", "tau2-retail", "--tasks", "heldout",
       "--data", str(orig))
    t2.save("fix", "baseline", FIX_RULE)
    b2 = run(t2, "base", "--domain", "tau2-retail", "--data", str(orig), "--grade",
             "db-communicate")
    c2 = run(t2, "cand", "--domain", "tau2-retail", "--data", str(orig), "--grade",
             "db-communicate", candidate="fix")
    assert t2.gate(b2, c2)["decision"] == "promote"


def test_set_content_hash_reads_tau2_dumps_as_the_data_files(tmp_path):
    """tau2 writes a task with its defaults filled in (nulls, requestor, reward_basis): the
    same task, so the same content hash as the data file's."""
    from world.lock import task_content_hash

    plain = {"id": "1", "user_scenario": {"instructions": "x"},
             "evaluation_criteria": {"actions": [{"action_id": "1_0", "name": "f",
                                                  "arguments": {"a": 1}}]}}
    dumped = {"id": "1", "description": None, "ticket": None,
              "user_scenario": {"persona": None, "instructions": "x"},
              "evaluation_criteria": {"actions": [{"action_id": "1_0", "requestor": "assistant",
                                                   "name": "f", "arguments": {"a": 1},
                                                   "info": None, "compare_args": None}],
                                      "reward_basis": ["DB", "COMMUNICATE"],
                                      "nl_assertions": None}}
    assert task_content_hash(plain) == task_content_hash(dumped)
    changed = json.loads(json.dumps(plain))
    changed["evaluation_criteria"]["actions"][0]["arguments"]["a"] = 2
    assert task_content_hash(changed) != task_content_hash(plain)


def test_a_set_registered_again_on_new_task_definitions_is_the_one_judged(tmp_path):
    """Two sets of the same ids, registered on two versions of the data: runs on the second
    version are judged on the second set (clean), and `heldout show` names each content."""
    import shutil

    orig = _tau2_folder(tmp_path / "v1")
    v2 = tmp_path / "v2"
    shutil.copytree(orig, v2)
    (v2 / "policy.md").write_text((v2 / "policy.md").read_text() + "\nVersion 2.\n")
    t = T2E(tmp_path)
    for name, data in (("hs-v1", orig), ("hs-v2", v2)):
        t("heldout", "register", name, "--domain", "tau2-retail", "--tasks", "heldout",
          "--data", str(data))
    shown = [json.loads(t("heldout", "show", n, "--json"))["content"] for n in ("hs-v1", "hs-v2")]
    assert shown[0]["tasks"] == shown[1]["tasks"] and shown[0]["db"] == shown[1]["db"]
    assert shown[0]["policy"] != shown[1]["policy"]
    assert shown[0]["sha256"] != shown[1]["sha256"]
    assert "content sha256 " + shown[1]["sha256"] in t("heldout", "show", "hs-v2")
    t.save("fix", "baseline", FIX_RULE)
    args = ("--domain", "tau2-retail", "--data", str(v2), "--grade", "db-communicate")
    doc = t.gate(run(t, "base", *args), run(t, "cand", *args, candidate="fix"))
    # clean heldout on hs-v2 (the level is spent over both sets of these tasks: not asserted)
    assert doc["evidence_role"] == "heldout" and doc["role_reasons"] == []
    assert doc["decision"] in ("promote", "inconclusive")
    assert doc["heldout_set"]["name"] == "hs-v2"
    assert doc["heldout_set"]["content_sha256"] == shown[1]["sha256"]


def test_a_set_of_a_world_not_loaded_records_no_content(tmp_path, monkeypatch):
    """Ids typed for a world t2e cannot load (an imported one): the set says so, and the gate
    matches runs on the ids alone, as before."""
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    t = T2E(tmp_path)
    out = t("heldout", "register", "imp", "--domain", "retail", "--tasks", "1,2,3")
    assert "content not recorded" in out
    assert json.loads(t("heldout", "show", "imp", "--json"))["content"] is None


def test_sets_registered_before_migration_13_are_judged_on_their_ids(t2e):
    """A store from before the content column: its sets record no content, and the gate
    judges runs on them as it did (a note in `heldout show`, no reason against the runs)."""
    import store

    conn = store.connect(t2e.store)
    conn.execute("ALTER TABLE heldout_sets DROP COLUMN content_json")
    conn.execute("DROP TABLE store_clock")   # (and what migration 14 made: it runs again)
    conn.execute("DROP TRIGGER agent_run_tasks_base")
    conn.execute("DROP TRIGGER agent_run_tasks_base_late")
    conn.execute("ALTER TABLE tasks DROP COLUMN base_task_id")
    conn.execute("ALTER TABLE evidence_views DROP COLUMN base_task_id")
    conn.execute("ALTER TABLE gate_decisions DROP COLUMN reward_from_json")  # (15's)
    conn.execute("DELETE FROM schema_migrations WHERE version >= 13")
    conn.close()
    assert "content not recorded" in t2e("heldout", "show", "hs")   # migrated again: NULL
    t2e.save("fix", "baseline", FIX_RULE)
    doc = t2e.gate(run(t2e, "base"), run(t2e, "cand", candidate="fix"))
    assert doc["decision"] == "promote" and doc["heldout_set"]["content_sha256"] is None


def test_an_imported_copy_of_a_run_on_the_set_matches_its_content(t2e):
    """An import holds its tasks as its file wrote them (no world record to shortcut by):
    compared task by task and on the policy its info records, an export of a run on the
    registered data matches; the same file with a gold argument changed does not."""
    import store
    from store.heldout import get_set
    from store.set_content import content_differences

    rid = run(t2e, "base")
    out = t2e.tmp / "b.json"
    t2e("export", rid, "--format", "tau2", "-o", str(out))
    doc = json.loads(out.read_text())
    doc.pop("t2e_provenance")
    out.write_text(json.dumps(doc))
    same = json.loads(t2e("import", str(out), "--json"))["imported"][0]["run_id"]
    task = doc["tasks"][0]
    task["evaluation_criteria"]["actions"][0]["arguments"]["edited"] = True
    (t2e.tmp / "c.json").write_text(json.dumps(doc))
    other = json.loads(t2e("import", str(t2e.tmp / "c.json"), "--json"))["imported"][0]
    conn = store.connect(t2e.store)
    s = get_set(conn, "hs")
    assert content_differences(conn, s["content"], rid, s["task_ids"]) == []
    assert content_differences(conn, s["content"], same, s["task_ids"]) == []
    assert content_differences(conn, s["content"], other["run_id"], s["task_ids"]) == [
        f"1 task definition(s) differ ({task['id']})"]
    conn.close()
    # the gate's reason named only "edited data" where the definitions differ: another tau2
    # data version (an older reward_basis, say) differs the same way and is no edit
    pair = []
    for name in ("d", "e"):  # (two files of the edited tasks, claimed heldout)
        doc["timestamp"] = f"file {name}"
        (t2e.tmp / f"{name}.json").write_text(json.dumps(doc))
        pair.append(json.loads(t2e("import", str(t2e.tmp / f"{name}.json"), "--role",
                                   "heldout", "--json"))["imported"][0]["run_id"])
    res = gate_refused(t2e, *pair)
    said = " ".join(res.output.split())
    assert "graded other tasks than set 'hs' was registered with" in said, res.output
    assert "(the same ids with other definitions, from edited data or another data version, " \
           "are not the registered set)" in said, res.output


def test_real_results_files_hash_their_tasks_as_the_data_they_were_graded_on(tau2_dir,
                                                                              shared_results):
    """The shared tau2 results embed their tasks as tau2 dumps them: each hashes as the same
    task of tasks_pre_v1.json (the data they were graded on), and the v1 tasks.json differs."""
    from world.lock import task_content_hash

    pre = {t["id"]: task_content_hash(t)
           for t in json.loads((tau2_dir / "retail" / "tasks_pre_v1.json").read_text())}
    v1 = {t["id"]: task_content_hash(t)
          for t in json.loads((tau2_dir / "retail" / "tasks.json").read_text())}
    for path in shared_results:
        tasks = json.loads(path.read_text())["tasks"]
        assert {t["id"]: task_content_hash(t) for t in tasks} == {t["id"]: pre[t["id"]]
                                                                  for t in tasks}
        assert all(task_content_hash(t) != v1[t["id"]] for t in tasks)


# -- 4. the CI at the level tested ------------------------------------------------------------

def test_the_ci_is_reported_at_the_corrected_level(t2e, tmp_path):
    from t2e_tui.gate.stats import bootstrap_mean_ci

    t2e.save("noop", "baseline", "\n- Be polite.\n")
    run(t2e, "noop-run", candidate="noop")        # an agent tried on the set: alpha corrected
    t2e.save("fix", "baseline", FIX_RULE)
    b = run(t2e, "base")
    c = run(t2e, "cand", candidate="fix")
    md, xml = tmp_path / "g.md", tmp_path / "g.xml"
    doc = json.loads(t2e("gate", b, c, "--json", "--report", "markdown", str(md),
                         "--report", "junit", str(xml), ok=(0, 1, 3, 4)))
    st = doc["stats"]
    assert st["alpha"] < st["alpha_uncorrected"]
    assert st["ci_tested_level"] == pytest.approx(1 - st["alpha"])
    deltas = [r["candidate"][0] - r["baseline"][0] for r in doc["transitions"]]
    lo, hi = bootstrap_mean_ci(deltas, level=1 - st["alpha"],
                               resamples=st["ci_tested_resamples"],
                               seed=st["bootstrap_seed"])
    assert (st["ci_tested_low"], st["ci_tested_high"]) == pytest.approx((lo, hi), abs=1e-12)
    assert st["ci_tested_low"] <= st["ci_low"]   # wider than the 95% one (still there)
    assert st["ci_level"] == 0.95
    label = f"CI{100 * (1 - st['alpha']):.2f}"
    text = f"{label} [{lo:.4f}, {hi:.4f}]"
    assert text in t2e("gate", b, c, ok=(0, 1, 3, 4))
    assert f"{label} \\[{lo:+.4f}, {hi:+.4f}\\]" in md.read_text()
    props = {p.get("name"): p.get("value")
             for p in ET.parse(xml).getroot().iter("property")}
    assert float(props["ci_tested_level"]) == pytest.approx(1 - st["alpha"])
    assert float(props["ci_tested_low"]) == pytest.approx(lo)


def test_the_ci_label_names_its_level():
    from t2e_tui.gate.report import ci_label

    assert ci_label(0.95) == "CI95"
    assert ci_label(1 - 0.0038) == "CI99.62"
    assert ci_label(1 - 0.000304) == "CI99.97"
    assert ci_label(0.975) == "CI97.5" and ci_label(0.9) == "CI90"
