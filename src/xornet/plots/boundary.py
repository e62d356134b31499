"""Decision-boundary maps: the network's output over the input square."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D

from xornet.diagnostics import rows_correct
from xornet.model import MLP
from xornet.plots import style
from xornet.plots.maps import Grid, output_grid
from xornet.tables import TruthTable


def boundary_figure(
    model: MLP, table: TruthTable, resolution: int = 201, title: str | None = None
) -> Figure:
    """Draw one output map per output column, with the 0.5 contour and the rows.

    Each row is a circle when the network gets the row right and a square
    when not, judged as everywhere else: by argmax for one-hot targets, by a
    0.5 threshold on every column otherwise. So a one-hot row can be right
    with an output below 0.5, as long as it is the largest.
    """
    grid = output_grid(model, table, resolution)
    inputs, targets = table.tensors()
    predicted = model.predict(inputs)
    outputs = predicted.numpy()
    correct = rows_correct(predicted, targets).numpy()
    verdict = _verdict(correct)
    with plt.rc_context(style.RC):
        fig, axes = _panels(table.n_outputs)
        image = None
        for column, ax in enumerate(axes):
            image = draw_map(ax, grid, column, contour=True)
            draw_rows(ax, table, outputs[:, column], table.targets[:, column], correct)
            ax.set_title(f"output {table.output_columns[column]}")
            label_input_axes(ax, table)
        assert image is not None
        colorbar = fig.colorbar(image, ax=axes, shrink=0.9)
        colorbar.set_label("network output (probability)")
        add_bottom_legend(fig, row_legend_handles())
        fig.suptitle(title or f"Decision boundary: {table.name} ({verdict})")
    return fig


def _verdict(correct: np.ndarray) -> str:
    """Return "all 4 rows right" or "rows 2, 3 wrong" (1-based row numbers)."""
    wrong = [str(i + 1) for i in np.flatnonzero(~correct)]
    if not wrong:
        return f"all {len(correct)} rows right"
    return f"row{'s' if len(wrong) > 1 else ''} {', '.join(wrong)} wrong"


def _panels(count: int) -> tuple[Figure, list[Axes]]:
    """Return a figure with ``count`` square map panels, at most 3 per line."""
    columns = min(count, 3)
    lines = math.ceil(count / columns)
    fig, grid = plt.subplots(
        lines,
        columns,
        figsize=(1.2 + 4.0 * columns, 0.6 + 4.0 * lines),
        squeeze=False,
        layout="constrained",
    )
    axes = list(grid.ravel())
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def draw_map(
    ax: Axes,
    grid: Grid,
    channel: int,
    contour: bool,
    norm: Normalize | None = None,
) -> AxesImage:
    """Draw one channel of a grid as an image; outputs use the fixed range [0, 1]."""
    values = grid.values[..., channel]
    image = ax.imshow(
        values,
        origin="lower",
        extent=grid.extent,
        cmap=style.CMAP,
        norm=norm or Normalize(0.0, 1.0),
        interpolation="bilinear",
        aspect="equal",
    )
    if contour:
        draw_contour(ax, grid, channel)
    return image


def draw_contour(ax: Axes, grid: Grid, channel: int) -> list[ContourSet]:
    """Draw the 0.5 level as a black line on a white halo; none if not crossed."""
    values = grid.values[..., channel]
    if not values.min() < 0.5 < values.max():
        return []
    return [
        ax.contour(grid.xs, grid.ys, values, levels=[0.5], colors=color, linewidths=lw)
        for color, lw in (("white", 2.8), ("black", 1.4))
    ]


def draw_rows(
    ax: Axes,
    table: TruthTable,
    outputs: np.ndarray,
    targets: np.ndarray,
    right: np.ndarray | None = None,
) -> list[Artist]:
    """Mark each table row at its inputs, labelled with its target.

    Right rows get a black circle, wrong ones a vermillion square, so they
    differ in shape as well as colour. ``right`` gives the verdict per row;
    by default a row is right when its output is on the target's side of 0.5.
    """
    if right is None:
        right = (outputs >= 0.5) == (targets >= 0.5)
    artists: list[Artist] = []
    for (x, y), target, is_right in zip(table.inputs, targets, right, strict=True):
        if is_right:
            artists += ax.plot(x, y, "o", ms=17, mfc="white", mec="black", mew=1.5)
        else:
            artists += ax.plot(
                x, y, "s", ms=17, mfc="white", mec=style.VERMILLION, mew=3.0
            )
        label = ax.annotate(
            f"{target:g}",
            (x, y),
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
            color="black",
        )
        artists.append(label)
    return artists


def row_legend_handles() -> list[Line2D]:
    """Return legend entries for the row markers and the 0.5 contour."""
    return [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=10,
            mfc="white",
            mec="black",
            label="row right (its target inside)",
        ),
        Line2D(
            [],
            [],
            ls="",
            marker="s",
            ms=10,
            mfc="white",
            mec=style.VERMILLION,
            mew=2.5,
            label="row wrong",
        ),
        Line2D([], [], color="black", lw=1.4, label="output = 0.5"),
    ]


def add_bottom_legend(fig: Figure, handles: list[Line2D]) -> None:
    """Put the legend in a band reserved below the panels.

    The legend takes one line when the figure is wide enough (about 8 inches
    at 10 pt), else two entries per line.
    """
    columns = len(handles) if fig.get_figwidth() >= 8.0 else 2
    legend_lines = math.ceil(len(handles) / columns)
    band = (0.3 + 0.3 * legend_lines) / fig.get_figheight()
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.set(rect=(0.0, band, 1.0, 1.0 - band))  # type: ignore[call-arg]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncols=columns,
        bbox_to_anchor=(0.5, 0.0),
        frameon=False,
    )


def label_input_axes(ax: Axes, table: TruthTable) -> None:
    ax.set_xlabel(f"{table.input_columns[0]} (input value)")
    ax.set_ylabel(f"{table.input_columns[1]} (input value)")
