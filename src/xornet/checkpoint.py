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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def save_model(model: MLP, path: str | Path) -> None:
    """Save weights and architecture to a safetensors file, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "architecture": json.dumps(model.architecture.to_dict()),
    }
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
        _sort_header(tmp)


def _sort_header(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys, so equal weights give equal bytes.

    safetensors 0.8.0 writes the metadata from a Rust HashMap, whose order
    changed from call to call in one process. Sorting keeps the header's
    length, and the format allows any key order and space padding.
    """
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(data[:8] + text.ljust(length) + data[8 + length :])


def load_model(path: str | Path) -> MLP:
    """Rebuild a model from a safetensors file written by :func:`save_model`.

    Raises:
        CheckpointError: the file is missing or corrupt, was not written by
            xornet, or its tensors do not fit its architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({exc}); retrain to replace it"
        ) from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an xornet checkpoint (no {FORMAT} metadata)")
    try:
        architecture = Architecture.from_dict(json.loads(metadata["architecture"]))
    except (KeyError, json.JSONDecodeError, ConfigError) as exc:
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
