"""One OpenTelemetry conversation (its spans, in time order) -> a tau2-shaped simulation.

Used by otel.py; see its docstring for the grouping. Messages come from chat spans (the new
input of each call, then its output), tool calls and results from execute_tool spans, and
transcript events on other spans after the last chat input (which repeats those before it);
"(content not captured)" stands in where capture was off.
A tool result answers the message that made its call; a user's own call (tau2 dual-control)
is made by a user message that comes in the next chat input, after the tool span, so its
result waits for that input and takes its place there. A call no message makes gets an
assistant turn of its own. A result placed from its tool span keeps the parts a later
input's copy of it has beside the response (`content_parts`: a span has no place for them).
Our own export's fields come back where present: the root's `t2e.seed`, `t2e.agent_cost`,
`t2e.user_cost` (and trial, task, reward), each chat span's cost and usage and, for several
choices, the step's (`t2e.chosen_choice`), the kept parts of a message no chat input carries
(`t2e.content_parts` on its tool span or event), and the user turns' (`t2e.user_turns`, see
store/export_otel.py); a value of the wrong type is left out,
never stored and never a refused file. A root that says `t2e.system_turns` (our export, for an
episode with system messages) has its system messages read as turns where they stand (in the
chat inputs, and after the last chat span as `gen_ai.system.message` events on the root);
elsewhere they are the episode's instructions. The run's fields on a root (`t2e.run.*`:
otel_run.py) go to the importer under `otel_run.SIM_KEY`.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Any

from . import otel_spans as S
from .otel_choices import unchosen, went_on
from .otel_convert import result_id
from .otel_inputs import Inputs, Output, appended, output_items, parse_added
from .otel_order import file_order, past_last_input
from .otel_sim import kept_parts, sim_of
from .otel_spans import INPUT
from .otel_spans import SYSTEM_INSTRUCTIONS as _SI

# transcript events read on spans other than chat spans (e.g. the last turns, on the root)
_EVENT_ROLES = {"gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant",
                "gen_ai.tool.message": "tool", "gen_ai.system.message": "system"}


def build_episode(key: str, by_conv: bool, spans: list[list],
                  models: Counter | None = None) -> tuple[dict, list, int, bool]:
    """One conversation's spans (time order) -> (tau2-shaped simulation, per-message latency
    in ms, count of messages whose content was not captured, whether its messages need
    episodes.validate_sim's checks). Every message made here is an object with a text role,
    its tool_calls a list of objects and its usage counts (otel_spans.usage); only a call's
    name is as the file gave it: the checks are needed where one is not text."""
    made = None  # the seqs of the spans without a start time placed by file order
    if not spans[0][4] and spans[-1][4]:  # (such spans sort first: before every time)
        spans, made = file_order(spans)
    backwards = 0  # spans that end before they start
    root = next((sp for sp in spans if sp[10] == "agent"), None)
    if root is None:  # (else the first span whose parent is not among them)
        ids = {sp[6] for sp in spans}
        root = next((sp for sp in spans if sp[7] not in ids), spans[0])
    msgs: list[dict] = []
    lat: list[float | None] = []
    consumed = 0
    # the last chat span whose input was read (its text: full_input) and that input's length
    prev: tuple[list, int] | None = None
    prev_out: Output | None = None  # its output's text and items (otel_inputs.output_items)
    # that input's items as parsed (when known): a later input that starts with them by value
    # continues the conversation, however it is serialised (spaces, key order of the text)
    hist: list | None = None
    full = Inputs(spans)
    # the results placed from tool spans, by call id (a later input's copy of one is not a
    # message again; the parts it keeps beside the result are the result's)
    tool_ids: dict[str, dict] = {}
    idless = 0  # results placed from tool spans without any call id, not yet met in an input
    call_ids: set[str] = set()
    odd_names: list = []  # emitted calls whose name is not text (validate_sim refuses them)
    system: list[Any] = []
    # gen_ai.system_instructions (semconv 1.37+): the last value read, and its parts that are
    # not text (kept beside the instructions)
    last_si: Any = None
    si_parts: list = []
    # our export's episode with system messages: they are turns, not instructions
    system_turns = type(root[1].get("t2e.system_turns")) is int
    nc = 0
    failed = 0  # chat calls with an error status and no output (a failed call, retried)
    # the last chat call that returned several choices (n > 1), until the next chat span:
    # (its step's index, the choices, the step's usage and model, the input items before it)
    choices: tuple[int, list, dict, int] | None = None
    n_choices = 0  # such calls

    # results of the user's own tool calls (tau2 dual-control, `t2e.requestor` user) whose
    # call is not known yet: the user message that makes it comes in the next chat span's
    # input, after the tool span. Each waits for that input, which places it (call id -> the
    # call, the result, its latency)
    waiting: dict[str, tuple[dict, dict, float | None]] = {}
    # results of calls no message has made yet (place's `hold`): the next chat input may make
    # the call and give the result; held until the next item that adds a message
    held: list[tuple[dict, dict, float | None]] = []

    # (no closure here may name itself: that is a reference cycle, and the import runs
    # without the cyclic collector, so every episode's messages would stay in memory)
    def emit(m: dict, ms: float | None = None) -> None:
        msgs.append(m)
        lat.append(ms)
        for c in m.get("tool_calls") or []:
            if c.get("id"):
                call_ids.add(c["id"])
            if type(c["name"]) is not str:
                odd_names.append(c)

    def place(call: dict, result: dict, ms: float | None, hold: list | None = None) -> None:
        """A tool result whose call no message has made: the call goes to the last assistant
        turn when that turn's content was not captured, else to an assistant turn of its own.
        `hold`: where a result with a call id goes instead, unless capture was off (the next
        chat input may make the call: the chat span that made it was sampled out), and every
        result after it until the caller places them."""
        if hold:  # (after one held: in their order)
            hold.append((call, result, ms))
            return
        # the assistant turn this call belongs to: the last assistant message, past the
        # results of its earlier calls
        nonlocal idless
        j = len(msgs) - 1
        while j >= 0 and msgs[j]["role"] == "tool":
            j -= 1
        last = msgs[j] if j >= 0 and msgs[j]["role"] == "assistant" else None
        # an id-less span (the conventions only recommend gen_ai.tool.call.id) of a call the
        # chat output already listed, not yet answered: its result answers that call, by its
        # id, so the next input's copy of the result is known (it was kept a second time)
        same = None if last is None or call["id"] else next(
            (c for c in last.get("tool_calls") or () if c.get("name") == call["name"]
             and c.get("arguments") == call["arguments"] and c.get("id") not in tool_ids),
            None)
        if same is not None:
            call["id"] = result["id"] = str(same.get("id") or "")
        elif last is not None and ((said := last.get("content")) == S.NOT_CAPTURED or (
                said is None and not (hold is not None and call["id"]))):
            last.setdefault("tool_calls", []).append(call)
            if call["id"]:
                call_ids.add(call["id"])
        elif hold is not None and call["id"]:
            hold.append((call, result, ms))
            return
        else:
            emit({"role": "assistant", "content": None, "tool_calls": [call]})
        emit(result, ms)
        if call["id"]:
            tool_ids[call["id"]] = result
        else:  # no id to know its copy by: the next id-less result of an input is it
            idless += 1

    items: list[tuple[int, int, Any]] = []
    first_event = None  # (time, span) of the earliest transcript event
    for i, sp in enumerate(spans):
        items.append((sp[4], i, sp))
        if sp[10] != "chat" and sp[2]:
            for ev in sp[2]:  # transcript events on non-chat spans (e.g. a last user turn)
                name = ev.get("name")
                # a tool message only on the root, where our export puts a result that answers
                # no call: on a tool span it is the tool's input (Strands Agents), not a result;
                # a system message only on our export's root (system turns after the last call)
                if name in _EVENT_ROLES and (name != "gen_ai.tool.message" or sp is root) and (
                        name != "gen_ai.system.message" or (system_turns and sp is root)):
                    items.append((ev["t"] or sp[5], i, ev))
                    if first_event is None or (ev["t"] or sp[5], i) < first_event:
                        first_event = (ev["t"] or sp[5], i)
    if first_event is not None:
        items = past_last_input(items, spans, first_event)
    items.sort(key=itemgetter(0, 1))  # (time, then the span's place: never the item)
    try:
        for _, i, it in items:
            if isinstance(it, dict):  # an event
                role = _EVENT_ROLES[it["name"]]
                ea = it["attributes"]
                try:  # (one message; more where its content is Strands Agents' blocks)
                    ms = S.event_messages({**ea, "role": role})
                except S.BadContent as exc:
                    raise S.BadContent(f"event {it['name']!r}: {exc}") from None
                for h in held:
                    place(*h)
                held.clear()
                if len(ms) == 1 and (kept := kept_parts(ea)) is not None:
                    ms[0]["content_parts"] = kept  # (our export's, as on a tool span)
                for m in ms:
                    if m["role"] == "tool":  # (a result that answers no call: our export's)
                        if ea.get("t2e.error") is True:
                            m["error"] = True
                        if ea.get("t2e.requestor") == "user":
                            m["requestor"] = "user"
                    emit(m)
                continue
            name, a, events, err, start, end = it[:6]
            k = it[10]
            if end and start:
                ms = (end - start) / 1e6
                if ms < 0 or made is not None and it[11] in made:  # (no latency to tell)
                    backwards += ms < 0
                    ms = None
            else:
                ms = None
            if k == "chat":
                pend, choices = choices, None  # (the choices of the call before this one)
                text = a.get(INPUT)
                ref = it[12]
                tail = None
                if ref is not None and prev is not None and prev[0][11] == ref:
                    # the spill kept only what this input adds to the previous one's: parse that
                    tail = parse_added(text, prev_out)
                if tail is None:
                    if ref is not None:
                        text = full.input(it)
                    tail = appended(text, full.input(prev[0]), prev_out) if prev else None
                prev_out = None
                if tail is not None:  # only the new messages were parsed
                    # (the output's items as read: the next input starts with them, see
                    # parse_added)
                    inp, prev_out = None, output_items(v := a.get(S.OUTPUT))
                    out = S._messages(v, S.OUTPUT) if prev_out is None \
                        else S.messages(prev_out[1], S.OUTPUT)
                    if out is None:  # chat_io's other forms, without the input already parsed
                        out = S.chat_io({**a, "gen_ai.input.messages": None}, events)[1]
                    fresh, n_inp = tail[max(consumed - prev[1], 0):], prev[1] + len(tail)
                    if hist is not None:
                        hist.extend(tail)  # (ours: a copy, below; not a copy per call)
                else:
                    inp, out = S.chat_io(a if ref is None else {**a, INPUT: text}, events)
                    n_inp = len(inp) if inp is not None else 0
                    # the same rule as the path above: an input that goes on from the last one
                    # (by value: it starts with all of it, and adds at least one item, as
                    # `extends` asks of the text) gives what is past the messages already emitted
                    # (none, when it is shorter); another conversation's input, or the same input
                    # again (a second sample), is emitted whole
                    # (after a call of several choices, going on carries one of them)
                    goes_on = n_inp >= consumed + (pend is not None) or (prev is not None and hist
                                                     and n_inp > len(hist)
                                                     and inp[:len(hist)] == hist)
                    fresh = (inp[consumed:] if goes_on else inp) if inp is not None else None
                    hist = list(inp) if isinstance(inp, list) else None
                prev = (it, n_inp) if isinstance(text, str) and (inp is not None
                                                                  or tail is not None) else None
                if held:  # where this input makes a held result's call and has the result,
                    here = _made_and_answered(fresh) if fresh else ()  # it goes there
                    for h in held:
                        if h[0]["id"] and h[0]["id"] in here and h[0]["id"] not in waiting:
                            waiting[h[0]["id"]] = h
                        else:
                            place(*h)
                    held.clear()
                if fresh is None:
                    if not msgs:
                        emit({"role": "user", "content": S.NOT_CAPTURED})
                        nc += 1
                else:
                    # the input repeats the conversation so far: convert only what is new
                    if pend is not None and n_inp - len(fresh) != pend[3]:
                        pend = None  # (not the conversation the choices were made in)
                    for j, raw in enumerate(fresh):
                        if (rid := result_id(raw)) in tool_ids and rid not in waiting:
                            pend = None  # (a result is no choice: went_on)
                            continue  # the copy of a result placed from its tool span
                        try:
                            got = S.message(raw)
                        except S.BadContent as exc:  # (its place in the whole input)
                            raise S.BadContent(f"{INPUT}[{n_inp - len(fresh) + j}]: {exc}") \
                                from None
                        # (one message, or a result per call answered: S.each, inline)
                        for m in got if type(got) is list else (got,):
                            if pend is not None:  # the choice that went on is the step
                                if went_on(m, pend, msgs, j == 0):
                                    if j == 0:
                                        continue  # (it is there already)
                                else:
                                    pend = None
                            if m["role"] == "system" and not system_turns:
                                if (c := m.get("content")) not in system:  # (once per text)
                                    system.append(c)
                            elif waiting and m["role"] == "tool" and m.get("id") in waiting:
                                # a user's tool result whose span came first: where the input
                                # puts it (after the message making its call, in the results'
                                # order)
                                _, result, rms = waiting.pop(m["id"])
                                if "content_parts" in m:
                                    result["content_parts"] = m["content_parts"]
                                emit(result, rms)
                                tool_ids[m["id"]] = result
                            elif m["role"] != "tool" or m.get("id") not in tool_ids:
                                if idless and m["role"] == "tool" and not m.get("id"):
                                    idless -= 1  # the copy of an id-less span's result
                                else:
                                    emit(m)
                            elif "content_parts" in m:  # (what the span cannot say)
                                tool_ids[m["id"]].setdefault("content_parts", m["content_parts"])
                    consumed = n_inp
                if _SI in a and a[_SI] != last_si:  # (each call carries them: read once)
                    last_si = _instructions(a[_SI], system, si_parts)
                extra = S.step_fields(a)  # (usage, cost, model, provider)
                if models is not None and "model" in extra:
                    models[extra["model"]] += 1
                if out is None and err:  # a failed call (no answer): said so, not "not captured"
                    why = a.get("error.type")
                    emit({"role": "assistant", "content": S.CALL_FAILED if type(why) is not str
                          else f"{S.CALL_FAILED[:-1]}: {why[:200]})", **extra}, ms)
                    failed += 1
                elif out is None:
                    emit({"role": "assistant", "content": S.NOT_CAPTURED, **extra}, ms)
                    nc += 1
                elif len(out) > 1 and all(m["role"] == "assistant" for m in out):
                    # several choices: the first (our export's t2e.chosen_choice says which)
                    # is the step until the next input says which went on (went_on); not
                    # counted among the input items the next one has
                    k = a.get("t2e.chosen_choice")
                    k = k if type(k) is int and 0 <= k < len(out) else 0
                    emit({**out[k], **extra, "unchosen_choices": unchosen(out, k)}, ms)
                    for m in out:  # (a tool span may answer another choice's call; the
                        # next input may make another choice the step: went_on)
                        for c in m.get("tool_calls") or ():
                            if c["id"]:
                                call_ids.add(c["id"])
                            if type(c["name"]) is not str:
                                odd_names.append(c)
                    choices = (len(msgs) - 1, out, extra, consumed)
                    n_choices += 1
                else:
                    for j, m in enumerate(out):
                        emit({**m, **extra} if j == 0 else m, ms)
                    # (the items the next input repeats: a message of several results is one)
                    consumed += len(out) - out.added if type(out) is not list else len(out)
            elif k == "agent" and _SI in a:  # (an agent's instructions)
                last_si = _instructions(a[_SI], system, si_parts)
            elif k == "tool":
                call, result, captured = S.tool_call(a, name, events)
                if not captured or result is S.NOT_CAPTURED:  # (arguments or result)
                    nc += 1
                out_msg = {"role": "tool", "id": call["id"], "content": result,
                           "requestor": call["requestor"], "error": bool(err)}
                if (kept := kept_parts(a)) is not None:  # (our export's: no input has it)
                    out_msg["content_parts"] = kept
                if call["id"] and call["id"] in call_ids:
                    if held:
                        for h in held:
                            place(*h)
                        held.clear()
                    emit(out_msg, ms)
                    tool_ids[call["id"]] = out_msg
                elif call["requestor"] == "user" and call["id"] and call["id"] not in waiting:
                    waiting[call["id"]] = (S.arguments(call), out_msg, ms)
                else:  # (only here is the span's call kept: its arguments read)
                    place(S.arguments(call), out_msg, ms, held)
    except S.BadContent as exc:  # a message list that is none: named with its span
        raise S.BadContent(f"span {str(spans[i][6])[:40]} ({str(spans[i][0])[:80]!r}): {exc}") \
            from None
    for h in held:  # (after the last chat span: no input makes these calls)
        place(*h)
    while waiting:  # no user message made these calls: placed as any unknown call is
        place(*waiting.pop(next(iter(waiting))))
    sim = sim_of(key, by_conv, spans, root, msgs, system, nc, lat)
    if failed:
        sim["otel"]["failed_calls"] = failed
    if n_choices:
        sim["otel"]["several_choices"] = n_choices
    if si_parts:
        sim["otel"]["system_instructions_parts"] = si_parts
    if backwards:
        sim["otel"]["spans_ending_before_start"] = backwards
    if made:
        sim["otel"]["spans_without_start"] = len(made)
    return sim, lat, nc, bool(odd_names)


def _instructions(v: Any, system: list, parts: list) -> Any:
    """A span's gen_ai.system_instructions added to the episode's instructions (`system`, as
    the system messages of its inputs are; a text already there is not added again), its
    parts that are not text to `parts`. Returns `v` (the value last read)."""
    try:
        text, other = S.instructions(v)
    except S.BadContent as exc:
        raise S.BadContent(f"{_SI}: {exc}") from None
    if text is not None and text not in system:
        system.append(text)
    for p in other or ():
        if p not in parts:
            parts.append(p)
    return v


def _made_and_answered(fresh: list) -> set:
    """The call ids whose call and result are both among these new input messages."""
    made, answered = set(), set()
    for raw in fresh:
        try:
            got = S.message(raw)
        except S.BadContent:
            return set()  # (the loop that reads the input names the message)
        for m in S.each(got):
            if m["role"] == "tool":
                answered.add(m.get("id"))
            made.update(c.get("id") for c in m.get("tool_calls") or ())
    return made & answered
