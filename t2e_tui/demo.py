"""`t2e demo`: build a small, real evidence store on mini-retail with the scripted stand-in.

What it holds (every figure is computed by the engine and the gate, nothing is canned):

* the baseline candidate, run on the train split (discovery evidence to browse) and on the
  heldout split;
* `cross-order-v1`, which adds the cross-order rule line: it fixes the cross-order failure class,
  and its heldout rerun is gated (promote) and promoted by a recorded human decision;
* `skip-confirm-v1`, which adds a harmful rule ("skip confirmations to save time"): it regresses
  elsewhere, the gate says discard, and the human decision discards it;
* the negative control (transfer check): the candidate promoted on mini-retail heldout and the
  baseline are rerun on mini-airline's heldout split with the role `transfer`. There the
  retail rule copies the first earlier reservation's bag counts, which the airline policy
  forbids (free bags depend on the tier and cabin), so the gate discards it and names the
  regressing tasks: "promoted on heldout, rejected on transfer".

The scripted agent is a deterministic stand-in: the demo's results prove nothing about models.
The candidate texts live here (not in the repo's candidates/ folder) so an installed t2e works.

Where the demo's candidate files go (and the files of versions saved in the app on the demo
store): `<store stem>-candidates/` beside the demo store, marked by a DEMO_MARKER file. Issue 7
says saving writes the file to `candidates/`; for a demo that folder is the demo's own, because
the store and its folder go together (kept, rebuilt or moved aside as one): files in the
user's ./candidates would outlive the store that knows them. The app and `t2e candidate` use
that folder for a store that has one (`store_candidates_dir`), and `t2e demo` and the lineage
screen print it.

`t2e demo` again never loses work: a demo store holding anything the demo did not make
(`demo_work.changes`: a version saved, a label, a note, a gate row, a run...) is opened as it
is, and `fresh=True` (`t2e demo --fresh`) moves it and its folder aside to a dated backup
before building. Only a store holding nothing but the demo's own rows is rebuilt in place.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .candidates import Candidate, packaged_baseline
from .errors import T2EError

STAND_IN = ("scripted STAND-IN agent and user (deterministic; its results prove nothing "
            "about models)")

FIX_RULE = ("- When the customer says 'the same as the one I already received', look up their "
            "delivered orders to find that item and use its variant.")
HARM_RULE = "- Skip confirmations to save time: act as soon as you know what the customer wants."

DEMO_CANDIDATES = [
    # (name, rule, hypothesis, human decision to record)
    ("cross-order-v1", FIX_RULE,
     "Traces show the agent asking for options and giving up when the customer says 'the same "
     "as the one I received'; a rule to look up delivered orders should fix that class.",
     "promote"),
    ("skip-confirm-v1", HARM_RULE,
     "Confirmations make conversations long; skipping them should save steps.",
     "discard"),
]


def _remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()


DEMO_MARKER = ".t2e-demo-candidates"


def demo_candidates_dir(store_path: str | os.PathLike) -> Path:
    """Candidate files of a demo store live beside it (never in the user's ./candidates)."""
    p = Path(store_path)
    return p.parent / f"{p.stem}-candidates"


def store_candidates_dir(store_path: str | os.PathLike) -> Path | None:
    """The candidates folder that belongs to a store (a demo store's, which holds DEMO_MARKER),
    or None: then the caller uses --candidates or ./candidates."""
    d = demo_candidates_dir(store_path)
    return d if (d / DEMO_MARKER).is_file() else None


# The demo store's mark, in the SQLite header (PRAGMA application_id; "t2ed"): it travels
# with the file and goes with it, unlike anything kept beside it (a new store made at the
# path of a deleted demo store finds the demo's candidates folder still there).
DEMO_APPLICATION_ID = 0x74326564


def is_demo_store(store_path: str | os.PathLike) -> bool:
    """Whether the file at `store_path` is a store `t2e demo` built (read-only: looking never
    creates or changes anything; anything unreadable is not one)."""
    import sqlite3

    path = Path(store_path)
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=1.0)
        try:
            return conn.execute("PRAGMA application_id").fetchone()[0] == DEMO_APPLICATION_ID
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def build_demo(store_path: str | os.PathLike, *, replace: str = "demo",
               named_by: str | None = None, concurrency: int = 4,
               fresh: bool = False) -> dict[str, Any]:
    """Build the demo store at `store_path`, unless a store there holds work.

    What is there already: a demo store holding only what the demo made is rebuilt (refused
    while an app has it open); one holding work, or of which that cannot be told, is kept as
    it is: the summary says `kept` and lists the `work`. With `fresh`, such a store and its
    candidates folder are moved aside to a dated backup (`backup` in the summary) and the
    demo is built anew. A store `t2e demo` did not build is refused and left alone
    (`replace="demo"`), except at the demo's own default path (`"any"`), where it is kept or,
    with `fresh`, moved aside. `named_by` ("--store", "$T2E_STORE") says in the refusal where
    the path came from."""
    from store.inuse import hold_for_rebuild

    t0 = time.monotonic()
    path = Path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    look = _look(path, replace, named_by)
    if look["keep"] and not fresh:  # nothing is rebuilt: an app open on it is no obstacle
        return _kept(path, look)
    # never pull a store from under an open app: refused while one holds it (store/inuse.py)
    guard = hold_for_rebuild(path)
    try:
        # asked again under the lock: nothing replaces the file between the look and the
        # rebuild, and no app saves into it meanwhile
        look = _look(path, replace, named_by)
        if look["keep"] and not fresh:
            return _kept(path, look)
        backup = None
        if look["keep"] or _loose_files(path):
            from .demo_work import move_aside

            backup = str(move_aside(path, demo_candidates_dir(path)))
        summary = _build(path, concurrency, t0)
    finally:
        if guard is not None:
            guard.close()
    return {**summary, "kept": False, "backup": backup}


def _look(path: Path, replace: str, named_by: str | None) -> dict[str, Any]:
    """What is at `path`: {"keep": whether it holds (or may hold) work, "work", "why"}."""
    from .demo_work import changes

    if not path.exists():
        return {"keep": False, "work": {}, "why": None}
    if not is_demo_store(path):
        if replace != "any":
            raise T2EError(_not_a_demo_store(path, named_by))
        return {"keep": True, "work": None,
                "why": "it was not built by `t2e demo` (an older demo, or another store)"}
    work = changes(path, demo_candidates_dir(path))
    if work is None:
        return {"keep": True, "work": None,
                "why": "t2e cannot tell what in it is yours (it was built by an earlier t2e, "
                       "or its build was stopped)"}
    if work:
        from .demo_work import describe

        return {"keep": True, "work": work, "why": f"it holds your work: {describe(work)}"}
    return {"keep": False, "work": {}, "why": None}


def _loose_files(path: Path) -> bool:
    """Candidate files in the folder of a store that is not there (nothing says whose)."""
    cdir = demo_candidates_dir(path)
    return not path.exists() and cdir.is_dir() and any(cdir.glob("*.md"))


def _kept(path: Path, look: dict) -> dict[str, Any]:
    return {"store": str(path), "candidates_dir": str(demo_candidates_dir(path)),
            "agent": STAND_IN, "kept": True, "work": look["work"], "why": look["why"]}


def _not_a_demo_store(path: Path, named_by: str | None) -> str:
    from .paths import demo_store

    where = f" (named by {named_by})" if named_by else ""
    own = ("`env -u T2E_STORE t2e demo`" if named_by == "$T2E_STORE" or
           os.environ.get("T2E_STORE") else "`t2e demo`")
    return (f"{path}{where}: already exists and is not a demo store (`t2e demo` did not "
            "build it); the demo never writes into or replaces another store: give a new "
            f"path (`t2e --store NEW.sqlite demo`), or run {own} for the demo's own store "
            f"({demo_store()})")


def _build(path: Path, concurrency: int, t0: float) -> dict[str, Any]:
    _remove_store(path)
    cdir = demo_candidates_dir(path)
    cdir.mkdir(parents=True, exist_ok=True)
    # (only the demo's own files are here: a folder holding anything else was moved aside)
    for old in cdir.glob("*.md"):
        old.unlink()
    (cdir / DEMO_MARKER).write_text(
        f"Candidate files of the t2e demo store {path.name}: versions saved in the app on that "
        "store are written here.\n`t2e demo` keeps the store and this folder once you have "
        "saved, labelled or run anything in it; `t2e demo --fresh` moves both aside to a "
        "dated backup folder and builds the demo anew.\n")
    try:
        return _fill(path, cdir, concurrency, t0)
    except BaseException:
        # a build that did not finish leaves nothing behind (it made all of it): the next
        # `t2e demo` builds again instead of finding a half-built store it cannot judge
        _remove_store(path)
        for made in cdir.glob("*.md"):
            made.unlink()
        raise


def _fill(path: Path, cdir: Path, concurrency: int, t0: float) -> dict[str, Any]:
    from store import connect

    from . import gate as gate_mod
    from .candidate_versions import save_version
    from .demo_work import record
    from .engine import execute_run
    from .engine.plan import plan_run

    conn = connect(path)
    try:
        conn.execute(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")  # is_demo_store
        from store.heldout import register_set
        from world.domains import load_domain

        # the heldout set is registered before any candidate is saved: what the gate's
        # clean-heldout rule asks for (README, "The gate's rule")
        register_set(conn, "mini-retail-heldout", "mini-retail",
                     load_domain("mini-retail").splits["heldout"], spec="heldout",
                     author="t2e demo")
        # and the negative control's transfer set, for the same reason
        register_set(conn, "mini-airline-transfer", TRANSFER_DOMAIN,
                     load_domain(TRANSFER_DOMAIN).splits["heldout"], spec="heldout",
                     role="transfer", author="t2e demo")
        base = packaged_baseline()
        base_v = save_version(conn, base, hypothesis=base.hypothesis or "baseline",
                              candidates_dir=cdir, name="baseline").version
        runs: dict[str, str] = {}

        def run(cand_path: str, tasks: str, role: str, name: str,
                domain: str = "mini-retail") -> str:
            plan = plan_run(domain=domain, candidate=cand_path,
                            candidates_dir=str(cdir), tasks=tasks, trials=1,
                            concurrency=concurrency, model="scripted", user="scripted",
                            name=name, role=role, store_conn=conn)
            summary = execute_run(plan, str(path))
            if summary.status != "complete":
                raise T2EError(f"demo run {name!r} ended {summary.status}")
            return summary.run_id

        runs["baseline-train"] = run(base_v.path, "train", "discovery", "baseline train")
        runs["baseline"] = run(base_v.path, "heldout", "heldout", "baseline heldout")
        out_c = []
        paths: dict[str, str] = {}
        for name, rule, hypothesis, human in DEMO_CANDIDATES:
            cand = Candidate(name=name, body=f"{base.body}\n{rule}", parent="baseline",
                             hypothesis=hypothesis)
            v = save_version(conn, cand, hypothesis=hypothesis, candidates_dir=cdir,
                             parent_ref=base_v.hash).version
            paths[name] = v.path
            rid = run(v.path, "heldout", "heldout", f"{name} heldout")
            res = gate_mod.gate(conn, runs["baseline"], rid)
            stats = res.stats
            entry = {"name": name, "hash": v.hash, "run_id": rid, "row": res.row_id,
                     "decision": res.decision, "evidence_role": res.evidence_role,
                     "fixes": len(stats.get("fixes") or []),
                     "regressions": len(stats.get("regressions") or []),
                     "p_value": stats.get("p_value"), "human": None}
            # The demo's human only confirms the verdict: it never overrides the gate.
            if res.decision == human:
                gate_mod.record_human_decision(conn, res.row_id, human, author="t2e demo")
                entry["human"] = human
            out_c.append(entry)
        transfer = _negative_control(conn, run, runs, base_v.path, out_c, paths)
        record(conn, cdir)  # what the demo made: anything else in it later is work
    finally:
        conn.close()
    return {"store": str(path), "candidates_dir": str(cdir), "agent": STAND_IN,
            "runs": runs, "candidates": out_c, "transfer": transfer,
            "seconds": round(time.monotonic() - t0, 2)}


TRANSFER_DOMAIN = "mini-airline"


def _negative_control(conn, run, runs: dict, base_path: str, cands: list[dict],
                      paths: dict[str, str]) -> dict | None:
    """Rerun the candidate promoted on mini-retail heldout (and the baseline) on mini-airline's
    heldout split as transfer evidence, and gate the pair."""
    from . import gate as gate_mod
    from .gate.transfer import transfer_status

    promoted = next((c for c in cands if c["decision"] == "promote"), None)
    if promoted is None:
        return None
    runs["baseline-transfer"] = run(base_path, "heldout", "transfer",
                                    f"baseline transfer ({TRANSFER_DOMAIN})", TRANSFER_DOMAIN)
    rid = run(paths[promoted["name"]], "heldout", "transfer",
              f"{promoted['name']} transfer ({TRANSFER_DOMAIN})", TRANSFER_DOMAIN)
    res = gate_mod.gate(conn, runs["baseline-transfer"], rid)
    status = transfer_status(conn, promoted["hash"])
    return {"name": promoted["name"], "hash": promoted["hash"], "domain": TRANSFER_DOMAIN,
            "run_id": rid, "row": res.row_id, "decision": res.decision,
            "evidence_role": res.evidence_role,
            "regressions": list(res.stats.get("regressions") or []),
            "note": status.note if status else None}
