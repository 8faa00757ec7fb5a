"""CLI twins of the patch workbench: `candidate save|diff|log`, `ablate`, `demo`.

The TUI screens call the same core functions (candidate_versions, difftext, ablation, demo),
so every workbench action can be scripted and checked headless.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import click

from ..errors import T2EError
from ..textsafe import one_line
from .common import emit as _emit


def _ctx():
    return click.get_current_context().obj


def _cands_dir(explicit: str | None) -> Path:
    """--candidates, else the store's own folder (a demo store's), else ./candidates: the
    same rule as the app's (screens/workbench_hooks.candidates_dir_for)."""
    from ..demo import store_candidates_dir
    from ..paths import candidates_dir

    obj = _ctx()
    if not explicit:
        own = store_candidates_dir(obj.store)
        if own is not None:
            return own
    return candidates_dir(explicit)


def _conn(create: bool = False):
    from .common import connect_store

    return connect_store(create)


def _fail(exc: Exception) -> T2EError:
    return T2EError(str(exc))


_cands_opt = click.option("--candidates", "candidates", type=click.Path(file_okay=False),
                          default=None, help="Candidates folder (default ./candidates).")


def register(cli: click.Group) -> None:
    """Add the workbench commands to the root group."""

    @cli.group("candidate")
    def candidate() -> None:
        """Candidate versions: save (immutable, content-addressed), diff, log."""

    @candidate.command("save")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--hypothesis", "-m", default=None,
                  help="What this version should fix and why (required unless the file "
                       "has one in its front matter).")
    @click.option("--parent", "-p", default=None,
                  help="Parent version: name, hash prefix or file (default: the file's "
                       "front matter `parent`).")
    @click.option("--name", default=None, help="Version name (default: the file's `name`).")
    @_cands_opt
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def candidate_save(file, hypothesis, parent, name, candidates, as_json):
        """Save FILE as a new immutable candidate version (store row + candidates/NAME.md)."""
        from ..candidate_versions import save_version
        from ..candidates import CandidateError, load

        try:
            cand = load(file)
            conn = _conn(create=True)
            res = save_version(conn, cand, hypothesis=hypothesis, parent_ref=parent,
                               name=name, candidates_dir=_cands_dir(candidates))
        except CandidateError as exc:
            raise _fail(exc) from None
        v = res.version
        data = {"hash": v.hash, "name": v.name, "path": v.path, "saved_at": v.saved_at,
                "parent": res.parent.name if res.parent else None,
                "parent_hash": v.parent_hash, "hypothesis": v.hypothesis,
                "duplicate": res.duplicate}
        if res.duplicate:
            human = f"already saved: {v.name} {v.short} ({v.path}); nothing written"
        else:
            par = f" <- {res.parent.name} {res.parent.short}" if res.parent else ""
            human = f"saved {v.name} {v.short}{par}\n  {v.path}"
        _emit(data, as_json, human)

    @candidate.command("diff")
    @click.argument("a")
    @click.argument("b", required=False)
    @click.option("--unified", "mode", flag_value="unified", default=True,
                  help="Unified diff (default).")
    @click.option("--side-by-side", "mode", flag_value="side", help="Two columns.")
    @click.option("--context", "-U", default=3, show_default=True, type=click.IntRange(0, 1000),
                  help="Unified context lines.")
    @click.option("--width", default=None, type=click.IntRange(40, 1000),
                  help="Side-by-side width (default: the terminal's).")
    @_cands_opt
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def candidate_diff(a, b, mode, context, width, candidates, as_json):
        """Diff candidate A against B (names, hash prefixes or files). With one argument,
        diff A's parent against A."""
        from .. import difftext
        from ..candidate_versions import get_version, load_ref
        from ..candidates import CandidateError

        conn = _conn()
        d = _cands_dir(candidates)
        try:
            if b is None:
                new, newv = load_ref(conn, a, d)
                pref = (newv.parent_hash if newv else None) or new.parent
                if not pref:
                    raise T2EError(f"{a}: has no parent to diff against; give two candidates")
                pv = get_version(conn, pref)
                old, oldv = (pv.as_candidate(), pv) if pv else load_ref(conn, pref, d)
            else:
                old, oldv = load_ref(conn, a, d)
                new, newv = load_ref(conn, b, d)
        except CandidateError as exc:
            raise _fail(exc) from None
        an = f"{old.name} {old.short}"
        bn = f"{new.name} {new.short}"
        diff = difftext.compare(old.body, new.body)
        if as_json:
            rows = [{"kind": r.kind, "left_no": r.left_no, "left": r.left,
                     "right_no": r.right_no, "right": r.right} for r in diff.rows]
            _emit({"a": {"name": old.name, "hash": old.hash},
                   "b": {"name": new.name, "hash": new.hash},
                   "added": diff.stats.added, "removed": diff.stats.removed,
                   "changed": diff.stats.changed, "identical": diff.stats.identical,
                   "unified": difftext.unified_text(old.body, new.body, an, bn, context),
                   "rows": rows}, True)
            return
        if diff.stats.identical:
            click.echo(f"identical bodies: {an} == {bn}")
            return
        if mode == "side":
            w = width or shutil.get_terminal_size((120, 24)).columns
            click.echo(f"{an:<{max(10, (w - 3) // 2)}}   {bn}")
            click.echo(difftext.side_by_side_text(old.body, new.body, w), nl=False)
        else:
            click.echo(difftext.unified_text(old.body, new.body, an, bn, context), nl=False)

    @candidate.command("log")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def candidate_log(as_json):
        """Saved versions in lineage order: each version's reward on its home evidence (the
        run, domain and role it comes from), its transfer reruns, gate results, and a reward
        sparkline over one domain and role."""
        from ..candidate_versions import lineage
        from ..lineage_evidence import reward_line

        conn = _conn()
        rows = lineage(conn)
        line = reward_line(rows)
        if as_json:
            _emit({"versions": rows, "sparkline": line["sparkline"], "reward_line": line}, True)
            return
        if not rows:
            click.echo("no saved candidate versions (t2e candidate save FILE --hypothesis ...)")
            return
        click.echo(line["caption"])
        for r in rows:
            click.echo(format_log_row(r))
        from ..standin import agent_models
        from ..standin import note as stand_in_note

        runs = [(r.get("evidence") or {}).get("run_id") for r in rows]
        runs += [t.get("run_id") for r in rows for t in r.get("transfers") or []]
        note = stand_in_note(agent_models(conn, runs).values())
        if note:
            click.echo(note)

    @cli.command("ablate")
    @click.argument("candidate_ref", metavar="CANDIDATE")
    @click.option("--baseline-run", "baseline_run", default=None,
                  help="Run of the full candidate to compare with (default: run it).")
    @click.option("--domain", default="mini-retail", show_default=True)
    @click.option("--tasks", default="dev", show_default=True, help="all | SPLIT | ID,ID,...")
    @click.option("--trials", default=1, show_default=True, type=click.IntRange(1, 100))
    @click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 256))
    @click.option("--model", default="scripted", show_default=True)
    @click.option("--user", default="scripted", show_default=True)
    @_cands_opt
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def ablate_cmd(candidate_ref, baseline_run, domain, tasks, trials, concurrency, model, user,
                   candidates, as_json):
        """One rerun per left-out rule line of CANDIDATE; prints each rule's contribution."""
        from ..ablation import ablate, format_report

        res = ablate(_ctx().store, candidate_ref, candidates_dir=_cands_dir(candidates),
                     domain=domain, tasks=tasks, trials=trials, concurrency=concurrency,
                     model=model, user=user, full_run=baseline_run)
        _emit(res, as_json, format_report(res))

    @cli.command("demo")
    @click.option("--no-open", is_flag=True, help="Build the store and exit (for scripts).")
    @click.option("--fresh", is_flag=True,
                  help="Start over: move a demo store that holds your work (and its "
                       "candidates folder) aside to a dated backup folder, then build anew.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.pass_context
    def demo_cmd(ctx, no_open, fresh, as_json):
        """Build a demo store (mini-retail, scripted stand-in agent; plus the transfer check's
        negative control on mini-airline) and open the app on it.

        The store is --store, else $T2E_STORE, else the demo's own (printed). A demo store
        there holding only what `t2e demo` made is rebuilt; one holding your work (a version
        saved, a label, a note, a gate row, a run) is opened as it is, and --fresh moves it
        aside before building. Any other store is refused and left as it is.
        """
        from ..demo import build_demo
        from ..paths import demo_store
        from .common import store_named

        root = ctx.find_root()
        # the store every command reads (--store, else T2E_STORE), else the demo's own; a
        # store the user named is used only if the demo built it (build_demo refuses any other)
        named = store_named()
        path = Path(named[0]) if named else demo_store()
        summary = build_demo(path, replace="demo" if named else "any",
                             named_by=named[1] if named else None, fresh=fresh)
        if summary["kept"]:
            where = (f"t2e --store {one_line(shlex.quote(str(path)), 500)} "
                     if named and named[1] == "--store" else "t2e ")
            summary["fresh"] = f"{where}demo --fresh"
        else:
            _remember_demo_pair(summary)
        _emit(summary, as_json, format_demo_summary(summary))
        if not no_open and not as_json:
            from .app import not_a_terminal

            why = not_a_terminal()
            if why:  # from a script: the store is the job; the app needs a terminal
                click.echo(f"the app was not opened ({why} is not a terminal): open it "
                           f"with  t2e --store {one_line(shlex.quote(str(path)), 500)} open",
                           err=True)
                return
            root.obj.store = str(path)
            opener = cli.get_command(root, "open")
            if opener is None:
                raise T2EError("the app is not available in this build (no `open` command); "
                               f"the demo store is ready at {path}")
            ctx.invoke(opener)


def _remember_demo_pair(summary: dict) -> None:
    """The app opens a rebuilt demo store with the pair the demo gated marked (baseline
    heldout b, the promoted candidate c), as if the tour's first step were done: `o` opens
    its tasks. Whatever was remembered for the old store at that path is dropped."""
    from .. import session_state

    promoted = next((c for c in summary["candidates"] if c["decision"] == "promote"), None)
    session_state.forget_store(summary["store"])
    if promoted is not None:
        session_state.remember(summary["store"], baseline=summary["runs"]["baseline"],
                               candidate=promoted["run_id"], screen=["runs"])


def format_log_row(r: dict) -> str:
    """One human line of `candidate log`: the reward names its run, domain and role
    (lineage_evidence.figure_text); the transfer verdict and reruns follow the gate, as
    such (lineage_evidence.transfers_text)."""
    from ..lineage_evidence import figure_text, transfers_text

    indent = "  " * r["depth"]
    gate = r.get("gate")
    g = "no gate"
    if gate:
        g = f"gate #{gate['row']} {gate['decision']} ({gate['evidence_role']})"
        h = gate.get("human")
        if h:
            g += f", human {h['decision']}" + (" OVERRIDE" if h["override"] else "")
    runs = transfers_text(r)
    if runs:
        g += f"; {runs}"
    # names and notes come from files anyone may have edited: one line, no control sequences
    hyp = one_line(r.get("hypothesis") or "", 60)
    name = one_line(r["name"], 80)
    reward = one_line(figure_text(r.get("evidence")), 120)  # run names are imported text
    return (f"{r['short']} {indent}{name:<{max(1, 24 - len(indent))}} reward {reward}  "
            f"{g}  {r['saved_at'][:19]}  {hyp}")


def format_demo_summary(s: dict) -> str:
    """The human summary printed by `t2e demo`."""
    store, cdir = one_line(s["store"], 500), one_line(s["candidates_dir"], 500)
    if s.get("kept"):
        return "\n".join([
            f"demo store: {store} (kept as it is: {one_line(s['why'], 2000)})",
            f"candidates folder: {cdir} (the demo's own, kept with the store)",
            "agent: scripted STAND-IN (deterministic; its results prove nothing about models)",
            f"to start over: {s['fresh']} (moves this store and its candidates folder aside "
            "to a dated backup folder beside it, then builds the demo anew)"])
    lines = [f"demo store: {store}",
             f"candidates folder: {cdir} (the demo's own: versions saved on this store go "
             "there, never to ./candidates; kept with the store once you save anything)",
             "agent: scripted STAND-IN (deterministic; its results prove nothing about models)"]
    if s.get("backup"):
        lines.insert(0, f"backup: the old store and its candidates folder were moved to "
                        f"{one_line(s['backup'], 500)}")
    for c in s.get("candidates", []):
        lines.append(f"  {c['name']:<28} gate {c['decision']:<12} human {c.get('human') or '-'}"
                     f"  fixes {c.get('fixes', 0)}  regressions {c.get('regressions', 0)}")
    tr = s.get("transfer")
    if tr:
        regs = tr["regressions"]
        shown = ", ".join(regs[:8]) + (f" (+{len(regs) - 8})" if len(regs) > 8 else "")
        lines.append(f"  negative control: {tr['name']} rerun on {tr['domain']} (transfer): gate "
                     f"{tr['decision']}, regressions {len(regs)}: {shown or '-'}")
        if tr.get("note"):
            lines.append(f"  {tr['name']}: {tr['note'].split(' (')[0]}")
    lines.append(f"built in {s.get('seconds', 0):.1f}s")
    return "\n".join(lines)
