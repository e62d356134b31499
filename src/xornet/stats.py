"""Small statistics helpers shared by plots and reports."""

from __future__ import annotations

import math

# The 97.5 % quantile of the standard normal distribution.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval (low, high) for a success proportion.

    Unlike the normal approximation it stays inside [0, 1] and is not empty
    at 0 or n successes, which matters for the small counts of a sweep.
    The default ``z`` gives a 95 % interval.

    Raises:
        ValueError: ``n`` is not positive or ``successes`` is outside [0, n].
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)
