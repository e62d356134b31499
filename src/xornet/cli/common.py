"""Helpers shared by the subcommands: tables from flags, printing results."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xornet.runs import Prediction
    from xornet.tables import TruthTable


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "table",
        nargs="?",
        metavar="TABLE.csv",
        help="truth table CSV with columns IN1..INn, OUT1..OUTm "
        "(default: the shipped xor.csv)",
    )
    parser.add_argument(
        "--inputs",
        metavar="COLS",
        help="input columns, comma-separated (default: IN1..INn)",
    )
    parser.add_argument(
        "--outputs",
        metavar="COLS",
        help="target columns, comma-separated (default: OUT1..OUTm)",
    )


def table_from_args(args: argparse.Namespace) -> TruthTable:
    """Load the table a command names: a CSV file or the shipped XOR table."""
    from xornet.tables import load_builtin, load_table

    inputs = _split(args.inputs)
    outputs = _split(args.outputs)
    if args.table is None:
        if inputs or outputs:
            from xornet.errors import TableError

            raise TableError("--inputs and --outputs need a TABLE.csv argument")
        return load_builtin("xor")
    return load_table(args.table, inputs=inputs, outputs=outputs)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [c.strip() for c in value.split(",") if c.strip()]


def format_prediction(prediction: Prediction) -> str:
    """Return the predictions table as text: outputs to 4 decimals."""
    frame = prediction.to_frame()
    for column in prediction.table.output_columns:
        name = f"output_{column}"
        frame[name] = [
            f"{v:.4f}"
            for v in prediction.outputs[
                :, list(prediction.table.output_columns).index(column)
            ]
        ]
    frame["correct"] = ["yes" if c else "NO" for c in prediction.correct]
    return frame.to_string(index=False)


def print_result(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
