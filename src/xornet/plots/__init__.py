"""Figures drawn with matplotlib's Agg backend: nothing ever opens a window.

Each ``*_figure`` function returns a Figure for :func:`save_figure`. The
arrays behind the maps come from :mod:`xornet.plots.maps`, so tests can
compare what is drawn with the model.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from xornet.checkpoint import atomic_path  # noqa: E402
from xornet.plots import style  # noqa: E402


def loss_figure(
    history: np.ndarray,
    kept: int = 0,
    title: str = "Training loss",
    log_scale: bool = True,
    loss_name: str | None = None,
) -> Figure:
    """Draw the per-epoch loss; the kept model bold, other restarts faint.

    ``history`` has shape (epochs, models). A log scale is used only when
    every loss is positive, because a log axis cannot show zero.
    """
    history = np.asarray(history, dtype=float).reshape(len(history), -1)
    epochs = np.arange(1, len(history) + 1)
    with plt.rc_context(style.RC):
        fig, ax = plt.subplots(figsize=(7.0, 4.4), layout="constrained")
        for i in range(history.shape[1]):
            if i != kept:
                ax.plot(epochs, history[:, i], color=style.GREY, lw=0.8, alpha=0.6)
        ax.plot(epochs, history[:, kept], color=style.BLUE, lw=2.2, label="kept model")
        if history.shape[1] > 1:
            ax.plot([], [], color=style.GREY, lw=0.8, label="other restarts")
        ax.legend(loc="upper right")
        if log_scale and (history > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        name = f"{loss_name} " if loss_name else ""
        ax.set_ylabel(f"{name}loss (mean over rows)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> None:
    """Save a figure atomically in the format its suffix names, then close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)


# Re-exported so callers need only ``from xornet import plots``.
from xornet.plots.activations import activations_figure  # noqa: E402
from xornet.plots.animation import write_training_gif  # noqa: E402
from xornet.plots.boundary import boundary_figure  # noqa: E402
from xornet.plots.network import network_figure  # noqa: E402
from xornet.plots.sweep import sweep_results_figure  # noqa: E402
from xornet.plots.units import units_figure  # noqa: E402

__all__ = [
    "activations_figure",
    "boundary_figure",
    "loss_figure",
    "network_figure",
    "save_figure",
    "sweep_results_figure",
    "units_figure",
    "write_training_gif",
]
