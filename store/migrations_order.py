"""Migration 12 of the evidence store (store/migrations.py runs it): the order of evidence.

The gate's rules are "before" tests (a set registered before the candidate was saved, no view
of its tasks before that, the baseline's agent on the set before the candidate's). They read
times the store wrote; this migration makes those times a clock nobody can set back: one row
holding the last stamp issued (`store/clock.py`). Shipped migrations are append-only: never
edit this SQL once released; add the next number.
"""

from __future__ import annotations

# microseconds since the epoch of an ISO time as the store writes it; julianday keeps about a
# millisecond, so a margin of one keeps the clock past every stamp already stored
_US = "CAST((julianday({col}) - 2440587.5) * 86400000000 AS INTEGER) + 1000"
_STAMPED = [("runs", "created_at"), ("agent_runs", "created_at"),
            ("agent_runs", "removed_at"), ("candidates", "saved_at"),
            ("heldout_sets", "registered_at"), ("evidence_views", "viewed_at"),
            ("run_role_changes", "changed_at"), ("gate_decisions", "created_at")]
_LATEST = " UNION ALL ".join(f"SELECT max({_US.format(col=c)}) AS us FROM {t}"
                             for t, c in _STAMPED)

ORDER_SQL = rf"""
-- The store clock (store/clock.py): the last time stamp issued, in microseconds since the
-- epoch. Every time the gate compares (heldout_sets.registered_at, candidates.saved_at,
-- evidence_views.viewed_at, runs.created_at and so agent_runs.created_at) is issued by
-- advancing this row to max(wall clock, last + 1 us) in one statement: a clock set back
-- (faketime, a VM's clock) cannot date a row before one the store already holds, and no two
-- stamps are equal. It starts past every stamp the store already holds.
CREATE TABLE store_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_us INTEGER NOT NULL
);
INSERT INTO store_clock (id, last_us)
SELECT 1, coalesce(max(us), 0) FROM ({_LATEST});
"""
