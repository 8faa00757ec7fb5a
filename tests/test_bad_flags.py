"""Bad flags, config values and stores are one line and exit 2, before anything runs (#11)."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

import store
from t2e_tui.cli.main import cli

URL = "http://127.0.0.1:9/v1"
OPENAI = ["--model", "openai:m", "--base-url", URL, "--api-key-env", ""]


@pytest.mark.parametrize("args, message", [
    (["run", "--trials", "100000000000"], "--trials 100000000000: must be at most 1000"),
    (["run", "--trials", "1000", "--tasks", "all"], "episodes: more than one run holds"),
    (["run", "--concurrency", "0"], "--concurrency 0: must be at least 1"),
    (["run", "--tasks", ""], "--tasks '': names no task"),
    (["run", "--seed", "9" * 25], "--seed 99999"),
    (["run", "--max-steps", "9" * 25], "--max-steps 99999"),
    (["run", *OPENAI, "--timeout", "0"], "timeout 0.0: must be a number of seconds above 0"),
    (["run", *OPENAI, "--max-retries", "-1"], "max_retries -1: must be from 0"),
    (["run", *OPENAI[:2], "--base-url", "not a url", "--api-key-env", ""],
     "base_url 'not a url' is not a URL"),
    (["run", *OPENAI, "--temperature", "nan"], "temperature = nan can't be sent"),
    (["run", *OPENAI, "--param", "top_k=Infinity"], "top_k = inf can't be sent"),
    (["show", "9" * 25], "too large"),
    (["decide", "9" * 25, "promote"], "too large"),
])
def test_bad_flag_is_one_line_exit_2(tmp_path, args, message):
    if args[0] in ("show", "decide"):  # read commands need a store (#12: "no store at PATH")
        import store
        store.open_db(tmp_path / "s.sqlite").conn.close()
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), *args])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert message in lines[-1], r.stderr
    assert not (tmp_path / "s.sqlite").exists() or sqlite3.connect(
        tmp_path / "s.sqlite").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize("line, message", [
    ("timeout = -5", "timeout -5.0: must be a number of seconds above 0"),
    ("max_retries = -2", "max_retries -2: must be from 0"),
    ("backoff = -1", "backoff -1.0: must be a number of seconds"),
    ('base_url = "not a url"', "base_url 'not a url' is not a URL"),
])
def test_bad_config_values_are_refused(tmp_path, monkeypatch, line, message):
    cfg = tmp_path / "config.toml"
    base = "" if "base_url" in line else f'base_url = "{URL}"\n'
    cfg.write_text(f'[endpoints.local]\n{base}api_key_env = ""\n{line}\n')
    monkeypatch.setenv("T2E_CONFIG", str(cfg))
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "run", "--model",
                                 "openai:m"])
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "[endpoints.local]" in r.stderr, r.stderr


def test_a_store_from_a_newer_t2e_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    store.open_db(path).conn.close()
    c = sqlite3.connect(path)
    c.execute("INSERT INTO schema_migrations VALUES (9999, 'from the future', 'x')")
    c.commit()
    c.close()
    for args in (["runs"], ["import", "nothing.json"], ["scoreboard"]):
        r = CliRunner().invoke(cli, ["--store", str(path), *args])
        assert r.exit_code == 2, r.output
        assert "this store was written by a newer t2e" in r.stderr
    with pytest.raises(store.StoreError, match="newer t2e"):
        store.connect(path, migrate_schema=False)
