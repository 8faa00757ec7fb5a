"""Entry point the explorer app calls for its "edit", "rerun", "gate" and "lineage" keys.

`open(app, name)` works out what the user is looking at (the app's run pair, the candidate of
the candidate run) and pushes the matching workbench screen. Only this module imports the
screens; they take what they need from workbench_context, so there is no import circle.
"""

from __future__ import annotations

from typing import Any

from .workbench_context import current_version, visible_task_ids


def open(app: Any, name: str) -> None:  # noqa: A001 - the app's hook contract names it `open`
    """Push the workbench screen for `name` (edit | rerun | gate | lineage). The editor and
    the launcher need the current version from the store: it is read in a worker, and the
    screen is pushed when it is known."""
    if name in ("edit", "rerun"):
        task_ids = visible_task_ids(app) if name == "rerun" else None  # the screens, now
        app.run_worker(lambda: _read_then_push(app, name, task_ids), thread=True,
                       group="workbench-open", exit_on_error=False,
                       description=f"opening the workbench ({name})")
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


def _read_then_push(app: Any, name: str, task_ids: list[str] | None) -> None:
    """In a worker thread: the version being worked on, then the screen (on the UI thread)."""
    from store import connect

    conn = connect(app.store_path)
    try:
        v = current_version(app, conn)
    finally:
        conn.close()
    if name == "edit":
        from .workbench_editor import EditorScreen

        app.call_from_thread(lambda: app.push_screen(EditorScreen(v)))
    else:
        from .workbench_launcher import LauncherScreen

        app.call_from_thread(lambda: app.push_screen(LauncherScreen(
            candidate=v.name if v else "baseline",
            baseline_run=getattr(app, "baseline_run", None), task_ids=task_ids)))
