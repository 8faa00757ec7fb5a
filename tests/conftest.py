"""Shared fixtures. Tests that need ../shared skip cleanly when it is absent."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _share_bytecode() -> None:
    """Where PYTHONDONTWRITEBYTECODE is set (these machines set it), every process compiled
    every module it imported, each time: each xdist worker rewrote and compiled all test
    modules at collection (~5 s of CPU) and each of the suite's few hundred `t2e`
    subprocesses compiled t2e's modules again (~0.15 s each). The suite keeps the bytecode in
    a cache of its own outside the checkout (PYTHONPYCACHEPREFIX, inherited by the xdist
    workers and the subprocesses), so nothing is written into the tree. Python checks each
    file against its source as usual. A prefix set by the caller is kept."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    tag = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    prefix = Path(tempfile.gettempdir()) / f"t2e-tests-pycache-{os.getuid()}-{tag}"
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.pycache_prefix = str(prefix)
    sys.dont_write_bytecode = False


_share_bytecode()
SHARED = Path(os.environ.get("T2E_SHARED_DIR", REPO.parent / "shared"))
TAU2 = SHARED / "tau2"
RESULTS = TAU2 / "results"
GPT41 = RESULTS / "retail_gpt-4.1_test-split_1trial.json"
SFT = RESULTS / "retail_ft-gpt-4.1-sft_test-split_1trial.json"
AIR_GPT41 = RESULTS / "airline_gpt-4.1_test-split_1trial.json"
AIR_SFT = RESULTS / "airline_ft-gpt-4.1-sft_test-split_1trial.json"


@pytest.fixture
def tau2_dir() -> Path:
    if not (TAU2 / "retail" / "db.json").exists():
        pytest.skip("../shared/tau2 is absent")
    return TAU2


@pytest.fixture
def shared_results() -> tuple[Path, Path]:
    if not (GPT41.exists() and SFT.exists()):
        pytest.skip("../shared/tau2/results is absent")
    return GPT41, SFT


@pytest.fixture
def airline_dir() -> Path:
    """../shared/tau2/airline (db.json, tasks.json, tasks_pre_v1.json, policy.md, splits)."""
    if not (TAU2 / "airline" / "db.json").exists():
        pytest.skip("../shared/tau2/airline is absent")
    return TAU2 / "airline"


@pytest.fixture
def airline_results() -> tuple[Path, Path]:
    """The real airline pair: gpt-4.1 (baseline) and its fine-tune (candidate)."""
    if not (AIR_GPT41.exists() and AIR_SFT.exists()):
        pytest.skip("../shared/tau2/results (airline) is absent")
    return AIR_GPT41, AIR_SFT


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Never touch the user's real store or config from a test."""
    monkeypatch.setenv("T2E_STORE", str(tmp_path / "default-store.sqlite"))
    monkeypatch.setenv("T2E_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("T2E_DEBUG", raising=False)
    monkeypatch.delenv("TAU2_AIRLINE_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The demo store built once per test process; tests get copies of it (demo_store.py)."""
    from demo_store import seal_template

    from t2e_tui.demo import build_demo

    return seal_template(build_demo(tmp_path_factory.mktemp("demo-template") / "demo.sqlite"))


@pytest.fixture
def new_demo(demo_template):
    """`new_demo(PATH)`: a demo store of the test's own at PATH, as `build_demo(PATH)` returns
    it (a copy of the template, not a build)."""
    from demo_store import copy_demo

    return lambda path: copy_demo(demo_template, path)


@pytest.fixture
def own_demo(tmp_path, new_demo):
    """A demo store this test may write to (reruns, gate rows), with its candidates by name
    (`own_demo["by"]`)."""
    s = new_demo(tmp_path / "demo.sqlite")
    s["by"] = {c["name"]: c for c in s["candidates"]}
    return s


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_template):
    """A demo store (scripted stand-in runs, two gated candidates), one per test module.
    Read-only users share it; a test module that changes it defines its own `demo`."""
    from demo_store import copy_demo

    return copy_demo(demo_template, tmp_path_factory.mktemp("demo") / "demo.sqlite")


@pytest.fixture
def real_pair(tmp_path, shared_results) -> tuple[str, tuple[str, str]]:
    """A store holding the real retail pair imported with `t2e import`: (store, (gpt-4.1 run,
    fine-tuned run))."""
    import json

    from click.testing import CliRunner

    from t2e_tui.cli import cli

    store = str(tmp_path / "real.sqlite")
    ids = []
    for path in shared_results:
        res = CliRunner().invoke(cli, ["--store", store, "import", str(path), "--json"])
        assert res.exit_code == 0, res.output
        ids.append(json.loads(res.output)["imported"][0]["run_id"])
    return store, (ids[0], ids[1])


def pytest_collection_modifyitems(config, items):
    """Slow tests first (in their collected order): `pytest -n 2` hands tests to the two
    workers in collection order, so a 10-40 s test collected late ran while the other worker
    had nothing left, the suite's tail. Started first, they overlap the many short ones."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
