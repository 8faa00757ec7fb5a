"""The rerun engine and its model backends (no textual here).

Public API (see engine.py for the details of progress and cancellation):
`plan_run`, `execute_run`, `execute_run_async`, `resume_run`, `load_resume_plan`,
`run_summary`, `RunPlan`, `RunSummary`, `EpisodeDone`.

Exports are resolved lazily so that importing `t2e_tui.engine.types` (the scripted agent does)
does not pull in the store or the openai client.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "plan_run": "plan", "RunPlan": "plan", "system_prompt": "plan",
    "execute_run": "engine", "execute_run_async": "engine", "resume_run": "engine",
    "load_resume_plan": "engine", "run_summary": "engine", "RunSummary": "engine",
    "EpisodeDone": "engine",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = sorted(_EXPORTS)
