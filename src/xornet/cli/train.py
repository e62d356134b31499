"""``xornet train``: train on a truth table and write a run folder."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from typing import TYPE_CHECKING, Any

from xornet.cli.common import (
    add_table_arguments,
    format_prediction,
    print_result,
    table_from_args,
)
from xornet.cli.options import add_recipe_arguments, recipe_from_args

if TYPE_CHECKING:
    from xornet.diagnostics import Finding

log = logging.getLogger("xornet")


def add_parser(subparsers: Any) -> None:
    from xornet.cli import add_verbosity

    parser = subparsers.add_parser(
        "train",
        help="train a network on a truth table",
        description="Train a feed-forward network on a truth table and write a run "
        "folder with the model, its metadata, the loss history, the predictions "
        "and plots. Without a table it trains the shipped XOR table with the "
        "tutorial recipe.",
    )
    add_table_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="run folder to create (default: runs/<table>-<UTC time>)",
    )
    add_recipe_arguments(parser)
    add_verbosity(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xornet import engine, runs, training

    recipe = recipe_from_args(args)
    engine.resolve_device(recipe.device)
    table = table_from_args(args)
    recipe.check_table(table.targets)
    if table.missing_rows:
        shown = "; ".join(",".join(map(str, r)) for r in table.missing_rows[:8])
        log.warning("%s leaves out input combinations: %s", table.name, shown)
    out = runs.check_run_dir(args.out or runs.default_run_dir(table.name))
    seed = recipe.seed if recipe.seed is not None else secrets.randbelow(2**31)
    log.info("seed %d (pass --seed %d to repeat this run)", seed, seed)

    with _progress_bar(recipe, quiet=args.quiet) as progress:
        result = engine.train(
            table,
            recipe,
            seed,
            progress=progress,
            snapshot_at=training.snapshot_epochs(recipe.epochs),
            device=recipe.device,
        )
    if result.epochs_run == 0:
        log.error("interrupted before the first epoch finished; no run folder written")
        return 130

    findings = runs.diagnose_result(table, recipe, result)
    path, prediction = runs.write_run(out, table, recipe, result, findings)
    print_result(format_prediction(prediction))
    print_result(_verdict(prediction, result))
    if findings:
        print_result(format_findings(findings))
    if result.interrupted:
        print_result(
            f"interrupted: training stopped after epoch {result.epochs_run} of "
            f"{recipe.epochs}; run.json records it as interrupted"
        )
    print_result(str(path))
    # 130 is the shell's status for a command ended by Ctrl-C (128 + SIGINT).
    return 130 if result.interrupted else 0


def _verdict(prediction: Any, result: Any) -> str:
    loss = result.final_losses[result.kept]
    lines = []
    if len(result.models) > 1:
        lines.append(
            f"{len(result.models)} trained, {sum(result.solved)} solved; "
            f"kept model {result.kept}"
        )
    if prediction.solved:
        lines.append(f"solved: every row matches its target (final loss {loss:.4f})")
    else:
        wrong = ", ".join(map(str, prediction.wrong_rows))
        lines.append(
            f"not solved: row(s) {wrong} wrong after {result.epochs_run} epochs "
            f"(final loss {loss:.4f}). Small networks often get stuck from an unlucky "
            "start: try another --seed, more --restarts, more --epochs or a wider "
            "--hidden layer."
        )
    return "\n".join(lines)


def format_findings(findings: list[Finding]) -> str:
    """Return the findings as text: one paragraph each, with evidence and advice."""
    paragraphs = ["Why:"]
    for finding in findings:
        paragraphs.append(
            f"- {finding.message}\n"
            f"  evidence: {finding.evidence}\n"
            f"  try: {finding.suggestion}"
        )
    return "\n".join(paragraphs)


class _progress_bar:
    """A tqdm bar over epochs on stderr, showing the mean loss over all restarts.

    The engine trains all restarts together, so the bar counts epochs once.
    """

    def __init__(self, recipe: Any, quiet: bool) -> None:
        from tqdm import tqdm

        total = recipe.epochs
        self.bar = tqdm(
            total=total,
            unit="epoch",
            leave=False,
            file=sys.stderr,
            disable=quiet,
            dynamic_ncols=True,
            mininterval=0.2,
        )
        self.every = max(1, recipe.epochs // 200)

    def __enter__(self) -> Any:
        return self.update

    def update(self, epoch: int, loss: float) -> None:
        if epoch % self.every == 0:
            self.bar.update(self.every)
            self.bar.set_postfix(mean_loss=f"{loss:.4f}", refresh=False)

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
