"""An animated GIF of the decision boundary and the loss during training.

Each frame rebuilds the network from one weight snapshot, so the GIF has
exactly one frame per snapshot epoch, in epoch order.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from PIL import Image

from xornet.checkpoint import atomic_path
from xornet.config import Architecture
from xornet.diagnostics import rows_correct
from xornet.model import MLP
from xornet.plots import style
from xornet.plots.boundary import (
    draw_contour,
    draw_map,
    draw_rows,
    label_input_axes,
)
from xornet.plots.maps import output_grid, require_two_inputs
from xornet.snapshots import Snapshots
from xornet.tables import TruthTable

log = logging.getLogger(__name__)

# Output columns drawn per frame; more would make every map too small to read.
MAX_MAPS = 3
FRAME_MS = 120
LAST_FRAME_MS = 2000


def write_training_gif(
    path: str | Path,
    table: TruthTable,
    architecture: Architecture,
    snapshots: Snapshots,
    losses: np.ndarray,
    dpi: int = 100,
    resolution: int = 81,
) -> int:
    """Write the GIF atomically and return its number of frames.

    ``losses`` is the kept model's per-epoch loss, shape (epochs,), where
    entry ``e - 1`` is the loss of epoch ``e``.
    """
    require_two_inputs(table, "animation")
    model = MLP(architecture)
    epochs = sorted(snapshots)
    with plt.rc_context(style.RC):
        frames = _Frames(table, losses, resolution)
        frames.fig.set_dpi(dpi)
        images: list[Image.Image] = []
        try:
            for epoch in epochs:
                model.load_state_dict(snapshots[epoch])
                frames.update(model, epoch)
                images.append(frames.render())
        finally:
            plt.close(frames.fig)
    durations = [FRAME_MS] * (len(images) - 1) + [LAST_FRAME_MS]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=0,
        )
    log.debug("wrote %s with %d frames", path, len(images))
    return len(images)


class _Frames:
    """The animation's figure: output maps on top, the loss curve below.

    The axes, images and loss curve are built once; each frame replaces the
    image data, the contours and the row markers. Everything that changes is
    an animated artist drawn over a cached background (blitting), because
    redrawing the axes and ticks costs most of the time of a full draw.
    """

    def __init__(self, table: TruthTable, losses: np.ndarray, resolution: int) -> None:
        self.table, self.losses, self.resolution = table, losses, resolution
        count = min(table.n_outputs, MAX_MAPS)
        self.fig = plt.figure(
            figsize=(0.8 + 3.6 * max(count, 2), 7.4), layout="constrained"
        )
        parts = self.fig.subfigures(2, 1, height_ratios=[1.35, 1.0])
        assert isinstance(parts, np.ndarray)  # two subfigures come as an array
        top, bottom = parts[0], parts[1]
        self.map_axes: list[Axes] = list(np.atleast_1d(top.subplots(1, count)))
        colorbar = top.colorbar(
            ScalarMappable(Normalize(0.0, 1.0), cmap=style.CMAP),
            ax=self.map_axes,
            shrink=0.9,
        )
        colorbar.set_label("network output")
        self.images: list[AxesImage] = []
        self.changing: list[Artist] = []
        self.loss_ax = bottom.subplots()
        self.progress, self.marker = _draw_loss(self.loss_ax, losses)
        self.title = self.fig.suptitle(f"Training {table.name}")
        for artist in (self.progress, self.marker, self.title):
            artist.set_animated(True)
        self.background: Any = None

    def update(self, model: MLP, epoch: int) -> None:
        """Draw the maps of ``model`` and move the loss marker to ``epoch``."""
        grid = output_grid(model, self.table, self.resolution)
        inputs, _ = self.table.tensors()
        predicted = model.predict(inputs)
        outputs = predicted.numpy()
        correct = rows_correct(predicted, torch.from_numpy(self.table.targets)).numpy()
        for artist in self.changing:
            artist.remove()
        self.changing = []
        for column, ax in enumerate(self.map_axes):
            if len(self.images) <= column:
                image = draw_map(ax, grid, column, contour=False)
                image.set_animated(True)
                self.images.append(image)
                ax.set_title(f"output {self.table.output_columns[column]}")
                label_input_axes(ax, self.table)
            self.images[column].set_data(grid.values[..., column])
            self.changing += draw_contour(ax, grid, column)
            targets = self.table.targets[:, column]
            self.changing += draw_rows(
                ax, self.table, outputs[:, column], targets, correct
            )
        for artist in self.changing:
            artist.set_animated(True)
        epochs = np.arange(1, len(self.losses) + 1)
        done = epochs <= epoch
        self.progress.set_data(epochs[done], self.losses[done])
        self.marker.set_xdata([epoch, epoch])
        self.title.set_text(
            f"Training {self.table.name}: epoch {epoch} of {len(self.losses)}"
        )

    def render(self) -> Image.Image:
        """Draw the current frame and return it as an RGB image."""
        canvas = self.fig.canvas
        if self.background is None:
            # The first full draw runs constrained layout; fixing the layout
            # afterwards keeps the cached background valid for every frame.
            canvas.draw()
            self.fig.set_layout_engine("none")
            self.background = canvas.copy_from_bbox(self.fig.bbox)  # type: ignore[attr-defined]
        else:
            canvas.restore_region(self.background)  # type: ignore[attr-defined]
        dynamic = [*self.images, *self.changing, self.progress, self.marker]
        for artist in [*dynamic, self.title]:
            self.fig.draw_artist(artist)
        rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[attr-defined]
        return Image.fromarray(rgba[..., :3].copy())


def _draw_loss(ax: Axes, losses: np.ndarray) -> tuple[Line2D, Line2D]:
    """Draw the whole loss curve faint; return the bold progress line and marker."""
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, color=style.GREY, linewidth=1.0, alpha=0.7)
    (progress,) = ax.plot([], [], color=style.BLUE, linewidth=2.2)
    marker = ax.axvline(0, color="black", linestyle="--", linewidth=1.0)
    if len(losses) and (losses > 0).all():
        ax.set_yscale("log")
    ax.set_xlim(0, max(len(losses), 1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss per row")
    ax.set_title("loss of the kept model")
    ax.grid(True, which="both", alpha=0.3)
    return progress, marker
