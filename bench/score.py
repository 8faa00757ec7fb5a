"""Re-scoring speed: retail or airline simulations per second on one core (target >= 500).

Usage: .venv/bin/python bench/score.py [--domain retail|airline] [--data DIR] [--seconds N] [FILES...]
       .venv/bin/python bench/score.py --whole N [--jobs J]   # `t2e score` as a whole process

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
    ap.add_argument("--whole", type=int, default=0, metavar="N",
                    help="instead: write a retail file of N sampled simulations (bench/import.py's "
                         "write_sampled) and time `t2e score` on it as a child process")
    ap.add_argument("--jobs", default=None, help="with --whole: T2E_SCORE_JOBS for the child")
    ap.add_argument("--keep", type=Path, default=None, help="with --whole: reuse/keep this file")
    args = ap.parse_args()
    if args.whole:
        return whole(args, shared)
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


def whole(args, shared: Path) -> None:
    """`t2e score FILE --json` in a child process: wall, CPU (user+sys of the child and its
    workers), peak RSS (the biggest single process: the child or one of its workers)."""
    import os
    import subprocess
    import tempfile

    sys.path.insert(0, str(REPO / "bench"))
    from importlib import import_module

    write_sampled = import_module("import").write_sampled
    tmp = None
    f = args.keep
    if f is None:
        tmp = tempfile.mkdtemp(prefix="t2e-score-")
        f = Path(tmp) / "sampled.json"
    if not f.exists():
        write_sampled(f, args.whole, None)
    print(f"file: {f.stat().st_size / 1e6:,.0f} MB, {args.whole:,} simulations")
    env = dict(os.environ)
    if args.jobs is not None:
        env["T2E_SCORE_JOBS"] = args.jobs
    code = ("import resource, subprocess, sys, time, json\n"
            "t=time.perf_counter()\n"
            "p=subprocess.run(sys.argv[1:], capture_output=True)\n"
            "ru=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(json.dumps({'wall': time.perf_counter()-t, 'cpu': ru.ru_utime+ru.ru_stime,"
            " 'rss': ru.ru_maxrss/1024, 'rc': p.returncode, 'out': p.stdout.decode(),"
            " 'err': p.stderr.decode()[-400:]}))")
    t2e = str(REPO / ".venv" / "bin" / "t2e")
    r = json.loads(subprocess.run([sys.executable, "-c", code, t2e, "score", str(f), "--data",
                                   str(args.data or shared / "retail"), "--json"],
                                  capture_output=True, text=True, env=env).stdout)
    if r["rc"]:
        sys.exit(f"t2e score failed (exit {r['rc']}): {r['err']}")
    (rep,) = json.loads(r["out"])["files"]
    import hashlib
    digest = hashlib.sha256(r["out"].encode()).hexdigest()[:12]
    print(f"t2e score (whole process): {r['wall']:.2f} s wall, {r['cpu']:.2f} CPU-s, "
          f"{args.whole / r['wall']:,.0f} simulations/s wall, peak RSS {r['rss']:.0f} MB "
          f"(largest single process); targets >= 2,000/s, <= 200 MB")
    print(f"report: {rep['agree']}/{rep['simulations']} agree, sha256 {digest}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if tmp:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
