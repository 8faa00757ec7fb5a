"""`t2e models`: the scripted agent's phrase table (which candidate phrases switch which behaviour).

The scripted agent is a deterministic stand-in; the table says so on every output.
"""

from __future__ import annotations

import click


def _rows(candidate_text: str | None) -> list[dict]:
    from .engine.scripted_rules import PHRASE_TABLE, matched_phrases

    hits = matched_phrases(candidate_text) if candidate_text is not None else None
    rows = []
    for row in PHRASE_TABLE:
        out = {k: row[k] for k in ("behaviour", "default", "phrases", "example", "effect",
                                   "helps_class", "hurts")}
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
        from .cli import emit
        from .engine.scripted_rules import DISCLAIMER

        text = None
        if candidate_path is not None:
            from .candidates import CandidateError, load as load_candidate
            from .errors import T2EError

            try:
                text = load_candidate(candidate_path).body
            except CandidateError as exc:
                raise T2EError(str(exc)) from None
        rows = _rows(text)
        if as_json:
            emit({"backend": "scripted", "note": DISCLAIMER, "candidate": candidate_path,
                  "behaviours": rows}, True)
            return
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="scripted agent: behaviours and rule phrases", show_lines=True,
                      caption=DISCLAIMER)
        # fold rather than truncate: a regex cut short with "..." would mislead
        table.add_column("behaviour", style="bold", overflow="fold")
        table.add_column("default")
        if text is not None:
            table.add_column("this candidate")
        table.add_column("phrases (regex, case-insensitive)", overflow="fold")
        table.add_column("effect (example rule line)")
        table.add_column("helps / hurts", overflow="fold")
        for r in rows:
            cells = [r["behaviour"], "on" if r["default"] else "off"]
            if text is not None:
                cells.append("[green]on[/]" if r["on"] else "off")
            effect = f"{escape(r['effect'])}\n[dim]e.g. {escape(r['example'])}[/]"
            cells += ["\n".join("\u2022 " + escape(p) for p in r["phrases"]), effect,
                      escape(f"helps {r['helps_class']}" if r["helps_class"] else f"hurts {r['hurts']}")]
            table.add_row(*cells)
        Console().print(table)
