"""What the tasks screen draws and picks, apart from the screen: a row's cells (built only
for the lines on screen), the columns' widths measured on the data, the order and the filter
of the rows, and which trials Enter compares. No widgets here."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import NamedTuple

from ... import data_access as da
from ... import run_queries as rq
from ...trial_pair import first_trial, pick_pair  # noqa: F401 (the screen's, and shared)

FILTERS = ("all", "regressed", "fixed", "failed", "flaky")
SORTS = ("task", "transition", "hints")
TRANSITION_ORDER = {"regressed": 0, "worsened": 1, "fixed": 2, "improved": 3, "flaky": 4,
                    "both fail": 5, "fail": 5, "both pass": 6, "pass": 6}
TRANSITION_STYLE = {"regressed": "regressed", "worsened": "fail", "fixed": "fixed",
                    "improved": "pass", "flaky": "warn", "both fail": "dim", "fail": "fail",
                    "both pass": "dim", "pass": "pass", "running": "running",
                    "unscored": "dim"}
_IN_FILTER = {"regressed": ("regressed", "worsened"), "fixed": ("fixed", "improved"),
              "flaky": ("flaky",)}


def trials_cell(trials: list[da.Trial]) -> list[tuple[str, str]]:
    """✓/✗ per trial; … running; ∅ infrastructure error (excluded from figures); ? no
    reward."""
    return raw_trials_cell([(None, t.episode_id, t.trial, t.status, t.reward, t.success,
                             t.termination) for t in trials])


def raw_trials_cell(raw: list[tuple]) -> list[tuple[str, str]]:
    """`trials_cell` of episode tuples (`task_rows._EPISODES`: status at 3, success at 5,
    termination at 6), read without making `Trial`s."""
    out = []
    for r in raw:
        status, success, term = r[3], r[5], r[6]
        if status == "running":
            out.append(("…", "running"))
        elif term == da.INFRA:
            out.append(("∅", "dim"))
        elif success:
            out.append(("✓", "pass"))
        elif success is None and status == "done":
            out.append(("?", "dim"))  # no reward (foreign traces without an outcome)
        else:
            out.append(("✗", "fail"))
    return out or [("–", "dim")]


def merge_hints(hints: list[str]) -> list[str]:
    """`B:x` and `C:x` shown once as `B+C:x`, so a narrow hints column says more (one run's
    hints have no side: task_rows._hint)."""
    sides: dict[str, list[str]] = {}
    for h in hints:
        side, sep, text = h.partition(":")
        if not sep or side not in ("B", "C"):
            side, text = "", h
        sides.setdefault(text, [])
        if side and side not in sides[text]:
            sides[text].append(side)
    return [f"{'+'.join(sorted(s))}:{t}" if s else t for t, s in sides.items()]


def terminations_text(terms: frozenset[str], memo: dict = {}) -> str:  # noqa: B006
    """`max steps, user stop`: a row's reasons, sorted (memoised: a pair has few sets)."""
    text = memo.get(terms)
    if text is None:
        text = memo[terms] = ", ".join(t.replace("_", " ") for t in sorted(terms))
    return text


def class_cell(names: list[str]) -> list[tuple[str, str]] | str:
    """The first failure class of a row, `+N` for the others."""
    if not names:
        return ""
    return [(names[0] + (f" +{len(names) - 1}" if len(names) > 1 else ""), "fail")]


def row_cells(r: da.TaskRow, pair: bool, wide: bool, classes: list[str]) -> list:
    """A row's cells in the order of the screen's columns."""
    term = terminations_text(r.terms)
    hints = [(h + "  ", "warn") for h in merge_hints(r.hints)] if r.hints else []
    trans = [(r.transition, TRANSITION_STYLE.get(r.transition, ""))]
    if pair:
        cells = [r.task_id, raw_trials_cell(r.raw_base), raw_trials_cell(r.raw_cand), trans,
                 term, hints]
    else:
        cells = [r.task_id, raw_trials_cell(r.raw_base), trans, term, hints]
    if wide:
        cells.insert(-1, class_cell(classes))
    return cells


def class_width(row_classes: dict[str, list[str]]) -> int:
    """The longest class cell."""
    return max((len(c[0][0]) for c in map(class_cell, row_classes.values()) if c), default=0)


def summary(rows: list[da.TaskRow]) -> str:
    """`regressed 3, fixed 5, …`: tasks per transition, in the transition order."""
    counts = Counter(map(_transition, rows))
    return ", ".join(f"{k} {v}" for k, v in sorted(
        counts.items(), key=lambda kv: TRANSITION_ORDER.get(kv[0], 9)))


def longest(rows: list[da.TaskRow], pair: bool, wide: bool,
            row_classes: dict[str, list[str]]) -> list[int]:
    """The longest cell of each fitted column over every row (hints, the flexible column,
    count 0), measured on the data: the same widths `LineTable.fit_columns` finds on built
    cells, without building 25,000 rows of them (the walks run in C: map, max, set)."""
    tid = max(map(len, map(_task_id, rows)), default=0)
    nb = max(map(len, map(_raw_base, rows)), default=0) or 1   # "–" for none
    nc = max(map(len, map(_raw_cand, rows)), default=0) or 1
    trans = max(map(len, set(map(_transition, rows))), default=0)
    term = max(map(len, map(terminations_text, set(map(_terms, rows)))), default=0)
    out = [tid, nb, nc, trans, term, 0] if pair else [tid, nb, trans, term, 0]
    if wide:
        out.insert(-1, class_width(row_classes))
    return out


def reasons(rows: list[da.TaskRow]) -> list[str]:
    """Every termination reason of the rows, sorted: what the `t` key cycles through (one
    set per distinct set of reasons, so the walk is over a few sets, not 25,000 rows)."""
    return sorted(frozenset().union(*set(map(_terms, rows))))


_task_id, _raw_base, _raw_cand, _transition, _terms = map(
    attrgetter, ("task_id", "raw_base", "raw_cand", "transition", "terms"))


def sorted_rows(rows: list[da.TaskRow], sort: str) -> list[da.TaskRow]:
    """`rows` (in task order) by `sort`; Python's sort is stable, so equals stay in task
    order without a compound key."""
    if sort == "transition":
        order = TRANSITION_ORDER
        return sorted(rows, key=lambda r: order.get(r.transition, 9))
    if sort == "hints":
        return sorted(rows, key=lambda r: -len(r.hints))
    return rows


def filtered(rows: list[da.TaskRow], what: str, pair: bool, termination: str | None,
             class_filter: str | None, row_classes: dict[str, list[str]]) -> list[da.TaskRow]:
    """The rows a filter keeps (order kept). "failed" = failed on the candidate side (the
    run one is judging); one run alone: failed in it."""
    if what in _IN_FILTER:
        names = _IN_FILTER[what]
        rows = [r for r in rows if r.transition in names]
    elif what == "failed":
        rows = [r for r in rows if r.cand_failed] if pair else [r for r in rows if r.base_failed]
    if termination:
        rows = [r for r in rows if termination in r.terms]
    if class_filter:
        rows = [r for r in rows if class_filter in row_classes.get(r.task_id, ())]
    return rows


def row_classes(rows: list[da.TaskRow], pair: bool, classes: dict[int, list[str]]
                ) -> dict[str, list[str]]:
    """Task id -> classes of its failed trials, the candidate's first (tasks with none are
    left out)."""
    out: dict[str, list[str]] = {}
    if not classes:
        return out
    for r in rows:
        names: list[str] = []
        for t in (r.raw_cand if pair else []) + r.raw_base:
            for name in classes.get(t[1], ()):
                if name not in names:
                    names.append(name)
        if names:
            out[r.task_id] = names
    return out


class RunName(NamedTuple):
    """What a title says of a run: its name (None when the run is not found), id, whether
    its agent is the scripted stand-in, and whether its traces are foreign (no gold)."""

    name: str | None
    run_id: str
    scripted: bool = False
    foreign: bool = False


def run_label(conn, run_id: str | None) -> RunName | None:
    """A run's name, id and stand-in mark for the title (a worker's read)."""
    if run_id is None:
        return None
    row = rq.run_label_row(conn, run_id)
    if row is None:
        return RunName(None, run_id)
    return RunName(row[0], run_id, (row[1] or "").lower().startswith(da.SCRIPTED),
                   row[2] == "foreign")
