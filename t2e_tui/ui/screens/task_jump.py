"""`g` on the tasks screen: a picker that goes to a task and opens it.

Textual's fuzzy matcher alone ranks `address-13` and `crossorder-13` alike for "13"; this
provider ranks an exact id first, then ids that end in what was typed, then ids that contain
it, then fuzzy matches, and among equals the tasks whose outcome changed between the runs
(regressed, fixed, flaky: where one looks first)."""

from __future__ import annotations

from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider

CHANGED = {"regressed": 0.6, "worsened": 0.5, "fixed": 0.6, "improved": 0.5, "flaky": 0.4}


def rank(task_id: str, transition: str, query: str, fuzzy: float) -> float:
    """A task's score for `query` (0 = no match)."""
    q = query.strip().lower()
    q = q[5:].strip() if q.startswith("task ") else q  # "task 18" as the titles read
    tid = task_id.lower()
    if not q:
        return 1.0
    if tid == q:
        base = 4.0
    elif tid.endswith(q) and not tid[-len(q) - 1:-len(q)].isdigit():
        base = 3.0  # "13" ends "crossorder-13", not "113"
    elif q in tid:
        base = 2.0
    elif fuzzy > 0:
        base = min(fuzzy, 1.0)  # Textual's fuzzy score is not bounded: below any id match
    else:
        return 0.0
    return base + CHANGED.get(transition, 0.0)


class TaskJump(Provider):
    """Tasks of the screen below (its `all_rows`); choosing one calls its `go(task_id)`."""

    def _rows(self):
        return getattr(self.screen, "all_rows", [])

    async def discover(self) -> Hits:
        for r in sorted(self._rows(), key=lambda r: -CHANGED.get(r.transition, 0.0)):
            yield DiscoveryHit(f"task {r.task_id}", self._go(r.task_id), help=r.transition)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for r in self._rows():
            title = f"task {r.task_id}"
            score = rank(r.task_id, r.transition, query, matcher.match(title))
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._go(r.task_id),
                          help=f"{r.transition} {' '.join(r.hints)}".strip())

    def _go(self, task_id: str):
        screen = self.screen
        return lambda: screen.go_to_task(task_id)


def open_picker(app) -> None:
    app.push_screen(CommandPalette(providers=[TaskJump],
                                   placeholder="Go to task (opens it)… type its id"))
