"""Migration 13 of the evidence store (store/migrations.py runs it): what a registered set's
tasks were (store/set_content.py).

Shipped migrations are append-only: never edit this SQL; add the next number.
"""

from __future__ import annotations

HELDOUT_CONTENT_VERSION = 13

HELDOUT_CONTENT_SQL = r"""
-- What a heldout set's tasks were when it was registered (store/set_content.py, JSON): each
-- task definition's world.lock.task_content_hash, and the sha256 of the policy and the
-- records when the domain was loaded. The ids alone did not tie a set to its tasks: runs with
-- --data on an edited copy (same ids, other tasks, policy or records) matched it. NULL:
-- registered before this migration, or a world whose data was not loaded (content unknown).
-- ADD COLUMN fires no UPDATE trigger: the sets stay frozen.
ALTER TABLE heldout_sets ADD COLUMN content_json TEXT;
"""
