"""Judging a trained network: which rows it gets right, and findings on failures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from xornet.model import MLP
    from xornet.tables import TruthTable


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


FINDING_KINDS = ("dead_units", "merged_rows", "stalled_loss", "saturated_outputs")

# NOTE: the thresholds below were chosen by hand, not tuned on failed runs, so
# a borderline network can get or miss a finding that a looser cut would flip.

# A hidden unit whose output stays within this of 0 on every row is dead.
DEAD_OUTPUT = 1e-6
# A final loss within 2 % of the best constant output's loss counts as no better.
CONSTANT_LOSS_MARGIN = 0.02
# A loss that changed by less than 5 % of its first value barely moved.
STALL_FRACTION = 0.05
# At |logit| >= 4 the sigmoid's slope is below 0.018, 7 % of its maximum 0.25.
SATURATED_LOGIT = 4.0
# Rows listed in one message before "and N more".
SHOWN_ROWS = 4


@dataclass(frozen=True)
class Finding:
    """One reason a network failed its table, in plain words.

    ``kind`` is one of :data:`FINDING_KINDS`; ``message`` states what is wrong,
    ``evidence`` gives the numbers behind it and ``suggestion`` what to try.
    """

    kind: str
    message: str
    evidence: str
    suggestion: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass
class _Trace:
    """Every layer's values on the table's rows, each of shape (rows, units)."""

    pre_activations: list[torch.Tensor]  # hidden layers, before the activation
    hidden: list[torch.Tensor]  # hidden layers, after the activation
    logits: torch.Tensor  # the last linear layer's output
    outputs: torch.Tensor  # sigmoid(logits), in (0, 1)


def diagnose(
    model: MLP, table: TruthTable, history: np.ndarray, loss: str | None = None
) -> list[Finding]:
    """Explain why ``model`` fails ``table``; an empty list when it solves it.

    ``history`` is the model's per-epoch loss, shape (epochs,). ``loss`` is
    the recipe's loss: mse, bce or bce-with-logits. A model that outputs
    logits implies bce-with-logits and any other model mse, so pass ``loss``
    for bce runs. At most one finding of each kind is returned. The cost is
    one forward pass over the table and one (rows, rows) distance matrix.
    """
    inputs, targets = table.tensors()
    trace = _trace(model, inputs)
    if bool(rows_correct(trace.outputs, targets).all()):
        return []
    if loss is None:
        identity = model.architecture.output_activation == "identity"
        loss = "bce-with-logits" if identity else "mse"
    checks = [
        _dead_units(trace),
        _merged_rows(trace, table),
        _stalled_loss(np.asarray(history, dtype=float).reshape(-1), table, loss),
        _saturated_outputs(trace, table, loss),
    ]
    return [finding for finding in checks if finding is not None]


@torch.no_grad()
def _trace(model: MLP, inputs: torch.Tensor) -> _Trace:
    pre_activations: list[torch.Tensor] = []
    hidden: list[torch.Tensor] = []
    n_linear = len(model.linears)
    seen = 0
    values = inputs
    logits = inputs
    for module in model.layers:
        values = module(values)
        if isinstance(module, nn.Linear):
            seen += 1
            if seen == n_linear:
                logits = values
            else:
                pre_activations.append(values)
        elif seen < n_linear:
            hidden.append(values)
    return _Trace(pre_activations, hidden, logits, torch.sigmoid(logits))


def _dead_units(trace: _Trace) -> Finding | None:
    names, peaks = [], []
    total = sum(h.shape[1] for h in trace.hidden)
    for layer, (pre, post) in enumerate(
        zip(trace.pre_activations, trace.hidden, strict=True), start=1
    ):
        dead = (post.abs() <= DEAD_OUTPUT).all(dim=0)
        for unit in torch.nonzero(dead).flatten().tolist():
            names.append(f"layer {layer} unit {unit + 1}")
            peaks.append(float(pre[:, unit].max()))
    if not names:
        return None
    return Finding(
        kind="dead_units",
        message=f"{len(names)} of {total} hidden units output 0 on every row "
        f"({', '.join(names)}), so they pass nothing on and get no gradient.",
        evidence="largest pre-activation over the rows: "
        + ", ".join(f"{n} {p:.3g}" for n, p in zip(names, peaks, strict=True)),
        suggestion="--activation leaky_relu, another --seed, more --restarts or a "
        "smaller --lr",
    )


def _merged_rows(trace: _Trace, table: TruthTable) -> Finding | None:
    inputs, targets = table.tensors()
    # Without hidden layers the output layer gets the inputs themselves.
    values = trace.hidden[-1] if trace.hidden else inputs  # (rows, units)
    scale = max(1.0, float(values.abs().max()))
    distances = torch.cdist(
        values.double(), values.double(), compute_mode="donot_use_mm_for_euclid_dist"
    )
    differ = (targets[:, None, :] != targets[None, :, :]).any(dim=-1)
    close = (distances <= 1e-6 * scale) & differ
    pairs = [(i, j) for i, j in torch.argwhere(torch.triu(close, 1)).tolist()]
    if not pairs:
        return None
    shown = [f"{_row(table, i)} and {_row(table, j)}" for i, j in pairs[:SHOWN_ROWS]]
    more = (
        f" and {len(pairs) - SHOWN_ROWS} more pairs" if len(pairs) > SHOWN_ROWS else ""
    )
    first = values[pairs[0][0]].tolist()
    return Finding(
        kind="merged_rows",
        message=f"rows with different targets reach the same last hidden layer "
        f"values, so no output layer can tell them apart: {'; '.join(shown)}{more}.",
        evidence=f"{len(pairs)} pair(s) at distance 0; the first pair's values "
        f"are [{', '.join(f'{v:.3g}' for v in first)}]",
        suggestion="a wider --hidden layer, another --seed or more --restarts; "
        "dead units often cause this",
    )


def _row(table: TruthTable, index: int) -> str:
    inputs = ",".join(f"{v:g}" for v in table.inputs[index])
    return f"row {index + 1} ({inputs})"


def constant_output_loss(targets: np.ndarray, loss: str) -> float:
    """Return the loss of the best constant output for these targets.

    The best constant for MSE and for binary cross-entropy is each column's
    mean target; ``targets`` has shape (rows, n_outputs).
    """
    targets = np.asarray(targets, dtype=np.float64)
    means = targets.mean(axis=0, keepdims=True)
    if loss == "mse":
        return float(((targets - means) ** 2).mean())
    p = np.clip(means, 1e-12, 1 - 1e-12)
    cross_entropy = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    return float(cross_entropy.mean())


def _stalled_loss(history: np.ndarray, table: TruthTable, loss: str) -> Finding | None:
    if len(history) < 2 or not np.isfinite(history).all():
        return None
    first, final = float(history[0]), float(history[-1])
    constant = constant_output_loss(table.targets, loss)
    moved = abs(first - final) / first if first > 0 else 0.0
    # Still falling: the last tenth of the epochs brought at least 5 % of the drop.
    late = float(history[int(0.9 * (len(history) - 1))])
    falling = first > final and late - final >= STALL_FRACTION * (first - final)
    evidence = (
        f"{loss} loss {first:.4g} at epoch 1, {final:.4g} at epoch {len(history)}; "
        f"a constant output scores {constant:.4g}"
    )
    if moved < STALL_FRACTION and falling:
        message = (
            f"the loss barely moved ({moved:.1%}) in {len(history)} epochs and is "
            "still falling, so the learning rate is too small for the epochs."
        )
        suggestion = "raise --lr (e.g. tenfold) or --epochs"
    elif constant > 0 and final >= constant * (1 - CONSTANT_LOSS_MARGIN):
        message = (
            "the loss ended no lower than that of the best constant output (each "
            "output at its column's mean target), so the network ignores its inputs."
        )
        suggestion = (
            "another --seed, more --restarts, a wider --hidden layer or a smaller --lr"
        )
    elif moved < STALL_FRACTION:
        message = (
            f"the loss barely moved ({moved:.1%}) in {len(history)} epochs and has "
            "stopped falling: training is stuck on a plateau."
        )
        suggestion = "another --seed, more --restarts or --activation leaky_relu"
    else:
        return None
    return Finding("stalled_loss", message, evidence, suggestion)


def _saturated_outputs(trace: _Trace, table: TruthTable, loss: str) -> Finding | None:
    targets = torch.from_numpy(table.targets)
    wrong = (trace.outputs >= 0.5) != (targets >= 0.5)
    saturated = wrong & (trace.logits.abs() >= SATURATED_LOGIT)
    if not bool(saturated.any()):
        return None
    parts = []
    for column in torch.nonzero(saturated.any(dim=0)).flatten().tolist():
        rows = torch.nonzero(saturated[:, column]).flatten().tolist()[:SHOWN_ROWS]
        logits = ", ".join(f"{float(trace.logits[r, column]):.3g}" for r in rows)
        shown = ", ".join(str(r + 1) for r in rows)
        parts.append(
            f"{table.output_columns[column]} on rows {shown} (logits {logits})"
        )
    smallest = float(trace.logits.abs()[saturated].min())
    # The sigmoid's slope at z is sigmoid(z) * sigmoid(-z), largest at z = 0.
    slope = float(
        torch.sigmoid(torch.tensor(smallest)) * torch.sigmoid(torch.tensor(-smallest))
    )
    if loss == "mse":
        suggestion = (
            "--loss bce-with-logits, whose gradient does not vanish when the "
            "sigmoid saturates, a smaller --lr or another --seed"
        )
    else:
        suggestion = "a smaller --lr, a wider --hidden layer or more --restarts"
    return Finding(
        kind="saturated_outputs",
        message="output units are saturated on the wrong side: "
        + "; ".join(parts)
        + ".",
        evidence=f"|logit| >= {smallest:.3g} there, where the sigmoid's slope is at "
        f"most {slope:.2g} (0.25 at logit 0)",
        suggestion=suggestion,
    )
