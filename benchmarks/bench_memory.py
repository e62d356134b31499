"""Peak memory of a sweep of 10^6 models (a few epochs, to keep it short).

Runs the library's sweep into a temporary folder and reads the peak resident
set size of this process from getrusage. Results stream to results.csv chunk
by chunk, so the peak is set by one chunk of models, not by the sweep size.

Usage: python benchmarks/bench_memory.py [MODELS] [EPOCHS]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import machine

from xornet import sweep
from xornet.config import Recipe
from xornet.tables import load_builtin


def main() -> None:
    models = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    torch.set_num_threads(1)
    table = load_builtin("xor")
    recipe = Recipe(restarts=1, batch_size=4, epochs=epochs, seed=0)
    settings = sweep.SweepSettings(
        recipe=recipe,
        grid={"hidden_sizes": [(3,)], "lr": [0.001], "epochs": [epochs]},
        seeds=models,
        seed=0,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep"
        sweep.prepare_folder(path, table, settings, resume=False)
        results = sweep.run_sweep(path, table, settings)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"machine: {machine()}")
    print(f"sweep of {len(results)} models x {epochs} epochs in {seconds:.0f} s")
    print(f"peak RSS: {peak_mib:.0f} MiB (target < 2048 MiB)")


if __name__ == "__main__":
    main()
