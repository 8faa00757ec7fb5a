"""The episode as the failure classifier reads it: steps, tool calls with their results, the
task's gold (actions, communicate info) and the recorded reward breakdown.

Plain dataclasses, built either from a store (`load_episodes`, batched: one query per table for
a whole run) or by hand (tests, other domains). Nothing here decides a class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# Fallback tool kinds for gold actions whose check row carries none (the store normally has it).
try:
    from world.tools import TOOL_KINDS as _KINDS
except Exception:  # pragma: no cover - world is always importable in this repo
    _KINDS = {}


_WRITE_PREFIXES = ("book_", "cancel_", "update_", "modify_", "send_", "return_", "exchange_",
                   "create_", "delete_", "add_", "remove_", "change_", "set_")
_READ_PREFIXES = ("get_", "find_", "list_", "search_", "check_", "lookup_")


def kind_of(name: str, recorded: str | None = None) -> str:
    """A tool's kind: the recorded one when known, else the retail table, else guessed from the
    name's verb (so another domain's writes, e.g. airline's book_reservation, count as writes).
    Calls are not matched with tool_calls.kind (a join per step costs a third of the load time;
    the importer fills it from the same table)."""
    if recorded and recorded != "unknown":
        return recorded
    if name in _KINDS:
        return _KINDS[name]
    if name.startswith(_WRITE_PREFIXES):
        return "write"
    if name.startswith(_READ_PREFIXES):
        return "read"
    return "unknown"


@dataclass(slots=True)
class Call:
    """One tool call and (when recorded) its result."""
    step: int                   # index of the assistant/user step that made the call
    name: str
    args: dict
    kind: str = "unknown"       # read | write | generic | think | unknown
    call_id: str | None = None
    result: str | None = None   # the tool message content
    error: bool | None = None   # None: no result recorded
    result_step: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is False


@dataclass(slots=True)
class Step:
    idx: int
    role: str
    content: str | None
    calls: list = field(default_factory=list)
    error: bool = False

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else ""


@dataclass(slots=True)
class Gold:
    """One gold action of the task and whether the episode matched it (tau2's action check)."""
    pos: int
    name: str
    args: dict
    kind: str
    compare_args: list | None = None
    met: bool | None = None


@dataclass
class EpisodeTrace:
    episode_id: int | None
    task_id: str | None
    steps: list
    gold: list = field(default_factory=list)
    communicate: list = field(default_factory=list)   # [(text, met)]
    reward: float | None = None
    termination: str | None = None
    breakdown: dict = field(default_factory=dict)      # {"DB": 0.0, "COMMUNICATE": 1.0, ...}
    trial: int | None = None
    run_id: str | None = None
    scenario_text: str = ""     # what the user simulator was told (for the blame flags)
    domain: str | None = None
    has_task: bool = True       # False: no task definition stored (foreign traces): no gold

    @property
    def success(self) -> bool:
        return self.reward is not None and abs(self.reward - 1.0) <= 1e-6

    @property
    def calls(self) -> list:
        return [c for s in self.steps for c in s.calls]


def _json(text, default):
    if text is None:
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default


def build_steps(rows) -> list:
    """Steps from (idx, role, content, tool_calls_json, tool_call_id, error) rows in order;
    tool results are attached to their calls by id (else to the oldest unanswered call)."""
    steps, by_id, pending = [], {}, []
    for idx, role, content, tc_json, tc_id, error in rows:
        st = Step(idx, role, content, [], bool(error))
        if role == "tool":
            call = by_id.pop(tc_id, None) if tc_id is not None else None
            if call is None and pending:
                call = pending[0]
            if call is not None:
                if call in pending:
                    pending.remove(call)
                call.result, call.error, call.result_step = content, bool(error), idx
        elif tc_json:
            for c in _json(tc_json, []) or []:
                if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                    continue
                args = c.get("arguments")
                if isinstance(args, str):
                    args = _json(args, {})
                call = Call(idx, c["name"], args if isinstance(args, dict) else {},
                            kind_of(c["name"]), c.get("id"))
                st.calls.append(call)
                pending.append(call)
                if call.call_id is not None:
                    by_id[call.call_id] = call
        steps.append(st)
    return steps


def gold_from_task(task: dict) -> tuple[list, list]:
    """(gold actions, communicate info) from a tau2 task dict; `met` unknown."""
    crit = (task or {}).get("evaluation_criteria") or {}
    gold = []
    for pos, a in enumerate(crit.get("actions") or []):
        if isinstance(a, dict) and isinstance(a.get("name"), str):
            gold.append(Gold(pos, a["name"], a.get("arguments") or {}, kind_of(a["name"]),
                             a.get("compare_args")))
    comm = [(str(t), None) for t in crit.get("communicate_info") or []]
    return gold, comm


def scenario_text(task: dict) -> str:
    """Everything the user simulator was told, as one string (for fact checks)."""
    scen = (task or {}).get("user_scenario")
    extra = ((task or {}).get("t2e") or {}).get("scenario")
    return json.dumps([scen, extra], ensure_ascii=False) if (scen or extra) else ""


def load_episodes(conn, episode_ids: list[int]) -> list[EpisodeTrace]:
    """Load episodes (with steps, gold and checks) in batches; order follows `episode_ids`."""
    out: dict[int, EpisodeTrace] = {}
    tasks: dict[tuple, dict] = {}
    for chunk in _chunks(episode_ids, 500):
        marks = ",".join("?" * len(chunk))
        eps = conn.execute(
            f"SELECT e.episode_id, e.run_id, coalesce(e.likely_task_id, e.task_id), e.trial, e.reward,"
            f" e.termination_reason, e.reward_breakdown_json, r.domain FROM episodes e"
            f" JOIN runs r ON r.run_id = e.run_id WHERE e.episode_id IN ({marks})", chunk).fetchall()
        for eid, run_id, tid, trial, reward, term, bd, domain in eps:
            key = (run_id, tid)
            if key not in tasks:
                row = conn.execute("SELECT task_json FROM tasks WHERE run_id = ? AND task_id = ?",
                                   key).fetchone()
                tasks[key] = _json(row[0], None) if row else None
            task = tasks[key]
            gold, comm = gold_from_task(task or {})
            out[eid] = EpisodeTrace(eid, tid, [], gold, comm, reward, term, _json(bd, {}) or {},
                                    trial, run_id, scenario_text(task or {}), domain,
                                    has_task=isinstance(task, dict))
        rows: dict[int, list] = {}
        for r in conn.execute(
                f"SELECT episode_id, idx, role, content, tool_calls, tool_call_id, error FROM steps"
                f" WHERE episode_id IN ({marks}) ORDER BY episode_id, idx", chunk):
            rows.setdefault(r[0], []).append(r[1:])
        for eid, srows in rows.items():
            if eid in out:
                out[eid].steps = build_steps(srows)
        comm_met: dict = {}
        for eid, kind, pos, tool_kind, text, met in conn.execute(
                f"SELECT episode_id, kind, pos, tool_kind, text, met FROM checks"
                f" WHERE episode_id IN ({marks}) AND kind IN ('action', 'communicate')", chunk):
            ep = out.get(eid)
            if ep is None:
                continue
            if kind == "action" and pos < len(ep.gold):
                ep.gold[pos].met = None if met is None else bool(met)
                ep.gold[pos].kind = kind_of(ep.gold[pos].name, tool_kind)
            elif kind == "communicate":
                comm_met[(eid, text)] = None if met is None else bool(met)
        for eid in chunk:
            ep = out.get(eid)
            if ep is not None and comm_met:
                ep.communicate = [(t, comm_met.get((eid, t), m)) for t, m in ep.communicate]
    return [out[e] for e in episode_ids if e in out]


def _chunks(seq, n):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]
