"""The batched engine: many models of one architecture trained as one.

:func:`train` has the meaning of :func:`xornet.training.train`. From the same
initial weights it produces the same weights after every epoch, up to float32
rounding. It trains all ``recipe.restarts`` models together, with one forward,
one backward and one optimizer update per step for all of them.

Two interchangeable backends do the arithmetic:

* the stacked backend keeps every layer's parameters with a leading model
  axis, differentiates with autograd and updates with the same torch
  optimizer as the reference loop. Because torch's optimizers work element
  by element, one optimizer over the stacked tensors equals one optimizer per
  model. It handles every recipe and device.
* the hidden-layer backend (:mod:`xornet.kernels`) covers networks with one
  hidden layer and any activation except gelu. It puts the model axis last,
  computes gradients by hand and applies one fused optimizer update to a
  single parameter array. It runs on numpy, whose per-call overhead of
  about 1 us beats torch's, except on a GPU and in long runs, where torch
  fuses the whole step into one compiled loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from xornet import kernels
from xornet.config import Architecture, Recipe
from xornet.diagnostics import rows_correct
from xornet.errors import ConfigError, TrainingError
from xornet.model import MLP
from xornet.tables import TruthTable
from xornet.training import (
    ProgressCallback,
    TrainResult,
    build_models,
    choose_best,
    make_optimizer,
)

log = logging.getLogger(__name__)

BACKENDS = ("auto", "stacked", "numpy", "torch")

# Models trained at once by train(); more run in chunks so memory stays bounded.
CHUNK_MODELS = 65_536

# Work, in model-steps, above which the torch backend compiles its step. The
# compile took 20-25 s (5 s with inductor's on-disk cache) and the compiled
# step ran about 6 times faster than eager in one thread, on a shared 2-core
# AMD EPYC, so compiling pays off from roughly 10^8 model-steps.
COMPILE_MIN_MODEL_STEPS = 10**8

_STACKED_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
}


def resolve_device(name: str) -> str:
    """Return ``"cpu"`` or ``"cuda"`` for a recipe's device option.

    Raises:
        ConfigError: cuda was requested but torch finds no CUDA device.
    """
    # NOTE: training on cuda has only run in tests that skip without a GPU;
    # it has not been checked on a real device.
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"--device cuda requested, but torch {torch.__version__} finds no CUDA "
            "device; use --device cpu or auto"
        )
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"unknown --device {name!r}; choose one of cpu, cuda, auto")
    return name


class Trainer(Protocol):
    """The interface between the epoch loop and a backend; K is the number of models."""

    def prepare(self, rows: np.ndarray) -> Any:
        """Return a batch of the given table rows in the backend's format."""

    def step(self, batch: Any) -> Any:
        """Take one optimizer step; return each model's mean batch loss, (K,)."""

    def all_correct(self) -> np.ndarray:
        """Return which models get every table row right, (K,) bool."""

    def freeze(self, models: np.ndarray) -> None:
        """Stop updating the models marked True in a (K,) mask."""

    def weights(self) -> list[torch.Tensor]:
        """Return the stacked parameters on the CPU, in state_dict order."""


@dataclass
class StackedResult:
    """The outcome of :func:`train_stacked` for K models.

    ``weights`` are CPU tensors in ``MLP.state_dict()`` order with a leading
    model axis. ``history`` is (epochs_run, K) or None when not kept.
    ``solved_epochs`` is -1 where a model never got every row right or
    solved epochs were not tracked.
    """

    weights: list[torch.Tensor]
    final_losses: np.ndarray
    solved: np.ndarray
    solved_epochs: np.ndarray
    epochs_run: int
    history: np.ndarray | None = None
    interrupted: bool = False
    snapshots: dict[int, list[dict[str, torch.Tensor]]] = field(default_factory=dict)


def train(
    table: TruthTable,
    recipe: Recipe,
    seed: int,
    progress: ProgressCallback | None = None,
    models: list[MLP] | None = None,
    snapshot_at: list[int] | None = None,
    device: str = "cpu",
) -> TrainResult:
    """Train ``recipe.restarts`` models together; the arguments are training.train's.

    The given or freshly built models receive their final weights in place.
    Two results differ from the reference loop. A model that stops early
    (``stop_when_solved``) repeats its last loss in ``history`` until the
    last model stops, and ``epochs_run`` counts to that last model. The
    progress callback runs once per epoch with the mean loss of all models.

    Raises:
        TrainingError: a model's loss became NaN or infinite; names the epoch.
        ConfigError: cuda was requested but is not available.
    """
    if models is None:
        models = build_models(table, recipe, seed)
    names = list(models[0].state_dict())
    parts: list[StackedResult] = []
    for start in range(0, len(models), CHUNK_MODELS):
        chunk = models[start : start + CHUNK_MODELS]
        part = train_stacked(
            table,
            recipe,
            stack_models(chunk),
            seed=seed,
            device=device,
            progress=progress,
            snapshot_at=snapshot_at,
            names=names,
        )
        for model, state in zip(
            chunk, unstack_states(part.weights, names), strict=True
        ):
            model.load_state_dict(state)
        parts.append(part)
        if part.interrupted:
            break
    return _merge_parts(models, parts, seed)


def _merge_parts(
    models: list[MLP], parts: list[StackedResult], seed: int
) -> TrainResult:
    count = sum(len(p.solved) for p in parts)
    epochs_run = min(p.epochs_run for p in parts)
    histories = [p.history[:epochs_run] for p in parts if p.history is not None]
    history = np.concatenate(histories, axis=1).reshape(epochs_run, count)
    solved = [bool(s) for p in parts for s in p.solved]
    solved_epochs = [int(e) if e >= 0 else None for p in parts for e in p.solved_epochs]
    snapshots: dict[int, list[dict[str, torch.Tensor]]] = {}
    for part in parts:
        for epoch, states in part.snapshots.items():
            snapshots.setdefault(epoch, []).extend(states)
    final = history[-1].tolist() if epochs_run else []
    return TrainResult(
        models=models[:count],
        history=history,
        solved=solved,
        kept=choose_best(solved, final),
        seed=seed,
        epochs_run=epochs_run,
        interrupted=parts[-1].interrupted,
        solved_epochs=solved_epochs,
        snapshots={e: s for e, s in snapshots.items() if len(s) == count},
    )


def train_stacked(
    table: TruthTable,
    recipe: Recipe,
    weights: list[torch.Tensor],
    *,
    seed: int,
    device: str = "cpu",
    backend: str = "auto",
    progress: ProgressCallback | None = None,
    snapshot_at: list[int] | None = None,
    names: list[str] | None = None,
    keep_history: bool = True,
    track_solved: bool = False,
    freeze_diverged: bool = False,
    compile_step: bool | None = None,
) -> StackedResult:
    """Train the models whose stacked initial weights are given, all at once.

    ``weights`` is in ``MLP.state_dict()`` order with a leading model axis,
    as :func:`stack_models` returns. ``seed`` seeds the shuffle order, as in
    the reference loop. ``track_solved`` records every model's first solved
    epoch even without ``stop_when_solved``. ``freeze_diverged`` stops a model
    whose loss is no longer finite instead of raising, for sweeps where one
    diverging model must not end the others. ``compile_step`` runs the torch
    backend's step under torch.compile; None decides by the amount of work.

    Raises:
        TrainingError: a loss became NaN or infinite and ``freeze_diverged``
            is False.
    """
    architecture = recipe.architecture(table.n_inputs, table.n_outputs)
    # With one full batch per epoch, the step's own forward pass runs on the
    # weights of the previous epoch's end, so it can judge them for free.
    check_in_step = (
        track_solved and not recipe.stop_when_solved and recipe.batch_size >= len(table)
    )
    trainer = make_trainer(
        table,
        recipe,
        weights,
        resolve_device(device),
        backend,
        compile_step,
        check_in_step,
    )
    names = names or _state_names(architecture)
    loop = _EpochLoop(trainer, table, recipe, seed, names, keep_history)
    # The numpy sigmoid overflows to its correct limit for very negative
    # inputs, and a diverging model overflows before its loss turns NaN,
    # which the loop reports. Numpy's warnings add nothing to either.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loop.run(progress, set(snapshot_at or ()), track_solved, freeze_diverged)
        solved = trainer.all_correct()
    return StackedResult(
        weights=trainer.weights(),
        final_losses=loop.last_losses,
        solved=solved,
        solved_epochs=loop.solved_epochs,
        epochs_run=loop.epochs_run,
        history=np.array(loop.history).reshape(-1, loop.count)
        if keep_history
        else None,
        interrupted=loop.interrupted,
        snapshots=loop.snapshots,
    )


def make_trainer(
    table: TruthTable,
    recipe: Recipe,
    weights: list[torch.Tensor],
    device: str,
    backend: str = "auto",
    compile_step: bool | None = None,
    check_in_step: bool = False,
) -> Trainer:
    """Return the backend for a recipe: see the module docstring for the choice."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    fits = kernels.supports(recipe)
    if backend in ("numpy", "torch") and not fits:
        raise ValueError(f"the hidden-layer backend cannot train {recipe!r}")
    count = len(weights[0])
    steps = recipe.epochs * math.ceil(len(table) / recipe.batch_size)
    long_run = count * steps >= COMPILE_MIN_MODEL_STEPS
    if backend == "auto":
        # Eager numpy beats eager torch for few models, and at 10^5 models the
        # two were within this machine's noise (benchmarks/bench_sweep.py),
        # so torch runs only on a GPU or compiled.
        if not fits:
            backend = "stacked"
        elif device != "cpu" or long_run:
            backend = "torch"
        else:
            backend = "numpy"
    if backend == "numpy" and device != "cpu":
        raise ValueError("the numpy backend runs on the CPU only")
    log.debug("training %d models with the %s backend on %s", count, backend, device)
    if backend == "stacked":
        return StackedTrainer(table, recipe, weights, device)
    if compile_step is None:
        compile_step = backend == "torch" and long_run
    return kernels.HiddenLayerTrainer(
        table,
        recipe,
        weights,
        backend,
        device,
        compile_step=compile_step,
        check_in_step=check_in_step,
    )


class _EpochLoop:
    """The reference loop's epochs, batches, stopping and bookkeeping for K models."""

    def __init__(
        self,
        trainer: Trainer,
        table: TruthTable,
        recipe: Recipe,
        seed: int,
        names: list[str],
        keep_history: bool,
    ) -> None:
        self.trainer, self.table, self.recipe = trainer, table, recipe
        self.seed, self.names, self.keep_history = seed, names, keep_history
        self.count = len(trainer.weights()[0])
        self.history: list[np.ndarray] = []
        self.last_losses = np.full(self.count, np.nan)
        self.solved_epochs = np.full(self.count, -1, dtype=np.int64)
        self.stopped = np.zeros(self.count, dtype=bool)
        self.epochs_run = 0
        self.interrupted = False
        self.snapshots: dict[int, list[dict[str, torch.Tensor]]] = {}

    def run(
        self,
        progress: ProgressCallback | None,
        snapshot_at: set[int],
        track_solved: bool,
        freeze_diverged: bool,
    ) -> None:
        recipe = self.recipe
        check_solved = recipe.stop_when_solved or track_solved
        self._snapshot(0, snapshot_at)
        try:
            for epoch, batches in self._epochs():
                losses = self._train_epoch(batches)
                losses = np.where(self.stopped, self.last_losses, losses)
                self._check_finite(losses, epoch, freeze_diverged)
                self.last_losses = losses
                self.epochs_run = epoch
                if self.keep_history:
                    self.history.append(losses)
                self._snapshot(epoch, snapshot_at)
                if progress is not None:
                    progress(epoch, float(np.nanmean(losses)) if losses.size else 0.0)
                if check_solved:
                    self._track_solved(epoch)
                if recipe.stop_when_solved and self._stop_solved(epoch):
                    break
            if check_solved and self.epochs_run:
                self._track_solved(self.epochs_run, final=True)
        except KeyboardInterrupt:
            log.debug("Ctrl-C during epoch %d", self.epochs_run + 1)
            self.interrupted = True

    def _epochs(self) -> Iterator[tuple[int, list[object]]]:
        """Yield each epoch's prepared batches, in the reference loop's order."""
        trainer, epochs = self.trainer, self.recipe.epochs
        if not self.recipe.shuffle:
            rows = np.arange(len(self.table))
            size = self.recipe.batch_size
            fixed = [
                trainer.prepare(rows[i : i + size]) for i in range(0, len(rows), size)
            ]
            for epoch in range(1, epochs + 1):
                yield epoch, fixed
            return
        loader = _index_loader(len(self.table), self.recipe, self.seed)
        for epoch in range(1, epochs + 1):
            yield epoch, [trainer.prepare(rows.numpy()) for (rows,) in loader]

    def _train_epoch(self, batches: list[object]) -> np.ndarray:
        total: Any = 0.0
        for batch in batches:
            total = total + self.trainer.step(batch) * _batch_length(batch)
        return _to_numpy(total) / len(self.table)

    def _check_finite(
        self, losses: np.ndarray, epoch: int, freeze_diverged: bool
    ) -> None:
        bad = ~np.isfinite(losses) & ~self.stopped
        if not bad.any():
            return
        first = int(np.flatnonzero(bad)[0])
        if not freeze_diverged:
            raise TrainingError(
                f"the loss of model {first} became {losses[first]} at epoch {epoch}; "
                "try a smaller --lr"
            )
        log.debug("%d models diverged at epoch %d; frozen", int(bad.sum()), epoch)
        self.stopped |= bad
        self.trainer.freeze(bad)

    def _track_solved(self, epoch: int, final: bool = False) -> None:
        """Record the models that first get every row right after ``epoch``.

        A trainer that judges the weights in its step reports, after epoch e,
        on the weights of epoch e - 1, so the last epoch needs a call with
        ``final`` set. Other trainers are asked directly and skip that call.
        """
        in_step = getattr(self.trainer, "correct_before_step", None)
        if in_step is not None and not final:
            epoch, correct = epoch - 1, in_step
        elif in_step is None and final:
            return
        else:
            correct = self.trainer.all_correct()
        if epoch < 1:
            return
        new = correct & (self.solved_epochs < 0) & ~self.stopped
        self.solved_epochs[new] = epoch

    def _stop_solved(self, epoch: int) -> bool:
        """Freeze models ``patience`` epochs after solving; True once all stopped."""
        solved = self.solved_epochs >= 0
        done = solved & (epoch >= self.solved_epochs + self.recipe.patience)
        done &= ~self.stopped
        if done.any():
            self.stopped |= done
            self.trainer.freeze(done)
        return bool(self.stopped.all())

    def _snapshot(self, epoch: int, wanted: set[int]) -> None:
        if epoch in wanted:
            self.snapshots[epoch] = unstack_states(self.trainer.weights(), self.names)


def _index_loader(rows: int, recipe: Recipe, seed: int) -> DataLoader:
    """Return a DataLoader over row indices that shuffles like training.make_loader.

    A DataLoader draws a base seed from its generator for every epoch's
    iterator before the sampler draws the permutation, so iterating a real
    DataLoader with the same generator is what reproduces the order exactly.
    """
    generator = torch.Generator().manual_seed(seed)
    indices = TensorDataset(torch.arange(rows))
    return DataLoader(
        indices, batch_size=recipe.batch_size, shuffle=True, generator=generator
    )


def _batch_length(batch: object) -> int:
    return int(batch.rows)  # type: ignore[attr-defined]


def _to_numpy(values: object) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


def _state_names(architecture: Architecture) -> list[str]:
    return list(MLP(architecture).state_dict())


def stack_models(models: list[MLP]) -> list[torch.Tensor]:
    """Return the models' parameters stacked along a new leading model axis."""
    states = [m.state_dict() for m in models]
    return [
        torch.stack([s[name].detach() for s in states]).to(torch.float32)
        for name in states[0]
    ]


def unstack_states(
    weights: list[torch.Tensor], names: list[str]
) -> list[dict[str, torch.Tensor]]:
    """Split stacked weights into one state_dict per model (copies, on the CPU)."""
    count = len(weights[0])
    cpu = [w.detach().cpu() for w in weights]
    return [
        {name: w[k].clone() for name, w in zip(names, cpu, strict=True)}
        for k in range(count)
    ]


@dataclass
class _Batch:
    inputs: torch.Tensor
    targets: torch.Tensor
    rows: int


class StackedTrainer:
    """Autograd on parameters with a leading model axis and a torch optimizer.

    Layer ``l`` has weight (K, out, in) and bias (K, out). The models' losses
    are summed before ``backward``, so each model's gradient is the gradient
    of its own loss.
    """

    def __init__(
        self,
        table: TruthTable,
        recipe: Recipe,
        weights: list[torch.Tensor],
        device: str,
    ) -> None:
        self.device = torch.device(device)
        self.params = [
            w.detach().to(self.device, torch.float32).clone().requires_grad_(True)
            for w in weights
        ]
        self.architecture = recipe.architecture(table.n_inputs, table.n_outputs)
        self.activation = _STACKED_ACTIVATIONS[recipe.activation]
        self.loss_name = recipe.loss
        self.optimizer = make_optimizer(self.params, recipe)
        inputs, targets = table.tensors()
        self.inputs = inputs.to(self.device)
        self.targets = targets.to(self.device)
        self.frozen = torch.zeros(len(weights[0]), dtype=torch.bool, device=self.device)
        self.frozen_values = [p.detach().clone() for p in self.params]

    def prepare(self, rows: np.ndarray) -> _Batch:
        index = torch.as_tensor(rows, device=self.device)
        return _Batch(self.inputs[index], self.targets[index], len(rows))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return every model's outputs, (K, batch, n_outputs)."""
        count = len(self.params[0])
        hidden = inputs.expand(count, *inputs.shape)  # (models, batch, n_inputs)
        layers = len(self.params) // 2
        for layer in range(layers):
            weight, bias = self.params[2 * layer], self.params[2 * layer + 1]
            # (models, batch, out) = bias + hidden @ weight^T, per model
            hidden = torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))
            if layer < layers - 1:
                hidden = self.activation(hidden)
        if self.architecture.output_activation == "sigmoid":
            hidden = torch.sigmoid(hidden)
        return hidden

    def step(self, batch: _Batch) -> torch.Tensor:
        self.optimizer.zero_grad()
        outputs = self.forward(batch.inputs)
        targets = batch.targets.expand_as(outputs)
        if self.loss_name == "mse":
            elementwise = F.mse_loss(outputs, targets, reduction="none")
        elif self.loss_name == "bce":
            elementwise = F.binary_cross_entropy(outputs, targets, reduction="none")
        else:
            elementwise = F.binary_cross_entropy_with_logits(
                outputs, targets, reduction="none"
            )
        losses = elementwise.mean(dim=(1, 2))  # (models,)
        losses.sum().backward()
        self.optimizer.step()
        if bool(self.frozen.any()):
            self._restore_frozen()
        return losses.detach()

    @torch.no_grad()
    def _restore_frozen(self) -> None:
        for param, saved in zip(self.params, self.frozen_values, strict=True):
            mask = self.frozen.view(-1, *([1] * (param.dim() - 1)))
            param.copy_(torch.where(mask, saved, param))

    @torch.no_grad()
    def all_correct(self) -> np.ndarray:
        outputs = self.forward(self.inputs)
        if self.architecture.output_activation == "identity":
            outputs = torch.sigmoid(outputs)
        correct = rows_correct(outputs, self.targets.expand_as(outputs))
        return correct.all(dim=-1).cpu().numpy()

    @torch.no_grad()
    def freeze(self, models: np.ndarray) -> None:
        mask = torch.as_tensor(models, device=self.device)
        for param, saved in zip(self.params, self.frozen_values, strict=True):
            saved[mask] = param[mask]
        self.frozen |= mask

    def weights(self) -> list[torch.Tensor]:
        return [p.detach().cpu().clone() for p in self.params]
