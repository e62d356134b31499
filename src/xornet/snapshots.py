"""Weight snapshots of the kept model during training, in ``snapshots.safetensors``.

Tensor keys are ``epoch_<epoch, 6 digits>.<state_dict key>``, for example
``epoch_000123.layers.0.weight``; the metadata stores the format name, the
architecture and the JSON list of epochs. Loading reads safetensors and JSON
only, never pickle, and checks every tensor against the architecture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from xornet.checkpoint import read_tensors, write_tensors
from xornet.config import Architecture
from xornet.errors import CheckpointError, ConfigError
from xornet.model import MLP

FORMAT = "xornet-snapshots"
FILENAME = "snapshots.safetensors"

# epoch -> the model's state_dict after that epoch (0 is the initial weights).
Snapshots = dict[int, dict[str, torch.Tensor]]


def snapshot_key(epoch: int, name: str) -> str:
    return f"epoch_{epoch:06d}.{name}"


def save_snapshots(
    path: str | Path, snapshots: Snapshots, architecture: Architecture
) -> None:
    """Write snapshots to a safetensors file, atomically."""
    epochs = sorted(snapshots)
    tensors = {
        snapshot_key(epoch, name): tensor.detach().cpu().contiguous()
        for epoch in epochs
        for name, tensor in snapshots[epoch].items()
    }
    details = {
        "format": FORMAT,
        "architecture": architecture.to_dict(),
        "epochs": epochs,
    }
    write_tensors(path, tensors, details)


def load_snapshots(path: str | Path, architecture: Architecture) -> Snapshots:
    """Read snapshots written by :func:`save_snapshots` for this architecture.

    Raises:
        CheckpointError: the file is missing, unreadable, written for another
            network, or a tensor is missing, misshapen or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: not found; train the run again with this xornet version "
            "to record snapshots"
        )
    details, tensors = read_tensors(path, FORMAT, "snapshot file")
    epochs = _check_metadata(path, details, architecture)
    expected = MLP(architecture).state_dict()
    snapshots: Snapshots = {}
    for epoch in epochs:
        snapshots[epoch] = {
            name: _take(path, tensors, snapshot_key(epoch, name), reference)
            for name, reference in expected.items()
        }
    if tensors:
        raise CheckpointError(
            f"{path}: unexpected tensor {sorted(tensors)[0]!r}; the file is corrupt"
        )
    return snapshots


def _check_metadata(
    path: Path, details: dict[str, Any], architecture: Architecture
) -> list[int]:
    try:
        stored = Architecture.from_dict(details["architecture"])
        epochs = details["epochs"]
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: invalid snapshot metadata: {exc}") from None
    if stored != architecture:
        raise CheckpointError(
            f"{path}: snapshots describe a different network than model.safetensors; "
            "the run folder was edited or mixed"
        )
    valid = isinstance(epochs, list) and all(
        isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in epochs
    )
    if not valid or not epochs or epochs != sorted(set(epochs)):
        raise CheckpointError(
            f"{path}: the epochs metadata must be a sorted list of distinct "
            f"epochs, got {epochs!r}"
        )
    return epochs


def _take(
    path: Path, tensors: dict[str, torch.Tensor], key: str, reference: torch.Tensor
) -> torch.Tensor:
    """Pop one tensor and check it has the reference's shape and is finite float32."""
    if key not in tensors:
        raise CheckpointError(f"{path}: missing tensor {key!r}; the file is corrupt")
    tensor = tensors.pop(key)
    if tensor.shape != reference.shape:
        raise CheckpointError(
            f"{path}: tensor {key!r} has shape {tuple(tensor.shape)}, the "
            f"architecture needs {tuple(reference.shape)}"
        )
    if tensor.dtype != torch.float32 or not torch.isfinite(tensor).all():
        raise CheckpointError(
            f"{path}: tensor {key!r} is not finite float32; the file is corrupt"
        )
    return tensor
