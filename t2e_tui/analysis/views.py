"""What the UI shows of the failure analysis, computed in the core (no textual): the class
table of a run (or a pair, with deltas), its failed episodes with their classes, and a one-line
brief of an episode for the compare header and the tasks screen. Human labels win here too."""

from __future__ import annotations

from dataclasses import dataclass

from .cache import analysis_of, class_counts, ensure_classified, unscored_findings
from .classify import CLASSIFIER_VERSION
from .labels import labels_for
from .outcome import FAILED_SQL
from .report import class_deltas, finding_counts, finding_words


@dataclass
class FailedEpisode:
    episode_id: int
    run_id: str
    task_id: str
    trial: int | None
    classes: list            # names, top first
    human: bool              # a human label changed them
    first_step: int | None
    why: str | None          # None until asked for (`why_of`): parsing 10k results is slow
    unscored: bool = False   # not failed (no reward): what the classes needing no gold found
    said: str = ""           # an unscored episode's findings in `t2e failures`' words


def _conn(db):
    return getattr(db, "conn", db)


def class_table(db, run_id: str, vs: str | None = None) -> list[dict]:
    """[{class, baseline, candidate, delta}] for a pair, [{class, candidate}] for one run."""
    conn = _conn(db)
    cand = class_counts(conn, run_id)
    if vs is None:
        return [{"class": k, "candidate": v} for k, v in sorted(cand.items(), key=lambda kv: (-kv[1], kv[0]))]
    return class_deltas(class_counts(conn, vs), cand)


def failed_count(db, run_id: str) -> int:
    """Failed episodes of the run with a cached result (infrastructure and unscored excluded:
    an episode with no reward did not fail)."""
    return _conn(db).execute(
        "SELECT count(*) FROM failure_analyses f JOIN episodes e ON e.episode_id = f.episode_id"
        " WHERE f.run_id = ? AND f.classifier_version = ? AND f.top_class != 'infrastructure'"
        f" AND {FAILED_SQL}", (run_id, CLASSIFIER_VERSION)).fetchone()[0]


def why_of(db, episode_id: int) -> str:
    """The top verdict's one sentence of why (human labels applied)."""
    a = analysis_of(_conn(db), episode_id)
    return a.classes[0].why if a is not None and a.classes else ""


def failed_episodes(db, run_id: str, *, ensure: bool = True) -> list[FailedEpisode]:
    """Every failed episode of the run (classified now if needed), infrastructure excluded."""
    conn = _conn(db)
    if ensure:
        ensure_classified(conn, run_id)
    names: dict = {}
    for eid, name in conn.execute(
            "SELECT episode_id, name FROM failure_analysis_classes WHERE run_id = ? AND"
            " classifier_version = ? AND kind = 'agent' ORDER BY episode_id, rank",
            (run_id, CLASSIFIER_VERSION)):
        names.setdefault(eid, []).append(name)
    rows = conn.execute(
        "SELECT f.episode_id, coalesce(e.likely_task_id, e.task_id), e.trial, f.first_step"
        " FROM failure_analyses f JOIN episodes e ON e.episode_id = f.episode_id WHERE"
        " f.run_id = ? AND f.classifier_version = ? AND f.top_class != 'infrastructure'"
        f" AND {FAILED_SQL} ORDER BY e.ord", (run_id, CLASSIFIER_VERSION)).fetchall()
    out = [FailedEpisode(eid, run_id, tid, trial, names.get(eid, []), False, step, None)
           for eid, tid, trial, step in rows]
    labelled = labels_for(conn, [r.episode_id for r in out]) if out else {}
    for r in out:
        if r.episode_id in labelled:
            a = analysis_of(conn, r.episode_id)
            if a is not None:
                r.classes = [v.name for v in a.classes]
                r.human = True
                r.first_step = (a.first_divergence or {}).get("step")
                r.why = a.classes[0].why if a.classes else ""
    return out


def unscored_view(db, run_id: str) -> tuple[list[dict], list[FailedEpisode]]:
    """What `t2e failures` lists for the run's unscored episodes (no reward: not failures),
    from the same analyses: [{class, candidate, unscored}] (its `unscored_counts`, most
    first) and each episode in which a class that needs no gold holds, with its words."""
    found = unscored_findings(_conn(db), run_id)
    counts = finding_counts(found)
    table = [{"class": k, "candidate": v, "unscored": True}
             for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    eps = [FailedEpisode(a.episode_id, run_id, a.task_id, a.trial, [v.name for v in a.classes],
                         any(v.source == "human" for v in a.classes), min(a.classes[0].steps) if a.classes[0].steps else None,
                         a.classes[0].why, unscored=True,
                         said=finding_words((v.name, v.steps, v.source) for v in a.classes))
           for a in found]
    return table, eps


def brief(db, episode_id: int | None) -> str | None:
    """`step 21 · missing_write, communicate_miss` (the first-divergence step, then the
    classes; a `*` marks a human label), or None for an episode that did not fail (passed,
    running, or unscored: no reward, see `unscored_brief`)."""
    if episode_id is None:
        return None
    a = analysis_of(_conn(db), episode_id)
    if a is None:
        return None
    names = ", ".join(v.name + ("*" if v.source == "human" else "") for v in a.classes)
    flags = "".join(f" [{v.name}]" for v in a.flags)
    step = (a.first_divergence or {}).get("step")
    # the step first: a narrow header cuts the end of the line
    return (f"step {step} · " if step is not None else "") + f"{names}{flags}"


def unscored_brief(db, episode_id: int | None) -> str | None:
    """`unscored · loop at step 7`: what the classes that need no gold found in an unscored
    episode (no reward, so not failed), or None (scored, or nothing found). Never "fails":
    the compare header shows it as is, beside the side's name."""
    if episode_id is None:
        return None
    a = analysis_of(_conn(db), episode_id, unscored=True)
    if a is None:
        return None
    found = ", ".join(v.name + ("*" if v.source == "human" else "")
                      + (f" at step {min(v.steps)}" if v.steps else "") for v in a.classes)
    return f"unscored · {found}"


def episode_classes(db, run_ids: list) -> dict:
    """episode_id -> agent class names (top first) of every failed episode of the runs,
    classified now if needed; human labels applied."""
    conn = _conn(db)
    out: dict = {}
    for rid in run_ids:
        if rid is None:
            continue
        for e in failed_episodes(conn, rid):
            out[e.episode_id] = e.classes
    return out
