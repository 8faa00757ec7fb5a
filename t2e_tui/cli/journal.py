"""`t2e note` (a note on a task, an episode or a step) and `t2e journal TASK` (the task's
notes, labels, episodes, reruns and forks as one Markdown file)."""

from __future__ import annotations

import os

import click

from world.errors import shown_path

from ..errors import T2EError
from .common import echo_json
from .common import open_store as _db

DOMAIN_HELP = ("The task's domain (retail, tau2-airline, mini-retail, ...) when its id is in "
               "several domains of the store.")


def register(cli: click.Group) -> None:
    """Add `note` and `journal` to the root group."""

    @cli.command("note")
    @click.argument("target")
    @click.argument("text")
    @click.option("--step", type=int, default=None, help="A step of the episode TARGET.")
    @click.option("--task", "is_task", is_flag=True, help="TARGET is a task id.")
    @click.option("--domain", default=None, help=DOMAIN_HELP)
    @click.option("--author", default=None, help="Who wrote it (default: $USER).")
    @click.option("--json", "as_json", is_flag=True)
    def note(target: str, text: str, step: int | None, is_task: bool, domain: str | None,
             author: str | None, as_json: bool) -> None:
        """Add a note to an episode (RUN:TASK[:TRIAL] or id), one of its steps (--step N), or
        a task (--task TASK_ID, with --domain when the id is in several domains). `t2e
        journal` exports them."""
        from store.notes import add_note, resolve_task, step_target, task_target
        from store.queries import resolve_episode

        db = _db()
        author = author or os.environ.get("USER")
        if not text.strip():
            raise T2EError("a note cannot be empty")
        if domain is not None and not is_task:
            raise T2EError("--domain names a task's domain: use it with --task (an episode "
                           "already has one)")
        if is_task:
            if step is not None:
                raise T2EError("--step is for an episode's step, not a task")
            key = resolve_task(db, target, domain)
            nid = add_note(db, "task", task_target(key, target), text, author)
            if as_json:
                echo_json({"note_id": nid, "target_kind": "task",
                           "target_id": task_target(key, target), "domain": key,
                           "task_id": target})
            else:
                click.echo(f"note {nid} on task {target} ({key})")
            return
        eid = resolve_episode(db, target)
        if step is not None:
            n = db.conn.execute("SELECT count(*) FROM steps WHERE episode_id = ?",
                                (eid,)).fetchone()[0]
            if not 0 <= step < n:
                raise T2EError(f"--step {step}: episode {eid} has steps 0..{n - 1}")
            kind, tid = "step", step_target(eid, step)
        else:
            kind, tid = "episode", str(eid)
        nid = add_note(db, kind, tid, text, author)
        if as_json:
            echo_json({"note_id": nid, "target_kind": kind, "target_id": tid})
        else:
            click.echo(f"note {nid} on {kind} {tid}")

    @cli.command("journal")
    @click.argument("task")
    @click.option("--domain", default=None, help=DOMAIN_HELP)
    @click.option("--run", "run", default=None, help="Only this run's episodes (and their forks).")
    @click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
                  help="Markdown file to write ('-' for stdout).")
    def journal(task: str, domain: str | None, run: str | None, output: str) -> None:
        """Export TASK's journal: notes on the task, its episodes and steps, labels, its
        episodes per run, reruns of the task and forks of its episodes, as one Markdown file
        (trace text sanitised). A task is its domain and its id: --domain (or --run) chooses
        when the id is in several domains. The noted steps are quoted: records an evidence
        view of each episode they come from (the gate's leakage guard reads these)."""
        from store.queries import record_views, resolve_run

        from ..journal import build_journal
        from .common import output_file

        target = output_file(output, "-o")  # checked before any work
        db = _db()
        rid = resolve_run(db, run) if run else None
        text, shown = build_journal(db.conn, task, rid, domain=domain,
                                    store_label=click.get_current_context().obj.store)
        # noted steps are quoted word for word: views for the gate's leakage guard, recorded
        # before the text leaves (to stdout or a file), as `t2e show` does
        record_views(db, shown, "cli-journal")
        if output == "-":
            click.echo(text, nl=False)
            return
        target.write_text(text)  # whole (store/atomic.py): nothing half-written
        click.echo(f"wrote {shown_path(output)} ({len(text.splitlines())} lines)")
