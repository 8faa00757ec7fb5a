"""The human `t2e scoreboard`: its one-line-per-row table, its cells and the notes below it
(mapped rewards, overrides, downgraded roles, transfer rejections, stand-in rows). Moved out of cli/gate.py,
which re-exports these names."""

from __future__ import annotations

from ..standin import NOTE as STAND_IN_NOTE
from ..textsafe import one_line
from .common import console as cli_console
from .common import one_line_table


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


# Columns of the human scoreboard: (key, header, width cap, justify). A row is always one
# line: narrow terminals drop the columns in _DROP_ORDER first; the verdict, the human decision,
# the runs, reward, delta and p survive to ~60 columns. Everything is in --tsv / --json whole.
_SB_COLUMNS = (("row", "row", 5, "right"), ("time", "time UTC", 11, "left"),
               ("gate", "gate", 12, "left"), ("human", "human", 8, "left"),
               ("runs", "candidate vs baseline", 70, "left"), ("hash", "cand", 8, "left"),
               ("role", "role", 14, "left"), ("tasks", "tasks", 5, "right"),
               ("reward", "reward", 11, "left"), ("delta", "Δ", 6, "right"),
               ("ci", "CI95", 13, "left"), ("p", "p", 6, "right"),
               ("regr", "regr", 4, "right"), ("regressions", "regressed tasks", 40, "left"))
_DROP_ORDER = ("regressions", "time", "ci", "hash", "tasks", "regr", "role")
_RUNS_MIN = 20


def p_cell(v: float | None) -> str:
    """A p value in the scoreboard's 6-cell column: 3 decimals, and below 0.001 a power of
    ten (`6e-5`), never a `0.000` that reads as zero."""
    if v is None:
        return "n/a"
    if 0 < v < 0.0005:
        mant, exp = f"{v:.0e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{v:.3f}"


def _sb_cells(r: dict) -> dict[str, str]:
    # the candidate first: baselines repeat from row to row, so a cut keeps what differs
    runs = (f"{one_line(r['candidate_name'] or r['candidate_run'], 60)} vs "
            f"{one_line(r['baseline_name'] or r['baseline_run'], 60)}")
    if r["cites_deleted_run"]:
        runs += " (deleted run)"
    role = {"development": "dev"}.get(r["evidence_role"], r["evidence_role"] or "-")
    role += f" leaked:{len(r['leaked_tasks'])}" if r["leaked_tasks"] else ""
    role += " ∩" if r["intersected"] else ""  # gated on the tasks both runs share only
    # the decision in force; * = an override was recorded on the row (a note says which)
    human = (r["human_decision"] or "-") + ("*" if r["overridden"] else "")
    ci = ("-" if r["ci_low"] is None else f"[{r['ci_low']:+.2f},{r['ci_high']:+.2f}]")
    return {"row": str(r["row"]), "time": (r["time"] or "")[5:16].replace("T", " "),
            "gate": r["decision"], "human": human, "runs": runs,
            "hash": (r["candidate_hash"] or "-")[:8], "role": role, "tasks": str(r["tasks"]),
            "reward": f"{_fmt(r['reward_before'], 2)}→{_fmt(r['reward_after'], 2)}",
            "delta": "n/a" if r["reward_delta"] is None else f"{r['reward_delta']:+.2f}",
            "ci": ci, "p": p_cell(r["p_value"]), "regr": str(len(r["regressions"])),
            "regressions": ",".join(r["regressions"]) or "-"}


def scoreboard_table(rows: list[dict], width: int):
    """The human `t2e scoreboard` table for a terminal `width` columns wide: one line per
    gate decision. Cells never wrap (they end in …); low-value columns go first."""
    return one_line_table(_SB_COLUMNS, [_sb_cells(r) for r in rows], width,
                          drop_order=_DROP_ORDER, flex="runs", flex_min=_RUNS_MIN)


def _rich_scoreboard(rows: list[dict]) -> None:
    from rich.text import Text

    console = cli_console()
    if not rows:
        console.print("no gate decisions yet (run `t2e gate BASELINE CANDIDATE`)")
        return
    console.print(Text(f"scoreboard ({len(rows)}) · supported = passes on evidence that is not "
                       "clean heldout (not a promote) · * override (notes) · ∩ shared tasks only "
                       "· all fields: --json"), no_wrap=True,
                  overflow="ellipsis", crop=True)
    console.print(scoreboard_table(rows, console.width))
    for r in rows:
        for note in reward_notes(r) + override_notes(r) + role_notes(r) + transfer_notes(r):
            console.print(Text(note))
    stand_in = [str(r["row"]) for r in rows if r.get("stand_in")]
    if stand_in:  # named by row, below the table: no column to drop or cut at any width
        which = "every row" if len(stand_in) == len(rows) else "row " + ", ".join(stand_in)
        console.print(Text(f"{which}: {STAND_IN_NOTE}"))


def reward_notes(r: dict) -> list[str]:
    """A note on a row whose rewards were mapped from an outcome attribute (`--reward-attr`):
    the figures in its reward, Δ and p columns measure that attribute (both sides named
    together when they agree)."""
    mapped = r.get("reward_from")
    if not mapped or not isinstance(mapped, dict):
        return []
    said = {one_line(str(side), 20): ", ".join(one_line(str(n), 80) for n in names)
            if isinstance(names, list) else one_line(str(names), 80)
            for side, names in mapped.items()}
    if len(said) == 2 and len(set(said.values())) == 1:
        return [f"row {r['row']}: rewards mapped from {_source(next(iter(said.values())))}"]
    return [f"row {r['row']}: " + "; ".join(
        f"{side} rewards mapped from {_source(names)}" for side, names in said.items())]


def _source(names: str) -> str:
    """Where mapped rewards came from: a Harbor job's verifier reward is mapped at its import
    (the row does not say whether a --reward-attr mapped it again), anything else by
    `--reward-attr`."""
    if names == "verifier.reward":
        return "Harbor's verifier reward (verifier.reward: at import, or --reward-attr)"
    return f"outcome attribute {names} (--reward-attr)"


def role_notes(r: dict) -> list[str]:
    """One note per row whose claimed evidence role was downgraded, saying why."""
    claimed = r.get("claimed_role")
    if not claimed or claimed == r["evidence_role"] or not r.get("role_reasons"):
        return []
    why = "; ".join(r["role_reasons"])
    return [f"row {r['row']}: evidence {r['evidence_role']}, claimed {claimed}: "
            f"{one_line(why, 400)}"]


def transfer_notes(r: dict) -> list[str]:
    """A note on rows of a candidate rejected on transfer, told from that row."""
    from ..gate.transfer import REJECTED

    if REJECTED not in (r.get("transfer") or ""):
        return []
    return [f"row {r['row']}: {one_line(r['transfer'], 300)}"]


def override_notes(r: dict) -> list[str]:
    """One note per override on a row, saying whether it is still in force."""
    out = []
    hist = r["human_history"]
    for i, h in enumerate(hist):
        if not h["override"]:
            continue
        later = hist[i + 1:]
        state = ("in force" if not later else
                 f"since replaced by {later[-1]['decision']}"
                 + (f" ({later[-1]['author']})" if later[-1].get("author") else ""))
        who = f" by {h['author']}" if h.get("author") else ""
        out.append(f"* row {r['row']}: OVERRIDE {h['decision']} against {r['decision']}{who}, "
                   f"{state}; reason: {one_line(h['reason'], 300)}")
    return out
