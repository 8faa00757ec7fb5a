"""A tiny evidence store for the explorer's tests, built with store.writer (no ../shared).

Two complete runs over four tasks (baseline passes 1 and 2, candidate fixes 3 and regresses 2),
one scripted run, and a run in progress. Task 2's trajectories part at the exchange call (the
candidate uses another item id, then never confirms). Trace text includes escape sequences and
markup, to check it is shown and never interpreted.
"""

from __future__ import annotations

import time
from pathlib import Path

from store import writer
from store.db import open_db

HOSTILE = "\x1b[2J\x1b]0;pwned\x07[bold red]not markup[/] \x1b[31mred?\x1b[0m"


def _task(tid: str, actions: list[tuple[str, dict]], basis=("DB", "COMMUNICATE")) -> dict:
    return {"id": tid, "description": {"purpose": None},
            "user_scenario": {"instructions": {"reason_for_call": f"task {tid}"}},
            "evaluation_criteria": {
                "actions": [{"action_id": f"{tid}_{i}", "requestor": "assistant", "name": n,
                             "arguments": a, "compare_args": None}
                            for i, (n, a) in enumerate(actions)],
                "communicate_info": [], "nl_assertions": [], "reward_basis": list(basis)}}


GOLD = {
    "1": [("find_user_id_by_email", {"email": "ana@x.com"}),
          ("get_order_details", {"order_id": "#W1"})],
    "2": [("find_user_id_by_email", {"email": "bo@x.com"}),
          ("get_order_details", {"order_id": "#W2"}),
          ("exchange_delivered_order_items",
           {"order_id": "#W2", "item_ids": ["111"], "new_item_ids": ["222"],
            "payment_method_id": "gift_card_1"})],
    "3": [("find_user_id_by_email", {"email": "cy@x.com"}),
          ("cancel_pending_order", {"order_id": "#W3", "reason": "no longer needed"})],
    "4": [("find_user_id_by_email", {"email": "di@x.com"})],
}


def _msgs(calls: list[tuple[str, dict, str, bool]], user_texts: list[str]) -> list[dict]:
    """Greeting, then alternating user text / one tool call + result, then a closing turn."""
    out = [{"role": "assistant", "content": "Hi! How can I help you today?"}]
    for i, (name, args, result, err) in enumerate(calls):
        out.append({"role": "user", "content": user_texts[i] if i < len(user_texts) else "ok"})
        cid = f"call_{i}"
        out.append({"role": "assistant", "content": None,
                    "tool_calls": [{"id": cid, "name": name, "arguments": args,
                                    "requestor": "assistant"}],
                    "usage": {"prompt_tokens": 100 + i, "completion_tokens": 10 + i}})
        out.append({"role": "tool", "id": cid, "content": result, "requestor": "assistant",
                    "error": err})
    out.append({"role": "assistant", "content": "Done. Anything else?"})
    out.append({"role": "user", "content": "No thanks ###STOP###"})
    return out


def _reward(success: bool, gold: list, found: list[bool]) -> dict:
    r = 1.0 if success else 0.0
    return {"reward": r, "db_check": {"db_match": success, "db_reward": r},
            "reward_basis": ["DB", "COMMUNICATE"],
            "reward_breakdown": {"DB": r, "COMMUNICATE": 1.0},
            "action_checks": [{"action": {"action_id": f"x_{i}", "name": n, "arguments": a},
                               "action_match": f, "action_reward": 1.0 if f else 0.0}
                              for i, ((n, a), f) in enumerate(zip(gold, found))],
            "communicate_checks": None, "nl_assertions": [
                {"nl_assertion": "agent was polite", "met": True, "justification": "ok"}]}


def _episode(db, run_id, tid, trial, ord_, msgs, success, found, term="user_stop"):
    eid = writer.begin_episode(db, run_id, episode_key=f"{tid}:{trial}", task_id=tid,
                               trial=trial, ord=ord_)
    names: dict[str, str] = {}
    for i, m in enumerate(msgs):
        writer.append_step(db, eid, i, m, latency_ms=120.0 + i, tool_names=names)
    writer.finish_episode(db, eid, termination_reason=term,
                          reward_info=_reward(success, GOLD[tid], found))
    return eid


def trajectory(tid: str, variant: str) -> tuple[list[dict], bool, list[bool]]:
    """(messages, success, gold found flags) of task `tid` for run variant base|cand."""
    g = GOLD[tid]
    if tid == "2" and variant == "cand":
        calls = [(g[0][0], g[0][1], "bo_7", False), (g[1][0], g[1][1], '{"status": "delivered"}',
                                                     False),
                 ("exchange_delivered_order_items",
                  {"order_id": "#W2", "item_ids": ["999"], "new_item_ids": ["222"],
                   "payment_method_id": "gift_card_1"}, "Error: item not found", True),
                 ("transfer_to_human_agents", {"summary": HOSTILE}, "Transfer successful", False)]
        return _msgs(calls, ["I want to exchange", "order #W2", HOSTILE]), False, [True, True,
                                                                                   False]
    if tid == "3" and variant == "base":
        calls = [(g[0][0], g[0][1], "cy_1", False)]
        return _msgs(calls, ["cancel my order"]), False, [True, False]
    calls = [(n, a, '{"ok": true}' if "order" in n else "user_1", False) for n, a in g]
    texts = ["hello", "the order", "yes, please proceed"]
    return _msgs(calls, texts), True, [True] * len(g)


def build_store(path: Path, *, live: bool = True) -> dict:
    """Write the fixture store at `path`; returns ids of interest."""
    db = open_db(path)
    ids: dict = {"episodes": {}}
    with writer.transaction(db):
        writer.ensure_world(db, "w-fixture", kind="import", domain="retail")
        src = writer.create_source(db, kind="file", path="fixtures/baseline.json",
                                   sha256="aa" * 32, size_bytes=10, fmt="tau2-v0")
    for run_name, variant, model in (("baseline", "base", "gpt-4.1"),
                                     ("candidate", "cand", "gpt-4.1-ft")):
        with writer.transaction(db):
            rid = writer.create_run(db, name=run_name, world_id="w-fixture", domain="retail",
                                    agent_model=model, user_model="gpt-4.1",
                                    source_id=src if variant == "base" else None,
                                    num_trials=1, run_id=f"run{variant}")
            writer.put_tasks(db, rid, [_task(t, GOLD[t]) for t in GOLD])
        ids[variant] = rid
        for o, tid in enumerate(GOLD):
            msgs, ok, found = trajectory(tid, variant)
            ids["episodes"][(variant, tid)] = _episode(db, rid, tid, 0, o, msgs, ok, found)
    with writer.transaction(db):
        rid = writer.create_run(db, name="scripted-demo", world_id="w-fixture", domain="retail",
                                agent_model="scripted", user_model="scripted", num_trials=1,
                                run_id="runscript", candidate_hash="cafe" * 16)
        writer.put_tasks(db, rid, [_task(t, GOLD[t]) for t in GOLD])
    ids["scripted"] = rid
    msgs, ok, found = trajectory("1", "base")
    ids["episodes"][("scripted", "1")] = _episode(db, rid, "1", 0, 0, msgs, ok, found)
    if live:
        with writer.transaction(db):
            rid = writer.create_run(db, name="live", world_id="w-fixture", domain="retail",
                                    agent_model="gpt-4.1", status="running", num_trials=1,
                                    run_id="runlive")
            writer.put_tasks(db, rid, [_task(t, GOLD[t]) for t in GOLD])
        ids["live"] = rid
        msgs, ok, found = trajectory("1", "base")
        ids["episodes"][("live", "1")] = _episode(db, rid, "1", 0, 0, msgs, ok, found)
    # fixed timestamps so snapshots don't move
    db.conn.execute("UPDATE runs SET created_at = '2026-01-0' || rowid || 'T00:00:00+00:00'")
    db.conn.close()
    return ids


def add_live_episode(path: Path, tid: str = "2") -> int:
    """Finish one more episode of the live run (as a rerun in progress would)."""
    db = open_db(path)
    msgs, ok, found = trajectory(tid, "base")
    eid = _episode(db, "runlive", tid, 0, int(tid), msgs, ok, found)
    db.conn.close()
    return eid


def add_raw_data(path: Path, big: int = 0) -> None:
    """Give every assistant and user message the provider response tau2 keeps beside it
    (`raw_data`: the message again, in the provider's shape), as tau2's results files do.
    `big`: pad each with that many characters (a response longer than any display bound)."""
    import json
    import sqlite3

    conn = sqlite3.connect(path)
    with conn:
        for sid, role, content, calls in conn.execute(
                "SELECT step_id, role, content, tool_calls FROM steps WHERE role IN "
                "('assistant', 'user')").fetchall():
            raw = {"finish_reason": "tool_calls" if calls else "stop", "index": 0,
                   "message": {"content": content, "role": "assistant",
                               "tool_calls": json.loads(calls) if calls else None,
                               "function_call": None, "annotations": []},
                   "provider_specific_fields": {"pad": "p" * big} if big else {}}
            conn.execute("UPDATE steps SET extra_json = json_set(coalesce(extra_json, '{}'), "
                         "'$.raw_data', json(?)) WHERE step_id = ?", (json.dumps(raw), sid))
    conn.close()


# Pilot helpers shared by the app, layout, narrow, snapshot and workbench tests.

async def settle(pilot):
    """Let workers finish and their results land on screen. Text cursors stop blinking
    (shown steadily), so a snapshot never depends on when in the blink it is taken (under
    -n 4 the launcher's input cursor was caught both on and off)."""
    from textual.widgets import Input, TextArea
    from textual.worker import WorkerCancelled

    for _ in range(3):
        await pilot.pause()
        for worker in list(pilot.app.workers):
            try:
                await worker.wait()
            except WorkerCancelled:  # an exclusive poll replaced by a newer one: it is done
                pass

    for widget in pilot.app.screen.query("Input, TextArea"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False
    await pilot.pause()


async def wait_for(pilot, cond, timeout=60.0):
    """Pause until cond() holds; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting for the app"
        await pilot.pause(0.05)


async def open_compare(app, pilot, eid, other=None):
    """Push the compare screen on episode `eid` (against `other`, else the gold actions) and
    wait until its alignment is made and on screen."""
    from t2e_tui.ui.screens.compare import CompareScreen

    app.push_screen(CompareScreen(eid, other))
    await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen)
                   and app.screen.alignment is not None)
    await settle(pilot)


async def palette_shows(pilot, text: str, timeout=60.0):
    """Wait until the command palette's highlighted option mentions `text` (its search runs
    in the background); fail after `timeout` seconds."""
    from textual.command import CommandList

    def ready() -> bool:
        lists = pilot.app.screen.query(CommandList)
        if not lists:
            return False
        cl = lists.first()
        if cl.option_count == 0 or cl.highlighted is None:
            return False
        return text.lower() in str(cl.get_option_at_index(cl.highlighted).prompt).lower()

    await wait_for(pilot, ready, timeout)


def line_text(widget, y: int) -> str:
    return "".join(seg.text for seg in widget.render_line(y))


def screen_lines(app) -> list[str]:
    """The text of every line the app's screen draws now, top to bottom."""
    return ["".join(seg.text for seg in strip)
            for strip in app.screen._compositor.render_strips()]
