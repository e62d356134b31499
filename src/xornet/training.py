"""The reference trainer: the plain tutorial loop.

DataLoader, ``zero_grad``, forward, loss, backward, step: one model at a time,
exactly as the PyTorch 101 XOR tutorial trains. The batched engine must match
this loop model for model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from xornet.config import Recipe
from xornet.diagnostics import rows_correct
from xornet.errors import TrainingError
from xornet.model import MLP
from xornet.tables import TruthTable, TruthTableDataset

log = logging.getLogger(__name__)

# Called after every epoch with (epoch, mean loss of the models trained so far).
ProgressCallback = Callable[[int, float], None]


@dataclass
class TrainResult:
    """The outcome of a training run.

    ``history`` has shape (epochs_run, models): the per-epoch mean loss of
    every restart. ``kept`` indexes the model chosen as the run's result
    (solved first, then the lowest final loss).
    """

    models: list[MLP]
    history: np.ndarray
    solved: list[bool]
    kept: int
    seed: int
    epochs_run: int
    interrupted: bool = False
    solved_epochs: list[int | None] = field(default_factory=list)
    # epoch -> one state_dict per model; epoch 0 is the initial weights.
    snapshots: dict[int, list[dict[str, torch.Tensor]]] = field(default_factory=dict)

    @property
    def model(self) -> MLP:
        return self.models[self.kept]

    @property
    def final_losses(self) -> list[float]:
        if len(self.history) == 0:
            return [float("nan")] * len(self.models)
        return [float(v) for v in self.history[-1]]


def make_loss(name: str) -> nn.Module:
    """Return the loss module for a recipe's ``loss`` name."""
    if name == "mse":
        return nn.MSELoss()
    if name == "bce":
        return nn.BCELoss()
    return nn.BCEWithLogitsLoss()


def make_optimizer(
    parameters: Iterable[torch.Tensor], recipe: Recipe
) -> torch.optim.Optimizer:
    """Return the torch optimizer that a recipe names, with its lr and decay."""
    params = list(parameters)
    lr, decay = recipe.lr, recipe.weight_decay
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=recipe.momentum, weight_decay=decay
        )
    return torch.optim.RMSprop(
        params, lr=lr, momentum=recipe.momentum, weight_decay=decay
    )


def make_loader(table: TruthTable, recipe: Recipe, seed: int) -> DataLoader:
    """Return the DataLoader over the table; its shuffle order depends on seed only."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        TruthTableDataset(table),
        batch_size=recipe.batch_size,
        shuffle=recipe.shuffle,
        generator=generator,
    )


def build_models(table: TruthTable, recipe: Recipe, seed: int) -> list[MLP]:
    """Build ``recipe.restarts`` freshly initialised models.

    The global torch RNG is seeded once and the models are built in order, so
    model ``k`` of a run with seed ``s`` always starts from the same weights.
    """
    architecture = recipe.architecture(table.n_inputs, table.n_outputs)
    torch.manual_seed(seed)
    return [MLP(architecture) for _ in range(recipe.restarts)]


def snapshot_epochs(epochs: int, count: int = 60) -> list[int]:
    """Return about ``count`` epochs at which to keep weights, 0 and last included.

    Early epochs change the network most, so the spacing grows quadratically.
    """
    steps = np.linspace(0.0, 1.0, count) ** 2 * epochs
    return sorted({0, epochs, *(int(round(s)) for s in steps)})


def train(
    table: TruthTable,
    recipe: Recipe,
    seed: int,
    progress: ProgressCallback | None = None,
    models: list[MLP] | None = None,
    snapshot_at: list[int] | None = None,
) -> TrainResult:
    """Train ``recipe.restarts`` models one after another with the tutorial loop.

    Pass ``models`` to train given initial weights instead of fresh ones, and
    ``snapshot_at`` to keep copies of every model's weights after those
    epochs (0 is before training).
    Ctrl-C stops training after the current step and returns the result so
    far with ``interrupted=True``.

    Raises:
        TrainingError: the loss became NaN or infinite; names the epoch.
    """
    if models is None:
        models = build_models(table, recipe, seed)
    wanted = set(snapshot_at or ())
    histories = []
    solved_epochs: list[int | None] = []
    snapshots: dict[int, list[dict[str, torch.Tensor]]] = {}
    interrupted = False
    for index, model in enumerate(models):
        kept: dict[int, dict[str, torch.Tensor]] = {}
        losses, solved_epoch, interrupted = _train_one(
            model, table, recipe, seed, progress, _Snapshotter(model, wanted, kept)
        )
        histories.append(losses)
        solved_epochs.append(solved_epoch)
        for epoch, state in kept.items():
            snapshots.setdefault(epoch, []).append(state)
        log.debug("model %d: final loss %.6f", index, losses[-1] if losses else -1)
        if interrupted:
            break
    models = models[: len(histories)]
    history = _stack_histories(histories, interrupted)
    epochs_run = len(history)
    solved = [table_solved(m, table) for m in models]
    return TrainResult(
        models=models,
        history=history,
        solved=solved,
        kept=choose_best(solved, history[-1].tolist() if epochs_run else []),
        seed=seed,
        epochs_run=epochs_run,
        interrupted=interrupted,
        solved_epochs=solved_epochs,
        snapshots={e: s for e, s in snapshots.items() if len(s) == len(models)},
    )


def _stack_histories(histories: list[list[float]], interrupted: bool) -> np.ndarray:
    """Stack per-model losses into shape (epochs, models).

    With ``stop_when_solved`` models stop at different epochs. A stopped
    model's weights no longer change, so its last loss is repeated up to the
    longest run, which keeps every model's final loss in the last row. After
    Ctrl-C every history is cut to the shortest instead.
    """
    shortest = min(len(h) for h in histories)
    if interrupted or shortest == 0:
        return np.array([h[:shortest] for h in histories], dtype=np.float64).T.reshape(
            shortest, len(histories)
        )
    epochs = max(len(h) for h in histories)
    padded = [h + [h[-1]] * (epochs - len(h)) for h in histories]
    return np.array(padded, dtype=np.float64).T


class _Snapshotter:
    """Copies a model's weights into ``into`` at the wanted epochs."""

    def __init__(
        self, model: MLP, wanted: set[int], into: dict[int, dict[str, torch.Tensor]]
    ) -> None:
        self.model, self.wanted, self.into = model, wanted, into

    def __call__(self, epoch: int) -> None:
        if epoch in self.wanted:
            self.into[epoch] = {
                k: v.detach().clone() for k, v in self.model.state_dict().items()
            }


def _train_one(
    model: MLP,
    table: TruthTable,
    recipe: Recipe,
    seed: int,
    progress: ProgressCallback | None,
    snapshot: Callable[[int], None],
) -> tuple[list[float], int | None, bool]:
    loader = make_loader(table, recipe, seed)
    optimizer = make_optimizer(model.parameters(), recipe)
    loss_fn = make_loss(recipe.loss)
    inputs, targets = table.tensors()
    losses: list[float] = []
    solved_epoch: int | None = None
    snapshot(0)
    try:
        for epoch in range(1, recipe.epochs + 1):
            model.train()
            total = 0.0
            for batch_inputs, batch_targets in loader:
                optimizer.zero_grad()
                outputs = model(batch_inputs)
                loss = loss_fn(outputs, batch_targets)
                loss.backward()
                _step(optimizer, epoch)

                # Weighted by batch size, so the epoch loss is the mean over rows.
                total += loss.item() * len(batch_inputs)
            epoch_loss = total / len(table)
            if not np.isfinite(epoch_loss):
                raise TrainingError(
                    f"the loss became {epoch_loss} at epoch {epoch}; try a smaller --lr"
                )
            losses.append(epoch_loss)
            snapshot(epoch)
            if progress is not None:
                progress(epoch, epoch_loss)

            if recipe.stop_when_solved:
                if solved_epoch is None and _all_correct(model, inputs, targets):
                    solved_epoch = epoch
                if solved_epoch is not None and epoch >= solved_epoch + recipe.patience:
                    break
    except KeyboardInterrupt:
        log.debug("Ctrl-C during epoch %d", len(losses) + 1)
        return losses, solved_epoch, True
    return losses, solved_epoch, False


def _step(optimizer: torch.optim.Optimizer, epoch: int) -> None:
    try:
        optimizer.step()
    except RuntimeError as exc:
        # torch raises this when lr times the update leaves the float range.
        if "overflow" not in str(exc):
            raise
        raise TrainingError(
            f"the update overflowed at epoch {epoch}; try a smaller --lr"
        ) from None


def _all_correct(model: MLP, inputs: torch.Tensor, targets: torch.Tensor) -> bool:
    return bool(rows_correct(model.predict(inputs), targets).all())


def table_solved(model: MLP, table: TruthTable) -> bool:
    """Return True when the model gets every row of the table right."""
    inputs, targets = table.tensors()
    return _all_correct(model, inputs, targets)


def choose_best(solved: list[bool], final_losses: list[float]) -> int:
    """Return the index of the best model: solved first, then lowest final loss."""
    if not final_losses:
        return 0

    def key(i: int) -> tuple[bool, float]:
        loss = final_losses[i]
        return (not solved[i], loss if np.isfinite(loss) else float("inf"))

    return min(range(len(final_losses)), key=key)
