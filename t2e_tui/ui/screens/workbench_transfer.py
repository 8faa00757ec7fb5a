"""The gate screen's transfer part: what the candidate's transfer evidence says, and the
one-key transfer rerun (T: the same candidates on the other domain's heldout split, gated;
the transfer verdict opens in a new gate screen). Kept apart from workbench_gate.py so the
gate screen only calls in."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def transfer_text(store_path: str, result: Any) -> Text | None:
    """The transfer line(s) for a gate result: gate/transfer.gate_transfer, in the words
    `t2e gate` prints (cli/gate.transfer_lines), the key being T here."""
    from store import connect

    from ...cli.gate import transfer_lines
    from ...gate.transfer import gate_transfer

    cand = result.comparison.candidate
    conn = connect(store_path)
    try:
        tr = gate_transfer(conn, cand.candidate_hash, result.row_id, cand.domain)
    finally:
        conn.close()
    if not tr:
        return None
    out = Text()  # task ids and domain names come from the store: one line, no controls
    lines = transfer_lines(tr, "T")
    if tr.get("note"):
        out.append(f"\n  transfer: {lines.pop(0)}", "bold red" if tr["flagged"] else
                   "red" if tr["rejected"] else "green")
    for line in lines:  # never checked outside its domain, and the key that checks it
        out.append(f"\n  {line}", "yellow")
    return out if out.plain else None


def start_transfer(screen: Any) -> None:
    """T on the gate screen: rerun both candidates on the other domain and gate them (in a
    worker thread); the transfer verdict opens in its own gate screen."""
    from ...errors import T2EError, error_text
    from ...transfer_rerun import check_rerunnable, run_transfer, transfer_domain

    result = getattr(screen, "result", None)
    if result is None:
        screen.notify("gate the pair first", severity="warning")
        return
    cmp = result.comparison
    if result.evidence_role == "transfer" or cmp.candidate.role == "transfer":
        screen.notify("this is already the transfer verdict", severity="warning")
        return
    try:
        check_rerunnable(cmp.baseline, cmp.candidate)
        target = transfer_domain(cmp.candidate.domain)
    except T2EError as exc:
        screen.notify(error_text(exc), severity="error")
        return
    store = screen.app.store_path
    b, c = cmp.baseline.run_id, cmp.candidate.run_id
    screen.notify(f"transfer check: rerunning both candidates on {target} (heldout)…")

    def work() -> None:
        try:
            tr = run_transfer(store, b, c)
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the app
            screen.app.call_from_thread(screen.notify, f"transfer check failed: {exc}",
                                        severity="error", timeout=10)
            return
        screen.app.call_from_thread(_open, screen, tr)

    screen.run_worker(work, thread=True, exclusive=True, group="transfer",
                      description="transfer check")


def _open(screen: Any, tr: Any) -> None:
    # a gate screen of the same kind as the one that asked (no import of workbench_gate here:
    # it imports this module)
    screen.app.push_screen(type(screen)(tr.baseline_run, tr.candidate_run, tr.result))
