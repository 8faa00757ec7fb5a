"""Harbor's Agent Trajectory Interchange Format (ATIF, schema versions 1.0-1.7).

A file holds one trajectory object (or a JSON list of them); each trajectory is an episode. A
subagent trajectory embedded in it (`subagent_trajectories`, v1.7) is part of its parent's
episode, never an episode (a task) of its own: its messages follow the observation result
that refers to it (`subagent_trajectory_ref`; at the end when none does), each marked
`subagent` with its trajectory id (`<id>/<id>` for a subagent's own subagent), and its root
fields are kept in the parent's `atif.subagents`. Steps map to tau2 messages: `system` steps are kept as episode
metadata (their text as `system_prompt`, each whole step, with the message it came before, as
`system_steps`), `user` steps are user messages, an `agent` step is an assistant message (its
`message`, `tool_calls` as {id, name, arguments}, `metrics` token counts as usage and
`cost_usd` as cost) followed by one tool message per `observation.results` entry.
Messages and observation results given as content parts (text and images) keep their text;
other parts are noted.
Nothing given is dropped: every field of a step, tool call, observation result or the root
that has no column or place of its own (step_id, model_name, reasoning_content, extra,
llm_call_count, the rest of `metrics`: logprobs, token ids, extra, ...) is kept under its own
name in the message's (or call's, or episode's) extra fields (`_keep`).
ATIF carries no gold: scalar fields of the root `extra` and `final_metrics` are kept as the
episode's attributes, which `t2e gate --reward-attr NAME` can map to a reward.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any, Callable

from ..messages import short_json
from ..ranges import count_problem
from .common import ImportContext, ImportFailure, RunMeta
from .episodes import EpisodeWriter, RecordError, validate_sim
from .jsonstream import JsonStreamError, describe_json_error
from .jsonstream import loads as strict_loads

FORMAT = "atif"
# ASCII digits to the very end ("\d" took other scripts' digits, "$" a trailing newline)
_VERSION = re.compile(r"ATIF-v1\.([0-9]+)\Z")
TESTED = (4, 7)  # the minor versions published and tested here


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null",
            float: "a number"}.get(type(v), type(v).__name__)


# ATIF v1.6's content part types: a list of objects of only these is content parts
_PART_TYPES = ("text", "image")


def _text(message: Any, where: str, field: str = "message") -> tuple[str | None, list]:
    """A step message or an observation result's content (string, or content parts from
    v1.6) -> (text, other parts); `field` names it in errors."""
    if message is None or isinstance(message, str):
        return message, []
    if isinstance(message, list):
        texts, other = [], []
        for i, p in enumerate(message):
            if isinstance(p, dict) and p.get("type") == "text":
                text = p.get("text", p.get("content", ""))
                if text is None:
                    continue  # an empty part
                if not isinstance(text, str):  # str() stored Python's repr of it
                    raise ImportFailure(f"{where}: {field}[{i}].text should be a string, "
                                        f"found {type(text).__name__}")
                texts.append(text)
            else:
                other.append(p)
        return "".join(texts), other
    raise ImportFailure(f"{where}: '{field}' should be a string or a list of content parts")


# The keys a message (a tau2 message dict) or a call already uses: a trajectory's field of one
# of these names is kept as "atif_<name>" instead of overwriting it
_MESSAGE_OWN = frozenset(("role", "content", "content_parts", "tool_calls", "id", "error",
                          "requestor", "timestamp", "cost", "usage", "turn_idx", "metrics",
                          "observation", "subagent"))
_CALL_OWN = frozenset(("id", "name", "arguments", "requestor"))
# the fields of the root the episode's `atif` block already holds, or that become episodes
_ROOT_USED = frozenset(("schema_version", "session_id", "trajectory_id", "agent", "notes",
                        "final_metrics", "steps", "subagent_trajectories"))
_ROOT_OWN = frozenset(("schema_version", "session_id", "trajectory_id", "agent", "notes",
                       "final_metrics", "system_prompt", "system_steps", "attributes"))


def _keep(dst: dict, src: dict, used: frozenset | tuple, own: frozenset) -> None:
    """Copy every field of `src` not in `used` (mapped elsewhere) into `dst` under its own
    name ("atif_<name>" where `dst` has a key of that name: `own`); null means not given."""
    for k, v in src.items():
        if k not in used and v is not None:
            dst[f"atif_{k}" if k in own else k] = v


def _scalars(d: Any, prefix: str = "") -> dict:
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            if isinstance(v, (str, int, float, bool)):
                out[prefix + k] = v
    return out


def trajectory_sims(t: Any, where: str, parent: str | None = None) -> list[dict]:
    """One ATIF trajectory (and its embedded subagents) -> tau2-shaped simulations."""
    if not isinstance(t, dict):
        raise ImportFailure(f"{where}: expected a trajectory object, found {type(t).__name__}")
    version = t.get("schema_version")
    if not (isinstance(version, str) and _VERSION.match(version)):
        raise ImportFailure(f"{where}: schema_version should be 'ATIF-v1.N', found {version!r}")
    steps = t.get("steps")
    if not isinstance(steps, list):
        raise ImportFailure(f"{where}: 'steps' should be a list")
    agent = t.get("agent") if isinstance(t.get("agent"), dict) else {}
    tid = t.get("trajectory_id") or t.get("session_id") or where.replace(" ", "")
    if type(tid) not in (str, int):  # (a key from str() was Python's repr)
        raise ImportFailure(f"{where}: {'trajectory_id' if t.get('trajectory_id') else 'session_id'}"
                            f" should be a string, found {_kind(tid)} {short_json(tid)}")
    key = f"{parent}/{tid}" if parent else str(tid)
    msgs: list[dict] = []
    system: list[str] = []
    system_steps: list[dict] = []
    for i, st in enumerate(steps):
        sw = f"{where}, step #{i}" + (f" (step_id {st.get('step_id')})"
                                      if isinstance(st, dict) else "")
        if not isinstance(st, dict):
            raise ImportFailure(f"{sw}: expected an object")
        source = st.get("source")
        text, other = _text(st.get("message"), sw)
        if source == "system":
            # the whole step (observation results since v1.2: a context compaction, a reset;
            # extra, timestamp) and where it stood among the messages
            system.append(text or "")
            system_steps.append({"at_message": len(msgs), "step": st})
            continue
        if source not in ("user", "agent"):
            raise ImportFailure(f"{sw}: 'source' should be system, user or agent, found "
                                f"{source!r}")
        m: dict[str, Any] = {"role": "user" if source == "user" else "assistant",
                             "content": text}
        if other:
            m["content_parts"] = other
        if st.get("timestamp") is not None:
            m["timestamp"] = st["timestamp"]
        calls = st.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list) or not all(isinstance(c, dict)
                                                      and isinstance(c.get("function_name"), str)
                                                      for c in calls):
                raise ImportFailure(f"{sw}: 'tool_calls' should be a list of objects with a "
                                    "function_name")
            if calls:
                m["tool_calls"] = []
                for c in calls:
                    call = {"id": str(c.get("tool_call_id") or ""), "name": c["function_name"],
                            "arguments": c.get("arguments") if c.get("arguments")
                            is not None else {}, "requestor": "assistant"}
                    _keep(call, c, ("tool_call_id", "function_name", "arguments"), _CALL_OWN)
                    m["tool_calls"].append(call)
                if m["content"] == "":
                    m["content"] = None
        met = st.get("metrics")
        if isinstance(met, dict):
            usage = {k: met[k] for k in ("prompt_tokens", "completion_tokens", "cached_tokens")
                     if type(met.get(k)) is int}
            for k, v in usage.items():  # (a count of another type stays in metrics, below)
                if (bad := count_problem(v)) is not None:
                    raise ImportFailure(f"{sw}: metrics.{k} {bad}")
            if usage:
                m["usage"] = usage
            used = list(usage)
            cost = met.get("cost_usd")
            if type(cost) in (int, float):
                m["cost"] = float(cost)
                used.append("cost_usd")
            # the rest as given: logprobs, completion/prompt token ids, extra (and any count
            # or cost of another type than its column's)
            rest: dict[str, Any] = {}
            _keep(rest, met, tuple(used), frozenset())
            if rest:
                m["metrics"] = rest
        elif met is not None:
            m["metrics"] = met
        _keep(m, st, ("source", "message", "timestamp", "tool_calls", "metrics",
                      "observation"), _MESSAGE_OWN)
        msgs.append(m)
        obs = st.get("observation")
        results = obs.get("results") if isinstance(obs, dict) else None
        if obs is not None and not isinstance(results, list):
            raise ImportFailure(f"{sw}: 'observation.results' should be a list")
        if isinstance(obs, dict):
            rest = {}
            _keep(rest, obs, ("results",), frozenset())
            if rest:
                m["observation"] = rest
        for n, r in enumerate(results or []):
            if not isinstance(r, dict):
                raise ImportFailure(f"{sw}: observation results should be objects")
            content, parts = r.get("content"), []
            if isinstance(content, list) and content and all(
                    isinstance(p, dict) and p.get("type") in _PART_TYPES for p in content):
                # content parts (v1.6), as a message's: their text; any other list (a tool's
                # JSON records, even records with a "type" of their own) is the result
                # itself, kept as JSON text below
                content, parts = _text(content, f"{sw}, observation result #{n}", "content")
            if content is not None and not isinstance(content, str):
                content = json.dumps(content, ensure_ascii=False)
            tm: dict[str, Any] = {"role": "tool", "id": str(r.get("source_call_id") or ""),
                                  "content": content, "requestor": "assistant", "error": False}
            if parts:
                tm["content_parts"] = parts
            # subagent_trajectory_ref, extra, ...
            _keep(tm, r, ("source_call_id", "content"), _MESSAGE_OWN)
            msgs.append(tm)
    fm = t.get("final_metrics") if isinstance(t.get("final_metrics"), dict) else {}
    attrs = {**_scalars(t.get("extra")), **_scalars(fm), **_scalars(fm.get("extra"))}
    extra_t = t.get("extra") if isinstance(t.get("extra"), dict) else {}
    task = extra_t.get("task_id", extra_t.get("task_name"))
    if task is not None and type(task) not in (str, int):  # (str() stored Python's repr)
        raise ImportFailure(f"{where}: extra.{'task_id' if 'task_id' in extra_t else 'task_name'}"
                            f" should be a string, found {_kind(task)} {short_json(task)}")
    # the trajectory's time span: its steps' times, system steps' included
    times = [st["timestamp"] for st in steps if isinstance(st.get("timestamp"), str)
             and st["timestamp"]]
    block = {"schema_version": version, "session_id": t.get("session_id"),
             "trajectory_id": t.get("trajectory_id"), "agent": agent,
             "notes": t.get("notes"), "final_metrics": fm or None,
             "system_prompt": system or None, "attributes": attrs}
    if system_steps:
        block["system_steps"] = system_steps
    _keep(block, t, _ROOT_USED, _ROOT_OWN)  # extra (whole), continued_trajectory_ref, ...
    # (no trial: a task's trajectories are numbered in run order, common.number_trials)
    sim = {"id": key, "task_id": str(task) if task is not None else key, "trial": None,
           "start_time": times[0] if times else None, "end_time": times[-1] if times else None,
           "termination_reason": None, "reward_info": None, "messages": msgs, "atif": block}
    subs = t.get("subagent_trajectories")
    if subs is not None and type(subs) is not list:
        raise ImportFailure(f"{where}: 'subagent_trajectories' should be a list, found "
                            f"{type(subs).__name__}")
    if subs:
        _fold_subagents(sim, [trajectory_sims(sub, f"{where}, subagent_trajectories[{j}]",
                                              parent=key)[0] for j, sub in enumerate(subs)])
    return [sim]


def _refs(m: dict) -> set[str]:
    """The trajectory ids an observation result's `subagent_trajectory_ref` names (one ref
    object or a list of them)."""
    refs = m.get("subagent_trajectory_ref")
    refs = refs if isinstance(refs, list) else [refs]
    return {str(r.get("trajectory_id") or r.get("session_id")) for r in refs
            if isinstance(r, dict) and (r.get("trajectory_id") or r.get("session_id"))}


def _fold_subagents(sim: dict, subs: list[dict]) -> None:
    """Put each subagent's messages into its parent's (`sim`), after the first observation
    result that refers to it (at the end when none does), each marked `subagent`: what the
    subagent did is part of the parent's episode, and a gate compares tasks, never
    trajectory ids (which differ in every run). The subagent's root fields go to the
    parent's `atif.subagents`, with the message it starts at."""
    msgs = sim["messages"]
    anchors: dict[int, list[tuple[dict, dict]]] = {}
    kept = sim["atif"].setdefault("subagents", [])
    for sub in subs:
        sid = str(sub["atif"].get("trajectory_id") or sub["atif"].get("session_id")
                  or sub["id"].rsplit("/", 1)[-1])
        at = next((i + 1 for i, m in enumerate(msgs) if m.get("role") == "tool"
                   and sid in _refs(m)), len(msgs))
        for m in sub["messages"]:  # (a subagent's own subagent: "<sub>/<its sub>")
            m["subagent"] = f"{sid}/{m['subagent']}" if m.get("subagent") else sid
        record = {"trajectory_id": sid, "messages": len(sub["messages"]),
                  **{k: v for k, v in sub["atif"].items() if v is not None}}
        kept.append(record)
        anchors.setdefault(at, []).append((sub, record))
    out: list[dict] = []
    for i in range(len(msgs) + 1):
        for sub, record in anchors.get(i, []):
            record["at_message"] = len(out)
            out.extend(sub["messages"])
        if i < len(msgs):
            out.append(msgs[i])
    sim["messages"] = out


def write_sims(conn, ctx: ImportContext, meta: RunMeta, sims: list[dict],
               label: Callable[[int, dict], str]) -> EpisodeWriter:
    """A run of simulations read whole (an ATIF file's, a Harbor job's): the run made, each
    simulation validated (named by `label(ord, sim)`) and written in order, the run finished.
    Returns the writer (its counts: summary_warnings)."""
    ew = EpisodeWriter(conn, ctx.start_run(conn, meta))
    for ord_, sim in enumerate(sims):
        try:
            validate_sim(sim, label(ord_, sim))
        except RecordError as exc:
            raise ImportFailure(str(exc)) from None
        ew.add(sim, ord_)
    ew.close()
    ctx.episodes, ctx.messages = ew.episodes, ew.messages
    ctx.finish_run(conn, meta)
    return ew


def import_file(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """Import one ATIF file (a trajectory or a list of them) as one run."""
    ctx.fmt = FORMAT
    ctx.grading = "foreign"  # (before the run is made: provenance reads it)
    try:
        with open(ctx.path, encoding="utf-8-sig") as fh:
            # the store's limits: NaN, integers beyond 64 bits, lone surrogates and nesting
            # too deep are named by field (json.load took them, or failed with a Python error)
            doc = strict_loads(fh.read())
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:  # (the wording every reader uses for this error)
        cut = exc.pos >= len(exc.doc.rstrip())
        raise ImportFailure(describe_json_error(
            exc.msg, f"character {exc.pos} (line {exc.lineno})", cut)) from None
    except JsonStreamError as exc:
        raise ImportFailure(str(exc)) from None
    items = doc if isinstance(doc, list) else [doc]
    sims: list[dict] = []
    for i, t in enumerate(items):
        sims.extend(trajectory_sims(t, f"trajectory #{i}" if isinstance(doc, list)
                                    else "trajectory"))
    versions = sorted({s["atif"]["schema_version"] for s in sims})
    minors = {int(_VERSION.match(v).group(1)) for v in versions}
    agent = sims[0]["atif"]["agent"] if sims else {}
    top = {"domain": "atif", "atif": {"schema_versions": versions,
                                      "agent": {k: agent.get(k) for k in ("name", "version")}}}
    meta = RunMeta(top_keys=["domain", "atif", "simulations"], top=top)
    ew = write_sims(conn, ctx, meta, sims, lambda i, sim: f"episode #{i} ({sim['id']})")
    if any(m < TESTED[0] or m > TESTED[1] for m in minors):
        ctx.warn(f"ATIF {', '.join(versions)}: versions 1.{TESTED[0]}-1.{TESTED[1]} are the "
                 "ones tested here; read best-effort")
    # a repeated trajectory id, an observation answering an unknown call id: counted by the
    # writer, as the tau2 importers' repeated ids and orphan tool results are
    ctx.warnings.extend(ctx.summary_warnings(ew, record="trajectory",
                                             result="observation result"))
    n_subs = sum(len(s["atif"].get("subagents") or []) for s in sims)
    if n_subs:
        ctx.warn(f"{n_subs} embedded subagent trajectory(ies) kept in their parent's episode, "
                 "after the observation that refers to them (steps marked `subagent`): not "
                 "tasks of their own")
    ctx.warn("ATIF trajectories carry no gold: map an outcome with `t2e gate --reward-attr "
             "NAME` (root extra and final_metrics fields)")
    model = agent.get("model_name") if isinstance(agent.get("model_name"), str) else None
    conn.execute("UPDATE runs SET grading = 'foreign', agent_model = coalesce(?, agent_model) "
                 "WHERE run_id = ?", (model, ctx.run_id))
