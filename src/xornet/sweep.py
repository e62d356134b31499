"""Sweeps: a grid of recipes times a range of seeds, trained with the engine.

Every (configuration, seed) pair is one ``xornet train`` run: ``restarts``
models start from ``build_models(table, recipe, seed)`` and the best is kept.
The sweep folder contains ``sweep.json`` (the settings), ``results.csv`` (one
row per pair, appended as chunks of seeds finish) and ``summary.png``.
A crash can leave at most a partial last line in ``results.csv``, which
:func:`read_results` drops, so ``--resume`` continues from the finished rows.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from xornet import engine
from xornet.checkpoint import write_json
from xornet.config import Recipe
from xornet.diagnostics import diagnose
from xornet.errors import ConfigError, XornetError
from xornet.model import MLP
from xornet.stats import wilson_interval
from xornet.tables import TruthTable
from xornet.training import build_models, choose_best, make_loss

log = logging.getLogger(__name__)

# Recipe fields that take several values on the command line.
GRID_FIELDS = ("hidden_sizes", "lr", "epochs")
GRID_COLUMNS = {"hidden_sizes": "hidden", "lr": "lr", "epochs": "epochs"}
RESULT_COLUMNS = [
    "config",
    "hidden",
    "lr",
    "epochs",
    "seed",
    "solved",
    "final_loss",
    "solved_epoch",
    "failure",
    "train_seconds",
]
SETTINGS_FORMAT = "xornet-sweep"
# Diagnosing one unsolved run took 3-6 ms on a busy 2-core machine, so each
# configuration diagnoses at most this many and marks the rest NOT_DIAGNOSED.
# That keeps a sweep of a million short runs from spending an hour here.
MAX_DIAGNOSED = 500
NOT_DIAGNOSED = "not_diagnosed"

# Called with (models finished, model-steps done) increments.
SweepProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepSettings:
    """The plan of a sweep: the recipe, the grid over it and the seeds.

    ``recipe`` contains the single-valued options; ``grid`` maps each field of
    :data:`GRID_FIELDS` to its values. Seed ``i`` of every configuration is
    ``seed + i``, so a row repeats ``xornet train --seed <seed + i>``.
    """

    recipe: Recipe
    grid: dict[str, list[Any]]
    seeds: int
    seed: int

    def configurations(self) -> list[tuple[str, Recipe]]:
        """Return every (label, recipe) of the grid, in the grid's order."""
        values = [self.grid[name] for name in GRID_FIELDS]
        configs = []
        for combo in itertools.product(*values):
            changes = dict(zip(GRID_FIELDS, combo, strict=True))
            recipe = self.recipe.replace(**changes)
            configs.append((config_label(recipe), recipe))
        return configs

    def to_dict(self, table: TruthTable) -> dict[str, Any]:
        grid = dict(self.grid)
        grid["hidden_sizes"] = [list(h) for h in grid["hidden_sizes"]]
        return {
            "format": SETTINGS_FORMAT,
            "table": table.to_dict(),
            "recipe": self.recipe.to_dict(),
            "grid": grid,
            "seeds": self.seeds,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSettings:
        grid = dict(data["grid"])
        grid["hidden_sizes"] = [tuple(h) for h in grid["hidden_sizes"]]
        return cls(
            recipe=Recipe.from_dict(data["recipe"]),
            grid=grid,
            seeds=int(data["seeds"]),
            seed=int(data["seed"]),
        )


def hidden_label(hidden_sizes: tuple[int, ...]) -> str:
    return ",".join(map(str, hidden_sizes)) or "none"


def config_label(recipe: Recipe) -> str:
    """Return a configuration's label, e.g. ``hidden=3 lr=0.001 epochs=10``."""
    return (
        f"hidden={hidden_label(recipe.hidden_sizes)} lr={recipe.lr:g} "
        f"epochs={recipe.epochs}"
    )


def validate_settings(settings: SweepSettings) -> None:
    """Raise ConfigError naming the first invalid value of the grid or seeds."""
    if settings.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {settings.seeds}")
    if settings.seed < 0 or settings.seed + settings.seeds > 2**63:
        raise ConfigError(f"--seed must be in [0, 2**63 - seeds), got {settings.seed}")
    for name in GRID_FIELDS:
        if not settings.grid[name]:
            raise ConfigError(f"the sweep needs at least one value for {name}")
    for _, recipe in settings.configurations():
        recipe.validate()


def initial_weights(
    table: TruthTable, recipe: Recipe, seeds: list[int]
) -> list[torch.Tensor]:
    """Return the stacked initial weights of ``recipe.restarts`` models per seed.

    Equal to stacking ``build_models(table, recipe, seed)`` for each seed,
    but for the default initialisation it draws the same numbers without
    building modules, several times faster, which matters for a million
    models.
    """
    architecture = recipe.architecture(table.n_inputs, table.n_outputs)
    if recipe.init != "default":
        models = [m for s in seeds for m in build_models(table, recipe, s)]
        return engine.stack_models(models)
    sizes = architecture.layer_sizes
    layers = list(zip(sizes, sizes[1:], strict=False))
    count = len(seeds) * recipe.restarts
    weights = [
        tensor
        for n_in, n_out in layers
        for tensor in (torch.empty(count, n_out, n_in), torch.empty(count, n_out))
    ]
    # nn.Linear.reset_parameters calls kaiming_uniform_(weight, a=sqrt(5)),
    # which draws uniform(-bound, bound) with bound = sqrt(3) * gain /
    # sqrt(fan_in) and gain = sqrt(2 / (1 + a^2)), then draws the bias from
    # uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)). Same draws, same order.
    gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
    bounds = [
        (math.sqrt(3.0) * (gain / math.sqrt(n_in)), 1 / math.sqrt(n_in))
        for n_in, _ in layers
    ]
    k = 0
    with torch.no_grad():
        for seed in seeds:
            # A fresh CPU generator with this seed yields the same stream as
            # torch.manual_seed(seed) without the cost of seeding every device.
            generator = torch.Generator().manual_seed(seed)
            for _ in range(recipe.restarts):
                for layer, (weight_bound, bias_bound) in enumerate(bounds):
                    weight, bias = weights[2 * layer][k], weights[2 * layer + 1][k]
                    weight.uniform_(-weight_bound, weight_bound, generator=generator)
                    bias.uniform_(-bias_bound, bias_bound, generator=generator)
                k += 1
    return weights


def prepare_folder(
    path: Path, table: TruthTable, settings: SweepSettings, resume: bool
) -> None:
    """Create the sweep folder with sweep.json, or check it on resume.

    Raises:
        XornetError: a new sweep's folder is not empty, or a resumed sweep's
            folder is missing or was made with other settings.
    """
    settings_path = path / "sweep.json"
    expected = settings.to_dict(table)
    if resume:
        stored = read_settings(path)
        difference = first_difference(stored, expected)
        if difference:
            raise XornetError(
                f"--resume {path}: {difference} differs from the stored sweep; "
                "pass the same options or start a new sweep with --out"
            )
        return
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise XornetError(
            f"{path}: already exists and is not empty; choose another --out folder "
            "or continue it with --resume"
        )
    path.mkdir(parents=True, exist_ok=True)
    write_json(settings_path, expected)


def read_settings(path: Path) -> dict[str, Any]:
    """Return the stored sweep.json of a sweep folder.

    Raises:
        XornetError: the folder or its sweep.json is missing or invalid.
    """
    settings_path = path / "sweep.json"
    try:
        stored = json.loads(settings_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XornetError(
            f"{settings_path}: not found; --resume needs a folder that sweep wrote"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise XornetError(f"{settings_path}: not valid JSON ({exc})") from None
    if not isinstance(stored, dict) or stored.get("format") != SETTINGS_FORMAT:
        raise XornetError(f"{settings_path}: not an xornet sweep.json")
    return stored


def first_difference(stored: dict[str, Any], expected: dict[str, Any]) -> str:
    """Return the first setting that differs, as ``"recipe.lr"``, or ``""``."""
    for key in sorted(set(stored) | set(expected)):
        a, b = stored.get(key), expected.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = first_difference(a, b)
            if inner:
                return f"{key}.{inner}"
        elif a != b:
            return key
    return ""


def read_results(path: Path) -> pd.DataFrame:
    """Return the finished rows of ``path/results.csv``, dropping a partial last line.

    ``path`` is the sweep folder; a missing results.csv gives an empty frame.

    The partial line is also cut from the file, so later appends start on a
    fresh line.
    """
    results = path / "results.csv"
    if not results.exists():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    data = results.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        log.warning("%s: dropped a partial last line left by a crash", results)
        with results.open("r+b") as handle:
            handle.truncate(len(complete))
            handle.flush()
            os.fsync(handle.fileno())
    if not complete.strip():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    frame = pd.read_csv(io.BytesIO(complete), keep_default_na=False, na_values=[""])
    if list(frame.columns) != RESULT_COLUMNS:
        raise XornetError(
            f"{results}: unexpected columns {list(frame.columns)}; "
            "was it written by xornet sweep?"
        )
    return frame


def append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows to results.csv in one write, flushed and synced to disk."""
    results = path / "results.csv"
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["solved_epoch"] = frame["solved_epoch"].astype("Int64")  # empty if None
    header = not results.exists() or results.stat().st_size == 0
    text = frame.to_csv(index=False, header=header, lineterminator="\n")
    with results.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def seed_chunks(
    seeds: list[int], recipe: Recipe, max_models: int
) -> Iterator[list[int]]:
    """Yield groups of seeds whose models train together.

    With shuffling each seed has its own batch order, while the engine
    gives all its models one order, so every seed then trains alone.
    NOTE: shuffled sweeps are therefore many times slower per model.
    """
    per_chunk = 1 if recipe.shuffle else max(1, max_models // recipe.restarts)
    for start in range(0, len(seeds), per_chunk):
        yield seeds[start : start + per_chunk]


def run_sweep(
    path: Path,
    table: TruthTable,
    settings: SweepSettings,
    device: str = "cpu",
    progress: SweepProgress | None = None,
    max_models: int = engine.CHUNK_MODELS,
) -> pd.DataFrame:
    """Train every (configuration, seed) pair not yet in results.csv.

    Returns all rows, the earlier ones included. Ctrl-C stops after the
    chunk that is training; the rows of finished chunks are kept.
    """
    done = read_results(path)
    finished = set(zip(done["config"], done["seed"].astype(int), strict=True))
    device = engine.resolve_device(device)
    for label, recipe in settings.configurations():
        seeds = [
            settings.seed + i
            for i in range(settings.seeds)
            if (label, settings.seed + i) not in finished
        ]
        ours = done[done["config"] == label]["failure"].dropna().astype(str)
        budget = MAX_DIAGNOSED - int((ours != NOT_DIAGNOSED).sum())
        for chunk in seed_chunks(seeds, recipe, max_models):
            rows = train_chunk(table, label, recipe, chunk, device, progress, budget)
            budget -= sum(1 for r in rows if r["failure"] not in ("", NOT_DIAGNOSED))
            append_rows(path, rows)
    return read_results(path)


def train_chunk(
    table: TruthTable,
    label: str,
    recipe: Recipe,
    seeds: list[int],
    device: str,
    progress: SweepProgress | None,
    diagnose_budget: int = MAX_DIAGNOSED,
) -> list[dict[str, Any]]:
    """Train the runs of these seeds together; return one result row per seed.

    At most ``diagnose_budget`` unsolved runs get their failure kinds; the
    others are marked :data:`NOT_DIAGNOSED`.
    """
    started = time.perf_counter()
    weights = initial_weights(table, recipe, seeds)
    # Training may update the stacked tensors in place; diagnose needs the start.
    start_weights = [w.clone() for w in weights]
    count = len(weights[0])
    steps_per_epoch = math.ceil(len(table) / recipe.batch_size)

    def count_steps(epoch: int, loss: float) -> None:
        if progress is not None:
            progress(0, count * steps_per_epoch)

    result = engine.train_stacked(
        table,
        recipe,
        weights,
        seed=seeds[0],
        device=device,
        progress=count_steps,
        keep_history=False,
        track_solved=True,
        freeze_diverged=True,
    )
    if result.interrupted:
        raise KeyboardInterrupt
    seconds = (time.perf_counter() - started) / len(seeds)
    rows = []
    for i, seed in enumerate(seeds):
        group = slice(i * recipe.restarts, (i + 1) * recipe.restarts)
        solved = result.solved[group].tolist()
        losses = result.final_losses[group].tolist()
        kept = choose_best(solved, losses)
        solved_epoch = int(result.solved_epochs[group][kept])
        index = i * recipe.restarts + kept
        failure = ""
        if not solved[kept] and diagnose_budget <= 0:
            failure = NOT_DIAGNOSED
        elif not solved[kept]:
            failure = failure_kinds(
                table, recipe, start_weights, result.weights, index, losses[kept]
            )
            diagnose_budget -= 1
        rows.append(
            {
                "config": label,
                "hidden": hidden_label(recipe.hidden_sizes),
                "lr": recipe.lr,
                "epochs": recipe.epochs,
                "seed": seed,
                "solved": bool(solved[kept]),
                "final_loss": losses[kept],
                "solved_epoch": solved_epoch
                if solved[kept] and solved_epoch > 0
                else None,
                "failure": failure,
                "train_seconds": seconds,
            }
        )
    if progress is not None:
        progress(len(seeds), 0)
    return rows


def failure_kinds(
    table: TruthTable,
    recipe: Recipe,
    start_weights: list[torch.Tensor],
    final_weights: list[torch.Tensor],
    index: int,
    final_loss: float,
) -> str:
    """Return the finding kinds of stacked model ``index``, joined by ``+``.

    A sweep keeps no loss history, so the stalled-loss check gets two points:
    the loss of the initial weights on the whole table and the final loss.
    """
    architecture = recipe.architecture(table.n_inputs, table.n_outputs)
    names = list(MLP(architecture).state_dict())
    start, final = MLP(architecture), MLP(architecture)
    start.load_state_dict(
        {n: w[index] for n, w in zip(names, start_weights, strict=True)}
    )
    final.load_state_dict(
        {n: w[index] for n, w in zip(names, final_weights, strict=True)}
    )
    inputs, targets = table.tensors()
    with torch.no_grad():
        first_loss = float(make_loss(recipe.loss)(start(inputs), targets))
    history = np.array([first_loss, final_loss])
    findings = diagnose(final, table, history, loss=recipe.loss)
    return "+".join(f.kind for f in findings) or "unexplained"


def summarize(results: pd.DataFrame, order: list[str] | None = None) -> pd.DataFrame:
    """Return one row per configuration: solve rate, its 95 % interval, epochs, time."""
    rows = []
    labels = order if order is not None else list(dict.fromkeys(results["config"]))
    for label in labels:
        group = results[results["config"] == label]
        if group.empty:
            continue
        solved = group["solved"].astype(bool)
        low, high = wilson_interval(int(solved.sum()), len(group))
        epochs = pd.to_numeric(group["solved_epoch"], errors="coerce").dropna()
        rows.append(
            {
                "config": label,
                "runs": len(group),
                "solved": int(solved.sum()),
                "solve_rate": float(solved.mean()),
                "ci_low": low,
                "ci_high": high,
                "median_solved_epoch": float(np.median(epochs))
                if len(epochs)
                else None,
                "failures": _count_failures(group),
                "train_seconds": float(group["train_seconds"].sum()),
            }
        )
    return pd.DataFrame(rows)


def _count_failures(group: pd.DataFrame) -> str:
    """Return e.g. ``dead_units 12, merged_rows 9`` for a configuration's runs."""
    counts: dict[str, int] = {}
    for kinds in group["failure"].dropna().astype(str):
        for kind in filter(None, kinds.split("+")):
            counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "-"


def format_summary(summary: pd.DataFrame) -> str:
    """Return the summary as a text table for the terminal."""
    table = pd.DataFrame(
        {
            "config": summary["config"],
            "runs": summary["runs"],
            "solved": [f"{r:.1%}" for r in summary["solve_rate"]],
            "95% interval": [
                f"{lo:.1%}-{hi:.1%}"
                for lo, hi in zip(summary["ci_low"], summary["ci_high"], strict=True)
            ],
            "median epochs to solve": [
                "-" if e is None or e != e else f"{e:.0f}"
                for e in summary["median_solved_epoch"]
            ],
            "unsolved by finding": summary["failures"],
            "wall s": [f"{s:.1f}" for s in summary["train_seconds"]],
        }
    )
    return table.to_string(index=False)
