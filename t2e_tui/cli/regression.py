"""`t2e regression add|list|show|export`: named, versioned regression sets (#13)."""

from __future__ import annotations

import click

from ..errors import T2EError
from ..textsafe import one_line
from .common import echo_json as _echo_json
from .common import open_store as _db


def register(cli: click.Group) -> None:
    """Add the `regression` group."""

    @cli.group("regression")
    def regression():
        """Regression sets: tasks a candidate fixed, kept so no later candidate breaks them.
        Every change makes a new version; `t2e run --tasks regression:NAME` runs the latest, and
        the gate's regression_set_clean check refuses a candidate that fails any item."""

    @regression.command("add")
    @click.argument("name")
    @click.argument("episodes", nargs=-1)
    @click.option("--from-gate", "row", type=int, help="Add every task a promoted scoreboard row fixed.")
    @click.option("--class", "cls", help="Failure class of the item(s) (default: the episode's top class).")
    @click.option("--note", help="Why the item is in the set.")
    @click.option("--author", help="Who adds (default: $T2E_AUTHOR, else $USER).")
    @click.option("--json", "as_json", is_flag=True)
    def add_cmd(name, episodes, row, cls, note, author, as_json):
        """Add the tasks of failed EPISODES (ids or RUN:TASK[:TRIAL]) to set NAME, or with
        --from-gate ROW the tasks that a promoted candidate fixed."""
        from store.queries import resolve_episode

        from ..analysis.regression import RegressionError, add_items, item_from_episode, offered_from_gate

        db = _db()
        try:
            items = offered_from_gate(db, row) if row is not None else []
            for ref in episodes:
                items.append(item_from_episode(db, resolve_episode(db, ref), note, cls))
            if note or cls:
                for i in items:
                    i["note"] = note or i.get("note")
                    i["failure_class"] = cls or i.get("failure_class")
            s = add_items(db, name, items, author)
        except RegressionError as exc:
            raise T2EError(f"regression add: {exc}") from exc
        if as_json:
            _echo_json(s)
        else:
            click.echo(f"{s['name']} v{s['version']}: {len(s['items'])} item(s) "
                       f"({len(items)} added or updated)")

    @regression.command("list")
    @click.option("--json", "as_json", is_flag=True)
    def list_cmd(as_json):
        """Every set's latest version."""
        from ..analysis.regression import list_sets

        rows = list_sets(_db())
        if as_json:
            _echo_json(rows)
            return
        if not rows:
            click.echo("no regression sets (t2e regression add NAME EPISODE...)")
        for r in rows:
            click.echo(f"{r['name']:<24} v{r['version']:<4} {r['items']:>5} item(s)  {r['created_at']}")

    @regression.command("show")
    @click.argument("name")
    @click.option("--version", type=int, help="An older version (default: the latest).")
    @click.option("--json", "as_json", is_flag=True)
    def show_cmd(name, version, as_json):
        """A set's items: domain, task, expected outcome, origin episode, class, note."""
        from ..analysis.regression import latest

        s = latest(_db(), name, version)
        if s is None:
            raise T2EError(f"regression show: no set named {name!r}" + (f" v{version}" if version else ""))
        if as_json:
            _echo_json(s)
            return
        click.echo(f"{s['name']} v{s['version']} · {len(s['items'])} item(s) · {s['created_at']}"
                   + (f" · {s['author']}" if s["author"] else ""))
        for i in s["items"]:
            click.echo(one_line(f"  {i['domain']:<12} {i['task_id']:<14} {i['expected']:<5} "
                                f"ep {i['origin_episode']} {i['failure_class'] or '-':<18} "
                                f"{i['note'] or ''}", 200))

    @regression.command("export")
    @click.argument("name")
    @click.option("--version", type=int)
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default: stdout).")
    def export_cmd(name, version, output):
        """The set as JSONL, one item a line (with the set's name and version)."""
        from ..analysis.regression import RegressionError, export_jsonl
        from .common import output_file

        target = output_file(output, "-o") if output else None  # checked before any work
        try:
            lines = export_jsonl(_db(), name, version)
        except RegressionError as exc:
            raise T2EError(f"regression export: {exc}") from exc
        text = "\n".join(lines) + "\n"
        if target is not None:
            target.write_text(text)  # whole (store/atomic.py)
        else:
            click.echo(text, nl=False)
