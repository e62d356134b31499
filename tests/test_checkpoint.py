from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from xornet.checkpoint import load_model, save_model
from xornet.config import Architecture
from xornet.errors import CheckpointError
from xornet.model import MLP


def test_checkpoint_round_trip(tmp_path):
    model = MLP(
        Architecture(n_inputs=3, n_outputs=1, hidden_sizes=(4, 2), activation="tanh")
    )
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.architecture == model.architecture
    inputs = torch.rand(5, 3)
    assert torch.equal(loaded(inputs), model(inputs))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_load_model_rejects_garbage(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_model(path)


def test_load_model_rejects_truncated_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(MLP(Architecture(2, 2)), path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError):
        load_model(path)


def test_load_model_rejects_foreign_safetensors(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not an xornet checkpoint"):
        load_model(path)


def test_load_model_rejects_wrong_shapes(tmp_path):
    path = tmp_path / "m.safetensors"
    state = MLP(Architecture(2, 2, hidden_sizes=(4,))).state_dict()
    details = {"format": "xornet-mlp", "architecture": Architecture(2, 2).to_dict()}
    metadata = {"xornet": json.dumps(details)}
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(
        CheckpointError, match=r"has shape \(4,\), the architecture needs \(3,\)"
    ):
        load_model(path)
