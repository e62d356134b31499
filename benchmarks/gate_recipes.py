"""Measure how reliably short recipes solve every built-in gate.

Trains each gate with each candidate recipe from seeds 0..N-1 using the
reference trainer, one model per seed. For every gate and recipe it prints
the number of seeds solved and the latest epoch at which a solved model first
got every row right. The test suite's gate recipes were picked from this
output.

    PYTHONPATH=src python benchmarks/gate_recipes.py --seeds 20
"""

from __future__ import annotations

import argparse
import time

from xornet.config import Recipe
from xornet.gates import builtin_gates, get_gate
from xornet.training import train

CANDIDATES = {
    "adam-mse": Recipe(
        hidden_sizes=(8,), lr=0.05, epochs=400, batch_size=1024, loss="mse"
    ),
    "adam-logits": Recipe(
        hidden_sizes=(8,), lr=0.05, epochs=400, batch_size=1024, loss="bce-with-logits"
    ),
    "adam-logits-16": Recipe(
        hidden_sizes=(16,),
        lr=0.05,
        epochs=400,
        batch_size=1024,
        loss="bce-with-logits",
    ),
    "adam-logits-16-long": Recipe(
        hidden_sizes=(16,),
        lr=0.05,
        epochs=1000,
        batch_size=1024,
        loss="bce-with-logits",
    ),
    "adam-logits-32-long": Recipe(
        hidden_sizes=(32,),
        lr=0.05,
        epochs=1000,
        batch_size=1024,
        loss="bce-with-logits",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--recipes", default=",".join(CANDIDATES))
    parser.add_argument("--gates", default="")
    parser.add_argument("--encoding", choices=("onehot", "bits"), default=None)
    args = parser.parse_args()
    gates = (
        [get_gate(g) for g in args.gates.split(",")]
        if args.gates
        else [
            *builtin_gates(),
            get_gate("parity5"),
        ]
    )
    for name in args.recipes.split(","):
        recipe = CANDIDATES[name].replace(stop_when_solved=True)
        for gate in gates:
            table = gate.table(args.encoding)
            started = time.perf_counter()
            solved, last_epoch = 0, 0
            for seed in range(args.seeds):
                result = train(table, recipe, seed)
                if result.solved[0]:
                    solved += 1
                    last_epoch = max(last_epoch, result.epochs_run)
            seconds = time.perf_counter() - started
            print(
                f"{name:15s} {gate.name:13s} solved {solved:2d}/{args.seeds} "
                f"max solved epoch {last_epoch:4d}  {seconds:5.1f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
