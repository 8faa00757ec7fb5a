"""The classifier on stored runs: scripted mini-retail (accuracy against the injected cause),
the real shared pairs (every flip explained, cited steps consistent with the checks), the
cache, labels and the `t2e failures` / `t2e label` commands."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from store import connect
from t2e_tui.analysis import CLASSIFIER_VERSION
from t2e_tui.analysis.cache import analyse_run, class_counts
from t2e_tui.analysis.mini_retail import EXPECTED, accuracy, confusion
from t2e_tui.cli.main import cli
from t2e_tui.engine.engine import execute_run
from t2e_tui.engine.plan import plan_run
from t2e_tui.engine.scripted_rules import PHRASE_TABLE, behaviours_from_prompt

HARMFUL_ALL = ("You are a helpful customer support agent.\n"
               + "\n".join(row["example"] for row in PHRASE_TABLE if row["behaviour"] != "strict_yes"))
CANDIDATES = {"baseline": None, "skip": "skip-confirm-v1", "multi": "multi-rule-v1", "all": HARMFUL_ALL}


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """One store with four deterministic scripted runs over all 128 mini-retail tasks."""
    from pathlib import Path

    tmp = tmp_path_factory.mktemp("fa")
    path = str(tmp / "s.sqlite")
    repo = Path(__file__).resolve().parents[1]
    runs = {}
    for name, cand in CANDIDATES.items():
        if cand is not None and "\n" in cand:
            f = tmp / "harmful-all.md"
            f.write_text("---\nname: harmful-all\nparent: baseline\nhypothesis: every rule\n---\n" + cand)
            cand = str(f)
        plan = plan_run(domain="mini-retail", candidate=cand, candidates_dir=str(repo / "candidates"),
                        tasks="all", trials=1, concurrency=4, grade="db-communicate", name=name)
        runs[name] = execute_run(plan, path).run_id
    return path, runs


def _behaviours(conn, run_id):
    row = conn.execute("SELECT c.body FROM runs r JOIN candidates c ON c.candidate_hash ="
                       " r.candidate_hash WHERE r.run_id = ?", (run_id,)).fetchone()
    return behaviours_from_prompt(f"<instructions>{row[0] if row else ''}</instructions>")


def test_top_class_matches_the_injected_cause_on_scripted_runs(scripted):
    path, runs = scripted
    conn = connect(path)
    total: dict = {}
    for name, rid in runs.items():
        for key, n in confusion(conn, rid, _behaviours(conn, rid)).items():
            total[key] = total.get(key, 0) + n
    assert sum(total.values()) >= 200     # enough failures to mean something
    assert {cause for cause, _ in total} >= set(EXPECTED) - {"skip_confirmation"} | {"transfer_upset"}
    wrong = {k: n for k, n in total.items() if k[1] not in EXPECTED[k[0]]}
    assert accuracy(total) >= 0.95, wrong


def test_every_failed_scripted_episode_cites_existing_steps(scripted):
    path, runs = scripted
    conn = connect(path)
    for rid in runs.values():
        for a in analyse_run(conn, rid):
            n = conn.execute("SELECT n_steps FROM episodes WHERE episode_id = ?", (a.episode_id,)).fetchone()[0]
            assert a.classes and a.top != "unclassified", a.to_dict()
            for v in a.classes + a.flags:
                assert all(0 <= s < n for s in v.steps), (a.episode_id, v)
            assert 0 <= a.first_divergence["step"] < n


def _consistent(conn, a) -> None:
    """Each class's cited steps exist and agree with the recorded checks / breakdown."""
    eid = a.episode_id
    n = conn.execute("SELECT n_steps FROM episodes WHERE episode_id = ?", (eid,)).fetchone()[0]
    bd = json.loads(conn.execute("SELECT reward_breakdown_json FROM episodes WHERE episode_id = ?",
                                 (eid,)).fetchone()[0] or "{}")
    unmet_writes = conn.execute("SELECT count(*) FROM checks WHERE episode_id = ? AND kind = 'action'"
                                " AND met = 0 AND name NOT LIKE 'get%' AND name NOT LIKE 'find%'"
                                " AND name NOT LIKE 'search%'", (eid,)).fetchone()[0]
    unmet_comm = conn.execute("SELECT count(*) FROM checks WHERE episode_id = ? AND kind ="
                              " 'communicate' AND met = 0", (eid,)).fetchone()[0]
    for v in a.classes + a.flags:
        assert v.steps and all(0 <= s < n for s in v.steps), (eid, v)
        if v.name in ("missing_write", "wrong_target", "wrong_args"):
            assert unmet_writes > 0, (eid, v)
        if v.name == "extra_write":
            assert bd.get("DB") == 0.0, (eid, v)
        if v.name == "communicate_miss":
            assert unmet_comm > 0, (eid, v)
    assert a.first_divergence["step"] is not None and 0 <= a.first_divergence["step"] < n


@pytest.mark.parametrize("domain,n_flips", [("retail", 12), ("airline", 9)])
def test_real_pair_every_flip_is_explained_on_its_failing_side(tmp_path, shared_results, domain,
                                                               n_flips):
    from t2e_tui.analysis.cache import analysis_of
    from t2e_tui.analysis.report import flips

    res = shared_results[0].parent
    a, b = (res / f"{domain}_gpt-4.1_test-split_1trial.json",
            res / f"{domain}_ft-gpt-4.1-sft_test-split_1trial.json")
    path = str(tmp_path / "real.sqlite")
    out = CliRunner().invoke(cli, ["--store", path, "import", str(a), str(b), "--json"])
    assert out.exit_code == 0, out.output
    ra, rb = [x["run_id"] for x in json.loads(out.output)["imported"]]
    conn = connect(path)
    fl = flips(conn, ra, rb)
    assert len(fl) == n_flips
    for f in fl:
        failing = f["candidate_episode"] if f["direction"] == "regressed" else f["baseline_episode"]
        an = analysis_of(conn, failing)
        assert an is not None and an.top not in (None, "unclassified"), (f, an and an.to_dict())
        _consistent(conn, an)
        assert f["pair_divergence"]["step"] is not None


def test_label_overrides_the_classifier_everywhere(scripted, tmp_path):
    path, runs = scripted
    conn = connect(path)
    a = next(x for x in analyse_run(conn, runs["baseline"]) if x.top == "missing_write")
    r = CliRunner()
    out = r.invoke(cli, ["--store", path, "label", f"{a.episode_id}:3", "under_inspection",
                         "--note", "it never read the delivered order", "--author", "ana", "--json"])
    assert out.exit_code == 0, out.output
    out = r.invoke(cli, ["--store", path, "label", str(a.episode_id), "--reject", "missing_write"])
    assert out.exit_code == 0, out.output
    doc = json.loads(r.invoke(cli, ["--store", path, "failures", runs["baseline"], "--json"]).output)
    ep = next(e for e in doc["episodes"] if e["episode_id"] == a.episode_id)
    assert ep["classes"][0] == {"name": "under_inspection", "steps": [3], "source": "human",
                                "why": "labelled by ana: it never read the delivered order",
                                "note": "it never read the delivered order", "author": "ana"}
    assert "missing_write" not in [c["name"] for c in ep["classes"]]
    assert ep["first_divergence"]["step"] == 3
    counts = class_counts(conn, runs["baseline"])
    raw = dict(conn.execute("SELECT name, count(*) FROM failure_analysis_classes WHERE run_id = ?"
                            " GROUP BY name", (runs["baseline"],)).fetchall())
    assert counts["missing_write"] == raw["missing_write"] - 1
    assert counts["under_inspection"] == raw.get("under_inspection", 0) + 1
    row = conn.execute("SELECT author, note, kind FROM labels WHERE target_id = ?",
                       (f"{a.episode_id}:3",)).fetchone()
    assert row == ("ana", "it never read the delivered order", "failure_class")


@pytest.mark.parametrize("args,needle", [
    (["label", "999999", "loop"], "episode 999999 is not in the store"),
    (["label", "1", "no_such_class"], "unknown failure class"),
    (["label", "1:9999", "loop"], "has no step 9999"),
    (["label", "x:y", "loop"], "expected EPISODE or EPISODE:STEP"),
    (["label", "1", "loop", "--reject", "loop"], "exactly one of CLASS or --reject"),
])
def test_bad_labels_exit_2_with_one_line(scripted, args, needle):
    path, _ = scripted
    out = CliRunner().invoke(cli, ["--store", path] + args)
    assert out.exit_code == 2 and needle in out.output, out.output
    assert len(out.output.strip().splitlines()) == 1


def test_failures_json_shape_and_deltas(scripted):
    path, runs = scripted
    r = CliRunner()
    out = r.invoke(cli, ["--store", path, "failures", runs["skip"], "--vs", runs["baseline"], "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    ep = doc["episodes"][0]
    assert set(ep) >= {"episode_id", "task_id", "trial", "reward", "classes", "first_divergence"}
    assert set(ep["classes"][0]) >= {"name", "steps", "why", "source"}
    assert set(ep["first_divergence"]) == {"step", "why"}
    d = {x["class"]: x for x in doc["deltas"]}
    assert d["unconfirmed_write"]["delta"] == (d["unconfirmed_write"]["candidate"]
                                               - d["unconfirmed_write"]["baseline"]) > 0
    assert doc["flips"] and all(f["pair_divergence"]["step"] is not None for f in doc["flips"])
    human = r.invoke(cli, ["--store", path, "failures", runs["skip"], "--vs", runs["baseline"]])
    assert human.exit_code == 0 and "unconfirmed_write" in human.output


def test_cache_is_keyed_by_classifier_version(scripted, monkeypatch):
    path, runs = scripted
    conn = connect(path)
    rid = runs["multi"]
    analyse_run(conn, rid)
    n = conn.execute("SELECT count(*) FROM failure_analyses WHERE run_id = ?", (rid,)).fetchone()[0]
    # a changed cached row is served as is under the same version ...
    conn.execute("UPDATE failure_analyses SET result_json = json_set(result_json, '$.classes[0].why',"
                 " 'cached') WHERE run_id = ?", (rid,))
    assert all(a.classes[0].why == "cached" for a in analyse_run(conn, rid, with_labels=False))
    # ... and a new version re-classifies
    fresh = analyse_run(conn, rid, version="rules-test", with_labels=False)
    assert len(fresh) == n and all(a.classes[0].why != "cached" for a in fresh)
    versions = conn.execute("SELECT DISTINCT classifier_version FROM failure_analyses WHERE run_id = ?",
                            (rid,)).fetchall()
    assert sorted(v[0] for v in versions) == sorted([CLASSIFIER_VERSION, "rules-test"])


def test_migration_from_an_empty_file(tmp_path):
    conn = connect(tmp_path / "new.sqlite")
    cols = {r[1] for r in conn.execute("PRAGMA table_info(failure_analyses)")}
    assert {"episode_id", "classifier_version", "top_class", "first_step", "result_json"} <= cols
    assert "note" in {r[1] for r in conn.execute("PRAGMA table_info(labels)")}
    assert {"expected", "origin_episode", "note"} <= {
        r[1] for r in conn.execute("PRAGMA table_info(regression_set_items)")}
    assert isinstance(conn, sqlite3.Connection)


def test_clusters_are_pure_against_the_injected_cause(scripted):
    import json as _json

    from t2e_tui.analysis.clusters import cluster, purity
    from t2e_tui.analysis.mini_retail import injected_cause

    path, runs = scripted
    conn = connect(path)
    for rid in runs.values():
        analyses = analyse_run(conn, rid, with_labels=False)
        tasks = {t: _json.loads(j) for t, j in conn.execute(
            "SELECT task_id, task_json FROM tasks WHERE run_id = ?", (rid,))}
        b = _behaviours(conn, rid)
        cause = {a.episode_id: injected_cause(tasks[a.task_id], b) for a in analyses}
        cl = cluster(analyses)
        assert sum(c.size for c in cl) == len(analyses)
        assert len(cl) < len(analyses)          # it groups
        assert purity(cl, cause) >= 0.9
        for c in cl:
            assert c.representative in c.members and c.explain().startswith(f"class {c.key['class']}")


def test_failures_clusters_in_the_cli(scripted):
    path, runs = scripted
    out = CliRunner().invoke(cli, ["--store", path, "failures", runs["baseline"], "--clusters", "--json"])
    doc = json.loads(out.output)
    assert doc["clusters"] and {"class", "tool", "diff", "size", "representative", "explanation"} <= set(doc["clusters"][0])


def test_label_notes_are_shown_never_interpreted(scripted):
    path, runs = scripted
    conn = connect(path)
    a = next(x for x in analyse_run(conn, runs["skip"]) if x.top == "auth_skipped")
    hostile = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m [bold]x[/]"
    r = CliRunner()
    out = r.invoke(cli, ["--store", path, "label", str(a.episode_id), "wrong_claim", "--note", hostile,
                         "--author", "ev\x1b[2Jil"])
    assert out.exit_code == 0 and "\x1b" not in out.output
    human = r.invoke(cli, ["--store", path, "failures", runs["skip"]], terminal_width=200)
    assert human.exit_code == 0 and "\x1b" not in human.output and "\x07" not in human.output
    assert "labelled by evil: red [bold]x[/]" in human.output
