"""`g` on the tasks screen: a picker that goes to a task and opens it.

Textual's fuzzy matcher alone ranks `address-13` and `crossorder-13` alike for "13"; this
provider ranks an exact id first, then ids that end in what was typed, then ids that contain
it, then fuzzy matches, and among equals the tasks whose outcome changed between the runs
(regressed, fixed, flaky: where one looks first)."""

from __future__ import annotations

import heapq

from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider

from ..plain import highlight, plain, plain_markup

CHANGED = {"regressed": 0.6, "worsened": 0.5, "fixed": 0.6, "improved": 0.5, "flaky": 0.4}
# Why bounds: at 25,000 tasks the palette took ~6 s to list every task and ~5 s per typed
# query (it sorts and lists every hit it is given; Textual's fuzzy matcher costs ~0.1 ms a
# title). It gets the best LIMIT hits; ids are matched as substrings first (cheap), fuzzily
# only on up to FUZZY_ROWS tasks and only when the substrings found fewer than LIMIT.
LIMIT = 100
FUZZY_ROWS = 5_000


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
        # the changed tasks first, in the screen's order (a stable pick of the first LIMIT)
        rows = heapq.nsmallest(LIMIT, enumerate(self._rows()),
                               key=lambda ir: (-CHANGED.get(ir[1].transition, 0.0), ir[0]))
        for _, r in rows:
            yield DiscoveryHit(plain(f"task {r.task_id}"), self._go(r.task_id),
                               help=plain_markup(r.transition))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        rows = self._rows()
        scored = [(score, i) for i, r in enumerate(rows)
                  if (score := rank(r.task_id, r.transition, query, 0.0)) > 0]
        if len(scored) < LIMIT and len(rows) <= FUZZY_ROWS:
            have = {i for _, i in scored}
            scored += [(score, i) for i, r in enumerate(rows) if i not in have and (
                score := rank(r.task_id, r.transition, query,
                              matcher.match(f"task {r.task_id}"))) > 0]
        for score, i in heapq.nlargest(LIMIT, scored, key=lambda si: (si[0], -si[1])):
            r = rows[i]
            # the id as typed (Matcher.highlight and the help line read markup)
            yield Hit(score, highlight(matcher, f"task {r.task_id}"), self._go(r.task_id),
                      help=plain_markup(f"{r.transition} {' '.join(r.hints)}"))

    def _go(self, task_id: str):
        screen = self.screen
        return lambda: screen.go_to_task(task_id)


def open_picker(app) -> None:
    app.push_screen(CommandPalette(providers=[TaskJump],
                                   placeholder="Go to task (opens it)… type its id"))
