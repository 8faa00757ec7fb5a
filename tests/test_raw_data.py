"""tau2 keeps the provider's response object beside each message (`raw_data`). It is
metadata, not the message: `t2e show` and the app's detail pane show the message's content
first and raw_data only on request (`t2e show --full`, `x` in the app), cut to a bound."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from tui_fixture import add_raw_data, build_store, settle

from t2e_tui.cli.main import cli
from t2e_tui.reviews import RAW_LIMIT
from t2e_tui.ui.app import make_app

SIZES = [(80, 24), (160, 48)]


@pytest.fixture
def fx(tmp_path):
    path = tmp_path / "fx.sqlite"
    ids = build_store(path, live=False)
    add_raw_data(path)
    return path, ids


def show(path, *args):
    r = CliRunner().invoke(cli, ["--store", str(path), "show", *args])
    assert r.exit_code == 0, r.output
    return r.output


def test_show_hides_raw_data_and_full_shows_it_after_the_content(fx):
    path, _ = fx
    out = show(path, "runbase:2")
    assert "raw_data: {" not in out and '"finish_reason"' not in out
    assert "Hi! How can I help you today?" in out
    head = out.split("  0 assistant")[0]
    assert "raw_data" in head and "--full" in head and out.count("raw_data") == 1  # said once
    full = show(path, "runbase:2", "--full")
    lines = full.splitlines()
    greet = next(i for i, ln in enumerate(lines) if "Hi! How can I help you today?" in ln)
    raw = next(i for i, ln in enumerate(lines) if "raw_data: {" in ln)
    assert greet < raw, "the content comes first"
    call = next(i for i, ln in enumerate(lines) if "→ exchange_delivered_order_items(" in ln)
    assert '"finish_reason": "tool_calls"' in "".join(lines[call + 1:call + 6])


def test_full_cuts_raw_data_to_a_bound(tmp_path):
    path = tmp_path / "big.sqlite"
    build_store(path, live=False)
    add_raw_data(path, big=50_000)
    full = show(path, "runbase:2", "--full")
    n = full.count("raw_data: {")
    assert n == 9 and full.count("… (cut: ") == n          # every assistant and user message
    assert len(full) < n * (RAW_LIMIT + 400) + 5_000         # uncut, each is 50,000 characters


async def test_detail_pane_shows_the_call_and_x_shows_raw_data(fx):
    path, ids = fx
    a, b = ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")]
    app = make_app(path, load_config=False, poll_interval=0,
                   start=("compare", str(a), str(b), "8"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        body = str(app.screen.query_one("#detail-body").render())
        assert "call exchange_delivered_order_items" in body
        assert "raw_data: {" not in body
        assert body.rstrip().endswith("raw_data hidden: press x to expand")
        await pilot.press("x")
        await settle(pilot)
        body = str(app.screen.query_one("#detail-body").render())
        assert "raw_data: {" in body and "raw_data hidden" not in body
        assert body.index("call exchange_delivered_order_items") < body.index("raw_data: {")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_compare_with_raw_data_snapshot(snap_compare, fx, size):
    """The exchange call fills the detail pane; raw_data is one line under everything."""
    path, ids = fx
    app = make_app(path, load_config=False, poll_interval=0, clock=lambda: 0.0)

    async def before(pilot):
        await settle(pilot)
        pilot.app.open_compare(ids["episodes"][("base", "2")], ids["episodes"][("cand", "2")])
        await settle(pilot)
        await pilot.press("colon")
        await settle(pilot)
        await pilot.press("8", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)
