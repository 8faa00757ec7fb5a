"""References a user types back: a run's (`resolve_run`: id, id prefix or name), an
episode's (`episode_ref`, `episode_refs`, `resolve_episode`; `typeable`: whether a task id can
stand in one), and the one check on the names users give runs and sets (`name_problem`).

Split from queries.py, which re-exports every name here.
"""

from __future__ import annotations

import re
from typing import Any

from .db import StoreError
from .hidden import HIDDEN_CHARS
from .writer import conn_of


def resolve_run(db: Any, ref: str) -> str:
    """A run id from an id, a unique id prefix, or a unique name (StoreError otherwise)."""
    conn = conn_of(db)
    ref = str(ref).strip()
    if not ref:
        raise StoreError("empty run reference")
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
        return ref
    named = conn.execute("SELECT run_id FROM runs WHERE name = ? ORDER BY created_at",
                         (ref,)).fetchall()
    if len(named) == 1:
        return named[0][0]
    if len(named) > 1:
        raise StoreError(f"run name {ref!r} is ambiguous: runs "
                         f"{', '.join(r[0] for r in named)}; use a run id")
    pref = conn.execute("SELECT run_id, name FROM runs WHERE substr(run_id, 1, ?) = ?",
                        (len(ref), ref)).fetchall()
    if len(pref) == 1:
        return pref[0][0]
    if len(pref) > 1:
        raise StoreError(f"run id prefix {ref!r} is ambiguous: "
                         f"{', '.join(f'{a} ({b})' for a, b in pref[:10])}")
    raise StoreError(f"no run matches {ref!r} (by id, id prefix or name); see `t2e runs`")


_TRIAL_SLASH = re.compile(r"^(?P<task>.+)/t(?P<trial>\d+)$")
_TRIAL_COLON = re.compile(r"^(?P<task>.+):(?P<trial>\d+)$")


def episode_ref(run_id: str, task_id: Any, trial: Any) -> str:
    """The label the app shows for an episode, `RUN8:TASK/tTRIAL`; `resolve_episode` reads it."""
    ref = f"{str(run_id)[:8]}:{task_id}"
    return ref if trial is None else f"{ref}/t{trial}"


def typeable(task_id: Any) -> bool:
    """Whether a task id can stand in a reference that is read off the screen and typed back
    (`t2e show RUN:TASK`): every display strips hidden characters and puts a newline as ⏎ and
    each run of white space as one space (textsafe.one_line), and resolve_episode strips the
    ends, so an id holding those would not resolve from what was shown (nor paste safely).
    Such an episode is referred to by its id."""
    # isprintable: no control, format (zero-width space, soft hyphen, bidi), separator other
    # than the space, surrogate or unassigned character, each shown unseen or not at all
    return type(task_id) is str and task_id != "" and task_id == " ".join(task_id.split()) \
        and task_id.isprintable()


def episode_ref_or_id(episode_id: int, run_id: str, task_id: Any, trial: Any) -> str:
    """`episode_ref`'s label where the task id is `typeable`, else the episode's id."""
    return episode_ref(run_id, task_id, trial) if typeable(task_id) else str(int(episode_id))


def episode_refs(db: Any, run_id: str) -> dict[int, str]:
    """episode_id -> the reference `t2e show` takes: the `RUN8:TASK/tTRIAL` label, or the
    plain id where the label is not unique (a file can repeat a task and trial) or the task id
    cannot be typed back (`typeable`)."""
    rows = conn_of(db).execute("SELECT episode_id, task_id, trial FROM episodes "
                               "WHERE run_id = ?", (run_id,)).fetchall()
    seen: dict[tuple, int] = {}
    for _eid, task, trial in rows:
        seen[(task, trial)] = seen.get((task, trial), 0) + 1
    refs = {int(eid): episode_ref_or_id(eid, run_id, task, trial) if seen[(task, trial)] == 1
            else str(eid) for eid, task, trial in rows}
    # two episodes may print alike (task 'a/t3' without a trial, task 'a' trial 3): such a
    # label is kept only by the episode it resolves to
    count: dict[str, int] = {}
    for ref in refs.values():
        count[ref] = count.get(ref, 0) + 1
    for eid, ref in refs.items():
        if count[ref] > 1 and not ref.isdigit() and resolve_episode(db, ref) != eid:
            refs[eid] = str(eid)
    return refs


def resolve_episode(db: Any, ref: Any) -> int:
    """An episode id from `123`, `RUN:TASK`, `RUN:TASK:TRIAL` or `RUN:TASK/tTRIAL` (the app's
    label). RUN is a run id, unique id prefix or unique name. Without a trial, the task's
    first trial. StoreError names what did not match."""
    conn = conn_of(db)
    text = str(ref).strip()
    if text.isdigit():
        if conn.execute("SELECT 1 FROM episodes WHERE episode_id = ?", (int(text),)).fetchone():
            return int(text)
        raise StoreError(f"no episode {int(text)} in this store (list a run's episodes with "
                         "`t2e episodes RUN`)")
    if ":" not in text:
        raise StoreError(f"episode {text!r}: expected an episode id or RUN:TASK[:TRIAL] "
                         "(as the app shows it, RUN:TASK/tTRIAL); see `t2e episodes RUN`")
    # a run name may itself contain ':' - try each split, leftmost first
    run_id, rest, last_err = None, "", None
    pos = text.find(":")
    while pos != -1:
        try:
            run_id, rest = resolve_run(db, text[:pos]), text[pos + 1:]
            break
        except StoreError as exc:
            last_err = last_err or exc
        pos = text.find(":", pos + 1)
    if run_id is None:
        raise StoreError(f"episode {text!r}: {last_err}")
    candidates = [(rest, None)]  # a task id may end in ':N' or '/tN' itself: exact id first
    for pat in (_TRIAL_SLASH, _TRIAL_COLON):
        m = pat.match(rest)
        if m:
            candidates.append((m["task"], int(m["trial"])))
    for task_id, trial in candidates:
        rows = conn.execute(
            "SELECT episode_id, trial FROM episodes WHERE run_id = ? AND task_id = ? "
            "ORDER BY trial, ord, episode_id", (run_id, task_id)).fetchall()
        if not rows:
            continue
        if trial is None:
            return int(rows[0][0])
        hits = [int(eid) for eid, t in rows if t == trial]
        if len(hits) == 1:
            return hits[0]
        if hits:  # a file may repeat a (task, trial) pair; only the id tells them apart
            raise StoreError(f"episode {text!r} is ambiguous: episodes "
                             f"{', '.join(map(str, hits))}; use the episode id")
        have = ", ".join(str(t) for _e, t in rows)
        raise StoreError(f"episode {text!r}: run {run_id} has no trial {trial} of task "
                         f"{task_id!r} (trials: {have})")
    raise StoreError(f"episode {text!r}: run {run_id} has no task {candidates[-1][0]!r}; "
                     f"see `t2e episodes {run_id[:8]}`")


def name_problem(name: str, what: str = "a run name") -> str | None:
    """What is wrong with a name a user gives and types back later (`what`: a run's (`--name`,
    `runs rename`), a heldout set's, a regression set's, a session's), or None: the one
    check for every such name. Control characters are refused: listings strip them, so the
    name could not be typed back (`t2e gate NAME`, `t2e heldout show NAME`). Names taken from
    file names are kept as they are, and displayed safely."""
    if not name or not name.strip():
        return f"{what} cannot be empty"
    if re.search("[\ud800-\udfff]", name):  # a command line's bytes that are not UTF-8
        return f"{what} must be UTF-8 text (it holds bytes of another encoding)"
    if UNSHOWN.search(name):
        return ("control characters (escape sequences, tabs, newlines, bidi overrides) are not "
                f"allowed in {what}")
    return None


def run_name_problem(name: str) -> str | None:
    """`name_problem` of a run's name."""
    return name_problem(name, "a run name")


# what listings strip from a name (store/hidden.py), tabs and newlines too
UNSHOWN = re.compile(f"[\t\n{HIDDEN_CHARS}]")
