"""Figures drawn with matplotlib's Agg backend: nothing ever opens a window."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from xornet.checkpoint import atomic_path  # noqa: E402


def loss_figure(
    history: np.ndarray, kept: int = 0, title: str = "Training loss", log_scale: bool = True
) -> Figure:
    """Draw the per-epoch loss; the kept model bold, other restarts faint.

    ``history`` has shape (epochs, models).
    """
    history = np.asarray(history, dtype=float).reshape(len(history), -1)
    epochs = np.arange(1, len(history) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for i in range(history.shape[1]):
        if i != kept:
            ax.plot(epochs, history[:, i], color="0.6", linewidth=0.8, alpha=0.6)
    ax.plot(epochs, history[:, kept], color="#0072B2", linewidth=2.0, label="kept model")
    if history.shape[1] > 1:
        ax.plot([], [], color="0.6", linewidth=0.8, label="other restarts")
    ax.legend(loc="upper right")
    if log_scale and (history > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss per row")
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


def sweep_figure(summary: pd.DataFrame) -> Figure:
    """Draw each configuration's solve rate as a bar with its 95 % interval.

    ``summary`` is :func:`xornet.sweep.summarize`'s frame: ``config``,
    ``solve_rate``, ``ci_low`` and ``ci_high``.
    """
    rates = summary["solve_rate"].to_numpy(dtype=float)
    errors = np.stack(
        [
            rates - summary["ci_low"].to_numpy(dtype=float),
            summary["ci_high"].to_numpy(dtype=float) - rates,
        ]
    )
    # At a rate of 0 or 1 rounding can put the bound a hair past the rate.
    errors = np.clip(errors, 0.0, None)
    positions = np.arange(len(summary))
    width = max(4.0, 0.9 * len(summary) + 2.0)
    fig, ax = plt.subplots(figsize=(width, 4.0), layout="constrained")
    ax.bar(positions, rates, yerr=errors, capsize=4, color="#0072B2")
    ax.set_xticks(positions, list(summary["config"]), rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("solve rate (95 % Wilson interval)")
    ax.set_title("Sweep: share of runs that solve the table")
    ax.grid(True, axis="y", alpha=0.3)
    return fig
