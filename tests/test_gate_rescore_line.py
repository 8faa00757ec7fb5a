"""Were the imported rewards re-scored? `t2e gate` and the gate screen say it from one function
(gate/rescore.py: summary_of, rescore_hint), each with what would re-score them: `--data DIR`
for the CLI, `TAU2_DATA_DIR` for the app (it reads the environment when it starts). On the real
retail pair (gpt-4.1 vs its fine-tune, tau2 results files)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from tui_fixture import settle, wait_for

from t2e_tui.cli import cli


@pytest.fixture
def real_pair(tmp_path, shared_results, monkeypatch):
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    store = str(tmp_path / "s.sqlite")
    for path, name in zip(shared_results, ("base", "cand")):
        res = CliRunner().invoke(cli, ["--store", store, "import", str(path), "--name", name])
        assert res.exit_code == 0, res.output
    return store


def gate(store, *args):
    res = CliRunner().invoke(cli, ["--store", store, "gate", "base", "cand", *args])
    return res.exit_code, res.output


def test_cli_rewards_line_says_how_to_rescore(real_pair, tau2_dir):
    """The line said `baseline not re-scored (not vouched for: inconclusive at most)` without
    the `pass --data DIR to re-score` the README promises."""
    code, out = gate(real_pair)
    line = next(ln.strip() for ln in out.splitlines() if ln.strip().startswith("rewards:"))
    assert line.startswith("rewards: baseline and candidate not re-scored (not vouched for: "
                           "inconclusive at most); pass --data DIR to re-score"), line
    code, out = gate(real_pair, "--data", str(tau2_dir))
    line = next(ln.strip() for ln in out.splitlines() if ln.strip().startswith("rewards:"))
    assert re.fullmatch(r"rewards: baseline re-scored here, \d+ of \d+ reproduced; candidate "
                        r"re-scored here, \d+ of \d+ reproduced", line) or \
        re.fullmatch(r"rewards: baseline and candidate re-scored here, \d+ of \d+ reproduced",
                     line), line
    assert "--data" not in line


def _app(store):
    from t2e_tui.ui.app import make_app

    app = make_app(store, load_config=False, poll_interval=0)
    app.baseline_run, app.candidate_run = "base", "cand"
    return app


async def _rewards_line(app) -> tuple[str, object]:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        await settle(pilot)
        w = pilot.app.screen.query_one("#gate-rewards")
        assert w.display and w.region.height == 1 and w.region.width > 0
        return w.drawn_at(w.content_region.width).plain, pilot.app.screen.result


async def test_gate_screen_says_whether_rewards_were_rescored(real_pair, tau2_dir,
                                                              monkeypatch):
    """The app said nothing about re-scoring (it re-scores only with TAU2_DATA_DIR set): one
    line at 80x24, with what to do."""
    text, result = await _rewards_line(_app(real_pair))
    assert text.startswith("rewards: ") and "not re-scored" in text, text
    assert "inconclusive at most" in text and "TAU2_DATA_DIR=DIR" in text, text
    # with the data directory in the environment: re-scored, the row --data makes
    code, out = gate(real_pair, "--data", str(tau2_dir))
    row = int(re.search(r"gate row (\d+)", out).group(1))
    monkeypatch.setenv("TAU2_DATA_DIR", str(tau2_dir))
    text, result = await _rewards_line(_app(real_pair))
    assert "re-scored here" in text and "TAU2_DATA_DIR" not in text, text
    assert result.row_id == row
