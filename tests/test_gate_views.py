"""Trace text shown without an evidence view, and a backdated candidate file: both fooled the
gate into a clean heldout promote before the fix.

Each attack is played through the command line with the scripted stand-in agent (its results
prove nothing about models; here it only makes the evidence): a heldout set registered first,
the baseline run on it, some output that shows heldout trace text, then the candidate, then
`t2e gate`. Every output that shows an episode's content records a view of that episode
(`store.queries.record_views`, the one way a view is written), and the window in which views
count ends when t2e first recorded the candidate's text, never at a file's modification time.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from test_gate_attacks import FIX_RULE, T2E

import store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def t2e(tmp_path):
    t = T2E(tmp_path)
    t("heldout", "register", "ho", "--domain", "mini-retail", "--tasks", "heldout")
    return t


def views(t2e) -> dict[str, set[str]]:
    """via -> the tasks viewed that way."""
    conn = store.connect(t2e.store)
    try:
        out: dict[str, set[str]] = {}
        for via, task in conn.execute("SELECT via, task_id FROM evidence_views"):
            out.setdefault(via, set()).add(task)
        return out
    finally:
        conn.close()


def gated_after(t2e, base: str, candidate: str = "fix", rule: str = FIX_RULE) -> dict:
    t2e.save(candidate, "baseline", rule)
    return t2e.gate(base, t2e.run("cand", candidate=candidate))


def assert_leaked(doc: dict, tasks) -> None:
    """Not a clean promote, and every task whose text was shown is named."""
    assert doc["decision"] != "promote" and doc["evidence_role"] == "development", doc
    assert set(tasks) <= set(doc["leaked_tasks"]), (sorted(tasks), doc["leaked_tasks"])
    assert any("viewed before the candidate was saved" in r for r in doc["role_reasons"])


def failed_tasks(doc: dict) -> set[str]:
    return {e["task_id"] for e in doc["episodes"]}


# --------------------------------------------------------------- 1. text shown without a view

def test_failures_clusters_json_records_views(t2e):
    """`t2e failures --clusters --json` printed the agent's words and tool arguments of every
    failed heldout episode: it used to leave no view, and the gate promoted on heldout."""
    b = t2e.run("base")
    doc = json.loads(t2e("failures", b, "--clusters", "--json"))
    assert any(c["shared_words"] for c in doc["clusters"])          # the agent's own words
    assert any("sofia_duarte" in c["why"] for e in doc["episodes"] for c in e["classes"])
    assert_leaked(gated_after(t2e, b), failed_tasks(doc))
    members = {m for c in doc["clusters"] for m in c["members"]}
    assert members <= {e["episode_id"] for e in doc["episodes"]}
    assert views(t2e)["cli-failures"] == failed_tasks(doc)


def test_failures_human_output_records_views(t2e):
    b = t2e.run("base")
    out = t2e("failures", b)
    assert "sofia_duarte_5835" in out                               # a tool argument, verbatim
    doc = json.loads(t2e("failures", b, "--json"))
    assert_leaked(gated_after(t2e, b), failed_tasks(doc))
    assert views(t2e)["cli-failures"] == failed_tasks(doc)


def test_failures_vs_records_views_of_both_sides_of_each_flip(t2e):
    """The flips of `--vs` quote where two trajectories part: both episodes are shown, also the
    baseline's of a task the other run fixed (which that run's own failures do not list)."""
    b = t2e.run("base")
    t2e.save("fix", "baseline", FIX_RULE)
    dev = t2e.run("dev-fix", candidate="fix", role="development")
    doc = json.loads(t2e("failures", dev, "--vs", b, "--json"))
    fixed = {f["task_id"] for f in doc["flips"] if f["direction"] == "fixed"}
    assert fixed and not fixed & failed_tasks(doc)
    # another candidate text, so the first-run rule does not decide it
    assert_leaked(gated_after(t2e, b, "fix2", "\n- Be polite.\n" + FIX_RULE), fixed)
    assert fixed <= views(t2e)["cli-failures"]


@pytest.mark.parametrize("to_stdout", [False, True], ids=["file", "stdout"])
def test_journal_of_a_noted_step_records_a_view(t2e, to_stdout):
    """`t2e journal` prints a noted step word for word; `t2e note --step` prints none of it
    (so records nothing: it shows no content)."""
    b = t2e.run("base")
    echo = t2e("note", f"{b}:crossorder-01", "x", "--step", "13")
    assert echo.startswith("note 1 on step ") and "received" not in echo
    assert views(t2e) == {}
    target = "-" if to_stdout else str(t2e.tmp / "j.md")
    out = t2e("journal", "crossorder-01", "--run", b, "-o", target)
    text = out if to_stdout else (t2e.tmp / "j.md").read_text()
    assert "the same one as I already received" in text
    doc = gated_after(t2e, b)
    assert_leaked(doc, ["crossorder-01"])
    assert doc["leaked_tasks"] == ["crossorder-01"]
    assert views(t2e) == {"cli-journal": {"crossorder-01"}}


def test_outputs_without_trace_content_record_no_view(t2e):
    """Counts, class names, task ids and references are aggregates: no view, and the honest
    candidate still promotes on clean heldout."""
    b = t2e.run("base")
    t2e("episodes", b)
    t2e("episodes", b, "--failed", "--json")
    t2e("note", f"{b}:crossorder-01", "x", "--step", "13")
    t2e("failures", "--classes")
    t2e("heldout", "show", "ho")
    t2e("runs")
    t2e("journal", "crossorder-02", "--run", b, "-o", str(t2e.tmp / "j.md"))  # no noted step
    t2e("regression", "add", "r", f"{b}:crossorder-01")
    t2e("regression", "show", "r")
    t2e("regression", "export", "r")
    assert views(t2e) == {}
    doc = gated_after(t2e, b)
    assert doc["decision"] == "promote" and doc["evidence_role"] == "heldout", doc


def test_one_function_writes_views():
    """Every view is written by `store.queries.record_views` (defined in
    store/evidence_views.py; record_view calls it); the only other INSERT copies the views of
    re-imported episodes (store/provenance.py)."""
    found = []
    for py in list((REPO / "t2e_tui").rglob("*.py")) + list((REPO / "store").rglob("*.py")):
        text = py.read_text()
        for m in re.finditer(r"INSERT INTO evidence_views", text):
            found.append(f"{py.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}")
    assert sorted(p.split(":")[0] for p in found) == ["store/evidence_views.py",
                                                         "store/provenance.py"]
    assert sum(p.startswith("store/evidence_views.py") for p in found) == 1, found


# --------------------------------------------------------------- 2. a backdated candidate file

def _registered_at(t2e) -> datetime:
    doc = json.loads(t2e("heldout", "show", "ho", "--json"))
    return datetime.fromisoformat(doc["registered_at"].replace("Z", "+00:00"))


def _candidate_file(t2e, name: str, when: datetime) -> Path:
    from t2e_tui.candidates import packaged_baseline

    f = t2e.cands / f"{name}.md"
    f.write_text(f"---\nname: {name}\nparent: baseline\n---\n" + packaged_baseline().body
                 + FIX_RULE)
    os.utime(f, (when.timestamp(), when.timestamp()))
    return f


def test_backdated_candidate_file_does_not_hide_views(t2e):
    """Views of three heldout episodes, then a candidate file copied in and `touch -d`'d back
    to the set's registration (as early as the registration rule lets it be): its modification
    time used to end the window, so the gate promoted on clean heldout with no word of the
    views."""
    b = t2e.run("base")
    seen = ["crossorder-01", "crossorder-02", "confirm-01"]
    for task in seen:
        t2e("show", f"{b}:{task}")
    _candidate_file(t2e, "sneaky", _registered_at(t2e))
    doc = t2e.gate(b, t2e.run("cand", candidate="sneaky"))
    assert_leaked(doc, seen)
    assert doc["leaked_tasks"] == sorted(seen)
    # the window ends when t2e first recorded the text (here: planning the candidate run)
    conn = store.connect(t2e.store)
    saved, = conn.execute("SELECT saved_at FROM candidates WHERE name = 'sneaky'").fetchone()
    last_view, = conn.execute("SELECT max(viewed_at) FROM evidence_views").fetchone()
    conn.close()
    assert saved > last_view and doc["drafting_window"]["saved"][:19] == saved[:19]


def test_a_file_time_in_the_future_does_not_stretch_the_window(t2e):
    """The other way round: a view made after t2e recorded the candidate did not inform it,
    whatever later time the file claims."""
    b = t2e.run("base")
    _candidate_file(t2e, "later", datetime.now().astimezone() + timedelta(days=30))
    c = t2e.run("cand", candidate="later")
    t2e("show", f"{b}:crossorder-01")       # after the candidate was recorded and run
    doc = t2e.gate(b, c)
    assert doc["decision"] == "promote" and doc["evidence_role"] == "heldout", doc
    assert doc["leaked_tasks"] == []
