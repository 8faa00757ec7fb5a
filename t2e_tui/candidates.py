"""Candidates: one instruction per text file, with a small front matter.

    ---
    name: cross-order-v1
    parent: baseline            # a name or a content hash
    hypothesis: Look up delivered orders when the customer says "the same as ...".
    domains: [retail]           # optional: the domains it targets (see gate/transfer.py)
    ---
    <instruction body>

The identity of a candidate is the sha256 of its *body* only, with newlines normalised to \n,
trailing whitespace stripped from every line and from the end. The front matter is metadata.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from world.errors import shown_path

_FM = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n?", re.S)


class CandidateError(ValueError):
    """A candidate file that can't be used; the message names the file and the problem."""


@dataclass
class Candidate:
    name: str
    body: str
    parent: str | None = None
    hypothesis: str | None = None
    path: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return body_hash(self.body)

    @property
    def short(self) -> str:
        return self.hash[:10]

    def rule_lines(self) -> list[str]:
        """Instruction lines that are list items (`- `, `* `, `1.`): the unit of ablation."""
        return [ln for ln in normalise(self.body).split("\n") if _RULE.match(ln)]

    def to_text(self) -> str:
        fm = {"name": self.name, "parent": self.parent or "null",
              "hypothesis": (self.hypothesis or "").replace("\n", " ")}
        for k, v in self.meta.items():
            if k not in fm:
                fm[k] = str(v).replace("\n", " ")
        head = "\n".join(f"{k}: {v}" for k, v in fm.items())
        return f"---\n{head}\n---\n{normalise(self.body)}\n"


_RULE = re.compile(r"^\s*(?:[-*]\s+|\d+[.)]\s+)\S")


def normalise(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n").rstrip()


def body_hash(body: str) -> str:
    return hashlib.sha256(normalise(body).encode("utf-8")).hexdigest()


def parse(text: str, *, path: Path | None = None, default_name: str | None = None) -> Candidate:
    """Parse a candidate file's text. A file without front matter is all body."""
    where = str(path) if path else "<candidate>"
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    meta: dict[str, str] = {}
    m = _FM.match(text)
    body = text
    if m:
        body = text[m.end():]
        for n, line in enumerate(m.group(1).split("\n"), start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if ":" not in line:
                raise CandidateError(f"{where}: front matter line {n} is not 'key: value': {line!r}")
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    elif text.startswith("---\n"):
        raise CandidateError(f"{where}: front matter opened with '---' but never closed")
    name = meta.pop("name", None) or default_name or (path.stem if path else "candidate")
    parent = meta.pop("parent", None)
    if parent in ("", "null", "none", "None", "~"):
        parent = None
    hypothesis = meta.pop("hypothesis", None) or None
    if "domains" in meta:
        _check_domains(meta["domains"], where)
    return Candidate(name=name, body=normalise(body), parent=parent, hypothesis=hypothesis,
                     path=path, meta=meta)


DOMAIN_NAMES = ("retail", "airline", "mini-retail", "tau2-retail", "mini-airline", "tau2-airline")


def _check_domains(value: str, where: str) -> None:
    """`domains: [retail]` (the domains a candidate targets; the gate screen says when it was
    never checked outside them): a list of known domain names."""
    items = [x.strip().strip("'\"") for x in value.strip().strip("[]").split(",")]
    items = [x for x in items if x]
    bad = [x for x in items if x not in DOMAIN_NAMES]
    if not items or bad:
        raise CandidateError(f"{where}: front matter 'domains' must list known domains "
                             f"({', '.join(DOMAIN_NAMES)}), e.g. 'domains: [retail]'; got "
                             f"{value!r}")


def load(path: str | Path) -> Candidate:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise CandidateError(f"{shown_path(p)}: no such candidate file") from None
    except IsADirectoryError:
        raise CandidateError(f"{shown_path(p)}: is a directory, not a candidate file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CandidateError(f"{shown_path(p)}: not valid UTF-8 (byte {exc.start})") from None
    return parse(text, path=p)


def packaged_baseline() -> Candidate:
    """The baseline shipped inside the package, so an installed t2e works outside a checkout."""
    text = resources.files("t2e_tui").joinpath("data/baseline.md").read_text("utf-8")
    return parse(text, default_name="baseline")


def resolve(ref: str | None, candidates_dir: Path | None = None) -> Candidate:
    """A candidate from a path, or a name in the candidates folder, or the packaged baseline."""
    if ref is None or ref == "baseline":
        d = candidates_dir or Path.cwd() / "candidates"
        if (d / "baseline.md").exists():
            return load(d / "baseline.md")
        return packaged_baseline()
    p = Path(ref)
    if p.exists():
        return load(p)
    d = candidates_dir or Path.cwd() / "candidates"
    for suffix in ("", ".md", ".txt"):
        q = d / f"{ref}{suffix}"
        if q.is_file():
            return load(q)
    raise CandidateError(f"{ref}: no such candidate (not a file, and not a name in {d})")


def list_dir(candidates_dir: Path) -> list[Candidate]:
    out = []
    if candidates_dir.is_dir():
        for p in sorted(candidates_dir.iterdir()):
            if p.suffix in (".md", ".txt") and p.is_file():
                out.append(load(p))
    return out
