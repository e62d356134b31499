"""Helpers shared by the subcommands: tables from flags, printing results."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from xornet.errors import XornetError

if TYPE_CHECKING:
    from xornet.runs import Prediction
    from xornet.tables import TruthTable


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the table choice: TABLE.csv or ``--gate``, with column and encoding flags."""
    from xornet.cli.gates import add_encoding_argument

    parser.add_argument(
        "table",
        nargs="?",
        metavar="TABLE.csv",
        help="truth table CSV with columns IN1..INn, OUT1..OUTm "
        "(default: the shipped xor.csv)",
    )
    parser.add_argument(
        "--gate",
        metavar="NAME",
        help="train on a built-in gate instead of a CSV file, e.g. and, nand, "
        "parity3, full_adder; xornet gates lists them",
    )
    add_encoding_argument(parser)
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
    """Load the table a command names.

    In order: a CSV file, a ``--gate``, the table stored in a ``--config``
    run.json, or the shipped XOR table.

    Raises:
        TableError: the flags contradict each other or the table is invalid.
    """
    from xornet.errors import TableError
    from xornet.gates import gate_table
    from xornet.tables import load_builtin, load_table

    inputs = _split(args.inputs)
    outputs = _split(args.outputs)
    gate = getattr(args, "gate", None)
    encoding = getattr(args, "encoding", None)
    if gate is not None and args.table is not None:
        raise TableError(f"give TABLE.csv ({args.table}) or --gate ({gate}), not both")
    if encoding is not None and gate is None:
        raise TableError(
            "--encoding applies only to --gate tables; edit the CSV's OUT columns "
            "to change a file's encoding"
        )
    if args.table is None and (inputs or outputs):
        raise TableError("--inputs and --outputs need a TABLE.csv argument")
    if args.table is not None:
        return load_table(args.table, inputs=inputs, outputs=outputs)
    if gate is not None:
        return gate_table(gate, encoding)
    stored = _config_table(args)
    return stored if stored is not None else load_builtin("xor")


def _config_table(args: argparse.Namespace) -> TruthTable | None:
    """Return the table stored in a ``--config`` run.json, if one was given."""
    from xornet.config import load_recipe_file
    from xornet.errors import ConfigError
    from xornet.tables import TruthTable

    path = getattr(args, "config", None)
    if path is None:
        return None
    stored = load_recipe_file(path).table
    if stored is None:
        return None
    try:
        return TruthTable.from_dict(stored)
    except XornetError as exc:
        raise ConfigError(f"{path}: the stored table is invalid: {exc}") from None


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
