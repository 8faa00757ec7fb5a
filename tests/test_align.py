"""Alignment core (t2e_tui.align), textsafe and the explorer's queries — no textual."""

from __future__ import annotations

import io
import json
import random

import pytest
from rich.console import Console
from tui_fixture import HOSTILE, build_store

from t2e_tui import data_access as da
from t2e_tui.align import ARGS, ONLY_A, ONLY_B, SAME, TEXT, align, diff_args, events_of
from t2e_tui.align_print import print_compare
from t2e_tui.textsafe import clean, escape_markup, one_line, strip_controls


def call_step(idx, name, args, cid=None, content=None):
    return {"idx": idx, "role": "assistant", "content": content,
            "tool_calls": [{"id": cid or f"c{idx}", "name": name, "arguments": args}]}


def result_step(idx, cid, content="ok", error=False):
    return {"idx": idx, "role": "tool", "tool_call_id": cid, "content": content,
            "error": int(error)}


def traj(calls, texts=True):
    """calls: [(name, args, error)] → steps with a user turn before each call."""
    steps, i = [], 0
    for n, (name, args, err) in enumerate(calls):
        if texts:
            steps.append({"idx": i, "role": "user", "content": f"turn {n}"})
            i += 1
        steps.append(call_step(i, name, args, cid=f"c{n}"))
        steps.append(result_step(i + 1, f"c{n}", "Error: x" if err else "{}", err))
        i += 2
    return steps


def test_events_attach_results_by_call_id():
    steps = [call_step(0, "a", {"x": 1}, "k1"), call_step(1, "b", {}, "k2"),
             result_step(2, "k2", "B"), result_step(3, "k1", "A", error=True)]
    ev = events_of(steps)
    assert [(e.name, e.result, e.error) for e in ev] == [("a", "A", True), ("b", "B", False)]


def test_repeated_calls_align_without_autojunk():
    # 240 calls drawn from three keys, 5 dropped on one side. Each key is "popular" (>1% of a
    # 200+ list), so SequenceMatcher's autojunk would junk them all and match only ~40; with
    # autojunk=False every one of the 235 shared calls pairs up.
    rng = random.Random(0)
    # one tool, three orders: pairing by tool name alone cannot rescue a bad key alignment
    tools = {c: ("get_order_details", {"order_id": f"#W{c}"}) for c in "oup"}
    seq = [rng.choice("oup") for _ in range(240)]
    seq_b = list(seq)
    for _ in range(5):
        del seq_b[rng.randrange(len(seq_b))]
    a = traj([(*tools[c], False) for c in seq], texts=False)
    b = traj([(*tools[c], False) for c in seq_b], texts=False)
    al = align(a, b)
    assert sum(r.status == SAME for r in al.rows) == 235
    assert [r.status for r in al.rows].count(ONLY_A) == 5
    assert len(al.divergences) == 5


def test_replaced_calls_pair_by_name_with_argument_diff():
    a = traj([("find_user_id_by_email", {"email": "a@x"}, False),
              ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["1"]}, False)])
    b = traj([("find_user_id_by_email", {"email": "a@x"}, False),
              ("exchange_delivered_order_items", {"order_id": "#W2", "item_ids": ["9"]}, True),
              ("transfer_to_human_agents", {"summary": "s"}, False)])
    al = align(a, b)
    calls = [r for r in al.rows if r.status != TEXT]
    assert [r.status for r in calls] == [SAME, ARGS, ONLY_B]
    changed = [d.key for d in calls[1].diffs if d.status != SAME]
    assert changed == ["item_ids"]
    # text turns sit between the calls they came between
    first_call = next(i for i, r in enumerate(al.rows) if r.status != TEXT)
    assert al.rows[first_call - 1].status == TEXT
    assert al.first_divergence() == al.rows.index(calls[1])
    assert al.next_divergence(al.first_divergence()) == al.rows.index(calls[2])
    assert al.prev_divergence(al.rows.index(calls[2])) == al.rows.index(calls[1])
    assert al.next_divergence(al.rows.index(calls[2])) is None


def test_error_flag_difference_is_a_divergence():
    a = traj([("get_user_details", {"user_id": "u"}, False)])
    b = traj([("get_user_details", {"user_id": "u"}, True)])
    al = align(a, b)
    assert [r.status for r in al.rows if r.status != TEXT] == ["error"]
    assert al.divergences


def test_diff_args_reports_added_and_removed_keys():
    d = {x.key: x.status for x in diff_args({"a": 1, "b": 2}, {"b": 3, "c": 4})}
    assert d == {"a": "only_a", "b": "changed", "c": "only_b"}


TASK = {"id": "7", "evaluation_criteria": {"actions": [
    {"action_id": "7_0", "name": "get_user_details", "arguments": {"user_id": "u"},
     "compare_args": None},
    {"action_id": "7_1", "name": "cancel_pending_order",
     "arguments": {"order_id": "#W1", "reason": "no longer needed"}, "compare_args": None},
    {"action_id": "7_2", "name": "transfer_to_human_agents", "arguments": {"summary": "x"},
     "compare_args": []}]}}


def test_gold_lane_found_and_missing_per_run():
    a = traj([("get_user_details", {"user_id": "u"}, False),
              ("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"}, False),
              ("transfer_to_human_agents", {"summary": "something else"}, False)])
    b = traj([("get_user_details", {"user_id": "u"}, False),
              ("cancel_pending_order", {"order_id": "#W1", "reason": "ordered by mistake"},
               False)])
    al = align(a, b, TASK)
    assert [(g.found_a, g.found_b) for g in al.gold] == [(True, True), (True, False),
                                                        (True, False)]
    assert al.rows[al.gold[1].row_a].a.name == "cancel_pending_order"
    assert al.gold[1].row_b is None


def test_recorded_action_checks_win_over_recomputation():
    a = traj([("get_user_details", {"user_id": "u"}, False)])
    checks = [{"kind": "action", "pos": 0, "met": 0}]
    al = align(a, None, TASK, checks_a=checks)
    assert al.gold[0].found_a is False


def test_single_run_against_gold():
    a = traj([("get_user_details", {"user_id": "u"}, False),
              ("get_order_details", {"order_id": "#W1"}, False)])
    al = align(a, None, TASK)
    assert al.single
    statuses = [r.status for r in al.rows if r.status != TEXT]
    # the extra read is not a divergence; the two missing gold writes are
    assert statuses.count(ONLY_B) == 2
    assert all(al.rows[i].status == ONLY_B for i in al.divergences)
    assert ONLY_A in statuses and len(al.divergences) == 2


def test_gold_actions_done_in_another_order_are_no_difference():
    """tau2's action check does not look at order, but the gold lane paired the run's calls
    with the gold actions in the gold's order: a run that read before it wrote, against a
    gold that lists the write first, showed one action as missing ("(only in B)", one
    difference) although its check was met. Each gold action is now paired with the call
    that satisfies it, wherever it is; one no call satisfies is still missing."""
    task = {"id": "t", "evaluation_criteria": {"actions": [
        {"action_id": "a0", "name": "toggle_airplane_mode", "arguments": {}},
        {"action_id": "a1", "name": "get_customer_by_phone",
         "arguments": {"phone_number": "555"}},
        {"action_id": "a2", "name": "reset_apn", "arguments": {}}]}}
    run = traj([("get_customer_by_phone", {"phone_number": "555"}, False),
                ("toggle_airplane_mode", {}, False)])
    al = align(run, None, task)
    pairs = [(r.a.name, r.b.name) for r in al.rows if r.a is not None and r.b is not None
             and r.status != TEXT]
    assert pairs == [("get_customer_by_phone", "get_customer_by_phone"),
                     ("toggle_airplane_mode", "toggle_airplane_mode")]
    only_gold = [r.b.name for r in al.rows if r.status == ONLY_B]
    assert only_gold == ["reset_apn"]
    assert [al.rows[i].b.name for i in al.divergences] == ["reset_apn"]
    assert [g.found_a for g in al.gold] == [True, True, False]


def test_strip_controls_removes_escapes_and_keeps_text():
    s = strip_controls("a\x1b[31mred\x1b[0m\x1b]0;title\x07b\x9b2Jc\u202ed\x00e\tf")
    assert s == "aredbcde    f"
    assert "\x1b" not in strip_controls(HOSTILE)


def test_markup_is_escaped_and_huge_fields_truncated():
    assert escape_markup("[bold]x[/]") == r"\[bold]x\[/]"
    text, cut = clean("x" * 10_000_000, 100)
    assert cut and len(text) == 100
    assert one_line("a\nb", 10) == "a ⏎ b"


@pytest.fixture
def fx(tmp_path):
    path = tmp_path / "fx.sqlite"
    ids = build_store(path)
    conn = da.open_conn(str(path))
    yield conn, ids
    conn.close()


def test_task_rows_use_gate_transitions_and_hints(fx):
    conn, ids = fx
    rows = {r.task_id: r for r in da.task_rows(conn, ids["base"], ids["cand"])}
    assert {k: r.transition for k, r in rows.items()} == {
        "1": "both pass", "2": "regressed", "3": "fixed", "4": "both pass"}
    da.fill_hints(conn, list(rows.values()))
    assert "C:1 tool err" in rows["2"].hints
    assert not rows["1"].hints


def test_live_run_task_rows_show_running_and_single(fx):
    conn, ids = fx
    rows = da.task_rows(conn, ids["live"], None)
    assert [(r.task_id, r.transition) for r in rows] == [("1", "pass")]


def test_print_compare_json_and_evidence_view(fx):
    conn, ids = fx
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    buf = io.StringIO()
    al = print_compare(Console(file=buf, width=120), conn, a, b, as_json=True)
    data = json.loads(buf.getvalue())
    assert data["divergences"] == al.divergences and al.divergences
    # the users' first words differ (a message-level split), then the exchange call
    assert data["rows"][data["divergences"][0]]["split"] is True
    assert data["blocks"] == [[b, e] for b, e in al.blocks]
    first = next(r for r in data["rows"] if r["status"] != "text" and r["row"] in
                 data["divergences"])
    assert first["status"] == "args"
    assert first["arg_diffs"] == [{"key": "item_ids", "a": ["111"], "b": ["999"],
                                  "status": "changed"}]
    assert [g["found_b"] for g in data["gold"]] == [True, True, False]
    views = conn.execute("SELECT episode_id, via FROM evidence_views ORDER BY view_id").fetchall()
    assert [tuple(v) for v in views] == [(a, "cli"), (b, "cli")]


def test_print_compare_text_is_not_interpreted(fx):
    conn, ids = fx
    buf = io.StringIO()
    print_compare(Console(file=buf, width=200, force_terminal=True), conn,
                  "baseline:2", "candidate:2")
    out = buf.getvalue()
    assert "[bold red]not markup[/]" in out  # markup shown as typed
    assert "]0;pwned" not in out and "\x1b[2J" not in out  # the trace's escapes are gone


def test_resolve_episode_errors_name_the_reference(fx):
    conn, _ = fx
    with pytest.raises(LookupError, match="no run matches 'nope'"):
        da.resolve_episode(conn, "nope:1")
    with pytest.raises(LookupError, match="episode 999"):
        da.resolve_episode(conn, "999")


def test_search_finds_steps_with_run_names(fx):
    conn, ids = fx
    hits = da.search(conn, "exchange")
    assert {h.run_name for h in hits} == {"baseline", "candidate"}
    assert all(h.snippet for h in hits)


def test_search_snippet_keeps_spaces_and_strips_controls():
    from t2e_tui.ui.screens.search import snippet_cell

    cells = snippet_cell("say \x1b[31m«hello» world\nnext")
    assert cells == [("say ", ""), ("hello", "hit"), (" world ⏎ next", "")]


def test_search_snippet_shortens_long_context_before_the_match():
    from t2e_tui.ui.screens.search import LEAD, snippet_cell

    lead = '…"price": 168.69, "options": {"size": "M"}, "fulfillments": [{"'
    cells = snippet_cell(lead + "«tracking»_id")
    text = "".join(t for t, _ in cells)
    assert cells[1] == ("tracking", "hit")
    assert text.startswith("…") and text.index("tracking") <= LEAD + 1
    assert snippet_cell("short «hit»")[0] == ("short ", "")  # short context is kept whole


def test_load_episode_with_plain_tuple_rows(tmp_path):
    import sqlite3

    path = tmp_path / "fx.sqlite"
    ids = build_store(path)
    conn = sqlite3.connect(str(path))  # no row_factory: as the CLI opens the store
    ep = da.load_episode(conn, ids["episodes"][("cand", "2")])
    assert ep.task_id == "2" and ep.steps[0]["role"] == "assistant" and ep.checks


# -- divergence blocks and message-level splits (#15) -----------------------------------------

def text_step(idx, role, content):
    return {"idx": idx, "role": role, "content": content}


def test_consecutive_differing_rows_are_one_block():
    from t2e_tui.align import blocks_of

    assert blocks_of([7, 8, 9, 10, 11, 16]) == [(7, 11), (16, 16)]
    assert blocks_of([]) == []


def test_n_and_p_stop_once_per_block():
    calls = [("find_user_id_by_email", {"email": "a@x"}, False)]
    extra = [("get_order_details", {"order_id": f"#W{i}"}, False) for i in range(4)]
    a = traj(calls + [("cancel_pending_order", {"order_id": "#W9"}, False)], texts=False)
    b = traj(calls + extra + [("cancel_pending_order", {"order_id": "#W9"}, False),
                              ("transfer_to_human_agents", {"summary": "x"}, False)],
             texts=False)
    al = align(a, b)
    assert len(al.divergences) == 5 and al.blocks == [(1, 4), (6, 6)]
    assert al.first_divergence() == 1
    assert al.next_divergence(1) == 6 and al.next_divergence(3) == 6  # not 2, 3, 4
    assert al.prev_divergence(6) == 1 and al.prev_divergence(3) == 1
    assert al.next_divergence(6) is None and al.block_at(3) == 0


def test_messages_parting_before_any_call_differs_is_a_divergence():
    same = [text_step(0, "assistant", "Hi!"), text_step(1, "user", "I want a return.")]
    a = same + [text_step(2, "assistant", "Sure, your email?"), text_step(3, "user", "a@x"),
                call_step(4, "find_user_id_by_email", {"email": "a@x"}, "k"),
                result_step(5, "k", "u1"), text_step(6, "assistant", "Found you. Order?")]
    b = same + [text_step(2, "assistant", "To verify you, your email please?"),
                text_step(3, "user", "a@x"),
                call_step(4, "find_user_id_by_email", {"email": "a@x"}, "k"),
                result_step(5, "k", "u1"), text_step(6, "assistant", "Which order is it?")]
    al = align(a, b)
    # rows: 0 Hi, 1 user, 2 assistant differs, 3 user same, 4 call, 5 assistant differs
    assert [r.split for r in al.rows] == [False, False, True, False, False, False]
    assert al.blocks == [(2, 2)] and al.first_step() == (2, 2)
    # once they have parted, later wording differences are not counted again
    assert not al.rows[5].divergent


def test_a_call_divergence_first_means_no_message_split():
    a = traj([("get_order_details", {"order_id": "#W1"}, False)])
    b = traj([("get_order_details", {"order_id": "#W2"}, False)])
    b[-1]["content"] = "other"  # results differ too; texts after the split don't count
    b.append(text_step(9, "user", "different words"))
    al = align(a, b)
    assert not any(r.split for r in al.rows)
    assert [al.rows[i].status for i in al.divergences] == ["args"]


def test_end_matters_for_stops_transfers_and_errors():
    from t2e_tui.align import Event, end_matters

    assert end_matters(Event("text", 3, "user", text="Thanks. ###STOP###"))
    assert not end_matters(Event("text", 3, "user", text="Thanks."))
    assert end_matters(Event("call", 4, "assistant", name="transfer_to_human_agents"))
    assert end_matters(Event("call", 4, "assistant", name="get_order_details", error=True))
    assert not end_matters(Event("call", 4, "assistant", name="get_order_details"))
    assert not end_matters(None)


def test_middle_cut_and_tell_apart_keep_what_differs():
    from t2e_tui.fitting import middle_cut, tell_apart

    assert middle_cut("abcdef", 6) == "abcdef"
    cut = middle_cut("ablate cross-order-v1 full", 16)
    assert len(cut) == 16 and cut.startswith("ablate") and cut.endswith("full")
    a, b = tell_apart("retail_gpt-4.1_test-split_1trial", "retail_ft-gpt-4.1-sft_test-split_1trial",
                      20)
    assert a != b and len(a) <= 20 and len(b) <= 20 and "ft-gpt" in b
    assert tell_apart("short", "names", 20) == ("short", "names")


def test_crossorder_13_has_two_blocks(demo):
    conn = da.open_conn(demo["store"])
    try:
        by = {c["name"]: c for c in demo["candidates"]}
        a = da.load_episode(conn, da.resolve_episode(conn, f"{demo['runs']['baseline']}:"
                                                           "crossorder-13"))
        b = da.load_episode(conn, da.resolve_episode(conn, f"{by['cross-order-v1']['run_id']}:"
                                                           "crossorder-13"))
    finally:
        conn.close()
    al = align(a.steps, b.steps, a.task, checks_a=a.checks, checks_b=b.checks)
    # the product look-up only A makes and the four orders only B reads; then B's change
    assert al.blocks == [(7, 11), (16, 16)] and len(al.divergences) == 6
    assert al.rows[16].b.name == "modify_pending_order_items" and al.rows[16].a is None


def test_airline_writes_are_writes_in_the_gold_lane():
    """The lanes know every domain's write tools: an airline write the gold does not have is a
    divergence against gold; an extra airline read is exploration (was: kind unknown, missed)."""
    task = {"id": "a1", "evaluation_criteria": {"actions": [
        {"action_id": "a1_0", "name": "get_reservation_details",
         "arguments": {"reservation_id": "ABC123"}}]}}
    a = traj([("get_reservation_details", {"reservation_id": "ABC123"}, False),
              ("search_direct_flight", {"origin": "JFK", "destination": "LAX",
                                        "date": "2024-05-20"}, False),
              ("send_certificate", {"user_id": "u", "amount": 100}, False)])
    al = align(a, None, task)
    kinds = {r.a.name: r.a.tool_kind for r in al.rows if r.a is not None and r.a.name}
    assert kinds == {"get_reservation_details": "read", "search_direct_flight": "read",
                     "send_certificate": "write"}
    assert [al.rows[i].a.name for i in al.divergences] == ["send_certificate"]


def test_print_compare_against_gold_names_where_a_missing_gold_action_was_due(fx):
    """One run against its gold actions: a gold write the run never made has no step of its
    own; the summary said `first at ` with nothing after it. The CLI twin now uses the compare
    screen's words (align_where)."""
    conn, ids = fx
    buf = io.StringIO()
    print_compare(Console(file=buf, width=300), conn, ids["episodes"][("base", "3")], None,
                  record=False)
    last = buf.getvalue().splitlines()[-1]
    assert "first at  " not in last and "first at (" not in last
    assert "1 difference; first after A step 3: gold action 1 cancel_pending_order missing" \
        in last


def test_print_compare_numbers_rows_by_step_as_the_app(fx):
    """`t2e show --vs` numbered its rows 0, 1, 2... (a row counter), while the README and the
    app's gutter use step numbers: `:`/--step N read off the CLI went elsewhere."""
    conn, ids = fx
    buf = io.StringIO()
    print_compare(Console(file=buf, width=200), conn, ids["episodes"][("cand", "2")],
                  ids["episodes"][("base", "2")], record=False)
    row = next(ln for ln in buf.getvalue().splitlines() if "transfer_to_human_agents" in ln)
    assert row.split("│")[1].strip() == "11"  # A's step (it is the 9th row)


def _lookup_first() -> list[dict]:
    """A looks the user up (step 2) before asking which reservation, then reads it (step 6)."""
    call = {"id": "c1", "name": "get_user_details", "arguments": {"user_id": "u1"},
            "requestor": "assistant"}
    res = {"id": "c2", "name": "get_reservation_details", "arguments": {"reservation_id": "R1"},
           "requestor": "assistant"}
    return [{"role": "assistant", "content": "Hi! How can I help you today?"},
            {"role": "user", "content": "I want to change my flight. My id is u1."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "id": "c1", "content": "{}"},
            {"role": "assistant", "content": "Which reservation?"},
            {"role": "user", "content": "R1"},
            {"role": "assistant", "content": None, "tool_calls": [res]},
            {"role": "tool", "id": "c2", "content": "{}"},
            {"role": "assistant", "content": "Done."}]


def test_the_same_opening_turns_share_rows_around_a_call_only_one_side_made():
    """A looks the user up before asking which reservation; B does not. Their first two turns
    are word for word the same: they share rows, and the first difference is A's extra call
    (step 2). The aligner put A's opening turns alone (only in A) and paired A's later turns
    with B's opening ones: 'first at A steps 0–2, only in A'."""
    a = _lookup_first()
    b = [a[0], a[1], a[4], a[5], a[6], a[7], a[8]]
    a = [dict(m, idx=i) for i, m in enumerate(a)]
    b = [dict(m, idx=i) for i, m in enumerate(b)]
    al = align(a, b, None)
    assert [(r.status, r.step("a"), r.step("b")) for r in al.rows] == [
        (TEXT, 0, 0), (TEXT, 1, 1), (ONLY_A, 2, None), (TEXT, 4, 2), (TEXT, 5, 3),
        (SAME, 6, 4), (TEXT, 8, 6)]
    assert al.blocks == [(2, 2)]


def test_print_compare_says_no_difference_in_the_screens_words(fx):
    """With no difference block, `t2e show` says what the compare header says (align_where.
    no_difference): from the gold actions where they exist, not '0 differences'."""
    conn, ids = fx
    buf = io.StringIO()
    al = print_compare(Console(file=buf, width=300), conn, ids["episodes"][("base", "1")],
                       None, record=False)
    assert not al.blocks and al.gold_known
    assert buf.getvalue().splitlines()[-1].startswith("no difference from the gold actions (")


def test_differing_opening_turns_pair_around_a_call_only_one_side_made():
    """As above, but B words its turns differently (two LLM runs seldom agree word for word).
    A's opening turns were rows of their own (only in A), A's later turns were paired with B's
    opening ones, and B's later turns were left alone: the turns that answer each other did
    not share a row. Turns before the one-sided call pair with B's in order, role by role."""
    a = _lookup_first()
    b = [{"role": "assistant", "content": "Hello, what can I do for you?"},
         {"role": "user", "content": "Please change my flight; I am u1."},
         {"role": "assistant", "content": "Which reservation would you like to change?"},
         {"role": "user", "content": "It is R1."}, a[6], a[7],
         {"role": "assistant", "content": "All done."}]
    a = [dict(m, idx=i) for i, m in enumerate(a)]
    b = [dict(m, idx=i) for i, m in enumerate(b)]
    al = align(a, b, None)
    assert [(r.status, r.step("a"), r.step("b")) for r in al.rows] == [
        (TEXT, 0, 0), (TEXT, 1, 1), (ONLY_A, 2, None), (TEXT, 4, 2), (TEXT, 5, 3),
        (SAME, 6, 4), (TEXT, 8, 6)]
    # and the mirror image: B made the extra call
    al = align(b, a, None)
    assert [(r.status, r.step("a"), r.step("b")) for r in al.rows] == [
        (TEXT, 0, 0), (TEXT, 1, 1), (ONLY_B, None, 2), (TEXT, 2, 4), (TEXT, 3, 5),
        (SAME, 4, 6), (TEXT, 6, 8)]


def test_opening_turns_pair_only_role_by_role():
    """The fallback pairs a user turn with a user turn: when B's run opens with the other
    role, A's opening turn keeps a row of its own, as before."""
    call = {"id": "c1", "name": "get_user_details", "arguments": {"user_id": "u1"},
            "requestor": "assistant"}
    a = [{"role": "user", "content": "Refund my order."},
         {"role": "assistant", "content": None, "tool_calls": [call]},
         {"role": "tool", "id": "c1", "content": "{}"},
         {"role": "assistant", "content": "Refunded."}]
    b = [{"role": "assistant", "content": "What is your user id?"}]
    a = [dict(m, idx=i) for i, m in enumerate(a)]
    b = [dict(m, idx=i) for i, m in enumerate(b)]
    al = align(a, b, None)
    assert [(r.status, r.step("a"), r.step("b")) for r in al.rows] == [
        (TEXT, 0, None), (ONLY_A, 1, None), (TEXT, 3, 0)]
