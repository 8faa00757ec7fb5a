"""`t2e gate --report junit|markdown FILE`: the files are parsed back and checked."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from test_gate_builders import make_run, new_store

from t2e_tui.cli import cli


@pytest.fixture
def store_path(tmp_path):
    conn = new_store(tmp_path, "s.sqlite")
    base = {str(i): [1.0 if i <= 6 else 0.0] for i in range(1, 11)}
    bad = dict(base)
    bad["1"] = [0.0]
    bad["2"] = [0.0]
    bad["9"] = [1.0]
    make_run(conn, "base", base)
    # a hostile run name: markup, a table pipe and a terminal escape
    make_run(conn, "bad | <b>x</b> \x1b[31m`rm`", bad)
    make_run(conn, "low", {str(i): [1.0 if i <= 2 else 0.0] for i in range(1, 11)})
    make_run(conn, "good", {str(i): [1.0] for i in range(1, 11)})
    conn.close()
    return str(tmp_path / "s.sqlite")


def gate(store_path, *args):
    return CliRunner().invoke(cli, ["--store", store_path, "gate", *args])


def test_junit_one_case_per_check_and_regression(store_path, tmp_path):
    out = tmp_path / "gate.xml"
    res = gate(store_path, "base", "bad | <b>x</b> \x1b[31m`rm`", "--report", "junit", str(out),
               "--json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    suite = ET.parse(out).getroot().find("testsuite")
    cases = suite.findall("testcase")
    checks = [c for c in cases if c.get("classname") == "t2e.gate.checks"]
    regs = [c for c in cases if c.get("classname") == "t2e.gate.regressions"]
    assert [c.get("name") for c in checks] == [ch["name"] for ch in doc["checks"]]
    assert sorted(c.get("name") for c in regs) == ["task 1", "task 2"]
    failed = {c.get("name") for c in checks if c.find("failure") is not None}
    assert failed == {ch["name"] for ch in doc["checks"] if not ch["passed"]}
    assert "no_task_regressions" in failed and "no_max_steps" not in failed
    r1 = next(c for c in regs if c.get("name") == "task 1").find("failure")
    cand = doc["candidate"]["run_id"]
    # A the baseline, B the candidate, as the app's compare has them
    assert r1.text == f"t2e show {doc['baseline']['run_id']}:1 --vs {cand}:1"
    verdict = next(c for c in cases if c.get("name") == "verdict")
    assert verdict.find("failure").get("message").startswith("discard")
    assert int(suite.get("failures")) == len(failed) + 2 + 1
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["decision"] == "discard" and "\x1b" not in props["candidate"]
    assert float(props["p_value"]) == pytest.approx(doc["stats"]["p_value"])


def test_markdown_comment(store_path, tmp_path):
    out = tmp_path / "gate.md"
    res = gate(store_path, "base", "bad | <b>x</b> \x1b[31m`rm`", "--report", "markdown",
               str(out), "--json")
    doc = json.loads(res.stdout)
    text = out.read_text()
    assert text.startswith("## t2e gate: ❌ DISCARD")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and "|---" not in ln]
    table = [r for r in rows if r.split(" | ")[0].lstrip("| ") in
             {ch["name"].replace("_", "\\_") for ch in doc["checks"]}]
    assert len(table) == len(doc["checks"])
    for row in table:  # every row keeps its 5 cells: escaped pipes do not split it
        assert len([c for c in row.split(" | ")]) == 5
    assert "| **FAIL** |" in text and "| pass |" in text
    cand, base = doc["candidate"]["run_id"], doc["baseline"]["run_id"]
    assert f"`t2e show {base}:1 --vs {cand}:1`" in text  # A the baseline, as in the app
    assert "### Regressions (2)" in text
    st = doc["stats"]
    assert f"p = {st['p_value']:.4g}" in text
    assert f"CI95 \\[{st['ci_low']:+.4f}, {st['ci_high']:+.4f}\\]" in text
    assert "<b>" not in text and "\x1b" not in text and "\\<b\\>" in text


def test_promote_report_and_bad_report_path(store_path, tmp_path):
    out = tmp_path / "ok.xml"
    res = gate(store_path, "low", "good", "--report", "junit", str(out),
               "--report", "markdown", str(tmp_path / "ok.md"))
    # every check passes, but imported discovery runs are not clean heldout evidence (#10):
    # "supported", exit 4, and the report never reads as a promotion
    assert res.exit_code == 4
    suite = ET.parse(out).getroot().find("testsuite")
    # exit 4 passes a CI job (README, "In CI"): the JUnit report agrees (see below)
    assert suite.get("failures") == "0"
    assert (tmp_path / "ok.md").read_text().startswith(
        "## t2e gate: 🟡 SUPPORTED (development evidence, not promoted)")
    res = gate(store_path, "base", "good", "--report", "junit", str(tmp_path / "no/x.xml"))
    assert res.exit_code == 2 and "does not exist" in res.output


def _verdict_case(path):
    suite = ET.parse(path).getroot().find("testsuite")
    (case,) = [c for c in suite.iter("testcase") if c.get("name") == "verdict"]
    return suite, case


def test_the_junit_verdict_fails_exactly_where_the_exit_code_fails_a_ci_job(store_path,
                                                                            tmp_path):
    """The JUnit verdict case failed on every verdict but promote, so a CI that fails builds
    on JUnit failures went red on `supported` (exit 4), the best verdict an imported pair can
    get and one the README's CI recipe passes. The case now fails where the exit code fails
    the job (discard 1, inconclusive 3) and passes on promote and supported, a supported
    verdict saying what it could not vouch for in the case's output (never read as a
    promotion); the per-check and per-regression cases are unchanged."""
    from t2e_tui.gate.rules import EXIT_CODES

    seen = {}
    for base, cand, decision in (("low", "good", "supported"), ("base", "good", "inconclusive"),
                                 ("base", "bad | <b>x</b> \x1b[31m`rm`", "discard")):
        out = tmp_path / f"{decision}.xml"
        res = gate(store_path, base, cand, "--report", "junit", str(out), "--json")
        doc = json.loads(res.stdout)
        assert doc["decision"] == decision and res.exit_code == EXIT_CODES[decision]
        suite, case = _verdict_case(out)
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["exit_code"] == str(res.exit_code) and props["verdict"] == doc["verdict"]
        seen[decision] = case.find("failure")
        if decision == "supported":
            assert seen[decision] is None and suite.get("failures") == "0"
            said = case.find("system-out").text
            assert said.startswith("supported (development), exit 4: not a promote"), said
            assert all(one in said for one in doc["reasons"]), said
        else:
            assert seen[decision].get("message").startswith(f"{decision}: ")
            assert case.find("system-out") is None
    # the per-check and per-regression cases as before: the discard's are there and fail
    suite, _ = _verdict_case(tmp_path / "discard.xml")
    regs = [c for c in suite.iter("testcase") if c.get("classname") == "t2e.gate.regressions"]
    assert len(regs) == 2 and all(c.find("failure") is not None for c in regs)


def test_regressions_a_policy_allows_do_not_fail_the_junit_report(store_path, tmp_path):
    """A policy with the zero-tolerance veto off: the verdict is supported at most (exit 4,
    which passes the job) while the regressing tasks' cases failed, so the report went red
    where the exit code did not. They are listed still, as skipped with why."""
    pol = tmp_path / "loose.toml"
    pol.write_text("[stats]\nrequire_significance = false\n"
                   "[checks.no_task_regressions]\nenabled = false\n"
                   "[checks.reward_improved]\nenabled = false\n"
                   "[checks.pass_rate_not_worse]\nenabled = false\n"
                   "[checks.action_match_not_worse]\nenabled = false\n"
                   "[checks.write_action_match_not_worse]\nenabled = false\n"
                   "[checks.read_action_match_not_worse]\nenabled = false\n")
    out = tmp_path / "g.xml"
    res = gate(store_path, "base", "bad | <b>x</b> \x1b[31m`rm`", "--policy", str(pol),
               "--report", "junit", str(out), "--json")
    doc = json.loads(res.stdout)
    assert res.exit_code == 4 and doc["stats"]["regressions"] == ["1", "2"], res.output
    suite, case = _verdict_case(out)
    regs = [c for c in suite.iter("testcase") if c.get("classname") == "t2e.gate.regressions"]
    assert [c.get("name") for c in regs] == ["task 1", "task 2"]
    assert all(c.find("failure") is None for c in regs)
    skipped = [c.find("skipped") for c in regs]
    assert all(s is not None and "no_task_regressions is off" in s.get("message")
               for s in skipped)
    assert skipped[0].text.startswith("t2e show ")
    assert suite.get("failures") == "0" and case.find("failure") is None


def test_inspect_command_of_a_hostile_task_id_stays_in_its_cell_and_is_quoted(tmp_path):
    """A task id from a trace file with a pipe, backticks and a space: the Markdown row keeps
    its two cells (a bare `|` in a code span split it on GitHub), the code span holds the whole
    command (backticks were dropped), and the command is quoted for the shell, as in JUnit."""
    import shlex

    conn = new_store(tmp_path, "s.sqlite")
    task = "t|1 `x` y"
    make_run(conn, "base", {task: [1.0], "ok": [1.0]})
    make_run(conn, "cand", {task: [0.0], "ok": [1.0]})
    conn.close()
    st = str(tmp_path / "s.sqlite")
    md_path, xml_path = tmp_path / "g.md", tmp_path / "g.xml"
    res = gate(st, "base", "cand", "--report", "markdown", str(md_path), "--report", "junit",
               str(xml_path), "--json")
    doc = json.loads(res.stdout)
    cand, base = doc["candidate"]["run_id"], doc["baseline"]["run_id"]
    command = f"t2e show '{base}:{task}' --vs '{cand}:{task}'"
    assert shlex.split(command) == ["t2e", "show", f"{base}:{task}", "--vs", f"{cand}:{task}"]
    row = next(ln for ln in md_path.read_text().splitlines() if "t2e show" in ln)
    # GitHub splits table cells at pipes not escaped by a backslash, code spans included
    cells = [c for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    assert len(cells) == 2, row
    code = cells[1].strip()
    assert code.startswith("``") and code.endswith("``") and not code.startswith("```")
    assert code.strip("`").strip().replace("\\|", "|") == command
    reg = next(c for c in ET.parse(xml_path).getroot().iter("testcase")
               if c.get("classname") == "t2e.gate.regressions")
    assert reg.find("failure").text == command


def test_a_run_gated_against_itself_is_refused_and_records_nothing(store_path):
    res = gate(store_path, "base", "base")
    assert res.exit_code == 2 and "cannot be gated against itself" in res.output
    import store

    conn = store.connect(store_path)
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 0
    conn.close()


def test_inspect_command_of_an_untypeable_task_names_the_episodes(tmp_path):
    """A task id holding an escape sequence or a newline is shown stripped (⏎ for the newline)
    in a report: `RUN:TASK` made of what is shown would not resolve. The command then names
    the two episodes by id, and it works."""
    conn = new_store(tmp_path, "s.sqlite")
    tasks = ["T1\x1b[31mESC\x1b[0m", "two\nlines", "x" * 130]
    make_run(conn, "base", {**{t: [1.0] for t in tasks}, "ok": [1.0]})
    make_run(conn, "cand", {**{t: [0.0] for t in tasks}, "ok": [1.0]})
    ids = {(name, task): eid for eid, name, task in conn.execute(
        "SELECT e.episode_id, r.name, e.task_id FROM episodes e JOIN runs r USING (run_id)")}
    conn.close()
    st = str(tmp_path / "s.sqlite")
    md_path, xml_path = tmp_path / "g.md", tmp_path / "g.xml"
    res = gate(st, "base", "cand", "--report", "markdown", str(md_path), "--report", "junit",
               str(xml_path))
    assert res.exit_code == 1, res.output
    wanted = {f"t2e show {ids[('base', t)]} --vs {ids[('cand', t)]}" for t in tasks}
    regs = [c.find("failure").text for c in ET.parse(xml_path).getroot().iter("testcase")
            if c.get("classname") == "t2e.gate.regressions"]
    assert set(regs) == wanted
    text = md_path.read_text()
    assert all(w in text for w in wanted), text
    for cmd in wanted:  # each one opens the pair
        argv = cmd.split()[1:]
        out = CliRunner().invoke(cli, ["--store", st, *argv, "--json"])
        assert out.exit_code == 0, out.output


def test_one_report_file_named_twice_is_refused(store_path, tmp_path):
    same = str(tmp_path / "same.out")
    res = gate(store_path, "base", "good", "--report", "junit", same, "--report", "markdown",
               same)
    assert res.exit_code == 2 and "twice" in res.output
    assert not (tmp_path / "same.out").exists()
    import store

    conn = store.connect(store_path)  # refused before the gate ran: no scoreboard row
    assert conn.execute("SELECT count(*) FROM gate_decisions").fetchone()[0] == 0
    conn.close()


def test_report_to_stdout(store_path, tmp_path, monkeypatch):
    """`--report markdown -` writes the report on stdout (as `export -o -` does), the verdict
    summary then going to stderr; a file named `-` is never made."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        cli, ["--store", store_path, "gate", "base", "good", "--report", "markdown", "-"])
    assert res.exit_code == 3, res.output  # inconclusive: p = 0.0625 on 10 tasks
    assert res.stdout.startswith("## t2e gate: ⚠️ INCONCLUSIVE")
    assert res.stderr.startswith("gate row 1: INCONCLUSIVE")
    assert not (tmp_path / "-").exists()
    res = gate(store_path, "base", "good", "--report", "markdown", "-", "--json")
    assert res.exit_code == 2 and "--json" in res.output


def test_markdown_and_junit_round_alpha_and_p_as_the_text_report(store_path, tmp_path):
    """An alpha of many digits (an alpha spent across candidates is one) reads the same in
    the text report, the Markdown comment and the JUnit verdict: 4 significant digits."""
    md, xml = tmp_path / "g.md", tmp_path / "g.xml"
    res = gate(store_path, "base", "bad | <b>x</b> \x1b[31m`rm`", "--alpha",
               "0.03039635509270134", "--report", "markdown", str(md), "--report", "junit",
               str(xml))
    assert res.exit_code == 1, res.output
    text = re.search(r"stats: .* p=(\S+) \(alpha (\S+)\)", res.stdout)
    assert text and text.group(2) == "0.0304"
    p, alpha = text.group(1), text.group(2)
    comment = md.read_text()
    assert f"p = {p} (alpha {alpha})" in comment and "0.030396" not in comment
    verdict = [c for c in ET.parse(xml).getroot().iter("testcase") if c.get("name") == "verdict"]
    assert f"p = {p} (alpha {alpha})" in verdict[0].find("failure").get("message")
