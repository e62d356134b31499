"""The run's activation functions and their derivatives, taken by autograd."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from xornet.model import MLP
from xornet.plots import style


def activation_curve(
    function: nn.Module, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``f(z)`` and ``f'(z)`` for an elementwise activation module.

    Autograd takes the derivative, so for ReLU at exactly 0 it is PyTorch's
    choice (0), the value backpropagation uses.
    """
    points = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    values = function(points)
    (slopes,) = torch.autograd.grad(values.sum(), points)
    return values.detach().numpy(), slopes.numpy()


def run_activations(model: MLP) -> list[tuple[str, nn.Module]]:
    """Return (panel title, module) for the hidden and output activations.

    The modules are the model's own, so their settings (such as the
    negative slope of leaky_relu) are the ones training used.
    """
    modules = list(model.layers)
    found: list[tuple[str, nn.Module]] = []
    hidden = next((m for m in modules if not isinstance(m, nn.Linear)), None)
    if model.architecture.hidden_sizes and hidden is not None:
        found.append((f"hidden: {model.architecture.activation}", hidden))
    if model.architecture.output_activation == "sigmoid":
        found.append(("output: sigmoid", modules[-1]))
    else:
        found.append(("output: identity (logits)", nn.Identity()))
    return found


def activations_figure(model: MLP, z_range: float = 4.0) -> Figure:
    """Draw each activation the run uses with its derivative, side by side."""
    z = np.linspace(-z_range, z_range, 801)
    panels = run_activations(model)
    with plt.rc_context(style.RC):
        fig, axes = plt.subplots(
            1,
            len(panels),
            figsize=(max(6.4, 0.6 + 4.4 * len(panels)), 4.0),
            squeeze=False,
            layout="constrained",
        )
        for ax, (title, module) in zip(axes[0], panels, strict=True):
            values, slopes = activation_curve(module, z)
            _draw_curve(ax, z, values, slopes, title)
        fig.suptitle("Activation functions and their derivatives (autograd)")
    return fig


def _draw_curve(
    ax: Axes, z: np.ndarray, values: np.ndarray, slopes: np.ndarray, title: str
) -> None:
    ax.axhline(0.0, color=style.GREY, linewidth=0.8)
    ax.axvline(0.0, color=style.GREY, linewidth=0.8)
    ax.plot(z, values, color=style.BLUE, linewidth=2.2, label="f(z)")
    ax.plot(z, slopes, color=style.ORANGE, linewidth=2.2, linestyle="--", label="f′(z)")
    ax.set_title(title)
    ax.set_xlabel("pre-activation z (unitless)")
    ax.set_ylabel("value")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
