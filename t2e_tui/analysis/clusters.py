"""Offline clustering of failures: no embedding model, only features a reader can check.

Two failures share a cluster when they share the top class, the tool at the failing step and
the shape of the argument diff, and the agent's words at the failing step overlap (Jaccard
>= SIMILARITY over word sets, ids and numbers dropped). Each cluster has one representative
(the member whose words overlap most with the others) and says what its members share."""

from __future__ import annotations

from dataclasses import dataclass, field

SIMILARITY = 0.5


@dataclass
class Cluster:
    key: dict                       # top class, tool, diff shape
    members: list = field(default_factory=list)      # episode ids
    words: list = field(default_factory=list)        # words every member's failing step shares
    representative: int | None = None
    seed: set = field(default_factory=set, repr=False)   # the first member's words (matching)
    _sets: list = field(default_factory=list, repr=False)

    @property
    def size(self) -> int:
        return len(self.members)

    def explain(self) -> str:
        parts = [f"class {self.key['class']}"]
        if self.key["tool"]:
            parts.append(f"tool {self.key['tool']}")
        if self.key["diff"]:
            parts.append(f"diff in {', '.join(self.key['diff'])}")
        if self.words:
            parts.append("agent says \"" + " ".join(self.words[:8]) + "\"")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"class": self.key["class"], "tool": self.key["tool"], "diff": self.key["diff"],
                "size": self.size, "representative": self.representative,
                "members": self.members, "shared_words": self.words, "explanation": self.explain()}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def cluster(analyses: list) -> list[Cluster]:
    """Clusters of the failed, non-infrastructure analyses, biggest first."""
    out: list[Cluster] = []
    by_key: dict = {}
    for a in analyses:
        if a.infra or not a.classes:
            continue
        f = a.features or {}
        key = {"class": a.top, "tool": f.get("tool"), "diff": list(f.get("diff") or [])}
        words = f.get("words") or []
        ws = set(words)
        group = by_key.setdefault((key["class"], key["tool"], tuple(key["diff"])), [])
        home = next((c for c in group if _jaccard(ws, c.seed) >= SIMILARITY), None)
        if home is None:
            home = Cluster(key, words=list(words), seed=ws)
            group.append(home)
            out.append(home)
        home.members.append(a.episode_id)
        home._sets.append(ws)
        home.words = [w for w in home.words if w in ws]      # what every member shares
    for c in out:
        scores = [sum(_jaccard(s, t) for t in c._sets) for s in c._sets]
        c.representative = c.members[max(range(len(scores)), key=scores.__getitem__)]
    out.sort(key=lambda c: (-c.size, c.key["class"]))
    return out


def purity(clusters: list[Cluster], label_of: dict) -> float:
    """Share of members whose label is their cluster's majority label."""
    total = hit = 0
    for c in clusters:
        labels = [label_of[m] for m in c.members if m in label_of]
        if labels:
            hit += max(labels.count(x) for x in set(labels))
            total += len(labels)
    return hit / total if total else 1.0
