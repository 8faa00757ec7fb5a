"""The gate screen's transfer part: what the candidate's transfer evidence says, and the
one-key transfer rerun (T: the same candidates on the other domain's heldout split, gated;
the transfer verdict opens in a new gate screen). Kept apart from workbench_gate.py so the
gate screen only calls in."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def transfer_text(store_path: str, result: Any) -> Text | None:
    """The transfer line(s) for a gate result: the flag when promoted on heldout and rejected
    on transfer, a note when the candidate never ran outside its (declared) domain."""
    import json

    from store import connect

    from ...gate.transfer import declared_domains, transfer_status, unchecked_outside
    from ...transfer_rerun import transfer_domain

    cand = result.comparison.candidate
    if not cand.candidate_hash:
        return None
    conn = connect(store_path)
    try:
        st = transfer_status(conn, cand.candidate_hash)
        from ...ui_queries import candidate_front_matter

        row = candidate_front_matter(conn, cand.candidate_hash)
        try:
            meta = json.loads(row[0]) if row and row[0] else {}
        except ValueError:
            meta = {}
        declared = declared_domains(meta if isinstance(meta, dict) else {})
        never = unchecked_outside(conn, cand.candidate_hash, declared, cand.domain)
    finally:
        conn.close()
    from ...textsafe import one_line

    out = Text()  # task ids and domain names come from the store: one line, no controls
    if st is not None and st.flagged:
        out.append(f"\n  transfer: {one_line(_short(st, result), 300)}", "bold red")
    elif st is not None and st.transfer is not None and result.evidence_role != "transfer":
        out.append(f"\n  transfer: {one_line(st.note or st.transfer.decision, 300)}", "green")
    if never:
        try:
            target = transfer_domain(cand.domain)
            hint = f" · T: transfer check on {target}"
        except Exception:  # noqa: BLE001 - no pair known: no key to offer
            hint = ""
        out.append(f"\n  {one_line(never + hint, 300)}", "yellow")
    return out if out.plain else None


def _short(st: Any, result: Any) -> str:
    """The flag in one line: on the transfer verdict itself the tasks are listed above it."""
    from ...gate.transfer import TRANSFER_FLAG

    tr = st.transfer
    if result.row_id == tr.row:
        return f"{TRANSFER_FLAG} (heldout row {st.home.row}; this is the transfer verdict)"
    regs = tr.regressions
    shown = ", ".join(regs[:4]) + (f" (+{len(regs) - 4})" if len(regs) > 4 else "")
    return f"{TRANSFER_FLAG} (row {tr.row}, {tr.domain}: {shown or 'no regressions named'})"


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
