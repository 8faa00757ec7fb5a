"""The scripted stand-in agent, labelled alike on every output.

The agent model `scripted` (t2e's deterministic agent, `engine/scripted_*.py`) exercises the
harness; its figures prove nothing about models. Every output that shows a run's results
says so from here: the CLI's text and tables (`runs`, `gate`, `scoreboard`, `show`,
`episodes`, `failures`, `flywheel`, `ablate`, `run`, `fork`), the gate's Markdown and JUnit
reports, the journal, and the app (`data_access.RunRow.scripted`, the gate screen). Machine
outputs carry it as a field (`stand_in`, the agent model), never as words inside a figure.
No textual import."""

from __future__ import annotations

from typing import Any, Iterable

SCRIPTED = "scripted"
# what a model column shows for the stand-in (the app's runs screen: "scripted (stand-in)")
MARK = "(stand-in)"
# the one sentence every results output adds when a stand-in run is among its figures
NOTE = "scripted stand-in agent: these figures prove nothing about models"


def is_stand_in(agent_model: str | None) -> bool:
    """Whether a run's agent model is the scripted stand-in (`scripted`, `scripted:...`)."""
    return (agent_model or "").lower().startswith(SCRIPTED)


def model_label(agent_model: str | None) -> str:
    """A run's agent as a model column shows it: `scripted (stand-in)` for the stand-in, the
    model otherwise, "" when no model is recorded (an imported file that names none)."""
    if not agent_model:
        return ""
    return f"{agent_model} {MARK}" if is_stand_in(agent_model) else agent_model


def note(agent_models: Iterable[str | None]) -> str | None:
    """NOTE when any of `agent_models` is the stand-in, else None."""
    return NOTE if any(is_stand_in(m) for m in agent_models) else None


def agent_models(conn: Any, run_ids: Iterable[str | None]) -> dict[str, str | None]:
    """run id -> agent model, for runs still stored and removed ones alike (the agent ledger,
    `agent_runs`, keeps a removed run's models: a scoreboard row outlives its runs)."""
    ids = sorted({r for r in run_ids if r})
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    out: dict[str, str | None] = {r: m for r, m in conn.execute(
        f"SELECT run_id, agent_model FROM agent_runs WHERE run_id IN ({marks})", ids)}
    out.update({r: m for r, m in conn.execute(
        f"SELECT run_id, agent_model FROM runs WHERE run_id IN ({marks})", ids)})
    return out
