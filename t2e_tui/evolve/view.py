"""What the evolve screen shows, read from the store (no textual): a loop's proposals per
iteration with dev rewards, Pareto membership, the frozen one and its gate verdict, live while
the loop runs (built from the recorded events, finished or not)."""

from __future__ import annotations

import json
from typing import Any


def latest_loop(conn: Any) -> str | None:
    row = conn.execute("SELECT loop_id FROM evolve_loops ORDER BY created_at DESC, rowid DESC "
                       "LIMIT 1").fetchone()
    return row[0] if row else None


def loop_state(conn: Any, loop_id: str) -> dict:
    """{loop_id, status, config, current, rows}; a row per proposal (and per iteration's
    parent), in iteration order."""
    head = conn.execute("SELECT status, config_json FROM evolve_loops WHERE loop_id = ?",
                        (loop_id,)).fetchone()
    if head is None:
        return {"loop_id": loop_id, "status": "missing", "config": {}, "rows": [],
                "current": None}
    events: dict[int, dict[str, Any]] = {}
    current = None
    for it, kind, data, at in conn.execute(
            "SELECT iteration, kind, data_json, created_at FROM evolve_events WHERE loop_id = ? "
            "ORDER BY created_at, rowid", (loop_id,)):
        events.setdefault(it, {})[kind] = json.loads(data)
        if kind.startswith("run:"):
            current = f"iteration {it}: {kind[4:]}"
    rewards = {}
    for it, ev in events.items():
        for kind, d in ev.items():
            if kind.startswith("run:dev"):
                rewards[(it, kind[4:])] = d.get("reward")
    names = dict(conn.execute("SELECT candidate_hash, name FROM candidates"))
    rows = []
    for it in sorted(i for i in events if i > 0):
        ev = events[it]
        done = ev.get("iteration", {})
        parent = done.get("parent") or ev.get("start", {}).get("parent")
        rows.append({"iteration": it, "kind": "parent", "hash": parent,
                     "name": names.get(parent, (parent or "?")[:10]),
                     "dev": rewards.get((it, "dev-parent")), "pareto": parent in
                     done.get("pareto", []), "frozen": False, "gate": None,
                     "hypothesis": "", "author": "", "motivations": [], "error": None})
        for k, e in enumerate((ev.get("proposals") or {}).get("entries", [])):
            if "hash" not in e:
                rows.append({"iteration": it, "kind": "skipped", "hash": None, "name": "-",
                             "dev": None, "pareto": False, "frozen": False, "gate": None,
                             "hypothesis": "", "author": "", "motivations": [],
                             "error": e.get("error")})
                continue
            good_index = [x for x in ev["proposals"]["entries"] if "hash" in x].index(e)
            frozen = done.get("frozen") == e["hash"]
            rows.append({"iteration": it, "kind": "proposal", "hash": e["hash"],
                         "name": e.get("name") or e["hash"][:10],
                         "dev": rewards.get((it, f"dev-{good_index}")),
                         "pareto": e["hash"] in done.get("pareto", []), "frozen": frozen,
                         "gate": (done.get("gate") or ev.get("gate")) if frozen else None,
                         "hypothesis": e.get("hypothesis", ""), "author": e.get("author", ""),
                         "motivations": e.get("motivations", []), "error": None})
    return {"loop_id": loop_id, "status": head[0], "config": json.loads(head[1]),
            "current": current, "rows": rows}


UNFINISHED = ("running", "paused")   # a loop killed or interrupted stays `running`


def unfinished_loops(conn: Any) -> list[dict]:
    """Loops that have not ended (killed, interrupted or paused), oldest first: {loop_id,
    status, start, iteration (the last one begun), iterations, updated_at}."""
    marks = ",".join("?" * len(UNFINISHED))
    out = []
    for loop_id, status, config, updated in conn.execute(
            f"SELECT loop_id, status, config_json, updated_at FROM evolve_loops WHERE status IN "
            f"({marks}) ORDER BY created_at, rowid", UNFINISHED).fetchall():
        cfg = json.loads(config)
        last = conn.execute("SELECT max(iteration) FROM evolve_events WHERE loop_id = ?",
                            (loop_id,)).fetchone()[0]
        out.append({"loop_id": loop_id, "status": status, "start": cfg.get("start"),
                    "iteration": last or 0, "iterations": cfg.get("iterations"),
                    "updated_at": updated})
    return out


def loop_line(d: dict) -> str:
    """One unfinished loop in one line, its id first (what --resume takes)."""
    from ..textsafe import one_line

    return (f"{d['loop_id'][:8]}  {d['status']}  from {one_line(d['start'], 40)}  iteration "
            f"{d['iteration']} of {d['iterations']}  last step {d['updated_at']}")
