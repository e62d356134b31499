"""The numbers behind the maps: network outputs and hidden units over a grid.

Every map covers the input square of a two-input table with a margin around
it. The arrays returned here are what the figures draw, so tests can compare
them with the model directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from xornet.errors import PlotError
from xornet.model import MLP
from xornet.tables import TruthTable

# Fraction of the input range added on every side of the map.
MARGIN = 0.15


@dataclass
class Grid:
    """Values on a regular grid of input points.

    ``values[i, j, k]`` is channel ``k`` (an output column or a hidden unit)
    at the input point ``(xs[j], ys[i])``, so ``values[..., k]`` is an image
    with y increasing along the first axis.
    """

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """The (left, right, bottom, top) limits for ``imshow``."""
        return (
            float(self.xs[0]),
            float(self.xs[-1]),
            float(self.ys[0]),
            float(self.ys[-1]),
        )


def require_two_inputs(table: TruthTable, kind: str) -> None:
    """Raise PlotError unless the table has exactly two input columns."""
    if table.n_inputs != 2:
        columns = ", ".join(table.input_columns)
        raise PlotError(
            f"the {kind} plot needs a table with 2 input columns, but "
            f"{table.name!r} has {table.n_inputs} ({columns}); choose another "
            "--kind such as loss or network"
        )


def input_bounds(table: TruthTable) -> tuple[float, float, float, float]:
    """Return (x_min, x_max, y_min, y_max) covering [0, 1]² and every row."""
    low = np.minimum(table.inputs.min(axis=0), 0.0)
    high = np.maximum(table.inputs.max(axis=0), 1.0)
    pad = MARGIN * (high - low)
    low, high = low - pad, high + pad
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def grid_points(
    table: TruthTable, resolution: int
) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Return the grid axes and its points as a (resolution², 2) float32 tensor.

    Points run along x first, so reshaping a per-point result to
    (resolution, resolution) puts y on the first axis.
    """
    x_min, x_max, y_min, y_max = input_bounds(table)
    xs = np.linspace(x_min, x_max, resolution, dtype=np.float32)
    ys = np.linspace(y_min, y_max, resolution, dtype=np.float32)
    mesh_x, mesh_y = np.meshgrid(xs, ys)
    points = np.stack([mesh_x.ravel(), mesh_y.ravel()], axis=1)
    return xs, ys, torch.from_numpy(points)


def output_grid(model: MLP, table: TruthTable, resolution: int = 201) -> Grid:
    """Return the network's outputs in (0, 1) over the map, one channel per column."""
    require_two_inputs(table, "boundary")
    xs, ys, points = grid_points(table, resolution)
    values = model.predict(points).numpy()
    return Grid(xs, ys, values.reshape(resolution, resolution, -1))


def hidden_grids(model: MLP, table: TruthTable, resolution: int = 101) -> list[Grid]:
    """Return each hidden layer's post-activation values over the map."""
    require_two_inputs(table, "units")
    xs, ys, points = grid_points(table, resolution)
    layers = hidden_activations(model, points)
    return [
        Grid(xs, ys, layer.numpy().reshape(resolution, resolution, -1))
        for layer in layers
    ]


@torch.no_grad()
def hidden_activations(model: MLP, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Return each hidden layer's activations, shape (rows, units) per layer.

    A hidden layer is a Linear module followed by the hidden activation, so
    the value kept is the activation module's output.
    """
    was_training = model.training
    model.eval()
    modules = list(model.layers)
    n_hidden = len(model.architecture.hidden_sizes)
    found: list[torch.Tensor] = []
    value = inputs
    for index, module in enumerate(modules):
        value = module(value)
        follows_linear = index > 0 and isinstance(modules[index - 1], nn.Linear)
        is_activation = not isinstance(module, nn.Linear)
        if follows_linear and is_activation and len(found) < n_hidden:
            found.append(value)
    model.train(was_training)
    return found


def dead_units(model: MLP, table: TruthTable) -> list[np.ndarray]:
    """Return, per hidden layer, which units output zero on every table row.

    A unit counts as dead when its absolute activation is below 1e-6 on all
    rows. With ReLU no row then reaches it, so it gets no gradient.
    """
    inputs, _ = table.tensors()
    return [
        (layer.abs() < 1e-6).all(dim=0).numpy()
        for layer in hidden_activations(model, inputs)
    ]
