"""The journal of one task, as one Markdown file for a ticket (`t2e journal TASK`).

It gathers what a pair did while debugging the task: notes on the task, its episodes and
their steps; labels; the episodes themselves (outcome per run); reruns of the task (outcome
strips); forks made of its episodes (parent, step, outcome). Everything that came from a trace
or a person (notes, task ids, run names, step text) is sanitised: control sequences stripped,
Markdown and HTML specials escaped in running text, excerpts in fenced blocks whose fence is
longer than any backtick run inside.
"""

from __future__ import annotations

import json
import re
from typing import Any

from store.notes import labels_for, notes_for
from store.pairdebug import TASK_RERUN_KIND
from store.termination import episode_reward, episode_success, reward_text

from .standin import note as stand_in_note
from .textsafe import strip_controls

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what can start markup mid-line


def md(text: Any, limit: int = 300) -> str:
    """Running Markdown text: one line, controls stripped, specials and HTML escaped."""
    s = " ".join(strip_controls("" if text is None else str(text)).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def fenced(text: Any, limit: int = 2000) -> str:
    """A fenced block that nothing inside can close."""
    s = strip_controls("" if text is None else str(text))
    if len(s) > limit:
        s = s[:limit] + "\n… (cut)"
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}text\n{s}\n{fence}"


def _mark(success: Any) -> str:
    return "–" if success is None else "✓" if success else "✗"


def _reward(e: dict) -> str:
    """An episode's reward cell: n/a for an infrastructure error (store.termination), – for
    none (unscored, running)."""
    return reward_text(e["reward"], e["term"], missing="–")


def build_journal(conn: Any, task_id: str, run_id: str | None = None, *,
                  domain: str | None = None, store_label: str = "") -> tuple[str, list[int]]:
    """The Markdown journal of task `task_id` of `domain` (or `run_id`'s domain, or the only
    domain the store holds the id in: `store.notes.resolve_task`, which refuses an id of
    several domains), only episodes of `run_id` when given; and the episodes whose content
    it quotes (its noted steps, word for word), for the caller to record views of
    (`store.queries.record_views`). Notes are people's words; outcomes and counts are not
    trace content."""
    from store import now_iso
    from store.notes import resolve_task, task_target, world_domains
    from store.queries import episode_ref

    key = resolve_task(conn, task_id, domain, run_id)
    names = world_domains(conn, key)
    known = [d for d in names if d is not None]
    where = "coalesce(e.likely_task_id, e.task_id) = ? AND (r.domain IN ({}){})".format(
        ",".join("?" * len(known)) or "NULL", " OR r.domain IS NULL" if None in names else "")
    args = [task_id, *known]
    if run_id:
        where += " AND (e.run_id = ? OR e.forked_from_episode IN (SELECT episode_id FROM " \
                 "episodes WHERE run_id = ?))"
        args += [run_id, run_id]
    eps = conn.execute(
        "SELECT e.episode_id, e.run_id, e.task_id, e.trial, e.reward, e.success, "
        "e.termination_reason, e.n_steps, e.forked_from_episode, e.forked_at_step, r.name, "
        f"r.role, r.agent_model, r.manifest_json FROM episodes e JOIN runs r ON r.run_id = "
        f"e.run_id WHERE {where} AND e.status = 'done' ORDER BY r.created_at, e.ord, "
        "e.episode_id", args).fetchall()
    cols = ("episode_id", "run_id", "task_id", "trial", "reward", "success", "term",
            "steps", "parent", "at", "run_name", "role", "agent", "manifest")
    eps = [dict(zip(cols, r)) for r in eps]
    for e in eps:  # an infrastructure error measured nothing: no reward, no outcome (n/a)
        e["reward"] = episode_reward(e["reward"], e["term"])
        e["success"] = episode_success(e["success"], e["term"])
    if not eps:
        from .errors import T2EError
        scope = f" in run {run_id}" if run_id else ""
        raise T2EError(f"task {task_id!r} ({key}): no finished episode{scope} in this store")
    refs = {e["episode_id"]: episode_ref(e["run_id"], e["task_id"], e["trial"]) for e in eps}
    forks = [e for e in eps if e["parent"] is not None]
    reruns: dict[str, list[dict]] = {}
    plain = []
    for e in eps:
        sel = (json.loads(e["manifest"]) if e["manifest"] else {}).get("task_selection") or {}
        if e["parent"] is not None:
            continue
        if isinstance(sel, dict) and sel.get("by") == TASK_RERUN_KIND:
            reruns.setdefault(e["run_id"], []).append(e)
        else:
            plain.append(e)
    ids = [e["episode_id"] for e in eps]
    steps = [(r[0], r[1]) for r in conn.execute(
        f"SELECT episode_id, idx FROM steps WHERE episode_id IN ({','.join('?' * len(ids))})",
        ids)] if ids else []
    # a task note names its domain; one written before notes did carries the bare id
    targets = [("task", task_target(key, task_id)), ("task", task_id)] + \
        [("episode", str(i)) for i in ids] + [("step", f"{e}:{i}") for e, i in steps]
    notes, labels = notes_for(conn, targets), labels_for(conn, targets)

    out = [f"# Journal: task {md(task_id, 80)} ({md(key, 80)})", ""]
    out.append(f"_Generated {now_iso()}{' from ' + md(store_label, 200) if store_label else ''}"
               f"{' · run ' + md(run_id) if run_id else ''}. Reruns and forks are development "
               "evidence only._")
    note = stand_in_note(e["agent"] for e in eps)
    if note:  # (some episodes were played by the stand-in)
        out.append("")
        out.append(f"_{md(note, 200)}._")
    out += ["", "## Notes", ""]
    if not notes:
        out.append("No notes.")
    for n in notes:
        where = "task" if n["target_id"] != task_id else "task (no domain recorded)"
        if n["target_kind"] == "episode":
            where = "episode " + md(refs.get(int(n["target_id"]), n["target_id"]))
        elif n["target_kind"] == "step":
            eid, _, idx = n["target_id"].partition(":")
            where = f"{md(refs.get(int(eid), eid))} step {md(idx)}"
        who = f" ({md(n['author'], 40)})" if n["author"] else ""
        out.append(f"- **{where}**, {md(n['created_at'], 40)}{who}: {md(n['text'], 2000)}")
    if labels:
        out += ["", "## Labels", ""]
        for lb in labels:
            out.append(f"- {md(lb['target_kind'])} {md(lb['target_id'], 60)}: "
                       f"{md(lb['kind'])} **{md(lb['label'], 80)}**")
    out += ["", "## Episodes", "", "| episode | run | role | outcome | reward | termination "
            "| steps |", "|---|---|---|---|---|---|---|"]
    for e in plain:
        out.append(f"| {md(refs[e['episode_id']])} ({e['episode_id']}) | {md(e['run_name'], 60)}"
                   f" | {md(e['role'])} | {_mark(e['success'])} | {_reward(e)} | "
                   f"{md(e['term'])} | {e['steps']} |")
    out += ["", "## Reruns of this task", ""]
    if not reruns:
        out.append("None.")
    for rid, rows in reruns.items():
        strip = "".join(_mark(r["success"]) for r in sorted(rows, key=lambda r: r["trial"]))
        out.append(f"- run {md(rid)} {md(rows[0]['run_name'], 80)}: {strip} "
                   f"({len(rows)} trial(s), development evidence)")
    out += ["", "## Forks", ""]
    if not forks:
        out.append("None.")
    else:
        out += ["| fork | parent | at step | run | outcome | reward | termination |",
                "|---|---|---|---|---|---|---|"]
        for f in forks:
            parent = refs.get(f["parent"], str(f["parent"]))
            out.append(f"| {f['episode_id']} | {md(parent)} ({f['parent']}) | {f['at']} | "
                       f"{md(f['run_name'], 60)} | {_mark(f['success'])} | "
                       f"{_reward(f)} | {md(f['term'])} |")
    step_notes = [n for n in notes if n["target_kind"] == "step"]
    shown: set[int] = set()
    if step_notes:
        out += ["", "## Noted steps", ""]
        for n in step_notes:
            eid, _, idx = n["target_id"].partition(":")
            row = conn.execute("SELECT role, content, tool_calls FROM steps WHERE episode_id = ?"
                               " AND idx = ?", (int(eid), int(idx))).fetchone()
            if row is None:
                continue
            shown.add(int(eid))
            out.append(f"### {md(refs.get(int(eid), eid))} step {md(idx)} ({md(row[0])})")
            out += ["", fenced(row[1] if row[1] else row[2] or ""), ""]
    return "\n".join(out).rstrip() + "\n", sorted(shown)
