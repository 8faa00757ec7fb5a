"""Bulk writing of imported episodes: validation, rows, batched executemany, FTS in bulk.

Shared by every importer. The caller holds one transaction per file (BEGIN IMMEDIATE), so the
next free episode/step ids can be read once and assigned here, which lets steps, tool calls,
checks and FTS rows go in as large batches instead of one statement per message.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import writer
from ..hidden import shown_rows
from ..messages import bad_call_name, short_json
from ..ranges import USAGE_COUNTS, count_problem, reward_problem
from .tau2_ticks import TickError, check_ticks, messages_from_ticks

_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1  # what a SQLite INTEGER holds

# SimulationRun keys with a column of their own; `timestamp` has none and rides in extra_json.
SIM_DEFAULT_KEYS = ("id", "task_id", "timestamp", "start_time", "end_time", "duration",
                    "termination_reason", "agent_cost", "user_cost", "reward_info", "messages",
                    "trial", "seed")
_SIM_COLUMN_KEYS = set(SIM_DEFAULT_KEYS) - {"timestamp"}

EPISODE_INSERT = (
    "INSERT INTO episodes (episode_id, run_id, episode_key, sim_id, ord, task_id, likely_task_id,"
    " trial, seed, status, termination_reason, start_time, end_time, duration, agent_cost,"
    " user_cost, reward, success, db_match, db_reward, communicate_reward, nl_reward,"
    " action_reward, reward_basis_json, reward_breakdown_json, judge_dependent, reward_info_json,"
    " extra_json, n_steps, n_tool_calls, n_tool_errors, tokens_in, tokens_out, has_huge)"
    " VALUES (" + ",".join("?" * 34) + ")")
# the importer assigns step ids itself (so tool_calls rows can cite them without a round trip)
STEP_INSERT_WITH_ID = (writer.STEP_INSERT
                       .replace("INSERT INTO steps (", "INSERT INTO steps (step_id, ")
                       .replace("VALUES (", "VALUES (?,"))


class RecordError(ValueError):
    """A record of the input has the wrong shape; the message names the record."""


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


# built once (not per simulation): key, test, what the value should be
_SIM_FIELD_CHECKS = (
    ("id", lambda v: isinstance(v, (str, int)), "a string"),
    ("task_id", lambda v: isinstance(v, (str, int)) and not isinstance(v, bool), "a string"),
    ("trial", _int, "an integer"), ("seed", _int, "an integer"),
    ("duration", _num, "a number"), ("agent_cost", _num, "a number"),
    ("user_cost", _num, "a number"), ("termination_reason", _is_str, "a string"),
    ("start_time", _is_str, "a string"), ("end_time", _is_str, "a string"),
    ("reward_info", lambda v: isinstance(v, dict), "an object"),
    ("messages", lambda v: isinstance(v, list), "a list"))


def validate_sim(sim: Any, label: str, messages: bool = True) -> None:
    """Reject a simulation whose structure or field types are wrong (the message says which).
    `messages` False: its messages are known to pass the checks below (an OpenTelemetry
    episode's, made by otel_episode.build_episode to them), so they are not walked again."""
    if not isinstance(sim, dict):
        raise RecordError(f"{label}: expected an object, found {type(sim).__name__}")
    for key, ok, what in _SIM_FIELD_CHECKS:
        v = sim.get(key)
        if v is not None and not ok(v):
            raise RecordError(f"{label}: field {key!r} should be {what}, "
                              f"found {type(v).__name__} {short_json(v)}")
    ri = sim.get("reward_info")
    if isinstance(ri, dict) and ri.get("reward") is not None:
        if not _num(ri["reward"]):
            raise RecordError(f"{label}: reward_info.reward should be a number, found "
                              f"{type(ri['reward']).__name__} {short_json(ri['reward'])}")
        if (bad := reward_problem(ri["reward"])) is not None:  # (figures average it)
            raise RecordError(f"{label}: reward_info.reward {bad}")
    if isinstance(ri, dict):
        for key, typ, what in (("db_check", dict, "an object"),
                               ("reward_breakdown", dict, "an object"),
                               ("reward_basis", list, "a list")):
            if ri.get(key) is not None and not isinstance(ri[key], typ):
                raise RecordError(f"{label}: reward_info.{key} should be {what}, found "
                                  f"{type(ri[key]).__name__}")
        for key in ("action_checks", "communicate_checks", "nl_assertions", "env_assertions"):
            items = ri.get(key)
            if items is not None and not (isinstance(items, list)
                                          and all(isinstance(x, dict) for x in items)):
                raise RecordError(f"{label}: reward_info.{key} should be a list of objects")
        for ac in ri.get("action_checks") or []:  # (a list of objects: checked just above)
            if ac.get("action") is not None and not isinstance(ac["action"], dict):
                raise RecordError(f"{label}: reward_info.action_checks[].action should be "
                                  f"an object")
        _check_fields(ri, label)
        db_check = ri.get("db_check")
        if isinstance(db_check, dict):
            _typed(db_check.get("db_reward"), _num, "a number",
                   f"{label}: reward_info.db_check.db_reward")
    if sim.get("messages") is None and sim.get("ticks") is not None:
        try:
            check_ticks(sim["ticks"], label)  # tau2 1.x full-duplex: steps come from ticks
        except TickError as exc:
            raise RecordError(str(exc)) from None
    if not messages:
        return
    # once per message: plain-type tests first, the general ones only for what they miss
    for j, m in enumerate(sim.get("messages") or []):
        if type(m) is not dict and not isinstance(m, dict):
            raise RecordError(f"{label}, message #{j}: expected an object, "
                              f"found {type(m).__name__}")
        role = m.get("role")
        if type(role) is not str and not isinstance(role, str):
            raise RecordError(f"{label}, message #{j}: 'role' should be a string, found "
                              f"{type(role).__name__}")
        calls = m.get("tool_calls")
        if calls is not None:
            if not _list_of_dicts(calls):
                raise RecordError(f"{label}, message #{j}: 'tool_calls' should be a list of "
                                  "objects")
            bad = bad_call_name(calls)
            if bad is not None:
                raise RecordError(f"{label}, message #{j}: tool_calls{bad}")
        usage = m.get("usage")
        if isinstance(usage, dict):  # token counts are summed per episode
            for k in USAGE_COUNTS:
                v = usage.get(k)
                if v is not None and (type(v) is not int or v < 0) \
                        and (bad := count_problem(v)) is not None:
                    raise RecordError(f"{label}, message #{j}: usage.{k} {bad}")


def _list_of_dicts(v: Any) -> bool:
    if not isinstance(v, list):
        return False
    for c in v:
        if not isinstance(c, dict):
            return False
    return True


# Per check list: fields stored in text columns (must be strings) and in number columns.
_CHECK_TEXT = {"communicate_checks": ("info", "justification"),
               "nl_assertions": ("nl_assertion", "justification"),
               "action_checks": ("tool_type",), "env_assertions": ()}
_CHECK_NUM = {"action_checks": ("action_reward",), "env_assertions": ("reward",)}


def _check_fields(ri: dict, label: str) -> None:
    """Check items whose values would not fit their columns (a dict where text belongs)."""
    for key, texts in _CHECK_TEXT.items():
        nums = _CHECK_NUM.get(key, ())
        for i, item in enumerate(ri.get(key) or []):
            # messages are built only for a value that fails (this runs per check item)
            for f in texts:
                v = item.get(f)
                if v is not None and not isinstance(v, str):
                    raise _bad(v, "a string", f"{label}: reward_info.{key}[{i}].{f}")
            for f in nums:
                v = item.get(f)
                if v is not None and not _num(v):
                    raise _bad(v, "a number", f"{label}: reward_info.{key}[{i}].{f}")
            action = item.get("action") if key == "action_checks" else None
            if isinstance(action, dict):
                for f in ("action_id", "name"):
                    v = action.get(f)
                    if v is not None and not isinstance(v, str):
                        raise _bad(v, "a string",
                                   f"{label}: reward_info.{key}[{i}].action.{f}")


def _typed(v: Any, ok, what: str, where: str) -> None:
    if v is not None and not ok(v):
        raise _bad(v, what, where)


def _bad(v: Any, what: str, where: str) -> RecordError:
    """The error for a value of the wrong type (built only for a value that fails)."""
    return RecordError(f"{where} should be {what}, found {type(v).__name__} {short_json(v)}")


def sim_label(sim: Any, ord_: int) -> str:
    """How a simulation is named in messages: its position and, when known, its id."""
    if isinstance(sim, dict) and sim.get("id") is not None:
        return f"simulation #{ord_} (id {sim['id']})"
    return f"simulation #{ord_}"


def next_ids(conn: sqlite3.Connection) -> tuple[int, int]:
    """The next free episode and step ids (read under the import's write lock)."""
    e = conn.execute("SELECT max(episode_id) FROM episodes").fetchone()[0] or 0
    s = conn.execute("SELECT max(step_id) FROM steps").fetchone()[0] or 0
    return e + 1, s + 1


# A builder's batch size, and how many messages' FTS rows one statement fills. FTS5 writes one
# segment per statement, and at 16 segments (crisismerge; automerge is off for an import)
# merges them all into one: a statement per 2,000-message batch made the 200 MB OTel file's
# 22 segments merge (callgrind: +15% for its rows and index). So 15 fills of 4,000, then
# fills of a quarter of what is indexed (a statement adds at most 25%) keep a big file's
# statements few (21 at 220k messages, 28 at 1M; 16,000 flat made 14 and 63) while the last
# fill, which the import does alone once its worker is done, stays small: 4,000 at most for
# a file of up to 60k messages (the 200 MB bench file: 8, where 16,000 left 12,000). The
# index's CPU: c200's rows filled under callgrind 4,284 M instructions at 16,000 flat, 4,276
# M at 4,000; 220k messages 20.88 G, 21.29 G at 4,000 flat (a crisis merge). tau2.py sets
# both itself.
BATCH_MESSAGES = 2_000
INDEX_EVERY = 4_000
_FLAT_FILLS = 15  # (crisismerge - 1)


class RowBuilder:
    """Turns simulations into episodes/steps/tool_calls/checks rows, in batches.

    Pure computation (no database), so it can run in a worker process while the parent writes
    the previous batch. Ids are assigned here from the next free ids, which is safe because the
    import holds the store's write lock for the whole file.
    """

    def __init__(self, run_id: str, next_episode: int, next_step: int, *,
                 batch_messages: int | None = None, index_every: int | None = None):
        self.run_id = run_id
        self.batch_messages = BATCH_MESSAGES if batch_messages is None else batch_messages
        # 0: each batch's FTS range is its own steps; else a batch carries an empty range until
        # index_every steps are unindexed (after _FLAT_FILLS fills, also a quarter of those
        # indexed), then all
        # of them (fewer, larger FTS statements); the last batch (a take() from outside)
        # fills the rest
        self.index_every = INDEX_EVERY if index_every is None else index_every
        self._first = next_step
        self._fills = 0
        self.next_episode = next_episode
        self.next_step = next_step
        self._eps: list[tuple] = []
        self._steps: list[tuple] = []
        self._calls: list[tuple] = []
        self._checks: list[tuple] = []
        self._indexed = next_step  # the first step not yet in a batch's FTS range
        self._keys: set[str] = set()
        self.episodes = 0
        self.messages = 0
        self.duplicate_ids = 0
        self.repeated_ids: list[str] = []  # the first few ids that repeat, for the warning
        # tool results whose call id no earlier call of their episode has (kept, no tool
        # name): counted, and the first few named as "<key> message #<idx> (call id '<id>')"
        # (the stored messages' numbering, as validation messages use: not ATIF's step_id)
        self.unanswered = 0
        self.unanswered_seen: list[str] = []
        self.from_ticks = 0  # simulations whose steps were rebuilt from tau2 1.x ticks
        # simulations with no turns read: `messages` empty beside ticks (only null messages
        # send the reader to the ticks), or null with no ticks at all
        self.turns_unread = 0
        # episodes whose token total (a sum of counts each within 64 bits) is beyond the
        # store's integers: the total left out, counted, the first few named
        self.totals_left_out = 0
        self.totals_seen: list[str] = []

    def add(self, sim: dict, ord_: int, *, likely_task_id: str | None = None,
            latencies: list | None = None, step_rows: list | None = None) -> tuple | None:
        """Queue one tau2 SimulationRun dict (already validated). Returns a full batch to
        write, or None. `latencies`: per message, ms (formats that record span times).
        `step_rows`: the messages' `writer.step_row` results, made elsewhere (a worker process)
        with this episode's id; `sim["messages"]` is then not read."""
        eid = self.next_episode
        self.next_episode += 1
        tool_names: dict[str, str] = {}
        n_calls = n_errors = 0
        tin = tout = None
        has_huge = False
        messages = sim.get("messages")
        from_ticks = messages is None and isinstance(sim.get("ticks"), list)
        if from_ticks:
            messages = messages_from_ticks(sim["ticks"])
            self.from_ticks += 1
        elif (messages == [] and sim.get("ticks")) or (messages is None
                                                       and sim.get("ticks") is None):
            self.turns_unread += 1
        messages = messages or []
        steps, calls = self._steps, self._calls
        if step_rows is None:
            rows = (writer.step_row(eid, idx, msg, tool_names=tool_names,
                                    latency_ms=latencies[idx] if latencies else None)
                    for idx, msg in enumerate(messages))
        else:
            if step_rows and step_rows[0][0][0] != eid:
                raise RuntimeError(f"step rows made for episode {step_rows[0][0][0]}, not {eid}")
            rows, messages = step_rows, step_rows
        sid = self.next_step  # a local counter: this loop runs once per message
        unanswered = None
        for row, call_rows, huge in rows:
            steps.append((sid, *row))
            if row[5] and row[6] is None:  # a tool result's call id that no call had before
                if unanswered is None:
                    unanswered = []
                unanswered.append((row[1], row[5]))
            if call_rows:
                for c in call_rows:
                    calls.append((sid, eid, *c))
                n_calls += len(call_rows)
            sid += 1
            n_errors += row[7]
            if row[11] is not None:
                tin = (tin or 0) + row[11]
            if row[12] is not None:
                tout = (tout or 0) + row[12]
            if huge:
                has_huge = True
        self.next_step = sid
        ri = sim.get("reward_info")
        cols = writer.reward_columns(ri)
        self._checks.extend(writer.check_rows(eid, ri))
        sim_id = sim.get("id")
        key = str(sim_id) if sim_id is not None else f"#{ord_}"
        if key in self._keys:
            self.duplicate_ids += 1
            if len(self.repeated_ids) < 5 and key not in self.repeated_ids:
                self.repeated_ids.append(key)
            key = f"{key}#{ord_}"
        self._keys.add(key)
        if (tin is not None and not _INT_MIN <= tin <= _INT_MAX) or \
                (tout is not None and not _INT_MIN <= tout <= _INT_MAX):
            self.totals_left_out += 1
            if len(self.totals_seen) < 3:
                self.totals_seen.append(key)
            if not _INT_MIN <= (tin or 0) <= _INT_MAX:
                tin = None
            if not _INT_MIN <= (tout or 0) <= _INT_MAX:
                tout = None
        if unanswered:
            self.unanswered += len(unanswered)
            for idx, cid in unanswered[:3 - len(self.unanswered_seen)]:
                self.unanswered_seen.append(f"{key} message #{idx} (call id {cid!r})")
        self._eps.append((
            eid, self.run_id, key, None if sim_id is None else str(sim_id), ord_,
            None if sim.get("task_id") is None else str(sim["task_id"]), likely_task_id,
            sim.get("trial"), sim.get("seed"), "done", sim.get("termination_reason"),
            sim.get("start_time"), sim.get("end_time"), sim.get("duration"),
            sim.get("agent_cost"), sim.get("user_cost"), *cols.values(),
            episode_extra(sim, from_ticks=from_ticks), len(messages), n_calls, n_errors, tin, tout, int(has_huge)))
        self.episodes += 1
        self.messages += len(messages)
        if len(self._steps) >= self.batch_messages:
            return self.take(final=False)
        return None

    def totals_warning(self, record: str) -> str | None:
        """The warning for episodes whose token totals were left out, in the file's words."""
        if not self.totals_left_out:
            return None
        return (f"{self.totals_left_out} {record}(s) have token totals beyond the store's "
                "64-bit integers (each count is within them): the totals were left out, every "
                f"message's counts are kept: {', '.join(self.totals_seen)}"
                + (" ..." if self.totals_left_out > len(self.totals_seen) else ""))

    def take(self, *, final: bool = True) -> tuple | None:
        """The queued rows as one batch (None when empty); the queue starts afresh. Its last
        two fields are the step ids whose FTS rows write_batch fills: all the rest, unless
        `final` is false (add's full batches: then only once index_every are waiting)."""
        if not self._eps and not (final and self._indexed < self.next_step):
            return None
        first = end = self._indexed
        waiting = self.next_step - self._indexed
        if final or waiting >= self.index_every and (
                self._fills < _FLAT_FILLS or waiting >= (self._indexed - self._first) // 4):
            end = self._indexed = self.next_step
            self._fills += 1
        batch = (self._eps, self._steps, self._calls, self._checks, first, end)
        self._eps, self._steps, self._calls, self._checks = [], [], [], []
        return batch


def write_batch(conn: sqlite3.Connection, batch: tuple) -> None:
    """Insert one batch; its FTS rows are filled from the new steps in one statement."""
    eps, steps, calls, checks, first, end = batch
    conn.executemany(EPISODE_INSERT, eps)
    conn.executemany(STEP_INSERT_WITH_ID, steps)
    conn.executemany(writer.TOOL_CALL_INSERT, calls)
    conn.executemany(writer.CHECK_INSERT, checks)
    # the index reads what is shown: messages with hidden characters (escape sequences...)
    # keep their shown text in steps_shown and are indexed from the steps_search view
    shown = shown_rows(steps, 0, 4, 5)
    if shown:
        conn.executemany(writer.SHOWN_INSERT, shown)
    if end > first:
        source = "steps_search" if conn.execute(
            "SELECT 1 FROM steps_shown WHERE step_id >= ? AND step_id < ? LIMIT 1",
            (first, end)).fetchone() else "steps"
        conn.execute(f"INSERT INTO steps_fts (rowid, content, tool_calls) SELECT step_id, "
                     f"content, tool_calls FROM {source} WHERE step_id >= ? AND step_id < ?",
                     (first, end))


class EpisodeWriter(RowBuilder):
    """A RowBuilder that writes its batches itself, inside the caller's transaction.

    (A writer thread was tried: sqlite3 re-takes the GIL for every row of executemany, so the
    threads convoyed and the import got slower. Parallel work happens in a worker process
    instead, see tau2.py.)"""

    def __init__(self, conn: sqlite3.Connection, run_id: str, *, batch_messages: int = 4_000):
        super().__init__(run_id, *next_ids(conn), batch_messages=batch_messages)
        self.conn = conn

    def add(self, sim: dict, ord_: int, *, likely_task_id: str | None = None,
            latencies: list | None = None) -> None:
        batch = super().add(sim, ord_, likely_task_id=likely_task_id, latencies=latencies)
        if batch is not None:
            write_batch(self.conn, batch)

    def flush(self) -> None:
        """Write what is queued."""
        batch = self.take()
        if batch is not None:
            write_batch(self.conn, batch)

    def close(self) -> None:
        """Write what is queued (kept for symmetry with the streaming helpers)."""
        self.flush()


def episode_extra(sim: dict, *, from_ticks: bool = False) -> str | None:
    """extra_json for an imported simulation: unknown keys plus what the columns can't restore
    (`from_ticks`: the steps were rebuilt from ticks, so export writes `messages` as given)."""
    extra = {k: v for k, v in sim.items() if k not in _SIM_COLUMN_KEYS}
    present = [k for k in sim if k in _SIM_COLUMN_KEYS]
    meta: dict[str, Any] = {}
    if set(present) != _SIM_COLUMN_KEYS:
        meta["keys"] = present
    raw = {}
    for k in ("id", "task_id"):
        if sim.get(k) is not None and not isinstance(sim[k], str):
            raw[k] = sim[k]
    if from_ticks and "messages" in sim:
        raw["messages"] = sim["messages"]
    if raw:
        meta["raw"] = raw
    if from_ticks:
        meta["steps_from"] = "ticks"
    if meta:
        extra[writer.META_KEY] = meta
    # (json.dumps(extra, ensure_ascii=False)'s text: json.dumps makes an encoder per call)
    return writer.dumps(extra) if extra else None
