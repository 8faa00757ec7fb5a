"""Entry point the explorer app calls for its "edit", "rerun", "gate" and "lineage" keys.

`open(app, name)` works out what the user is looking at (the app's run pair, the candidate of
the candidate run) and pushes the matching workbench screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..candidate_versions import Version, get_version, list_versions
from ..paths import candidates_dir as default_candidates_dir


def candidates_dir_for(app: Any) -> Path:
    """Where saved versions are written: the demo store's folder beside it, else ./candidates."""
    explicit = getattr(app, "candidates_dir", None)
    if explicit:
        return Path(explicit)
    store = Path(app.store_path)
    beside = store.parent / f"{store.stem}-candidates"
    if beside.is_dir():
        return beside
    return default_candidates_dir()


def current_version(app: Any, conn: Any) -> Version | None:
    """The candidate in focus: the app's candidate run's, else its baseline run's, else the
    latest saved version."""
    for run in (getattr(app, "candidate_run", None), getattr(app, "baseline_run", None)):
        if run:
            r = conn.execute("SELECT candidate_hash FROM runs WHERE run_id = ?", (run,)).fetchone()
            if r and r[0]:
                v = get_version(conn, r[0])
                if v:
                    return v
    drafted = getattr(app, "last_saved_candidate", None)
    if drafted:
        v = get_version(conn, drafted)
        if v:
            return v
    versions = list_versions(conn)
    return versions[-1] if versions else None


def open(app: Any, name: str) -> None:  # noqa: A001 - the app's hook contract names it `open`
    """Push the workbench screen for `name` (edit | rerun | gate | lineage)."""
    from store import connect

    conn = connect(app.store_path)
    try:
        if name == "edit":
            from .workbench_editor import EditorScreen

            app.push_screen(EditorScreen(current_version(app, conn)))
        elif name == "rerun":
            from .workbench_launcher import LauncherScreen

            v = current_version(app, conn)
            app.push_screen(LauncherScreen(candidate=v.name if v else "baseline",
                                           baseline_run=getattr(app, "baseline_run", None),
                                           task_ids=visible_task_ids(app)))
        elif name == "gate":
            from .workbench_gate import GateScreen

            b, c = getattr(app, "baseline_run", None), getattr(app, "candidate_run", None)
            if not (b and c):
                app.notify("gate: pick a baseline (b) and a candidate (c) run first",
                           severity="warning")
                return
            app.push_screen(GateScreen(b, c))
        elif name == "lineage":
            from .workbench_lineage import LineageScreen

            app.push_screen(LineageScreen())
        else:
            app.notify(f"unknown workbench action {name!r}", severity="error")
    finally:
        conn.close()


def visible_task_ids(app: Any) -> list[str] | None:
    """Task ids the tasks screen currently shows (its filter), when that screen is open."""
    for screen in reversed(app.screen_stack):
        ids = getattr(screen, "visible_task_ids", None)
        if ids is not None and getattr(screen, "filter", "all") == "all" \
                and not getattr(screen, "termination", None):
            return None  # unfiltered: the baseline run's own task spec (e.g. a split) is better
        if callable(ids):
            try:
                return list(ids())
            except Exception:  # noqa: BLE001 - the launcher falls back to a split
                return None
        if isinstance(ids, (list, tuple)):
            return list(ids)
    return None
