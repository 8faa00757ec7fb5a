"""Migration 15 of the evidence store (store/migrations.py runs it): where a gate's rewards
came from when they are not the runs' own.

A foreign run (OpenTelemetry, ATIF) has no gold; `t2e gate --reward-attr NAME` maps an
outcome attribute onto its rewards (store/outcomes.py), and a later gate reuses the mapping
kept on the episodes. The scoreboard row now records NAME, so a reader of the scoreboard can
tell which outcome its figures measure. Shipped migrations are append-only: never edit this
SQL; add the next number.
"""

from __future__ import annotations

REWARD_FROM_VERSION = 15

REWARD_FROM_SQL = r"""
-- Per side, the outcome attributes a foreign run's rewards were mapped from when the row was
-- recorded (`t2e gate --reward-attr NAME`, now or by an earlier gate), as JSON
-- {"baseline": ["NAME"], "candidate": ["NAME"]}, a side without a mapping left out; NULL when
-- neither side's rewards were mapped (graded runs, t2e's own). Rows recorded before this
-- migration kept it only in their re-score record (metrics_json's rescore.SIDE.mapped_from):
-- it is read from there.
ALTER TABLE gate_decisions ADD COLUMN reward_from_json TEXT;
UPDATE gate_decisions SET reward_from_json = (
    SELECT nullif(json_group_object(r.key, json(json_extract(r.value, '$.mapped_from'))),
                  '{}')
    FROM json_each(gate_decisions.metrics_json, '$.rescore') AS r
    WHERE json_type(r.value, '$.mapped_from') = 'array'
      AND json_array_length(r.value, '$.mapped_from') > 0)
WHERE json_valid(metrics_json);
"""
