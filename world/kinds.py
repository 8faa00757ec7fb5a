"""Domain kinds: which records, tools and tool table a domain name means.

There are two kinds of world, `retail` and `airline`; each has a tau2 flavour (tau2-retail,
tau2-airline, and the bare names tau2 writes into results files) and one of our own
(mini-retail, mini-airline). Everything that must know "which tools, which DB" asks here, so
adding a domain is one table row, not an if-chain per module.

Tool names never clash across kinds with different read/write meaning (calculate, transfer and
get_user_details are shared and agree), so `ALL_TOOL_KINDS` can classify a call whose domain is
unknown (an imported file, a stored step).
"""

from __future__ import annotations

from typing import Any, Iterable

from . import airline_tools, tools
from .airline_db import AirlineDB
from .db import RetailDB

KINDS = ("retail", "airline")
_DOMAIN_KIND = {
    "retail": "retail", "tau2-retail": "retail", "mini-retail": "retail",
    "airline": "airline", "tau2-airline": "airline", "mini-airline": "airline",
}
_TOOL_KINDS = {"retail": tools.TOOL_KINDS, "airline": airline_tools.TOOL_KINDS}
ALL_TOOL_KINDS: dict[str, str] = {**tools.TOOL_KINDS, **airline_tools.TOOL_KINDS}
ALL_WRITE_TOOLS = frozenset(n for n, k in ALL_TOOL_KINDS.items() if k == "write")
_DB_CLASS = {"retail": RetailDB, "airline": AirlineDB}
_ENV_CLASS = {RetailDB: tools.RetailEnv, AirlineDB: airline_tools.AirlineEnv}


def kind_of(domain: str | None) -> str | None:
    """'retail' / 'airline' for a domain name (tau2's or ours), None when unknown."""
    return _DOMAIN_KIND.get(domain) if isinstance(domain, str) else None


def tool_kinds(domain: str | None) -> dict[str, str]:
    """The tool table (name -> read/write/generic) of a domain; every known tool when the
    domain is unknown."""
    return _TOOL_KINDS.get(kind_of(domain) or "", ALL_TOOL_KINDS)


def write_tools(domain: str | None) -> frozenset[str]:
    """The state-changing tools of a domain (every known write tool when unknown)."""
    return frozenset(n for n, k in tool_kinds(domain).items() if k == "write")


def db_class(kind: str) -> type:
    """The DB class of a kind."""
    return _DB_CLASS[kind]


def env_for(db: Any, version: str = "v1"):
    """A fresh tool environment of the right kind on a fork of `db`."""
    for cls, env in _ENV_CLASS.items():
        if isinstance(db, cls):
            return env(db, version)
    raise TypeError(f"no tool environment for {type(db).__name__}")


def detect_kind(tasks: Iterable[Any] = (), tool_names: Iterable[str] = ()) -> str | None:
    """The kind a results file is about, from its embedded tasks' gold actions and its tool
    definitions: the kind whose own tools (not the shared ones) are named; None when neither
    or both are."""
    names: set[str] = {n for n in tool_names if isinstance(n, str)}
    for t in tasks:
        crit = t.get("evaluation_criteria") if isinstance(t, dict) else None
        for a in (crit.get("actions") if isinstance(crit, dict) else None) or ():
            if isinstance(a, dict) and isinstance(a.get("name"), str):
                names.add(a["name"])
    hits = [k for k in KINDS if names & _own_tools(k)]
    return hits[0] if len(hits) == 1 else None


def _own_tools(kind: str) -> set[str]:
    others = set().union(*(set(_TOOL_KINDS[k]) for k in KINDS if k != kind))
    return set(_TOOL_KINDS[kind]) - others


def tool_def_names(defs: Any) -> list[str]:
    """Tool names of a results file's `tool_defs` (a dict by name or a list of tool JSON)."""
    if isinstance(defs, dict):
        return [k for k in defs if isinstance(k, str)]
    out = []
    for d in defs if isinstance(defs, list) else ():
        fn = d.get("function") if isinstance(d, dict) else None
        body = fn if isinstance(fn, dict) else d
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str):
            out.append(name)
    return out
