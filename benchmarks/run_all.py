"""Run every benchmark in turn; each prints its command's results.

Usage: python benchmarks/run_all.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_train.py",
    "bench_sweep.py",
    "bench_memory.py",
    "bench_solve_rate.py",
]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        status = subprocess.run([sys.executable, str(HERE / name)], cwd=HERE).returncode
        if status != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
