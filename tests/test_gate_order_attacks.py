"""Attacks on the gate's "before" tests (a review in session 12): each got `promote`, exit 0,
on clean heldout with no leaked task before the fix, played here through the command line
with the scripted stand-in agent (its results prove nothing about models; here it only makes
the evidence).

1. A clock set back while saving (faketime; here the wall clock store.db reads, shifted) dated
   the candidate before the heldout views made since: the store clock never goes backwards.
2. Heldout trajectories viewed after the candidate was saved, then the candidate that fits
   picked among those saved and run: views count up to the candidate's first run on the set.
3. Synthetic variants of heldout tasks (same customer, same order) viewed and tried without
   being counted: a variant counts as its base task for views and for the agent ledger.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from test_gate_attacks import FIX_RULE, T2E

import store
import store.db

NOOP = "\n- Be polite.\n"
OTHER = "\n- Always confirm the order id back to the customer before any change.\n"
SYN = "synthetic:cross_order_reference:20:1"


@pytest.fixture
def t2e(tmp_path):
    t = T2E(tmp_path)
    t("heldout", "register", "H", "--domain", "mini-retail", "--tasks", "heldout")
    return t


class _Shifted(datetime):
    """datetime with `now` moved by `days` (a faketime stand-in)."""
    days = 0.0

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) - timedelta(days=cls.days)


def shifted(monkeypatch, days: float) -> None:
    """Move the wall clock the store reads by -`days` (0: the true time again)."""
    monkeypatch.setattr(_Shifted, "days", days)
    monkeypatch.setattr(store.db, "datetime", _Shifted if days else datetime)


def gate_summary(doc: dict) -> tuple:
    return doc["decision"], doc["evidence_role"], doc["exit_code"]


# -- 1. a clock set back ---------------------------------------------------------------------

def test_a_save_dated_back_does_not_hide_the_views_before_it(tmp_path, monkeypatch):
    t = T2E(tmp_path)
    shifted(monkeypatch, 400)
    t("heldout", "register", "H", "--domain", "mini-retail", "--tasks", "heldout")
    shifted(monkeypatch, 0)
    b = t.run("base")
    t("show", f"{b}:crossorder-01")              # views recorded today
    shifted(monkeypatch, 300)
    t.save("fix", "baseline", FIX_RULE)          # ... and the save dated 300 days back
    shifted(monkeypatch, 0)
    doc = t.gate(b, t.run("cand", candidate="fix"))
    assert gate_summary(doc) == ("supported", "development", 4), doc["reasons"]
    assert doc["leaked_tasks"] == ["crossorder-01"]
    assert any("1 task(s) viewed before the candidate" in r for r in doc["role_reasons"])


def test_a_baseline_dated_back_is_not_the_first_agent_on_the_set(tmp_path, monkeypatch):
    """The candidate ran on the set first; a baseline run later with the clock set back must
    not pass for the agent that was there before it."""
    t = T2E(tmp_path)
    shifted(monkeypatch, 400)
    t("heldout", "register", "H", "--domain", "mini-retail", "--tasks", "heldout")
    t.save("fix", "baseline", FIX_RULE)
    shifted(monkeypatch, 0)
    c = t.run("cand", candidate="fix")
    shifted(monkeypatch, 300)
    b = t.run("base")
    shifted(monkeypatch, 0)
    doc = t.gate(b, c)
    assert gate_summary(doc) == ("supported", "development", 4), doc["reasons"]
    assert any("first ran on set 'H' after the candidate's" in r for r in doc["role_reasons"])


def test_the_store_clock_never_goes_backwards(tmp_path, monkeypatch):
    from store.clock import stamp

    conn = store.connect(tmp_path / "s.sqlite")
    first = stamp(conn)
    shifted(monkeypatch, 300)
    second, third = stamp(conn), stamp(conn)
    shifted(monkeypatch, 0)
    assert first < second < third   # strictly later, whatever the wall clock says
    assert datetime.fromisoformat(third) - datetime.fromisoformat(first) < timedelta(seconds=5)
    # a later connection (another process) reads the same clock
    other = store.connect(tmp_path / "s.sqlite")
    shifted(monkeypatch, 300)
    assert stamp(other) > third
    conn.close()
    other.close()


# -- 2. views after the save, before the candidate's first run on the set --------------------

def test_viewing_the_set_after_saving_then_picking_the_candidate_is_not_clean(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    t2e.save("polite", "baseline", NOOP)
    t2e.save("confirm", "baseline", OTHER)
    b = t2e.run("base")
    t2e("show", f"{b}:crossorder-01")             # after every save: which one fits?
    doc = t2e.gate(b, t2e.run("cand", candidate="fix"))
    assert gate_summary(doc) == ("supported", "development", 4), doc["reasons"]
    assert doc["leaked_tasks"] == ["crossorder-01"]
    assert any("before the candidate's first run on these tasks" in r
               for r in doc["role_reasons"])


def test_views_after_the_candidates_first_run_stay_clean(t2e):
    t2e.save("fix", "baseline", FIX_RULE)
    b = t2e.run("base")
    c = t2e.run("cand", candidate="fix")
    t2e("show", f"{b}:crossorder-01")
    t2e("show", f"{c}:crossorder-02")
    doc = t2e.gate(b, c)
    assert gate_summary(doc) == ("promote", "heldout", 0), doc["reasons"]
    assert doc["leaked_tasks"] == []


# -- 3. synthetic variants of heldout tasks ---------------------------------------------------

def test_synthetic_variants_of_heldout_tasks_count_as_those_tasks(t2e):
    syn = t2e.run("synbase", tasks=SYN, role="synthetic")
    shown = t2e("show", f"{syn}:syn-cross_order_reference-1-2")
    assert "#W5340830" in shown                   # heldout crossorder-01's own order
    t2e.save("fix", "baseline", FIX_RULE)
    t2e.save("polite", "baseline", NOOP)
    for name in ("fix", "polite"):
        t2e.run(f"syn-{name}", tasks=SYN, role="synthetic", candidate=name)
    b = t2e.run("base")
    c = t2e.run("cand", candidate="fix")
    doc = t2e.gate(b, c)
    assert gate_summary(doc) == ("supported", "development", 4), doc["reasons"]
    assert "crossorder-01" in doc["leaked_tasks"]
    reasons = " | ".join(doc["role_reasons"])
    assert "candidate run cand" in reasons and "baseline run base" in reasons
    assert "first-run rule" in reasons
    assert doc["heldout_set"]["agents_on_set"] == 3


def test_the_ledger_and_views_key_a_variant_by_its_base_in_either_write_order(tmp_path):
    """Importers may store a run's tasks after its episodes: the base task still reaches the
    ledger, and a view of the variant is a view of its base."""
    from store import writer
    from store.queries import record_view
    from world.mini_retail.synthetic import synthetic_tasks

    conn = store.connect(tmp_path / "s.sqlite")
    variants = synthetic_tasks("cross_order_reference", 3, 1)
    bases = {v["id"]: v["t2e"]["synthetic"]["base"] for v in variants}
    for order in ("tasks first", "episodes first"):
        rid = writer.create_run(conn, name=order, domain="mini-retail")
        if order == "tasks first":
            writer.put_tasks(conn, rid, variants)
        eids = [writer.begin_episode(conn, rid, episode_key=f"{v['id']}:0", task_id=v["id"],
                                     trial=0) for v in variants]
        if order == "episodes first":
            writer.put_tasks(conn, rid, variants)
        ran = {r[0] for r in conn.execute("SELECT task_id FROM agent_run_tasks WHERE run_id = ?",
                                          (rid,))}
        assert ran == set(bases) | set(bases.values()), order
        record_view(conn, eids[0], "cli")
        got = conn.execute("SELECT task_id, base_task_id FROM evidence_views "
                           "ORDER BY view_id DESC LIMIT 1").fetchone()
        assert got == (variants[0]["id"], bases[variants[0]["id"]])
    conn.close()


# -- migration 14 ---------------------------------------------------------------------------

def old_store(path, before: int = 14):
    """A store file migrated up to `before` - 1 (a raw connection: today's writers expect
    today's schema)."""
    import sqlite3

    import store.migrations as m

    raw = sqlite3.connect(path, isolation_level=None)
    saved = m.MIGRATIONS
    m.MIGRATIONS = [x for x in saved if x[0] < before]
    try:
        m.migrate(raw)
    finally:
        m.MIGRATIONS = saved
    return raw


def test_migration_14_starts_the_clock_past_the_latest_stamp(tmp_path):
    from store.clock import stamp

    raw = old_store(tmp_path / "old.sqlite")
    late = "2099-01-01T00:00:00.000001+00:00"   # a stamp from a clock set forward
    raw.execute("INSERT INTO evidence_views (domain, task_id, viewed_at, via) "
                "VALUES ('mini-retail', '1', ?, 'cli')", (late,))
    raw.execute("INSERT INTO candidates (candidate_hash, name, body, saved_at) "
                "VALUES ('c', 'c', 'b', 'not a time')")
    raw.close()
    conn = store.connect(tmp_path / "old.sqlite")   # migrates
    assert late < stamp(conn) < "2099-01-01T00:00:01"
    conn.close()


def test_migration_14_keys_the_variants_already_stored(tmp_path):
    from store.variants import base_task_id
    from world.mini_retail.synthetic import synthetic_tasks

    raw = old_store(tmp_path / "old.sqlite")
    variant = synthetic_tasks("cross_order_reference", 1, 1)[0]
    base = base_task_id(variant)
    raw.execute("INSERT INTO runs (run_id, name, domain, created_at) VALUES "
                "('r1', 'old', 'mini-retail', '2026-01-01T00:00:00+00:00')")
    for task in (variant, {"id": "plain", "t2e": {"split": "synthetic"}}):
        raw.execute("INSERT INTO tasks (run_id, task_id, ord, task_json) VALUES ('r1', ?, 0, ?)",
                    (task["id"], json.dumps(task)))
        raw.execute("INSERT INTO episodes (run_id, episode_key, ord, task_id, status) "
                    "VALUES ('r1', ?, 0, ?, 'done')", (task["id"], task["id"]))
    raw.execute("INSERT INTO evidence_views (run_id, domain, task_id, viewed_at, via) VALUES "
                "('r1', 'mini-retail', ?, '2026-01-01T00:00:01+00:00', 'cli')", (variant["id"],))
    raw.close()
    conn = store.connect(tmp_path / "old.sqlite")   # migrates
    assert dict(conn.execute("SELECT task_id, base_task_id FROM tasks")) == {
        variant["id"]: base, "plain": None}
    assert {r[0] for r in conn.execute("SELECT task_id FROM agent_run_tasks")} == {
        variant["id"], "plain", base}
    assert conn.execute("SELECT base_task_id FROM evidence_views").fetchall() == [(base,)]
    conn.close()


def test_a_variant_names_its_base_and_a_plain_task_none():
    from store.variants import base_task_id
    from world.mini_retail.synthetic import synthetic_tasks

    v = synthetic_tasks("auth_skipped", 1, 2)[0]
    assert base_task_id(v) == v["t2e"]["synthetic"]["base"] != v["id"]
    assert base_task_id({"id": "7"}) is None
    assert base_task_id({"id": "7", "t2e": {"synthetic": {"base": 3}}}) == "3"
    for odd in ({"t2e": "x"}, {"t2e": {"synthetic": []}}, {"t2e": {"synthetic": {"base": ""}}},
                {"t2e": {"synthetic": {"base": {"a": 1}}}}):
        assert base_task_id(odd) is None
    assert json.dumps(v)  # still plain JSON
