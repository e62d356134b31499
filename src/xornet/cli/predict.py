"""``xornet predict``: run a trained network on inputs or a table."""

from __future__ import annotations

import argparse
from typing import Any

from xornet.cli.common import format_prediction, print_result


def add_parser(subparsers: Any) -> None:
    from xornet.cli import add_verbosity

    parser = subparsers.add_parser(
        "predict",
        help="run a trained network on inputs",
        description="Rebuild the network from a run folder and print its outputs and "
        "the thresholded prediction. With no inputs it predicts every row of the "
        "table the run was trained on.",
    )
    parser.add_argument("run", metavar="RUN", help="run folder written by xornet train")
    parser.add_argument(
        "values",
        nargs="*",
        metavar="IN",
        help="input values, one per input column; give several rows one after another",
    )
    parser.add_argument(
        "--table", metavar="FILE.csv", help="predict every row of this truth table"
    )
    parser.add_argument(
        "--hidden",
        metavar="SIZES",
        help="expected hidden sizes; an error if the run's network differs",
    )
    parser.add_argument(
        "--activation",
        help="expected hidden activation; an error if the run's network differs",
    )
    add_verbosity(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from xornet import runs
    from xornet.errors import ConfigError
    from xornet.tables import load_inputs, load_table

    saved = runs.load_run(args.run)
    architecture = saved.model.architecture
    _check_flags(args, saved.path, architecture)
    if args.table and args.values:
        raise ConfigError("give input values or --table, not both")
    if args.table:
        columns = list(saved.table.input_columns)
        if _has_targets(args.table, saved.table):
            table = load_table(
                args.table, inputs=columns, outputs=list(saved.table.output_columns)
            )
            print_result(format_prediction(runs.predict(saved.model, table)))
            return 0
        inputs = load_inputs(args.table, columns)
        outputs = saved.model.predict(torch.from_numpy(inputs)).numpy()
        print_result(_format_outputs(saved.table, inputs, outputs, np))
        return 0
    if not args.values:
        print_result(format_prediction(runs.predict(saved.model, saved.table)))
        return 0

    inputs = _parse_values(args.values, saved.table.input_columns)
    outputs = saved.model.predict(torch.from_numpy(inputs)).numpy()
    print_result(_format_outputs(saved.table, inputs, outputs, np))
    return 0


def _check_flags(args: argparse.Namespace, path: Any, architecture: Any) -> None:
    from xornet.config import parse_hidden
    from xornet.errors import ConfigError

    if args.hidden is not None:
        hidden = parse_hidden(args.hidden)
        if hidden != architecture.hidden_sizes:
            stored = ",".join(map(str, architecture.hidden_sizes)) or "none"
            raise ConfigError(
                f"--hidden {args.hidden} contradicts the run in {path}, whose hidden "
                f"sizes are {stored}; drop the flag"
            )
    if args.activation is not None and args.activation != architecture.activation:
        raise ConfigError(
            f"--activation {args.activation} contradicts the run in {path}, whose "
            f"activation is {architecture.activation}; drop the flag"
        )


def _has_targets(path: str, table: Any) -> bool:
    """Return True when the CSV file has the run's target columns.

    Raises:
        ConfigError: the file has IN or OUT columns that the run does not, so
            its rows would be predicted from other inputs than it names.
    """
    import re

    import pandas as pd

    from xornet.errors import ConfigError

    try:
        header = pd.read_csv(path, nrows=0, sep=None, engine="python").columns
    except (OSError, ValueError, pd.errors.ParserError):
        return False  # load_inputs reports what is wrong with the file
    names = [str(c).strip() for c in header]
    for role, pattern, expected in (
        ("input", r"IN\d+", table.input_columns),
        ("output", r"OUT\d+", table.output_columns),
    ):
        extra = [n for n in names if re.fullmatch(pattern, n) and n not in expected]
        if extra:
            raise ConfigError(
                f"{path}: {role} column {extra[0]} is not one of the run's "
                f"{role} columns ({', '.join(expected)}); remove or rename it"
            )
    present = [c for c in table.output_columns if c in names]
    if present and len(present) < len(table.output_columns):
        missing = [c for c in table.output_columns if c not in names]
        raise ConfigError(
            f"{path}: has target column {present[0]} but not {missing[0]}; give "
            "all of the run's target columns or none"
        )
    return bool(present)


def _parse_values(values: list[str], columns: tuple[str, ...]) -> Any:
    import numpy as np

    from xornet.errors import ConfigError

    n = len(columns)
    if len(values) % n:
        raise ConfigError(
            f"the run expects {n} input values per row ({', '.join(columns)}), "
            f"got {len(values)}"
        )
    from xornet.tables import FLOAT32_MAX

    numbers = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"input value {value!r} is not a number") from None
        if not np.isfinite(number) or abs(number) > FLOAT32_MAX:
            raise ConfigError(
                f"input value {value!r} is not a finite number in float32 range"
            )
        numbers.append(number)
    return np.array(numbers, dtype=np.float32).reshape(-1, n)


def _format_outputs(table: Any, inputs: Any, outputs: Any, np: Any) -> str:
    import pandas as pd

    from xornet.tables import is_onehot

    frame = pd.DataFrame(inputs, columns=list(table.input_columns))
    for j, column in enumerate(table.output_columns):
        frame[f"output_{column}"] = [f"{v:.4f}" for v in outputs[:, j]]
    if is_onehot(table.targets):
        picked = outputs.argmax(axis=1)
        frame["prediction"] = [table.output_columns[k] for k in picked]
    else:
        for j, column in enumerate(table.output_columns):
            frame[f"predicted_{column}"] = (outputs[:, j] >= 0.5).astype(int)
    for column in table.input_columns:
        if np.array_equal(frame[column], np.round(frame[column])):
            frame[column] = frame[column].astype(int)
    return frame.to_string(index=False)
