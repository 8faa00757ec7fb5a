"""OpenTelemetry GenAI (OTLP/JSON) import speed and memory. Prints figures; not a test.

    .venv/bin/python bench/import_otel.py [--mb 200] [--big-mb 1024] [--skip-big] [--runs 3]

The spans are realistic: the real tau2 results in ../shared/tau2/results are imported, exported
with `t2e export --format otel` (chat spans carry the conversation so far, as GenAI
instrumentations do), and the episodes are repeated with fresh trace and conversation ids up to
the target size; the run's world (`t2e.run.*`: info, policy, tasks), which an export writes once,
on its first episode's root, stays on the file's first line only, as in one big run's export.
Our export's fidelity fields (`t2e.simulation_fields`, `t2e.simulation_keys`,
`t2e.message_fields`, `t2e.latencies`: what the store keeps beside the spans, every message's
provider response among them, store/export_otel_extra.py) are taken out: foreign GenAI exports
carry none of them, and the file, so the figures the speed target is measured on, stays what
it was before the export carried them (byte for byte for a given --mb, run ids aside: the
store draws them at random).
A second file has content capture off (no messages: attribute-only spans, the
default of most instrumentations). Each import runs in a child process: wall time, spans/s and
peak RSS (target: >= 20,000 spans/s, RSS <= 600 MB on a 1 GB export). The store exists before
the import (made here: a new store's schema is not import work); the wall figure is the whole
child process (interpreter start, store open as `t2e import` opens it (a plain connection: no
sqlite-utils, no numpy), file hash, import), and `import_path alone` is the import call inside it.

Big files use two processes (see store/importers/otel.py), so on an idle two-core machine the
wall time is below the CPU time; on a shared machine the wall time mostly measures the other
tenants, so say the load average with each figure.

Python caches the bytecode of the modules it imports (__pycache__), so only a first run
compiles them; a machine with PYTHONDONTWRITEBYTECODE set (these do) compiles them again in
every process, ~0.05 s in each of the two. The bench compiles the project's packages first,
as a first import would, and says so; --no-bytecode measures without (every module compiled
in every run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("T2E_SHARED_DIR", REPO.parent / "shared")) / "tau2" / "results"
_MSG_KEYS = re.compile(r',\s*\{"key": "gen_ai\.(input|output)\.messages", "value": \{"stringValue": '
                       r'"(?:[^"\\]|\\.)*"\}\}')
_OWN_KEYS = re.compile(r',\s*\{"key": "t2e\.(simulation_fields|simulation_keys|message_fields|'
                       r'latencies)", "value": \{"stringValue": "(?:[^"\\]|\\.)*"\}\}')
_RUN_KEYS = re.compile(r',\s*\{"key": "t2e\.run\.(info|policy|tasks)", "value": \{"stringValue": '
                       r'"(?:[^"\\]|\\.)*"\}\}')


def template(tmp: Path) -> list[str]:
    """OTLP lines (one episode each) exported from the real tau2 results."""
    import store
    from store.exporters import export_run
    from store.importers import import_path

    files = sorted(SHARED.glob("*.json"))
    if not files:
        sys.exit(f"no real results files in {SHARED}")
    db = store.open_db(tmp / "template.sqlite")
    lines: list[str] = []
    for i, f in enumerate(files):
        rid = import_path(db, f)["run_id"]
        out = tmp / f"t{i}.jsonl"
        export_run(db, rid, "otel", out)
        lines += out.read_text().splitlines()
    return lines


def write_file(path: Path, lines: list[str], target: int, *, capture: bool) -> int:
    """Repeat the template with fresh ids up to `target` bytes; returns the span count."""
    spans = written = i = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            line = lines[i % len(lines)]
            obj = json.loads(line)
            old = obj["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
            text = _OWN_KEYS.sub("", line).replace(old, f"{i:032x}")
            text = re.sub(r'(gen_ai\.conversation\.id", "value": \{"stringValue": ")[^"]*',
                          lambda m: m.group(1) + f"c{i}", text)
            if not capture:
                text = _MSG_KEYS.sub("", text)
            if i:  # (the run's world: once, on the first line)
                text = _RUN_KEYS.sub("", text)
            fh.write(text + "\n")
            written += len(text) + 1
            spans += len(obj["resourceSpans"][0]["scopeSpans"][0]["spans"])
            i += 1
    return spans


def run_import(path: Path, store_path: Path) -> tuple[float, float, dict]:
    import store

    store.open_db(store_path).close()  # an existing store: its schema is not the import's work
    code = ("import json, resource, sys, time, store; from store.importers import import_path; "
            "db = store.connect(sys.argv[2]); t = time.perf_counter(); "
            "r = import_path(db, sys.argv[1]); "
            "out = {k: r[k] for k in ('episodes', 'messages')}; "
            "out['import_wall'] = time.perf_counter() - t; "
            "out['rss'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
            "out['worker_rss'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; "
            "print(json.dumps(out))")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(path), str(store_path)],
                         check=True, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads(out.stdout)
    rss = res["rss"] + res["worker_rss"]  # both processes at their peaks (an upper bound)
    # CPU seconds of the import and its worker: on a shared machine the wall time mostly
    # measures the other tenants
    res["cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, rss, res


def json_load_seconds(path: Path) -> float:
    """What merely decoding the file costs (stdlib json, one line at a time, no store), in a
    child process, best of 2: the yardstick the tau2 bench uses too. Content-captured chat
    spans are fat (the conversation so far), so their spans/s says little without it."""
    code = ("import json, sys, time; t = time.perf_counter(); "
            "[json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]; "
            "print(time.perf_counter() - t)")
    return min(float(subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                                    capture_output=True, text=True).stdout) for _ in range(2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--big-mb", type=int, default=1024)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--runs", type=int, default=3,
                    help="imports of each file (a fresh store each); the median is reported")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="do not compile the packages first (see the module's text)")
    a = ap.parse_args()
    if a.no_bytecode:
        print("bytecode: not compiled first; with PYTHONDONTWRITEBYTECODE="
              f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')} each process compiles "
              "what it imports")
    else:
        import compileall

        for pkg in ("store", "world"):
            compileall.compile_dir(REPO / pkg, quiet=1)
        print("bytecode: the project's packages compiled first (__pycache__), as a first "
              "import does")
    with tempfile.TemporaryDirectory(prefix="t2e-bench-otel-") as d:
        tmp = Path(d)
        lines = template(tmp)
        runs = [("content captured", True, a.mb), ("capture off", False, a.mb)]
        if not a.skip_big:
            runs.append(("content captured, big", True, a.big_mb))
        for label, capture, mb in runs:
            f = tmp / "traces.jsonl"
            n = write_file(f, lines, mb << 20, capture=capture)
            size = f.stat().st_size / (1 << 20)
            tries = []
            for k in range(a.runs):
                # the file just written (and the stores of the runs before) to disk first: the
                # kernel writes dirty pages back some 30 s after, which would land in a run
                # (a gigabyte of it: the big file's runs took 9.7 s instead of 7.9)
                os.sync()
                tries.append(run_import(f, tmp / f"s-{label[:4]}-{mb}-{k}.sqlite"))
            # the run of median wall time (this machine's speed drifts from minute to minute:
            # each run is said, and the load)
            wall, _, res = sorted(tries, key=lambda t: t[0])[len(tries) // 2]
            _, rss, peak = max(tries, key=lambda t: t[1])  # the highest peak of the runs
            ref = json_load_seconds(f)
            if len(tries) > 1:
                print(f"{label}: {len(tries)} runs, wall " + ", ".join(
                    f"{t[0]:.2f} s = {n / t[0]:,.0f} spans/s" for t in tries) + "; the median:")
            print(f"{label}: {size:.0f} MB, {n:,} spans, {res['episodes']:,} episodes, "
                  f"{res['messages']:,} messages: wall {wall:.2f} s = {n / wall:,.0f} spans/s "
                  f"({size / wall:.1f} MB/s; import_path alone {res['import_wall']:.2f} s = "
                  f"{n / res['import_wall']:,.0f} spans/s); CPU {res['cpu']:.1f} s (both processes) = "
                  f"{n / res['cpu']:,.0f} spans per CPU-s; "
                  f"peak RSS {rss:.0f} MB (importer {peak['rss']:.0f} + worker "
                  f"{peak['worker_rss']:.0f}); load {os.getloadavg()[0]:.1f}")
            print(f"  reference: json.loads of every line alone {ref:.2f} s = {n / ref:,.0f} "
                  f"spans/s; the import takes {wall / ref:.2f}x that")
            # both processes busy from start to end would take half the CPU time: what is
            # left above that is start-up, the serial tail (commit) and the other tenants
            print(f"  bound: its CPU on two idle cores, {res['cpu'] / 2:.2f} s = "
                  f"{2 * n / res['cpu']:,.0f} spans/s at best; the wall time is "
                  f"{2 * wall / res['cpu']:.2f}x that")
            f.unlink()


if __name__ == "__main__":
    main()
