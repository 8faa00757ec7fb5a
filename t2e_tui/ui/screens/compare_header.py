"""The compare screen's header, apart to keep compare.py small: one line per side (the reward
by component, wide or compact), then the differences, why each side failed, trials, the
stand-in note and the legend, fitted to the width by priority (FitTitle); a task of a
registered heldout set leads it with the warning.
"""

from __future__ import annotations

from dataclasses import replace

from rich.cells import cell_len

from ...textsafe import one_line
from ..widgets.fittitle import FitTitle, Part
from ..widgets.textline import watched_part
from .compare_nav import divergence_parts
from .compare_reward import reward_compact, reward_line


class CompareHeader:
    """The header of CompareScreen (a mixin: it reads the screen's episodes, alignment,
    briefs, trials and target step)."""

    def _title(self) -> None:
        """The header: one line per side (the compact form below NARROW columns, so the reward
        breakdown stays in view at 80), then the differences, why each side failed, trials
        and the legend, fitted to the width by priority (FitTitle): the legend goes first,
        then the n/p hint (both are in F1 and the key bar), the trial key hints, then the
        failure texts are cut, and last where the first difference is."""
        a, b, al = self.a, self.b, self.alignment
        line = reward_compact if self.narrow else reward_line
        first = [Part(line("A", a))]
        if b is not None:
            second = [Part(line("B", b))]
        else:
            second = [Part("B gold actions of task " + one_line(a.task_id, 20)
                           + (" (task definition not stored)" if a.task is None else ""),
                           "bold", give=1, cut="end", least=24)]
        third = divergence_parts(al)
        briefs = {side: one_line(text, 80) for side, text in
                  getattr(self, "failure_briefs", {}).items() if text}
        if len(briefs) == 2 and briefs["A"] == briefs["B"]:
            briefs = {"A+B": briefs["A"]}   # said once when both failed alike
        opened = self._opened_at(briefs)
        for side, text in briefs.items():   # why it failed and where (t2e_tui.analysis; l)
            verb = "fail" if "+" in side else "fails"
            if side == opened:
                # the cursor opened on this failure (Enter on the failures screen): the line
                # starts with it, its step kept at any width; where the differences start
                # follows (n/p), cut before the failure's classes are
                head = f"{side} {verb} at {text.split(' · ', 1)[0]}"
                third = [Part(f"{head} · {text.split(' · ', 1)[1]}", "red", give=1, cut="end",
                              least=cell_len(head) + 4), Part(" · ", "dim")] + [
                    replace(p, give=2) if p.give == 1 else p for p in third]
                continue
            # `step 16 · missing_write`: short of room, the classes alone (the step is
            # usually the first difference's, named before)
            classes = text.split(" · ", 1)[1] if text.startswith("step ") else text
            third.append(Part((f" · {side} {verb} at {text}", f" · {side}: {classes}"), "red",
                              give=3, cut="end", least=10))
        for side, text in getattr(self, "unscored_briefs", {}).items():
            # no reward, so no failure: what the gold-free classes found, said as such
            third.append(Part(f" · {side} {one_line(text, 80)}", "yellow", give=3, cut="end",
                              least=10))
        scripted = "+".join(side for side, ep in (("A", a), ("B", b)) if ep and ep.scripted)
        if self.narrow and scripted:
            third.append(Part((f" · {scripted} scripted stand-in", f" · {scripted} stand-in"),
                              "yellow italic", give=5))
        for side, key in (("a", "1"), ("b", "2")):
            trials = getattr(self, "trials", {}).get(side) or []
            if len(trials) > 1:
                eid = self.episode_a if side == "a" else self.episode_b
                pos = next((i for i, t in enumerate(trials) if t[0] == eid), 0)
                said = f" · {side.upper()} trial {pos + 1}/{len(trials)}"
                third.append(Part((said + f" ({key}: next)", said), "bold", give=4))
        third.append(Part((" · ~ messages part · ≠ args differ · ◂ only A · ▸ only B"
                           " · ! error differs · ★ gold", ""), "dim", give=7))
        watched = getattr(self, "watched", None)
        if watched:
            # a task of a registered heldout set: the warning leads the line, and the parts
            # that tell least (give >= 3: classes, notes, hints, legend) give way whole
            # rather than stay as stubs, so where the differences start still shows at 80
            # (F1 lists the line whole)
            third = [watched_part(watched, "task"), *(
                replace(p, forms=(*p.forms, "")) if p.give >= 3 and isinstance(p.forms, tuple)
                else replace(p, forms=(p.forms, "")) if p.give >= 3 else p for p in third)]
        self.query_one("#cmp-title", FitTitle).set_lines(first, second, third)

    def _opened_at(self, briefs: dict[str, str]) -> str | None:
        """The side (a `briefs` key) whose failure step the screen was opened at, if any."""
        if self.target_step is None:
            return None
        side = "B" if self.target_episode is not None and \
            self.target_episode == self.episode_b else "A"
        return next((k for k, text in briefs.items()
                     if side in k and text.startswith(f"step {self.target_step} · ")), None)

