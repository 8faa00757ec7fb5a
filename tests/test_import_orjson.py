"""The orjson fast path for a tau2 file's simulations (store/importers/fastsims.py) against the
strict stdlib path (T2E_IMPORT_ORJSON=0): the same stored rows for every input, the same
rejection message for every bad value, and the fast path really used where it can vouch."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_store_data import make_results

from store.importers import fastsims
from store.importers.common import open_regular
from store.importers.jsonstream import JsonStream
from t2e_tui.cli.main import cli

FIXTURES = Path(__file__).parent / "fixtures"


def _import(tmp_path: Path, monkeypatch, src: Path, *, fast: bool, worker: str = "0") -> dict:
    import store
    from store.importers import import_paths

    monkeypatch.setenv("T2E_IMPORT_ORJSON", "1" if fast else "0")
    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    path = tmp_path / f"{src.name}-{'fast' if fast else 'strict'}-{worker}.sqlite"
    res = import_paths(store.open_db(path), [src])
    return {"result": res, "rows": _rows(path) if res["imported"] else None}


def _rows(path: Path) -> dict[str, list]:
    """Every row of every table (FTS shadow tables included), clock columns aside, run ids
    named by order."""
    conn = sqlite3.connect(path)
    run_ids = [r[0] for r in conn.execute("SELECT run_id FROM runs ORDER BY rowid")]
    out = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                 "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info('{table}')")
                if not r[1].endswith("_at")]
        if table == "steps_fts" or not cols:
            continue  # external content: its rows are the steps' (its index is compared)
        order = ", ".join(str(i + 1) for i in range(len(cols)))
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}").fetchall()

        def norm(v):
            if isinstance(v, str):
                for i, rid in enumerate(run_ids):
                    v = v.replace(rid, f"<run{i}>")
            return v

        out[table] = [tuple(norm(v) for v in row) for row in rows]
    conn.close()
    return out


def _same_both_ways(tmp_path, monkeypatch, src: Path, *, worker: str = "0") -> dict:
    strict = _import(tmp_path, monkeypatch, src, fast=False, worker=worker)
    fast = _import(tmp_path, monkeypatch, src, fast=True, worker=worker)
    for key in ("imported", "rejected"):
        a = [{k: v for k, v in e.items() if k != "run_id"} for e in strict["result"][key]]
        b = [{k: v for k, v in e.items() if k != "run_id"} for e in fast["result"][key]]
        assert a == b, (src.name, key)
    assert strict["rows"] is not None, strict["result"]
    for table in strict["rows"]:
        assert fast["rows"][table] == strict["rows"][table], (src.name, table)
    assert fast["rows"]["runs"], src.name  # something was compared
    return fast["result"]


# -- good inputs: the same rows ------------------------------------------------------------------

def _edge_results(*, escaped_pair: bool = True) -> dict:
    """Values at the edges of what both readers accept, in every simulation."""
    r = make_results(6)
    sims = r["simulations"]
    sims[0]["messages"][0]["content"] = "héllo — 日本語 😀 \u007f \u0000 tab\tnl\n \"q\" \\"
    sims[0]["seed"] = (1 << 63) - 1
    sims[0]["trial"] = -(1 << 63)
    sims[1]["agent_cost"] = 5e-324
    sims[1]["user_cost"] = 1.7976931348623157e308
    sims[1]["duration"] = -0.0
    sims[1]["extra_key"] = {"big": 1e300, "small": 1e-300, "i": 123456789012345678,
                            "f": 0.30000000000000004, "neg": -12345678901234567.5}
    # 19+ digits inside a string: the strict reader reads this simulation (same values)
    sims[2]["messages"][1]["content"] = "card 12345678901234567890123 please"
    # nested 300 deep (orjson.dumps refuses > 254, the walk says it is fine) and 450 deep
    # (beyond MAX_DEPTH: the strict reader's)
    deep: list = []
    for _ in range(299):
        deep = [deep]
    sims[3]["deep300"] = deep
    deeper: list = []
    for _ in range(449):
        deeper = [deeper]
    sims[4]["deep450"] = deeper
    # a surrogate pair: escaped by json.dumps (ensure_ascii) or written as UTF-8
    sims[5]["messages"][1]["content"] = ("\ud83d\ude00" if escaped_pair else "\U0001F600") + " x"
    return r


def _texts() -> dict[str, str]:
    base = make_results(5)
    edge = _edge_results()
    one_per_line = ("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in base.items()
                                     if k != "simulations")
                    + ', "simulations": [\n'
                    + ",\n".join(json.dumps(s) for s in base["simulations"]) + "\n]}\n")
    keys_after = dict(base)
    sims = keys_after.pop("simulations")
    keys_after = {"timestamp": base["timestamp"], "info": base["info"], "tasks": base["tasks"],
                  "simulations": sims, "note_after": {"x": 1}}
    sims_first = {"simulations": base["simulations"], "timestamp": base["timestamp"],
                  "info": base["info"], "tasks": base["tasks"]}
    big = make_results(4)
    big["simulations"][1]["messages"][1]["content"] = "y\u00e9 " * 150_000  # 600 K characters
    items = [json.dumps(x, indent=2) for x in base["simulations"]]
    mixed = dict(base, simulations=[])
    mixed_text = json.dumps(mixed, indent=2).replace(
        '"simulations": []', '"simulations": [' + items[0] + ",\n" + items[1] + ", "
        + ", ".join(items[2:]) + "]")
    # one item that fits the first probe window with under 256 bytes after it: learning the
    # separator refilled (and shifted) the buffer under the item's end (rejected the file)
    edge_sim = make_results(1)["simulations"][0]
    edge_sim["messages"][1]["content"] = ""
    edge_sim["messages"][1]["content"] = "x" * (131_050 - len(json.dumps(edge_sim)))
    window_edge = "[\n  " + json.dumps(edge_sim) + "\n]" + " " * 60
    return {
        "one-item-in-the-probe-window": window_edge,
        "indent2": json.dumps(base, indent=2),
        "big-item-indent2": json.dumps(big, indent=2),
        "big-item-one-line": json.dumps(big, ensure_ascii=False),
        "mixed-separators": mixed_text,
        "one-line": json.dumps(base),
        "compact": json.dumps(base, separators=(",", ":")),
        "one-per-line": one_per_line,
        "crlf": json.dumps(base, indent=2).replace("\n", "\r\n"),
        "bom": "\ufeff" + json.dumps(base, indent=2),
        "edge-indent2": json.dumps(_edge_results(escaped_pair=False), indent=2,
                                   ensure_ascii=False),
        "edge-ascii": json.dumps(edge),
        "keys-after-simulations": json.dumps(keys_after, indent=2),
        "simulations-first": json.dumps(sims_first, indent=2),
        "bare-list": json.dumps(base["simulations"], indent=2),
        "no-newline-at-end": json.dumps(base, indent=2).rstrip(),
        "empty-simulations": json.dumps(dict(base, simulations=[]), indent=2),
        "dup-key-in-sim": json.dumps(base, indent=2).replace(
            '"trial": 0,', '"trial": 0, "trial": 3,', 1),
    }


@pytest.mark.parametrize("name", sorted(_texts()))
def test_good_inputs_store_the_same_rows(tmp_path, monkeypatch, name):
    src = tmp_path / f"{name}.json"
    src.write_bytes(_texts()[name].encode("utf-8"))
    res = _same_both_ways(tmp_path, monkeypatch, src)
    assert len(res["imported"]) == 1, res


def test_the_worker_process_stores_the_same_rows(tmp_path, monkeypatch):
    src = tmp_path / "edge.json"
    src.write_text(json.dumps(_edge_results(), indent=2), encoding="utf-8")
    _same_both_ways(tmp_path, monkeypatch, src, worker="1")


def test_shared_real_files_store_the_same_rows(tmp_path, monkeypatch, shared_results):
    results = shared_results[0].parent
    files = sorted(results.glob("*.json"))
    assert len(files) >= 2
    for f in files:
        _same_both_ways(tmp_path, monkeypatch, f)


def test_fixture_directories_store_the_same_rows(tmp_path, monkeypatch):
    src = FIXTURES / "tau2_1x" / "voice_run"
    strict = _import(tmp_path, monkeypatch, src, fast=False)
    fast = _import(tmp_path, monkeypatch, src, fast=True)
    assert strict["rows"] is not None and fast["rows"] == strict["rows"]


# -- bad inputs: the same message -----------------------------------------------------------------

GOOD = json.dumps(make_results(3), indent=2)
SIM1 = GOOD.index('"id": "sim-0001"')  # inside the second simulation


def _in_sim1(old: str, new: str) -> str:
    i = GOOD.index(old, SIM1)
    return GOOD[:i] + new + GOOD[i + len(old):]


BAD = {
    # name: (file text, what the message must say)
    "nan": (_in_sim1('"duration": 6.5', '"duration": NaN'), "field duration: NaN"),
    "infinity": (_in_sim1('"duration": 6.5', '"duration": Infinity'), "Infinity"),
    "minus-infinity": (_in_sim1('"duration": 6.5', '"duration": -Infinity'), "-Infinity"),
    "1e400": (_in_sim1('"duration": 6.5', '"duration": 1e400'), "the number 1e400"),
    "2**63": (_in_sim1('"seed": 1001', f'"seed": {1 << 63}'), "beyond the store's 64-bit"),
    "2**64-1": (_in_sim1('"seed": 1001', f'"seed": {(1 << 64) - 1}'), "64-bit"),
    "2**64": (_in_sim1('"seed": 1001', f'"seed": {1 << 64}'), "64-bit"),
    "-2**63-1": (_in_sim1('"seed": 1001', f'"seed": {-(1 << 63) - 1}'), "64-bit"),
    "2**64-in-list": (_in_sim1('"env_assertions": []', f'"env_assertions": [], "x": [{1 << 64}]'),
                      "field reward_info.x[0]: "),
    "400-digits": (_in_sim1('"seed": 1001', '"seed": ' + "9" * 400), "a 400-digit integer"),
    "lone-surrogate": (_in_sim1('"Please cancel', '"\\ud800 Please cancel'),
                       "a lone surrogate"),
    "lone-low-surrogate": (_in_sim1('"Please cancel', '"\\udc00 Please cancel'),
                           "a lone surrogate"),
    "surrogate-key": (_in_sim1('"seed": 1001', '"seed": 1001, "\\udfff": 1'),
                      "a lone surrogate in a key"),
    "nesting-5000": (_in_sim1('"env_assertions": []',
                              '"env_assertions": ' + "[" * 5000 + "]" * 5000),
                     "nesting too deep"),
    "dup-top-key": (GOOD.rstrip()[:-1] + ', "simulations": []}',
                    "top-level key 'simulations' appears twice"),
    "missing-comma": (GOOD[:GOOD.rindex("},\n    {", 0, SIM1)] + "}\n    {"
                      + GOOD[GOOD.rindex("},\n    {", 0, SIM1) + 7:], "expected ',' or ']'"),
    "truncated": (GOOD[:SIM1 + 200], "truncated JSON"),
    "trailing-garbage": (GOOD + "\nxyz", "unexpected data after the JSON value"),
    "trailing-comma": (_in_sim1('"seed": 1001', '"seed": 1001,'), "invalid JSON"),
    "control-char": (_in_sim1('"Please cancel', '"Please\x01 cancel'), "control character"),
    "not-an-object": (GOOD[:GOOD.rindex("},\n    {", 0, SIM1)] + "},\n    7,\n    {"
                      + GOOD[GOOD.rindex("},\n    {", 0, SIM1) + 7:],
                      "expected an object, found int"),
}
BAD_BYTES = {
    "bad-utf8": (GOOD.encode("utf-8").replace(b"Please cancel", b"Please \xff cancel", 1),
                 "invalid UTF-8"),
    "surrogate-utf8": (GOOD.encode("utf-8").replace(b"Please cancel", b"Please \xed\xa0\x80", 1),
                       "invalid UTF-8"),
}


@pytest.mark.parametrize("name", sorted(BAD) + sorted(BAD_BYTES))
@pytest.mark.parametrize("worker", ["0", "1"])
def test_bad_values_give_the_strict_message(tmp_path, monkeypatch, name, worker):
    data, what = BAD_BYTES[name] if name in BAD_BYTES else (BAD[name][0].encode("utf-8"),
                                                            BAD[name][1])
    src = tmp_path / f"{name}.json"
    src.write_bytes(data)
    strict = _import(tmp_path, monkeypatch, src, fast=False, worker=worker)["result"]
    fast = _import(tmp_path, monkeypatch, src, fast=True, worker=worker)["result"]
    assert not strict["imported"] and not fast["imported"], (strict, fast)
    (err,) = [e["error"] for e in fast["rejected"]]
    assert err == strict["rejected"][0]["error"]
    assert err.startswith(f"{src}: ") and what in err, err
    if name not in ("dup-top-key", "trailing-garbage"):  # the record, or the position
        assert "simulation #1" in err or "near byte" in err, err


def test_a_bad_value_exits_2_through_the_cli(tmp_path):
    src = tmp_path / "big.json"
    src.write_text(BAD["2**64-1"][0])
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.sqlite"), "import", str(src)])
    assert r.exit_code == 2
    assert "while reading simulation #1" in r.stderr and "64-bit" in r.stderr, r.stderr


# -- the fast path is really taken ------------------------------------------------------------------

def _iterate(path: Path) -> tuple[list, fastsims.FastArray]:
    with open_regular(path) as fh:
        s = JsonStream(fh)
        for key in s.iter_object_keys():
            if key == "simulations":
                s.peek()
                items = fastsims.FastArray(s, path, closing=b"}")
                return list(items), items
            s.read_value()
    raise AssertionError("no simulations")


def test_orjson_decodes_plain_simulations_and_leaves_the_rest_to_the_strict_reader(tmp_path):
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(make_results(7), indent=2))
    values, items = _iterate(plain)
    assert (items.fast_items, items.strict_items, items.file_done) == (7, 0, True)
    assert values == make_results(7)["simulations"]

    edge = tmp_path / "edge.json"
    edge.write_text(json.dumps(_edge_results(), indent=2))
    values, items = _iterate(edge)
    # simulations 0 (19-digit integers), 2 (a 23-digit run in a string) and 4 (450 deep) are
    # the strict reader's; it caught up to read them and the fast path resumed after each
    assert (items.fast_items, items.strict_items) == (3, 5)
    assert values == json.loads(edge.read_text())["simulations"]


def test_a_long_integer_is_never_taken_from_orjson(tmp_path):
    """orjson reads 2^64 as a float and 2^63 as an int; both must reach the strict reader."""
    for big in (1 << 63, 1 << 64, -(1 << 63) - 1):
        r = make_results(2)
        r["simulations"][1]["extra"] = [big]
        f = tmp_path / "long.json"
        f.write_text(json.dumps(r, indent=2))
        with pytest.raises(Exception, match="64-bit"):
            _iterate(f)


# -- FTS5 automerge: off during an import, restored after ------------------------------------------

@pytest.mark.parametrize("bad", [False, True])
def test_an_import_restores_fts_automerge(tmp_path, monkeypatch, bad):
    """import_cache turns FTS5 automerge off for the import's length; the store keeps its own
    setting afterwards (and after a rejected import, which rolls back)."""
    import store
    from store.importers import import_paths

    db = store.open_db(tmp_path / "s.sqlite")
    db.conn.execute("INSERT INTO steps_fts (steps_fts, rank) VALUES ('automerge', 2)")
    seen = []
    real = store.importers.tau2.consume

    def spy(conn, *a, **kw):
        seen.append(conn.execute("SELECT v FROM steps_fts_config WHERE k = 'automerge'")
                    .fetchone()[0])
        return real(conn, *a, **kw)

    monkeypatch.setattr(store.importers.tau2, "consume", spy)
    src = tmp_path / "r.json"
    src.write_text(BAD["nan"][0] if bad else GOOD)
    res = import_paths(db, [src])
    assert bool(res["rejected"]) == bad
    assert seen == [0]
    assert db.conn.execute("SELECT v FROM steps_fts_config WHERE k = 'automerge'").fetchone() \
        == (2,)
    hits = db.conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'cancel'")
    assert hits.fetchone()[0] == (0 if bad else 3)


# -- FTS rows filled every INDEX_EVERY messages, not every batch ------------------------------------

@pytest.mark.parametrize("worker", ["0", "1"])
def test_every_step_is_indexed_when_batches_share_fts_statements(tmp_path, monkeypatch, worker):
    import store
    from store.importers import import_paths, tau2

    monkeypatch.setenv("T2E_IMPORT_WORKER", worker)
    monkeypatch.setenv("T2E_IMPORT_BATCH", "5")  # read by the worker process at import
    monkeypatch.setattr(tau2, "BATCH_MESSAGES", 5)
    monkeypatch.setenv("T2E_IMPORT_INDEX_EVERY", "13")
    monkeypatch.setattr(tau2, "INDEX_EVERY", 13)
    ranges = []
    real = tau2.write_batch

    def spy(conn, batch):
        ranges.append((batch[4], batch[5]))
        real(conn, batch)

    monkeypatch.setattr(tau2, "write_batch", spy)
    db = store.open_db(tmp_path / "s.sqlite")
    src = tmp_path / "r.json"
    src.write_text(json.dumps(make_results(20), indent=2))  # 120 messages
    assert import_paths(db, [src])["imported"][0]["messages"] == 120
    # contiguous FTS ranges covering every step once; most batches carry an empty one
    filled = [r for r in ranges if r[0] < r[1]]
    assert filled[0][0] == 1 and filled[-1][1] == 121
    assert all(a[1] == b[0] for a, b in zip(filled, filled[1:]))
    assert all(b - a >= 13 for a, b in filled[:-1])
    assert len(ranges) > 2 * len(filled)
    conn = db.conn
    assert conn.execute("SELECT count(*) FROM steps_fts_docsize").fetchone()[0] == 120
    assert conn.execute("SELECT count(*) FROM steps_fts WHERE steps_fts MATCH 'cancel'") \
        .fetchone()[0] == 20
    last = conn.execute("SELECT max(step_id) FROM steps").fetchone()[0]
    assert conn.execute("SELECT rowid FROM steps_fts WHERE steps_fts MATCH 'STOP' "
                        "ORDER BY rowid DESC LIMIT 1").fetchone()[0] == last


@pytest.mark.parametrize("value", ["x", "-3", "0", "1.5", ""])
def test_a_stray_tuning_knob_is_not_an_internal_error(tmp_path, value):
    """T2E_IMPORT_BATCH=x made every import an internal error (int() at module import)."""
    import os
    import subprocess
    import sys

    src = tmp_path / "r.json"
    src.write_text(json.dumps(make_results(3)), encoding="utf-8")
    env = dict(os.environ, T2E_IMPORT_BATCH=value, T2E_IMPORT_INDEX_EVERY=value,
               T2E_OTEL_ROWS_BEHIND=value)
    out = subprocess.run([sys.executable, "-m", "t2e_tui.cli", "--store",
                          str(tmp_path / "s.sqlite"), "import", str(src)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "imported as run" in out.stdout, out.stderr
    from store.importers.common import env_count
    os.environ["T2E_TEST_KNOB"] = value
    try:
        assert env_count("T2E_TEST_KNOB", 7) == 7
    finally:
        del os.environ["T2E_TEST_KNOB"]
