"""The gate: metrics, statistics, the promotion rule, the leakage guard and the scoreboard.

Core layer: never imports textual. Every function takes the store as a sqlite3 connection or a
sqlite_utils Database, and runs as ids, unique id prefixes or unique names.

API for the TUI and the workbench (compute transitions here, never twice):

- `task_outcomes(db, run_id) -> dict[task_id, TaskOutcome]`
  TaskOutcome: `.rewards` (scored trials, trial order), `.successes`, `.terminations`,
  `.rate` (success rate; None if every episode was an infrastructure error), `.mean_reward`,
  `.flip_rate` (share of trial pairs that disagree), `.excluded` (infra/unscored episodes).
- `compare_runs(db, baseline, candidate, intersect=False) -> Comparison`
  `Comparison.rows`: one `TaskRow` per shared task, in task order, with `task_id`,
  `baseline` / `candidate` (trial rewards), `baseline_rate` / `candidate_rate`,
  `transition` in regressed | fixed | both_pass | both_fail | flaky | improved | worsened,
  `baseline_terminations` / `candidate_terminations`, `baseline_flip_rate`,
  `candidate_flip_rate`, episode ids of both sides. Helpers: `.fixes`, `.regressions`,
  `.improved`, `.worsened`, `.flaky`, `.of("fixed", ...)`, `.to_dict()`.
  Raises `T2EError` (exit 2) for different worlds, different experiment settings
  (`settings.check_settings`: only the agent under test may differ), or different task sets
  unless intersect.
- `run_metrics(db, run_id, task_ids=None) -> RunMetrics` (reward, pass rate, pass^k,
  action match overall/read/write with None = n/a, termination counts, infra errors apart,
  cost, tokens, latency).
- `evaluate(db, baseline, candidate, policy=None, intersect=False, alpha=None) -> GateResult`
  (the verdict, checks, stats, evidence role; `.to_dict()` is the `t2e gate --json` shape),
  `record_decision(db, result) -> row_id`, `gate(...)` = evaluate + record.
- `leaked_tasks(db, candidate_hash, domain, task_ids) -> list[task_id]` viewed inside the
  candidate's drafting window (for the launcher's pre-launch warning).
- `scoreboard_rows(db) -> list[dict]` (`manifests` cites each run's manifest by run id and
  sha256; `human_history` keeps every human decision, overrides included),
  `row_manifests(db, row_id)` (the full manifests behind a row),
  `record_human_decision(db, row_id, decision, ...)` (returns what it `replaces`).
- `load_policy(path=None) -> Policy` (TOML; default `t2e_tui/data/gate_policy.toml`).
"""

from __future__ import annotations

from .compare import TRANSITIONS, Comparison, TaskRow, compare_runs, transition
from .leakage import comparison_role, drafting_window, leaked_tasks
from .metrics import RunMetrics, TaskOutcome, run_metrics, task_outcomes
from .policy import CHECK_NAMES, Policy, load_policy
from .rules import GateResult, evaluate, gate, record_decision
from .runs import RunInfo, resolve_run
from .scoreboard import COLUMNS as SCOREBOARD_COLUMNS
from .scoreboard import record_human_decision, row_manifests, scoreboard_rows

__all__ = [
    "TRANSITIONS", "Comparison", "TaskRow", "compare_runs", "transition",
    "comparison_role", "drafting_window", "leaked_tasks",
    "RunMetrics", "TaskOutcome", "run_metrics", "task_outcomes",
    "CHECK_NAMES", "Policy", "load_policy",
    "GateResult", "evaluate", "gate", "record_decision",
    "RunInfo", "resolve_run",
    "SCOREBOARD_COLUMNS", "record_human_decision", "row_manifests", "scoreboard_rows",
]
