"""Opt-in smoke test against a real OpenAI-compatible endpoint (skipped unless configured).

    T2E_REAL_BASE_URL=http://127.0.0.1:8080/v1 T2E_REAL_MODEL=local \
    T2E_REAL_KEY_ENV=""  .venv/bin/pytest tests/test_engine_real_endpoint.py

Asserts structure only (an episode ran, every step was stored, nothing crashed), never what a
model decided: a tiny local model cannot hold a support conversation
(../shared/research/local-llm.md).
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from t2e_tui.engine.engine import execute_run
from t2e_tui.engine.plan import plan_run

URL = os.environ.get("T2E_REAL_BASE_URL")


@pytest.mark.skipif(not URL, reason="set T2E_REAL_BASE_URL (and T2E_REAL_MODEL) to run")
def test_one_episode_against_a_real_endpoint(tmp_path):
    model = os.environ.get("T2E_REAL_MODEL", "local")
    plan = plan_run(domain="mini-retail", tasks="auth-01", model=f"openai:{model}",
                    base_url=URL, api_key_env=os.environ.get("T2E_REAL_KEY_ENV", ""),
                    quirks=os.environ.get("T2E_REAL_QUIRKS"), max_steps=12,
                    grade="db-communicate", max_retries=2)
    s = execute_run(plan, str(tmp_path / "s.sqlite"))
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    reason, n_steps = conn.execute("SELECT termination_reason, n_steps FROM episodes").fetchone()
    assert s.episodes == 1 and reason != "infrastructure_error"
    assert n_steps == conn.execute("SELECT count(*) FROM steps").fetchone()[0] >= 2
