"""The promotion rule: checks (vetoes), the strength of the evidence, and the verdict.

Every enabled check passes AND the paired test is significant at alpha (corrected for the
agents tried on a registered set: gate/heldout.py): promote when the evidence is clean heldout, else
`supported` (development, intersected, synthetic or tainted evidence: exit 4, and a person
promoting it needs --override --reason); checks pass but not significant -> inconclusive; any
failed check -> discard. Each failed check names the tasks behind it. Imported runs are
re-scored first (gate/rescore.py): recorded rewards or action matches that do not reproduce
make any verdict inconclusive. Evidence that cannot be vouched for (a re-scorable run not
re-scored, a setting or a grader only one run records) caps a passing verdict at inconclusive.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import T2EError
from .checks import Check
from .checks import checks as _checks
from .compare import Comparison, compare_runs
from .evidence import evidence_stats
from .grader import unverified_grader
from .leakage import RoleVerdict, comparison_role
from .metrics import RunMetrics, run_metrics
from .policy import CHECK_NAMES, Policy, load_policy
from .recording import existing_row, fingerprint, record_decision  # (and re-exported)
from .regression_set import regression_checks
from .rescore import differ_reason, rescore_comparison, unvouched_reason
from .rescore import warnings as rescore_warnings
from .runs import RunInfo, conn_of, refuse_self, resolve_run

EXIT_CODES = {"promote": 0, "discard": 1, "inconclusive": 3, "supported": 4}
# The verdicts that fail a CI job (README, "In CI"): discard and inconclusive. Supported
# (exit 4) passes there, the best verdict imported files can get; the JUnit report's verdict
# case fails exactly on these, so a CI that fails on JUnit failures agrees with the exit code.
FAILS_CI = frozenset({"discard", "inconclusive"})
CLEAN_GRADES = ("heldout", "transfer")


@dataclass
class GateResult:
    """Everything the gate decided and why; `to_dict()` is the `t2e gate --json` document."""
    decision: str
    comparison: Comparison
    checks: list[Check]
    disabled_checks: list[str]
    stats: dict
    role: RoleVerdict
    baseline_metrics: RunMetrics
    candidate_metrics: RunMetrics
    policy: Policy
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)
    rescore: dict = field(default_factory=dict)  # side -> rescore.SideRescore
    row_id: int | None = None
    reused: bool = False          # an identical earlier row was returned, none was added
    advice: dict | None = None    # the trial-budget advisor (gate/advisor.py)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    @property
    def evidence_role(self) -> str:
        return self.role.role

    @property
    def verdict_label(self) -> str:
        """`promote`, `supported (development)`, `discard`, `inconclusive`."""
        if self.decision == "supported":
            return f"supported ({self.evidence_role})"
        return self.decision

    @property
    def heldout_set(self) -> str | None:
        h = self.role.heldout
        return h.set["name"] if h is not None and h.set else None

    def deltas(self) -> dict:
        b, c = self.baseline_metrics, self.candidate_metrics
        out = {"reward": _sub(c.reward, b.reward), "pass_rate": _sub(c.pass_rate, b.pass_rate)}
        for kind in ("overall", "read", "write"):
            out[f"action_match_{kind}"] = _sub(c.action_match[kind], b.action_match[kind])
        for key in ("agent_cost", "tokens_in", "tokens_out", "mean_duration",
                    "mean_step_latency_ms", "max_steps", "too_many_errors"):
            out[key] = _sub(getattr(c, key), getattr(b, key))
        common = sorted(set(b.pass_hat_k) & set(c.pass_hat_k))
        out["pass_hat_k"] = {str(k): c.pass_hat_k[k] - b.pass_hat_k[k] for k in common}
        return out

    def to_dict(self, transitions: list | None = None) -> dict:
        """The verdict document; `transitions` replaces the per-task rows (TaskRow.to_dict
        of every row) when the caller has them in another form (`t2e gate --json` encodes
        them once per shape) or does not need them."""
        cmp = self.comparison
        return {
            "decision": self.decision,
            "verdict": self.verdict_label,
            "exit_code": self.exit_code,
            "row_id": self.row_id,
            "reused_row": self.reused,
            "baseline": _run_brief(cmp.baseline),
            "candidate": _run_brief(cmp.candidate),
            "tasks": cmp.task_ids,
            "intersected": cmp.intersected,
            "only_baseline": cmp.only_baseline,
            "only_candidate": cmp.only_candidate,
            "checks": [c.to_dict() for c in self.checks],
            "disabled_checks": self.disabled_checks,
            "stats": self.stats,
            "evidence_role": self.role.role,
            "claimed_role": self.role.claimed,
            "role_reasons": self.role.reasons,
            "role_notes": self.role.notes,
            "leaked_tasks": self.role.leaked_tasks,
            "heldout_set": self.role.heldout.to_dict() if self.role.heldout else None,
            "trial_budget": self.advice,
            "drafting_window": self.role.window.to_dict() if self.role.window else None,
            "reasons": self.reasons,
            "warnings": self.warnings,
            "rescore": {side: r.to_dict() for side, r in self.rescore.items()},
            "metrics": {"baseline": self.baseline_metrics.to_dict(),
                        "candidate": self.candidate_metrics.to_dict(),
                        "deltas": self.deltas()},
            "transitions": ([r.to_dict() for r in cmp.rows] if transitions is None
                            else transitions),
            "policy": self.policy.to_dict(),
        }


def _attribute_shopping(conn: Any, cmp: Comparison, role: RoleVerdict) -> None:
    """Say which outcome attributes were mapped onto foreign runs (`--reward-attr` judge_a,
    then judge_b): an outcome picked after seeing a verdict is picked by outcome. Such runs
    are imported, so never a clean first run (gate/heldout: an imported run's agent is
    unknown); the reason tells the reader why the outcome itself is suspect too."""
    from store.outcomes import attributes_tried

    runs = [r.run_id for r in (cmp.baseline, cmp.candidate) if r.grading == "foreign"]
    tried = attributes_tried(conn, runs) if runs else []
    if len(tried) > 1:
        role.reasons.append(f"outcome attributes tried on these runs: {', '.join(tried)}: the "
                            "outcome was chosen after another was gated")


def _grader_mismatch(conn: Any, cmp: Comparison) -> str | None:
    """Why the two runs' recorded rewards come from incompatible tau2 graders (None when they
    are comparable, or graded by t2e itself)."""
    from store import grader as store_grader

    return store_grader.mismatch(store_grader.of_run(conn, cmp.baseline.run_id),
                                 store_grader.of_run(conn, cmp.candidate.run_id))


def _run_brief(r: RunInfo) -> dict:
    return {"run_id": r.run_id, "name": r.name, "role": r.role, "world_id": r.world_id,
            "domain": r.domain, "candidate_hash": r.candidate_hash, "agent_model": r.agent_model}


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def evaluate(db: Any, baseline: str | RunInfo, candidate: str | RunInfo,
             policy: Policy | None = None, intersect: bool = False,
             alpha: float | None = None, data_dir: str | None = None) -> GateResult:
    """Apply the promotion rule to a pair of runs (nothing is written). `data_dir`: a tau2
    data directory to re-score imported retail/airline runs on (else $TAU2_DATA_DIR)."""
    policy = policy or load_policy()
    if alpha is not None:
        if not 0.0 < alpha < 1.0:
            raise T2EError(f"--alpha must be in (0, 1), got {alpha}")
        policy = dataclasses.replace(policy, alpha=alpha)  # never mutate the caller's policy
    conn = conn_of(db)
    cmp = compare_runs(conn, baseline, candidate, intersect=intersect)
    tasks = cmp.task_ids
    bm = run_metrics(conn, cmp.baseline.run_id, tasks, data=cmp.baseline_data)
    cm = run_metrics(conn, cmp.candidate.run_id, tasks, data=cmp.candidate_data)
    checks = _checks(conn, cmp, bm, cm, policy) + regression_checks(conn, cmp, policy)
    enabled = [c for c in checks if policy.enabled.get(c.name, True)]
    disabled = [n for n in CHECK_NAMES if not policy.enabled[n]]
    role = comparison_role(conn, cmp.baseline, cmp.candidate, tasks,
                           intersected=cmp.intersected,
                           attempted=tasks + list(cmp.no_scored_trials), alpha=policy.alpha)
    _attribute_shopping(conn, cmp, role)
    level = policy.alpha
    if role.heldout is not None and role.heldout.alpha is not None:
        level = role.heldout.alpha   # alpha spent across the agents tried on the set
    hset = role.heldout.set if role.heldout is not None else None
    registered = (hset.get("test") or "sign") if hset else None
    test, test_loosens = policy.test_for(registered, hset["name"] if hset else None)
    stats = evidence_stats(cmp, dataclasses.replace(policy, alpha=level, test=test))
    stats["alpha_uncorrected"] = policy.alpha
    stats["test_registered"] = registered
    clean = role.role in CLEAN_GRADES

    resc = rescore_comparison(conn, cmp, data_dir)
    reasons: list[str] = []
    failed = [c for c in enabled if not c.passed]
    forged = differ_reason(resc)
    # evidence nobody could vouch for: the best it can support is inconclusive (the
    # comparison is still computed and shown); a discard still stands
    grader = unverified_grader(conn, cmp.baseline, cmp.candidate)
    caps = [c for c in (unvouched_reason(resc), cmp.unverified_settings, grader) if c]
    if forged:  # rewards that are not the grader's: no verdict can rest on them
        decision = "inconclusive"
        reasons.append(forged)
    elif failed:
        decision = "discard"
        reasons += [f"{c.name} failed: {c.detail}" for c in failed]
    elif policy.require_significance and stats["p_value"] > level:
        decision = "inconclusive"
        reasons.append(
            f"checks pass but the difference is within noise: {stats['test']} p = "
            f"{stats['p_value']:.4g} > alpha = {level:.4g} ({len(stats['improved'])} task(s) "
            f"improved, {len(stats['worsened'])} worsened)")
        reasons += caps
    elif caps:
        decision = "inconclusive"
        reasons.append(f"all {len(enabled)} enabled checks pass; {stats['test']} p = "
                       f"{stats['p_value']:.4g}, but the evidence is not vouched for")
        reasons += caps
    else:
        loose = policy.loosened() + ([test_loosens] if test_loosens else [])
        decision = "promote" if clean and not loose else "supported"
        if policy.require_significance:
            reasons.append(f"all {len(enabled)} enabled checks pass; {stats['test']} p = "
                           f"{stats['p_value']:.4g} <= alpha = {level:.4g}")
        else:  # (p may be above alpha: the policy does not ask; say so, not '<=')
            reasons.append(f"all {len(enabled)} enabled checks pass; {stats['test']} p = "
                           f"{stats['p_value']:.4g} (significance not required)")
        if not clean:
            reasons.append(f"supported on {role.role} evidence, not clean heldout: not a "
                           f"promote (promoting it needs --override --reason)")
        if loose:
            reasons.append(f"the policy ({policy.source}) loosens the promotion rule "
                           f"({', '.join(loose)}): supported at most, not a promote "
                           f"(promoting it needs --override --reason)")
        graders = _grader_mismatch(conn, cmp)
        if graders:  # (the CLI refuses without --allow-grader-mismatch; the app asks here)
            decision = "supported"
            reasons.append(f"the recorded rewards were {graders}: their difference may come "
                           "from the grader, not the agent; supported at most, not a promote "
                           "(promoting it needs --override --reason)")
    if level != policy.alpha:
        reasons.append(f"alpha {policy.alpha} corrected to {level:.4g}: "
                       f"{role.heldout.alpha_reason()}")

    warnings = list(cmp.warnings)
    if grader and grader not in reasons:  # (a discard: the grader is still said)
        warnings.append(grader)
    if cmp.intersected:
        warnings.append(
            f"restricted to the {len(cmp.rows)} tasks both runs share: left out "
            f"{len(cmp.only_baseline)} only in the baseline, {len(cmp.only_candidate)} only in "
            f"the candidate; the verdict says nothing about those")
    for r in cmp.rows:
        if r.transition == "worsened":
            flips = ("" if r.baseline_flip_rate is None else
                     f"; the baseline's own trials disagree at rate {r.baseline_flip_rate:.2f}")
            warnings.append(f"task {r.task_id} dropped from {r.baseline_rate:.2f} to "
                            f"{r.candidate_rate:.2f} (smaller than a 1->0 regression{flips})")
    for side, m in (("baseline", bm), ("candidate", cm)):
        if m.infrastructure_errors:
            ids = sorted({e["task_id"] for e in m.infrastructure_errors})
            warnings.append(f"{side}: {len(m.infrastructure_errors)} infrastructure error(s) "
                            f"left out (tasks {', '.join(ids)})")
        if m.unscored:
            warnings.append(f"{side}: {len(m.unscored)} unscored episode(s) left out")
    warnings += _run_warnings(conn, cmp)
    warnings += rescore_warnings(resc)
    warnings += role.notes
    # how the drafting window was reckoned matters to a clean claim (views in it downgrade
    # it) and to any leaked task listed; said on every gate of imported runs, it was noise
    if role.window and (role.claimed in CLEAN_GRADES or role.leaked_tasks):
        warnings += role.window.notes
    if disabled:
        warnings.append(f"checks switched off by the policy: {', '.join(disabled)}")
    return GateResult(decision, cmp, enabled, disabled, stats, role, bm, cm, policy, reasons,
                      warnings, rescore=resc)


def _run_warnings(conn, cmp: Comparison) -> list[str]:
    """Things about the runs themselves a reader of the verdict should know."""
    out = []
    tasks = cmp.task_ids
    for side, run, data in (("baseline", cmp.baseline, cmp.baseline_data),
                            ("candidate", cmp.candidate, cmp.candidate_data)):
        if run.status != "complete":
            out.append(f"{side} run {run.label()} is {run.status}: compared on what finished")
        # the compared tasks as one JSON parameter (no bound-variable limit); no filter at all
        # when they are every task the run finished
        scope, args = "", ()
        if data is None or len(tasks) < len(data.outcomes):
            scope, args = " AND task_id IN (SELECT value FROM json_each(?))", (json.dumps(tasks),)
        # one scan of the run's episodes for both the relabel check and the judge flag, in
        # the index's (task, trial) order
        relabeled, judged = [], 0
        for task, likely, judge in conn.execute(
                f"SELECT task_id, likely_task_id, judge_dependent = 1 FROM episodes "
                f"WHERE run_id = ? AND status = 'done' AND ((likely_task_id IS NOT NULL "
                f"AND likely_task_id != task_id) OR judge_dependent = 1){scope}",
                (run.run_id, *args)):
            if likely is not None and task is not None and likely != task:
                relabeled.append((task, likely))
            judged += judge
        if relabeled:
            shown = ", ".join(f"{a}->{b}" for a, b in relabeled[:8])
            out.append(f"{side}: {len(relabeled)} episode(s) look mislabelled (label->likely "
                       f"task: {shown}); figures use the labels as given")
        if judged:
            out.append(f"{side}: {judged} episode reward(s) depend on an LLM judge's verdicts")
    return out


def gate(db: Any, baseline: str | RunInfo, candidate: str | RunInfo,
         policy: Policy | None = None, intersect: bool = False,
         alpha: float | None = None, new_row: bool = False,
         data_dir: str | None = None) -> GateResult:
    """evaluate + record_decision: what `t2e gate` and the gate screen do. Gating the same
    runs with the same policy and code to the same outcome returns the existing row
    (`result.reused`) unless `new_row`."""
    from .advisor import advise

    conn = conn_of(db)
    baseline, candidate = (r if isinstance(r, RunInfo) else resolve_run(conn, r)
                           for r in (baseline, candidate))
    refuse_self(baseline, candidate)  # evidence of nothing, yet it would get a row
    result = evaluate(db, baseline, candidate, policy=policy, intersect=intersect, alpha=alpha,
                      data_dir=data_dir)
    result.advice = advise(result, db)
    fp = fingerprint(result)
    row = None if new_row else existing_row(db, result, fp)
    if row is not None:
        result.row_id, result.reused = row, True
    else:
        record_decision(db, result, fp)
    return result
