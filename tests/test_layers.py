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


def test_the_cli_starts_without_what_its_commands_load_on_use():
    """Every `t2e` process imports the whole CLI (each area registers its commands): what one
    command needs is loaded when it runs. The failure analysis (via `failures`), candidate
    files (via `candidate`), platformdirs (the default store: only without --store, and in
    --help), sqlite-utils and numpy (open_db) made ~30% of each start-up."""
    code = (
        "import sys\n"
        "import t2e_tui.cli\n"
        "heavy = ('t2e_tui.analysis', 't2e_tui.candidates', 'platformdirs', 'sqlite_utils',"
        " 'numpy', 'rich', 'textual', 'openai')\n"
        "print(sorted(k for k in sys.modules if k.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[]", out


def test_no_screen_runs_sql_of_its_own():
    """The UI asks data_access / the store / the gate; it never writes SQL itself (policy
    and queries live below the UI, where the CLI uses them too): every file, the gate screen
    included."""
    import re
    from pathlib import Path

    ui = Path(__file__).resolve().parents[1] / "t2e_tui" / "ui"
    hits = []
    for py in sorted(ui.rglob("*.py")):
        for n, line in enumerate(py.read_text().splitlines(), 1):
            if re.search(r"\.execute(many)?\(", line):
                hits.append(f"{py.relative_to(ui)}:{n}")
    assert hits == [], hits


def _import_graph() -> dict[str, set[str]]:
    """t2e_tui module -> the t2e_tui modules it imports (top level or inside functions)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    mods = {}
    for py in (root / "t2e_tui").rglob("*.py"):
        parts = list(py.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = py
    graph: dict[str, set[str]] = {}
    for mod, py in mods.items():
        pkg = mod.split(".") if py.name == "__init__.py" else mod.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = (pkg[:len(pkg) - node.level + 1] if node.level else [])
                name = ".".join(base + ([node.module] if node.module else []))
                names = [name] + [f"{name}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            deps.update(n for n in names if n in mods and n != mod
                        and not mod.startswith(n + "."))
        graph[mod] = deps
    return graph


def test_no_import_circles():
    """Modules import one way (align_print -> align, workbench_hooks -> the screens); a
    circle hides which module decides and breaks on the first top-level import."""
    graph = _import_graph()
    seen: dict[str, int] = {}  # 1 = on the path, 2 = done
    circles = []

    def visit(mod: str, path: list[str]) -> None:
        seen[mod] = 1
        for dep in sorted(graph[mod]):
            if seen.get(dep) == 1:
                circles.append(path[path.index(dep):] + [dep])
            elif dep not in seen:
                visit(dep, path + [dep])
        seen[mod] = 2

    for mod in sorted(graph):
        if mod not in seen:
            visit(mod, [mod])
    assert circles == [], circles


def test_no_fallbacks_for_modules_that_always_exist():
    """`world` and `store` ship with t2e: no `except ImportError` around importing them (such
    fallbacks were scaffolding for modules that "may not exist yet" and hide real errors)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    hits = []
    for py in sorted(list((root / "t2e_tui").rglob("*.py")) + list((root / "store").rglob("*.py"))):
        for node in ast.walk(ast.parse(py.read_text())):
            if not isinstance(node, ast.Try):
                continue
            catches = any(isinstance(h.type, ast.Name) and h.type.id in
                          ("ImportError", "ModuleNotFoundError") for h in node.handlers)
            ours = any(isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in
                       ("world", "store", "t2e_tui") or isinstance(n, ast.ImportFrom) and n.level
                       for stmt in node.body for n in ast.walk(stmt))
            if catches and ours:
                hits.append(f"{py.relative_to(root)}:{node.lineno}")
    assert hits == [], hits


def test_every_binding_has_an_id_in_one_style():
    """Binding ids are what [keymap] rebinds: every binding has one, in one style,
    `area.action` (app-wide keys are bare: quit, help, edit, ...), and no two screens share
    one (a shared bare `cancel` rebound both modals at once) unless it is the same key doing
    the same thing (the tables' `table.down`). Every file, the gate screen included."""
    import ast
    import re
    from pathlib import Path

    ui = Path(__file__).resolve().parents[1] / "t2e_tui" / "ui"
    ids: dict[str, tuple] = {}
    bad = []
    for py in sorted(ui.rglob("*.py")):
        for node in ast.walk(ast.parse(py.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Binding"):
                continue
            where = f"{py.relative_to(ui)}:{node.lineno}"
            kw = {k.arg: k.value for k in node.keywords}
            ident = kw["id"].value if isinstance(kw.get("id"), ast.Constant) else None
            same = tuple(a.value for a in node.args[:2] if isinstance(a, ast.Constant))
            app_wide = py.name == "app.py"
            if ident is None:
                bad.append(f"{where}: no id")
            elif not re.fullmatch(r"[a-z_]+" if app_wide else r"[a-z]+\.[a-z_]+", ident):
                bad.append(f"{where}: {ident!r}")
            elif ident in ids and ids[ident][1] != same:  # shared only for the same keys+action
                bad.append(f"{where}: {ident!r} also at {ids[ident][0]}")
            else:
                ids[ident] = (where, same)
    assert bad == [], bad
