"""Colours, colour map and font sizes shared by every figure.

The colours come from the Okabe-Ito palette, which colour-blind readers can
tell apart. Wherever two colours carry meaning, a line style or marker shape
carries the same meaning, so the figures also read in greyscale.
"""

from __future__ import annotations

from typing import Any

# Perceptually uniform and monotonic in lightness, so it reads in greyscale.
CMAP = "cividis"

BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
GREY = "0.6"

POSITIVE = BLUE
NEGATIVE = ORANGE

# Font sizes chosen for figures saved at 120 dpi and viewed at 100 %.
RC: dict[Any, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
}
