"""A task that is a variant of another: the store counts it as its base task.

`world/mini_retail/synthetic.py` makes pressure cases from a class's tasks, heldout ones
included: a variant keeps its base task's customer and orders and changes the wording, and
names its base in its definition (`t2e.synthetic.base`). Viewing or running a variant shows
the base task's scenario, so the evidence views and the agent ledger (the gate's heldout
rules) key a variant by its base too (`tasks.base_task_id`, `evidence_views.base_task_id`,
rows of `agent_run_tasks`: migration 14). The world stays as it is: it names the base; which
tasks a registered set holds is the store's business.
"""

from __future__ import annotations

from typing import Any


def base_task_id(task: Any) -> str | None:
    """The id of the task `task` (a tau2 Task dict) is a variant of, else None. Anything but
    a non-empty text or integer id is no base (a file's task may say anything)."""
    t2e = task.get("t2e") if isinstance(task, dict) else None
    syn = t2e.get("synthetic") if isinstance(t2e, dict) else None
    base = syn.get("base") if isinstance(syn, dict) else None
    if isinstance(base, bool) or not isinstance(base, (str, int)) or str(base) == "":
        return None
    return str(base)
