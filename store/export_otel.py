"""`t2e export RUN --format otel`: a run as OTLP/JSON OpenTelemetry GenAI spans.

One trace per episode, one request (JSON line) per episode, as the collector's file exporter
writes them, so the file streams both ways. Each episode has a conversation id and a trace id
of its own (the importer groups spans by them: `_EpisodeIds`), the same on every export of a
store. Each episode is an `invoke_agent` span carrying the
conversation id and t2e's own fields (`t2e.task_id`, `t2e.trial`, `t2e.seed`,
`t2e.agent_cost`, `t2e.user_cost`, `t2e.reward`, `t2e.reward_info`); each assistant message
is a `chat` span whose `gen_ai.input.messages` is the conversation so far and whose
`gen_ai.output.messages` is that message, with its tokens under the GenAI names
(`gen_ai.usage.input_tokens`, `output_tokens`, `cache_read.input_tokens`,
`cache_creation.input_tokens`) and its cost as `t2e.cost` (the conventions name no cost); each
tool result is an `execute_tool` span with the call's name, id, arguments and result, except a
result that answers no call (unknown or empty id): it is in the next chat input, or after the
last assistant message a `gen_ai.tool.message` event on the root. A string argument that reads
as JSON is written as the JSON text of the string (export_otel_messages.arguments). A
message's kept parts (`content_parts`), a call's other choices (`unchosen_choices`, as the
chat span's output, `t2e.chosen_choice` naming the step's) and the episode's system
instructions are written as export_otel_messages.py says; what the store keeps beside what
the spans say (the simulation's exact times, tau2 1.x reviews and usage, every message's
provider response, timestamp, turn_idx, audio and tick metadata, ATIF's reasoning, the stored
latencies, the simulation's and each message's keys) as export_otel_extra.py says, so the
re-import stores the episode as it was. Times are fixed64. User
messages after the last assistant message (no chat span carries them) ride as
`gen_ai.user.message` events on the root span (their text and the user's own tool calls). A
user message has no span of its own, so the user turns' costs and usage ride on the root as
`t2e.user_turns`, JSON `[[k, cost, {GenAI usage name: count}], ...]` for the k-th user
message (from 0): as extra keys of the message objects they were repeated by every later chat input (the
file was 5% bigger). Only numbers are written (a value of another type an import kept raw is
left out); usage keys other than the four counts (`total_tokens`, say) have no attribute and
are not written. System messages are in the chat inputs where they stand (the conventions
put instructions that are part of the chat history in `gen_ai.input.messages`, role system),
after the last assistant message `gen_ai.system.message` events on the root, and the root of
an episode that has some says how many (`t2e.system_turns`: the importer then reads them as
turns, where a foreign file's are the episode's instructions). The run's world rides once,
on the first episode's root (`run_fields`): `t2e.run.info` (the run's tau2 `info` block,
compact JSON, its policy taken out), `t2e.run.policy` (the policy text) and `t2e.run.tasks`
(the tasks with their gold actions, a compact JSON list): on every root, they would make the
file grow with episodes times tasks. Importing the file back (store/importers/otel.py) gives
every message, system ones included, every tool call and argument, their content parts and
unchosen choices, the system instructions, these costs, counts and
the seed, and the run's info, policy and tasks: the same world id, so the re-import is
re-scored and gated as its original. Span times
are the messages' own: a span ends at its message's timestamp
and starts at the one before (or its latency before, when that is later); where a message
has no timestamp, its span follows the one before and lasts its latency (1 ms where unknown).
The root span runs from the episode's start to its end. An episode with no time of its own
(no start time, timestamp or first message time) is laid out from the run's time
(`run_time_ns`: its file's `timestamp`, else when t2e made the run), its root saying
`t2e.time_source` "run": OTLP makes a span's start "semantically required" and proto3 JSON
reads an absent one as 0, 1970-01-01, a time no episode had (the import also took such
spans for spans without a time). The resource's `service.name` is the
run's domain (an importer takes it for the domain, as ours does).
"""

from __future__ import annotations

import hashlib
import json
from typing import IO, Any

from .export_otel_extra import latencies as latencies_of
from .export_otel_extra import message_fields, simulation_fields, simulation_keys
from .export_otel_messages import (
    Choices,
    instructions,
    parts,
    root_instructions,
    system_messages,
    usage,
)
from .export_otel_run import MAX_NS as _MAX_NS
from .export_otel_run import run_fields_of, run_time_ns
from .export_otel_run import time_ns as _time_ns
from .importers.otel_spans import cost as cost_of
from .writer import conn_of

_NS = 1_000_000


def _id(*parts: Any, n: int = 32) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:n]


def _val(v: Any) -> dict:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}


def _attrs(d: dict, null: str | None = None) -> list[dict]:
    """OTLP attributes of the values that are not None; `null`: the one key written even when
    None, with an empty value (OTLP's null: a tool result captured as null, which the import
    tells apart from a result not captured, an absent attribute)."""
    return [{"key": k, "value": _val(v) if v is not None else {}} for k, v in d.items()
            if v is not None or k == null]


def _start_ns(sim: dict, msgs: list[dict]) -> int | None:
    """The episode's own start: its start time, timestamp or first message's time."""
    for v in (sim.get("start_time"), sim.get("timestamp"),
              *(m.get("timestamp") for m in msgs[:1])):
        t = _time_ns(v)
        if t is not None and t > 0:
            return t
    return None


def episode_request(run: dict, sim: dict, latencies: list[float | None],
                    ids: tuple[str, str] | None = None, run_attrs: dict | None = None,
                    run_ns: int = 0) -> dict:
    """One episode (a tau2 SimulationRun dict) as one ExportTraceServiceRequest. `ids`: its
    (conversation id, trace id), unique in the run (write_otel's `_EpisodeIds`); by default
    those of a simulation whose id is unique in its run. `run_attrs`: more attributes for its
    root (the first episode's: `run_fields`). `run_ns`: the run's time, where an episode
    without a time of its own is laid out from (its root says `t2e.time_source` "run")."""
    conv, trace = ids or (f"{run['run_id']}:{sim.get('id')}",
                          _id(run["run_id"], sim.get("id"), sim.get("task_id"), sim.get("trial")))
    root_id = _id(trace, "root", n=16)
    msgs = [m for m in sim.get("messages") or [] if isinstance(m, dict)]
    last_assistant = max((i for i, m in enumerate(msgs) if m.get("role") == "assistant"),
                         default=-1)
    calls = {c.get("id"): c for m in msgs for c in m.get("tool_calls") or [] if c.get("id")}
    earlier: set = set()  # ids of the calls made before the message at hand: a result
    # answers a call only when its call came first (the importers' own rule)
    own_start = _start_ns(sim, msgs)
    t = start = run_ns if own_start is None else own_start
    spans: list[dict] = []
    events: list[dict] = []
    # the system instructions: at the head of every chat input where system messages there
    # are no turns and a chat span follows, else on the root (export_otel_messages)
    texts, si_parts = instructions(sim)
    heads = system_messages(texts) if texts and last_assistant >= 0 and not any(
        m.get("role") == "system" for m in msgs) else []
    history: list[dict] = list(heads)
    choices = Choices(msgs)  # (a call's several choices: its output; the messages it carried)
    # user turns' costs and usage ([which user message (0: the first), cost, usage]): a user
    # turn has no span of its own, and inside the chat inputs they would be repeated by every
    # later call, as the history is. Counted among user messages: an importer may add turns
    # of other roles (an assistant turn for a tool call it cannot place)
    turns: list[list] = []
    n_user = n_system = 0
    spanned: dict[int, float] = {}  # message place -> its span's duration (ms), as read back
    for i, m in enumerate(msgs):
        lat = latencies[i] if i < len(latencies) else None
        dur = int(lat * _NS) if isinstance(lat, (int, float)) and lat > 0 else None
        at = _time_ns(m.get("timestamp"))
        if at is not None and at > t:  # the message's own time: its span ends there
            t, end = max(t, at - dur) if dur else t, at
        else:
            end = t + (dur or _NS)
        role = m.get("role")
        # parts kept beside what an event's attributes carry (no chat input has it after the
        # last assistant message): our own attribute, as for a span's result below
        kept = None if i <= last_assistant or m.get("content_parts") is None \
            else json.dumps(m["content_parts"], ensure_ascii=False)
        if role == "assistant" and i not in choices.carried:
            out, chosen = choices.output(i, m)
            a = {"gen_ai.operation.name": "chat", "gen_ai.request.model": run.get("agent_model"),
                 "gen_ai.provider.name": m["provider"] if type(m.get("provider")) is str
                 and m["provider"] else None,
                 "gen_ai.conversation.id": conv,
                 "gen_ai.input.messages": json.dumps(history, ensure_ascii=False),
                 "gen_ai.output.messages": json.dumps([parts(x) for x in out],
                                                      ensure_ascii=False),
                 "t2e.chosen_choice": chosen,
                 **usage(m), "t2e.cost": cost_of(m.get("cost"))}
            spans.append(_span(trace, _id(trace, i, n=16), root_id,
                               f"chat {run.get('agent_model') or ''}".strip(), a, t, end))
            spanned[i] = _ms(t, end)
        elif role == "assistant":
            pass  # (it went on from the call before, in that call's output: no call of its own)
        elif role == "tool" and m.get("id") not in earlier and not (
                m.get("requestor") == "user" and m.get("id") and i < last_assistant):
            # a result that answers no call (its id unknown or empty): no tool was executed
            # that a span could name (a span without a name or arguments made the importer
            # make up a call). It is in the next chat input, as it was in the conversation;
            # after the last assistant message (no chat input follows), an event on the root.
            # (A user's own result with a call id keeps its span while a chat input follows:
            # the importer holds such a result until the input that has it, error and all.)
            if i > last_assistant:
                events.append({"timeUnixNano": str(min(end, _MAX_NS - 1)),
                               "name": "gen_ai.tool.message",
                               "attributes": _attrs({
                                   "id": m.get("id"), "content": m.get("content"),
                                   "t2e.requestor": m.get("requestor"),
                                   "t2e.error": True if m.get("error") else None,
                                   "t2e.content_parts": kept})})
        elif role == "tool":
            c = calls.get(m.get("id")) or {}
            a = {"gen_ai.operation.name": "execute_tool",
                 "gen_ai.tool.name": "" if c.get("name") is None else c.get("name"),
                 "gen_ai.tool.call.id": m.get("id"),
                 "gen_ai.tool.call.arguments": json.dumps(c.get("arguments"),
                                                          ensure_ascii=False),
                 "gen_ai.tool.call.result": m.get("content"),
                 "t2e.requestor": m.get("requestor"), "t2e.content_parts": kept}
            spans.append(_span(trace, _id(trace, i, n=16), root_id,
                               f"execute_tool {c.get('name') or ''}".strip(), a, t, end,
                               error=bool(m.get("error")), null="gen_ai.tool.call.result"))
            spanned[i] = _ms(t, end)
        elif role == "user" and i > last_assistant:
            calls_made = m.get("tool_calls") or None  # (tau2 dual-control: the user's own)
            events.append({"timeUnixNano": str(min(end, _MAX_NS - 1)), "name": "gen_ai.user.message",
                           "attributes": _attrs({"content": m.get("content"),
                                                 "tool_calls": calls_made,
                                                 "t2e.content_parts": kept})})
        elif role == "system" and i > last_assistant:
            events.append({"timeUnixNano": str(min(end, _MAX_NS - 1)),
                           "name": "gen_ai.system.message",
                           "attributes": _attrs({"content": m.get("content"),
                                                 "t2e.content_parts": kept})})
        n_system += role == "system"
        if role == "user":
            cost, counts = cost_of(m.get("cost")), usage(m)
            if cost is not None or counts:
                turns.append([n_user, cost, counts or None])
            n_user += 1
        history.append(parts(m))
        earlier.update(c.get("id") for c in m.get("tool_calls") or [] if c.get("id"))
        t = end + 1000  # the next span starts after this one (1 µs: their order is kept)
    ri = sim.get("reward_info") if isinstance(sim.get("reward_info"), dict) else None
    kept = foreign_attributes(sim)
    agent = kept.get("gen_ai.agent.name") or run.get("name")
    # a foreign trace's own root attributes first (its outcomes: what `--reward-attr` maps,
    # its agent's name): ours after them, where the two name one thing
    root = {**kept, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": conv,
            "t2e.sim_id": None if sim.get("id") is None else str(sim["id"]),
            "t2e.task_id": None if sim.get("task_id") is None else str(sim["task_id"]),
            "t2e.trial": sim.get("trial"),
            "t2e.seed": sim.get("seed") if type(sim.get("seed")) is int else None,
            "t2e.agent_cost": cost_of(sim.get("agent_cost")),
            "t2e.user_cost": cost_of(sim.get("user_cost")),
            "t2e.user_turns": json.dumps(turns) if turns else None,
            "t2e.termination_reason": sim.get("termination_reason"),
            "t2e.system_turns": n_system or None,
            "t2e.time_source": "run" if own_start is None else None,
            "t2e.simulation_fields": simulation_fields(sim),
            "t2e.simulation_keys": simulation_keys(sim),
            "t2e.message_fields": message_fields(msgs, {i for i in spanned if msgs[i].get(
                "role") == "assistant"}, run.get("agent_model")),
            "t2e.latencies": latencies_of(msgs, latencies, spanned),
            "gen_ai.system_instructions": root_instructions(None if heads else texts, si_parts),
            "t2e.reward": None if ri is None or ri.get("reward") is None
            else float(ri["reward"]),
            "t2e.reward_info": None if ri is None else json.dumps(ri, ensure_ascii=False),
            **(run_attrs or {})}
    end = _time_ns(sim.get("end_time"))
    own = sim.get("otel") if isinstance(sim.get("otel"), dict) else {}
    name = own.get("root_span") if isinstance(own.get("root_span"), str) else None
    root_span = _span(trace, root_id, None, name or f"invoke_agent {agent or ''}".strip(),
                      root, start, max(t, end or 0))
    if events:
        root_span["events"] = events
    return {"resourceSpans": [{"resource": {"attributes": _attrs(
        {"service.name": run.get("domain") or "t2e", "t2e.run_id": run["run_id"]})},
        "scopeSpans": [{"scope": {"name": "t2e"}, "spans": [root_span, *spans]}]}]}


def _ms(start: int, end: int) -> float | None:
    """A span's latency as the import reads it from the times written (ms; none when it
    ends before it starts)."""
    start, end = min(start, _MAX_NS - 1), min(end, _MAX_NS - 1)
    return (end - start) / 1e6 if end >= start else None


def foreign_attributes(sim: dict) -> dict:
    """The attributes an imported foreign trace kept from its root (OpenTelemetry) or its
    trajectory (ATIF: its extra fields and final metrics): the values an attribute can hold,
    ours (`t2e.*`) left to the export to write."""
    from .outcomes import trace_attributes

    return {k: v for k, v in trace_attributes(sim).items() if isinstance(k, str)
            and not k.startswith("t2e.") and isinstance(v, (str, int, float, bool))}


def _span(trace: str, sid: str, parent: str | None, name: str, a: dict, start: int, end: int,
          *, error: bool = False, null: str | None = None) -> dict:
    # (a time laid out past the last fixed64 from one near it is held there: still in order)
    out = {"traceId": trace, "spanId": sid, "name": name, "kind": 1,
           "startTimeUnixNano": str(min(start, _MAX_NS - 1)),
           "endTimeUnixNano": str(min(end, _MAX_NS - 1)),
           "attributes": _attrs(a, null), "status": {"code": 2 if error else 0}}
    if parent:
        out["parentSpanId"] = parent
    return out


def write_otel(db: Any, run_id: str, fh: IO[str]) -> int:
    """Write the run as OTLP/JSON lines (one request per episode); returns the episode count."""
    from .exporters import messages, run_header, simulation

    conn = conn_of(db)
    row = conn.execute("SELECT run_id, name, agent_model, domain FROM runs WHERE run_id = ?",
                       (run_id,)).fetchone()
    run = {"run_id": row[0], "name": row[1], "agent_model": row[2], "domain": row[3]}
    _, top = run_header(db, run_id, provenance=False)
    first: dict | None = run_fields_of(top)
    run_ns = run_time_ns(top, conn, run_id)
    n = 0
    ids = _EpisodeIds(conn, run_id)
    cur = conn.execute("SELECT * FROM episodes WHERE run_id = ? AND status = 'done' "
                       "ORDER BY ord, episode_id", (run_id,))
    cols = [d[0] for d in cur.description]
    while rows := cur.fetchmany(64):
        for r in rows:
            ep = dict(zip(cols, r))
            sim = simulation(conn, ep)
            # the stored steps, whatever the source kept (tau2 1.x voice runs: messages null)
            sim["messages"] = messages(conn, ep["episode_id"])
            lat = [x for (x,) in conn.execute("SELECT latency_ms FROM steps WHERE episode_id = ? "
                                              "ORDER BY idx", (ep["episode_id"],))]
            fh.write(json.dumps(episode_request(run, sim, lat, ids.of(ep, sim), first,
                                                run_ns), ensure_ascii=False) + "\n")
            first = None
            n += 1
    return n


class _EpisodeIds:
    """Each episode's conversation and trace ids: the importer groups spans by conversation id
    (else by trace), so two episodes sharing either come back as one. An episode whose
    simulation id is unique in the run keeps RUN:ID and the trace id hashed from its simulation
    id, task and trial (as before); one with no simulation id, or one repeated (the importers
    keep both, with a warning; ATIF trajectory ids alike), takes RUN:KEY, KEY being its
    episode key (unique in the run: the store's constraint, the same on every export), and a
    trace id hashed from that. A clash with another episode's ids (a simulation id spelled
    like another's key) is moved on by a counter, in export order."""

    def __init__(self, conn: Any, run_id: str):
        self.run_id = run_id
        self.repeated: set[str] = set()
        self.plain: set[str] = set()  # conversation ids of the unique simulation ids
        for sid, k in conn.execute("SELECT sim_id, count(*) FROM episodes WHERE run_id = ? "
                                   "AND status = 'done' AND sim_id IS NOT NULL GROUP BY sim_id",
                                   (run_id,)):
            if k > 1:
                self.repeated.add(sid)
            else:
                self.plain.add(f"{run_id}:{sid}")
        self.convs: set[str] = set()
        self.traces: set[str] = set()

    def of(self, ep: dict, sim: dict) -> tuple[str, str]:
        run_id, sid = self.run_id, ep.get("sim_id")
        if sid is not None and sid not in self.repeated:
            conv = f"{run_id}:{sid}"
            trace = _id(run_id, sim.get("id"), sim.get("task_id"), sim.get("trial"))
        else:
            base = conv = f"{run_id}:{ep['episode_key']}"
            k = 0
            while conv in self.plain or conv in self.convs:
                k += 1
                conv = f"{base}#{k}"
            trace = _id(run_id, conv)
        k = 0
        while trace in self.traces:
            k += 1
            trace = _id(trace, k)
        self.convs.add(conv)
        self.traces.add(trace)
        return conv, trace
