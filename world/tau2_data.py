"""Reading a tau2 retail data directory (db.json, tasks.json, policy.md, split_tasks.json).

The directory is given by `--data DIR` or the env var TAU2_DATA_DIR, as tau2 itself uses it.
Accepted layouts, so users can point at what they have:
  DIR/db.json                       (the retail folder itself, e.g. ../shared/tau2/retail)
  DIR/retail/db.json                (a folder of domains, e.g. ../shared/tau2)
  DIR/tau2/domains/retail/db.json   (tau2's own `data` folder)
Every problem is a WorldError naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import RetailDB
from .errors import WorldError
from .tasks import Task, parse_splits, parse_tasks

ENV_VAR = "TAU2_DATA_DIR"


def data_dir_from(data_dir: str | os.PathLike | None) -> Path:
    """The data directory given, else $TAU2_DATA_DIR; a clear error when neither is set."""
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get(ENV_VAR)
        if not env:
            raise WorldError("no tau2 data directory: pass --data DIR or set TAU2_DATA_DIR "
                             "(a directory holding the retail db.json, e.g. ../shared/tau2/retail)")
        data_dir = env
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise WorldError(f"{path}: tau2 data directory does not exist or is not a directory")
    return path


def retail_dir(data_dir: str | os.PathLike | None, domain: str = "retail") -> Path:
    """The folder holding `<domain>`'s db.json under one of the accepted layouts."""
    root = data_dir_from(data_dir)
    for cand in (root, root / domain, root / "tau2" / "domains" / domain):
        if (cand / "db.json").is_file():
            return cand
    raise WorldError(f"{root}: no {domain} db.json found (looked in {root}/db.json, "
                     f"{root}/{domain}/db.json and {root}/tau2/domains/{domain}/db.json)")


def load_retail_db(data_dir: str | os.PathLike | None) -> RetailDB:
    """Only the records (what re-scoring a results file needs); cached per process."""
    return RetailDB.load(retail_dir(data_dir) / "db.json")


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise WorldError(f"{path}: file is missing") from None
    except OSError as exc:
        raise WorldError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorldError(f"{path}: not valid JSON ({exc})") from None


@dataclass
class Tau2Retail:
    """The parts of a tau2 retail data directory."""
    path: Path
    db: RetailDB
    db_raw_path: Path
    policy: str
    tasks: dict[str, Task]
    task_dicts: list[dict]
    splits: dict[str, list[str]]


def load_tau2_retail(data_dir: str | os.PathLike | None) -> Tau2Retail:
    """Read and check db.json, tasks.json, policy.md and split_tasks.json.

    split_tasks.json did not exist before tau2 v1; when absent the only split is `base`
    (all tasks), as tau2 defaults. Split entries naming unknown tasks are refused."""
    folder = retail_dir(data_dir)
    db = RetailDB.load(folder / "db.json")
    task_dicts = _read_json(folder / "tasks.json")
    tasks = parse_tasks(task_dicts, str(folder / "tasks.json"))
    if not tasks:
        raise WorldError(f"{folder / 'tasks.json'}: contains no tasks")
    policy_path = folder / "policy.md"
    try:
        policy = policy_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorldError(f"{policy_path}: file is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorldError(f"{policy_path}: cannot read ({exc})") from None
    if not policy.strip():
        raise WorldError(f"{policy_path}: policy is empty")
    split_path = folder / "split_tasks.json"
    if split_path.exists():
        splits = parse_splits(_read_json(split_path), tasks, str(split_path))
    else:
        splits = {"base": list(tasks)}
    return Tau2Retail(folder, db, folder / "db.json", policy, tasks, task_dicts, splits)
