"""`t2e evolve` from the baseline on mini-retail with the offline (stand-in) proposer: wall time
to a promote on clean heldout evidence (target <= 60 s, within 3 iterations). Prints figures.

    .venv/bin/python bench/evolve.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from t2e_tui.evolve import EvolveConfig, evolve

    d = Path(tempfile.mkdtemp(prefix="t2e-evolve-bench-"))
    t0 = time.perf_counter()
    c0 = time.process_time()
    out = evolve(str(d / "s.sqlite"), EvolveConfig(start="baseline", iterations=3,
                                                   candidates_dir=str(d / "cands")))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    last = out["iterations"][-1]
    g = last.get("gate") or {}
    print(f"evolve (offline stand-in proposer, scripted agent): {out['status']} after "
          f"{len(out['iterations'])} iteration(s), {out['episodes']} episodes, "
          f"wall {wall:.1f} s, CPU {cpu:.1f} s (target <= 60 s)")
    print(f"  gate: {g.get('decision')} ({g.get('evidence_role')}), p = {g.get('p_value')}, "
          f"fixes {len(g.get('fixes') or [])}, regressions {len(g.get('regressions') or [])}")
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
