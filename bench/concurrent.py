"""Concurrent use of one store at full size: a ~300 MB import, a `t2e run` at concurrency 8,
a gate/scoreboard loop and the app's reads, all at once for about 2 minutes. Prints figures.

    .venv/bin/python bench/concurrent.py [--import-mb 300] [--seconds 120]

Reports: errors per participant (target 0), lost rows (target 0: every episode of the run and
of the import is in the store), how long the import held things up, gate loop iterations and
their slowest round, reader loop iterations and the slowest read. The import file is sampled
from ../shared/tau2/results (bench/import.py's writer).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLI = [sys.executable, "-m", "t2e_tui.cli"]


def _import_bench():
    spec = importlib.util.spec_from_file_location("bench_import", REPO / "bench" / "import.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--import-mb", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=120)
    args = ap.parse_args()
    from t2e_tui import data_access as da

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        st = tmp / "s.sqlite"
        big = tmp / "big.json"
        n_msgs = _import_bench().write_sampled(big, None, args.import_mb << 20)
        print(f"import file: {big.stat().st_size / 1e6:.0f} MB, {n_msgs} messages")
        for seed in ("1", "2"):
            subprocess.run([*CLI, "--store", str(st), "run", "--tasks", "dev", "--seed", seed],
                           check=True, capture_output=True)
        runs = json.loads(subprocess.run([*CLI, "--store", str(st), "runs", "--json"],
                                         check=True, capture_output=True, text=True).stdout)
        base, cand = runs[0]["run_id"], runs[1]["run_id"]
        errors: dict[str, list[str]] = {"run": [], "import": [], "gate": [], "reads": []}
        stop = threading.Event()
        stats = {"gates": 0, "gate_max": 0.0, "reads": 0, "read_max": 0.0, "runs": 0,
                 "run_episodes": 0}
        run_ids: list[tuple[str, int]] = []

        def run_loop():  # back-to-back runs at concurrency 8 for the whole window
            while not stop.is_set():
                r = subprocess.run([*CLI, "--store", str(st), "run", "--tasks", "all",
                                    "--trials", "2", "--concurrency", "8", "--json"],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    errors["run"].append(r.stderr.strip()[-300:])
                    continue
                out = json.loads(r.stdout)
                run_ids.append((out["run_id"], out["episodes"]))
                stats["runs"] += 1

        def gate_loop():
            while not stop.is_set():
                t0 = time.perf_counter()
                for a in (["gate", base, cand, "--json"], ["scoreboard", "--json"]):
                    r = subprocess.run([*CLI, "--store", str(st), *a], capture_output=True,
                                       text=True)
                    if r.returncode not in (0, 1, 3):
                        errors["gate"].append(r.stderr.strip()[-300:])
                stats["gates"] += 1
                stats["gate_max"] = max(stats["gate_max"], time.perf_counter() - t0)

        def read_loop():
            conn = da.open_conn(str(st))
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    da.list_runs(conn)
                    rows = da.task_rows(conn, base, cand)
                    ep = da.find_episode(conn, base, rows[0].task_id, None)
                    if ep is not None:
                        da.load_episode(conn, ep)
                    da.search(conn, "order", limit=50)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors["reads"].append(f"{type(exc).__name__}: {exc}")
                stats["reads"] += 1
                stats["read_max"] = max(stats["read_max"], time.perf_counter() - t0)
                time.sleep(0.05)

        threads = [threading.Thread(target=f) for f in (run_loop, gate_loop, read_loop)]
        t_start = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(2)
        t_imp = time.perf_counter()
        imp = subprocess.run([*CLI, "--store", str(st), "import", str(big), "--json"],
                             capture_output=True, text=True)
        imp_s = time.perf_counter() - t_imp
        if imp.returncode != 0:
            errors["import"].append(imp.stderr.strip()[-300:])
        time.sleep(max(0.0, args.seconds - (time.perf_counter() - t_start)))
        stop.set()
        for t in threads:
            t.join()
        import store
        db = store.open_db(st)
        lost = 0
        for rid, n in run_ids:
            got = db.conn.execute("SELECT count(*) FROM episodes WHERE run_id = ? AND "
                                  "status = 'done'", (rid,)).fetchone()[0]
            lost += n - got
        if imp.returncode == 0:
            e = json.loads(imp.stdout)["imported"][0]
            got = db.conn.execute("SELECT count(*) FROM steps JOIN episodes USING (episode_id) "
                                  "WHERE run_id = ?", (e["run_id"],)).fetchone()[0]
            lost += n_msgs - got
        total = time.perf_counter() - t_start
        print(f"window {total:.0f} s; import {imp_s:.1f} s")
        print(f"runs completed {stats['runs']} ({sum(n for _, n in run_ids)} episodes); "
              f"gate+scoreboard rounds {stats['gates']} (slowest {stats['gate_max']:.1f} s); "
              f"reader rounds {stats['reads']} (slowest {stats['read_max']:.2f} s)")
        print("errors: " + ", ".join(f"{k} {len(v)}" for k, v in errors.items())
              + f"; lost rows {lost}; integrity "
              + db.conn.execute("PRAGMA integrity_check").fetchone()[0])
        for k, v in errors.items():
            for e in v[:3]:
                print(f"  {k}: {e}")


if __name__ == "__main__":
    main()
