"""Import hygiene: the core (world, store, engine, gate) never imports textual."""

import subprocess
import sys

CORE = ["world", "store", "store.writer", "store.migrations"]


def test_core_does_not_import_textual():
    code = (
        "import importlib, sys\n"
        f"for m in {CORE!r} + [n for n in ('world.tools','world.scoring','world.domains',"
        "'store.importers','t2e_tui.engine','t2e_tui.gate','t2e_tui.cli.main') ]:\n"
        "    try: importlib.import_module(m)\n"
        "    except ModuleNotFoundError as e:\n"
        "        if e.name and e.name.split('.')[0] in ('textual',): raise\n"
        "assert not any(k == 'textual' or k.startswith('textual.') for k in sys.modules), "
        "sorted(k for k in sys.modules if k.startswith('textual'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_world_does_not_import_store_or_harness():
    code = (
        "import importlib, pkgutil, sys, world\n"
        "for m in pkgutil.walk_packages(world.__path__, 'world.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('store', 't2e_tui', 'textual')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_store_does_not_import_harness():
    code = (
        "import importlib, pkgutil, sys, store\n"
        "for m in pkgutil.walk_packages(store.__path__, 'store.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('t2e_tui', 'textual')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_screen_runs_sql_of_its_own():
    """The UI asks data_access / the store / the gate; it never writes SQL itself (policy
    and queries live below the UI, where the CLI uses them too). workbench_gate.py is being
    reworked by issue #10 (the gate screen calls the gate function) and is checked there."""
    import re
    from pathlib import Path

    ui = Path(__file__).resolve().parents[1] / "t2e_tui" / "ui"
    hits = []
    for py in sorted(ui.rglob("*.py")):
        if py.name == "workbench_gate.py":
            continue
        for n, line in enumerate(py.read_text().splitlines(), 1):
            if re.search(r"\.execute(many)?\(", line):
                hits.append(f"{py.relative_to(ui)}:{n}")
    assert hits == [], hits
