"""Showing an alignment: one-line event summaries and the reward by component (shared by the
CLI and the TUI), the JSON view, and `print_compare`, the CLI twin of the compare screen
(`t2e show A --vs B`). Core: no textual.
"""

from __future__ import annotations

import json
from typing import Any

from store.termination import reward_text, termination_text

from .align import (
    ARGS,
    ERROR,
    ONLY_A,
    ONLY_B,
    SAME,
    TEXT,
    Alignment,
    ArgDiff,
    Event,
    align,
    annotate_kinds,
    norm_value,
)
from .align_where import no_difference, row_step, steps_span
from .reviews import episode_lines, subagent_of
from .standin import NOTE
from .textsafe import clean, one_line

# --- one-line summaries shared by the CLI and the TUI ----------------------------------------

def fmt_value(v: Any, width: int = 40) -> str:
    text = v if isinstance(v, str) else norm_value(v)
    return one_line(text, width)


def event_segments(ev: Event | None, diffs: list[ArgDiff] | None = None, *, side: str = "a",
                   width: int = 200, changed_first: bool = False) -> list[tuple[str, str]]:
    """An event as (text, style-name) segments; style names: role, name, key, value, changed,
    error, text, dim, gold. Text is control-stripped (never markup). `changed_first` puts the
    differing arguments first, so a narrow lane still shows what differs."""
    if ev is None:
        return []
    # a subagent's step (ATIF, kept in its parent's episode): `↳`, never the customer's `U`
    # or the agent's own `A` alone
    sub = "↳" if ev.kind != "gold" and subagent_of(ev.step) is not None else ""
    if ev.kind == "text":
        tag = {"assistant": "A", "user": "U", "tool": "T", "system": "S"}.get(ev.role, "?")
        return [(f"{sub}{tag} ", "role"),
                (one_line(ev.text, width), "error" if ev.error else "text")]
    changed = {d.key for d in (diffs or []) if d.status != SAME}
    segs: list[tuple[str, str]] = [("★ " if ev.kind == "gold" else f"{sub}▸ ",
                                    "gold" if ev.kind == "gold" else "role"),
                                   (one_line(ev.name, 60), "name"), ("(", "dim")]
    args = ev.args
    if isinstance(args, dict):
        items = list(args.items())
        if changed_first and changed:
            items = [kv for kv in items if kv[0] in changed] + [kv for kv in items
                                                                if kv[0] not in changed]
        for i, (k, v) in enumerate(items):
            if i:
                segs.append((", ", "dim"))
            segs.append((one_line(k, 40) + "=", "key"))
            segs.append((fmt_value(v), "changed" if k in changed else "value"))
    else:
        segs.append((fmt_value(args), "changed" if changed else "value"))
    segs.append((")", "dim"))
    if ev.kind == "call":
        if ev.result_idx is None:
            segs.append((" → (no result)", "dim"))
        elif ev.error:
            segs.append((" → " + one_line(ev.result, 60), "error"))
        else:
            segs.append((" → " + one_line(ev.result, 40), "dim"))
    return segs


def reward_components(meta: dict, checks: list[dict], task: dict | None = None
                      ) -> list[dict]:
    """The reward by component: DB, communicate, NL assertion (judge-dependent), action checks.

    Each item: {name, value, gating, judge_dependent, detail, relevant}. `gating` says whether
    the component is in the task's reward basis (only those multiply into the reward).
    `relevant` is False for an NL component with nothing behind it (not gating, no value, no
    NL checks, and the task, when given, has no NL assertions: every mini-retail task), so
    headers can leave out a "NL*judge(diag) –" that says nothing; and for every component of
    an episode nothing graded (no reward basis, no check, no component value, no task
    criteria: a foreign trace, which has no gold), whose "DB– diag COMM– diag ACT diag"
    said nothing either.
    """
    try:
        basis = json.loads(meta.get("reward_basis_json") or "null") or []
    except ValueError:
        basis = []
    actions = [c for c in checks if c.get("kind") == "action"]
    known = [c for c in actions if c.get("met") is not None]
    met = sum(1 for c in known if c["met"])
    writes = [c for c in known if c.get("tool_kind") == "write"]
    comm = [c for c in checks if c.get("kind") == "communicate"]
    nl = [c for c in checks if c.get("kind") == "nl_assertion"]

    def count(items):
        k = [c for c in items if c.get("met") is not None]
        return f"{sum(1 for c in k if c['met'])}/{len(k)} met" if k else ""

    db = meta.get("db_reward")
    if db is None and meta.get("db_match") is not None:
        db = float(meta["db_match"])
    criteria = (task or {}).get("evaluation_criteria") or {}
    nl_relevant = bool("NL_ASSERTION" in basis or nl or meta.get("nl_reward") is not None
                       or criteria.get("nl_assertions"))
    comps = [
        {"name": "DB", "value": db, "gating": "DB" in basis, "judge_dependent": False,
         "detail": "" if meta.get("db_match") is None else
         ("db match" if meta["db_match"] else "db differs")},
        {"name": "COMMUNICATE", "value": meta.get("communicate_reward"),
         "gating": "COMMUNICATE" in basis, "judge_dependent": False, "detail": count(comm)},
        {"name": "NL_ASSERTION", "value": meta.get("nl_reward"),
         "gating": "NL_ASSERTION" in basis, "judge_dependent": True, "detail": count(nl)},
        {"name": "ACTION", "value": meta.get("action_reward"), "gating": "ACTION" in basis,
         "judge_dependent": False,
         "detail": (f"{met}/{len(known)} gold actions; writes "
                    f"{sum(1 for c in writes if c['met'])}/{len(writes)}") if known else ""},
    ]
    graded = bool(basis or checks or criteria or any(c["value"] is not None for c in comps))
    for c in comps:
        c["relevant"] = graded and (nl_relevant if c["name"] == "NL_ASSERTION" else True)
    return comps


# --- the CLI twin ------------------------------------------------------------------------------

def _load(db: Any, ref: Any):
    from .data_access import load_episode, resolve_episode

    conn = db.conn if hasattr(db, "conn") else db
    return conn, load_episode(conn, resolve_episode(conn, ref))


def alignment_json(al: Alignment) -> dict:
    """A JSON-ready view of an alignment (for --json)."""
    def ev(e: Event | None):
        if e is None:
            return None
        d = {"kind": e.kind, "step": e.step_idx, "role": e.role}
        if e.kind == "text":
            d["text"] = clean(e.text, 2000)[0]
        else:
            d.update(name=e.name, arguments=e.args)
            if e.kind == "call":
                d.update(result=clean(e.result, 2000)[0], error=e.error, result_step=e.result_idx)
        return d
    return {
        "single": al.single,
        "gold_known": al.gold_known,
        "divergences": al.divergences,
        "blocks": [list(b) for b in al.blocks],
        "rows": [{"row": i, "status": r.status, "split": r.split, "a": ev(r.a), "b": ev(r.b),
                  "arg_diffs": [{"key": d.key, "a": d.a, "b": d.b, "status": d.status}
                                for d in r.diffs if d.status != SAME]}
                 for i, r in enumerate(al.rows)],
        "gold": [{"index": g.index, "name": g.event.name, "arguments": g.event.args,
                  "found_a": g.found_a, "found_b": g.found_b, "row_a": g.row_a, "row_b": g.row_b}
                 for g in al.gold],
    }


_CLI_STYLES = {"role": "bold cyan", "name": "bold", "key": "dim", "value": "", "changed":
               "bold black on yellow", "error": "bold red", "text": "", "dim": "dim",
               "gold": "bold yellow"}
_MARKS = {SAME: "=", ARGS: "≠", ERROR: "!", ONLY_A: "<", ONLY_B: ">", TEXT: " "}


def print_compare(console: Any, db: Any, episode_a: Any, episode_b: Any | None = None,
                  as_json: bool = False, *, record: bool = True) -> Alignment:
    """Print two aligned trajectories (or one vs the gold actions) with rich, or as JSON.

    `episode_a`/`episode_b` are episode ids or `RUN:TASK[:TRIAL]`. Records a CLI evidence view
    for each episode printed. Raises LookupError for an unknown episode.
    """
    from rich.table import Table
    from rich.text import Text

    from .data_access import record_view

    conn, a = _load(db, episode_a)
    b = _load(db, episode_b)[1] if episode_b is not None else None
    task = a.task or (b.task if b else None)
    al = align(a.steps, b.steps if b else None, task, checks_a=a.checks,
               checks_b=b.checks if b else None)
    annotate_kinds(al.rows)
    if record:
        for ep in (a, b):
            if ep is not None:
                record_view(conn, ep.episode_id, via="cli")
    if as_json:
        data = {"a": _ep_json(a), "b": _ep_json(b) if b else None,
                **alignment_json(al)}
        console.print_json(json.dumps(data, default=str, ensure_ascii=False))
        return al
    title_b = b.label if b else "gold actions"
    console.print(Text(f"{a.label}  vs  {title_b}", style="bold"))
    for ep in (a, b):
        if ep is not None and ep.scripted:
            console.print(Text(f"{ep.label}: {NOTE}", style="yellow"))
    for ep in (a, b):
        if ep is None:
            continue
        comps = reward_components(ep.meta, ep.checks, ep.task)
        # the words `t2e show` uses for one episode: "-" for no reward, how it ended
        term = ep.meta.get("termination_reason")
        line = Text(f"{ep.label}: termination {termination_text(term, ep.meta.get('status'))}"
                    f"  reward {reward_text(ep.meta.get('reward'), term, 3)}  ")
        for c in comps:
            if not c["relevant"]:
                continue
            v = "–" if c["value"] is None else f"{c['value']:g}"
            tag = c["name"] + ("*" if c["judge_dependent"] else "") + ("" if c["gating"]
                                                                       else "(diag)")
            line.append(f"{tag}={v} ", style="bold" if c["gating"] else "dim")
        console.print(line)
        # the lines plain `t2e show` prints of the episode (reviews, a Harbor trial's
        # exception and usage, a foreign trace's attributes), each under its label
        for said in episode_lines(ep.meta):
            console.print(Text(f"  {one_line(said, 400)}", style="dim"))
    table = Table(show_header=True, header_style="bold", expand=True, show_lines=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column(a.label, ratio=1, overflow="fold")
    table.add_column("", no_wrap=True)
    table.add_column(title_b, ratio=1, overflow="fold")
    for r in al.rows:
        cells = []
        for ev, side in ((r.a, "a"), (r.b, "b")):
            t = Text()
            for text, style in event_segments(ev, r.diffs, side=side, width=120):
                t.append(text, style=_CLI_STYLES.get(style, ""))
            cells.append(t)
        mark = Text("~" if r.split else _MARKS[r.status],
                    style="bold red" if r.divergent else "dim")
        table.add_row(row_step(r), cells[0], mark, cells[1])  # (the app's gutter numbers)
    console.print(table)
    if al.gold:
        g = Table(title="gold actions", show_header=True, header_style="bold", expand=True)
        g.add_column("#", justify="right")
        g.add_column("action", ratio=1, overflow="fold")
        g.add_column("A", no_wrap=True)
        if not al.single:
            g.add_column("B", no_wrap=True)
        for m in al.gold:
            t = Text()
            for text, style in event_segments(m.event, width=120):
                t.append(text, style=_CLI_STYLES.get(style, ""))
            cols = [str(m.index), t, _found(m.found_a)]
            if not al.single:
                cols.append(_found(m.found_b))
            g.add_row(*cols)
        console.print(g)
    n = len(al.blocks)
    where = ""
    if n:  # the compare screen's words (align_where): never "first at" with nothing after
        first, last = al.blocks[0]
        span = steps_span(al, first, last)
        where = ("; first " + ("" if span.startswith(("after ", "before ")) else "at ") + span
                 + (" (messages part)" if al.rows[first].split else ""))
    head = f"{n} difference{'' if n == 1 else 's'}{where}" if n else no_difference(al)
    if not n and b is not None and _outcome(a) != _outcome(b):
        # (the same steps, another ending: a timeout's reward 0 against a pass is no sameness)
        head = "no difference in the trajectories; the outcomes differ"
    console.print(Text(f"{head} (~ messages part, ≠ args, < only A, > only B, ! error)",
                       style="bold"))
    return al


def _outcome(ep) -> tuple:
    """What an episode came to: its reward as shown and how it ended."""
    term = ep.meta.get("termination_reason")
    return reward_text(ep.meta.get("reward"), term, 3), term


def _found(v: bool | None):
    from rich.text import Text

    if v is None:
        return Text("?", style="dim")
    return Text("found", style="green") if v else Text("missing", style="bold red")


def _ep_json(ep) -> dict:
    return {"episode_id": ep.episode_id, "run_id": ep.run_id, "run": ep.run_name,
            "task_id": ep.task_id, "trial": ep.trial, "reward": ep.meta.get("reward"),
            "termination_reason": ep.meta.get("termination_reason"),
            "scripted": ep.scripted,
            "reward_components": reward_components(ep.meta, ep.checks, ep.task)}
