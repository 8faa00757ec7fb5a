"""What a Harbor output folder is (`harbor_kind`: a job, a trial or neither), its trials, and
the files an import of it reads (`hashed_files`: what its content hash covers).

Harbor (the agent evaluation harness that defines ATIF) writes a job as
`JOB/config.json` (the job config: `job_name`, agents, datasets), `JOB/result.json` (the job's
result) and one folder per trial: `TRIAL/config.json` (the trial config: task, agent),
`TRIAL/result.json` (the trial's result: `task_name`, `trial_name`, `agent_info`,
`verifier_result.rewards`, `exception_info`, times), `TRIAL/agent/trajectory.json` (ATIF, when
the agent writes one) and `TRIAL/verifier/reward.txt` (or `reward.json`). The reader is
harbor.py; this module only looks at names, so folders.py and detect.py can ask it cheaply.
"""

from __future__ import annotations

from pathlib import Path

from .common import inside

TRAJECTORY = Path("agent") / "trajectory.json"
REWARD_TXT = Path("verifier") / "reward.txt"
REWARD_JSON = Path("verifier") / "reward.json"
# a trial's files an import reads, in this order (the ones present)
TRIAL_FILES = (Path("config.json"), Path("result.json"), TRAJECTORY, REWARD_TXT, REWARD_JSON)


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:
        return False


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


def is_trial(p: Path) -> bool:
    """A Harbor trial folder: its result.json or config.json beside an agent/ or verifier/
    folder (a trial still running has the folders and its config only)."""
    return ((_is_file(p / "result.json") or _is_file(p / "config.json"))
            and (_is_dir(p / "agent") or _is_dir(p / "verifier")))


def trial_folders(job: Path) -> list[Path]:
    """A job folder's trial folders, in name order (hidden entries and links out of the job
    passed over: only folders inside it are read)."""
    try:
        entries = sorted(job.iterdir())
    except OSError:
        return []
    return [f for f in entries if not f.name.startswith(".") and _is_dir(f)
            and inside(job, f) and is_trial(f)]


def linked_out(job: Path) -> list[str]:
    """The names of a job's trial folders that are links out of it (passed over by
    trial_folders, named by the import as skipped)."""
    try:
        entries = sorted(job.iterdir())
    except OSError:
        return []
    return [f.name for f in entries if not f.name.startswith(".") and _is_dir(f)
            and not inside(job, f) and is_trial(f)]


def harbor_kind(p: Path) -> str | None:
    """'trial', 'job' (a folder holding at least one trial folder) or None. A tau2 results
    directory (results.json, simulations/) is never a Harbor folder."""
    if not _is_dir(p) or (p / "results.json").exists() or (p / "simulations").exists():
        return None
    if is_trial(p):
        return "trial"
    return "job" if trial_folders(p) else None


def read_paths(p: Path) -> list[Path]:
    """Every path an import of Harbor folder `p` may read, present or not: a job's config.json
    and result.json, then each trial's TRIAL_FILES; for a trial, its own."""
    if harbor_kind(p) == "trial":
        return [p / f for f in TRIAL_FILES]
    files = [p / "config.json", p / "result.json"]
    for t in trial_folders(p):
        files.extend(t / f for f in TRIAL_FILES)
    return files


def hashed_files(p: Path) -> list[Path]:
    """The files an import of Harbor folder `p` reads (regular files inside it), in order."""
    return [f for f in read_paths(p) if _is_file(f) and inside(p, f)]
