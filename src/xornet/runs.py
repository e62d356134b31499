"""The run folder: what a training run writes, where, and how it is read back.

A run folder contains ``model.safetensors``, ``run.json``, ``history.csv``,
``predictions.csv``, ``loss.png``, for two-input tables ``boundary.png``,
and ``snapshots.safetensors`` when training kept weight snapshots. The
folder is assembled under a hidden temporary name beside its destination
and renamed into place when complete, so an interrupted write leaves no
folder that looks finished.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import xornet
from xornet import plots, snapshots
from xornet.checkpoint import (
    current_umask,
    load_model,
    save_model,
    write_json,
    write_text,
)
from xornet.config import Recipe
from xornet.diagnostics import Finding, diagnose, rows_correct
from xornet.errors import CheckpointError, XornetError
from xornet.model import MLP
from xornet.tables import TruthTable
from xornet.training import TrainResult

log = logging.getLogger(__name__)

RUN_FILES = (
    "model.safetensors",
    "run.json",
    "history.csv",
    "predictions.csv",
    "loss.png",
)


def default_run_dir(table_name: str, root: str | Path = "runs") -> Path:
    """Return ``root/<table>-<UTC timestamp>``, unique within root."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(root) / f"{table_name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def check_run_dir(path: str | Path) -> Path:
    """Check before training that a run folder can be created at ``path``.

    Raises:
        XornetError: the path exists and is not an empty folder, or its parent
            cannot be created or written.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise XornetError(
            f"{path}: already exists and is not empty; choose another --out folder"
        )
    # Check the nearest existing ancestor instead of creating the parents now,
    # so that a run that fails in training leaves no empty folders behind.
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        if not parent.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise XornetError(
            f"{parent}: cannot write the run folder there ({exc.strerror}); "
            "choose another --out folder"
        ) from None
    return path


@dataclass
class Prediction:
    """A model's outputs on a table's rows, with which rows are right."""

    table: TruthTable
    outputs: np.ndarray
    correct: np.ndarray

    @property
    def solved(self) -> bool:
        return bool(self.correct.all())

    @property
    def wrong_rows(self) -> list[int]:
        """1-based numbers of the rows the model gets wrong."""
        return [int(i) + 1 for i in np.flatnonzero(~self.correct)]

    def to_frame(self) -> pd.DataFrame:
        frame = self.table.to_frame()
        for j, column in enumerate(self.table.output_columns):
            frame[f"output_{column}"] = np.round(self.outputs[:, j].astype(float), 4)
        frame["correct"] = self.correct.astype(bool)
        return frame


def predict(model: MLP, table: TruthTable) -> Prediction:
    """Run the model on every row of the table."""
    inputs, targets = table.tensors()
    outputs = model.predict(inputs)
    correct = rows_correct(outputs, targets)
    return Prediction(table, outputs.numpy(), correct.numpy())


def run_metadata(
    table: TruthTable,
    recipe: Recipe,
    result: TrainResult,
    prediction: Prediction,
    findings: list[Finding] | None = None,
) -> dict[str, Any]:
    """Return the contents of run.json; ``findings`` explain an unsolved model."""
    return {
        "xornet_version": xornet.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "table": table.to_dict(),
        "architecture": result.model.architecture.to_dict(),
        "recipe": recipe.replace(seed=result.seed).to_dict(),
        "seed": result.seed,
        "restarts": len(result.models),
        "kept": result.kept,
        "epochs_run": result.epochs_run,
        "interrupted": result.interrupted,
        "final_loss": result.final_losses[result.kept],
        "solved": prediction.solved,
        "wrong_rows": prediction.wrong_rows,
        "models": [
            {"final_loss": loss, "solved": solved}
            for loss, solved in zip(result.final_losses, result.solved, strict=True)
        ],
        "findings": [finding.to_dict() for finding in findings or []],
    }


def write_run(
    path: str | Path,
    table: TruthTable,
    recipe: Recipe,
    result: TrainResult,
    findings: list[Finding] | None = None,
) -> tuple[Path, Prediction]:
    """Write a complete run folder at ``path`` and return it with the predictions.

    ``findings`` default to :func:`diagnose_result` of the kept model.
    """
    path = Path(path)
    prediction = predict(result.model, table)
    if findings is None:
        findings = diagnose_result(table, recipe, result)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    )
    try:
        save_model(result.model, staging / "model.safetensors")
        write_json(
            staging / "run.json",
            run_metadata(table, recipe, result, prediction, findings),
        )
        write_text(
            staging / "history.csv", history_frame(result.history).to_csv(index=False)
        )
        write_text(
            staging / "predictions.csv", prediction.to_frame().to_csv(index=False)
        )
        fig = plots.loss_figure(
            result.history,
            result.kept,
            title=f"Training loss: {table.name}",
            loss_name=recipe.loss,
        )
        plots.save_figure(fig, staging / "loss.png")
        if table.n_inputs == 2:
            fig = plots.boundary_figure(result.model, table)
            plots.save_figure(fig, staging / "boundary.png")
        if result.snapshots:
            snapshots.save_snapshots(
                staging / snapshots.FILENAME,
                kept_snapshots(result),
                result.model.architecture,
            )
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it 0700
        if path.exists():
            path.rmdir()  # check_run_dir allowed only an empty folder here
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, prediction


def kept_snapshots(result: TrainResult) -> snapshots.Snapshots:
    """Return the kept model's snapshots, ending with its final weights.

    Training may stop before the last requested epoch (solved early, or
    Ctrl-C), so the final weights are added at ``epochs_run`` when missing.
    """
    kept = {epoch: states[result.kept] for epoch, states in result.snapshots.items()}
    if result.epochs_run not in kept:
        kept[result.epochs_run] = {
            k: v.detach().clone() for k, v in result.model.state_dict().items()
        }
    return kept


def diagnose_result(
    table: TruthTable, recipe: Recipe, result: TrainResult
) -> list[Finding]:
    """Return the findings on the kept model: empty when it solves the table."""
    if result.epochs_run == 0:
        return []
    history = result.history[:, result.kept]
    return diagnose(result.model, table, history, loss=recipe.loss)


def history_frame(history: np.ndarray) -> pd.DataFrame:
    """Return history as a frame: ``epoch``, then one loss column per model.

    A single model's column is ``loss``; restarts get ``loss_0``, ``loss_1``, ...
    """
    history = np.asarray(history).reshape(len(history), -1)
    frame = pd.DataFrame({"epoch": np.arange(1, len(history) + 1)})
    if history.shape[1] == 1:
        frame["loss"] = history[:, 0]
    else:
        for i in range(history.shape[1]):
            frame[f"loss_{i}"] = history[:, i]
    return frame


@dataclass
class Run:
    """A run folder read back: its model, metadata and table."""

    path: Path
    model: MLP
    metadata: dict[str, Any]
    table: TruthTable

    def history(self) -> np.ndarray:
        """Return the loss history, shape (epochs, models)."""
        frame = pd.read_csv(self.path / "history.csv")
        return frame.drop(columns="epoch").to_numpy(dtype=float)

    @property
    def kept(self) -> int:
        """Index of the kept model among the restarts (a column of history)."""
        return int(self.metadata.get("kept", 0))

    def load_snapshots(self) -> snapshots.Snapshots:
        """Load the kept model's weight snapshots from ``snapshots.safetensors``.

        Raises:
            CheckpointError: the file is missing or invalid.
        """
        return snapshots.load_snapshots(
            self.path / snapshots.FILENAME, self.model.architecture
        )


def load_run(path: str | Path) -> Run:
    """Read a run folder written by :func:`write_run`.

    Raises:
        CheckpointError: the folder or one of its files is missing or invalid.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(
            f"{path}: run folder not found; pass a folder that train wrote"
        )
    meta_path = path / "run.json"
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{meta_path}: missing; is {path} a run folder?"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or "table" not in metadata:
        raise CheckpointError(f"{meta_path}: not an xornet run.json (no table)")
    model = load_model(path / "model.safetensors")
    try:
        table = TruthTable.from_dict(metadata["table"])
    except XornetError as exc:
        raise CheckpointError(f"{meta_path}: {exc}") from None
    stored = metadata.get("architecture")
    if stored != model.architecture.to_dict():
        raise CheckpointError(
            f"{path}: run.json and model.safetensors describe different networks; "
            "the run folder was edited or mixed"
        )
    return Run(path=path, model=model, metadata=metadata, table=table)
