"""The statistical test is fixed in advance, with the heldout set's registration; a policy that
picks the other one, after both p-values were on the screen (`--json` prints both), loosens the
rule like any other setting: supported at most, and said in the verdict.

The pair: on a registered set, 7 tasks go 0/3 -> 3/3 and 3 slip 3/3 -> 2/3, 5 stay 3/3. The
sign test sees 7 up, 3 down (p = 176/1024 = 0.17, inconclusive); the permutation test weighs
how far each moved (p = 15/1024 = 0.015, below the set's corrected alpha 0.0253). A policy
file saying `test = "permutation"` used to turn the inconclusive into a clean promote."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import store
from t2e_tui.cli import cli
from t2e_tui.gate.calibration import write_run

TASKS = [str(t) for t in range(15)]


def outcomes(candidate: bool) -> dict[str, list[float]]:
    out = {}
    for t in range(15):
        if t < 7:      # fixed by the candidate
            out[str(t)] = [1.0] * 3 if candidate else [0.0] * 3
        elif t < 10:   # slips once in three
            out[str(t)] = [1.0, 1.0, 0.0] if candidate else [1.0] * 3
        else:
            out[str(t)] = [1.0] * 3
    return out


class Store:
    def __init__(self, tmp_path):
        self.path = str(tmp_path / "s.sqlite")
        self.tmp = tmp_path

    def __call__(self, *args, ok=(0,)):
        res = CliRunner().invoke(cli, ["--store", self.path, *args])
        assert res.exit_code in ok, (args, res.exit_code, res.output)
        return res.output

    def register(self, name, *extra):
        return self("heldout", "register", name, "--domain", "calibration", "--tasks",
                    ",".join(TASKS), *extra)

    def runs(self) -> tuple[str, str]:
        conn = store.connect(self.path)
        try:
            b = write_run(conn, "base", outcomes(False), role="heldout",
                          candidate_hash="b" * 64)
            c = write_run(conn, "cand", outcomes(True), role="heldout", candidate_hash="c" * 64)
        finally:
            conn.close()
        return b, c

    def gate(self, b, c, *extra) -> dict:
        return json.loads(self("gate", b, c, "--json", *extra, ok=(0, 1, 3, 4)))

    def policy(self, text) -> str:
        path = self.tmp / "policy.toml"
        path.write_text(text)
        return str(path)


def test_a_policy_choosing_the_other_test_is_loosening(tmp_path):
    s = Store(tmp_path)
    s.register("H")
    b, c = s.runs()
    doc = s.gate(b, c)
    assert doc["evidence_role"] == "heldout"   # clean: only the statistics stand in the way
    assert doc["stats"]["p_sign_test"] == pytest.approx(176 / 1024)
    assert doc["stats"]["p_permutation"] == pytest.approx(15 / 1024)
    assert doc["decision"] == "inconclusive" and doc["stats"]["p_permutation"] <= \
        doc["stats"]["alpha"]
    # seen both p-values, switch the test: was a clean promote
    shopped = s.gate(b, c, "--policy", s.policy('[stats]\ntest = "permutation"\n'))
    assert shopped["decision"] == "supported" and shopped["exit_code"] == 4
    why = " ".join(shopped["reasons"])
    assert "loosens the promotion rule" in why
    assert "test permutation instead of set 'H''s registered sign test" in why
    assert shopped["stats"]["test_registered"] == "sign"
    assert shopped["stats"]["test"] == "paired_permutation_exact"


def test_the_test_registered_with_the_set_is_the_one_used(tmp_path):
    s = Store(tmp_path)
    out = s.register("H", "--test", "permutation")
    assert "test permutation" in out
    assert json.loads(s("heldout", "show", "H", "--json"))["test"] == "permutation"
    b, c = s.runs()
    doc = s.gate(b, c)   # the default policy: the registered test
    assert doc["decision"] == "promote", doc["reasons"]
    assert doc["stats"]["test"] == "paired_permutation_exact"
    assert doc["stats"]["test_registered"] == "permutation"
    # the policy naming the registered test is no loosening; naming the other one is
    same = s.gate(b, c, "--policy", s.policy('[stats]\ntest = "permutation"\n'), "--new-row")
    assert same["decision"] == "promote"
    other = s.gate(b, c, "--policy", s.policy('[stats]\ntest = "sign"\n'))
    assert other["decision"] == "inconclusive"
    assert other["stats"]["test"] == "mcnemar_exact" or other["stats"]["test"] == "sign_test"


def test_without_a_registered_set_the_default_test_is_the_fixed_one(tmp_path):
    s = Store(tmp_path)
    b, c = s.runs()
    doc = s.gate(b, c, "--policy", s.policy('[stats]\ntest = "permutation"\n'))
    assert doc["decision"] == "supported"
    assert any("test permutation instead of the default sign test" in r
               for r in doc["reasons"])


def test_register_refuses_an_unknown_test(tmp_path):
    s = Store(tmp_path)
    out = s("heldout", "register", "H", "--domain", "calibration", "--tasks", "1,2",
            "--test", "t-test", ok=(2,))
    assert "t-test" in out and "sign" in out and "permutation" in out


def test_the_store_and_the_gate_know_the_same_tests():
    from store.heldout import SET_TESTS
    from t2e_tui.gate.policy import STATS_DEFAULTS, TESTS

    assert SET_TESTS == TESTS and SET_TESTS[0] == STATS_DEFAULTS["test"]


def test_migration_12_gives_sets_registered_before_it_the_sign_test(tmp_path):
    import sqlite3

    import store.migrations as m
    from store.heldout import get_set, register_set

    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    saved = m.MIGRATIONS
    m.MIGRATIONS = [x for x in saved if x[0] < 12]
    try:
        m.migrate(raw)
        raw.execute("INSERT INTO heldout_sets (name, world_key, role, spec, task_ids_json, "
                    "sha256, registered_at) VALUES ('old', 'retail', 'heldout', '1,2', "
                    "'[\"1\", \"2\"]', 'x', '2026-01-01T00:00:00+00:00')")
    finally:
        m.MIGRATIONS = saved
    raw.close()
    conn = store.connect(path)   # migrates
    assert get_set(conn, "old")["test"] == "sign"
    with pytest.raises(sqlite3.DatabaseError, match="frozen"):
        conn.execute("UPDATE heldout_sets SET test = 'permutation' WHERE name = 'old'")
    assert register_set(conn, "new", "retail", ["3"], spec="3",
                        test="permutation")["test"] == "permutation"
    conn.close()
