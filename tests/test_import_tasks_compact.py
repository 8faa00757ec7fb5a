"""Import memory follows the file, not its task list (#18): embedded tasks are read one at a
time and kept as compact text (EmbeddedTasks), never as a list of dicts that is then copied
into the importing process; what is stored and the world id stay exactly as before."""

from __future__ import annotations

import json
import pickle

import pytest
from test_store_data import make_results, write_json

import store
from store.importers import import_paths
from store.importers.tasks_embedded import EmbeddedTasks, world_id_of
from store.importers.tau2 import produce
from world.lock import import_world_id

TRICKY = [{"id": "b", "z": 1, "a": [0.1, 1e-7, -0.0, 12345678901234567, None, True],
           "user_scenario": {"instructions": "Zoë wants ünïcode ☃ and \"quotes\"\n"}},
          {"id": 7, "evaluation_criteria": {"actions": [{"name": "x", "arguments": {}}]}},
          {"id": "c", "nested": {"k": {"j": [{"q": "é"}]}}}]


def test_world_id_is_the_same_hash():
    tasks = EmbeddedTasks.from_list(TRICKY)
    for policy in ("the policy ✓", None):
        assert world_id_of("retail", policy, tasks) == import_world_id("retail", policy, TRICKY)
    assert world_id_of("retail", "p", EmbeddedTasks()) == import_world_id("retail", "p", [])
    # and it travels to the importing process as text, dicts back equal and in key order
    back = pickle.loads(pickle.dumps(tasks))
    assert [json.dumps(t) for t in back] == [json.dumps(t) for t in TRICKY]
    assert back.get("7") == TRICKY[1] and back.get("nope") is None


def test_tasks_are_streamed_into_compact_text(tmp_path):
    doc = make_results(3)
    p = write_json(tmp_path / "r.json", doc)
    head = next(ev for ev in produce(str(p), "r.json", "run1", (1, 1)) if ev[0] == "head")
    tasks = head[1]["tasks"]
    assert isinstance(tasks, EmbeddedTasks)  # not a list of dicts
    assert list(tasks) == doc["tasks"]


def _stored(tmp_path, doc, name):
    db = store.open_db(tmp_path / f"{name}.sqlite")
    res = import_paths(db, [write_json(tmp_path / f"{name}.json", doc)])
    rows = db.conn.execute("SELECT task_id, ord, task_json FROM tasks ORDER BY ord").fetchall()
    world = db.conn.execute("SELECT world_id FROM runs").fetchone()
    return res, rows, world


def test_stored_tasks_and_world_id_are_unchanged(tmp_path):
    doc = make_results(3)
    doc["tasks"] = doc["tasks"] + [dict(TRICKY[0], id="extra")]
    res, rows, (world,) = _stored(tmp_path, doc, "a")
    assert not res["rejected"]
    assert [r[2] for r in rows] == [json.dumps(t, ensure_ascii=False) for t in doc["tasks"]]
    assert [r[0] for r in rows] == [str(t["id"]) for t in doc["tasks"]]
    env = doc["info"]["environment_info"]
    assert world == import_world_id(env["domain_name"], env.get("policy"), doc["tasks"])


@pytest.mark.parametrize("bad, message", [
    (lambda ts: ts + ["not a task"], "'tasks' should be a list of task objects"),
    (lambda ts: ts + [dict(ts[0])] + [dict(ts[1])],
     "'tasks' holds the same task id twice (['0', '1'])"),
])
def test_bad_task_lists_are_refused_as_before(tmp_path, bad, message):
    doc = make_results(2)
    doc["tasks"] = bad(doc["tasks"])
    res, rows, world = _stored(tmp_path, doc, "bad")
    (rej,) = res["rejected"]
    assert message in rej["error"] and rows == [] and world is None
