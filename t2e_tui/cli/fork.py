"""`t2e fork EPISODE --at STEP`: branch a recorded episode at a step and simulate the rest
again (pair-debugging). The work is in t2e_tui/engine/fork.py; this is the click layer."""

from __future__ import annotations

import click

from ..standin import note as stand_in_note
from ..textsafe import one_line
from .common import echo_json
from .common import open_store as _db
from .engine import EXIT_ALL_INFRA, never_reached


def register(cli: click.Group) -> None:
    """Add `fork` to the root group."""

    @cli.command("fork")
    @click.argument("episode")
    @click.option("--at", "at", type=int, required=True,
                  help="First step to simulate again (steps before it are kept).")
    @click.option("--candidate", default=None,
                  help="Candidate for the rest (file, name or stored hash). Default: the "
                       "draft (the latest saved version), else baseline.")
    @click.option("--candidates", "cands_dir", default=None, help="Candidates folder.")
    @click.option("--model", default="scripted", show_default=True,
                  help="scripted | openai:MODEL")
    @click.option("--user", default=None,
                  help="scripted | openai:MODEL (default: scripted on mini-retail, else the "
                       "agent's model: tau2 tasks need an LLM user).")
    @click.option("--judge", default=None, help="openai:MODEL for NL assertions.")
    @click.option("--grade", default=None, help="judge | db-communicate (default: the run's).")
    @click.option("--trials", type=int, default=1, show_default=True)
    @click.option("--seed", type=int, default=None, help="Run seed (default: fresh).")
    @click.option("--data", "data_dir", default=None,
                  help="tau2 data directory, for imported tau2-retail traces.")
    @click.option("--endpoint", default=None, help="Endpoint name from the config.")
    @click.option("--base-url", default=None, help="OpenAI-compatible base URL.")
    @click.option("--api-key-env", default=None,
                  help="Variable holding the API key ('' for a server without keys).")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def fork(episode: str, at: int, candidate: str | None, cands_dir: str | None, model: str,
             user: str | None, judge: str | None, grade: str | None, trials: int,
             seed: int | None, data_dir: str | None, endpoint: str | None,
             base_url: str | None, api_key_env: str | None, as_json: bool) -> int | None:
        """Fork EPISODE at step STEP: restore the world at STEP by replaying the recorded tool
        calls on a fresh copy of the task's records (refused, naming the step, if a replayed
        result differs from the recording), keep the conversation before STEP, and simulate
        the rest TRIALS times. The forks are stored as development evidence: the gate never
        counts them as heldout.

        EPISODE is an episode id, RUN:TASK[:TRIAL] or RUN:TASK/tTRIAL.

        \b
        Exit codes: 0 the forks ran; 75 no trial reached the model (every one ended
        infrastructure_error; one line on stderr); 2 bad input; 70 internal error."""
        from store.termination import episode_reward, episode_success, reward_text

        from ..engine.engine import ALL_INFRA
        from ..engine.fork import execute_fork, plan_fork

        db = _db()
        if candidate is None:
            candidate = _draft(db.conn)
        fp = plan_fork(db.conn, episode, at, candidate=candidate, candidates_dir=cands_dir,
                       model=model, user=user, judge=judge, grade=grade, trials=trials,
                       data_dir=data_dir, seed=seed, endpoint=endpoint, base_url=base_url,
                       api_key_env=api_key_env)
        store_path = click.get_current_context().obj.store
        summary = execute_fork(fp, store_path)
        rows = db.conn.execute(
            "SELECT episode_id, trial, reward, success, termination_reason, n_steps "
            "FROM episodes WHERE run_id = ? ORDER BY trial", (summary.run_id,)).fetchall()
        scripted = "scripted" in (fp.plan.agent.kind, fp.plan.user.kind)
        out = {"run_id": summary.run_id, "parent_episode": fp.parent_episode,
               "parent": fp.parent_ref, "at": fp.at, "kept_steps": fp.at,
               "replayed_calls": fp.restored.replayed, "restore_ms": round(fp.restore_ms, 2),
               "candidate": fp.plan.candidate.name, "agent": fp.plan.agent.label,
               "user": fp.plan.user.label, "role": "development",
               "scripted_stand_in": scripted,
               "forks": [{"episode_id": r[0], "trial": r[1],
                          "reward": episode_reward(r[2], r[4]),
                          "success": None if episode_success(r[3], r[4]) is None else bool(r[3]),
                          "termination_reason": r[4], "steps": r[5]} for r in rows]}
        # as `t2e run`: no trial reached the model, nothing was measured -> exit 75
        all_infra = summary.status == ALL_INFRA
        if all_infra:
            click.echo(never_reached(f"fork run {summary.run_id}", f"{len(rows)} trial(s)",
                                     "fork again"), err=True)
        if as_json:
            echo_json(out)
            return EXIT_ALL_INFRA if all_infra else None
        click.echo(f"forked {one_line(fp.parent_ref, 60)} (episode {fp.parent_episode}) at step "
                   f"{fp.at}: world restored from {fp.restored.replayed} recorded call(s) in "
                   f"{fp.restore_ms:.1f} ms; run {summary.run_id} (development evidence)")
        click.echo(f"candidate {one_line(fp.plan.candidate.name, 40)}, agent "
                   f"{fp.plan.agent.label}, user {fp.plan.user.label}")
        note = stand_in_note([fp.plan.agent.label])
        if note:
            click.echo(f"note: {note}")
        for r in rows:
            ok = episode_success(r[3], r[4])
            mark = "✓" if ok else "✗" if ok is not None else "–"
            click.echo(f"  {mark} trial {r[1]}  episode {r[0]}  reward {reward_text(r[2], r[4])}"
                       f"  {r[4]}  {r[5]} steps")
        if rows:
            click.echo(f"compare: t2e show {fp.parent_episode} --vs {rows[0][0]}")
        return EXIT_ALL_INFRA if all_infra else None


def _draft(conn) -> str | None:
    """The draft: the latest saved candidate version that is not an ablation variant."""
    from ..candidate_versions import ablated_from, list_versions

    for v in reversed(list_versions(conn)):
        if ablated_from(v) is None:
            return v.hash
    return None
