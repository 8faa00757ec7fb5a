"""The failures report of a run (`t2e failures RUN [--vs BASELINE]`), shared by the CLI and
the failures screen: per failed episode its classes and first divergence; with a baseline,
the class deltas and, for each task that flips, where the two trajectories part."""

from __future__ import annotations

from store import INFRA

from .cache import analyse_run, class_counts, unscored_count, unscored_findings
from .classify import CLASSIFIER_VERSION, pair_divergence
from .outcome import run_is_foreign
from .trace import load_episodes


def _conn(db):
    return getattr(db, "conn", db)


def class_deltas(base: dict, cand: dict) -> list[dict]:
    """[{class, baseline, candidate, delta}] over every class either side has, biggest change
    first."""
    names = sorted(set(base) | set(cand))
    rows = [{"class": n, "baseline": base.get(n, 0), "candidate": cand.get(n, 0),
             "delta": cand.get(n, 0) - base.get(n, 0)} for n in names]
    rows.sort(key=lambda r: (-abs(r["delta"]), r["class"]))
    return rows


def flips(db, baseline: str, candidate: str) -> list[dict]:
    """Tasks whose first trial passes on one side and fails on the other, with both episode ids
    and the first step where the two trajectories part."""
    conn = _conn(db)

    def first(run):
        out = {}
        # scored trials only: an unscored episode (no reward) neither passes nor fails
        for eid, tid, reward in conn.execute(
                "SELECT episode_id, coalesce(likely_task_id, task_id), reward FROM episodes"
                " WHERE run_id = ? AND status = 'done' AND coalesce(termination_reason, '') !="
                " ? AND reward IS NOT NULL ORDER BY task_id, trial, ord", (run, INFRA)):
            out.setdefault(tid, (eid, abs(reward - 1) <= 1e-6))
        return out
    b, c = first(baseline), first(candidate)
    out = []
    for tid in sorted(set(b) & set(c), key=lambda t: (len(t), t)):
        (be, bp), (ce, cp) = b[tid], c[tid]
        if bp == cp:
            continue
        eb, ec = load_episodes(conn, [be, ce])
        out.append({"task_id": tid, "baseline_episode": be, "candidate_episode": ce,
                    "direction": "fixed" if cp else "regressed",
                    "pair_divergence": pair_divergence(eb, ec)})
    return out


def finding_counts(found) -> dict:
    """class name -> how many of the analyses `found` hold it (`unscored_counts`)."""
    out: dict = {}
    for a in found:
        for v in a.classes:
            out[v.name] = out.get(v.name, 0) + 1
    return out


def finding_words(classes) -> str:
    """An unscored episode's findings as `t2e failures` and the failures screen say them:
    `loop (steps 3, 5), tool_error_storm* ...` from (name, steps, source) triples (`*`: a
    human's label, as in the failures' lines)."""
    return ", ".join(name + ("*" if source == "human" else "")
                     + (f" (steps {', '.join(map(str, steps))})" if steps else "")
                     for name, steps, source in classes)


def _finding(a) -> dict:
    d = a.to_dict()
    if not d.get("flags"):
        d.pop("flags", None)
    return d


def shown_episodes(doc: dict) -> list[int]:
    """The episodes whose content a failures report shows (human or JSON): each listed
    failure and unscored finding (its explanation quotes the agent's words and tool
    arguments), every member of a cluster (the words they share) and both sides of a flip
    (where the two trajectories part). Counts and class names alone show none. The caller
    records a view of each (`store.queries.record_views`) before it prints."""
    ids = {e["episode_id"] for e in doc["episodes"] if e.get("classes")
           or e.get("first_divergence")}
    ids |= {e["episode_id"] for e in doc.get("unscored_findings") or []}
    ids |= {m for c in doc.get("clusters") or [] for m in c["members"]}
    for f in doc.get("flips") or []:
        ids |= {f["baseline_episode"], f["candidate_episode"]}
    return sorted(ids)


def failures_report(db, run_id: str, vs: str | None = None, clusters: bool = False) -> dict:
    """The `t2e failures --json` document (with `clusters` when asked). `episodes` and
    `counts` are failures only; `unscored` counts the episodes with no reward (never failed),
    `unscored_findings` / `unscored_counts` what the classes that need no gold found in them."""
    conn = _conn(db)
    analyses = analyse_run(conn, run_id)
    infra = [a for a in analyses if a.infra]
    eps = [a.to_dict() for a in analyses if not a.infra]
    for d in eps:
        d.pop("flags", None) if not d.get("flags") else None
    found = unscored_findings(conn, run_id)
    from ..standin import agent_models, is_stand_in

    model = agent_models(conn, [run_id]).get(run_id)
    doc = {"run_id": run_id, "agent_model": model, "stand_in": is_stand_in(model),
           "classifier_version": CLASSIFIER_VERSION, "episodes": eps,
           "counts": class_counts(conn, run_id), "infrastructure_excluded": len(infra),
           "unscored": unscored_count(conn, run_id), "foreign": run_is_foreign(conn, run_id),
           "unscored_findings": [_finding(a) for a in found],
           "unscored_counts": finding_counts(found)}
    if clusters:
        from .clusters import cluster
        doc["clusters"] = [c.to_dict() for c in cluster(analyses)]
    if vs is not None:
        base_counts = class_counts(conn, vs)
        doc["vs"] = vs
        doc["deltas"] = class_deltas(base_counts, doc["counts"])
        doc["flips"] = flips(conn, vs, run_id)
    return doc
