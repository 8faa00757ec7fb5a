"""`t2e heldout register|list|show`: pre-registered heldout (and transfer) sets.

A set is registered before the candidates it judges are saved; the gate calls a comparison
clean heldout only on exactly such a set (see README, "The gate's rule")."""

from __future__ import annotations

import os
from contextlib import closing

import click

from ..errors import T2EError
from ..textsafe import one_line
from .common import connect_store, emit


def resolve_spec(domain: str, spec: str, data_dir: str | None) -> tuple[list[str], object]:
    """Task ids of a split name or `ID,ID,...` in `domain`, and the loaded domain (its tasks'
    content is registered with them). A domain that can't be loaded here (an imported world
    without its data) takes ids as typed, never a split name, and gives no domain."""
    from world.domains import load_domain, resolve_tasks
    from world.errors import WorldError

    try:
        dom = load_domain(domain, data_dir)
    except WorldError as exc:
        ids = [s.strip() for s in spec.split(",") if s.strip()]
        if "," not in spec and not spec.strip().isdigit():
            raise T2EError(f"domain {domain!r} can't be loaded here ({exc}): give the task ids "
                           f"(ID,ID,...) instead of {spec!r}, or --data DIR") from None
        return ids, None
    try:
        return resolve_tasks(dom, spec), dom
    except WorldError as exc:
        raise T2EError(str(exc)) from None


def _human(s: dict) -> str:
    ids = s["task_ids"]
    shown = ", ".join(ids[:20]) + (f", … ({len(ids)} in all)" if len(ids) > 20 else "")
    return (f"{one_line(s['name'], 80)}  {s['role']} set of {len(ids)} task(s) in "
            f"{s['world_key']}, registered {s['registered_at'][:19]}Z"
            + (f" by {one_line(s['author'], 40)}" if s.get("author") else "")
            + f"\n  spec {one_line(s['spec'], 120)}   sha256 {s['sha256']}   test "
            f"{s.get('test') or 'sign'}\n  tasks {shown}"
            + "\n  content " + (f"sha256 {s['content']['sha256']} (task definitions, policy"
                               + (", records)" if s["content"].get("db") else ")")
                               if s.get("content") else "not recorded (the domain's data "
                               "was not loaded): runs are matched on task ids alone"))


def register(cli: click.Group) -> None:
    """Add `t2e heldout` to the root group."""

    @cli.group("heldout")
    def heldout_group():
        """Pre-registered heldout sets: register before saving the candidates they judge."""

    @heldout_group.command("register")
    @click.argument("name")
    @click.option("--domain", required=True, help="mini-retail, tau2-retail, retail, ...")
    @click.option("--tasks", "spec", required=True, help="A split name or ID,ID,...")
    @click.option("--role", type=click.Choice(["heldout", "transfer"]), default="heldout",
                  show_default=True)
    @click.option("--data", "data_dir", default=None, help="tau2 data directory.")
    @click.option("--test", type=click.Choice(["sign", "permutation"]), default="sign",
                  show_default=True,
                  help="The paired test the gate applies on this set, fixed now: sign (which "
                       "way each task moved) or permutation (how far; more power with repeated "
                       "trials). A gate policy naming the other test supports at most.")
    @click.option("--json", "as_json", is_flag=True)
    def register_cmd(name, domain, spec, role, data_dir, test, as_json):
        """Freeze NAME as the task list SPEC of DOMAIN (with a hash, the time and the gate's
        test). Sets are never changed or deleted; gates on them count every agent that ran on
        their tasks."""
        from store import StoreError
        from store.heldout import register_set

        ids, dom = resolve_spec(domain, spec, data_dir)
        # only register writes, so only it makes a missing store
        with closing(connect_store(create=True)) as conn:
            try:
                s = register_set(conn, name, domain, ids, spec=spec, role=role,
                                 author=os.environ.get("USER"), test=test, world=dom)
            except StoreError as exc:
                raise T2EError(str(exc)) from None
        emit(s, as_json, "registered " + _human(s))
        return 0

    @heldout_group.command("list")
    @click.option("--domain", default=None)
    @click.option("--json", "as_json", is_flag=True)
    def list_cmd(domain, as_json):
        """Every registered set, with how many agents have run on its tasks."""
        from store.heldout import list_sets

        from ..gate.heldout import agents_on_set

        with closing(connect_store()) as conn:
            sets = list_sets(conn, domain)
            for s in sets:
                s["agents_on_set"] = len(agents_on_set(conn, s))
        if as_json:
            emit(sets, True)
        elif not sets:
            click.echo("no heldout sets registered (t2e heldout register NAME --domain D "
                       "--tasks SPLIT|IDS)")
        else:
            for s in sets:
                click.echo(f"{one_line(s['name'], 40):<20} {s['role']:<8} {s['world_key']:<12} "
                           f"{len(s['task_ids']):>4} tasks  {s['registered_at'][:19]}Z  "
                           f"{s['agents_on_set']} agent(s) ran on its tasks  "
                           f"{s['sha256'][:12]}")
        return 0

    @heldout_group.command("show")
    @click.argument("name")
    @click.option("--json", "as_json", is_flag=True)
    def show_cmd(name, as_json):
        """One set: its tasks, hash, registration time and the agents that ran on its tasks
        (each a candidate the gate's alpha is spent on, gated or not)."""
        from store import StoreError
        from store.heldout import get_set

        from ..gate.heldout import agents_on_set, spent_alpha

        with closing(connect_store()) as conn:
            try:
                s = get_set(conn, name)
            except StoreError as exc:
                raise T2EError(str(exc)) from None
            agents = agents_on_set(conn, s)
        s["agents"] = [_agent_doc(a) for a in agents]
        k = len(agents)
        s["next_alpha_at_0.05"] = spent_alpha(0.05, max(k, 1))
        emit(s, as_json, _human(s) + f"\n  {k} agent(s) ran on its tasks; a new candidate is "
             f"tested at alpha x {spent_alpha(1.0, max(k, 1)):.4g} (k = {max(k, 1)}; j = 1, the "
             f"first registered set its agent runs on; on its j-th set, 1/j^3 of that)")
        return 0


def _agent_doc(a: dict) -> dict:
    """An agent of `agents_on_set` for --json: its identity (or the run, when unknown)."""
    key = a["key"]
    who = ({"run_id": key[1], "agent_known": False} if key[0] == "run" else
           {"candidate_hash": key[0], "agent_model": key[1], "user_model": key[2],
            "agent_known": True})
    return {**who, "first_run": a["first_run"], "first_at": a["first_at"], "runs": a["runs"]}
