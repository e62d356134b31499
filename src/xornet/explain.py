"""One row's forward pass, loss, backward pass and optimizer step, by hand.

Everything is computed in float64 NumPy from the run's weights with the
chain rule written out, not with autograd, so a student can check each
number against its formula. The tests compare the results with autograd and
with one step of ``torch.optim.Adam``.

Notation: layer ``l`` computes ``z_l = W_l a_(l-1) + b_l`` and
``a_l = f_l(z_l)``, with ``a_0 = x`` the row's inputs and ``a_L`` the
network's output. The backward pass carries ``delta_l = dL/dz_l``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from xornet.errors import XornetError
from xornet.model import MLP
from xornet.tables import TruthTable

# torch.optim.Adam and AdamW defaults, which make_optimizer keeps.
BETA1 = 0.9
BETA2 = 0.999
EPS = 1e-8
# torch's BCELoss clamps each log term at -100 so that log(0) stays finite.
LOG_FLOOR = -100.0
LEAKY_RELU_SLOPE = 0.01


@dataclass
class LayerPass:
    """One linear layer and its activation, forward and backward.

    Shapes: ``weight`` (n_out, n_in), every vector (n_out,) except
    ``inputs`` (n_in,) and ``weight_grad`` like ``weight``.
    """

    number: int
    activation: str
    weight: np.ndarray
    bias: np.ndarray
    inputs: np.ndarray
    z: np.ndarray
    a: np.ndarray
    # f'(z), from the forward pass.
    slope: np.ndarray = field(default_factory=lambda: np.empty(0))
    # Filled by the backward pass.
    grad_a: np.ndarray = field(default_factory=lambda: np.empty(0))
    delta: np.ndarray = field(default_factory=lambda: np.empty(0))
    weight_grad: np.ndarray = field(default_factory=lambda: np.empty(0))
    bias_grad: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class ParameterStep:
    """The first optimizer step for one parameter tensor (a weight or a bias).

    ``grad`` is dL/dθ; ``g`` is what enters the moments (dL/dθ + λθ for
    coupled decay, dL/dθ for decoupled).
    """

    name: str
    value: np.ndarray
    grad: np.ndarray
    g: np.ndarray
    m: np.ndarray
    v: np.ndarray
    m_hat: np.ndarray
    v_hat: np.ndarray
    update: np.ndarray
    new_value: np.ndarray


@dataclass
class Explanation:
    """All numbers of one row's training step, for display or checking."""

    row: int
    table_name: str
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    x: np.ndarray
    targets: np.ndarray
    layers: list[LayerPass]
    probabilities: np.ndarray
    loss_name: str
    loss: float
    optimizer: str
    trained_with: str
    lr: float
    weight_decay: float
    steps: list[ParameterStep]

    @property
    def output_grad(self) -> np.ndarray:
        """dL/da_L: the loss gradient with respect to the network's output."""
        return self.layers[-1].grad_a


def explain_row(
    model: MLP, table: TruthTable, recipe: dict[str, Any], row: int
) -> Explanation:
    """Explain one training step on table row ``row`` (1-based).

    ``recipe`` is the run's stored recipe: ``loss``, ``lr``, ``weight_decay``
    and ``optimizer`` are used.

    Raises:
        XornetError: the row is out of range.
    """
    if not 1 <= row <= len(table):
        raise XornetError(
            f"--row {row} is out of range; {table.name!r} has rows 1 to {len(table)}"
        )
    x = table.inputs[row - 1].astype(np.float64)
    targets = table.targets[row - 1].astype(np.float64)
    loss_name = str(recipe.get("loss", "mse"))
    layers = forward(model, x)
    loss, output_grad = loss_and_gradient(loss_name, layers[-1].a, targets)
    backward(layers, output_grad)
    trained_with = str(recipe.get("optimizer", "adam"))
    optimizer = "adamw" if trained_with == "adamw" else "adam"
    lr = float(recipe.get("lr", 0.001))
    weight_decay = float(recipe.get("weight_decay", 0.0))
    return Explanation(
        row=row,
        table_name=table.name,
        input_columns=table.input_columns,
        output_columns=table.output_columns,
        x=x,
        targets=targets,
        layers=layers,
        probabilities=_probabilities(model, layers[-1].a),
        loss_name=loss_name,
        loss=loss,
        optimizer=optimizer,
        trained_with=trained_with,
        lr=lr,
        weight_decay=weight_decay,
        steps=adam_first_step(layers, lr, weight_decay, decoupled=optimizer == "adamw"),
    )


def forward(model: MLP, x: np.ndarray) -> list[LayerPass]:
    """Run the forward pass layer by layer, keeping z and a."""
    linears = model.linears
    hidden_name = model.architecture.activation
    output_name = model.architecture.output_activation
    slope = _leaky_slope(model)
    layers = []
    a = x
    for index, linear in enumerate(linears):
        weight = linear.weight.detach().double().numpy()
        bias = linear.bias.detach().double().numpy()
        name = output_name if index == len(linears) - 1 else hidden_name
        z = weight @ a + bias
        value, derivative = activate(name, z, slope)
        layer = LayerPass(index + 1, name, weight, bias, a, z, value)
        layer.slope = derivative
        layers.append(layer)
        a = value
    return layers


def backward(layers: list[LayerPass], output_grad: np.ndarray) -> None:
    """Fill in each layer's gradients by the chain rule, last layer first.

    delta_l = dL/da_l * f_l'(z_l); dL/dW_l = delta_l a_(l-1)^T;
    dL/db_l = delta_l; dL/da_(l-1) = W_l^T delta_l.
    """
    grad_a = output_grad
    for layer in reversed(layers):
        layer.grad_a = grad_a
        layer.delta = grad_a * layer.slope
        layer.weight_grad = np.outer(layer.delta, layer.inputs)
        layer.bias_grad = layer.delta.copy()
        grad_a = layer.weight.T @ layer.delta


def loss_and_gradient(
    name: str, output: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray]:
    """Return the row's loss and dL/d(output), averaged over the m outputs.

    For bce-with-logits the output is the logits; the other losses take
    probabilities, as torch's MSELoss and BCELoss do.
    """
    m = len(targets)
    if name == "mse":
        return float(np.mean((output - targets) ** 2)), 2.0 * (output - targets) / m
    if name == "bce":
        log_y = np.maximum(np.log(output), LOG_FLOOR)
        log_not_y = np.maximum(np.log1p(-output), LOG_FLOOR)
        loss = -np.mean(targets * log_y + (1 - targets) * log_not_y)
        denominator = np.maximum(output * (1 - output), 1e-12)
        return float(loss), (output - targets) / denominator / m
    if name == "bce-with-logits":
        loss = np.mean(
            np.maximum(output, 0) - output * targets + np.log1p(np.exp(-np.abs(output)))
        )
        return float(loss), (_sigmoid(output) - targets) / m
    raise XornetError(f"unknown loss {name!r}; choose mse, bce or bce-with-logits")


def activate(
    name: str, z: np.ndarray, leaky_slope: float = LEAKY_RELU_SLOPE
) -> tuple[np.ndarray, np.ndarray]:
    """Return f(z) and f'(z); at z = 0 ReLU's slope is 0, as in torch."""
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0, z, leaky_slope * z), np.where(z > 0, 1.0, leaky_slope)
    if name == "tanh":
        value = np.tanh(z)
        return value, 1.0 - value**2
    if name == "sigmoid":
        value = _sigmoid(z)
        return value, value * (1.0 - value)
    if name == "gelu":
        # Exact GELU, as nn.GELU(): z * Phi(z), so f' = Phi(z) + z * phi(z).
        cdf = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in z])
        pdf = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
        return z * cdf, cdf + z * pdf
    if name == "identity":
        return z.copy(), np.ones_like(z)
    raise XornetError(f"unknown activation {name!r}")


def adam_first_step(
    layers: list[LayerPass], lr: float, weight_decay: float, decoupled: bool
) -> list[ParameterStep]:
    """Return the first step of a fresh Adam (or AdamW) on these gradients.

    With m = v = 0 and t = 1 the bias corrections give m_hat = g and
    v_hat = g², so the update is lr * g / (|g| + eps): close to lr * sign(g).
    """
    steps = []
    for layer in layers:
        for kind, value, grad in (
            ("W", layer.weight, layer.weight_grad),
            ("b", layer.bias, layer.bias_grad),
        ):
            name = f"{kind}{layer.number}"
            steps.append(_adam_step(name, value, grad, lr, weight_decay, decoupled))
    return steps


def _adam_step(
    name: str,
    value: np.ndarray,
    grad: np.ndarray,
    lr: float,
    weight_decay: float,
    decoupled: bool,
) -> ParameterStep:
    g = grad if decoupled else grad + weight_decay * value
    m = (1 - BETA1) * g
    v = (1 - BETA2) * g**2
    m_hat = m / (1 - BETA1)
    v_hat = v / (1 - BETA2)
    update = -lr * m_hat / (np.sqrt(v_hat) + EPS)
    if decoupled:
        # AdamW first shrinks the weights: θ <- θ (1 - lr λ).
        update = update - lr * weight_decay * value
    return ParameterStep(
        name, value, grad, g, m, v, m_hat, v_hat, update, value + update
    )


def _probabilities(model: MLP, output: np.ndarray) -> np.ndarray:
    if model.architecture.output_activation == "identity":
        return _sigmoid(output)
    return output


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _leaky_slope(model: MLP) -> float:
    for module in model.layers:
        if isinstance(module, nn.LeakyReLU):
            return float(module.negative_slope)
    return LEAKY_RELU_SLOPE
