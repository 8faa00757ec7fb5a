"""The runs screen's key bar shows `f` Failures, the first step of triage, at 80 and at 160
columns (it was a hidden binding: found only through F1 or the README)."""

from __future__ import annotations

import pytest
from tui_fixture import build_store, line_text, settle

from t2e_tui.ui.app import make_app
from t2e_tui.ui.widgets.keybar import KeyBar


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_the_runs_key_bar_shows_failures(tmp_path, size):
    path = tmp_path / "s.sqlite"
    build_store(path)
    app = make_app(str(path), load_config=False, poll_interval=0)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        (bar,) = app.screen.query(KeyBar)
        drawn = line_text(bar, 0)
        assert bar.bar_text(size[0]).cell_len <= size[0], drawn
        assert " f Fail" in drawn, drawn
        assert "f1 help" in drawn.lower(), drawn
        for key in (" b Base", " o Open", " e Edit", " R Rerun", " G Gate", " L Lineage"):
            assert key in drawn, drawn
