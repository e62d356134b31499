"""Judging a trained network: which rows it gets right, and findings on failures."""

from __future__ import annotations

import torch


def rows_correct(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Return which rows a prediction gets right, shape (..., rows).

    ``outputs`` and ``targets`` have shape (..., rows, n_outputs); leading
    axes (for example a model axis) broadcast. One-hot targets are compared
    by argmax, other targets column by column at a 0.5 threshold.
    """
    if is_onehot_targets(targets):
        return outputs.argmax(dim=-1) == targets.argmax(dim=-1)
    return ((outputs >= 0.5) == (targets >= 0.5)).all(dim=-1)


def is_onehot_targets(targets: torch.Tensor) -> bool:
    """Return True for 2+ target columns with exactly one 1 per row."""
    if targets.shape[-1] < 2:
        return False
    binary = bool(((targets == 0) | (targets == 1)).all())
    return binary and bool((targets.sum(dim=-1) == 1).all())
