"""`t2e show` (one trajectory, or two aligned with --vs) and `t2e episodes RUN` (a run's
episodes with the references `show` takes). Split from store.py; registered by it."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import T2EError
from ..standin import agent_models, is_stand_in, model_label
from ..standin import note as stand_in_note
from ..textsafe import clean, one_line, strip_controls
from .common import console as _console
from .common import echo_json as _echo_json
from .common import fmt as _fmt
from .common import open_store as _db
from .pipe import echo_tsv, piped, table_option


def _world_of(db: Any, episode_id: int) -> dict:
    row = db.conn.execute(
        "SELECT e.run_id, e.task_id, r.domain, r.world_id FROM episodes e "
        "JOIN runs r ON r.run_id = e.run_id WHERE e.episode_id = ?", (episode_id,)).fetchone()
    return dict(zip(("run_id", "task_id", "domain", "world_id"), row))


def compare_warnings(db: Any, a: int, b: int) -> list[str]:
    """Why an alignment of episodes `a` and `b` may mean little: different domains or worlds
    (different rules, tools and records), or different tasks."""
    wa, wb = _world_of(db, a), _world_of(db, b)
    out = []
    if wa["domain"] != wb["domain"]:
        out.append(f"episode {a} is from domain {wa['domain']} and episode {b} from "
                   f"{wb['domain']}: the alignment compares different worlds")
    elif wa["world_id"] != wb["world_id"]:
        out.append(f"episodes {a} and {b} were graded in different worlds ({wa['world_id']} vs "
                   f"{wb['world_id']}: policy, tasks or data differ)")
    if wa["task_id"] != wb["task_id"]:
        out.append(f"episode {a} is task {wa['task_id']} and episode {b} is task "
                   f"{wb['task_id']}: different tasks")
    return out


def register(cli: click.Group) -> None:
    """Add `show` and `episodes` to the root group."""

    @cli.command("show")
    @click.argument("episode")
    @click.option("--vs", "versus", help="Compare with another episode (aligned side by side).")
    @click.option("--full", is_flag=True, help="Do not truncate long fields.")
    @click.option("--json", "as_json", is_flag=True, help="Print the episode as JSON.")
    def show(episode: str, versus: str | None, full: bool, as_json: bool) -> None:
        """Show one trajectory: messages, tool calls with arguments, results, error flags,
        checks. Records an evidence view (the gate's leakage guard reads these).

        EPISODE is an episode id, RUN:TASK[:TRIAL] or RUN:TASK/tTRIAL (as the app labels
        episodes; RUN is a run id, id prefix or name). `t2e episodes RUN` lists them."""
        from store.queries import load_episode, record_view, resolve_episode

        db = _db()
        eid = resolve_episode(db, episode)
        if versus is not None:
            import sqlite3

            from ..align_print import print_compare

            other = resolve_episode(db, versus)
            for w in compare_warnings(db, eid, other):
                click.echo(f"warning: {one_line(w, 600)}", err=True)
            # the alignment code reads rows by column name
            db.conn.row_factory = sqlite3.Row
            try:
                print_compare(_console(), db, str(eid), str(other), as_json)
            except LookupError as exc:
                raise T2EError(str(exc).strip("'\"")) from None
            return
        ep = load_episode(db, eid)
        record_view(db, ep["episode_id"], "cli")
        if as_json:
            _echo_json(_episode_json(ep))
        else:
            _print_episode(ep, full)

    @cli.command("episodes")
    @click.argument("run")
    @click.option("--task", "task_id", default=None, help="Only this task.")
    @click.option("--failed", is_flag=True,
                  help="Only failed episodes (a reward short of 1, or an infrastructure error); "
                       "unscored ones (no reward) are not failed.")
    @click.option("--json", "as_json", is_flag=True, help="Print the episodes as JSON.")
    @table_option
    def episodes_cmd(run: str, task_id: str | None, failed: bool, as_json: bool,
                     force_table: bool) -> None:
        """List RUN's episodes in run order, with the id and the RUN:TASK/tTRIAL reference
        that `t2e show` takes (the id where a file repeats a task and trial). Lists outcomes
        only: no trajectory is shown, so no evidence view is recorded."""
        from store.queries import episode_index, episode_refs, resolve_run
        from store.termination import episode_reward, episode_success, reward_text, termination_text

        db = _db()
        rid = resolve_run(db, run)
        rows = episode_index(db, rid)
        if task_id is not None:
            rows = [r for r in rows if str(r["task_id"]) == task_id]
        unscored = 0
        if failed:
            from ..analysis.outcome import UNSCORED, is_failed, outcome, run_is_foreign, unscored_words

            unscored = sum(outcome(r["reward"], r["termination_reason"], r["status"]) == UNSCORED
                           for r in rows)
            rows = [r for r in rows if is_failed(r["reward"], r["termination_reason"],
                                                 r["status"])]
        keys = ("episode_id", "task_id", "likely_task_id", "trial", "status",
                "termination_reason", "reward", "success", "n_steps", "n_tool_errors")
        refs = episode_refs(db, rid)
        model = agent_models(db.conn, [rid]).get(rid)
        stand_in = is_stand_in(model)
        # `termination`: the words every output uses for the stored reason (store/termination)
        out = [{"ref": refs[r["episode_id"]], **{k: r[k] for k in keys},
                "reward": episode_reward(r["reward"], r["termination_reason"]),
                "success": episode_success(r["success"], r["termination_reason"]),
                "termination": termination_text(r["termination_reason"], r["status"])}
               for r in rows]
        if as_json:  # the run's agent on each record: a field, as `t2e runs --json` has it
            _echo_json([{**r, "agent_model": model, "stand_in": stand_in} for r in out])
            return
        if piped(force_table):
            cols = ("episode_id", "ref", "reward", "n_steps", "termination", "status",
                    "likely_task_id", "n_tool_errors")
            agent = model_label(model)  # `agent`: as the runs table shows it
            echo_tsv((*cols, "agent"), ([*(r[k] for k in cols), agent] for r in out))
            return
        note = stand_in_note([model])
        if note:
            click.echo(note)
        if not out:
            click.echo(f"run {rid}: no " + ("failed " if failed else "") + "episodes"
                       + (" match" if task_id else "")
                       + (f"; {unscored} unscored: " + "; ".join(
                           w for w in unscored_words(run_is_foreign(db, rid)) if w)
                          if unscored else ""))
            return
        idw = max(len("id"), *(len(str(r["episode_id"])) for r in out))
        refw = min(48, max(len("ref"), *(len(r["ref"]) for r in out)))
        click.echo(f"{'id':>{idw}}  {'ref':<{refw}}  {'reward':>6}  {'steps':>5}  termination")
        for r in out:
            ref = one_line(r["ref"], refw)
            term = r["termination"]
            if r["likely_task_id"]:
                term += f" (likely task {r['likely_task_id']})"
            reward = reward_text(r["reward"], r["termination_reason"], 3)
            click.echo(f"{r['episode_id']:>{idw}}  {ref:<{refw}}  {reward:>6}  "
                       f"{_fmt(r['n_steps']):>5}  {one_line(term, 60)}")


def _episode_json(ep: dict) -> dict:
    """The `t2e show --json` document: episode columns, run, messages (tau2 shape), checks."""
    skip = {"steps", "tool_calls", "messages", "checks", "extra_json", "reward_info_json",
            "reward_basis_json", "reward_breakdown_json"}
    from store.termination import episode_reward, episode_success, termination_text

    out = {k: v for k, v in ep.items() if k not in skip}
    out["termination"] = termination_text(ep["termination_reason"], ep["status"])
    out["reward"] = episode_reward(ep["reward"], ep["termination_reason"])
    out["success"] = episode_success(ep["success"], ep["termination_reason"])
    out["reward_info"] = json.loads(ep["reward_info_json"]) if ep["reward_info_json"] else None
    out["steps"] = [{"idx": s["idx"], "role": s["role"], "error": bool(s["error"]),
                     "huge": bool(s["huge"]), "tool_name": s["tool_name"],
                     "message": m} for s, m in zip(ep["steps"], ep["messages"])]
    out["checks"] = ep["checks"]
    out["stand_in"] = is_stand_in((ep.get("run") or {}).get("agent_model"))
    from store.outcomes import shown_trace_attributes

    extra = json.loads(ep["extra_json"]) if ep.get("extra_json") else {}
    if attrs := shown_trace_attributes(extra if isinstance(extra, dict) else {}):
        # (a foreign trace's: what --reward-attr maps; what `show` lists, the same rule)
        out["trace_attributes"] = attrs
    from ..reviews import harbor_facts

    if (facts := harbor_facts(extra if isinstance(extra, dict) else {})) is not None:
        out["harbor"] = facts  # (a Harbor trial's exception, agent usage: what show prints)
    return out


# Above this many characters `--full` streams a field instead of laying it out with rich,
# whose wrapping is quadratic in the field's size (8 MB took 13 s, 50 MB over 10 minutes).
STREAM_MIN = 100_000
_CHUNK = 1 << 20


def stream_text(text: str, indent: str) -> None:
    """Write a long field in chunks, cleaned and indented: time linear in its size, memory one
    chunk. Chunks end at a newline where there is one, so a line's indent and a CRLF stay
    whole; whatever a cut splits is cleaned on both sides (never an escape sequence)."""
    import sys

    # strip_controls removes all that the escaping stdout would escape: skip its second pass
    out = getattr(sys.stdout, "raw", sys.stdout)
    start, n = 0, len(text)
    line_start = True  # the next character begins a line (so it gets the indent)
    while start < n:
        end = min(n, start + _CHUNK)
        if end < n:
            nl = text.rfind("\n", start, end)
            end = nl + 1 if nl > start else end
        body = strip_controls(text[start:end]).replace("\n", "\n" + indent)
        if line_start:
            body = indent + body
        line_start = body.endswith("\n" + indent)
        out.write(body[:-len(indent)] if line_start else body)
        start = end
    if not line_start:
        out.write("\n")
    out.flush()


_ROLE_STYLE = {"assistant": "bold cyan", "user": "bold green", "tool": "bold magenta",
               "system": "bold yellow"}


def _print_episode(ep: dict, full: bool) -> None:
    from rich.text import Text

    from ..reviews import RAW_LIMIT, has_raw, raw_line, step_lines

    con = _console()
    limit = None if full else 4000
    run = ep.get("run") or {}
    head = Text(f"episode {ep['episode_id']}", style="bold")
    head.append(f"  run {run.get('name')} ({ep['run_id']}, {run.get('role')})  "
                f"task {ep['task_id']}")
    if ep.get("likely_task_id"):
        head.append(f" (likely task {ep['likely_task_id']}: label looks wrong)", style="yellow")
    head.append(f"  trial {_fmt(ep['trial'])}")
    agent = model_label(run.get("agent_model"))
    if agent:  # as the runs table shows it: `scripted (stand-in)`
        head.append(f"  agent {agent}")
    con.print(Text(one_line(head.plain, 400), style="bold"))
    note = stand_in_note([run.get("agent_model")])
    if note:
        con.print(Text(note, style="yellow"))
    from store.termination import reward_text, termination_text

    term = termination_text(ep["termination_reason"], ep["status"])
    reward = reward_text(ep["reward"], ep["termination_reason"], 3)
    summary = (f"termination {term}  reward {reward}  "
               f"db {_fmt(ep['db_match'])}  communicate {_fmt(ep['communicate_reward'])}  "
               f"nl {_fmt(ep['nl_reward'])}  tool calls {ep['n_tool_calls']}  "
               f"tool errors {ep['n_tool_errors']}")
    if ep["judge_dependent"]:
        summary += "  [judge-dependent: NL assertions graded by an LLM]"
    con.print(Text(one_line(summary, 400)))
    _print_reviews(con, ep)
    raw = sum(has_raw(s) for s in ep["steps"])
    if raw and not full:
        con.print(Text(f"raw_data (the provider's response) hidden on {raw} step(s): --full "
                       "shows it", style="dim"))
    con.print()
    for s, m in zip(ep["steps"], ep["messages"]):
        role = s["role"]
        label = Text(f"{s['idx']:>3} {role}", style=_ROLE_STYLE.get(role, "bold"))
        if role == "tool":
            label.append(f" ← {one_line(s['tool_name'] or s['tool_call_id'] or '?', 120)}")
            if s["error"]:
                label.append("  ERROR", style="bold red")
        if s["huge"]:
            label.append("  [huge field, truncated]" if not full else "  [huge field]",
                         style="yellow")
        con.print(label)
        if s["content"] and limit is None and len(s["content"]) > STREAM_MIN:
            stream_text(s["content"], "    ")
        elif s["content"]:
            text, cut = clean(s["content"], limit)
            body = Text("    " + text.replace("\n", "\n    "),
                        style="red" if s["error"] else "")
            if cut:
                body.append(f"\n    … truncated ({len(s['content'])} chars; --full shows all)",
                            style="dim")
            con.print(body)
        for call in m.get("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            args = call.get("arguments")
            args_text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            if limit is None and len(args_text) > STREAM_MIN:
                con.print(Text("    → " + one_line(call.get("name"), 80) + "(", style="bold"))
                stream_text(args_text, "      ")
                con.print(Text("    )"))
                continue
            text, cut = clean(args_text, limit)
            line = Text("    → ", style="bold")
            line.append(one_line(call.get("name"), 80), style="bold")
            line.append("(" + text + (" …" if cut else "") + ")")
            con.print(line)
        # the message first, then its metadata: audio fields, ticks, review errors (tau2 1.x)
        for line in step_lines(s):  # (--full: whole, a reasoning of any length)
            shown = clean(line, None)[0].replace("\n", "\n    ") if full else one_line(line, 400)
            con.print(Text("    " + shown,
                           style="magenta" if line.startswith("review:") else "dim"))
        if full and (rl := raw_line(s)):
            con.print(Text("    " + one_line(rl, RAW_LIMIT + 100), style="dim"))
    if ep["checks"]:
        con.print()
        con.print(Text("checks", style="bold"))
        for c in ep["checks"]:
            mark = {1: "met", 0: "NOT met"}.get(c["met"], "?")
            what = c["name"] or c["text"] or ""
            if c["kind"] == "action":
                what = f"{c['name']}({one_line(c['arguments'], 120)}) [{c['tool_kind']}]"
            con.print(Text(f"  {c['kind']:<13} {mark:<8} {one_line(what, 160)}",
                           style="" if c["met"] != 0 else "red"))


def _print_reviews(con, ep: dict) -> None:
    """tau2 1.x review flags and lines (the compare header's and detail pane's CLI twin)."""
    from rich.text import Text

    from ..reviews import annotate, episode_lines, flags

    annotate(ep, ep["steps"])
    fl = flags(ep)
    if fl:
        con.print(Text("review flags: " + ", ".join(fl), style="bold magenta"))
    for line in episode_lines(ep):
        con.print(Text(one_line(line, 400), style="dim"))
