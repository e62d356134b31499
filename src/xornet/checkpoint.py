"""Checkpoints: safetensors weights with the architecture in their metadata.

Loading never unpickles anything: weights come from safetensors, metadata
from JSON. Every file is written to a temporary name in the same folder and
renamed into place, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from xornet.config import Architecture
from xornet.errors import CheckpointError, ConfigError
from xornet.model import MLP

FORMAT = "xornet-mlp"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On an exception (Ctrl-C included) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file as 0600; give it the mode open() would.
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def current_umask() -> int:
    """Return the process's umask (reading it requires setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_model(model: MLP, path: str | Path) -> None:
    """Save weights and architecture to a safetensors file, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    details = {"format": FORMAT, "architecture": model.architecture.to_dict()}
    write_tensors(path, state, details)


def write_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], details: dict[str, Any]
) -> None:
    """Write tensors and JSON ``details`` to a safetensors file, atomically.

    The details go under one metadata key, because safetensors writes several
    keys in hash order and the same seed must give byte-identical files.
    """
    metadata = {"xornet": json.dumps(details, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_tensors(
    path: Path, file_format: str, kind: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a file written by :func:`write_tensors`: its details and tensors.

    Raises:
        CheckpointError: the file is unreadable, or its details do not name
            ``file_format``; ``kind`` names the file in the message.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({exc}); train the run again"
        ) from None
    try:
        details = json.loads(metadata.get("xornet", "{}"))
    except json.JSONDecodeError:
        details = {}
    if not isinstance(details, dict) or details.get("format") != file_format:
        raise CheckpointError(
            f"{path}: not an xornet {kind} (no {file_format} metadata)"
        )
    return details, tensors


def load_model(path: str | Path) -> MLP:
    """Rebuild a model from a safetensors file written by :func:`save_model`.

    Raises:
        CheckpointError: the file is missing or corrupt, was not written by
            xornet, or its tensors do not fit its architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    details, tensors = read_tensors(path, FORMAT, "checkpoint")
    try:
        architecture = Architecture.from_dict(details["architecture"])
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: invalid architecture metadata: {exc}") from None
    model = MLP(architecture)
    _check_tensors(path, model, tensors)
    model.load_state_dict(tensors)
    return model


def _check_tensors(path: Path, model: MLP, tensors: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        name = (missing or extra)[0]
        kind = "missing" if missing else "unexpected"
        raise CheckpointError(f"{path}: {kind} tensor {name!r}; the file is corrupt")
    for key, tensor in tensors.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(
                f"{path}: tensor {key!r} has shape {tuple(tensor.shape)}, the "
                f"architecture needs {tuple(expected[key].shape)}"
            )
        if tensor.dtype != torch.float32 or not torch.isfinite(tensor).all():
            raise CheckpointError(
                f"{path}: tensor {key!r} is not finite float32; the file is corrupt"
            )
