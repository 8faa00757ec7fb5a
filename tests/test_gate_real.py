"""The real pair in ../shared/tau2/results (34/40 each, disagreeing on 12 tasks), imported with
the store's importer: never promoted in either direction, and the regressions listed are exactly
the tasks that went from 1 to 0 (computed here straight from the files)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from t2e_tui.cli import cli

pytestmark = pytest.mark.shared


def _outcomes(path) -> dict[str, float]:
    data = json.loads(path.read_text())
    return {str(s["task_id"]): float((s.get("reward_info") or {}).get("reward") or 0.0)
            for s in data["simulations"]}


@pytest.fixture
def real_store(tmp_path, shared_results):
    store = str(tmp_path / "real.sqlite")
    ids = []
    for path in shared_results:
        res = CliRunner().invoke(cli, ["--store", store, "import", str(path), "--json"])
        assert res.exit_code == 0, res.output
        ids.append(json.loads(res.output)["imported"][0]["run_id"])
    return store, ids, [_outcomes(p) for p in shared_results]


@pytest.mark.parametrize("direction", [0, 1])
def test_real_pair_is_never_promoted(real_store, direction):
    store, ids, outcomes = real_store
    b, c = (0, 1) if direction == 0 else (1, 0)
    res = CliRunner().invoke(cli, ["--store", store, "gate", ids[b], ids[c], "--json"])
    doc = json.loads(res.output)
    assert doc["decision"] != "promote" and res.exit_code in (1, 3)
    base, cand = outcomes[b], outcomes[c]
    assert sum(v == 1.0 for v in base.values()) == 34 == sum(v == 1.0 for v in cand.values())
    went_down = sorted((t for t in base if base[t] == 1.0 and cand[t] == 0.0), key=int)
    went_up = sorted((t for t in base if base[t] == 0.0 and cand[t] == 1.0), key=int)
    assert len(went_down) + len(went_up) == 12
    assert doc["stats"]["regressions"] == went_down
    assert doc["stats"]["fixes"] == went_up
    reg = next(ch for ch in doc["checks"] if ch["name"] == "no_task_regressions")
    assert reg["passed"] is False and reg["tasks"] == went_down
    # 6 up, 6 down: no evidence either way
    assert doc["stats"]["p_value"] == pytest.approx(2510 / 4096)
    assert doc["stats"]["ci_low"] < 0 < doc["stats"]["ci_high"]
    # imported runs cite their source files' sha256 on the scoreboard
    rows = json.loads(CliRunner().invoke(cli, ["--store", store, "scoreboard", "--json"]).output)
    assert len(rows[-1]["source_sha256"]) == 2
    assert all(len(h) == 64 for h in rows[-1]["source_sha256"])
