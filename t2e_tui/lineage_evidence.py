"""Which run each lineage version's reward comes from, and the one sparkline drawn over them.

A version's reward is its *home evidence*: the mean reward (infrastructure errors and
unfinished episodes out) of its latest complete heldout run, else of its latest complete run
of another non-transfer role. Transfer reruns (role `transfer`: the same version on another
domain) are listed apart, latest per domain, and never stand for the version's reward: a
version promoted on retail and checked on airline must not look as if it got worse.

The sparkline plots one (domain, role) only: the one most versions' home evidence shares
(ties: the first in lineage order). A version whose home evidence is elsewhere is a gap (`·`)
and says its own domain beside its figure. `reward_line` is what the CLI (`t2e candidate log`) and
the app (the lineage screen) both print. No textual here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from store.db import INFRA

TRANSFER = "transfer"
SPARK = "▁▂▃▄▅▆▇█"


def _means(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[float | None, int]]:
    """run id -> (mean reward over its scored episodes, scored episodes): `list_runs`' rule."""
    out: dict[str, tuple[float | None, int]] = {}
    for i in range(0, len(ids), 900):  # under SQLite's variable limit
        chunk = ids[i:i + 900]
        for rid, mean, n in conn.execute(
                f"SELECT run_id, avg(reward), count(reward) FROM episodes WHERE run_id IN "
                f"({','.join('?' * len(chunk))}) AND status = 'done' AND "
                "coalesce(termination_reason, '') != ? AND reward IS NOT NULL GROUP BY run_id",
                [*chunk, INFRA]):
            out[rid] = (None if mean is None else float(mean), n)
    return out


def version_evidence(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """candidate hash -> {"evidence": run figure or None, "transfers": [run figure, ...],
    "runs": complete runs}. A run figure is {run_id, name, domain, role, reward, scored}."""
    home: dict[str, tuple] = {}
    transfers: dict[str, dict[str, tuple]] = {}
    counts: dict[str, int] = {}
    for chash, rid, name, domain, role in conn.execute(
            "SELECT candidate_hash, run_id, name, domain, role FROM runs WHERE candidate_hash "
            "IS NOT NULL AND status = 'complete' ORDER BY created_at DESC, rowid DESC"):
        counts[chash] = counts.get(chash, 0) + 1
        run = (rid, name, domain, role)
        if role == TRANSFER:
            transfers.setdefault(chash, {}).setdefault(domain, run)
        elif chash not in home or (role == "heldout" and home[chash][3] != "heldout"):
            home[chash] = run  # the latest heldout run, else the latest of another role
    ids = [r[0] for r in home.values()] + [r[0] for d in transfers.values() for r in d.values()]
    means = _means(conn, ids)

    def figure(run: tuple) -> dict[str, Any]:
        reward, scored = means.get(run[0], (None, 0))
        return {"run_id": run[0], "name": run[1], "domain": run[2], "role": run[3],
                "reward": reward, "scored": scored}

    out: dict[str, dict[str, Any]] = {}
    for chash, n in counts.items():
        home_run = home.get(chash)
        out[chash] = {"evidence": figure(home_run) if home_run else None,
                      "transfers": [figure(r) for r in transfers.get(chash, {}).values()],
                      "runs": n}
    return out


def sparkline(values: list[float | None]) -> str:
    """Block sparkline on a fixed 0..1 scale (rewards), so versions compare across logs;
    `·` marks a version without a run."""
    out = []
    for v in values:
        if v is None:
            out.append("·")
        else:
            x = min(1.0, max(0.0, float(v)))
            out.append(SPARK[min(len(SPARK) - 1, int(x * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


def _axis(rows: list[dict]) -> tuple[str | None, str | None]:
    """The (domain, role) most versions' home evidence shares; ties: the first in lineage
    order (max keeps the first of equal counts)."""
    seen: dict[tuple, int] = {}
    for r in rows:
        ev = r.get("evidence")
        if ev is not None:
            key = (ev["domain"], ev["role"])
            seen[key] = seen.get(key, 0) + 1
    if not seen:
        return None, None
    return max(seen, key=seen.get)


def on_axis(row: dict, line: dict) -> bool:
    """True when a row's reward is a point of `line`'s sparkline."""
    ev = row.get("evidence")
    return ev is not None and (ev["domain"], ev["role"]) == (line["domain"], line["role"])


def reward_line(rows: list[dict]) -> dict[str, Any]:
    """The lineage's sparkline over its versions (ablation variants, experiments on one
    version, are left out) and the caption both the CLI and the app print:
    {domain, role, values, sparkline, caption}."""
    versions = [r for r in rows if not r.get("ablation")]
    domain, role = _axis(versions)
    line: dict[str, Any] = {"domain": domain, "role": role}
    line["values"] = [r["reward"] if on_axis(r, line) else None for r in versions]
    line["sparkline"] = sparkline(line["values"])
    if domain is None and role is None:
        line["caption"] = "reward by version: no runs yet"
    else:
        where = f"{domain or 'no domain'} {role}"
        line["caption"] = (f"reward on {where}, by version: {line['sparkline']}  "
                           "(· = no run there; transfer reruns are not plotted)")
    return line


def figure_text(fig: dict | None) -> str:
    """`0.143 mini-retail heldout run 33fedf7c`: a run figure in words (CLI and app)."""
    if fig is None:
        return "- (no run)"
    reward = "-" if fig["reward"] is None else f"{fig['reward']:.3f}"
    return f"{reward} {fig['domain'] or 'no domain'} {fig['role']} run {fig['run_id']}"


def transfers_text(row: dict) -> str:
    """A lineage row's transfer evidence in words (CLI and app): its transfer verdict with
    the rerun it judged (`transfer #3 discard: mini-airline 0.050 run de7efb42`), then its
    other transfer reruns (`transfer mini-airline 0.250 run 47727562`); '' without any."""
    verdict = (row.get("transfer") or {}).get("transfer")
    parts, judged = [], None
    for t in row.get("transfers") or []:
        reward = "-" if t["reward"] is None else f"{t['reward']:.3f}"
        where = f"{t['domain'] or 'no domain'} {reward} run {t['run_id']}"
        if verdict and judged is None and t["run_id"] == verdict.get("candidate_run"):
            judged = f"transfer #{verdict['row']} {verdict['decision']}: {where}"
        else:
            parts.append(f"transfer {where}")
    if verdict and judged is None:  # its rerun is no longer the latest on that domain
        judged = f"transfer #{verdict['row']} {verdict['decision']} ({verdict['domain']})"
    return "; ".join(([judged] if judged else []) + parts)


__all__ = ["sparkline", "SPARK", "version_evidence", "reward_line", "on_axis", "figure_text", "transfers_text"]
