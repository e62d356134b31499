"""Sweep results: solve rate per configuration and epochs to solve."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from xornet.errors import PlotError
from xornet.plots import style
from xornet.stats import wilson_interval

REQUIRED_COLUMNS = ("config", "solved", "solved_epoch")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def sweep_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Return one row per configuration, in order of first appearance.

    Columns: ``config``, ``runs``, ``solved``, ``rate`` and the 95 % Wilson
    interval ``low`` and ``high`` of the solve rate.

    Raises:
        PlotError: a required column is missing or ``solved`` is not boolean.
    """
    frame = _validated(frame)
    rows = []
    for config, group in frame.groupby("config", sort=False):
        runs = len(group)
        solved = int(group["solved"].sum())
        low, high = wilson_interval(solved, runs)
        rows.append(
            {
                "config": str(config),
                "runs": runs,
                "solved": solved,
                "rate": solved / runs,
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame(rows)


def sweep_results_figure(frame: pd.DataFrame) -> Figure:
    """Draw solve rates with 95 % Wilson intervals and epochs to solve.

    ``frame`` has at least the columns ``config`` (label), ``solved`` (bool)
    and ``solved_epoch`` (float, NaN when unsolved), one row per trained model.
    """
    summary = sweep_summary(frame)
    frame = _validated(frame)
    configs = list(summary["config"])
    height = 1.6 + 0.45 * len(configs)
    with plt.rc_context(style.RC):
        fig, (rate_ax, epoch_ax) = plt.subplots(
            1,
            2,
            figsize=(11.0, max(3.6, height)),
            sharey=True,
            layout="constrained",
        )
        _draw_rates(rate_ax, summary)
        _draw_epochs(epoch_ax, frame, configs)
        fig.suptitle(f"Sweep: {len(frame)} models in {len(configs)} configurations")
    return fig


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise PlotError(
            f"sweep results: missing column(s) {', '.join(missing)}; the file "
            f"needs the columns {', '.join(REQUIRED_COLUMNS)}"
        )
    if frame.empty:
        raise PlotError("sweep results have no rows; run the sweep first")
    frame = frame.copy()
    frame["config"] = frame["config"].astype(str)
    frame["solved"] = [_as_bool(value) for value in frame["solved"]]
    try:
        frame["solved_epoch"] = pd.to_numeric(frame["solved_epoch"], errors="raise")
    except (ValueError, TypeError):
        raise PlotError(
            "sweep results: solved_epoch must be a number or empty"
        ) from None
    return frame


def _as_bool(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PlotError(f"sweep results: solved value {value!r} is not true or false")


def _draw_rates(ax: Axes, summary: pd.DataFrame) -> None:
    y = np.arange(len(summary))
    rate = summary["rate"].to_numpy()
    errors = np.vstack([rate - summary["low"], summary["high"] - rate])
    # At a rate of 0 or 1 rounding can put a bound a hair past the rate.
    errors = np.clip(errors, 0.0, None)
    ax.errorbar(
        rate,
        y,
        xerr=errors,
        fmt="o",
        color=style.BLUE,
        ecolor="black",
        capsize=4,
        markersize=7,
    )
    labels = [
        f"{row.config}\n{row.solved}/{row.runs} solved" for row in summary.itertuples()
    ]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("solve rate (fraction of models, 95 % Wilson interval)")
    ax.set_ylabel("configuration")
    ax.set_title("Solve rate")
    ax.grid(True, axis="x", alpha=0.3)


def _draw_epochs(ax: Axes, frame: pd.DataFrame, configs: list[str]) -> None:
    """Draw a box plot and the individual epochs of the solved models."""
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for k, config in enumerate(configs):
        rows = frame[(frame["config"] == config) & frame["solved"]]
        epochs = rows["solved_epoch"].dropna().to_numpy(dtype=float)
        if len(epochs) == 0:
            ax.text(
                0.5,
                k,
                "none solved",
                transform=ax.get_yaxis_transform(),
                ha="center",
                va="center",
                color="0.3",
                fontsize=9,
            )
            continue
        ax.boxplot(
            epochs,
            positions=[k],
            orientation="horizontal",
            widths=0.5,
            showfliers=False,
            manage_ticks=False,
            medianprops={"color": style.ORANGE, "linewidth": 2},
        )
        jitter = rng.uniform(-0.15, 0.15, size=len(epochs))
        ax.plot(epochs, k + jitter, "o", color=style.BLUE, alpha=0.5, markersize=4)
    ax.set_xlabel("epochs to solve (solved models)")
    ax.set_title("Epochs to solve")
    ax.grid(True, axis="x", alpha=0.3)
