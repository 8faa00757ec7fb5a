"""The relabel check at 25,000 embedded tasks: CPU per simulation of `check_label`.

    python bench/relabel.py [TASKS] [SIMS]

Synthetic tasks and trajectories from tests/test_world_scoring.py (every task's gold names a
user, an email or an order, as tau2's do; users and orders are shared by many tasks, so this is
a pessimistic case for the index). Before the task index (#18): 23.9 ms per simulation; after:
6.4 ms (load ~2 on the shared 2-core machine)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_world_scoring import _many_tasks, _random_sims  # noqa: E402

from world.relabel import check_label  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 25_000
    n_sims = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    # _many_tasks makes every fourth task name nobody (scenario text decides): left out here
    tasks = {k: v for k, v in _many_tasks(n * 4 // 3 + 1).items() if int(k) % 4 != 3}
    sims = _random_sims(tasks, n_sims, seed=1)
    t = time.process_time()
    moved = sum(bool(check_label(s, tasks)) for s in sims)
    per = (time.process_time() - t) / len(sims) * 1000
    print(f"{len(tasks):,} tasks, {len(sims)} simulations ({moved} relabelled): "
          f"{per:.2f} ms CPU per simulation (index built once included)")


if __name__ == "__main__":
    main()
