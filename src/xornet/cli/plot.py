"""``xornet plot``: draw what a run learned, or a sweep's results."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from xornet.cli.common import print_result

KINDS = ("loss", "boundary", "units", "network", "activations", "animation", "sweep")
# The file each kind writes into the run (or sweep) folder by default.
FILENAMES = {
    "loss": "loss.png",
    "boundary": "boundary.png",
    "units": "units.png",
    "network": "network.png",
    "activations": "activations.png",
    "animation": "training.gif",
    "sweep": "summary.png",
}
IMAGE_SUFFIXES = (".png", ".pdf", ".svg")
SWEEP_RESULTS = "results.csv"


def add_parser(subparsers: Any) -> None:
    from xornet.cli import add_verbosity

    parser = subparsers.add_parser(
        "plot",
        help="draw figures of a run or a sweep",
        description="Draw figures of a trained run: loss curve, decision boundary, "
        "hidden units, network diagram, activation functions and an animation of "
        "training. Without --kind it draws every kind that applies and writes "
        "them into the run folder. Given a sweep folder it draws the sweep's "
        "solve rates.",
    )
    parser.add_argument(
        "run",
        metavar="RUN",
        help="run folder written by xornet train, or a sweep folder",
    )
    parser.add_argument(
        "--kind",
        action="extend",
        nargs="+",
        choices=KINDS,
        metavar="KIND",
        help=f"figures to draw, one or more of {', '.join(KINDS)} "
        "(default: every kind that applies)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="write the figure to FILE instead of the run folder; only with a "
        "single --kind (.png, .pdf or .svg; .gif for animation)",
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        "--log",
        dest="log_scale",
        action="store_true",
        default=True,
        help="loss on a log scale (default)",
    )
    scale.add_argument(
        "--linear",
        dest="log_scale",
        action="store_false",
        help="loss on a linear scale",
    )
    add_verbosity(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xornet.errors import PlotError

    folder = Path(args.run)
    kinds = list(dict.fromkeys(args.kind or ()))
    if args.out is not None and len(kinds) != 1:
        raise PlotError(
            "--out names one file, so it needs exactly one --kind; drop --out to "
            "write every figure into the run folder"
        )
    if _is_sweep_folder(folder) or kinds == ["sweep"]:
        if kinds not in ([], ["sweep"]):
            raise PlotError(
                f"{folder} is a sweep folder, which has only the sweep plot; "
                "use --kind sweep"
            )
        _plot_sweep(folder, args.out)
        return 0
    if "sweep" in kinds:
        raise PlotError(
            "--kind sweep draws a sweep folder, not a run; give it alone with the "
            "sweep folder"
        )
    _plot_run(folder, kinds, args)
    return 0


def _is_sweep_folder(folder: Path) -> bool:
    return (folder / SWEEP_RESULTS).is_file() and not (folder / "run.json").exists()


def _plot_sweep(folder: Path, out: str | None) -> None:
    import pandas as pd

    from xornet import plots
    from xornet.errors import PlotError

    results = folder / SWEEP_RESULTS
    if not results.is_file():
        raise PlotError(f"{results}: not found; pass a folder written by xornet sweep")
    try:
        frame = pd.read_csv(results)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise PlotError(f"{results}: cannot read as CSV ({detail})") from None
    path = _target(folder, "sweep", out)
    plots.save_figure(plots.sweep_results_figure(frame), path)
    print_result(str(path))


def _plot_run(folder: Path, kinds: list[str], args: argparse.Namespace) -> None:
    from xornet import runs

    saved = runs.load_run(folder)
    if not kinds:
        kinds = applicable_kinds(saved)
    # Check every request before drawing, so an error leaves no new files.
    paths = {kind: _target(folder, kind, args.out) for kind in kinds}
    snapshots = _check_kinds(saved, kinds)
    for kind in kinds:
        _draw(kind, saved, paths[kind], args.log_scale, snapshots)
        print_result(str(paths[kind]))


def applicable_kinds(saved: Any) -> list[str]:
    """Return the kinds drawn by default: every one that fits the run."""
    from xornet.snapshots import FILENAME

    kinds = ["loss", "network", "activations"]
    if saved.table.n_inputs == 2:
        kinds.insert(1, "boundary")
        if saved.model.architecture.hidden_sizes:
            kinds.insert(2, "units")
        if (saved.path / FILENAME).is_file():
            kinds.append("animation")
    return kinds


def _check_kinds(saved: Any, kinds: list[str]) -> Any:
    """Raise PlotError for a kind the run cannot draw; return snapshots if needed."""
    from xornet.plots.maps import require_two_inputs

    for kind in ("boundary", "units", "animation"):
        if kind in kinds:
            require_two_inputs(saved.table, kind)
    return saved.load_snapshots() if "animation" in kinds else None


def _target(folder: Path, kind: str, out: str | None) -> Path:
    """Return where a kind's figure goes, checking an --out file's suffix and folder."""
    from xornet.errors import PlotError

    if out is None:
        return folder / FILENAMES[kind]
    path = Path(out)
    allowed = (".gif",) if kind == "animation" else IMAGE_SUFFIXES
    if path.suffix.lower() not in allowed:
        raise PlotError(
            f"--out {out}: the {kind} plot is written as "
            f"{' or '.join(allowed)}; change the file name"
        )
    if not path.absolute().parent.is_dir():
        raise PlotError(f"--out {out}: folder {path.parent} not found; create it first")
    return path


def _draw(kind: str, saved: Any, path: Path, log_scale: bool, snapshots: Any) -> None:
    from xornet import plots

    model, table = saved.model, saved.table
    if kind == "animation":
        losses = _history(saved)[:, saved.kept]
        plots.write_training_gif(path, table, model.architecture, snapshots, losses)
        return
    if kind == "loss":
        loss_name = saved.metadata.get("recipe", {}).get("loss")
        fig = plots.loss_figure(
            _history(saved),
            saved.kept,
            title=f"Training loss: {table.name}",
            log_scale=log_scale,
            loss_name=loss_name,
        )
    elif kind == "boundary":
        fig = plots.boundary_figure(model, table)
    elif kind == "units":
        fig = plots.units_figure(model, table)
    elif kind == "network":
        fig = plots.network_figure(model, table)
    else:
        fig = plots.activations_figure(model)
    plots.save_figure(fig, path)


def _history(saved: Any) -> Any:
    """Return the run's loss history, checking it against run.json's kept model.

    Raises:
        CheckpointError: history.csv is missing or unreadable, or has no
            column for the kept model.
    """
    import pandas as pd

    from xornet.errors import CheckpointError

    path = saved.path / "history.csv"
    try:
        history = saved.history()
    except FileNotFoundError:
        raise CheckpointError(
            f"{path}: missing; is {saved.path} a run folder?"
        ) from None
    except (KeyError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise CheckpointError(
            f"{path}: not a loss history (an epoch column, then one loss column "
            "per model); the run folder was edited"
        ) from None
    if not 0 <= saved.kept < history.shape[1]:
        raise CheckpointError(
            f"{path}: has no column for kept model {saved.kept} named in run.json; "
            "the run folder was edited or mixed"
        )
    return history
