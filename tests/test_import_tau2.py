"""tau2 results import: formats, foreign shapes, corrupt input, transactions, duplicates."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from test_store_data import make_results, write_json

import store
from store.exporters import export_dict
from store.importers import import_path, import_paths
from store.importers.common import ImportFailure
from store.importers.jsonstream import JsonStream, JsonStreamError
from store.writer import HUGE_CHARS


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "s.sqlite")


def counts(db) -> dict:
    c = db.conn
    return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sources", "runs", "tasks", "episodes", "steps", "tool_calls", "checks")}


def test_shared_files_import_intact(db, shared_results):
    res = import_paths(db, [str(p) for p in shared_results])
    assert res["rejected"] == []
    for entry, path in zip(res["imported"], shared_results):
        src = json.loads(path.read_text())
        sims = src["simulations"]
        assert entry["episodes"] == len(sims) == 40
        assert entry["messages"] == sum(len(s["messages"]) for s in sims)
        assert entry["duplicate"] is False and entry["warnings"] == []
        rid = entry["run_id"]
        n_checks = sum(len(s["reward_info"].get(k) or []) for s in sims for k in (
            "action_checks", "communicate_checks", "nl_assertions", "env_assertions"))
        got = db.conn.execute("SELECT count(*) FROM checks JOIN episodes USING (episode_id) "
                              "WHERE run_id = ?", (rid,)).fetchone()[0]
        assert got == n_checks
        n_calls = sum(len(m.get("tool_calls") or []) for s in sims for m in s["messages"])
        assert db.conn.execute("SELECT sum(n_tool_calls) FROM episodes WHERE run_id = ?",
                               (rid,)).fetchone()[0] == n_calls
        # the run grades with the tasks it embeds
        assert db.conn.execute("SELECT count(*) FROM tasks WHERE run_id = ?",
                               (rid,)).fetchone()[0] == len(src["tasks"])
        # lossless: the export equals the source JSON (every key, value, message order)
        assert export_dict(db, rid) == src


def test_shared_files_share_a_world_id(db, shared_results):
    res = import_paths(db, [str(p) for p in shared_results])
    ids = {db.conn.execute("SELECT world_id FROM runs WHERE run_id = ?",
                           (e["run_id"],)).fetchone()[0] for e in res["imported"]}
    assert len(ids) == 1
    (wid,) = ids
    assert db.conn.execute("SELECT kind, domain FROM worlds WHERE world_id = ?",
                           (wid,)).fetchone() == ("import", "retail")


def test_synthetic_import_columns(db, tmp_path):
    src = make_results(4)
    src["simulations"][1] = make_results(2, error=True)["simulations"][1]
    entry = import_path(db, write_json(tmp_path / "r.json", src))
    assert (entry["episodes"], entry["messages"]) == (4, 24)
    rows = db.conn.execute(
        "SELECT task_id, trial, seed, reward, success, db_match, communicate_reward, "
        "n_steps, n_tool_calls, n_tool_errors, tokens_in, judge_dependent FROM episodes "
        "WHERE run_id = ? ORDER BY ord", (entry["run_id"],)).fetchall()
    assert rows[0] == ("0", 0, 1000, 1.0, 1, 1, 1.0, 6, 1, 0, 230, 0)
    assert rows[1][9] == 1  # the tool error is counted
    assert rows[3][3:6] == (0.0, 0, 0)
    run = db.conn.execute("SELECT name, domain, agent_model, user_model, max_steps, seed, "
                          "grading FROM runs").fetchone()
    assert run == ("r", "retail", "agent-llm", "user-llm", 200, 300, "recorded")
    tool = db.conn.execute("SELECT tool_call_id, tool_name, error FROM steps WHERE role = 'tool' "
                           "AND episode_id = (SELECT episode_id FROM episodes WHERE ord = 1)"
                           ).fetchone()
    assert tool == ("call_1_a", "get_user_details", 1)
    kinds = dict(db.conn.execute("SELECT kind, count(*) FROM checks GROUP BY kind").fetchall())
    assert kinds == {"action": 8, "communicate": 4}
    assert db.conn.execute("SELECT DISTINCT tool_kind FROM checks WHERE kind = 'action' "
                           "ORDER BY 1").fetchall() in ([("read",), ("write",)],
                                                        [("unknown",)])


def test_nl_assertion_basis_marks_judge_dependent(db, tmp_path):
    entry = import_path(db, write_json(tmp_path / "r.json", make_results(2, nl=True)))
    rows = db.conn.execute("SELECT judge_dependent FROM episodes WHERE run_id = ?",
                           (entry["run_id"],)).fetchall()
    assert rows == [(1,), (1,)]
    assert db.conn.execute("SELECT count(*) FROM checks WHERE kind = 'nl_assertion' AND "
                           "judge_dependent = 1").fetchone()[0] == 2


def test_v1_file_with_extras_roundtrips(db, tmp_path):
    src = make_results(3)
    src["simulation_index"] = None
    src["info"]["text_streaming_config"] = None
    for s in src["simulations"]:
        s.update({"mode": "half_duplex", "ticks": None, "review": {"x": [1, 2]}})
        s["messages"][1]["generation_time_seconds"] = 0.25
        s["messages"][2]["is_audio"] = False
    # odd but legal: a message without turn_idx, a tool result with a non-string id,
    # an empty tool_calls list, numeric task id
    src["simulations"][0]["messages"][0].pop("turn_idx")
    src["simulations"][0]["messages"][4]["tool_calls"] = []
    src["simulations"][1]["task_id"] = 1
    entry = import_path(db, write_json(tmp_path / "v1.json", src))
    fmt = db.conn.execute("SELECT format FROM sources").fetchone()[0]
    assert fmt == "tau2-v1"
    assert export_dict(db, entry["run_id"]) == src


def test_directory_format(db, tmp_path):
    src = make_results(3)
    d = tmp_path / "run1"
    (d / "simulations").mkdir(parents=True)
    head = {k: v for k, v in src.items() if k != "simulations"}
    head["simulation_index"] = [{"id": s["id"], "task_id": s["task_id"]}
                                for s in src["simulations"]]
    write_json(d / "results.json", head)
    for s in src["simulations"]:
        write_json(d / "simulations" / f"{s['id']}.json", s)
    entry = import_path(db, d)
    assert (entry["episodes"], entry["messages"], entry["duplicate"]) == (3, 18, False)
    out = export_dict(db, entry["run_id"])
    assert out["simulations"] == src["simulations"]
    assert out["simulation_index"] == head["simulation_index"]
    assert import_path(db, d)["duplicate"] is True


def test_directory_missing_simulation_file_rejected(db, tmp_path):
    d = tmp_path / "run2"
    (d / "simulations").mkdir(parents=True)
    head = {k: v for k, v in make_results(1).items() if k != "simulations"}
    head["simulation_index"] = [{"id": "gone"}]
    write_json(d / "results.json", head)
    with pytest.raises(Exception, match="simulations/gone.json"):
        import_path(db, d)
    assert counts(db)["runs"] == 0


def test_directory_corrupt_simulation_file_named(db, tmp_path):
    src = make_results(2)
    d = tmp_path / "run3"
    (d / "simulations").mkdir(parents=True)
    write_json(d / "results.json", {k: v for k, v in src.items() if k != "simulations"})
    write_json(d / "simulations" / "a.json", src["simulations"][0])
    (d / "simulations" / "b.json").write_text('{"id": "x", "messages": [')
    with pytest.raises(Exception, match=r"simulations/b.json: .*truncated"):
        import_path(db, d)
    assert counts(db)["runs"] == 0


def test_foreign_bare_list_imports_with_warning(db, tmp_path):
    sims = make_results(2)["simulations"]
    entry = import_path(db, write_json(tmp_path / "list.json", sims))
    assert entry["episodes"] == 2
    assert any("bare JSON list" in w for w in entry["warnings"])
    # exported as a valid tau2 file (timestamp, info, tasks, simulations)
    out = export_dict(db, entry["run_id"])
    assert set(out) >= {"timestamp", "info", "tasks", "simulations"}
    assert out["simulations"] == sims


def test_reimport_repeats_the_first_imports_warnings(db, tmp_path):
    sims = make_results(2)["simulations"]
    first = import_path(db, write_json(tmp_path / "list.json", sims))
    assert any("bare JSON list" in w for w in first["warnings"])
    again = import_path(db, tmp_path / "list.json")
    assert again["duplicate"] is True and again["run_id"] == first["run_id"]
    assert again["warnings"] == first["warnings"]
    # a store imported before the warnings were kept says nothing rather than failing
    db.conn.execute("UPDATE sources SET warnings_json = NULL")
    assert import_path(db, tmp_path / "list.json")["warnings"] == []


def test_foreign_summary_wrapper_and_missing_task_ids(db, tmp_path):
    sims = make_results(3)["simulations"]
    del sims[0]["task_id"]
    wrapper = {"domain": "retail", "agent": "x", "model": "m-1", "total_tasks": 3,
               "passed": 2, "pass_rate": 0.66, "simulations": sims}
    entry = import_path(db, write_json(tmp_path / "wrap.json", wrapper))
    text = " ".join(entry["warnings"])
    assert "summary wrapper" in text and "no task_id" in text
    row = db.conn.execute("SELECT domain, agent_model FROM runs").fetchone()
    assert row == ("retail", "m-1")
    out = export_dict(db, entry["run_id"])
    assert out["pass_rate"] == 0.66 and out["simulations"] == sims


@pytest.mark.parametrize("payload, needle", [
    ({"foo": 1, "bar": []}, "keys [foo, bar]"),
    ({"messages": [], "id": "x"}, "single simulation"),
    ({"simulations": {"a": 1}}, "'simulations' should be a list"),
    ({"info": {}, "tasks": "nope", "simulations": []}, "'tasks' should be a list"),
    ("just a string", "neither an object nor a list (it starts with '\"')"),
    (None, "neither an object nor a list (it starts with 'n')"),
    (7, "neither an object nor a list (it starts with '7')"),
    ([], "an empty list: no simulations to import"),
])
def test_foreign_shapes_rejected_with_what_was_found(db, tmp_path, payload, needle):
    p = write_json(tmp_path / "bad.json", payload)
    with pytest.raises(ImportFailure) as exc:
        import_path(db, p)
    assert needle in str(exc.value) and "bad.json" in str(exc.value)
    assert counts(db)["runs"] == 0


def test_truncated_json_names_file_and_position(db, tmp_path):
    text = json.dumps(make_results(4), indent=1)
    p = tmp_path / "trunc.json"
    p.write_text(text[: len(text) * 2 // 3])
    res = import_paths(db, [str(p)])
    err = res["rejected"][0]["error"]
    assert "trunc.json" in err and "line" in err and "simulation #" in err
    assert counts(db) == {k: 0 for k in counts(db)}


@pytest.mark.parametrize("mutate, needle", [
    (lambda r: r["simulations"][2].update(messages="hello"), "simulation #2 (id sim-0002)"),
    (lambda r: r["simulations"][1]["messages"].__setitem__(3, [1, 2]), "message #3"),
    (lambda r: r["simulations"][0].update(duration="long"), "'duration' should be a number"),
    (lambda r: r["simulations"][3]["reward_info"].update(reward="1"), "reward should be"),
    (lambda r: r["simulations"].__setitem__(1, 42), "simulation #1: expected an object"),
    (lambda r: r["simulations"][0]["messages"][2].update(tool_calls={"id": 1}), "tool_calls"),
])
def test_wrong_types_rejected_whole_file(db, tmp_path, mutate, needle):
    src = make_results(4)
    mutate(src)
    res = import_paths(db, [str(write_json(tmp_path / "types.json", src))])
    assert res["imported"] == []
    assert needle in res["rejected"][0]["error"]
    assert counts(db) == {k: 0 for k in counts(db)}  # nothing half-written


def test_invalid_utf8_rejected_with_byte_position(db, tmp_path):
    raw = json.dumps(make_results(2)).encode()
    cut = raw.index(b"Thanks!")
    p = tmp_path / "latin.json"
    p.write_bytes(raw[:cut] + b"\xff\xfe" + raw[cut:])
    res = import_paths(db, [str(p)])
    err = res["rejected"][0]["error"]
    assert "invalid UTF-8" in err and "byte" in err and "latin.json" in err


def test_rejected_file_does_not_stop_good_ones(db, tmp_path):
    good = write_json(tmp_path / "good.json", make_results(2))
    bad = tmp_path / "bad.json"
    bad.write_text('{"timestamp": "x", "info": {}, "tasks": [], "simulations": [{"id": "a", ')
    res = import_paths(db, [str(bad), str(good), str(tmp_path / "missing.json")])
    assert [e["path"] for e in res["imported"]] == [str(good)]
    assert [r["path"] for r in res["rejected"]] == [str(bad), str(tmp_path / "missing.json")]
    assert "no such file" in res["rejected"][1]["error"]
    assert counts(db)["runs"] == 1 and counts(db)["sources"] == 1


def test_reimport_is_a_noop_listed_as_duplicate(db, tmp_path):
    p = write_json(tmp_path / "r.json", make_results(3))
    first = import_path(db, p)
    before = counts(db)
    copy = tmp_path / "copy.json"
    copy.write_bytes(p.read_bytes())
    again = import_path(db, copy)
    assert again == {"path": str(copy), "run_id": first["run_id"], "episodes": 3,
                     "messages": 18, "duplicate": True, "warnings": []}
    assert counts(db) == before
    # another name is never taken silently (the run keeps its name; `t2e runs rename` renames)
    with pytest.raises(ImportFailure, match="its name was not changed to 'other name'"):
        import_path(db, copy, name="other name")
    assert counts(db) == before


def test_huge_field_stored_whole_and_flagged(db, tmp_path):
    src = make_results(1)
    big = "x" * (HUGE_CHARS * 3) + " needle"
    src["simulations"][0]["messages"][3]["content"] = big
    entry = import_path(db, write_json(tmp_path / "huge.json", src))
    row = db.conn.execute("SELECT length(content), huge FROM steps WHERE idx = 3").fetchone()
    assert row == (len(big), 1)
    assert db.conn.execute("SELECT has_huge FROM episodes").fetchone() == (1,)
    assert export_dict(db, entry["run_id"]) == src


def test_tasks_after_simulations_still_used(db, tmp_path):
    src = make_results(2)
    reordered = {"simulations": src["simulations"], "timestamp": src["timestamp"],
                 "info": src["info"], "tasks": src["tasks"]}
    entry = import_path(db, write_json(tmp_path / "late.json", reordered))
    assert db.conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 3
    out = export_dict(db, entry["run_id"])
    assert list(out) == list(reordered) and out == reordered


def test_scrambled_labels_get_likely_task(db, tmp_path):
    pytest.importorskip("world.relabel")
    src = make_results(3)
    src["simulations"][0]["task_id"] = "2"   # really task 0 (its action checks say so)
    entry = import_path(db, write_json(tmp_path / "scrambled.json", src))
    row = db.conn.execute("SELECT task_id, likely_task_id FROM episodes WHERE ord = 0").fetchone()
    assert row == ("2", "0")
    assert any("labels look wrong" in w for w in entry["warnings"])
    assert db.conn.execute("SELECT count(*) FROM episodes WHERE likely_task_id IS NOT NULL"
                           ).fetchone()[0] == 1


def test_stream_parser_across_tiny_chunks():
    data = make_results(3)
    data["simulations"][0]["messages"][1]["content"] = "é" * 50 + "\u2603 12345"
    raw = json.dumps(data).encode()
    s = JsonStream(io.BytesIO(raw), chunk=7)
    got = {}
    for key in s.iter_object_keys():
        got[key] = list(s.iter_array()) if key == "simulations" else s.read_value()
    assert s.at_end() and got == data


def test_stream_parser_numbers_at_chunk_edges():
    raw = b'[1234567890, 3.25e10, true, null, "x"]'
    for chunk in range(1, 12):
        s = JsonStream(io.BytesIO(raw), chunk=chunk)
        assert list(s.iter_array()) == [1234567890, 3.25e10, True, None, "x"]


def test_stream_parser_syntax_error_is_positioned():
    s = JsonStream(io.BytesIO(b'[{"a": 1},\n {"a": 2} {"a": 3}]'), chunk=4)
    with pytest.raises(JsonStreamError, match=r"line 2"):
        list(s.iter_array())


@pytest.mark.parametrize("worker", ["0", "1"])
def test_each_file_is_one_transaction(db, tmp_path, monkeypatch, worker):
    """A failure late in the file (after batches were written) leaves nothing behind, with the
    rows built in-process or in the worker process."""
    from store.importers import tau2

    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    src = make_results(400)  # 2400 messages: more than one batch
    src["simulations"][399]["messages"] = 7
    written = []
    real = tau2.write_batch

    def counting(conn, batch):
        written.append(len(batch[1]))
        real(conn, batch)

    monkeypatch.setattr(tau2, "write_batch", counting)
    res = import_paths(db, [str(write_json(tmp_path / "late-bad.json", src))])
    assert written  # rows were written before the bad record was met
    assert "simulation #399" in res["rejected"][0]["error"]
    assert counts(db) == {k: 0 for k in counts(db)}
    assert db.conn.execute("SELECT count(*) FROM steps_fts").fetchone()[0] == 0


def test_worker_process_import_matches_inline(tmp_path, monkeypatch):
    src = make_results(30)
    p = write_json(tmp_path / "w.json", src)
    outs = []
    for worker in ("1", "0"):
        monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
        d = store.open_db(tmp_path / f"{worker}.sqlite")
        e = import_path(d, p)
        assert (e["episodes"], e["messages"], e["warnings"]) == (30, 180, [])
        outs.append(export_dict(d, e["run_id"]))
    assert outs[0] == outs[1] == src


def test_worker_reports_corrupt_input(db, tmp_path, monkeypatch):
    monkeypatch.setenv("T2E_IMPORT_WORKER", "1")
    text = json.dumps(make_results(5))
    p = tmp_path / "cut.json"
    p.write_text(text[: len(text) // 2])
    res = import_paths(db, [str(p)])
    assert "cut.json" in res["rejected"][0]["error"]
    assert "truncated" in res["rejected"][0]["error"]
    assert counts(db)["runs"] == 0


def test_store_file_readable_without_our_code(db, tmp_path):
    import_path(db, write_json(tmp_path / "r.json", make_results(2)))
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE "
        "'steps_fts_%' AND name NOT LIKE 'sqlite_%'")]
    for t in tables:
        conn.execute(f"SELECT * FROM [{t}] LIMIT 5").fetchall()
    assert conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'cancelled'"
                        ).fetchone()[0] == 2


def test_rows_satisfy_foreign_keys(db, tmp_path):
    """The importer switches FK checks off for speed; the rows must still satisfy them."""
    import_path(db, write_json(tmp_path / "r.json", make_results(5)))
    import_path(db, write_json(tmp_path / "l.json", make_results(2)["simulations"]))
    assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_locked_store_rejects_cleanly(db, tmp_path):
    other = store.connect(tmp_path / "s.sqlite")
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    db.conn.execute("PRAGMA busy_timeout = 50")
    try:
        res = import_paths(db, [str(write_json(tmp_path / "r.json", make_results(1)))])
    finally:
        other.execute("ROLLBACK")
    assert "refused the import" in res["rejected"][0]["error"]
    assert import_paths(db, [str(tmp_path / "r.json")])["imported"][0]["episodes"] == 1


def test_shared_file_with_scrambled_labels(db, tmp_path, shared_results):
    """Like the public leaderboard files with wrong task ids: labels are kept as given and
    the likely task (from the recorded action checks) is stored beside them."""
    pytest.importorskip("world.relabel")
    src = json.loads(shared_results[0].read_text())
    sims = src["simulations"]
    truth = [s["task_id"] for s in sims]
    for s, wrong in zip(sims, truth[1:] + truth[:1]):
        s["task_id"] = wrong
    entry = import_path(db, write_json(tmp_path / "scrambled.json", src))
    rows = db.conn.execute("SELECT task_id, likely_task_id FROM episodes ORDER BY ord").fetchall()
    assert [r[0] for r in rows] == truth[1:] + truth[:1]
    assert [r[1] for r in rows] == truth
    assert any("labels look wrong for 40 simulation(s)" in w for w in entry["warnings"])
    assert export_dict(db, entry["run_id"]) == src  # the label as given is what exports


@pytest.mark.parametrize("cut", ["in_string", "between_values"])
def test_truncated_json_message_reads_well_and_matches_t2e_score(db, tmp_path, cut):
    from world.errors import WorldError
    from world.rescore import load_results

    text = json.dumps(make_results(4), indent=1)
    at = text.index('"content"', len(text) // 2)
    text = text[: at + 14] if cut == "in_string" else text[: text.index("\n", at)]
    p = tmp_path / "trunc.json"
    p.write_text(text)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        pos = exc.pos
    err = import_paths(db, [str(p)])["rejected"][0]["error"]
    with pytest.raises(WorldError) as scored:
        load_results(p)
    if cut == "in_string":
        said = f"truncated JSON: the file ends inside a string that starts at character {pos} ("
    else:
        said = f"truncated JSON: the file ends at character {pos} ("
    assert said in err and said in str(scored.value)
    assert "starting at (" not in err and "?" not in err  # no glued json message, no guessing


def test_empty_file_same_message_for_import_and_score(db, tmp_path):
    from world.errors import WorldError
    from world.rescore import load_results

    p = tmp_path / "empty.json"
    p.write_text("")
    err = import_paths(db, [str(p)])["rejected"][0]["error"]
    with pytest.raises(WorldError) as scored:
        load_results(p)
    assert "the file is empty; expected a tau2 results file" in err
    assert "the file is empty; expected a tau2 results file" in str(scored.value)


def test_an_error_before_the_end_is_not_called_truncation(db, tmp_path):
    p = tmp_path / "ctl.json"
    p.write_text('{"a": "x\ty"}')  # a raw tab inside a string, then more text
    err = import_paths(db, [str(p)])["rejected"][0]["error"]
    assert "invalid JSON at character 8 (line 1): invalid control character" in err
    assert "truncated" not in err

