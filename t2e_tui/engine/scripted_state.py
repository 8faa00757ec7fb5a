"""What the scripted agent knows at a turn: facts re-read from the conversation.

The agent keeps no memory between turns; `State` rebuilds texts, tool calls and the records the
tools returned from the messages every time, so a resumed or replayed episode plans the same.
"""

from __future__ import annotations

import json

from world.tools import WRITE_TOOLS

# tools whose result is read back as a record (the writes return the changed order or user)
_ORDER_RESULT_TOOLS = WRITE_TOOLS | {"get_order_details"}
_RECORD_TOOLS = _ORDER_RESULT_TOOLS | {"get_user_details", "get_product_details"}
KIND_TOOLS = {"cancel": {"cancel_pending_order"}, "return": {"return_delivered_order_items"},
              "change_item": {"modify_pending_order_items", "exchange_delivered_order_items"},
              "order_address": {"modify_pending_order_address"},
              "order_payment": {"modify_pending_order_payment"}}
ADDR_KEYS = ("address1", "address2", "city", "state", "country", "zip")


def parse_json(text):
    """A JSON object from a tool result, or None."""
    try:
        val = json.loads(text)
    except (TypeError, ValueError):
        return None
    return val if isinstance(val, dict) else None


def fmt_address(a: dict) -> str:
    line2 = f", {a['address2']}" if a.get("address2") else ""
    return f"{a['address1']}{line2}, {a['city']}, {a['state']} {a['zip']}, {a['country']}"


class State:
    """Facts read from the conversation: texts, tool calls and what the tools returned."""

    def __init__(self, messages: list[dict]):
        self.user_texts: list[str] = []
        self.request_texts: list[str] = []      # messages that may carry requests
        self.agent_texts: list[str] = []
        self.qa: list[tuple[str | None, str]] = []  # (agent's preceding text, customer's reply)
        self.calls: list[dict] = []
        self.last_text_pos = -1
        self.last_role = None
        by_id: dict = {}
        prev = None
        for pos, m in enumerate(messages):
            if not isinstance(m, dict):
                continue
            role = m.get("role")
            self.last_role = role
            if role == "user" and isinstance(m.get("content"), str):
                text = m["content"]
                if not self.user_texts or (prev and "anything else" in prev.lower()):
                    self.request_texts.append(text)
                self.user_texts.append(text)
                self.qa.append((prev, text))
            elif role == "assistant":
                if m.get("content") and not m.get("tool_calls"):
                    self.agent_texts.append(m["content"])
                    prev = m["content"]
                    self.last_text_pos = pos
                for c in m.get("tool_calls") or []:
                    args = c.get("arguments")
                    if isinstance(args, str):
                        args = parse_json(args) or {}
                    call = {"id": c.get("id"), "name": c.get("name"), "args": args or {},
                            "content": None, "error": None, "pos": pos}
                    by_id[c.get("id")] = call
                    self.calls.append(call)
            elif role == "tool":
                call = by_id.get(m.get("id"))
                if call is not None:
                    call["content"] = m.get("content")
                    call["error"] = bool(m.get("error"))
        self.auth_uid = None
        self.profiles: dict = {}
        self.bad_users: set = set()
        self.orders: dict = {}
        self.bad_orders: set = set()
        self.products: dict = {}
        for c in self.calls:
            ok = c["error"] is False
            name, content = c["name"], c["content"]
            rec = parse_json(content) if ok and name in _RECORD_TOOLS else None
            if name in ("find_user_id_by_email", "find_user_id_by_name_zip") and ok:
                self.auth_uid = (content or "").strip()
            elif name == "get_user_details":
                if ok:
                    self.profiles[c["args"].get("user_id")] = rec
                else:
                    self.bad_users.add(c["args"].get("user_id"))
            elif name == "get_order_details" and (not ok or "order_id" not in (rec or {})):
                # an error or an unreadable record: never ask for it again (no lookup loops)
                self.bad_orders.add(c["args"].get("order_id"))
            elif name == "get_product_details":
                self.products[c["args"].get("product_id")] = rec if rec and "variants" in rec else {}
            if ok and name in _ORDER_RESULT_TOOLS:
                if rec and "order_id" in rec:
                    self.orders[rec["order_id"]] = rec
                elif rec and "user_id" in rec and name == "modify_user_address":
                    self.profiles[rec["user_id"]] = rec

    def tried(self, name: str, args: dict) -> bool:
        return any(c["name"] == name and c["args"] == args for c in self.calls)

    def asked(self, text: str) -> int:
        return sum(1 for t in self.agent_texts if text in t)

    def answers_to(self, marker: str) -> list[str]:
        return [a for q, a in self.qa if q and marker in q]


class Step(Exception):
    """Raised by the planner with the turn's decision (a tool call or a text)."""

    def __init__(self, tool: str | None = None, args: dict | None = None, text: str | None = None):
        super().__init__(tool or text)
        self.tool, self.arguments, self.text = tool, args or {}, text


class Closed(Exception):
    """The current request is finished; `note` (if any) is told to the customer."""

    def __init__(self, note: str | None = None):
        super().__init__(note)
        self.note = note


