"""A results file's embedded tasks, held as compact JSON text rather than Python dicts.

A file may embed tens of thousands of tasks (25,000 tasks is ~40 MB of JSON, and several
hundred MB once parsed into dicts, then again in the importing process after the worker hands
them over). The importer needs of them only: their ids (duplicates, unknown labels), the one
task a simulation is labelled with (the graded-as-labelled shortcut), each task once to store
it, the world id, and rarely all of them parsed (the relabel check's fallback). So tasks are
read one at a time from the stream and kept as their compact JSON text; a dict is rebuilt when
asked for (`get`, iteration) and dropped after use.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

from world.lock import canonical_json


class EmbeddedTasks:
    """The tasks of one file, in file order; iterating yields each task as a fresh dict."""

    def __init__(self) -> None:
        self.bad = False                    # an item was not an object (refused by the shape check)
        self._text: list[str] = []
        self.ids: list[str] = []            # str(task["id"]), in file order
        self._where: dict[str, int] = {}    # id -> position (the first, if repeated)

    @classmethod
    def read(cls, items) -> "EmbeddedTasks":
        """From an iterator of parsed items (a streamed `tasks` array), one at a time."""
        out = cls()
        for t in items:
            if isinstance(t, dict):
                out.append(t)
            else:
                out.bad = True  # keep reading: the file's other problems come first, as before
        return out

    @classmethod
    def from_list(cls, tasks: list[dict]) -> "EmbeddedTasks":
        """From already parsed task dicts (the directory format's results.json)."""
        out = cls()
        for t in tasks:
            out.append(t)
        return out

    def append(self, task: dict) -> None:
        """Keep one parsed task (as text; the dict may then be dropped by the caller)."""
        tid = str(task.get("id"))
        self._where.setdefault(tid, len(self._text))
        self.ids.append(tid)
        # compact, keys in the file's order: json.loads gives back an equal dict
        self._text.append(json.dumps(task, ensure_ascii=False, separators=(",", ":")))

    def __len__(self) -> int:
        return len(self._text)

    def __bool__(self) -> bool:
        return bool(self._text)

    def __iter__(self) -> Iterator[dict]:
        for text in self._text:
            yield json.loads(text)

    def id_set(self) -> set[str]:
        """The task ids, as a set."""
        return set(self._where)

    def get(self, task_id: str) -> dict | None:
        """The task with this id (a fresh dict), or None."""
        i = self._where.get(task_id)
        return None if i is None else json.loads(self._text[i])

    def duplicates(self) -> list[str]:
        """Ids that occur more than once, sorted."""
        if len(self._where) == len(self.ids):
            return []
        seen: set[str] = set()
        return sorted({i for i in self.ids if i in seen or seen.add(i)})

    def world_id(self, domain: str, policy: str | None) -> str:
        """world.lock.import_world_id(domain, policy, tasks), hashed task by task: the same
        canonical text ({"domain","policy","tasks"} with sorted keys, compact) without ever
        holding all of it."""
        h = hashlib.sha256()
        h.update(('{"domain":' + canonical_json(domain) + ',"policy":'
                  + canonical_json(policy or "") + ',"tasks":[').encode("utf-8"))
        for i, text in enumerate(self._text):
            h.update(((',' if i else '') + canonical_json(json.loads(text))).encode("utf-8"))
        h.update(b"]}")
        return "imp-" + h.hexdigest()

    def __reduce__(self) -> tuple[Any, ...]:
        # to the importing process: the texts and ids only (the index is rebuilt there)
        return (_rebuild, (self._text, self.ids, self.bad))


def _rebuild(text: list[str], ids: list[str], bad: bool) -> EmbeddedTasks:
    out = EmbeddedTasks()
    out._text, out.ids, out.bad = text, ids, bad
    for i, tid in enumerate(ids):
        out._where.setdefault(tid, i)
    return out


# -- the same questions of either form (a list of dicts, from JSONL headers, or EmbeddedTasks)

def task_ids(tasks: Any) -> list[str]:
    """str(id) of every task, in order."""
    if isinstance(tasks, EmbeddedTasks):
        return list(tasks.ids)
    return [str(t.get("id")) for t in tasks]


def duplicate_ids(tasks: Any) -> list[str]:
    """Task ids that occur more than once, sorted."""
    if isinstance(tasks, EmbeddedTasks):
        return tasks.duplicates()
    ids = task_ids(tasks)
    return sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []


def world_id_of(domain: str, policy: str | None, tasks: Any) -> str:
    """The imported run's world id (world.lock.import_world_id's definition)."""
    if isinstance(tasks, EmbeddedTasks):
        return tasks.world_id(domain, policy)
    from world.lock import import_world_id

    return import_world_id(domain, policy, tasks)
