"""The native t2e JSONL format: one episode per line (see store/formats.md).

Line 1 may be a run header `{"type": "run", ...}` carrying the tau2 top-level keys (`info`,
`tasks`, `timestamp`, ...) and `name`. Every other line is an episode: a tau2 SimulationRun
(`task_id`, `trial`, `termination_reason`, `reward_info`, `messages` ...) with optional
`"type": "episode"`, `"run"` (must be the same on every line: one file is one run) and `"reward"`
(shortcut for reward_info.reward). Messages are tau2 message dicts; OpenAI-style tool calls
(`{"function": {"name", "arguments": "<json>"}}`) and `tool_call_id` are converted.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..ranges import reward_problem
from .common import ImportContext, ImportFailure, RunMeta, open_regular, without_bom
from .episodes import EpisodeWriter, RecordError, sim_label, validate_sim
from .json_fast import loads_text
from .jsonstream import JsonStreamError, describe_json_error, loads

FORMAT = "t2e-jsonl"
_ALIASES = {"task": "task_id", "termination": "termination_reason"}
_LINE_ONLY = ("type", "run", "reward")


def import_file(conn: sqlite3.Connection, ctx: ImportContext) -> None:
    """Import one JSONL file into the store (the caller holds the transaction)."""
    ctx.fmt = FORMAT
    meta: RunMeta | None = None
    ew: EpisodeWriter | None = None
    run_label: Any = None
    converted = 0
    ord_ = 0
    named = False  # the header's name wins over the episodes' `run` field
    with open_regular(ctx.path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = without_bom(raw)
            if not line.strip():
                continue
            obj = _parse_line(line, lineno, len(raw) - len(line))
            if not isinstance(obj, dict):
                raise ImportFailure(f"line {lineno}: expected a JSON object, found "
                                    f"{type(obj).__name__}")
            kind = obj.get("type", "episode")
            if kind == "run":
                if meta is not None:
                    raise ImportFailure(f"line {lineno}: a run header must be the first line")
                meta = _header_meta(obj, lineno)
                if isinstance(obj.get("name"), str) and ctx.name_from_file:
                    ctx.name = obj["name"]
                    named = True
                continue
            if kind != "episode":
                raise ImportFailure(f"line {lineno}: unknown record type {kind!r} "
                                    "(expected 'run' or 'episode')")
            if ew is None:
                if meta is None:
                    meta = RunMeta(top_keys=["simulations"], top={})
                    ctx.warn("no run header line: no info block and no embedded tasks")
                if ctx.name_from_file and isinstance(obj.get("run"), str) and not named:
                    ctx.name = obj["run"]
                ew = EpisodeWriter(conn, ctx.start_run(conn, meta))
                run_label = obj.get("run")
            elif obj.get("run") != run_label:
                raise ImportFailure(f"line {lineno}: run {obj.get('run')!r} differs from "
                                    f"{run_label!r} on the first episode line (one file holds "
                                    "one run: split the file)")
            sim, n = _to_sim(obj, lineno)
            converted += n
            label = f"line {lineno}: " + sim_label(sim, ord_)
            try:
                validate_sim(sim, label)
            except RecordError as exc:
                raise ImportFailure(str(exc)) from None
            ew.add(sim, ord_, likely_task_id=ctx.check_label(sim, meta.tasks, label))
            ord_ += 1
    if meta is None:
        raise ImportFailure("the file holds no records (empty JSONL)")
    if ew is None:
        ctx.start_run(conn, meta)
        ctx.warn("no episode lines: the run is empty")
    else:
        ew.close()
    if converted:
        ctx.warn(f"{converted} OpenAI-style tool call(s)/result(s) converted to tau2 shape")
    if ew is not None:
        ctx.warnings.extend(ctx.summary_warnings(ew))
        ctx.episodes, ctx.messages = ew.episodes, ew.messages
    ctx.finish_run(conn, meta)


def _parse_line(raw: bytes, lineno: int, skipped: int = 0) -> Any:
    """One line's JSON; `skipped`: the bytes of a byte order mark before it (counted in the
    byte offsets named)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"line {lineno}: invalid UTF-8 at byte {exc.start + skipped} of "
                            "the line") from None
    text = text.rstrip("\r\n")  # else a line cut inside a string ends in a control character
    try:
        return loads(text)  # json.loads with the store's limits (numbers, surrogates, depth)
    except JsonStreamError as exc:
        raise ImportFailure(f"line {lineno}: {exc}") from None
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text.rstrip())  # the error is at the very end of the line
        msg = describe_json_error(exc.msg, f"column {exc.colno}", cut)
        raise ImportFailure(f"line {lineno}: {msg.replace('the file ends', 'the line ends')}"
                            ) from None


def _header_meta(obj: dict, lineno: int) -> RunMeta:
    top = {k: v for k, v in obj.items() if k not in ("type", "name")}
    if "info" in top and not isinstance(top["info"], dict):
        raise ImportFailure(f"line {lineno}: run header 'info' should be an object")
    tasks = top.get("tasks")
    if tasks is not None and not (isinstance(tasks, list)
                                  and all(isinstance(t, dict) for t in tasks)):
        raise ImportFailure(f"line {lineno}: run header 'tasks' should be a list of objects")
    keys = [k for k in obj if k not in ("type", "name")]
    if "simulations" not in keys:
        keys.append("simulations")
    return RunMeta(top_keys=keys, top=top)


def _to_sim(obj: dict, lineno: int) -> tuple[dict, int]:
    """An episode line as a tau2 SimulationRun dict (aliases and OpenAI shapes converted)."""
    sim = {_ALIASES.get(k, k): v for k, v in obj.items() if k not in _LINE_ONLY}
    reward = obj.get("reward")
    if reward is not None:
        if isinstance(reward, bool) or not isinstance(reward, (int, float)):
            raise ImportFailure(f"line {lineno}: 'reward' should be a number, found "
                                f"{type(reward).__name__}")
        if (bad := reward_problem(reward)) is not None:  # (named as the line gives it)
            raise ImportFailure(f"line {lineno}: 'reward' {bad}")
        ri = sim.get("reward_info")
        if ri is None:
            sim["reward_info"] = {"reward": reward}
        elif isinstance(ri, dict) and ri.get("reward") is None:
            # the shortcut is the reward reward_info leaves out (absent or null); the rest of
            # reward_info (its checks) is kept as given
            sim["reward_info"] = {"reward": reward,
                                  **{k: v for k, v in ri.items() if k != "reward"}}
        elif isinstance(ri, dict) and ri["reward"] != reward:  # both given: must agree
            raise ImportFailure(f"line {lineno}: 'reward' {reward} disagrees with "
                                f"reward_info.reward {ri['reward']}")
    converted = 0
    msgs = sim.get("messages")
    if isinstance(msgs, list):
        out = []
        for m in msgs:
            if isinstance(m, dict) and ("tool_call_id" in m or _openai_calls(m)):
                m = dict(m)
                if "tool_call_id" in m and "id" not in m:
                    m["id"] = m.pop("tool_call_id")
                    converted += 1
                if _openai_calls(m):
                    m["tool_calls"] = [_tau2_call(c, m.get("role")) for c in m["tool_calls"]]
                    converted += 1
            out.append(m)
        sim["messages"] = out
    return sim, converted


def _openai_calls(m: dict) -> bool:
    calls = m.get("tool_calls")
    return isinstance(calls, list) and any(isinstance(c, dict) and "function" in c
                                           for c in calls)


def _tau2_call(call: Any, role: Any) -> Any:
    if not (isinstance(call, dict) and isinstance(call.get("function"), dict)):
        return call
    fn = call["function"]
    args = fn.get("arguments")
    if isinstance(args, str):
        try:  # the import's one reader of JSON in text (nesting, NaN, 64-bit numbers)
            args = loads_text(args)
        except ValueError:
            pass  # kept as the raw string: malformed arguments are evidence too
    return {"id": call.get("id"), "name": fn.get("name"), "arguments": args,
            "requestor": role if role in ("assistant", "user") else "assistant"}
