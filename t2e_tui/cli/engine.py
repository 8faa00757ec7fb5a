"""`t2e run` (the rerun engine) and `t2e locate config|store|candidates`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import T2EError
from ..paths import candidates_dir, config_path
from ..standin import note as stand_in_note
from ..textsafe import one_line

# sysexits EX_TEMPFAIL, beside our 70 (EX_SOFTWARE): the run finished but every episode ended
# infrastructure_error (the model was never reached). Temporary: fix the endpoint, resume.
EXIT_ALL_INFRA = 75

def never_reached(what: str, count: str, then: str) -> str:
    """The one line on stderr beside exit 75 (`t2e run`, `t2e fork`): every episode of `what`
    ended infrastructure_error."""
    return (f"t2e: error: {what}: all {count} ended infrastructure_error: the model endpoint "
            f"was never reached (check the server, --base-url, the key), then {then}")




def _params(temperature: float | None, max_tokens: int | None, top_p: float | None,
            raw: tuple[str, ...]) -> dict:
    """Request parameters from flags; --param KEY=VALUE takes JSON values (else a string)."""
    out: dict[str, Any] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise T2EError(f"--param {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    if temperature is not None:
        out["temperature"] = temperature
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    if top_p is not None:
        out["top_p"] = top_p
    return out


class _Progress:
    """One overwritten line on a terminal; silent otherwise (and with --json)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.run_id: str | None = None

    def start(self, run_id: str) -> None:
        self.run_id = run_id

    def episode(self, ev: Any) -> None:
        if self.enabled:
            reward = "-" if ev.reward is None else f"{ev.reward:.0f}"
            # the overwrite codes are ours, so this line goes under the escaping stream; the
            # task id and reason come from data and are cleaned
            err = getattr(sys.stderr, "raw", sys.stderr)
            err.write(f"\r{ev.done}/{ev.total} task {one_line(ev.task_id, 40)} trial "
                      f"{ev.trial}: {one_line(ev.termination_reason, 40)} reward {reward}\x1b[K")
            err.flush()

    def end(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _regression_tasks(conn, spec: str, domain: str) -> tuple[str, dict]:
    """`--tasks regression:NAME` -> the set's task ids (latest version) and the selection record."""
    from ..analysis.regression import RegressionError, task_ids_for

    try:
        ids, selection = task_ids_for(conn, spec, domain)
    except RegressionError as exc:
        raise T2EError(str(exc)) from exc
    return ",".join(ids), selection


def register(cli: click.Group) -> None:
    """Add `run` and `locate` to the root group."""

    @cli.command("run")
    @click.option("--domain", default="mini-retail", show_default=True,
                  help="mini-retail | tau2-retail | mini-airline | tau2-airline")
    @click.option("--data", "data_dir", default=None,
                  help="tau2 data directory (tau2-*): a folder holding retail/ and airline/, "
                       "or one domain's folder. Default: TAU2_AIRLINE_DATA_DIR (airline), "
                       "then TAU2_DATA_DIR.")
    @click.option("--candidate", default=None,
                  help="Candidate file, name in --candidates, or stored name/hash. "
                       "Default: baseline.")
    @click.option("--candidates", "cands_dir", default=None,
                  help="Candidates folder (default ./candidates).")
    @click.option("--tasks", default="all", show_default=True,
                  help="all | SPLIT | ID,ID,... | regression:NAME | synthetic:CLASS:N[:SEED]")
    @click.option("--num-tasks", type=int, default=None, help="Only the first N tasks.")
    @click.option("--trials", type=int, default=1, show_default=True)
    @click.option("--concurrency", type=int, default=None, help="Episodes in flight [1].")
    @click.option("--max-steps", type=int, default=200, show_default=True,
                  help="Messages of any role per episode.")
    @click.option("--max-errors", type=int, default=10, show_default=True,
                  help="Cumulative tool errors per episode.")
    @click.option("--model", default="scripted", show_default=True,
                  help="scripted | openai:MODEL")
    @click.option("--user", "user", default=None,
                  help="User simulator: scripted | openai:MODEL (default: scripted on "
                       "mini-retail and mini-airline, else the agent's model).")
    @click.option("--judge", default=None, help="NL-assertion judge: openai:MODEL.")
    @click.option("--grade", type=click.Choice(["judge", "db-communicate"]), default="judge",
                  show_default=True)
    @click.option("--endpoint", default=None, help="[endpoints.NAME] from the config.")
    @click.option("--user-endpoint", default=None, help="Endpoint for the user and judge.")
    @click.option("--base-url", default=None, help="OpenAI-compatible base URL (…/v1).")
    @click.option("--api-key-env", default=None,
                  help="NAME of the environment variable holding the key ('' = none).")
    @click.option("--temperature", type=float, default=None)
    @click.option("--top-p", type=float, default=None)
    @click.option("--max-tokens", type=int, default=None)
    @click.option("--param", "raw_params", multiple=True, help="Extra request param KEY=JSON.")
    @click.option("--timeout", type=float, default=None, help="Seconds per request.")
    @click.option("--max-retries", type=int, default=None)
    @click.option("--quirks", type=click.Choice(["", "llama.cpp"]), default=None)
    @click.option("--seed", type=int, default=300, show_default=True)
    @click.option("--noise", type=float, default=0.0, show_default=True,
                  help="Scripted agent: probability that each behaviour slips.")
    @click.option("--name", default=None, help="Run name.")
    @click.option("--role", default=None,
                  help="Evidence role: discovery|development|heldout|transfer|synthetic "
                       "(default discovery; synthetic for --tasks synthetic:...)")
    @click.option("--resume", "resume_id", default=None, metavar="RUN_ID",
                  help="Finish a stored run (other run flags are taken from its manifest).")
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.pass_context
    def run_cmd(ctx: click.Context, domain, data_dir, candidate, cands_dir, tasks, num_tasks,
                trials, concurrency, max_steps, max_errors, model, user, judge, grade, endpoint,
                user_endpoint, base_url, api_key_env, temperature, top_p, max_tokens,
                raw_params, timeout, max_retries, quirks, seed, noise, name, role, resume_id,
                as_json):
        """Run a candidate in the world and trace every step into the store.

        Prints {"run_id", "episodes", "reward", "pass_rate", "trajectory_hash", "status",
        "infrastructure_errors"}. Ctrl-C keeps every finished episode; `t2e run --resume
        RUN_ID` finishes the rest.

        \b
        Exit codes: 0 the run completed; 130 interrupted (resumable);
        75 every episode ended infrastructure_error (the model endpoint was never reached;
           status `infrastructure_error`, one line on stderr; fix the endpoint, then resume);
        2 bad input; 70 internal error.
        """
        from ..engine.engine import ALL_INFRA, execute_run, load_resume_plan
        from ..engine.plan import plan_run
        from .common import store_path as checked_store_path

        store_path = checked_store_path(create=True)  # a new store's folder must exist
        if name:
            from store.queries import run_name_problem

            if problem := run_name_problem(name):
                raise T2EError(f"--name: {problem}")
        if resume_id:
            plan = load_resume_plan(store_path, resume_id, concurrency=concurrency)
        else:
            import store as store_mod
            conn = store_mod.connect(store_path)
            try:
                selection = None
                if tasks.startswith("regression:"):
                    tasks, selection = _regression_tasks(conn, tasks, domain)
                plan = plan_run(
                    domain=domain, data_dir=data_dir, candidate=candidate,
                    candidates_dir=cands_dir,
                    tasks=tasks, num_tasks=num_tasks, trials=trials,
                    concurrency=1 if concurrency is None else concurrency, max_steps=max_steps, max_errors=max_errors,
                    model=model, user=user, judge=judge, grade=grade, seed=seed, noise=noise,
                    name=name, role=role, endpoint=endpoint, user_endpoint=user_endpoint,
                    base_url=base_url, api_key_env=api_key_env,
                    params=_params(temperature, max_tokens, top_p, raw_params) or None,
                    timeout=timeout, max_retries=max_retries, quirks=quirks, store_conn=conn,
                    task_selection=selection)
            finally:
                conn.close()
        progress = _Progress(not as_json)
        try:
            summary = execute_run(plan, store_path, run_id=resume_id,
                                  on_start=progress.start, on_episode=progress.episode)
        except KeyboardInterrupt:
            progress.end()
            rid = progress.run_id or resume_id
            if rid is None:
                raise
            click.echo(f"interrupted: finished episodes are saved in run {rid}; finish it with "
                       f"`t2e run --resume {rid}`", err=True)
            if as_json:
                import store as store_mod

                from ..engine.engine import run_summary
                conn = store_mod.connect(store_path)
                try:
                    click.echo(json.dumps(run_summary(conn, rid).as_dict(), indent=2))
                finally:
                    conn.close()
            return 130
        progress.end()
        data = summary.as_dict()
        all_infra = summary.status == ALL_INFRA
        if all_infra:
            click.echo(never_reached(f"run {summary.run_id}", f"{summary.episodes} episode(s)",
                                     f"`t2e run --resume {summary.run_id}`"), err=True)
        if as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            reward = "n/a" if summary.reward is None else f"{summary.reward:.3f}"
            rate = "n/a" if summary.pass_rate is None else f"{summary.pass_rate:.3f}"
            click.echo(f"run {summary.run_id} ({summary.status}): {summary.episodes} episodes, "
                       f"reward {reward}, pass rate {rate}")
            click.echo(f"trajectory hash {summary.trajectory_hash}")
            if summary.infrastructure_errors:
                click.echo(f"{summary.infrastructure_errors} episode(s) ended "
                           f"infrastructure_error (excluded; `t2e run --resume "
                           f"{summary.run_id}` retries them)")
            note = stand_in_note([plan.agent.label])  # the model the run records
            if note:
                click.echo(f"note: {note}")
        if all_infra:
            return EXIT_ALL_INFRA
        return 130 if summary.status == "interrupted" else 0

    @cli.command("locate")
    @click.argument("what", type=click.Choice(["config", "store", "candidates"]))
    @click.option("--candidates", "cands_dir", default=None)
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def locate_cmd(ctx: click.Context, what: str, cands_dir: str | None, as_json: bool):
        """Print where t2e keeps its config file, its store or the candidates folder."""
        if what == "config":
            path = config_path()
        elif what == "store":
            path = ctx.obj.store
        else:
            path = candidates_dir(cands_dir)
        if as_json:
            click.echo(json.dumps({what: str(path)}))
        else:
            click.echo(str(path))
