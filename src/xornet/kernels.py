"""Hand-written training steps for networks with one hidden layer.

Every array puts the model axis last, so one numpy or torch call works on all
K models. All parameters live in one (n_parameters, K) array, so the
optimizer update is a handful of calls for the whole network. The same
functions run on numpy (module ``np``) and torch (module ``torch``):
they use only operators and functions that both spell the same way.

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

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import torch

from xornet.config import Recipe
from xornet.tables import TruthTable, is_onehot

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
    flat = w1[: shape.inputs].reshape(shape.inputs, shape.hidden * count)
    z1 = (inputs @ flat).reshape(-1, shape.hidden, count) + w1[shape.inputs]
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
) -> tuple[Array, Array]:
    """Return each model's mean batch loss (K,) and the gradient, like ``params``."""
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
    # (I, batch) @ (batch, H * K) -> (I, H * K)
    dw1 = inputs.T @ dz1.reshape(-1, shape.hidden * count)
    db1 = dz1.sum(axis=0)  # (H, K)

    parts = [
        dw1.reshape(shape.inputs * shape.hidden, count),
        db1,
        dw2.reshape(shape.hidden * shape.outputs, count),
        db2,
    ]
    grad = xp.concatenate(parts, axis=0) if xp is np else torch.cat(parts, dim=0)
    return losses, grad


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
    y = sigmoid(xp, z2)  # (rows, O, K)
    if onehot:
        right = xp.argmax(y, axis=1) == xp.argmax(targets, axis=1)[:, None]
    else:
        right = ((y >= 0.5) == (targets >= 0.5)[:, :, None]).all(axis=1)
    return right.all(axis=0)


class Optimizer:
    """An optimizer that updates the whole (n_parameters, K) array per call.

    It repeats the arithmetic of the torch optimizer that the recipe names.
    """

    def __init__(self, xp: ModuleType, params: Array, recipe: Recipe) -> None:
        self.xp, self.recipe = xp, recipe
        self.steps = 0
        self.first = xp.zeros_like(params)  # exp_avg / momentum buffer
        self.second = xp.zeros_like(params)  # exp_avg_sq / square_avg

    def step(self, params: Array, grad: Array) -> None:
        self.steps += 1
        name = self.recipe.optimizer
        if name in ("adam", "adamw"):
            self._adam(params, grad, decoupled=name == "adamw")
        elif name == "sgd":
            self._sgd(params, grad)
        else:
            self._rmsprop(params, grad)

    def _adam(self, params: Array, grad: Array, decoupled: bool) -> None:
        lr, decay = self.recipe.lr, self.recipe.weight_decay
        beta1, beta2 = ADAM_BETAS
        if decay and decoupled:
            params *= 1.0 - lr * decay
        elif decay:
            grad = grad + params * decay
        self.first += (grad - self.first) * (1.0 - beta1)
        self.second *= beta2
        self.second += (grad * grad) * (1.0 - beta2)
        step_size = lr / (1.0 - beta1**self.steps)
        root_correction = math.sqrt(1.0 - beta2**self.steps)
        denom = self.xp.sqrt(self.second) / root_correction + ADAM_EPS
        params -= (self.first / denom) * step_size

    def _sgd(self, params: Array, grad: Array) -> None:
        recipe = self.recipe
        if recipe.weight_decay:
            grad = grad + params * recipe.weight_decay
        if recipe.momentum:
            if self.steps == 1:
                self.first[...] = grad
            else:
                self.first *= recipe.momentum
                self.first += grad
            grad = self.first
        params -= grad * recipe.lr

    def _rmsprop(self, params: Array, grad: Array) -> None:
        recipe = self.recipe
        if recipe.weight_decay:
            grad = grad + params * recipe.weight_decay
        self.second *= RMSPROP_ALPHA
        self.second += (grad * grad) * (1.0 - RMSPROP_ALPHA)
        avg = self.xp.sqrt(self.second) + RMSPROP_EPS
        if recipe.momentum:
            self.first *= recipe.momentum
            self.first += grad / avg
            params -= self.first * recipe.lr
        else:
            params -= (grad / avg) * recipe.lr


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
    ) -> None:
        self.xp: ModuleType = np if backend == "numpy" else torch
        self.device = device
        self.recipe = recipe
        self.activation = recipe.activation
        self.loss = recipe.loss
        self.onehot = is_onehot(table.targets)
        self.shape = Shape(table.n_inputs, recipe.hidden_sizes[0], table.n_outputs)
        self.params = self._array(pack(weights))
        self.inputs = self._array(table.inputs)
        self.targets = self._array(table.targets)
        self.optimizer = Optimizer(self.xp, self.params, recipe)
        self.frozen_index: Array | None = None
        self.frozen_values: Array | None = None
        self.frozen = np.zeros(self.params.shape[-1], dtype=bool)

    def _array(self, values: np.ndarray) -> Array:
        values = np.ascontiguousarray(values, dtype=np.float32)
        if self.xp is np:
            return values
        return torch.from_numpy(values).to(self.device)

    def prepare(self, rows: np.ndarray) -> Batch:
        if self.xp is np:
            return Batch(self.inputs[rows], self.targets[rows], len(rows))
        index = torch.as_tensor(rows, device=self.device)
        return Batch(self.inputs[index], self.targets[index], len(rows))

    def step(self, batch: Batch) -> Array:
        losses, grad = gradients(
            self.xp,
            self.params,
            batch.inputs,
            batch.targets,
            self.shape,
            self.activation,
            self.loss,
        )
        self.optimizer.step(self.params, grad)
        if self.frozen_index is not None:
            self.params[:, self.frozen_index] = self.frozen_values
        return losses

    def all_correct(self) -> np.ndarray:
        correct = all_correct(
            self.xp,
            self.params,
            self.inputs,
            self.targets,
            self.shape,
            self.activation,
            self.onehot,
        )
        if self.xp is np:
            return np.asarray(correct, dtype=bool)
        return correct.cpu().numpy()

    def freeze(self, models: np.ndarray) -> None:
        self.frozen |= models
        index = np.flatnonzero(self.frozen)
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
