"""Re-scoring speed: retail or airline simulations per second on one core (target >= 500).

Usage: .venv/bin/python bench/score.py [--domain retail|airline] [--data DIR] [--seconds N] [FILES...]
Defaults to the domain's two shared tau2 results files and ../shared/tau2/<domain> as the data
directory.
Prints three figures:
  * score_episode only (messages already parsed; tasks re-parsed each pass, so gold DBs are
    rebuilt per pass as in a real `t2e score` run),
  * end to end per file (JSON parse + relabel check + scoring), as `t2e score` does,
  * the cost of one copy-on-write fork of the DB (retail: 1000 orders; airline: the 7 MB DB,
    300 flights, 500 users, 2000 reservations).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from world.kinds import db_class, env_for  # noqa: E402
from world.rescore import rescore  # noqa: E402
from world.scoring import score_episode  # noqa: E402
from world.tasks import parse_tasks  # noqa: E402


def main() -> None:
    shared = REPO.parent / "shared" / "tau2"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--domain", choices=["retail", "airline"], default="retail")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    args.files = args.files or sorted((shared / "results").glob(f"{args.domain}_*.json"))
    args.data = args.data or shared / args.domain
    if not args.files:
        sys.exit("no results files given and none found in ../shared/tau2/results")

    t0 = time.perf_counter()
    base = db_class(args.domain).load(args.data / "db.json")
    print(f"db load (once per process): {1000 * (time.perf_counter() - t0):.1f} ms")

    raw = [(p, p.read_text(encoding="utf-8")) for p in args.files]
    parsed = [json.loads(text) for _, text in raw]
    sims_per_pass = sum(len(d["simulations"]) for d in parsed)

    # 1. score_episode only. Rates are given per wall second and per CPU second of this
    # process (the second is fair on a shared machine: it is what one core does).
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < args.seconds:
        for data in parsed:
            tasks = parse_tasks(data["tasks"])
            for sim in data["simulations"]:
                score_episode(tasks[sim["task_id"]], sim["messages"], sim["termination_reason"],
                              base_db=base, recorded=sim["reward_info"])
        n += sims_per_pass
    rate = n / (time.perf_counter() - start)
    print(f"score_episode: {rate:,.0f} simulations/s wall, "
          f"{n / (time.process_time() - cpu):,.0f} per CPU second ({n} scored)")

    # 2. end to end: parse the file text, relabel check, score, compare.
    n, start, agree, cpu = 0, time.perf_counter(), 0, time.process_time()
    while time.perf_counter() - start < args.seconds:
        for path, text in raw:
            rep = rescore(json.loads(text), base, source=str(path))
            agree += rep["agree"]
            n += rep["simulations"]
    rate2 = n / (time.perf_counter() - start)
    print(f"t2e score end to end (JSON parse + relabel + score): {rate2:,.0f} simulations/s "
          f"wall, {n / (time.process_time() - cpu):,.0f} per CPU second ({agree}/{n} agree)")

    # 3. one fork.
    k, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.5:
        env_for(base)
        k += 1
    print(f"fork (a {args.domain} tool env on its own DB fork): "
          f"{1e6 * (time.perf_counter() - start) / k:.1f} µs")
    print("target: >= 500 simulations/s on one core")


if __name__ == "__main__":
    main()
