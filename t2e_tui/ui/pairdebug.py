"""Pair-debugging actions of the compare screen (#14), kept out of compare.py so the screen's
own changes (triage, classes) and these stay apart: `y` copies a deep link, `f` forks the
episode at the selected step, `r` reruns the task for the draft and the baseline.

`PairDebugMixin` is mixed into CompareScreen; it reads the screen's `episode_a`,
`episode_b`, `a`, `b`, `alignment` and the lanes' cursor. `rerun_task(screen, episode_id,
task_id)` is shared with the tasks screen (a task row).
"""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text

from .. import data_access as da
from ..textsafe import one_line


def draft_and_baseline(app: Any) -> tuple[str, str]:
    """The current draft (the workbench's candidate being worked on) and the baseline's
    candidate (the app's baseline run's, else the packaged baseline), as store refs."""
    from .screens.workbench_context import current_version

    conn = da.open_conn(app.store_path)
    try:
        v = current_version(app, conn)
        base = "baseline"
        run = getattr(app, "baseline_run", None)
        if run:
            from ..ui_queries import run_candidate_hash

            base = run_candidate_hash(conn, run) or base
    finally:
        conn.close()
    return (v.hash if v else "baseline"), base


def _name(app: Any, ref: str) -> str:
    from ..candidate_versions import get_version
    conn = da.open_conn(app.store_path)
    try:
        v = get_version(conn, ref) if ref != "baseline" else None
    finally:
        conn.close()
    return v.name if v else ref


def _short(ref: str) -> str:
    return ref[:12] if len(ref) == 64 else ref


def rerun_task(screen: Any, episode_id: int, task_id: str) -> None:
    """Ask for k (and the sides), then push the live rerun screen.

    While the dialog is open a worker plans the rerun with the dialog's defaults (world,
    candidates, code version): confirming them unchanged starts playing at once."""
    from .screens.pairdebug_dialogs import RerunTaskDialog
    from .screens.task_rerun import TaskRerunScreen

    app = screen.app
    draft, base = draft_and_baseline(app)
    defaults = {"trials": "3", "draft": _short(draft), "baseline": _short(base), "model": ""}
    ready: dict = {}

    def prewarm() -> None:
        from ..engine.manifest import code_version
        from ..engine.task_rerun import plan_task_rerun
        code_version()  # `git describe` once, not on the first run's critical path
        conn = da.open_conn(app.store_path)
        try:
            ready["plans"] = plan_task_rerun(conn, episode_id, draft=draft, baseline=base,
                                             trials=3)
        finally:
            conn.close()

    app.run_worker(prewarm, thread=True, group="rerun-prewarm", exit_on_error=False,
                   description="preparing the rerun")

    def go(values: dict | None) -> None:
        if not values:
            return
        kwargs = {"draft": values["draft"] or draft, "baseline": values["baseline"] or base,
                  "trials": int(values["trials"] or 3), "model": values["model"] or None}
        # A the baseline, B the draft: the sides the compare screen shows (plan order)
        labels = (_name(app, kwargs["baseline"]), _name(app, kwargs["draft"]))
        plans = ready.get("plans") if values == defaults else None
        rerun = TaskRerunScreen(task_id, episode_id, labels, plans, plan_kwargs=kwargs)
        rerun.begin(app)  # play while the screen composes
        app.push_screen(rerun)

    app.push_screen(RerunTaskDialog(task_id, dict(defaults)), go)


class PairDebugMixin:
    """Compare-screen actions: copy link, fork here, rerun task, note on a step."""

    def on_mount(self) -> None:
        # Textual calls every class's on_mount along the MRO: this one adds the notes
        self.app.run_worker(self._read_notes, thread=True, group="notes",  # type: ignore
                            exit_on_error=False, description="reading notes")

    def _read_notes(self) -> None:
        app = self.app  # type: ignore[attr-defined]
        eids = {"a": self.episode_a, "b": self.episode_b}  # type: ignore[attr-defined]
        conn = da.open_conn(app.store_path)
        try:
            from ..ui_queries import noted_steps

            rows = [(t,) for t in noted_steps(conn, [eids["a"], eids["b"]])]
        finally:
            conn.close()
        noted = set()
        for (tid,) in rows:
            eid, _, idx = tid.partition(":")
            for side, e in eids.items():
                if e is not None and str(e) == eid and idx.isdigit():
                    noted.add((side, int(idx)))
        app.call_from_thread(self._show_notes, noted)

    def _show_notes(self, noted: set) -> None:
        from .widgets.lanes import AlignedLanes
        if self.is_mounted:  # type: ignore[attr-defined]
            self.query_one(AlignedLanes).set_noted(noted)  # type: ignore[attr-defined]

    def action_note(self) -> None:
        """Add a note to the step under the cursor (its earlier notes are shown)."""
        from store.notes import add_note, notes_for, step_target

        from .screens.pairdebug_dialogs import NoteDialog

        eid, step = self._cursor_step()
        if eid is None or step is None:
            self.notify("no step under the cursor", timeout=3)  # type: ignore[attr-defined]
            return
        app = self.app  # type: ignore[attr-defined]
        target = step_target(eid, step)
        conn = da.open_conn(app.store_path)
        try:
            earlier = [n["text"] for n in notes_for(conn, [("step", target)])]
        finally:
            conn.close()
        ep = self.a if eid == self.episode_a else self.b  # type: ignore[attr-defined]

        def go(values: dict | None) -> None:
            if not values:
                return
            c = da.open_conn(app.store_path)
            try:
                add_note(c, "step", target, values["text"], os.environ.get("USER"))
            finally:
                c.close()
            self.app.run_worker(self._read_notes, thread=True,  # type: ignore[attr-defined]
                                group="notes", exit_on_error=False,
                                description="reading notes")
            self.notify(f"note added to step {step}", timeout=2)  # type: ignore
        app.push_screen(NoteDialog(ep.label if ep else str(eid), step, earlier), go)

    def _cursor_step(self) -> tuple[int | None, int | None]:
        """(episode, step) under the cursor: A's step, else B's (None when nothing)."""
        al = getattr(self, "alignment", None)
        if al is None or not al.rows:
            return None, None
        from .widgets.lanes import AlignedLanes
        cur = self.query_one(AlignedLanes).cursor  # type: ignore[attr-defined]
        row = al.rows[min(cur, len(al.rows) - 1)]
        if row.a is not None:
            return self.episode_a, row.a.step_idx  # type: ignore[attr-defined]
        if row.b is not None and getattr(self, "episode_b", None) is not None:
            return self.episode_b, row.b.step_idx  # type: ignore[attr-defined]
        return None, None

    def action_copy_link(self) -> None:
        """Copy `t2e open A --vs B --step N` (OSC 52) and show it (the fallback)."""
        from ..links import compare_link
        from .screens.pairdebug_dialogs import LinkDialog

        eid, step = self._cursor_step()
        a, b = self.episode_a, self.episode_b  # type: ignore[attr-defined]
        conn = da.open_conn(self.app.store_path)  # type: ignore[attr-defined]
        try:
            link = compare_link(conn, a, b, step if eid == a else None)
        finally:
            conn.close()
        self.app.copy_to_clipboard(link)  # type: ignore[attr-defined]
        self.app.push_screen(LinkDialog(link))  # type: ignore[attr-defined]

    def action_rerun_task(self) -> None:
        ep = getattr(self, "a", None)
        if ep is None:
            return
        rerun_task(self, self.episode_a, ep.task_id)  # type: ignore[attr-defined]

    def action_fork(self) -> None:
        """Fork the episode under the cursor at its selected step (dialog first)."""
        from .screens.pairdebug_dialogs import ForkDialog

        eid, step = self._cursor_step()
        if eid is None or step is None:
            self.notify("no step under the cursor to fork at", timeout=3)  # type: ignore
            return
        app = self.app  # type: ignore[attr-defined]
        ep = self.a if eid == self.episode_a else self.b  # type: ignore[attr-defined]
        draft, _base = draft_and_baseline(app)
        step = max(1, step)

        def go(values: dict | None) -> None:
            if values:
                self._run_fork(eid, values, draft)
        app.push_screen(ForkDialog(ep.label, {"at": str(step), "trials": "1",
                                              "candidate": draft[:12] if len(draft) == 64
                                              else draft, "model": "scripted", "data": ""}),
                        go)

    def _run_fork(self, eid: int, values: dict, draft: str) -> None:
        app = self.app  # type: ignore[attr-defined]
        at = int(values["at"])

        def work() -> None:
            from ..engine.fork import execute_fork, plan_fork
            conn = da.open_conn(app.store_path)
            try:
                fp = plan_fork(conn, eid, at, candidate=values["candidate"] or draft,
                               model=values["model"] or "scripted",
                               trials=int(values["trials"] or 1),
                               data_dir=values["data"] or None)
            finally:
                conn.close()
            summary = execute_fork(fp, app.store_path)
            conn = da.open_conn(app.store_path)
            try:
                from ..ui_queries import first_episode

                first = first_episode(conn, summary.run_id)
            finally:
                conn.close()
            app.call_from_thread(self._forked, eid, first, at, summary)

        app.run_worker(work, thread=True, group="fork", exit_on_error=False,
                       description=f"forking episode {eid} at step {at}")
        self.notify(f"forking at step {at}…", timeout=2)  # type: ignore[attr-defined]

    def _forked(self, parent: int, first: int | None, at: int, summary: Any) -> None:
        msg = Text(f"fork run {summary.run_id}: {summary.episodes} trial(s), pass rate "
                   + ("–" if summary.pass_rate is None else f"{summary.pass_rate:.0%}")
                   + " (development evidence)")
        self.notify(one_line(msg.plain, 200), timeout=6)  # type: ignore[attr-defined]
        if first is not None:
            self.app.open_compare(parent, first, step=at, step_episode=parent)  # type: ignore
