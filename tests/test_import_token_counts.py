"""A token count is an integer of at least 0 (store/ranges.count_problem, one check for every
importer): a negative count is refused like any bad record, naming the file, the record and
the field, nothing written (before: an ATIF step's metrics.prompt_tokens of -500 imported
silently and the episode's tokens_in summed to -320; so did a tau2 or JSON Lines usage count
and an OpenTelemetry gen_ai.usage.* attribute). 0 is a count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from otel_fixture import msgs, request, span, text
from test_store_data import make_results

from t2e_tui.cli.main import cli

ATIF = Path(__file__).parent / "fixtures" / "atif" / "support_v17.json"
TR = "f" * 32


def _import(st: Path, *paths: Path):
    r = CliRunner().invoke(cli, ["--store", str(st), "import", "--json", *map(str, paths)])
    return r, json.loads(r.stdout)


def _rejected(st: Path, path: Path) -> str:
    r, out = _import(st, path)
    assert r.exit_code == 2, r.output
    assert out["imported"] == []
    (err,) = [e["error"] for e in out["rejected"]]
    assert err.startswith(f"{path}: "), err
    import store

    conn = store.connect(st)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    conn.close()
    return err[len(f"{path}: "):]


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("key", ["prompt_tokens", "completion_tokens", "cache_read_tokens"])
def test_a_negative_tau2_usage_count_is_refused(tmp_path, monkeypatch, worker, key):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    data = make_results(2)
    sim = data["simulations"][1]
    sim["messages"][1]["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, key: -5}
    f = tmp_path / "neg.json"
    f.write_text(json.dumps(data))
    assert _rejected(tmp_path / "s.sqlite", f) == (
        f"simulation #1 (id {sim['id']}), message #1: usage.{key} is negative (-5): a token "
        "count is 0 or more")


def test_a_negative_jsonl_usage_count_is_refused_and_zero_is_a_count(tmp_path):
    line = {"run": "x", "task_id": "7", "trial": 0, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "ok", "usage": {"prompt_tokens": 0,
                                                         "completion_tokens": -1}}]}
    f = tmp_path / "neg.jsonl"
    f.write_text(json.dumps(line) + "\n")
    assert _rejected(tmp_path / "s.sqlite", f) == (
        "line 1: simulation #0, message #1: usage.completion_tokens is negative (-1): a token "
        "count is 0 or more")
    line["messages"][1]["usage"]["completion_tokens"] = 0
    f.write_text(json.dumps(line) + "\n")
    r, _ = _import(tmp_path / "s.sqlite", f)
    assert r.exit_code == 0, r.output
    import store

    conn = store.connect(tmp_path / "s.sqlite")
    assert conn.execute("SELECT tokens_in, tokens_out FROM episodes").fetchone() == (0, 0)


def _atif_with(tmp_path: Path, key: str, value) -> tuple[Path, int, object]:
    t = json.loads(ATIF.read_text())
    i, st = next((i, st) for i, st in enumerate(t["steps"]) if isinstance(st.get("metrics"),
                                                                           dict))
    st["metrics"][key] = value
    f = tmp_path / "neg.json"
    f.write_text(json.dumps(t))
    return f, i, st.get("step_id")


@pytest.mark.parametrize("key", ["prompt_tokens", "completion_tokens", "cached_tokens"])
def test_a_negative_atif_metrics_count_is_refused(tmp_path, key):
    f, i, step_id = _atif_with(tmp_path, key, -500)
    assert _rejected(tmp_path / "s.sqlite", f) == (
        f"trajectory, step #{i} (step_id {step_id}): metrics.{key} is negative (-500): a token "
        "count is 0 or more")


def _otel(path: Path, chat_attrs: dict, root_attrs: dict | None = None) -> Path:
    spans = [span(TR, "r1", "invoke_agent bot", {"gen_ai.operation.name": "invoke_agent",
                                                  **(root_attrs or {})}, start=0, end=10),
             span(TR, "c1", "chat m", {"gen_ai.operation.name": "chat",
                                       "gen_ai.input.messages": msgs(text("user", "hi")),
                                       "gen_ai.output.messages": msgs(text("assistant", "ok")),
                                       **chat_attrs}, parent="r1", start=1, end=2)]
    path.write_text(json.dumps(request(spans)) + "\n")
    return path


@pytest.mark.parametrize("worker", ["0", "1"])
@pytest.mark.parametrize("attr, value", [("gen_ai.usage.input_tokens", -3),
                                         ("gen_ai.usage.output_tokens", -3.0),
                                         ("llm.token_count.prompt", -1),
                                         ("gen_ai.usage.cache_read.input_tokens", -7)])
def test_a_negative_otel_usage_attribute_is_refused(tmp_path, monkeypatch, worker, attr, value):
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    f = _otel(tmp_path / "t.jsonl", {attr: value})
    assert _rejected(tmp_path / "s.sqlite", f) == (
        f"episode #0 (trace {TR}), span c1 ('chat m'): {attr} is negative ({int(value)}): a "
        "token count is 0 or more")


def test_a_negative_count_in_t2e_user_turns_is_refused(tmp_path):
    turns = [[0, 0.5, {"gen_ai.usage.input_tokens": -2}]]
    f = _otel(tmp_path / "t.jsonl", {}, {"t2e.user_turns": json.dumps(turns)})
    assert _rejected(tmp_path / "s.sqlite", f) == (
        f"episode #0 (trace {TR}), span r1 ('invoke_agent bot'): t2e.user_turns[0]: "
        "gen_ai.usage.input_tokens is negative (-2): a token count is 0 or more")


def test_zero_counts_import_in_otel_and_atif(tmp_path):
    import store

    st = tmp_path / "s.sqlite"
    f = _otel(tmp_path / "t.jsonl", {"gen_ai.usage.input_tokens": 0,
                                     "gen_ai.usage.output_tokens": 0.0})
    r, _ = _import(st, f)
    assert r.exit_code == 0, r.output
    g, _, _ = _atif_with(tmp_path, "prompt_tokens", 0)
    r, _ = _import(st, g)
    assert r.exit_code == 0, r.output
    conn = store.connect(st)
    got = conn.execute("SELECT r.format, e.tokens_in FROM episodes e JOIN runs USING (run_id) "
                       "JOIN sources r USING (source_id) ORDER BY e.episode_id").fetchall()
    assert got[0] == ("otel-genai", 0) and got[1][0] == "atif" and got[1][1] is not None
