"""Hidden-unit maps: what each hidden unit computes over the input square."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from xornet.model import MLP
from xornet.plots import style
from xornet.plots.boundary import draw_map, label_input_axes
from xornet.plots.maps import Grid, dead_units, hidden_activations, hidden_grids
from xornet.tables import TruthTable

# Units per line of panels; wider layers wrap onto more lines.
PANELS_PER_LINE = 4


def units_figure(model: MLP, table: TruthTable, resolution: int = 101) -> Figure:
    """Draw every hidden unit's post-activation map, dead units marked.

    Each panel has its own colour scale because units differ in range; the
    table rows are drawn with the unit's activation on that row.
    """
    grids = hidden_grids(model, table, resolution)
    dead = dead_units(model, table)
    inputs, _ = table.tensors()
    row_values = [layer.numpy() for layer in hidden_activations(model, inputs)]
    with plt.rc_context(style.RC):
        if not grids:
            return _no_hidden_figure(table)
        fig, placed = _unit_panels([grid.values.shape[-1] for grid in grids])
        for (layer, unit), ax in placed.items():
            _draw_unit(ax, grids[layer], unit, table, row_values[layer][:, unit])
            _title_unit(ax, model, table, layer, unit, bool(dead[layer][unit]))
        n_dead = int(sum(d.sum() for d in dead))
        summary = f"{n_dead} dead" if n_dead else "none dead"
        fig.suptitle(
            f"Hidden units of {table.name} after "
            f"{model.architecture.activation} ({summary})"
        )
    return fig


def _unit_panels(sizes: list[int]) -> tuple[Figure, dict[tuple[int, int], Axes]]:
    """Return a figure with one panel per unit, each layer starting a new line."""
    columns = min(max(sizes), PANELS_PER_LINE)
    lines = sum(math.ceil(size / columns) for size in sizes)
    fig, grid = plt.subplots(
        lines,
        columns,
        figsize=(0.4 + 4.2 * columns, 0.6 + 3.8 * lines),
        squeeze=False,
        layout="constrained",
    )
    placed: dict[tuple[int, int], Axes] = {}
    line = 0
    for layer, size in enumerate(sizes):
        for unit in range(size):
            placed[(layer, unit)] = grid[line + unit // columns, unit % columns]
        line += math.ceil(size / columns)
    used = set(map(id, placed.values()))
    for ax in grid.ravel():
        if id(ax) not in used:
            ax.set_visible(False)
    return fig, placed


def _draw_unit(
    ax: Axes, grid: Grid, unit: int, table: TruthTable, values: np.ndarray
) -> None:
    low, high = float(grid.values[..., unit].min()), float(grid.values[..., unit].max())
    if high - low < 1e-6:
        high = low + 1.0
    image = draw_map(ax, grid, unit, contour=False, norm=Normalize(low, high))
    colorbar = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    colorbar.set_label("activation")
    for (x, y), value in zip(table.inputs, values, strict=True):
        ax.annotate(
            f"{value:.2f}",
            (x, y),
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "black"},
        )
    label_input_axes(ax, table)


def _title_unit(
    ax: Axes, model: MLP, table: TruthTable, layer: int, unit: int, dead: bool
) -> None:
    """Title a panel with its unit, its formula for the first layer, and death."""
    lines = [f"layer {layer + 1}, unit {unit + 1}"]
    if layer == 0:
        lines.append(_first_layer_formula(model, table, unit))
    if dead:
        lines.append("DEAD: 0 on every row")
        ax.add_patch(
            Rectangle(
                (0, 0),
                1,
                1,
                transform=ax.transAxes,
                fill=False,
                hatch="//",
                edgecolor=style.VERMILLION,
                linewidth=0,
            )
        )
        for spine in ax.spines.values():
            spine.set_edgecolor(style.VERMILLION)
            spine.set_linewidth(3)
            spine.set_linestyle("--")
    ax.set_title("\n".join(lines), fontsize=9.5)


def _first_layer_formula(model: MLP, table: TruthTable, unit: int) -> str:
    """Return e.g. ``relu(0.83·IN1 − 0.91·IN2 + 0.02)`` for a first-layer unit."""
    linear = model.linears[0]
    with torch.no_grad():
        weights = linear.weight[unit].tolist()
        bias = float(linear.bias[unit])
    first = f"{'−' if weights[0] < 0 else ''}{abs(weights[0]):.2f}"
    terms = [f"{first}·{table.input_columns[0]}"]
    for weight, column in zip(weights[1:], table.input_columns[1:], strict=True):
        terms.append(f"{_sign(weight)} {abs(weight):.2f}·{column}")
    terms.append(f"{_sign(bias)} {abs(bias):.2f}")
    return f"{model.architecture.activation}({' '.join(terms)})"


def _sign(value: float) -> str:
    return "−" if value < 0 else "+"


def _no_hidden_figure(table: TruthTable) -> Figure:
    fig, ax = plt.subplots(figsize=(6.4, 2.0), layout="constrained")
    ax.set_axis_off()
    ax.text(0.5, 0.5, "this network has no hidden layer", ha="center", va="center")
    fig.suptitle(f"Hidden units of {table.name}")
    return fig
