"""Reading a tau2 data directory (db.json, tasks.json, policy.md, split_tasks.json) of a domain
(retail or airline).

Where the folder is found, first match wins:
  * `--data DIR` (the `data_dir` argument), else
  * for airline: $TAU2_AIRLINE_DATA_DIR, then $TAU2_DATA_DIR; for retail: $TAU2_DATA_DIR.
Inside that directory, the accepted layouts (so users can point at what they have):
  DIR/<domain>/db.json               (a folder of domains, e.g. ../shared/tau2)
  DIR/tau2/domains/<domain>/db.json  (tau2's own `data` folder)
  DIR/db.json                        (the domain folder itself, e.g. ../shared/tau2/airline)
Every problem is a WorldError naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import WorldError
from .kinds import db_class
from .tasks import Task, parse_splits, parse_tasks

ENV_VAR = "TAU2_DATA_DIR"
DOMAIN_ENV = {"airline": "TAU2_AIRLINE_DATA_DIR"}


def data_dir_from(data_dir: str | os.PathLike | None, domain: str = "retail") -> Path:
    """The data directory given, else the domain's env var, else $TAU2_DATA_DIR."""
    if data_dir is None or str(data_dir) == "":
        own = DOMAIN_ENV.get(domain)
        env = (os.environ.get(own) if own else None) or os.environ.get(ENV_VAR)
        if not env:
            if own:
                raise WorldError(f"no tau2 {domain} data directory: pass --data DIR or set "
                                 f"{own} (the {domain} folder) or {ENV_VAR} (a folder holding "
                                 f"{domain}/, e.g. ../shared/tau2)")
            raise WorldError("no tau2 data directory: pass --data DIR or set TAU2_DATA_DIR "
                             f"(a directory holding the {domain} db.json, e.g. "
                             f"../shared/tau2/{domain})")
        data_dir = env
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise WorldError(f"{path}: tau2 data directory does not exist or is not a directory")
    return path


def domain_dir(data_dir: str | os.PathLike | None, domain: str = "retail") -> Path:
    """The folder holding `domain`'s db.json under one of the accepted layouts."""
    root = data_dir_from(data_dir, domain)
    for cand in (root / domain, root / "tau2" / "domains" / domain, root):
        if (cand / "db.json").is_file():
            return cand
    raise WorldError(f"{root}: no {domain} db.json found (looked in {root}/{domain}/db.json, "
                     f"{root}/tau2/domains/{domain}/db.json and {root}/db.json)")


def retail_dir(data_dir: str | os.PathLike | None, domain: str = "retail") -> Path:
    """Kept name: the retail (or given domain's) folder."""
    return domain_dir(data_dir, domain)


def load_db(data_dir: str | os.PathLike | None, domain: str = "retail"):
    """Only the records (what re-scoring a results file needs); cached per process."""
    return db_class(domain).load(domain_dir(data_dir, domain) / "db.json")


def load_retail_db(data_dir: str | os.PathLike | None):
    """The tau2 retail records."""
    return load_db(data_dir, "retail")


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
class Tau2Data:
    """The parts of a tau2 data directory of one domain."""
    path: Path
    db: Any
    db_raw_path: Path
    policy: str
    tasks: dict[str, Task]
    task_dicts: list[dict]
    splits: dict[str, list[str]]


Tau2Retail = Tau2Data  # the name before airline existed


def load_tau2(folder: str | os.PathLike | None, domain: str = "retail") -> Tau2Data:
    """Read and check db.json, tasks.json, policy.md and split_tasks.json of `domain`.

    split_tasks.json did not exist before tau2 v1; when absent the only split is `base`
    (all tasks), as tau2 defaults. Split entries naming unknown tasks are refused."""
    folder = domain_dir(folder, domain)
    db = db_class(domain).load(folder / "db.json")
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
    return Tau2Data(folder, db, folder / "db.json", policy, tasks, task_dicts, splits)


def load_tau2_retail(data_dir: str | os.PathLike | None) -> Tau2Data:
    """The tau2 retail data directory."""
    return load_tau2(data_dir, "retail")
