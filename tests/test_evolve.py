"""`t2e evolve` (issue 19): the loop with the offline stand-in proposer reaches a promote on clean
heldout evidence, never reads heldout, records every step (and resumes), validates proposals,
and the openai proposer speaks to a real HTTP endpoint (a local stub)."""

from __future__ import annotations

import json

import pytest
import stub_openai as stub
from click.testing import CliRunner

import store
from t2e_tui.candidates import Candidate
from t2e_tui.cli import cli
from t2e_tui.engine.config import Config, Endpoint
from t2e_tui.evolve import EvolveConfig, Proposal, ProposalError, evolve
from t2e_tui.evolve.openai_proposer import OpenAIProposer, parse_reply
from t2e_tui.evolve.proposer import LeakageRefused, NoopProposer, OfflineProposer


def cfg(tmp_path, **kw):
    base = dict(start="baseline", candidates_dir=str(tmp_path / "cands"))
    base.update(kw)
    return EvolveConfig(**base)


def test_offline_loop_promotes_on_clean_heldout_and_records_provenance(tmp_path):
    path = str(tmp_path / "s.sqlite")
    out = evolve(path, cfg(tmp_path, iterations=3))
    assert out["status"] == "promoted" and out["stand_in"]
    last = out["iterations"][-1]
    assert len(out["iterations"]) <= 3
    assert last["gate"]["decision"] == "promote" and last["gate"]["evidence_role"] == "heldout"
    assert not last["gate"]["regressions"]
    conn = store.connect(path)
    frozen = conn.execute("SELECT parent_hash, front_matter_json, hypothesis FROM candidates "
                          "WHERE candidate_hash = ?", (last["frozen"],)).fetchone()
    assert frozen[0] == last["parent"]                    # the input is the parent
    assert "offline proposer" in frozen[1] and frozen[2]  # author and hypothesis recorded
    entry = next(e for e in last["proposals"] if e.get("hash") == last["frozen"])
    refs = entry["motivations"][0]["refs"]
    assert refs and all(isinstance(r["episode_id"], int) for r in refs)
    # every episode the proposer cites was read as an evidence view, and none is heldout
    viewed = conn.execute("SELECT DISTINCT r.role FROM evidence_views v JOIN runs r ON "
                          "r.run_id = v.run_id WHERE v.via = 'proposer'").fetchall()
    assert viewed and {r[0] for r in viewed} <= {"discovery", "development"}
    cited = {r["episode_id"] for r in refs}
    seen = {r[0] for r in conn.execute("SELECT episode_id FROM evidence_views WHERE via = "
                                       "'proposer'")}
    assert cited <= seen


class PeekingProposer(OfflineProposer):
    """Asks for a heldout episode before proposing: must be refused and recorded."""

    def __init__(self, heldout_episode):
        self.heldout_episode = heldout_episode

    def propose(self, parent, reader, runs, policy, m):
        with pytest.raises(LeakageRefused):
            reader.episode(self.heldout_episode())
        return super().propose(parent, reader, runs, policy, m)


def test_a_proposer_asking_for_a_heldout_trace_is_refused_and_recorded(tmp_path):
    path = str(tmp_path / "s.sqlite")
    conn = store.connect(path)

    def heldout_episode():
        return conn.execute("SELECT e.episode_id FROM episodes e JOIN runs r ON r.run_id = "
                            "e.run_id WHERE r.role = 'heldout' LIMIT 1").fetchone()[0]

    out = evolve(path, cfg(tmp_path, iterations=1), proposer=PeekingProposer(heldout_episode))
    assert len(out["refused_reads"]) == 1
    refused = out["refused_reads"][0]
    assert refused["role"] == "heldout" and "heldout" in refused["why"]
    views = conn.execute("SELECT count(*) FROM evidence_views v JOIN runs r ON r.run_id = "
                         "v.run_id WHERE r.role = 'heldout'").fetchone()[0]
    assert views == 0  # refused means nothing was shown, so nothing to taint
    assert out["iterations"][0]["gate"]["evidence_role"] == "heldout"


class BadProposer:
    name, author = "bad", "bad"

    def propose(self, parent, reader, runs, policy, m):
        return [Proposal(body=parent.body, hypothesis="same text"),   # no change
                Proposal(body="", hypothesis="empty"),
                "not a proposal"]


def test_malformed_proposals_are_recorded_and_skipped(tmp_path):
    path = str(tmp_path / "s.sqlite")
    out = evolve(path, cfg(tmp_path, iterations=1), proposer=BadProposer())
    it = out["iterations"][0]
    errors = [e["error"] for e in it["proposals"]]
    assert len(errors) == 3 and "equals its parent" in errors[0] and "empty" in errors[1]
    assert it["frozen"] is None and out["status"] == "finished"
    n = store.connect(path).execute("SELECT count(*) FROM candidates").fetchone()[0]
    assert n == 1  # only the baseline: nothing half-applied


class Interrupting(OfflineProposer):
    def propose(self, *a, **kw):
        raise KeyboardInterrupt


def test_a_stopped_loop_resumes_without_rerunning_finished_runs(tmp_path):
    path = str(tmp_path / "s.sqlite")
    with pytest.raises(KeyboardInterrupt):
        evolve(path, cfg(tmp_path, iterations=1), proposer=Interrupting())
    conn = store.connect(path)
    (loop_id,) = conn.execute("SELECT loop_id FROM evolve_loops").fetchone()
    runs_before = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert runs_before == 3  # heldout baseline, discovery, dev parent
    out = evolve(path, resume=loop_id[:8])
    assert out["loop_id"] == loop_id and out["status"] == "promoted"
    names = [r[0] for r in conn.execute("SELECT name FROM runs ORDER BY created_at")]
    assert sum("discovery" in n for n in names) == 1 and sum("heldout-baseline" in n
                                                            for n in names) == 1


def test_budget_stops_before_a_run_that_would_exceed_it(tmp_path):
    out = evolve(str(tmp_path / "s.sqlite"), cfg(tmp_path, budget_episodes=100))
    assert out["status"] == "budget" and "budget" in out["why"]
    assert out["episodes"] <= 100


@pytest.mark.slow
def test_noop_proposals_in_noisy_mode_are_not_promoted(tmp_path):
    """40 seeded loops whose proposer changes nothing: false promotions <= 5%. Every run has its
    own seed, so a no-op often looks better on dev by chance, is frozen and reaches the gate:
    the test measures the gate, not a loop that never gets there."""
    promoted = gated = 0
    for seed in range(40):
        out = evolve(str(tmp_path / f"s{seed}.sqlite"),
                     cfg(tmp_path, iterations=1, proposals=2, noise=0.1, seed=seed,
                         candidates_dir=str(tmp_path / f"c{seed}")), proposer=NoopProposer())
        promoted += out["status"] == "promoted"
        gated += "gate" in out["iterations"][0]
    assert gated >= 10
    assert promoted / 40 <= 0.05


def test_cli_evolve_json_and_refusals(tmp_path):
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "evolve", "--from",
                                 "baseline", "--candidates", str(tmp_path / "c"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)   # stderr says the loop id as it starts
    assert out["status"] == "promoted" and out["iterations"][-1]["gate"]["decision"] == "promote"
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "evolve"])
    assert r.exit_code == 2 and "--from" in r.output
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "evolve", "--from",
                                 "baseline", "--proposer", "magic"])
    assert r.exit_code == 2 and "offline or openai:MODEL" in r.output


# -- the openai proposer over real HTTP -----------------------------------------------------

GOOD = {"proposals": [{"instruction": "Be helpful.\n- Always authenticate the customer by email "
                                     "or name and zip, even when they give a user id.",
                       "hypothesis": "auth_skipped failures: authenticate first",
                       "motivations": [{"rule": "- Always authenticate", "refs": [
                           {"episode_id": 3, "step": 2}]}]}]}


class FakeReader:
    def failures(self, run):
        return [{"episode_id": 3, "task_id": "t", "classes": [{"name": "auth_skipped"}],
                 "first_divergence": {"step": 2}, "steps": []}]


def proposer_for(server, monkeypatch):
    monkeypatch.setenv("T2E_TEST_KEY", "sk-test")
    ep = Endpoint(name="stub", base_url=server.base_url, api_key_env="T2E_TEST_KEY",
                  timeout=5.0, max_retries=2, backoff=0.01, backoff_cap=0.02)
    return OpenAIProposer("stub-model", config=Config(), endpoint=ep)


def test_openai_proposer_valid_reply(monkeypatch):
    with stub.StubOpenAI([stub.text(json.dumps(GOOD))]) as server:
        props = proposer_for(server, monkeypatch).propose(
            Candidate(name="b", body="Be helpful."), FakeReader(), ["r"], "policy text", 3)
        sent = server.requests[0]
    assert len(props) == 1 and props[0].author == "openai:stub-model"
    assert props[0].motivations[0].refs == [{"episode_id": 3, "step": 2}]
    assert sent["response_format"] == {"type": "json_object"}
    assert "auth_skipped" in sent["messages"][0]["content"]
    assert "policy text" in sent["messages"][0]["content"]


def test_openai_proposer_retries_a_429_then_succeeds(monkeypatch):
    with stub.StubOpenAI([stub.error(429, "slow down"), stub.text(json.dumps(GOOD))]) as server:
        props = proposer_for(server, monkeypatch).propose(
            Candidate(name="b", body="Be helpful."), FakeReader(), ["r"], "", 3)
        assert server.n_requests == 2
    assert props[0].hypothesis.startswith("auth_skipped")


@pytest.mark.parametrize("reply,words", [
    ("this is not json", "not JSON"),
    (json.dumps({"ideas": []}), "no 'proposals' list"),
    (json.dumps({"proposals": [{"instruction": "", "hypothesis": "x"}]}), "'instruction'"),
    (json.dumps({"proposals": [{"instruction": "x", "hypothesis": "y", "motivations": [
        {"rule": "r", "refs": [{"episode_id": "seven"}]}]}]}), "integer 'episode_id'"),
])
def test_openai_proposer_malformed_replies_are_proposal_errors(monkeypatch, reply, words):
    with stub.StubOpenAI([stub.text(reply)]) as server:
        with pytest.raises(ProposalError, match=words):
            proposer_for(server, monkeypatch).propose(
                Candidate(name="b", body="Be helpful."), FakeReader(), ["r"], "", 3)
    with pytest.raises(ProposalError):
        parse_reply(reply, author="x")


def test_a_malformed_model_reply_in_the_loop_is_recorded_not_applied(tmp_path, monkeypatch):
    with stub.StubOpenAI(responder=lambda body: stub.text("{oops")) as server:
        out = evolve(str(tmp_path / "s.sqlite"), cfg(tmp_path, iterations=1),
                     proposer=proposer_for(server, monkeypatch))
    it = out["iterations"][0]
    assert it["frozen"] is None and "not JSON" in it["proposals"][0]["error"]


# -- the transfer check: a promote on heldout that transfer discards is not a stop ----------

class RuleProposer:
    """Proposes one rule of the stand-in's phrase table (the behaviour named)."""
    name = author = "rule (test stand-in)"

    def __init__(self, behaviour):
        self.behaviour = behaviour

    def propose(self, parent, reader, runs, policy, m):
        from t2e_tui.candidates import normalise
        from t2e_tui.engine.scripted_rules import PHRASE_TABLE

        rule = next(r["example"] for r in PHRASE_TABLE if r["behaviour"] == self.behaviour)
        return [Proposal(body=normalise(parent.body) + "\n" + rule, hypothesis=self.behaviour)]


def test_a_heldout_promote_discarded_on_transfer_goes_on_and_says_why(tmp_path):
    path = str(tmp_path / "s.sqlite")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--from", "baseline", "--candidates",
                                 str(tmp_path / "c"), "--transfer", "mini-airline:heldout",
                                 "--iterations", "2", "--proposals", "2"])
    assert r.exit_code == 3, r.output
    # both iterations: promote on clean heldout, discard on transfer -> not a stop
    assert r.stdout.count("promote (heldout)") == 2 and r.stdout.count("discard") >= 2
    assert r.stdout.count("-> not promoted: promoted on heldout, rejected on transfer "
                          "(mini-airline:heldout, row ") == 2
    assert r.stdout.count("discard): it has not generalised") == 2
    assert "finished" in r.stdout and "not discarded on transfer in 2 iteration(s)" in r.stdout
    # one line, as it happens, says why the loop goes on, then why it ends
    lines = [ln for ln in r.stderr.splitlines() if "not promoted" in ln]
    assert len(lines) == 2
    assert lines[0].startswith("iteration 1: not promoted, going on to iteration 2 (parent ")
    assert lines[1].startswith("iteration 2: not promoted, that was the last of 2 iteration(s)")
    assert all(ln.endswith("rejected on transfer (mini-airline:heldout, row "
                           f"{2 * k + 2}: discard): it has not generalised")
               for k, ln in enumerate(lines))
    # the transfer baseline is the starting candidate (as on heldout), run once
    conn = store.connect(path)
    start = conn.execute("SELECT candidate_hash FROM candidates WHERE name = 'baseline'"
                         ).fetchone()[0]
    tb = conn.execute("SELECT candidate_hash FROM runs WHERE name LIKE '%transfer-baseline'"
                      ).fetchall()
    assert tb == [(start,)]


def test_a_heldout_promote_that_holds_on_transfer_stops_the_loop(tmp_path):
    out = evolve(str(tmp_path / "s.sqlite"),
                 cfg(tmp_path, iterations=3, transfer="mini-airline:heldout"),
                 proposer=RuleProposer("strict_yes"))
    assert out["status"] == "promoted" and len(out["iterations"]) == 1
    it = out["iterations"][0]
    assert it["promoted"] and it["transfer_gate"]["decision"] != "discard"
    assert it["verdict"] == (f"promote on clean heldout (row {it['gate']['row_id']}), "
                             f"{it['transfer_gate']['decision']} on transfer "
                             f"(mini-airline:heldout, row {it['transfer_gate']['row_id']})")
    assert out["why"] == it["verdict"]


@pytest.mark.parametrize("transfer,words", [
    ("mini-retail:heldout", "another kind of domain"),
    ("mini-airline:nosuch", "no split 'nosuch'"),
    ("nowhere:heldout", "unknown domain 'nowhere'"),
])
def test_a_transfer_the_loop_cannot_run_is_refused_before_any_run(tmp_path, transfer, words):
    path = str(tmp_path / "s.sqlite")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--from", "baseline",
                                 "--candidates", str(tmp_path / "c"), "--transfer", transfer])
    assert r.exit_code == 2 and f"--transfer {transfer}: " in r.output and words in r.output
    assert store.connect(path).execute("SELECT count(*) FROM runs").fetchone()[0] == 0


# -- repeated trials and the proposer's reading ---------------------------------------------

@pytest.mark.slow
def test_repeated_trials_do_not_reduce_the_proposals(tmp_path):
    """A run keeps a task's trials together: read in run order, --trials 3 spent the reading
    budget on three trials of the first few tasks, all of one class, and gave 1 proposal of 3."""
    one = evolve(str(tmp_path / "a.sqlite"), cfg(tmp_path, iterations=1, proposals=3,
                                                 candidates_dir=str(tmp_path / "ca")))
    three = evolve(str(tmp_path / "b.sqlite"), cfg(tmp_path, iterations=1, proposals=3, trials=3,
                                                   candidates_dir=str(tmp_path / "cb")))

    def rules(out):
        return [e["motivations"][0]["rule"] for e in out["iterations"][0]["proposals"]]

    assert len(rules(one)) == 3 and rules(three) == rules(one)
    assert three["iterations"][0]["proposals_short"] is None
    # the episodes read cover distinct tasks before any task's second trial
    conn = store.connect(str(tmp_path / "b.sqlite"))
    read = conn.execute("SELECT e.run_id, e.task_id FROM evidence_views v JOIN episodes e ON "
                        "e.episode_id = v.episode_id WHERE v.via = 'proposer'").fetchall()
    assert len(read) > 6 and len(set(read)) == len(read)


def test_breadth_first_reads_each_task_once_before_any_second_trial():
    from types import SimpleNamespace as A

    from t2e_tui.evolve.proposer import breadth_first

    run = [A(task_id=t, trial=k) for t in ("a", "b", "c") for k in range(3) if (t, k) != ("b", 0)]
    assert [(a.task_id, a.trial) for a in breadth_first(run)] == [
        ("a", 0), ("b", 1), ("c", 0), ("a", 1), ("b", 2), ("c", 1), ("a", 2), ("c", 2)]


def test_fewer_proposals_than_asked_says_why_in_one_line(tmp_path):
    path = str(tmp_path / "s.sqlite")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--from", "baseline", "--candidates",
                                 str(tmp_path / "c"), "--iterations", "1", "--proposals", "8",
                                 "--json"])
    short = json.loads(r.stdout)["iterations"][0]["proposals_short"]
    assert short == ("3 of the 8 proposal(s) asked for: the failures read (14 of the 68 failing "
                     "episodes, 14 of 68 tasks, as far as the reading budget went) support 3 of "
                     "the 8 rule(s) it knows that the parent lacks")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--resume", json.loads(
        r.stdout)["loop_id"]])
    assert f"  {short}\n" in r.stdout
    # proposals that are all malformed, or a proposer that fails: said too
    out = evolve(str(tmp_path / "b.sqlite"), cfg(tmp_path, iterations=1), proposer=BadProposer())
    assert out["iterations"][0]["proposals_short"] == ("0 of the 3 proposal(s) asked for: "
                                                       "3 skipped (below)")


# -- finding the loop to resume ---------------------------------------------------------------

def test_after_kill_9_the_printed_loop_id_and_a_bare_resume_finish_the_loop(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = tmp_path / "s.sqlite"
    t2e = str(Path(sys.executable).with_name("t2e"))
    proc = subprocess.Popen([t2e, "--store", str(path), "evolve", "--from", "baseline",
                             "--iterations", "1", "--candidates", str(tmp_path / "c"), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "T2E_CONFIG": str(tmp_path / "none.toml")})
    try:
        first = proc.stderr.readline()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # killed inside its first run
            conn = store.connect(str(path))
            n = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
            conn.close()
            if n:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and out == ""   # --json: nothing on stdout
    (loop_id,) = store.connect(str(path)).execute("SELECT loop_id FROM evolve_loops").fetchone()
    assert first == (f"evolve loop {loop_id[:8]} started (after Ctrl-C or a kill: "
                     f"t2e evolve --resume {loop_id[:8]})\n")
    r = CliRunner().invoke(cli, ["--store", str(path), "evolve", "--resume", "--json"])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith(f"evolve loop {loop_id[:8]} resumed\n")
    assert json.loads(r.stdout)["loop_id"] == loop_id


@pytest.mark.slow
def test_a_bare_resume_lists_several_unfinished_loops_one_line_each(tmp_path):
    path = str(tmp_path / "s.sqlite")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--resume"])
    assert r.exit_code == 2 and "no unfinished evolve loop" in r.stderr
    for k in range(2):
        with pytest.raises(KeyboardInterrupt):
            evolve(path, cfg(tmp_path, iterations=2 + k), proposer=Interrupting())
    ids = [r[0] for r in store.connect(path).execute(
        "SELECT loop_id FROM evolve_loops ORDER BY created_at, rowid")]
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--resume"])
    assert r.exit_code == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 3
    for k, (line, loop_id) in enumerate(zip(lines, ids)):
        assert line.startswith(f"{loop_id[:8]}  running  from baseline  iteration 1 of {2 + k}  "
                               "last step ")
    assert lines[2] == (f"t2e: error: --resume: 2 unfinished evolve loops, name one: "
                        f"{ids[0][:8]}, {ids[1][:8]}")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--resume", "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout) == {
        "error": f"--resume: 2 unfinished evolve loops, name one: {ids[0][:8]}, {ids[1][:8]}"}
    # a prefix picks one, as before; a finished loop is no longer offered
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--resume", ids[1][:8].upper()])
    assert r.exit_code == 0 and r.stderr.startswith(f"evolve loop {ids[1][:8]} resumed\n")
    r = CliRunner().invoke(cli, ["--store", path, "evolve", "--resume"])
    assert r.exit_code == 0 and r.stderr.startswith(f"evolve loop {ids[0][:8]} resumed\n")
