"""The tasks screen timed from outside the app: `t2e open` runs in a pseudo-terminal and the
clock stops when the bytes of the answer arrive (prints figures, asserts nothing).

    .venv/bin/python bench/tui_outside.py [--store PATH] [--size 160x48]
    .venv/bin/python bench/tui.py --outside [--store PATH]      # the same, both sizes

Targets (issue 18, 25,000 tasks x 2 trials): open -> first paint <= 500 ms; keypress max <=
30 ms. "Open" is `o` on the runs screen with the pair marked, up to the frame that shows the
rows (the status line's "N/N all tasks"); a key's time runs from writing it to the last byte of
its answer (the answer ends when the terminal is quiet for QUIET_S). The process's CPU time
(user+sys) is read from /proc so a shared machine's figures can be judged; so is, per key, the
CPU its threads used and the time they waited for a CPU (run queue, /proc/PID/task/*/schedstat)
between writing the key and its last byte: on a shared machine a key's wall time minus that
wait is what it would take alone.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = Path("/tmp/t2e-bench-scale-v1.sqlite")
QUIET_S = 0.04          # no byte for this long = the answer is complete
KEYS = {"down": b"\x1b[B", "up": b"\x1b[A", "pagedown": b"\x1b[6~", "pageup": b"\x1b[5~",
        "end": b"\x1b[F", "home": b"\x1b[H", "escape": b"\x1b"}


class Term:
    """A child process on a pty of a given size; reads what it writes, with times."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict) -> None:
        self.fd, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.buf = b""

    def read_until(self, *markers: bytes, timeout: float = 60.0, keep: bool = False) -> float:
        """Read until one of `markers` shows in what arrived since the last call (or, with
        `keep`, in what is already read too); its arrival time."""
        if not keep:
            self.buf = b""
        end = time.perf_counter() + timeout
        while not any(m in self.buf for m in markers):
            left = end - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no {markers!r} in {timeout} s; last bytes "
                                   f"{self.buf[-300:]!r}")
            if select.select([self.fd], [], [], left)[0]:
                self.buf += os.read(self.fd, 1 << 16)
        return time.perf_counter()

    def drain(self, quiet: float = QUIET_S, timeout: float = 10.0) -> float | None:
        """Read until the child is quiet for `quiet` s; the time the last byte came (None if
        nothing came)."""
        last = None
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if not select.select([self.fd], [], [], quiet)[0]:
                break
            data = os.read(self.fd, 1 << 16)
            self.buf += data
            last = time.perf_counter()
        return last

    def key(self, data: bytes) -> tuple[float, float]:
        """Write a key; (ms to the first byte of the answer, ms to its last byte). The child's
        CPU and run-queue wait over that span are left in `self.sched_ms`."""
        self.drain(0.15)  # nothing pending: the answer is this key's
        self.buf = b""
        s0 = self.sched()
        t0 = time.perf_counter()
        os.write(self.fd, data)
        if not select.select([self.fd], [], [], 5.0)[0]:
            return float("nan"), float("nan")
        first = time.perf_counter()
        self.buf += os.read(self.fd, 1 << 16)
        at_last = self.sched()
        last = first
        while select.select([self.fd], [], [], QUIET_S)[0]:  # drain(), sampling at each read
            self.buf += os.read(self.fd, 1 << 16)
            last, at_last = time.perf_counter(), self.sched()
        self.sched_ms = tuple((b - a) / 1e6 for a, b in zip(s0, at_last))
        return (first - t0) * 1000, (last - t0) * 1000

    def sched(self) -> tuple[int, int]:
        """(ns on a CPU, ns waiting in the run queue) of all the child's threads so far."""
        cpu = wait = 0
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                on, queued = task.joinpath("schedstat").read_text().split()[:2]
            except (OSError, ValueError):
                continue  # a thread that just ended
            cpu, wait = cpu + int(on), wait + int(queued)
        return cpu, wait

    def cpu_s(self) -> float:
        """User+sys CPU seconds of the child so far (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def idle(self, still: float = 0.5, timeout: float = 30.0) -> None:
        """Wait until the child's CPU time stops growing for `still` s (its workers are done:
        hints and failure classes are read after the rows, without writing a byte)."""
        end = time.perf_counter() + timeout
        last = self.cpu_s()
        while time.perf_counter() < end:
            self.drain(still)
            now = self.cpu_s()
            if now == last:
                return
            last = now

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        os.close(self.fd)


def measure(store: Path, cols: int, rows: int, opens: int = 5) -> dict:
    meta = json.loads(Path(str(store) + ".json").read_text())
    state = tempfile.mkdtemp(prefix="t2e-bench-xdg-")  # nothing remembered from other runs
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": state,
           "COLUMNS": str(cols), "LINES": str(rows)}
    env.pop("NO_COLOR", None)
    t2e = str(ROOT / ".venv" / "bin" / "t2e")
    term = Term([t2e, "--store", str(store), "open"], cols, rows, env)
    out: dict = {"size": f"{cols}x{rows}"}
    try:
        t0 = time.perf_counter()
        term.read_until(meta["base"].encode())
        out["launch_ms"] = (time.perf_counter() - t0) * 1000
        term.drain(0.5)
        # mark the pair on the runs screen (b on the first run, c on the second)
        for k in (b"b", KEYS["down"], b"c"):
            term.key(k)
        # the status line of the loaded screen; of its first page (big pairs), before it
        every = "all tasks \xb7 by task".encode()
        first = "loading the rest\u2026".encode()
        opens_ms, all_ms, cpu = [], [], []
        for _ in range(opens):
            term.drain(0.3)
            c0 = term.cpu_s()
            t0 = time.perf_counter()
            os.write(term.fd, b"o")
            opens_ms.append((term.read_until(first, every) - t0) * 1000)
            all_ms.append((term.read_until(every, keep=True) - t0) * 1000)
            term.idle()  # hints and classes follow the rows
            cpu.append(term.cpu_s() - c0)
            keys_ms, sched = [], []
            if len(opens_ms) == 1:
                walk = (["down"] * 30 + ["pagedown"] * 10 + ["up"] * 10 + ["end", "home"]
                        + ["2", "1", "s", "s", "s", "v", "v", "t", "t"])
                c1 = term.cpu_s()
                for i, name in enumerate(walk):
                    keys_ms.append((name, *term.key(KEYS.get(name, name.encode()))))
                    sched.append(term.sched_ms)
                    if i == 51:  # the cursor keys' CPU (the poll timers' reads included)
                        out["move_cpu_ms"] = (term.cpu_s() - c1) * 1000 / 52
                out["keys"], out["sched"] = keys_ms, sched
            term.key(KEYS["escape"])
        out["open_ms"], out["all_ms"] = opens_ms, all_ms
        out["open_cpu_s"] = cpu
    finally:
        term.close()
    return out


def report(out: dict) -> None:
    opens = out["open_ms"]
    every = out["all_ms"]
    print(f"[{out['size']}] launch -> runs screen {out['launch_ms']:.0f} ms; tasks screen open "
          f"(o) -> first rows painted: median {statistics.median(opens):.0f} ms, min "
          f"{min(opens):.0f}, max {max(opens):.0f} (target <= 500 ms); -> every row in (counts "
          f"shown): median {statistics.median(every):.0f} ms, max {max(every):.0f}; CPU per "
          f"open incl. hints and classes {statistics.median(out['open_cpu_s']):.2f} s")
    move = [last for name, _, last in out["keys"] if name in ("down", "up", "pagedown",
                                                              "end", "home")]
    other: dict[str, float] = {}
    for name, _, last in out["keys"]:
        if name not in ("down", "up", "pagedown", "end", "home"):
            other[name] = max(other.get(name, 0.0), last)
    slow = sorted(((last, i, name) for i, (name, _, last) in enumerate(out["keys"])),
                  reverse=True)[:3]
    print(f"[{out['size']}] cursor keys ({len(move)}), key -> last byte: median "
          f"{statistics.median(move):.1f} ms, max {max(move):.1f} ms (target <= 30 ms); "
          f"child CPU {out['move_cpu_ms']:.1f} ms a key; slowest: "
          + ", ".join(f"#{i} {n} {ms:.0f}" for ms, i, n in slow) + "; "
          + ", ".join(f"{k} {v:.0f}" for k, v in other.items()) + " ms (slowest of each)")
    # the same keys as the child's threads saw them: CPU used, and time spent waiting for a
    # CPU that other processes held (what a shared machine adds to the wall figures)
    sched = out["sched"]
    alone = [last - sched[i][1] for i, (_, _, last) in enumerate(out["keys"])]
    print(f"[{out['size']}] slowest keys' child CPU / run-queue wait: "
          + ", ".join(f"#{i} {n} {sched[i][0]:.0f}/{sched[i][1]:.0f}" for _, i, n in slow)
          + f" ms; every key, last byte minus run-queue wait: max {max(alone):.1f} ms (#"
          + f"{alone.index(max(alone))} {out['keys'][alone.index(max(alone))][0]}), CPU max "
          + f"{max(c for c, _ in sched):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=DEFAULT)
    ap.add_argument("--size", default="160x48")
    args = ap.parse_args()
    cols, rows = (int(x) for x in args.size.split("x"))
    report(measure(args.store, cols, rows))
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (wall figures share the CPU)")


if __name__ == "__main__":
    main()
