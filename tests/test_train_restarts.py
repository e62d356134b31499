"""xornet train --restarts: the kept model, reproducibility and the device flag."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from xornet import runs, training
from xornet.cli import main
from xornet.config import Recipe
from xornet.tables import load_builtin

TOLERANCE = 1e-5


def train_cli(out: Path, *flags: str) -> int:
    return main(["train", "--out", str(out), "-q", *flags])


def test_kept_model_is_best(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert (
        train_cli(
            out, "--restarts", "6", "--epochs", "80", "--lr", "0.05", "--seed", "1"
        )
        == 0
    )
    metadata = json.loads((out / "run.json").read_text())
    models = metadata["models"]
    assert len(models) == 6
    solved = [m["solved"] for m in models]
    losses = [m["final_loss"] for m in models]
    kept = metadata["kept"]
    assert kept == training.choose_best(solved, losses)
    if any(solved):
        assert solved[kept]
        assert losses[kept] == min(x for x, s in zip(losses, solved, strict=True) if s)
    output = capsys.readouterr().out
    assert f"6 trained, {sum(solved)} solved; kept model {kept}" in output
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["epoch"] + [f"loss_{i}" for i in range(6)]


def test_same_seed_same_files(tmp_path: Path) -> None:
    flags = ("--restarts", "3", "--epochs", "40", "--seed", "9")
    assert train_cli(tmp_path / "a", *flags) == 0
    assert train_cli(tmp_path / "b", *flags) == 0
    for name in ("model.safetensors", "history.csv", "predictions.csv"):
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes(), name


def test_one_restart_equals_reference(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_cli(out, "--restarts", "1", "--epochs", "50", "--seed", "3") == 0
    saved = runs.load_run(out)
    table = load_builtin("xor")
    reference = training.train(table, Recipe(restarts=1, epochs=50), 3)
    expected = reference.model.state_dict()
    for name, tensor in saved.model.state_dict().items():
        assert float((tensor - expected[name]).abs().max()) < TOLERANCE, name
    history = saved.history()
    assert history.shape == (50, 1)
    assert abs(history - reference.history).max() < TOLERANCE


def test_default_restarts_is_eight() -> None:
    assert Recipe().restarts == 8


def test_cuda_request_without_gpu_fails(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status = train_cli(tmp_path / "run", "--device", "cuda", "--epochs", "2")
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1
    assert "--device cuda requested" in error
    assert not (tmp_path / "run").exists()


def test_sweep_cuda_request_without_gpu_fails(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status = main(["sweep", "--out", str(tmp_path / "s"), "--device", "cuda", "-q"])
    assert status == 2
    assert "--device cuda requested" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
