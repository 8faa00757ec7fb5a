"""The gate's per-run figures as they were computed before issue 18, one episode and one task
JSON at a time: the oracle tests/test_gate_scale.py compares the read-once code against.
Kept deliberately naive; do not optimise."""

from __future__ import annotations

import json

from t2e_tui.gate.metrics import INFRA, KINDS, ActionMatch, Episode, RunMetrics, TaskOutcome
from t2e_tui.gate.runs import conn_of
from t2e_tui.gate.stats import flip_rate, is_success, run_pass_hat_k  # noqa: F401


def load_episodes(db, run_id):
    rows = conn_of(db).execute(
        "SELECT episode_id, task_id, trial, reward, termination_reason, agent_cost, user_cost, "
        "duration, tokens_in, tokens_out FROM episodes "
        "WHERE run_id = ? AND status = 'done' ORDER BY task_id, trial, ord, episode_id",
        (run_id,)).fetchall()
    return [Episode(r[0], str(r[1]) if r[1] is not None else "", *r[2:]) for r in rows]


def outcomes_from_episodes(episodes):
    out = {}
    for ep in episodes:
        t = out.setdefault(ep.task_id, TaskOutcome(ep.task_id))
        if not ep.scored:
            why = "infrastructure_error" if ep.termination_reason == INFRA else "not scored"
            t.excluded.append({"episode_id": ep.episode_id, "trial": ep.trial, "why": why})
            continue
        t.rewards.append(float(ep.reward))
        t.successes.append(ep.success)
        t.terminations.append(ep.termination_reason)
        t.episode_ids.append(ep.episode_id)
    return out


def task_outcomes(db, run_id):
    return outcomes_from_episodes(load_episodes(db, run_id))


def action_rows(db, episode_ids):
    out = {}
    conn = conn_of(db)
    for i in range(0, len(episode_ids), 500):
        chunk = episode_ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for eid, kind, met in conn.execute(
                f"SELECT episode_id, tool_kind, met FROM checks WHERE kind = 'action' "
                f"AND episode_id IN ({marks})", chunk):
            out.setdefault(eid, []).append((kind, met))
    return out


def _count(res, kind, met):
    res["overall"].total += 1
    res["overall"].matched += int(met)
    if kind in ("read", "write"):
        res[kind].total += 1
        res[kind].matched += int(met)


def action_match(db, episode_ids, gold_by_episode=None, rows=None):
    res = {k: ActionMatch() for k in KINDS}
    if not episode_ids:
        return res
    if rows is None:
        rows = action_rows(db, episode_ids)
    wanted = set(episode_ids)
    for eid in wanted:
        for kind, met in rows.get(eid, ()):
            if met is not None:
                _count(res, kind, bool(met))
    for eid, kinds in (gold_by_episode or {}).items():
        if eid in rows or eid not in wanted:
            continue
        for kind in kinds:
            _count(res, kind, False)
    return res


def gold_action_kinds(db, run_id):
    from store.writer import tool_kind

    out = {}
    for task_id, text in conn_of(db).execute(
            "SELECT task_id, task_json FROM tasks WHERE run_id = ?", (run_id,)):
        try:
            task = json.loads(text)
        except (TypeError, ValueError):
            continue
        crit = task.get("evaluation_criteria") or {} if isinstance(task, dict) else {}
        actions = crit.get("actions") or [] if isinstance(crit, dict) else []
        out[str(task_id)] = [tool_kind(str(a.get("name") or "")) for a in actions
                             if isinstance(a, dict)]
    return out


def mean_step_latency(db, episode_ids):
    total, n = 0.0, 0
    conn = conn_of(db)
    for i in range(0, len(episode_ids), 500):
        chunk = episode_ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        s, c = conn.execute(f"SELECT sum(latency_ms), count(latency_ms) FROM steps "
                            f"WHERE episode_id IN ({marks})", chunk).fetchone()
        total += s or 0.0
        n += c or 0
    return total / n if n else None


def run_metrics(db, run_id, task_ids=None):
    keep = None if task_ids is None else set(task_ids)
    eps = [e for e in load_episodes(db, run_id) if keep is None or e.task_id in keep]
    scored = [e for e in eps if e.scored]
    outcomes = outcomes_from_episodes(eps)
    gold = gold_action_kinds(db, run_id)
    am = action_match(db, [e.episode_id for e in scored],
                      {e.episode_id: gold.get(e.task_id, []) for e in scored})
    terms = {}
    for e in scored:
        key = e.termination_reason or "not recorded"
        terms[key] = terms.get(key, 0) + 1

    def total(values):
        vals = [v for v in values if v is not None]
        return sum(vals) if vals else None

    durations = [e.duration for e in scored if e.duration is not None]
    return RunMetrics(
        run_id=run_id,
        tasks=sum(1 for t in outcomes.values() if t.n_trials),
        episodes=len(scored),
        reward=(sum(e.reward for e in scored) / len(scored)) if scored else None,
        pass_rate=(sum(e.success for e in scored) / len(scored)) if scored else None,
        pass_hat_k=run_pass_hat_k([(sum(t.successes), t.n_trials) for t in outcomes.values()]),
        action_match={k: v.rate for k, v in am.items()},
        action_counts={k: [v.matched, v.total] for k, v in am.items()},
        max_steps=terms.get("max_steps", 0),
        too_many_errors=terms.get("too_many_errors", 0),
        terminations=terms,
        infrastructure_errors=[{"episode_id": e.episode_id, "task_id": e.task_id,
                                "trial": e.trial} for e in eps if e.termination_reason == INFRA],
        unscored=[{"episode_id": e.episode_id, "task_id": e.task_id, "trial": e.trial}
                  for e in eps if e.termination_reason != INFRA and e.reward is None],
        agent_cost=total([e.agent_cost for e in scored]),
        user_cost=total([e.user_cost for e in scored]),
        tokens_in=total([e.tokens_in for e in scored]),
        tokens_out=total([e.tokens_out for e in scored]),
        mean_duration=(sum(durations) / len(durations)) if durations else None,
        total_duration=sum(durations) if durations else None,
        mean_step_latency_ms=mean_step_latency(db, [e.episode_id for e in scored]),
    )


def per_task_action_match(conn, cmp):
    gold_b = gold_action_kinds(conn, cmp.baseline.run_id)
    gold_c = gold_action_kinds(conn, cmp.candidate.run_id)
    rows = action_rows(conn, [e for r in cmp.rows
                              for e in r.baseline_episode_ids + r.candidate_episode_ids])
    out = {}
    for r in cmp.rows:
        sides = []
        for eids, gold in ((r.baseline_episode_ids, gold_b), (r.candidate_episode_ids, gold_c)):
            kinds = gold.get(r.task_id, [])
            am = action_match(conn, eids, {e: kinds for e in eids}, rows)
            sides.append({k: (v.matched, v.total) for k, v in am.items()})
        out[r.task_id] = tuple(sides)
    return out


def run_warnings(conn, cmp):
    out = []
    tasks = cmp.task_ids
    marks = ",".join("?" * len(tasks))
    for side, run in (("baseline", cmp.baseline), ("candidate", cmp.candidate)):
        if run.status != "complete":
            out.append(f"{side} run {run.label()} is {run.status}: compared on what finished")
        relabeled = conn.execute(
            f"SELECT task_id, likely_task_id FROM episodes WHERE run_id = ? AND status = 'done' "
            f"AND likely_task_id IS NOT NULL AND likely_task_id != task_id "
            f"AND task_id IN ({marks})", (run.run_id, *tasks)).fetchall()
        if relabeled:
            shown = ", ".join(f"{a}->{b}" for a, b in relabeled[:8])
            out.append(f"{side}: {len(relabeled)} episode(s) look mislabelled (label->likely "
                       f"task: {shown}); figures use the labels as given")
        judged = conn.execute(
            f"SELECT count(*) FROM episodes WHERE run_id = ? AND status = 'done' "
            f"AND judge_dependent = 1 AND task_id IN ({marks})", (run.run_id, *tasks)).fetchone()[0]
        if judged:
            out.append(f"{side}: {judged} episode reward(s) depend on an LLM judge's verdicts")
    return out
