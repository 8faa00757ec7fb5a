"""Alpha is spent per candidate across every registered set it is tried on, not only per set.

The attack: register two disjoint halves hA and hB of the heldout split before saving the
candidate, run and gate the same candidate on each. Both gates used alpha 0.0304 (k = 1): a
candidate tried on N disjoint sets got N shots at the full level. Played through the command
line with the scripted stand-in agent (its results prove nothing about models; here it only
makes the evidence)."""

from __future__ import annotations

import math

import pytest
from test_gate_attacks import FIX_RULE, T2E

from t2e_tui.gate.heldout import ZETA3, spent_alpha


@pytest.fixture
def halves(tmp_path):
    from world.domains import load_domain

    t = T2E(tmp_path)
    ids = load_domain("mini-retail").splits["heldout"]
    a, b = ",".join(ids[0::2]), ",".join(ids[1::2])
    t("heldout", "register", "hA", "--domain", "mini-retail", "--tasks", a)
    t("heldout", "register", "hB", "--domain", "mini-retail", "--tasks", b)
    t.save("fix", "baseline", FIX_RULE)
    return t, a, b


def test_the_second_set_a_candidate_is_tried_on_spends_more_alpha(halves):
    t, a, b = halves
    first = t.gate(t.run("base-a", tasks=a), t.run("cand-a", tasks=a, candidate="fix"))
    second = t.gate(t.run("base-b", tasks=b), t.run("cand-b", tasks=b, candidate="fix"))
    # the attack: both gates were at 0.0304, k = 1 each
    assert second["stats"]["alpha"] < first["stats"]["alpha"] / 6
    assert first["heldout_set"]["name"] == "hA"
    assert first["heldout_set"]["candidate_index"] == 1
    assert first["heldout_set"]["set_index"] == 1
    assert first["stats"]["alpha"] == pytest.approx(spent_alpha(0.05, 1, 1))
    h = second["heldout_set"]
    assert h["name"] == "hB" and h["candidate_index"] == 1 and h["set_index"] == 2
    assert h["sets_of_candidate"] == ["hA", "hB"]
    assert second["stats"]["alpha"] == pytest.approx(spent_alpha(0.05, 1, 2))
    # the wording says both k and j, and why
    why = next(r for r in second["reasons"] if r.startswith("alpha 0.05 corrected"))
    assert "k = 1" in why and "j = 2" in why and "'hA'" in why
    human = t("gate", second["baseline"]["run_id"], second["candidate"]["run_id"],
              ok=(0, 3, 4))
    assert "set 2 of the candidate's agent" in human


def test_one_run_over_both_halves_tries_the_candidate_on_both(halves):
    """A run on the whole split touches both halves at once: they are its sets 1 and 2 (by
    registration order), never two first sets."""
    t, a, b = halves
    t.run("peek", tasks="heldout", role="development", candidate="fix")
    doc = t.gate(t.run("base-b", tasks=b), t.run("cand-b", tasks=b, candidate="fix"))
    assert doc["heldout_set"]["sets_of_candidate"] == ["hA", "hB"]
    assert doc["heldout_set"]["set_index"] == 2
    assert doc["stats"]["alpha"] == pytest.approx(spent_alpha(0.05, 1, 2))


def test_the_union_bound_adds_up_to_alpha():
    """Over every candidate k >= 1, each of its k baselines and each set j >= 1 it is tried
    on: sum of the levels <= alpha (partial sums, with the tails bounded by integrals)."""
    kmax = jmax = 2000
    # one set: every candidate k and each of its k baselines, all on their first set (j = 1,
    # the largest factor)
    per_set = sum(k * spent_alpha(1.0, k, 1) for k in range(1, kmax + 1))
    assert per_set <= 1.0 and per_set == pytest.approx(1 / ZETA3, rel=1e-3)
    # one candidate, k = 1 on every set (the most it can be given), every set j: in all, the
    # share of the first candidate on one set and no more
    per_candidate = sum(spent_alpha(1.0, 1, j) for j in range(1, jmax + 1))
    assert per_candidate <= 6 / math.pi ** 2
    assert per_candidate == pytest.approx(6 / math.pi ** 2, rel=1e-6)
    # the price of the first set, and of a second one
    assert spent_alpha(1.0, 1, 1) * math.pi ** 2 / 6 == pytest.approx(0.8319, abs=1e-4)
    assert spent_alpha(1.0, 1, 2) * math.pi ** 2 / 6 == pytest.approx(0.1040, abs=1e-4)
