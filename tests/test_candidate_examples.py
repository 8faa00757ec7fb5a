"""The example candidates in candidates/ load, chain to the baseline and match the demo."""

from __future__ import annotations

from pathlib import Path

from t2e_tui.candidates import list_dir, resolve
from t2e_tui.demo import DEMO_CANDIDATES

CANDS = Path(__file__).resolve().parents[1] / "candidates"


def test_examples_load_and_have_hypotheses_and_known_parents():
    cands = {c.name: c for c in list_dir(CANDS)}
    assert {"baseline", "cross-order-v1", "skip-confirm-v1", "multi-rule-v1"} <= set(cands)
    for c in cands.values():
        assert c.body.strip() and c.hypothesis
        if c.name != "baseline":
            assert c.parent in cands, c.name
            assert c.path.name == f"{c.name}.md"


def test_demo_candidates_are_the_example_files():
    for name, rule, _, _ in DEMO_CANDIDATES:
        c = resolve(name, CANDS)
        assert c.rule_lines() == [rule]


def test_multi_rule_example_has_rules_to_ablate():
    assert len(resolve("multi-rule-v1", CANDS).rule_lines()) == 4
