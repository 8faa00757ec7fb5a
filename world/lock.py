"""The world lock: content hashes that say whether the world a run used is still the same.

* `world_hash` covers a domain's data (records, policy, tasks, splits) AND the world code (the
  source of world/*.py, world/mini_retail/* and world/mini_airline/*), because a changed tool or scorer changes the
  world as surely as changed records do. Recorded with every rerun.
* `task_content_hash` identifies one task definition (registered heldout sets record it per
  task, and the gate compares a run's tasks with it).
* `import_world_id` identifies the world of an imported tau2 file: we only have the domain name,
  the policy text and the embedded tasks, not tau2's code or DB, so it is a different kind of id
  (it cannot be verified against our code).

Both hash canonical JSON (sorted keys, compact separators, UTF-8), so they are deterministic
across runs and machines.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .tasks import DEFAULT_REWARD_BASIS

WORLD_DIR = Path(__file__).resolve().parent
_CODE_SUFFIXES = (".py", ".md", ".json")
_code_cache: dict[str, Any] = {}


def canonical_json(value: Any) -> str:
    """Sorted-key, compact JSON: the one text form every hash here is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def sha256_text(text: str) -> str:
    """Hex SHA-256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def world_code_files(root: Path = WORLD_DIR) -> list[Path]:
    """The world's code files: world/*.py and everything of our generated worlds
    (world/mini_retail, world/mini_airline; no caches)."""
    files = [p for p in root.glob("*.py")]
    for sub in ("mini_retail", "mini_airline"):
        mini = root / sub
        if mini.is_dir():
            files += [p for p in mini.rglob("*") if p.is_file() and p.suffix in _CODE_SUFFIXES
                      and "__pycache__" not in p.parts]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def world_code_hash(root: Path = WORLD_DIR) -> dict[str, str]:
    """{relative path: sha256 of bytes} of the world code, plus the combined hash under ''."""
    key = str(root)
    cached = _code_cache.get(key)
    files = world_code_files(root)
    stamp = tuple((str(p), st.st_mtime_ns, st.st_size) for p in files for st in (p.stat(),))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    per_file = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in files}
    out = dict(per_file)
    out[""] = sha256_text(canonical_json(per_file))
    _code_cache[key] = (stamp, out)
    return out


def data_hash(db: dict, policy: str, tasks: list[dict], splits: dict[str, list[str]]) -> dict:
    """Hashes of each part of a domain's data (db, policy, tasks, splits)."""
    return {
        "db": sha256_text(canonical_json(db)),
        "policy": sha256_text(policy),
        "tasks": sha256_text(canonical_json(tasks)),
        "splits": sha256_text(canonical_json(splits)),
    }


def world_hash(domain: str, db: dict, policy: str, tasks: list[dict],
               splits: dict[str, list[str]], *, code: dict[str, str] | None = None
               ) -> tuple[str, dict]:
    """(hash, detail) of a locked world: the domain name, its data parts and the code files.

    `detail` lists what went into the hash, so `world verify` can say which part changed."""
    code = world_code_hash() if code is None else code
    detail = {"domain": domain, "data": data_hash(db, policy, tasks, splits),
              "code": {k: v for k, v in code.items() if k}}
    return "w1-" + sha256_text(canonical_json(detail)), detail


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def task_content_hash(task: dict) -> str:
    """sha256 of one task definition as graded, the same whoever wrote it down: tau2's result
    files dump each task with its defaults filled in (null fields, an action's requestor
    'assistant', reward_basis ['DB', 'COMMUNICATE']) where its data files leave them out, so
    nulls are dropped and those defaults filled before hashing (world.tasks reads them so).
    Any other change, a word of the user's instructions or a gold argument, changes it."""
    d = _without_nulls(task)
    crit = d.get("evaluation_criteria")
    if isinstance(crit, dict):
        crit.setdefault("reward_basis", list(DEFAULT_REWARD_BASIS))
        for action in crit.get("actions") or []:
            if isinstance(action, dict):
                action.setdefault("requestor", "assistant")
    return sha256_text(canonical_json(d))


def import_world_id(domain_name: str, policy_text: str | None, tasks: list[dict]) -> str:
    """Identity of an imported run's world: domain + policy text + embedded tasks.

    Two files share it exactly when tau2 graded them with the same policy and task definitions;
    it says nothing about tau2's code or DB, so it cannot be verified against ours."""
    body = {"domain": domain_name, "policy": policy_text or "", "tasks": tasks}
    return "imp-" + sha256_text(canonical_json(body))


def changed_parts(old: dict, new: dict) -> list[str]:
    """Which parts differ between two world-hash details (e.g. 'data.db', 'code.tools.py')."""
    out = []
    if old.get("domain") != new.get("domain"):
        out.append("domain")
    for section in ("data", "code"):
        a, b = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{section}.{key}")
    return out
