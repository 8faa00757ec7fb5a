"""What the workbench screens need to know about the app: where saved versions go, which
candidate is being worked on, which tasks the tasks screen shows. Imports no screen, so every
workbench screen can use it without an import circle (workbench_hooks imports the screens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ... import run_queries as rq
from ...candidate_versions import Version, ablated_from, get_version, list_versions
from ...paths import candidates_dir as default_candidates_dir


def candidates_dir_for(app: Any) -> Path:
    """Where saved versions are written: the app's --candidates, else the store's own folder
    (a demo store's, beside it), else ./candidates."""
    from ...demo import store_candidates_dir

    explicit = getattr(app, "candidates_dir", None)
    if explicit:
        return Path(explicit)
    return store_candidates_dir(app.store_path) or default_candidates_dir()


def shown_path(path: Path) -> str:
    """A folder as the user would type it: relative to the working directory when under it,
    else with ~ for the home directory."""
    path = Path(path).resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path.home().resolve(), "~/")):
        try:
            rel = path.relative_to(base)
        except ValueError:
            continue
        return prefix + str(rel) if str(rel) != "." else (prefix.rstrip("/") or ".")
    return str(path)


def shown_candidates_dir(app: Any) -> str:
    """candidates_dir_for as the user would type it (the editor's and the lineage's words)."""
    return shown_path(candidates_dir_for(app))


def current_version(app: Any, conn: Any) -> Version | None:
    """The candidate being worked on: the version saved last in the editor while the runs
    marked now were marked (a save is newer than the marks it was made under), else the app's
    candidate run's, else its baseline run's, else the version saved last in the editor, else
    the one last ablated, else the latest saved.

    An ablation variant (one rule left out) is never the answer: it stands for the candidate
    it was made from, so the launcher after an ablation offers that candidate."""
    refs: list[str] = []
    saved = getattr(app, "last_saved_candidate", None)
    marks = (getattr(app, "baseline_run", None), getattr(app, "candidate_run", None))
    if saved and getattr(app, "saved_under_marks", None) == marks:
        refs.append(saved)
    for run in (getattr(app, "candidate_run", None), getattr(app, "baseline_run", None)):
        if run:
            h = rq.run_candidate_hash(conn, run)
            if h:
                refs.append(h)
    refs += [h for h in (getattr(app, "last_saved_candidate", None),
                         getattr(app, "working_candidate", None)) if h]
    for ref in refs:
        v = _working(conn, get_version(conn, ref))
        if v:
            return v
    for v in reversed(list_versions(conn)):
        if ablated_from(v) is None:
            return v
    return None


def _working(conn: Any, v: Version | None) -> Version | None:
    """`v`, or for an ablation variant the candidate it was made from (None if unknown)."""
    origin = ablated_from(v) if v else None
    if origin is None:
        return v
    return get_version(conn, origin)


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
