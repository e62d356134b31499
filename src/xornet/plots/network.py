"""The architecture as a diagram: nodes in layers, edges sized by |weight|."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from xornet.model import MLP
from xornet.plots import style
from xornet.tables import TruthTable

# Edge widths in points: the largest |weight| gets MAX_WIDTH.
MIN_WIDTH = 0.6
MAX_WIDTH = 7.0
# Weights are written on the edges only up to this many edges in a layer.
MAX_LABELLED_EDGES = 12
NODE_RADIUS = 0.24
# Distances in data units between layers (x) and between nodes of a layer (y).
LAYER_GAP = 2.6
NODE_GAP = 1.3


def network_figure(model: MLP, table: TruthTable) -> Figure:
    """Draw the network: edge width by |weight|, colour and line style by sign.

    Biases are written beside their nodes; input and output nodes carry the
    table's column names.
    """
    weights = [linear.weight.detach().numpy() for linear in model.linears]
    biases = [linear.bias.detach().numpy() for linear in model.linears]
    sizes = list(model.architecture.layer_sizes)
    positions = node_positions(sizes)
    largest = max(float(np.abs(w).max()) for w in weights) or 1.0
    height = max(3.8, 1.2 * max(sizes) + 1.6)
    with plt.rc_context(style.RC):
        fig, ax = plt.subplots(
            figsize=(2.4 + 2.8 * len(sizes), height), layout="constrained"
        )
        for layer, matrix in enumerate(weights):
            _draw_edges(ax, positions[layer], positions[layer + 1], matrix, largest)
        _draw_nodes(ax, positions, biases, table, model)
        _finish(ax, fig, positions, largest, table, model)
    return fig


def node_positions(sizes: list[int]) -> list[np.ndarray]:
    """Return (n, 2) node centres per layer, each layer centred on y = 0."""
    return [
        np.column_stack(
            [
                np.full(size, LAYER_GAP * layer),
                NODE_GAP * ((size - 1) / 2 - np.arange(size, dtype=float)),
            ]
        )
        for layer, size in enumerate(sizes)
    ]


def _draw_edges(
    ax: Axes,
    sources: np.ndarray,
    targets: np.ndarray,
    matrix: np.ndarray,
    largest: float,
) -> None:
    """Draw edges; ``matrix`` has nn.Linear's shape (targets, sources)."""
    label = matrix.size <= MAX_LABELLED_EDGES
    for j, (x1, y1) in enumerate(targets):
        for i, (x0, y0) in enumerate(sources):
            weight = float(matrix[j, i])
            width = MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * abs(weight) / largest
            positive = weight >= 0
            ax.plot(
                [x0, x1],
                [y0, y1],
                color=style.POSITIVE if positive else style.NEGATIVE,
                linestyle="-" if positive else (0, (4, 2)),
                linewidth=width,
                solid_capstyle="butt",
                zorder=1,
            )
            if label:
                # Spread labels along the edges by source so they do not pile up.
                t = 0.25 + 0.45 * i / max(len(sources) - 1, 1)
                ax.text(
                    x0 + t * (x1 - x0),
                    y0 + t * (y1 - y0),
                    f"{weight:+.2f}",
                    fontsize=8.5,
                    ha="center",
                    va="center",
                    zorder=3,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
                )


def _draw_nodes(
    ax: Axes,
    positions: list[np.ndarray],
    biases: list[np.ndarray],
    table: TruthTable,
    model: MLP,
) -> None:
    last = len(positions) - 1
    for layer, centres in enumerate(positions):
        for k, (x, y) in enumerate(centres):
            circle = plt.Circle(
                (x, y),
                NODE_RADIUS,
                facecolor="white",
                edgecolor="black",
                lw=1.5,
                zorder=2,
            )
            ax.add_patch(circle)
            ax.text(
                x,
                y,
                _node_name(layer, k, last),
                ha="center",
                va="center",
                fontsize=10,
                zorder=4,
            )
            if layer == 0:
                ax.text(
                    x - 0.35,
                    y,
                    table.input_columns[k],
                    ha="right",
                    va="center",
                    fontweight="bold",
                )
                continue
            ax.text(
                x,
                y + NODE_RADIUS + 0.05,
                f"b = {biases[layer - 1][k]:+.2f}",
                ha="center",
                va="bottom",
                fontsize=9,
                zorder=4,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none"},
            )
            if layer == last:
                ax.text(
                    x + 0.35,
                    y,
                    table.output_columns[k],
                    ha="left",
                    va="center",
                    fontweight="bold",
                )


def _node_name(layer: int, k: int, last: int) -> str:
    if layer == 0:
        return f"x{k + 1}"
    if layer == last:
        return f"y{k + 1}"
    return f"h{layer}.{k + 1}" if last > 2 else f"h{k + 1}"


def _finish(
    ax: Axes,
    fig: Figure,
    positions: list[np.ndarray],
    largest: float,
    table: TruthTable,
    model: MLP,
) -> None:
    ax.set_aspect("equal")
    ax.set_axis_off()
    top = max(float(p[:, 1].max()) for p in positions)
    right = float(positions[-1][0, 0])
    ax.set_xlim(-1.3, right + 1.3)
    ax.set_ylim(-top - 0.5, top + 0.7)
    architecture = model.architecture
    shape = "-".join(map(str, architecture.layer_sizes))
    hidden = (
        f"{architecture.activation} hidden"
        if architecture.hidden_sizes
        else "no hidden layer"
    )
    ax.set_title(
        f"Network: {table.name} ({shape}, {hidden}, "
        f"{architecture.output_activation} output)"
    )
    handles = [
        Line2D([], [], color=style.POSITIVE, lw=3, label="positive weight"),
        Line2D(
            [], [], color=style.NEGATIVE, lw=3, ls=(0, (4, 2)), label="negative weight"
        ),
        Line2D([], [], color="none", label=f"width ∝ |weight|, max {largest:.2f}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
