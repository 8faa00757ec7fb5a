"""Gate reports for CI: JUnit XML (test results panes) and Markdown (a pull-request comment).

Both are written from the gate's JSON document (`GateResult.to_dict()`), through
store/atomic.py (a temporary file renamed into place; a link written through). Run names,
task ids and check details can come from trace files: they go through textsafe (control
sequences stripped, one line) and are escaped for the target format (XML by ElementTree;
Markdown: table pipes, HTML brackets, backticks and emphasis characters), so a hostile name
cannot restyle or inject into the comment.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import xml.etree.ElementTree as ET
from typing import Any

from store.atomic import Output, prepare
from store.queries import typeable

from ..standin import model_label
from ..standin import note as stand_in_note
from ..textsafe import one_line
from .rules import FAILS_CI

FORMATS = ("junit", "markdown")
_BADGE = {"promote": "✅ PROMOTE", "discard": "❌ DISCARD", "inconclusive": "⚠️ INCONCLUSIVE",
          "supported": "🟡 SUPPORTED"}  # passes, on evidence that is not clean heldout (#10)


def _t(v: object, width: int = 300) -> str:
    return one_line("" if v is None else v, width)


# a task id is shown cut to this many characters in the reports
_TASK_WIDTH = 120


def inspect_refs(conn: Any, doc: dict) -> dict[str, tuple[str, str]]:
    """Per regressing task, the references `t2e show` takes for its baseline and candidate
    episodes (A the baseline, B the candidate, as in the app's compare): the trials the tasks
    screen and the gate screen open (`trial_pair.task_pair`: a passing baseline trial, a
    failing candidate trial; trial 0 of each could both pass), as `RUN:TASK` (a side's only
    episode) or `RUN:TASK:TRIAL` where the task id reads back whole from the report (typeable,
    and not cut) and the reference resolves to that episode, else the episode's id, since a
    reference made of the id as shown (stripped, ⏎, cut) would not resolve."""
    from store.queries import resolve_episode

    from ..trial_pair import task_pair

    b, c = doc["baseline"]["run_id"], doc["candidate"]["run_id"]
    out = {}
    for task in doc["stats"]["regressions"]:
        refs = []
        for run, eid in zip((b, c), task_pair(conn, b, c, task)):
            ref = f"{run}:{task}"
            if eid is not None:
                trial, n = conn.execute(
                    "SELECT trial, (SELECT count(*) FROM episodes WHERE run_id = ? AND "
                    "task_id = ?) FROM episodes WHERE episode_id = ?",
                    (run, task, eid)).fetchone()
                if n > 1 and trial is not None:
                    ref += f":{trial}"
                try:
                    ok = (typeable(task) and len(task) <= _TASK_WIDTH
                          and resolve_episode(conn, ref) == eid)
                except Exception:  # noqa: BLE001 - a reference that does not resolve: the id
                    ok = False
                ref = ref if ok else str(eid)
            refs.append(ref)
        out[task] = (refs[0], refs[1])
    return out


def _show(doc: dict, task: str, refs: dict | None) -> str:
    """The command that opens a task's two episodes side by side (`inspect_refs`), each
    reference quoted for the shell (a task id may hold spaces, quotes or `|`: it comes from the
    trace file)."""
    a, b = (refs or {}).get(task) or (f"{doc['baseline']['run_id']}:{task}",
                                      f"{doc['candidate']['run_id']}:{task}")
    return f"t2e show {shlex.quote(_t(a, 300))} --vs {shlex.quote(_t(b, 300))}"


def _code_cell(text: str) -> str:
    """`text` as a Markdown code span inside a table cell: fenced by more backticks than any
    run it holds (CommonMark), and its pipes escaped (GitHub ends a cell at a bare `|`, code
    span or not)."""
    fence = "`" * (max((len(m) for m in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""  # (one space each side is dropped)
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def significant(v: float) -> str:
    """A p value or an alpha level as every gate report prints it: 4 significant digits (an
    alpha spent across candidates and sets, 0.05 * 6 / (pi^2 k^3) / (zeta(3) j^3), has many)."""
    return f"{v:.4g}"


def ci_label(level: float) -> str:
    """'CI95', 'CI97.5', 'CI99.62': a confidence level as the reports print it, with two
    significant digits of what it misses of 100% (a corrected alpha of 0.0003 is CI99.97,
    never CI100)."""
    miss = (1.0 - level) * 100.0
    places = max(0, 1 - math.floor(math.log10(miss))) if miss > 0 else 0
    text = f"{level * 100:.{places}f}"
    return "CI" + (text.rstrip("0").rstrip(".") if places else text)


def tested_ci(st: dict) -> tuple[float, float, float]:
    """(low, high, level) of the reward-delta interval at the level the test was run at
    (1 - alpha); a row recorded before that interval existed gives its `ci_level` one."""
    if st.get("ci_tested_level") is not None:
        return st["ci_tested_low"], st["ci_tested_high"], st["ci_tested_level"]
    return st["ci_low"], st["ci_high"], st["ci_level"]


def ci_text(st: dict, fmt: str = ".4f") -> str:
    """'CI96.96 [0.3929, 0.6429]': the tested interval with its level (CLI, reports, app)."""
    lo, hi, level = tested_ci(st)
    return f"{ci_label(level)} [{lo:{fmt}}, {hi:{fmt}}]"


def _stats_line(doc: dict) -> str:
    st = doc["stats"]
    delta = doc.get("metrics", {}).get("deltas", {}).get("reward")
    d = "n/a" if delta is None else f"{delta:+.4f}"
    return (f"reward delta {d}, {ci_text(st, '+.4f')}; {st['test']} p = "
            f"{significant(st['p_value'])} (alpha {significant(st['alpha'])})")


def _agents(doc: dict) -> list[str | None]:
    return [doc[side].get("agent_model") for side in ("baseline", "candidate")]


def _agent(doc: dict, side: str) -> str:
    """A side's agent as the runs table shows it (`scripted (stand-in)`), or 'unknown'."""
    return _t(model_label(doc[side].get("agent_model")), 80) or "unknown"


def junit(doc: dict, refs: dict | None = None) -> bytes:
    """JUnit XML: one test case per check and per regressing task, plus the verdict, which
    fails where the exit code fails a CI job (`FAILS_CI`: discard, inconclusive) and passes on
    promote and supported (`refs`: inspect_refs, for the commands that open a regression)."""
    checks = doc["checks"]
    regressions = doc["stats"]["regressions"]
    suite = ET.Element("testsuite", name="t2e gate", tests=str(len(checks) + len(regressions) + 1))
    props = ET.SubElement(suite, "properties")
    for k, v in (("decision", doc["decision"]), ("verdict", doc["verdict"]),
                 ("exit_code", doc["exit_code"]), ("scoreboard_row", doc["row_id"]),
                 ("baseline", f"{_t(doc['baseline']['name'], 80)} ({doc['baseline']['run_id']})"),
                 ("candidate",
                  f"{_t(doc['candidate']['name'], 80)} ({doc['candidate']['run_id']})"),
                 ("baseline_agent", _agent(doc, "baseline")),
                 ("candidate_agent", _agent(doc, "candidate")),
                 *((("stand_in", n),) if (n := stand_in_note(_agents(doc))) else ()),
                 ("evidence_role", doc["evidence_role"]), ("p_value", doc["stats"]["p_value"]),
                 *((f"reward_from_{side}", ", ".join(names))
                   for side, names in (doc.get("reward_from") or {}).items()),
                 ("ci_low", doc["stats"]["ci_low"]), ("ci_high", doc["stats"]["ci_high"]),
                 *zip(("ci_tested_low", "ci_tested_high", "ci_tested_level"),
                      tested_ci(doc["stats"]))):
        ET.SubElement(props, "property", name=k, value=_t(v))
    failures = skipped = 0
    verdict = ET.SubElement(suite, "testcase", classname="t2e.gate", name="verdict")
    why = "\n".join(_t(r, 2000) for r in doc["reasons"]) or _stats_line(doc)
    if doc["decision"] in FAILS_CI:
        failures += 1
        f = ET.SubElement(verdict, "failure", message=f"{doc['decision']}: {_stats_line(doc)}")
        f.text = why
    elif doc["decision"] != "promote":
        # passes a CI job as the exit code does, saying what it could not vouch for: never
        # read as a promotion (JUnit has no "passed with a reservation")
        out = ET.SubElement(verdict, "system-out")
        out.text = (f"{_t(doc['verdict'], 80)}, exit {doc['exit_code']}: not a promote; "
                    f"{_stats_line(doc)}\n{why}")
    for ch in checks:
        tc = ET.SubElement(suite, "testcase", classname="t2e.gate.checks", name=_t(ch["name"]))
        if ch.get("na"):
            skipped += 1
            ET.SubElement(tc, "skipped", message=_t(ch.get("detail")))
        elif not ch["passed"]:
            failures += 1
            f = ET.SubElement(tc, "failure", message=_t(ch.get("detail"), 2000))
            f.text = (f"baseline {_t(ch.get('baseline_text', ch.get('baseline')))}; candidate "
                      f"{_t(ch.get('candidate_text', ch.get('candidate')))}")
    # a policy with the veto off lets regressions pass (supported at most, exit 4): they are
    # listed as skipped, saying why, so the report fails only where the exit code does
    allowed = "no_task_regressions" in (doc.get("disabled_checks") or [])
    for task in regressions:
        tc = ET.SubElement(suite, "testcase", classname="t2e.gate.regressions",
                           name=f"task {_t(task, _TASK_WIDTH)}")
        if allowed:
            skipped += 1
            f = ET.SubElement(tc, "skipped", message="passed in the baseline, fails in the "
                              "candidate; not a failure: no_task_regressions is off in the "
                              "policy")
        else:
            failures += 1
            f = ET.SubElement(tc, "failure", message="passed in the baseline, fails in the "
                                                     "candidate")
        f.text = _show(doc, task, refs)
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#!~"})


def md(v: object, width: int = 300) -> str:
    """Untrusted text for a Markdown table cell or line: one line, specials escaped."""
    return _t(v, width).translate(_MD_SPECIAL)


def markdown(doc: dict, refs: dict | None = None) -> str:
    """A pull-request comment: verdict, checks table, regressions with `t2e show` (`refs`:
    inspect_refs), CI and p."""
    from .rescore import rescore_line

    b, c = doc["baseline"], doc["candidate"]
    badge = _BADGE.get(doc["decision"], doc["decision"].upper())
    if doc["decision"] == "supported":  # say which evidence: never mistaken for a promotion
        badge += f" ({doc.get('evidence_role') or 'development'} evidence, not promoted)"
    lines = [f"## t2e gate: {badge}", "",
             f"Candidate **{md(c['name'], 80)}** (`{c['run_id']}`) vs baseline "
             f"**{md(b['name'], 80)}** (`{b['run_id']}`): {len(doc['tasks'])} task(s)"
             f"{' (intersected)' if doc.get('intersected') else ''}, evidence role "
             f"{md(doc['evidence_role'])}, scoreboard row {doc['row_id']}.", "",
             f"**Agents:** candidate {md(_agent(doc, 'candidate'))}, baseline "
             f"{md(_agent(doc, 'baseline'))}.", "",
             *((f"> ⚠️ {note}", "") if (note := stand_in_note(_agents(doc))) else ()),
             f"**Statistics:** {md(_stats_line(doc), 400)}", "",
             *((f"**Rewards:** {md(rescore_line(doc['rescore']), 400)}.", "")
               if doc.get("rescore") else ()),
             "| check | result | baseline | candidate | detail |", "|---|---|---|---|---|"]
    for ch in doc["checks"]:
        mark = "n/a" if ch.get("na") else ("pass" if ch["passed"] else "**FAIL**")
        lines.append(f"| {md(ch['name'])} | {mark} | "
                     f"{md(ch.get('baseline_text', ch.get('baseline')), 60)} | "
                     f"{md(ch.get('candidate_text', ch.get('candidate')), 60)} | "
                     f"{md(ch.get('detail'), 200)} |")
    for name in doc.get("disabled_checks") or []:
        lines.append(f"| {md(name)} | off | | | disabled by the policy |")
    regs = doc["stats"]["regressions"]
    lines += ["", f"### Regressions ({len(regs)})"]
    if regs:
        lines += ["", "| task | inspect |", "|---|---|"]
        for task in regs:
            lines.append(f"| {md(task, _TASK_WIDTH)} | {_code_cell(_show(doc, task, refs))} |")
    else:
        lines += ["", "None."]
    fixes = doc["stats"]["fixes"]
    if fixes:
        lines += ["", f"Fixed: {md(', '.join(map(str, fixes)), 400)}"]
    for title, items in (("Reasons", doc["reasons"]), ("Warnings", doc["warnings"])):
        if items:
            lines += ["", f"### {title}", ""] + [f"- {md(x, 500)}" for x in items]
    return "\n".join(lines) + "\n"


def report_bytes(doc: dict, fmt: str, refs: dict | None = None) -> bytes:
    return junit(doc, refs) if fmt == "junit" else markdown(doc, refs).encode("utf-8")


def write_report(doc: dict, fmt: str, path: str | os.PathLike | Output,
                 refs: dict | None = None) -> None:
    """Write the report whole (nothing half-written when something fails): a path or an
    `atomic.Output` prepared (checked) before the gate recorded its row."""
    data = report_bytes(doc, fmt, refs)
    (path if isinstance(path, Output) else prepare(path)).write_bytes(data)
