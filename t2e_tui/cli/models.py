"""`t2e models`: the scripted agent's phrase table (which candidate phrases switch which behaviour).

The scripted agent is a deterministic stand-in; the table says so on every output.
"""

from __future__ import annotations

import shutil
import textwrap

import click


def _rows(candidate_text: str | None) -> list[dict]:
    from ..engine.scripted_airline import AIRLINE_EFFECTS
    from ..engine.scripted_rules import PHRASE_TABLE, matched_phrases

    hits = matched_phrases(candidate_text) if candidate_text is not None else None
    rows = []
    for row in PHRASE_TABLE:
        out = {k: row[k] for k in ("behaviour", "default", "phrases", "example", "effect",
                                   "helps_class", "hurts")}
        out["airline"] = AIRLINE_EFFECTS.get(row["behaviour"])
        if hits is not None:
            out["on"] = row["default"] or row["behaviour"] in hits
            out["matched"] = hits.get(row["behaviour"], [])
        rows.append(out)
    return rows


def register(cli: click.Group) -> None:
    """Add `models` to the root group."""

    @cli.command("models")
    @click.option("--candidate", "candidate_path", type=click.Path(dir_okay=False), default=None,
                  help="Also show which behaviours this candidate file switches on.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def models(candidate_path: str | None, as_json: bool) -> None:
        """Print the scripted agent's phrase table.

        The scripted agent is a deterministic stand-in: rule phrases in a candidate's
        instructions (case-insensitive regexes; the policy never counts) switch its behaviours.
        Its results prove nothing about models."""
        from ..engine.scripted_rules import DISCLAIMER
        from .common import emit

        text = None
        if candidate_path is not None:
            from ..candidates import CandidateError
            from ..candidates import load as load_candidate
            from ..errors import T2EError

            try:
                text = load_candidate(candidate_path).body
            except CandidateError as exc:
                raise T2EError(str(exc)) from None
        rows = _rows(text)
        if as_json:
            emit({"backend": "scripted", "note": DISCLAIMER, "candidate": candidate_path,
                  "behaviours": rows}, True)
            return
        click.echo(render_table(rows, with_candidate=text is not None,
                                width=shutil.get_terminal_size((100, 24)).columns), nl=False)


BULLET, MATCHED, CONTINUED = "\u2022", "\u2713", "\u21aa"


def _chunks(text: str, width: int) -> list[str]:
    """Cut `text` every `width` characters: a regex wrapped at its spaces would lose them."""
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


def render_table(rows: list[dict], *, with_candidate: bool, width: int) -> str:
    """The human phrase table as plain text for a terminal `width` columns wide (at least 60).

    One block per behaviour rather than a grid: regexes are long, and in a grid column at
    80 columns they broke every few characters. Each block: a header line (behaviour,
    default, this candidate, helps/hurts), the effect and the example rule line wrapped
    under it, then one line per phrase, hard-folded (never at spaces, which matter in a
    regex) with continuation lines marked."""
    from ..engine.scripted_rules import DISCLAIMER

    width = max(60, min(width, 160))
    out = ["scripted agent: behaviours and rule phrases (regexes, case-insensitive)",
           *textwrap.wrap(DISCLAIMER, width)]
    if with_candidate:
        out.append(f"{MATCHED} marks a phrase the candidate matches; {CONTINUED} continues "
                   "a long phrase")
    out.append("")
    for r in rows:
        head = f"{r['behaviour']}  default {'on' if r['default'] else 'off'}"
        if with_candidate:
            head += f"  this candidate {'ON' if r['on'] else 'off'}"
        tag = f"helps {r['helps_class']}" if r["helps_class"] else f"hurts {r['hurts']}"
        if len(head) + 2 + len(tag) <= width:
            out.append(f"{head}  {tag}")
        else:
            out += [head, "  " + tag]
        out += textwrap.wrap(r["effect"], width, initial_indent="  ", subsequent_indent="  ")
        if r.get("airline"):
            out += textwrap.wrap(r["airline"], width, initial_indent="  ", subsequent_indent="  ")
        out += textwrap.wrap(f"e.g. {r['example']}", width, initial_indent="  ",
                             subsequent_indent="       ")
        matched = set(r.get("matched") or ())
        for phrase in r["phrases"]:
            first, *rest = _chunks(phrase, width - 6)
            out.append(f"    {MATCHED if phrase in matched else BULLET} {first}")
            out += [f"    {CONTINUED} {c}" for c in rest]
        out.append("")
    return "\n".join(out)
