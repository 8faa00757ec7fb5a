"""A reference t2e prints is one a user can read off the screen and type back. Task ids come
from trace files: one holding an escape sequence, a newline or a bidi override is shown
stripped (or with ⏎), so a `RUN:TASK` reference made of it would not resolve from what was
shown, and copied raw it would put control characters on the clipboard and into a shell.
Such an episode is referred to by its id, in listings, links and gate reports alike."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from store.db import open_db
from store.hidden import HIDDEN
from store.importers import import_path
from store.queries import episode_refs, resolve_episode, typeable
from t2e_tui.links import compare_link, episode_link_ref

T2E = [sys.executable, "-m", "t2e_tui.cli"]
ODD = ["[bold red]T1[/]\x1b[31mESC\x1b[0m\x1b]52;c;SGVsbG8=\x07", "two\nlines", " padded ",
       "rl\u202eo", "two  spaces", "tab\there", "zero\u200bwidth", "soft\u00adhyphen",
       "no\u00a0break"]
PLAIN = ["t-1", "a b|c`d", "[bold]markup is typeable[/]"]


def _messages(n: int) -> list[dict]:
    return [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n}"}]


@pytest.fixture()
def fx(tmp_path):
    src = tmp_path / "odd.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for i, task in enumerate(ODD + PLAIN):
            fh.write(json.dumps({"run": "odd", "id": f"s{i}", "task_id": task,
                                 "messages": _messages(i)}) + "\n")
    path = tmp_path / "s.sqlite"
    db = open_db(path)
    rid = import_path(db, src)["run_id"]
    ids = {task: eid for eid, task in db.execute(
        "SELECT episode_id, task_id FROM episodes WHERE run_id = ?", (rid,))}
    return db, path, rid, ids


def test_typeable():
    assert not any(typeable(t) for t in ODD + ["", None, 5])
    assert all(typeable(t) for t in PLAIN)


def test_listing_refs_resolve_and_hold_nothing_hidden(fx):
    db, _, rid, ids = fx
    refs = episode_refs(db, rid)
    for task, eid in ids.items():
        ref = refs[eid]
        assert not HIDDEN.search(ref) and "\n" not in ref
        assert resolve_episode(db, ref) == eid
        # (a JSON Lines run has no trials: no /tN)
        assert ref == (str(eid) if task in ODD else f"{rid[:8]}:{task}")


def test_links_never_carry_control_characters(fx):
    db, _, _, ids = fx
    for task, eid in ids.items():
        ref = episode_link_ref(db, eid)
        assert resolve_episode(db, ref) == eid
        assert (ref == str(eid)) == (task in ODD)
        link = compare_link(db, eid, ids["t-1"], 2)
        assert not HIDDEN.search(link) and "\n" not in link, link


@pytest.mark.slow
def test_cli_episodes_prints_refs_show_takes(fx):
    _, path, rid, ids = fx
    out = subprocess.run(T2E + ["--store", str(path), "episodes", rid[:8]], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    head, *rows = out.rstrip("\n").split("\n")
    refs = [row.split("\t")[head.split("\t").index("ref")] for row in rows]
    assert len(refs) == len(ids)
    for ref in refs:
        r = subprocess.run(T2E + ["--store", str(path), "show", ref, "--json"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (ref, r.stderr)


def test_two_episodes_that_would_print_alike_are_told_apart(tmp_path):
    """Task 'a/t3' (no trial) and task 'a' trial 3 both print 'RUN:a/t3'; that label opens
    the first. The second is referred to by its id."""
    src = tmp_path / "col.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in [
        {"run": "col", "id": "s0", "task_id": "a/t3", "messages": _messages(0)},
        {"run": "col", "id": "s1", "task_id": "a", "trial": 3, "messages": _messages(1)}]) + "\n")
    db = open_db(tmp_path / "s.sqlite")
    rid = import_path(db, src)["run_id"]
    refs = episode_refs(db, rid)
    assert len(set(refs.values())) == 2
    for eid, ref in refs.items():
        assert resolve_episode(db, ref) == eid
