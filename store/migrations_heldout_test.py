"""Migration 12 of the evidence store (store/migrations.py runs it): the statistical test a
heldout set was registered with.

The gate's test (sign or permutation, t2e_tui/gate/policy.py) is fixed in advance with the set,
so it cannot be chosen after both p-values were seen; a policy naming the other test loosens
the rule. Shipped migrations are append-only: never edit this SQL; add the next number.
"""

from __future__ import annotations

HELDOUT_TEST_VERSION = 12

HELDOUT_TEST_SQL = r"""
-- The paired test the gate applies to comparisons on this set, fixed at registration
-- (`t2e heldout register --test`). Sets registered before this migration were judged by the
-- default, the sign test. ADD COLUMN fires no UPDATE trigger: the sets stay frozen.
ALTER TABLE heldout_sets ADD COLUMN test TEXT NOT NULL DEFAULT 'sign'
    CHECK (test IN ('sign', 'permutation'));
"""
