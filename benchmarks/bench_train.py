"""Time ``xornet train`` (8 restarts) against the original tutorial loop (1 model).

Both run as fresh processes, timed from start to exit, so importing torch
counts on both sides. The repeats alternate between the two commands, so
load from other processes hits both alike; the report quotes medians.

Usage: python benchmarks/bench_train.py [REPEATS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import PYTHON, ROOT, machine, median, source_env, time_command


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    env = source_env()
    xornet_times, tutorial_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            out = Path(tmp) / f"run{i}"
            command = [PYTHON, "-m", "xornet", "train", "-q", "--seed", str(i)]
            xornet_times.append(time_command([*command, "--out", str(out)], env))
            tutorial = [PYTHON, str(ROOT / "benchmarks" / "tutorial_xor.py")]
            tutorial_times.append(time_command(tutorial, env))
            print(
                f"repeat {i}: xornet train {xornet_times[-1]:.2f} s, "
                f"tutorial loop {tutorial_times[-1]:.2f} s",
                flush=True,
            )
    xornet_median, tutorial_median = median(xornet_times), median(tutorial_times)
    print(f"machine: {machine()}")
    print(f"xornet train, 8 restarts x 10 000 epochs: median {xornet_median:.2f} s")
    print(f"tutorial loop, 1 model x 10 000 epochs: median {tutorial_median:.2f} s")
    print(
        f"ratio xornet / tutorial: {xornet_median / tutorial_median:.3f} "
        "(target <= 0.25)"
    )


if __name__ == "__main__":
    main()
