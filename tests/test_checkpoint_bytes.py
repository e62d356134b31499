"""Checkpoint files are byte-identical for identical weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from xornet.checkpoint import _canonical_header, load_model, save_model
from xornet.config import Architecture
from xornet.model import MLP


def _with_header(data: bytes, header: dict) -> bytes:
    # Rebuild safetensors bytes around a header given in a chosen key order.
    length = int.from_bytes(data[:8], "little")
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + length :]


def test_canonical_header_ignores_key_order() -> None:
    tensors = {"b": torch.arange(3.0), "a": torch.ones(2, 2)}
    data = save(tensors, metadata={"format": "x", "architecture": "y"})
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    reordered = {key: header[key] for key in reversed(list(header))}
    reordered["__metadata__"] = {"format": "x", "architecture": "y"}
    other = {"__metadata__": {"architecture": "y", "format": "x"}} | {
        key: header[key] for key in header if key != "__metadata__"
    }

    first = _canonical_header(_with_header(data, reordered))
    second = _canonical_header(_with_header(data, other))
    assert first == second


def test_saved_model_loads_with_canonical_header(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MLP(Architecture(3, 2, (4, 2)))
    path = tmp_path / "model.safetensors"
    save_model(model, path)

    loaded = load_model(path)
    for key, tensor in load_file(str(path)).items():
        torch.testing.assert_close(tensor, model.state_dict()[key])
    assert loaded.architecture == model.architecture
