"""Fork benchmark (figures for the report; not a test).

Restoring the world at step t of a 200-step trajectory. Target: <= 50 ms.

The trajectory is built on mini-retail: 100 agent tool calls (reads of users, orders and
products, and every ~5th call a write that succeeds: address or payment changes on pending
orders) each answered by its recorded result, so the replay checks 100 results. It is stored
in a fresh store, then for t = 200 (the worst case: every call replayed) we time
(a) reading the episode's messages from the store and (b) `restore_at` (fork + replay + check).
The base records are loaded once per process (cached), as in the app; the first figure shows
that cold load separately.

    .venv/bin/python bench/fork.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_trajectory(dom, n_steps: int = 200) -> list[dict]:
    from world.tools import RetailEnv

    env = RetailEnv(dom.base_db)
    db = dom.base_db
    users, orders, products = list(db.users), list(db.orders), list(db.products)
    pending = [o for o in orders if db.orders[o]["status"] == "pending"]
    msgs: list[dict] = [{"role": "assistant", "content": "Hi! How can I help you today?"}]
    i = 0
    while len(msgs) < n_steps:
        if i % 5 == 4 and pending:
            oid = pending[i % len(pending)]
            o = env.db.orders[oid]
            a = o["address"]
            name, args = "modify_pending_order_address", {
                "order_id": oid, "address1": f"{i} Bench Street", "address2": a["address2"],
                "city": a["city"], "state": a["state"], "country": a["country"],
                "zip": a["zip"]}
        elif i % 3 == 0:
            name, args = "get_user_details", {"user_id": users[i % len(users)]}
        elif i % 3 == 1:
            name, args = "get_order_details", {"order_id": orders[i % len(orders)]}
        else:
            name, args = "get_product_details", {"product_id": products[i % len(products)]}
        cid = f"call_{i}"
        msgs.append({"role": "assistant", "content": None,
                     "tool_calls": [{"id": cid, "name": name, "arguments": args,
                                     "requestor": "assistant"}]})
        res = env.call(name, args)
        msgs.append({"role": "tool", "id": cid, "content": res.content, "error": res.error,
                     "requestor": "assistant"})
        i += 1
    return msgs[:n_steps]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    import store
    from store import writer
    from store.queries import load_episode
    from world.domains import load_domain
    from world.replay import restore_at

    t0 = time.perf_counter()
    dom = load_domain("mini-retail")
    print(f"cold: mini-retail world built in {(time.perf_counter() - t0) * 1000:.0f} ms "
          "(once per process)")
    msgs = build_trajectory(dom)
    calls = sum(1 for m in msgs if m["role"] == "tool")
    with tempfile.TemporaryDirectory() as tmp:
        conn = store.connect(Path(tmp) / "b.sqlite")
        with writer.transaction(conn):
            rid = writer.create_run(conn, name="bench", domain="mini-retail")
            eid = writer.begin_episode(conn, rid, episode_key="x:0", task_id="x", trial=0)
            for idx, m in enumerate(msgs):
                writer.insert_step(conn, eid, idx, m)
        load_ms, restore_ms = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            ep_msgs = load_episode(conn, eid)["messages"]
            load_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            r = restore_at(dom.base_db, ep_msgs, len(ep_msgs))
            restore_ms.append((time.perf_counter() - t) * 1000)
        conn.close()
    assert r.replayed == calls and r.writes > 0
    print(f"trajectory: {len(msgs)} steps, {calls} recorded calls ({r.writes} writes) replayed "
          "and checked")
    for label, xs in (("read from store", load_ms), ("restore_at", restore_ms),
                      ("total", [a + b for a, b in zip(load_ms, restore_ms)])):
        print(f"{label:>16}: median {statistics.median(xs):6.2f} ms   max {max(xs):6.2f} ms"
              f"   (target total <= 50 ms)")


if __name__ == "__main__":
    main()
