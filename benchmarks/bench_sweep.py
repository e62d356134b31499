"""Sweep throughput: model-steps per second for 10^5 models of the 2-3-2 net.

Full batch (all 4 XOR rows per step), so one epoch is one optimizer step per
model. The engine's compiled torch backend is timed from the progress
callback between epoch 1 and the last epoch (steady state) and over the whole
call (compile included). Eager backends and scikit-learn's MLPClassifier
(hidden_layer_sizes=(3,), relu, adam, lr 0.001, batch 4) run the same kind of
work for fewer epochs.

torch runs on one thread: on the shared 2-core benchmark machine two OpenMP
threads ran the compiled step about 9 times slower than one, because the
threads wait on each other whenever another process takes a core.

Usage: python benchmarks/bench_sweep.py [MODELS] [EPOCHS]
"""

from __future__ import annotations

import sys
import time
import warnings

import torch
from common import machine

from xornet import engine, sweep
from xornet.config import Recipe
from xornet.tables import load_builtin


def engine_rate(
    models: int, epochs: int, backend: str, compile_step: bool
) -> tuple[float, float]:
    """Return (steady model-steps/s after epoch 1, model-steps/s for the call)."""
    table = load_builtin("xor")
    recipe = Recipe(restarts=1, batch_size=4, epochs=epochs)
    weights = sweep.initial_weights(table, recipe.replace(restarts=models), [0])
    stamps: dict[int, float] = {}

    def stamp(epoch: int, loss: float) -> None:
        stamps[epoch] = time.perf_counter()

    started = time.perf_counter()
    engine.train_stacked(
        table,
        recipe,
        weights,
        seed=0,
        backend=backend,
        compile_step=compile_step,
        progress=stamp,
        keep_history=False,
        track_solved=True,
        freeze_diverged=True,
    )
    total = time.perf_counter() - started
    steady = models * (epochs - 1) / (stamps[epochs] - stamps[1])
    return steady, models * epochs / total


def sklearn_rate(models: int, epochs: int) -> float:
    """Return model-steps/s of MLPClassifier on XOR with batch 4 (one step an epoch)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    table = load_builtin("xor")
    inputs, labels = table.inputs, table.targets[:, 0]
    started = time.perf_counter()
    for seed in range(models):
        classifier = MLPClassifier(
            hidden_layer_sizes=(3,),
            activation="relu",
            solver="adam",
            learning_rate_init=0.001,
            alpha=0.0001,
            batch_size=4,
            max_iter=epochs,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(inputs, labels)
    return models * epochs / (time.perf_counter() - started)


def main() -> None:
    models = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    torch.set_num_threads(1)
    print(f"machine: {machine()}")
    print(f"{models} models of the 2-3-2 net, full batch of 4 rows")

    steady, overall = engine_rate(models, epochs, "torch", compile_step=True)
    print(
        f"engine torch compiled, {epochs} epochs: {steady:.3g} model-steps/s steady, "
        f"{overall:.3g} with the compile"
    )
    results = {"compiled": steady}
    for backend, short in (("torch", 30), ("numpy", 30), ("stacked", 10)):
        rate, _ = engine_rate(models, short, backend, compile_step=False)
        results[backend] = rate
        print(f"engine {backend} eager, {short} epochs: {rate:.3g} model-steps/s")

    reference = sklearn_rate(models=20, epochs=500)
    print(
        "scikit-learn MLPClassifier, 20 models x 500 epochs: "
        f"{reference:.3g} model-steps/s"
    )
    print(
        f"ratio engine compiled / scikit-learn: {steady / reference:.0f} "
        "(target >= 1000)"
    )
    print(f"target 1e7 model-steps/s: {'met' if steady >= 1e7 else 'missed'}")


if __name__ == "__main__":
    main()
