"""Solve rate of ``xornet train`` over 1000 seeds, with 8 restarts and with 1.

Each row of the sweep is one ``xornet train --seed S`` run, so the sweep's
solve rate is the share of seeds whose train run ends solved. The engine
trains all the seeds' models together.

Usage: python benchmarks/bench_solve_rate.py [SEEDS]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import PYTHON, machine, source_env

from xornet.sweep import wilson_interval


def solve_rate(seeds: int, restarts: int, folder: Path) -> None:
    out = folder / f"restarts{restarts}"
    env = source_env()
    env["OMP_NUM_THREADS"] = "1"
    command = [PYTHON, "-m", "xornet", "sweep", "-q", "--seed", "0"]
    command += ["--seeds", str(seeds), "--restarts", str(restarts), "--out", str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    results = pd.read_csv(out / "results.csv")
    solved = int(results["solved"].sum())
    low, high = wilson_interval(solved, len(results))
    print(
        f"restarts {restarts}: {solved}/{len(results)} seeds solved = "
        f"{solved / len(results):.1%} (95 % interval {low:.1%}-{high:.1%}), "
        f"{seconds:.0f} s for the sweep"
    )


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        solve_rate(seeds, 1, Path(tmp))
        solve_rate(seeds, 8, Path(tmp))


if __name__ == "__main__":
    main()
