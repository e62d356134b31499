"""``xornet sweep``: train a grid of recipes over many seeds and summarise."""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import sys
from pathlib import Path
from typing import Any

from xornet.cli.common import add_table_arguments, print_result, table_from_args
from xornet.cli.options import add_recipe_arguments, recipe_flag, recipe_from_args
from xornet.config import Recipe, parse_hidden

# Kept in step with xornet.sweep.GRID_FIELDS, which imports torch.
GRID_FIELDS = ("hidden_sizes", "lr", "epochs")
DEFAULT_SEEDS = 100


def add_parser(subparsers: Any) -> None:
    from xornet.cli import add_verbosity

    parser = subparsers.add_parser(
        "sweep",
        help="train a grid of recipes over many seeds",
        description="Train every combination of the multi-valued options over "
        "--seeds seeds and report each configuration's solve rate. Each "
        "(configuration, seed) pair is one `xornet train --seed S` run. Rows go "
        "to results.csv as they finish, so an interrupted sweep continues with "
        "--resume.",
    )
    add_table_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="sweep folder to create (default: sweeps/<table>-<UTC time>)",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the sweep in this folder; options given must match it",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help=f"seeds per configuration: --seed, --seed + 1, ... (default: "
        f"{DEFAULT_SEEDS})",
    )
    add_grid_arguments(parser)
    add_recipe_arguments(parser, skip=GRID_FIELDS)
    add_verbosity(parser)
    parser.set_defaults(func=run)


def add_grid_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the multi-valued recipe flags, with help from the Recipe fields."""
    group = parser.add_argument_group("grid (several values each; every combination)")
    defaults = Recipe()
    types: dict[str, Any] = {"hidden_sizes": str, "lr": float, "epochs": int}
    for f in dataclasses.fields(Recipe):
        if f.name not in GRID_FIELDS:
            continue
        default = getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if f.name == "hidden_sizes" else default
        group.add_argument(
            recipe_flag(f.name),
            dest=f.name,
            nargs="+",
            type=types[f.name],
            metavar="SIZES" if f.name == "hidden_sizes" else f.name.upper(),
            help=f"{f.metadata['help']}; several values sweep (default: {shown})",
        )


def run(args: argparse.Namespace) -> int:
    from xornet import engine, runs
    from xornet import sweep as sweeps
    from xornet.errors import ConfigError

    table = table_from_args(args)
    if args.resume and args.out:
        raise ConfigError("give --out for a new sweep or --resume DIR, not both")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds must be a positive integer, got {args.seeds}")
    path = Path(args.resume or args.out or runs.default_run_dir(table.name, "sweeps"))
    settings = _settings(args, table, sweeps)
    sweeps.validate_settings(settings)
    engine.resolve_device(settings.recipe.device)
    sweeps.prepare_folder(path, table, settings, resume=bool(args.resume))
    if not args.quiet:
        print(f"sweep folder {path}", file=sys.stderr)

    configs = settings.configurations()
    try:
        with _ProgressBar(table, settings, configs, path, args.quiet) as progress:
            results = sweeps.run_sweep(
                path, table, settings, device=settings.recipe.device, progress=progress
            )
    except KeyboardInterrupt:
        print(
            f"xornet sweep: interrupted; finished rows are in {path / 'results.csv'}, "
            f"continue with --resume {path}",
            file=sys.stderr,
        )
        return 130

    summary = sweeps.summarize(results, order=[label for label, _ in configs])
    print_result(sweeps.format_summary(summary))
    from xornet import plots

    plots.save_figure(plots.sweep_results_figure(results), path / "summary.png")
    print_result(str(path))
    return 0


def _settings(args: argparse.Namespace, table: Any, sweeps: Any) -> Any:
    """Return the sweep settings: the stored ones on resume, checked against flags."""
    grid = {name: getattr(args, name) for name in GRID_FIELDS}
    if grid["hidden_sizes"] is not None:
        grid["hidden_sizes"] = [parse_hidden(v) for v in grid["hidden_sizes"]]
    # A value given twice would train the same configuration twice.
    for name, values in grid.items():
        if values is not None:
            grid[name] = list(dict.fromkeys(values))
    # The recipe takes the single-valued flags; the grid flags hold lists.
    args = argparse.Namespace(**{**vars(args), **dict.fromkeys(GRID_FIELDS)})
    if args.resume:
        stored = sweeps.SweepSettings.from_dict(sweeps.read_settings(Path(args.resume)))
        recipe = recipe_from_args(args, base=stored.recipe)
        given = {k: v for k, v in grid.items() if v is not None}
        return sweeps.SweepSettings(
            recipe=recipe,
            grid={**stored.grid, **given},
            seeds=args.seeds if args.seeds is not None else stored.seeds,
            seed=recipe.seed if recipe.seed is not None else stored.seed,
        )
    recipe = recipe_from_args(args)
    seed = recipe.seed if recipe.seed is not None else secrets.randbelow(2**31)
    recipe = recipe.replace(seed=seed)
    for name in GRID_FIELDS:
        if grid[name] is None:
            grid[name] = [getattr(recipe, name)]
    return sweeps.SweepSettings(
        recipe=recipe,
        grid=grid,
        seeds=args.seeds if args.seeds is not None else DEFAULT_SEEDS,
        seed=seed,
    )


class _ProgressBar:
    """A tqdm bar on stderr counting model-steps, with the runs finished."""

    def __init__(
        self, table: Any, settings: Any, configs: list[Any], path: Path, quiet: bool
    ) -> None:
        import math

        from tqdm import tqdm

        from xornet.sweep import read_results

        self.runs_total = settings.seeds * len(configs)
        self.runs_done = len(read_results(path))
        steps = 0
        for _, recipe in configs:
            per_epoch = math.ceil(len(table) / recipe.batch_size)
            steps += settings.seeds * recipe.restarts * recipe.epochs * per_epoch
        # On resume the finished runs' steps are left out, as if the runs of
        # every configuration took equally many.
        pending = steps * (self.runs_total - self.runs_done) // self.runs_total
        self.bar = tqdm(
            total=pending,
            unit="model-step",
            unit_scale=True,
            file=sys.stderr,
            disable=quiet,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        self._show_runs()

    def _show_runs(self) -> None:
        self.bar.set_postfix_str(f"runs {self.runs_done}/{self.runs_total}")

    def __enter__(self) -> Any:
        return self.update

    def update(self, runs_done: int, steps: int) -> None:
        if steps:
            self.bar.update(steps)
        if runs_done:
            self.runs_done += runs_done
            self._show_runs()

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
