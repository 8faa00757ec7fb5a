"""What a JSON list file is, by the shape of its first item: tau2 task definitions (a
domain's tasks.json, an input of tau2) are no results and are refused by name, whichever
importer the file would otherwise reach (detect_format asks here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import open_regular
from .jsonstream import JsonStream, JsonStreamError

# a simulation's keys (tau2 0.x and 1.x, t2e's own JSONL): an item holding any of these is
# a run's record, never a task definition
_SIM_KEYS = ("task_id", "messages", "ticks", "reward_info", "termination_reason", "trial")

TASKS_FILE = ("a tau2 tasks file (a list of task definitions: id, user_scenario, "
              "evaluation_criteria), not results: nothing was imported. Import a results "
              "file instead (what a tau2 run writes: an object with info, tasks and "
              "simulations, or a results directory); a tasks file is read from its tau2 data "
              "directory by --data (t2e run, t2e score, t2e gate, t2e heldout register)")


def is_task_definition(item: Any) -> bool:
    """A tau2 task definition: a user scenario or evaluation criteria, no simulation keys."""
    return (isinstance(item, dict) and "id" in item
            and ("user_scenario" in item or "evaluation_criteria" in item)
            and not any(k in item for k in _SIM_KEYS))


def tasks_list(p: Path) -> bool:
    """Whether the JSON file `p` is a list whose first item is a task definition (read up to
    that item only; a file that is no valid JSON there is left to its importer to name)."""
    with open_regular(p) as fh:
        stream = JsonStream(fh)
        try:
            if stream.peek() != "[":
                return False
            return is_task_definition(next(iter(stream.iter_array()), None))
        except (JsonStreamError, RecursionError):
            return False
