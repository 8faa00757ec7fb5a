"""The rerun launcher's form and its estimate: reading the form's fields (`form`), planning
the run in a thread worker on every change (`refresh_estimate`; the newest form state wins),
showing the cost estimate, a refusal or the warnings, asking before a launch the gate will
refuse to compare, and registering the planned tasks as a set (F6). Moved out of
workbench_launcher.py; `LauncherEstimate` is a mixin of LauncherScreen (its methods read and
update the screen's widgets by id and start the run through the screen's `_start`).
"""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual import work
from textual.widgets import Input, Select, Static

from ..plain import plain
from .workbench_launch_plan import (
    Estimate,
    LaunchForm,
    estimate_warnings,
    plan_estimate,
    register_planned_set,
)


class LauncherEstimate:
    """LauncherScreen's form, estimate and set registration (workbench_launcher.LauncherScreen
    mixes this in)."""

    def form(self) -> LaunchForm:
        q = lambda sel: self.query_one(sel, Input).value.strip()  # noqa: E731
        def num(sel: str, what: str) -> int:
            try:
                return int(q(sel))
            except ValueError:
                raise ValueError(f"{what}: {q(sel)!r} is not a whole number") from None
        return LaunchForm(candidate=q("#lf-candidate"), baseline_run=q("#lf-baseline") or None,
                          domain=str(self.query_one("#lf-domain", Select).value),
                          tasks=q("#lf-tasks") or "heldout", trials=num("#lf-trials", "trials"),
                          concurrency=num("#lf-concurrency", "concurrency"),
                          model=q("#lf-model") or "scripted", user=q("#lf-user") or "scripted",
                          role=str(self.query_one("#lf-role", Select).value))

    @property
    def estimating(self) -> bool:
        """True while the newest form state is still being planned."""
        return self._est_done != self._est_gen

    def refresh_estimate(self, *, launch: bool = False) -> None:
        """Plan the run (nothing is written) in a thread worker: the cost estimate, a refusal
        or a leak warning appear when it is done. With `launch`, the run starts then."""
        self._est_gen += 1
        gen = self._est_gen
        self._plan = None
        if launch:
            self._launch_gen = gen
        try:
            f = self.form()
        except ValueError as exc:  # a field no plan can read: refused here, no store read
            self._apply_estimate(gen, Estimate(error=exc))
            return
        fill = not self._tasks_filled and not self.query_one("#lf-tasks", Input).value.strip()
        # a baseline run newly given proposes its settings (trials, agent, user)
        fill_settings = bool(f.baseline_run) and f.baseline_run != self._settings_from
        self._estimate(gen, f, self.task_selection(), fill, fill_settings)

    @work(thread=True, exclusive=True, group="launcher-estimate", exit_on_error=False,
          description="the rerun estimate")
    def _estimate(self, gen: int, f: LaunchForm, selection: dict | None, fill: bool,
                  fill_settings: bool) -> None:
        from .workbench_context import candidates_dir_for

        est = plan_estimate(self.app.store_path, candidates_dir_for(self.app), f, selection,
                            fill, fill_settings)
        try:
            self.app.call_from_thread(self._apply_estimate, gen, est)
        except RuntimeError:  # the app has closed meanwhile: nothing to show it on
            pass

    def _apply_estimate(self, gen: int, est: Estimate) -> None:
        """Show an estimate (UI thread), unless the form changed since it was asked for."""
        if gen != self._est_gen or self.status == "running" or not self.is_attached:
            return
        self._est_done = gen
        launch, self._launch_gen = self._launch_gen == gen, None
        if est.spec is not None:
            self._tasks_filled = True
            with self.prevent(Input.Changed):  # the plan already used it: no second plan
                self.query_one("#lf-tasks", Input).value = est.spec
        if est.settings_from is not None:
            self._settings_from = est.settings_from
            with self.prevent(Input.Changed):  # planned with these values already
                for name, value in est.fills.items():
                    self.query_one(f"#lf-{name}", Input).value = value
        self._no_set, self._task_mismatch = est.no_set, est.mismatch
        self._refused = est.refused
        self._show_estimate(est)
        if launch:
            if self._plan is None:
                self.notify("the rerun can't start: see the refusal", severity="error")
            elif self._refused:
                self._confirm_launch(gen, self._plan)
            else:
                self._start(self._plan, resume=None)

    def _confirm_launch(self, gen: int, plan: Any) -> None:
        """Ask before running a rerun the gate will refuse to compare with its baseline: it
        may still be wanted (a run on its own), but it costs the whole run to find out."""
        from .gate_modals import ConfirmModal

        n = len(plan.task_ids) * plan.trials
        question = (f"The gate will refuse to compare this rerun with baseline run "
                    f"{self.form().baseline_run}: its settings differ "
                    f"({'; '.join(self._refused)}). Only the candidate and the agent model may "
                    f"differ. Launch {n:,} episodes anyway?")

        def answered(yes: bool | None) -> None:
            # the form may have changed meanwhile: only the plan that was asked about runs
            if yes and gen == self._est_gen and self._plan is plan and self.status is None:
                self._start(plan, resume=None)

        self.app.push_screen(ConfirmModal(question, yes="launch anyway"), answered)

    def _show_estimate(self, est: Estimate) -> None:
        est_line = self.query_one("#lf-estimate", Static)
        if est.plan is None:
            self._say("#lf-refusal", plain(f"refused: {est.error}", width=1000))
            est_line.update("")
            self._say("#lf-warning", "")
            return
        plan = self._plan = est.plan
        steps, leaked = est.steps, est.leaked
        self._say("#lf-refusal", "")
        n = len(plan.task_ids) * plan.trials
        est_line.update(Text.assemble(
            f"cost estimate: {len(plan.task_ids)} tasks × {plan.trials} trials = ",
            (f"{n} episodes", "bold"), f" × ~{steps:.0f} steps ≈ ",
            (f"{n * steps:,.0f} steps", "bold"), " · agent ", plain(plan.agent.label, width=80),
            ", user ", plain(plan.user.label, width=80)))
        # a warning can quote task ids: one line each
        self._say("#lf-warning", Text("\n").join(
            plain(w, width=1000)
            for w in estimate_warnings(plan, leaked, self._task_mismatch, self._no_set,
                                       self._refused)))

    def _say(self, selector: str, text: "str | Text") -> None:
        """Update a message line; an empty one takes no room."""
        w = self.query_one(selector, Static)
        w.update(text)
        w.display = bool(str(text))

    def action_register_set(self) -> None:
        """Register the planned tasks as a heldout (or transfer) set, as `t2e heldout
        register` does: frozen, named after the domain and the task spec."""
        from store import StoreError

        plan = self._plan
        if self.estimating:
            self.notify("still planning these tasks: try again in a moment", severity="warning")
            return
        if plan is None or plan.role not in ("heldout", "transfer"):
            self.notify("choose role heldout or transfer first: only those claims need a "
                        "registered set", severity="warning")
            return
        if not self._no_set:
            self.notify("these tasks already are a registered set")
            return
        try:
            s = register_planned_set(self.app.store_path, self.form(), plan,
                                     author=os.environ.get("USER"))
        except StoreError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"registered {plan.role} set {s['name']} ({len(s['task_ids'])} tasks, "
                    f"{s['sha256'][:10]}): it judges candidates saved from now on")
        self.refresh_estimate()
