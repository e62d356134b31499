"""Checkpoint files are byte-identical for identical weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from xornet.checkpoint import load_model, save_model
from xornet.config import Architecture
from xornet.model import MLP


def test_saved_model_loads_back(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MLP(Architecture(3, 2, (4, 2)))
    path = tmp_path / "model.safetensors"
    save_model(model, path)

    loaded = load_model(path)
    for key, tensor in load_file(str(path)).items():
        torch.testing.assert_close(tensor, model.state_dict()[key])
    assert loaded.architecture == model.architecture


def test_save_model_bytes_equal_across_processes(tmp_path: Path) -> None:
    # safetensors orders a header's metadata keys by hash, which differs
    # between processes, so this needs two separate interpreters.
    script = (
        "import sys, torch\n"
        "from xornet.checkpoint import save_model\n"
        "from xornet.config import Architecture\n"
        "from xornet.model import MLP\n"
        "torch.manual_seed(0)\n"
        "save_model(MLP(Architecture(2, 2)), sys.argv[1])\n"
    )
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for path in paths:
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    assert paths[0].read_bytes() == paths[1].read_bytes()
