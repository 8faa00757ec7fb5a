"""Domains, data directories, task selection, the world lock and the world CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import world.domains as domains
import world.lock as lock
from t2e_tui.cli import cli
from world.domains import load_domain, resolve_tasks
from world.errors import WorldError
from world.tasks import parse_task


def run_cli(*args):
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


@pytest.fixture(autouse=True)
def _fresh_caches():
    domains._CACHE.clear()
    yield
    domains._CACHE.clear()


@pytest.fixture
def data_copy(tau2_dir, tmp_path):
    """A writable copy of the tau2 retail folder (in tmp_path only)."""
    dst = tmp_path / "retail"
    shutil.copytree(tau2_dir / "retail", dst)
    return dst


# -- tau2-retail -----------------------------------------------------------------------------

def test_tau2_retail_layouts_and_env(tau2_dir, monkeypatch):
    a = load_domain("tau2-retail", tau2_dir)
    b = load_domain("tau2-retail", tau2_dir / "retail")
    assert a.world_hash == b.world_hash
    assert len(a.tasks) == 114 and {k: len(v) for k, v in a.splits.items()} == \
        {"train": 74, "test": 40, "base": 114}
    assert a.tool_version == "v1" and len(a.tool_schemas()) == 16
    monkeypatch.setenv("TAU2_DATA_DIR", str(tau2_dir))
    domains._CACHE.clear()
    assert load_domain("tau2-retail").world_hash == a.world_hash


def test_no_data_dir_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("TAU2_DATA_DIR", raising=False)
    with pytest.raises(WorldError, match="no tau2 data directory: pass --data DIR or set TAU2_DATA_DIR"):
        load_domain("tau2-retail")
    with pytest.raises(WorldError, match="does not exist"):
        load_domain("tau2-retail", tmp_path / "nope")
    with pytest.raises(WorldError, match="no retail db.json found"):
        load_domain("tau2-retail", tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "tasks.json").write_text('[{"id": "0", '), "tasks.json: not valid JSON"),
    (lambda d: (d / "tasks.json").write_text('{"id": "0"}'), "tasks.json: expected a list of tasks"),
    (lambda d: (d / "tasks.json").write_text('[{"id": "0"}, {"id": "0"}]'), "duplicate task id '0'"),
    (lambda d: (d / "policy.md").unlink(), "policy.md: file is missing"),
    (lambda d: (d / "tasks.json").unlink(), "tasks.json: file is missing"),
    (lambda d: (d / "split_tasks.json").write_text('{"test": ["0", "9999"]}'),
     "split 'test' names unknown task id(s) 9999"),
    (lambda d: (d / "db.json").write_text('{"products": {}, "users": {}, "orders": {"#W1": []}}'),
     "db.json: orders['#W1']: expected an object"),
    (lambda d: (d / "db.json").write_text('{"products": {}, "users": {}, "orders": {"#W1": {"order_id": 1}}}'),
     "db.json: orders['#W1']: missing field 'items'"),
])
def test_bad_data_dir_files_are_refused(data_copy, damage, message):
    damage(data_copy)
    with pytest.raises(WorldError) as exc:
        load_domain("tau2-retail", data_copy)
    assert message in str(exc.value)
    assert str(data_copy) in str(exc.value)


def test_split_file_is_optional(data_copy):
    (data_copy / "split_tasks.json").unlink()
    dom = load_domain("tau2-retail", data_copy)
    assert dom.splits == {"base": list(dom.tasks)}


def test_resolve_tasks(tau2_dir):
    dom = load_domain("tau2-retail", tau2_dir)
    assert resolve_tasks(dom, "all") == list(dom.tasks)
    assert resolve_tasks(dom, "test")[:3] == ["5", "9", "12"]
    assert resolve_tasks(dom, " 3, 1,3") == ["3", "1"]
    with pytest.raises(WorldError, match="unknown task id.* 999 .*splits: train, test, base"):
        resolve_tasks(dom, "1,999")
    with pytest.raises(WorldError, match="unknown task id"):
        resolve_tasks(dom, "heldout")


# -- tasks ---------------------------------------------------------------------------------------

def test_task_parsing_tolerates_versions_and_extensions():
    t = parse_task({"id": 7, "surprise": True, "user_scenario": {"instructions": "plain text"},
                    "evaluation_criteria": {"actions": [{"name": "calculate",
                                                         "arguments": {"expression": "1"}}]},
                    "t2e": {"split": "dev", "failure_class": "auth_skipped", "scenario": {"a": 1}}})
    assert t.id == "7" and t.reward_basis == ["DB", "COMMUNICATE"]
    assert t.actions[0].action_id == "7_0" and t.actions[0].compare_args is None
    assert t.instructions == "plain text" and t.summary == "plain text"
    assert (t.split, t.failure_class, t.scenario) == ("dev", "auth_skipped", {"a": 1})
    assert t.raw["surprise"] is True
    with pytest.raises(WorldError, match="reward_basis"):
        parse_task({"id": "1", "evaluation_criteria": {"reward_basis": ["VIBES"]}})
    with pytest.raises(WorldError, match="task #3: task has no string 'id'"):
        parse_task({}, "f.json", 3)


# -- mini-retail ---------------------------------------------------------------------------

def test_mini_retail_loads_with_splits_and_a_usable_env():
    dom = load_domain("mini-retail")
    assert dom.name == "mini-retail" and len(dom.tasks) >= 100
    assert set(dom.splits) == {"train", "dev", "heldout"}
    assert all(dom.tasks[t].split == s for s, ids in dom.splits.items() for t in ids)
    env = dom.new_env()
    uid = next(iter(dom.base_db.users))
    assert not env.call("get_user_details", {"user_id": uid}).error
    prompt = dom.system_prompt("Always greet.")
    assert prompt.startswith("<instructions>\n" + dom.agent_preamble)
    assert "Always greet." in prompt and dom.policy in prompt


def test_mini_retail_world_hash_is_deterministic():
    first = load_domain("mini-retail").world_hash
    domains._CACHE.clear()
    lock._code_cache.clear()
    assert load_domain("mini-retail").world_hash == first


def test_mini_retail_missing_builder_is_a_world_error(monkeypatch):
    import world.mini_retail as mini

    monkeypatch.delattr(mini, "build")
    with pytest.raises(WorldError, match="mini-retail domain is not available yet"):
        load_domain("mini-retail")


def test_unknown_domain():
    with pytest.raises(WorldError, match="unknown domain 'telecom'"):
        load_domain("telecom")


# -- the lock -----------------------------------------------------------------------------------

def test_world_hash_covers_data_and_code():
    db = {"products": {}, "users": {}, "orders": {}}
    code = {"tools.py": "a", "": "x"}
    h1, d1 = lock.world_hash("d", db, "policy", [{"id": "1"}], {"s": ["1"]}, code=code)
    h2, _ = lock.world_hash("d", json.loads(json.dumps(db)), "policy", [{"id": "1"}],
                            {"s": ["1"]}, code=dict(code))
    assert h1 == h2 and h1.startswith("w1-")
    h3, d3 = lock.world_hash("d", db, "policy!", [{"id": "1"}], {"s": ["1"]}, code=code)
    h4, d4 = lock.world_hash("d", db, "policy", [{"id": "1"}], {"s": ["1"]},
                             code={"tools.py": "b", "": "y"})
    assert len({h1, h3, h4}) == 3
    assert lock.changed_parts(d1, d3) == ["data.policy"]
    assert lock.changed_parts(d1, d4) == ["code.tools.py"]


def test_world_code_files_include_the_world_sources():
    names = {p.relative_to(lock.WORLD_DIR).as_posix() for p in lock.world_code_files()}
    assert {"tools.py", "db.py", "scoring.py", "lock.py"} <= names
    assert any(n.startswith("mini_retail/") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_import_world_id_is_canonical():
    a = lock.import_world_id("retail", "pol", [{"id": "1", "x": {"b": 1, "a": 2}}])
    b = lock.import_world_id("retail", "pol", [{"x": {"a": 2, "b": 1}, "id": "1"}])
    assert a == b and a.startswith("imp-")
    assert lock.import_world_id("retail", "pol2", [{"id": "1"}]) != \
        lock.import_world_id("retail", "pol", [{"id": "1"}])


# -- CLI ----------------------------------------------------------------------------------------

def test_cli_world_hash_and_tasks():
    code, out = run_cli("world", "hash", "--domain", "mini-retail", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["world_hash"] == load_domain("mini-retail").world_hash
    assert set(info["detail"]) == {"domain", "data", "code"}
    code, out = run_cli("tasks", "--domain", "mini-retail", "--split", "heldout", "--json")
    rows = json.loads(out)
    assert code == 0 and rows and all(r["split"] == "heldout" for r in rows)
    assert set(rows[0]) == {"id", "split", "failure_class", "summary"}
    assert all(r["failure_class"] and r["summary"] for r in rows)
    code, out = run_cli("tasks", "--domain", "mini-retail", "--split", "nope", "--json")
    assert code == 2 and "unknown split" in json.loads(out)["error"]


def _store_with_runs(path):
    from store import connect, writer

    dom = load_domain("mini-retail")
    conn = connect(path)
    writer.ensure_world(conn, dom.world_hash, kind="lock", domain="mini-retail",
                        detail=dom.world_detail)
    same = writer.create_run(conn, name="same", world_id=dom.world_hash, domain="mini-retail",
                             manifest={"domain": "mini-retail", "world_hash": dom.world_hash})
    old_detail = json.loads(json.dumps(dom.world_detail))
    old_detail["data"]["policy"] = "0" * 64
    writer.ensure_world(conn, "w1-old", kind="lock", domain="mini-retail", detail=old_detail)
    old = writer.create_run(conn, name="old", world_id="w1-old", domain="mini-retail",
                            manifest={"domain": "mini-retail", "world_hash": "w1-old"})
    writer.ensure_world(conn, "imp-abc", kind="import", domain="retail")
    src = writer.create_source(conn, kind="file", path="x.json", sha256="s")
    imp = writer.create_run(conn, name="imported", world_id="imp-abc", domain="retail",
                            source_id=src)
    conn.close()
    return same, old, imp


def test_cli_world_verify(tmp_path):
    store_path = str(tmp_path / "s.sqlite")
    same, old, imp = _store_with_runs(store_path)
    code, out = run_cli("--store", store_path, "world", "verify", same, "--json")
    assert code == 0 and json.loads(out)["changed"] is False
    code, out = run_cli("--store", store_path, "world", "verify", "old", "--json")
    res = json.loads(out)
    assert code == 1 and res["changed"] is True and res["changed_parts"] == ["data.policy"]
    code, out = run_cli("--store", store_path, "world", "verify", imp, "--json")
    assert code == 2 and "imported run" in json.loads(out)["error"]
    code, out = run_cli("--store", store_path, "world", "verify", "nope", "--json")
    assert code == 2 and "unknown run 'nope'" in json.loads(out)["error"]


def test_world_code_hash_follows_file_contents(tmp_path):
    (tmp_path / "mini_retail" / "__pycache__").mkdir(parents=True)
    (tmp_path / "tools.py").write_text("A = 1\n")
    (tmp_path / "mini_retail" / "policy.md").write_text("be kind\n")
    (tmp_path / "mini_retail" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    first = lock.world_code_hash(tmp_path)
    assert set(first) == {"", "tools.py", "mini_retail/policy.md"}
    assert lock.world_code_hash(tmp_path) == first
    (tmp_path / "mini_retail" / "policy.md").write_text("be kinder\n")
    second = lock.world_code_hash(tmp_path)
    assert second[""] != first[""] and second["tools.py"] == first["tools.py"]
