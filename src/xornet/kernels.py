"""Hand-written training steps for networks with one hidden layer.

Every array puts the model axis last, so one numpy or torch call works on all
K models. All parameters live in one (n_parameters, K) array, so the
optimizer update is a handful of calls for the whole network. The same
functions run on numpy (module ``np``) and torch (module ``torch``). They
use operators and functions that both spell the same way, and branch on
the module where one form is faster or fuses better under torch.compile.

Parameter rows, for I inputs, H hidden units and O outputs:

* ``w1 = P[: (I + 1) * H].reshape(I + 1, H, K)``: rows 0..I-1 hold the hidden
  weights transposed (``w1[i, h] = weight[h, i]``), row I the hidden bias.
* ``w2 = P[(I + 1) * H :].reshape(H + 1, O, K)``: rows 0..H-1 hold the
  output weights transposed, row H the output bias.

The optimizers repeat the arithmetic of torch 2.13's single-tensor
implementations of Adam, AdamW, SGD and RMSprop with their default betas,
eps and alpha, step for step.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch

from xornet.config import Recipe
from xornet.tables import TruthTable, is_onehot

log = logging.getLogger(__name__)

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")

# nn.LeakyReLU's default negative slope.
LEAKY_SLOPE = 0.01
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99
RMSPROP_EPS = 1e-8
# nn.BCELoss clamps each log term at -100 and its gradient divides by
# max(y * (1 - y), 1e-12).
BCE_LOG_MIN = -100.0
BCE_GRAD_EPS = 1e-12
# The smallest positive float32 (subnormal): log() of it is below -100, so
# clipping to it keeps log finite without changing the clamped result.
_TINY = float(np.finfo(np.float32).smallest_subnormal)


def supports(recipe: Recipe) -> bool:
    """Return True when this module can train the recipe's network."""
    return len(recipe.hidden_sizes) == 1 and recipe.activation in ACTIVATIONS


Array = Any  # a numpy array or a torch tensor


# NumpyStep's batched matmuls over models win for few models and lose for
# many: measured per step, 60 vs 112 us at 64 models of batch 1, 91 vs 137
# at 256 x 1, but 321 vs 245 at 1024 x 1 and 966 vs 354 at 1024 x 4. It is
# used up to this many models x batch rows.
NUMPY_STEP_MAX_ROWS = 256


@dataclass(frozen=True)
class Shape:
    inputs: int
    hidden: int
    outputs: int

    @property
    def first_rows(self) -> int:
        return (self.inputs + 1) * self.hidden


def split(xp: ModuleType, params: Array, shape: Shape) -> tuple[Array, Array]:
    """Return views ``(w1, w2)`` of the parameter array; see the module docstring."""
    count = params.shape[-1]
    w1 = params[: shape.first_rows].reshape(shape.inputs + 1, shape.hidden, count)
    w2 = params[shape.first_rows :].reshape(shape.hidden + 1, shape.outputs, count)
    return w1, w2


def sigmoid(xp: ModuleType, z: Array) -> Array:
    if xp is np:
        # exp(-z) overflows to inf for z below about -88, which gives the
        # correct 0; the engine silences numpy's overflow warning.
        return 1.0 / (1.0 + np.exp(-z))
    return torch.sigmoid(z)


def activate(xp: ModuleType, name: str, z: Array) -> Array:
    if name == "relu":
        return np.maximum(z, 0.0) if xp is np else torch.relu(z)
    if name == "leaky_relu":
        return xp.where(z > 0, z, z * LEAKY_SLOPE)
    if name == "tanh":
        return xp.tanh(z)
    return sigmoid(xp, z)


def backprop_activation(
    xp: ModuleType, name: str, grad: Array, z: Array, a: Array
) -> Array:
    """Return d loss / d z from d loss / d a, the pre-activation z and output a."""
    if name == "relu":
        return grad * (a > 0)
    if name == "leaky_relu":
        return xp.where(z > 0, grad, grad * LEAKY_SLOPE)
    if name == "tanh":
        return grad * (1.0 - a * a)
    return grad * (a * (1.0 - a))


def forward(
    xp: ModuleType, params: Array, inputs: Array, shape: Shape, activation: str
) -> tuple[Array, Array, Array]:
    """Return ``(z1, a1, z2)``: hidden pre-activations and outputs, models last.

    ``inputs`` is (batch, I); z1 and a1 are (batch, H, K) and the output
    pre-activation z2 is (batch, O, K).
    """
    w1, w2 = split(xp, params, shape)
    count = params.shape[-1]
    if xp is np:
        # One BLAS call: (batch, I) @ (I, H * K) -> (batch, H * K).
        flat = w1[: shape.inputs].reshape(shape.inputs, shape.hidden * count)
        z1 = (inputs @ flat).reshape(-1, shape.hidden, count) + w1[shape.inputs]
    else:
        # Elementwise, so torch.compile fuses it into the step's single loop:
        # (batch, I, 1, 1) * (1, I, H, K) summed over I -> (batch, H, K).
        products = inputs[:, :, None, None] * w1[None, : shape.inputs]
        z1 = products.sum(axis=1) + w1[shape.inputs]
    a1 = activate(xp, activation, z1)
    # (batch, H, 1, K) * (1, H, O, K) summed over H -> (batch, O, K)
    z2 = (a1[:, :, None, :] * w2[None, : shape.hidden]).sum(axis=1) + w2[shape.hidden]
    return z1, a1, z2


def loss_and_grad(
    xp: ModuleType, loss: str, z2: Array, targets: Array
) -> tuple[Array, Array]:
    """Return each model's mean loss (K,) and d loss / d z2, (batch, O, K).

    ``targets`` is (batch, O). The mean runs over batch rows and outputs, as
    torch's losses with ``reduction="mean"``.
    """
    t = targets[:, :, None]
    n = targets.shape[0] * targets.shape[1]
    if loss == "bce-with-logits":
        # max(z, 0) - z t + log(1 + exp(-|z|)) is the stable form of the loss.
        terms = xp.where(z2 > 0, z2, 0.0) - z2 * t + xp.log1p(xp.exp(-xp.abs(z2)))
        return terms.sum(axis=(0, 1)) / n, (sigmoid(xp, z2) - t) / n
    y = sigmoid(xp, z2)
    slope = y * (1.0 - y)  # d sigmoid / d z2
    if loss == "mse":
        diff = y - t
        return (diff * diff).sum(axis=(0, 1)) / n, diff * (2.0 / n) * slope
    log_y = xp.clip(xp.log(xp.clip(y, min=_TINY)), min=BCE_LOG_MIN)
    log_1my = xp.clip(xp.log(xp.clip(1.0 - y, min=_TINY)), min=BCE_LOG_MIN)
    terms = -(t * log_y + (1.0 - t) * log_1my)
    grad_y = (y - t) / xp.clip(slope, min=BCE_GRAD_EPS) / n
    return terms.sum(axis=(0, 1)) / n, grad_y * slope


def gradients(
    xp: ModuleType,
    params: Array,
    inputs: Array,
    targets: Array,
    shape: Shape,
    activation: str,
    loss: str,
) -> tuple[Array, Array, Array]:
    """Return each model's mean batch loss (K,), the gradient and z2.

    The gradient is shaped like ``params``; z2 is the output pre-activation
    (batch, O, K) of the weights before the step.
    """
    w1, w2 = split(xp, params, shape)
    count = params.shape[-1]
    z1, a1, z2 = forward(xp, params, inputs, shape, activation)
    losses, dz2 = loss_and_grad(xp, loss, z2, targets)

    # (batch, H, 1, K) * (batch, 1, O, K) summed over the batch -> (H, O, K)
    dw2 = (a1[:, :, None, :] * dz2[:, None, :, :]).sum(axis=0)
    db2 = dz2.sum(axis=0)  # (O, K)
    # (batch, 1, O, K) * (1, H, O, K) summed over O -> (batch, H, K)
    da1 = (dz2[:, None, :, :] * w2[None, : shape.hidden]).sum(axis=2)
    dz1 = backprop_activation(xp, activation, da1, z1, a1)
    if xp is np:
        # (I, batch) @ (batch, H * K) -> (I, H * K)
        dw1 = inputs.T @ dz1.reshape(-1, shape.hidden * count)
    else:
        # (batch, I, 1, 1) * (batch, 1, H, K) summed over the batch -> (I, H, K)
        dw1 = (inputs[:, :, None, None] * dz1[:, None]).sum(axis=0)
    db1 = dz1.sum(axis=0)  # (H, K)

    parts = [
        dw1.reshape(shape.inputs * shape.hidden, count),
        db1,
        dw2.reshape(shape.hidden * shape.outputs, count),
        db2,
    ]
    grad = xp.concatenate(parts, axis=0) if xp is np else torch.cat(parts, dim=0)
    return losses, grad, z2


def all_correct(
    xp: ModuleType,
    params: Array,
    inputs: Array,
    targets: Array,
    shape: Shape,
    activation: str,
    onehot: bool,
) -> Array:
    """Return which models get every row right, (K,) bool, as rows_correct judges."""
    _, _, z2 = forward(xp, params, inputs, shape, activation)
    return every_row_right(xp, z2, targets, onehot)


def every_row_right(xp: ModuleType, z2: Array, targets: Array, onehot: bool) -> Array:
    """Return which models get every row right from z2 (rows, O, K), (K,) bool.

    For one-hot targets a row is right when argmax picks the target column.
    argmax returns the first of equal maxima, so the target output must beat
    every earlier column and tie or beat every later one. This comparison
    replaces argmax over the short output axis, which torch 2.13 runs slowly
    for many models.
    """
    y = sigmoid(xp, z2)  # (rows, O, K)
    if onehot:
        columns = xp.arange(targets.shape[1])
        target_column = (targets * columns).sum(axis=1)  # (rows,)
        earlier = columns[None, :] < target_column[:, None]  # (rows, O)
        target_output = (y * targets[:, :, None]).sum(axis=1)[:, None, :]
        beats = xp.where(earlier[:, :, None], y < target_output, y <= target_output)
        right = beats.all(axis=1)
    else:
        right = ((y >= 0.5) == (targets >= 0.5)[:, :, None]).all(axis=1)
    return right.all(axis=0)


def compile_or_fall_back(function: Any, name: str) -> Any:
    """Return ``function`` under torch.compile, or itself if compiling fails.

    Compiling happens on the first call (about 25 s for the training step
    on a loaded 2-core machine), so only long runs should ask for it.
    """
    compiled = torch.compile(function, dynamic=False)
    chosen: list[Any] = []

    def call(*args: Any) -> Any:
        if chosen:
            return chosen[0](*args)
        try:
            result = compiled(*args)
        except Exception as exc:  # any compiler failure: inductor, C++ toolchain
            log.warning(
                "torch.compile failed for the %s (%s); running eagerly", name, exc
            )
            chosen.append(function)
            return function(*args)
        chosen.append(compiled)
        return result

    return call


@dataclass(frozen=True)
class StepSettings:
    """The fixed choices of a training step: network, loss and optimizer."""

    shape: Shape
    activation: str
    loss: str
    optimizer: str
    lr: float
    weight_decay: float
    momentum: float
    # "onehot" or "bits" to judge the rows of the batch before the step, as
    # all_correct does; None to skip.
    check: str | None = None


def step_coefficients(settings: StepSettings, step: int) -> tuple[float, float]:
    """Return the values of step number ``step`` (from 1) that the update needs.

    For Adam and AdamW they are the step size lr / (1 - beta1^step) and
    sqrt(1 - beta2^step); the other optimizers need none.
    """
    if settings.optimizer in ("adam", "adamw"):
        beta1, beta2 = ADAM_BETAS
        return settings.lr / (1.0 - beta1**step), math.sqrt(1.0 - beta2**step)
    return 1.0, 1.0


def update(
    xp: ModuleType,
    settings: StepSettings,
    params: Array,
    grad: Array,
    first: Array,
    second: Array,
    coefficients: Any,
) -> None:
    """Apply one optimizer step to ``params`` in place, with torch's arithmetic.

    ``first`` is Adam's exp_avg or the momentum buffer and ``second`` is
    exp_avg_sq or RMSprop's square_avg; both start as zeros. A momentum
    buffer that starts at zero makes SGD's first step ``buf = grad`` exact.
    """
    lr, decay, momentum = settings.lr, settings.weight_decay, settings.momentum
    if settings.optimizer == "adamw":
        params *= 1.0 - lr * decay
    elif decay:
        grad = grad + params * decay
    if settings.optimizer in ("adam", "adamw"):
        beta1, beta2 = ADAM_BETAS
        first += (grad - first) * (1.0 - beta1)
        second *= beta2
        second += (grad * grad) * (1.0 - beta2)
        denom = xp.sqrt(second) / coefficients[1] + ADAM_EPS
        params -= (first / denom) * coefficients[0]
    elif settings.optimizer == "sgd":
        if momentum:
            first *= momentum
            first += grad
            grad = first
        params -= grad * lr
    else:
        second *= RMSPROP_ALPHA
        second += (grad * grad) * (1.0 - RMSPROP_ALPHA)
        avg = xp.sqrt(second) + RMSPROP_EPS
        if momentum:
            first *= momentum
            first += grad / avg
            params -= first * lr
        else:
            params -= (grad / avg) * lr


def train_step(
    xp: ModuleType,
    settings: StepSettings,
    params: Array,
    first: Array,
    second: Array,
    inputs: Array,
    targets: Array,
    coefficients: Any,
) -> tuple[Array, Array | None]:
    """Take one optimizer step on a batch in place.

    Returns each model's loss (K,) and, when ``settings.check`` is set,
    which models got every batch row right before the step (K,), else None.
    """
    losses, grad, z2 = gradients(
        xp,
        params,
        inputs,
        targets,
        settings.shape,
        settings.activation,
        settings.loss,
    )
    correct = None
    if settings.check is not None:
        correct = every_row_right(xp, z2, targets, settings.check == "onehot")
    update(xp, settings, params, grad, first, second, coefficients)
    return losses, correct


class NumpyStep:
    """The training step of :func:`train_step`, rearranged for numpy.

    numpy spends about 1 us per call on arrays this small, so this version
    saves calls. The biases ride in the matmuls as weights of a constant 1
    input, and the second layer runs as one matmul batched over models. The
    gradient goes straight into a preallocated array. It takes inputs with
    the constant column appended, (batch, I + 1), from :func:`append_ones`.
    """

    def __init__(self, settings: StepSettings, params: np.ndarray) -> None:
        shape = settings.shape
        count = params.shape[-1]
        self.settings, self.count = settings, count
        # Views into params and grad, which the update changes in place.
        hidden_units = shape.hidden * count
        self.w1 = params[: shape.first_rows].reshape(shape.inputs + 1, hidden_units)
        w2 = params[shape.first_rows :].reshape(shape.hidden + 1, shape.outputs, count)
        self.w2_by_model = w2.transpose(2, 0, 1)  # (K, H + 1, O)
        self.w2_hidden_by_model = w2[: shape.hidden].transpose(2, 1, 0)  # (K, O, H)
        self.grad = np.zeros_like(params)
        self.g1 = self.grad[: shape.first_rows].reshape(shape.inputs + 1, hidden_units)
        g2 = self.grad[shape.first_rows :].reshape(
            shape.hidden + 1, shape.outputs, count
        )
        self.g2_by_model = g2.transpose(2, 0, 1)  # (K, H + 1, O)
        self.hidden: dict[int, np.ndarray] = {}

    def _hidden_buffer(self, batch: int) -> np.ndarray:
        """Return a (K, batch, H + 1) buffer whose last column is 1."""
        if batch not in self.hidden:
            buffer = np.ones((self.count, batch, self.settings.shape.hidden + 1))
            self.hidden[batch] = buffer.astype(np.float32)
        return self.hidden[batch]

    def __call__(
        self,
        params: np.ndarray,
        first: np.ndarray,
        second: np.ndarray,
        inputs: np.ndarray,
        targets: np.ndarray,
        coefficients: Any,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        settings = self.settings
        shape = settings.shape
        batch = len(inputs)
        z1 = (inputs @ self.w1).reshape(batch, shape.hidden, self.count)
        a1 = activate(np, settings.activation, z1)  # (batch, H, K)
        hidden = self._hidden_buffer(batch)
        hidden[:, :, : shape.hidden] = a1.transpose(2, 0, 1)
        # (K, batch, H + 1) @ (K, H + 1, O) -> (K, batch, O)
        z2 = np.matmul(hidden, self.w2_by_model).transpose(1, 2, 0)
        losses, dz2 = loss_and_grad(np, settings.loss, z2, targets)
        dz2_by_model = dz2.transpose(2, 0, 1)  # (K, batch, O)

        # (K, H + 1, batch) @ (K, batch, O) -> (K, H + 1, O): weights and bias
        np.matmul(hidden.transpose(0, 2, 1), dz2_by_model, out=self.g2_by_model)
        # (K, batch, O) @ (K, O, H) -> (K, batch, H)
        da1 = np.matmul(dz2_by_model, self.w2_hidden_by_model).transpose(1, 2, 0)
        dz1 = backprop_activation(np, settings.activation, da1, z1, a1)
        # (I + 1, batch) @ (batch, H * K) -> (I + 1, H * K): weights and bias
        np.matmul(inputs.T, dz1.reshape(batch, -1), out=self.g1)

        correct = None
        if settings.check is not None:
            correct = every_row_right(np, z2, targets, settings.check == "onehot")
        update(np, settings, params, self.grad, first, second, coefficients)
        return losses, correct


def append_ones(inputs: np.ndarray) -> np.ndarray:
    """Return inputs (batch, I) with a column of ones appended, (batch, I + 1)."""
    ones = np.ones((len(inputs), 1), dtype=inputs.dtype)
    return np.ascontiguousarray(np.concatenate([inputs, ones], axis=1))


@dataclass
class Batch:
    inputs: Array
    targets: Array
    rows: int


class HiddenLayerTrainer:
    """The engine's trainer for one-hidden-layer networks, on numpy or torch."""

    def __init__(
        self,
        table: TruthTable,
        recipe: Recipe,
        weights: list[torch.Tensor],
        backend: str,
        device: str,
        compile_step: bool = False,
        check_in_step: bool = False,
    ) -> None:
        self.xp: ModuleType = np if backend == "numpy" else torch
        self.device = device
        self.recipe = recipe
        self.activation = recipe.activation
        self.loss = recipe.loss
        self.onehot = is_onehot(table.targets)
        self.shape = Shape(table.n_inputs, recipe.hidden_sizes[0], table.n_outputs)
        self.params = self._array(pack(weights))
        self.first = self.xp.zeros_like(self.params)
        self.second = self.xp.zeros_like(self.params)
        self.steps = 0
        self.settings = StepSettings(
            self.shape,
            recipe.activation,
            recipe.loss,
            recipe.optimizer,
            recipe.lr,
            recipe.weight_decay,
            recipe.momentum,
            check=None,
        )
        if check_in_step:
            check = "onehot" if self.onehot else "bits"
            self.settings = dataclasses.replace(self.settings, check=check)
        # Which models got every row right before the latest step, when the
        # step checks its batch: the engine passes only full batches then.
        self.correct_before_step: np.ndarray | None = None
        self.inputs = self._array(table.inputs)
        self.targets = self._array(table.targets)
        self.frozen_index: Array | None = None
        self.frozen_values: Array | None = None
        self.frozen = np.zeros(self.params.shape[-1], dtype=bool)
        self._train_step: Any = self._eager_step
        self._all_correct = self._eager_all_correct
        batch_rows = min(recipe.batch_size, len(table))
        self.numpy_step = (
            self.xp is np and self.params.shape[-1] * batch_rows <= NUMPY_STEP_MAX_ROWS
        )
        if self.numpy_step:
            self._train_step = NumpyStep(self.settings, self.params)
        if compile_step:
            self._train_step = compile_or_fall_back(self._eager_step, "training step")
            self._all_correct = compile_or_fall_back(
                self._eager_all_correct, "solved check"
            )

    def _array(self, values: np.ndarray) -> Array:
        values = np.ascontiguousarray(values, dtype=np.float32)
        if self.xp is np:
            return values
        return torch.from_numpy(values).to(self.device)

    def prepare(self, rows: np.ndarray) -> Batch:
        if self.numpy_step:
            inputs = append_ones(self.inputs[rows])
            return Batch(inputs, self.targets[rows], len(rows))
        if self.xp is np:
            return Batch(self.inputs[rows], self.targets[rows], len(rows))
        index = torch.as_tensor(rows, device=self.device)
        return Batch(self.inputs[index], self.targets[index], len(rows))

    def _eager_step(self, *arrays: Array) -> Array:
        return train_step(self.xp, self.settings, *arrays)

    def step(self, batch: Batch) -> Array:
        self.steps += 1
        coefficients: Any = step_coefficients(self.settings, self.steps)
        if self.xp is torch:
            # A tensor, so a compiled step does not recompile for each value.
            coefficients = torch.tensor(coefficients, device=self.device)
        losses, correct = self._train_step(
            self.params,
            self.first,
            self.second,
            batch.inputs,
            batch.targets,
            coefficients,
        )
        if correct is not None:
            self.correct_before_step = (
                np.asarray(correct) if self.xp is np else correct.cpu().numpy()
            )
        if self.frozen_index is not None:
            self.params[:, self.frozen_index] = self.frozen_values
        return losses

    def _eager_all_correct(self, params: Array) -> Array:
        return all_correct(
            self.xp,
            params,
            self.inputs,
            self.targets,
            self.shape,
            self.activation,
            self.onehot,
        )

    def all_correct(self) -> np.ndarray:
        correct = self._all_correct(self.params)
        if self.xp is np:
            return np.asarray(correct, dtype=bool)
        return correct.cpu().numpy()

    def freeze(self, models: np.ndarray) -> None:
        self.frozen |= models
        index: Array = np.flatnonzero(self.frozen)
        if self.xp is not np:
            index = torch.as_tensor(index, device=self.device)
        self.frozen_index = index
        self.frozen_values = (
            self.params[:, index].clone()
            if self.xp is torch
            else (self.params[:, index].copy())
        )

    def weights(self) -> list[torch.Tensor]:
        params = self.params if self.xp is np else self.params.cpu().numpy()
        return unpack(np.asarray(params), self.shape)


def pack(weights: list[torch.Tensor]) -> np.ndarray:
    """Return the (n_parameters, K) array for stacked MLP weights.

    ``weights`` is ``[hidden weight (K, H, I), hidden bias (K, H), output
    weight (K, O, H), output bias (K, O)]``.
    """
    w1, b1, w2, b2 = (w.detach().cpu().numpy() for w in weights)
    count = len(w1)
    first = np.concatenate([w1.transpose(2, 1, 0), b1.T[None]], axis=0)
    second = np.concatenate([w2.transpose(2, 1, 0), b2.T[None]], axis=0)
    return np.concatenate([first.reshape(-1, count), second.reshape(-1, count)], axis=0)


def unpack(params: np.ndarray, shape: Shape) -> list[torch.Tensor]:
    """Return stacked MLP weights (state_dict order) from a parameter array."""
    w1, w2 = split(np, params, shape)
    parts = [
        w1[: shape.inputs].transpose(2, 1, 0),
        w1[shape.inputs].T,
        w2[: shape.hidden].transpose(2, 1, 0),
        w2[shape.hidden].T,
    ]
    return [torch.from_numpy(np.ascontiguousarray(p, dtype=np.float32)) for p in parts]
