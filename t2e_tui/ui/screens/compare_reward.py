"""The compare screen's reward lines, one per side: `reward_line` (wide: label, reward,
termination, review flags, each reward component) and `reward_compact` (narrow: the
breakdown first, so a cut never takes it)."""

from __future__ import annotations

from rich.text import Text

from store.termination import episode_success, reward_text, termination_text

from ... import data_access as da
from ...align_print import reward_components
from ...reviews import flags as review_flags
from ...textsafe import one_line


def reward_line(side: str, ep: da.Episode) -> Text:
    """`A label  reward 1.0 · DB 1 · COMM 1 · NL*judge – · ACTION 2/3` (diag = not gating);
    NL only when the task has NL assertions or the episode was judged on them."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{side} ", style="bold")
    t.append(one_line(ep.label, 40) + " ")
    if ep.scripted:
        t.append(" (scripted stand-in)", style="yellow italic")
    term = ep.meta.get("termination_reason")
    ok = episode_success(ep.meta.get("success"), term)
    t.append(f"  reward {reward_text(ep.meta.get('reward'), term, missing='–')}",
             style="bold green" if ok else "bold red" if ok is not None else "")
    # (store/termination.py: "not recorded" where the trace gave no reason, as the CLI says)
    t.append(f" ({termination_text(ep.meta.get('termination_reason'), ep.meta.get('status'))})",
             style="dim")
    for flag in review_flags(ep.meta):  # tau2 1.x reviews: the failure may not be the agent's
        t.append(f" [{flag}]", style="bold magenta")
    for c in reward_components(ep.meta, ep.checks, ep.task):
        if not c["relevant"]:
            continue  # e.g. NL on a task without NL assertions: nothing to report
        v = c["value"]
        name = {"COMMUNICATE": "COMM", "NL_ASSERTION": "NL"}.get(c["name"], c["name"])
        if c["judge_dependent"]:
            name += "*judge"
        if not c["gating"]:
            name += "(diag)"
        val = "–" if v is None else f"{v:g}"
        style = "dim" if not c["gating"] else ("green" if v == 1 else "red" if v is not None
                                               else "")
        t.append(" · ", style="dim")
        t.append(f"{name} {val}", style=style)
        if c["detail"] and c["name"] == "ACTION":
            t.append(f" {c['detail']}", style="dim")
    return t


def _mark(v) -> str:
    """A component value in one or two cells: ✓ (1), ✗ (0), – (unknown), else the number."""
    return "–" if v is None else "✓" if v == 1 else "✗" if v == 0 else f" {v:g}"


def reward_compact(side: str, ep: da.Episode) -> Text:
    """The header line for narrow screens, breakdown first so it is never the part cut:
    `A r=0 DB✗ COMM✓ ACT 1/2 writes 0/1 diag · user_stop · label`. NL* = judge-dependent,
    `diag` (dimmed) = not in the reward basis; the label is also on the lane's own header, and
    the screen marks scripted stand-in sides on the next line."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{side} ", style="bold")
    term = ep.meta.get("termination_reason")
    ok = episode_success(ep.meta.get("success"), term)
    t.append(f"r={reward_text(ep.meta.get('reward'), term, missing='–')}",
             style="bold green" if ok else "bold red" if ok is not None else "")
    actions = [c for c in ep.checks if c.get("kind") == "action" and c.get("met") is not None]
    writes = [c for c in actions if c.get("tool_kind") == "write"]
    for c in reward_components(ep.meta, ep.checks, ep.task):
        if not c["relevant"]:
            continue
        v = c["value"]
        name = {"COMMUNICATE": "COMM", "NL_ASSERTION": "NL", "ACTION": "ACT"}.get(c["name"],
                                                                                  c["name"])
        if c["judge_dependent"]:
            name += "*"
        text = name + _mark(v) if v is not None or c["name"] != "ACTION" else name
        if c["name"] == "ACTION" and actions:
            text += (f" {sum(1 for a in actions if a['met'])}/{len(actions)}"
                     f" writes {sum(1 for a in writes if a['met'])}/{len(writes)}")
        if not c["gating"]:
            text += " diag"
        style = "dim" if not c["gating"] else ("green" if v == 1 else "red" if v is not None
                                               else "")
        t.append(" ")
        t.append(text, style=style)
    for flag in review_flags(ep.meta):  # before the termination: a cut must not hide it
        t.append(f" [{flag}]", style="bold magenta")
    t.append(f" · {termination_text(ep.meta.get('termination_reason'), ep.meta.get('status'))}",
             style="dim")
    t.append(" · " + one_line(ep.label, 40))  # the stand-in mark is on the line below
    return t
