"""Truth tables: loading and validating CSV files, and the torch Dataset.

A truth table is a CSV file with one row per input combination. Input columns
are named ``IN1..INn`` and target columns ``OUT1..OUTm`` unless the caller
names them. Targets are either one-hot (exactly one 1 per row, as in the
shipped ``xor.csv``) or one column per output bit.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import logging
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from xornet.errors import TableError

log = logging.getLogger(__name__)

_INPUT_RE = re.compile(r"^IN(\d+)$", re.IGNORECASE)
_OUTPUT_RE = re.compile(r"^OUT(\d+)$", re.IGNORECASE)
# Cells become float32 tensors; a larger magnitude would turn into inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)
_BOOL_WORDS = {"true": "1", "false": "0"}
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d*,\d+")


@dataclass(frozen=True, eq=False)
class TruthTable:
    """A validated truth table.

    ``inputs`` has shape (rows, n_inputs) and ``targets`` (rows, n_outputs),
    both float32 with targets in [0, 1]. ``lines`` is each row's line
    number in the source file (1 is the header), for error messages.
    """

    name: str
    input_columns: tuple[str, ...]
    output_columns: tuple[str, ...]
    inputs: np.ndarray
    targets: np.ndarray
    source: str = ""
    lines: tuple[int, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.inputs)

    def __repr__(self) -> str:
        return (
            f"TruthTable({self.name!r}, inputs={list(self.input_columns)}, "
            f"outputs={list(self.output_columns)}, rows={len(self)}, "
            f"encoding={self.encoding!r})"
        )

    @property
    def n_inputs(self) -> int:
        return len(self.input_columns)

    @property
    def n_outputs(self) -> int:
        return len(self.output_columns)

    @property
    def encoding(self) -> str:
        """``"onehot"`` when every row has exactly one target 1, else ``"bits"``."""
        return "onehot" if is_onehot(self.targets) else "bits"

    @property
    def missing_rows(self) -> list[tuple[int, ...]]:
        """Binary input combinations that the table leaves out.

        Empty when an input column contains values other than 0 and 1, because
        the combinations are then not a finite set.
        """
        if not np.isin(self.inputs, (0.0, 1.0)).all():
            return []
        present = {tuple(int(v) for v in row) for row in self.inputs}
        every = itertools.product((0, 1), repeat=self.n_inputs)
        return [combo for combo in every if combo not in present]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(inputs, targets)`` as float32 tensors, (rows, n) each."""
        return torch.from_numpy(self.inputs.copy()), torch.from_numpy(
            self.targets.copy()
        )

    def to_frame(self) -> pd.DataFrame:
        """Return the table as a DataFrame with integer cells where exact."""
        columns = list(self.input_columns) + list(self.output_columns)
        values = np.concatenate([self.inputs, self.targets], axis=1)
        frame = pd.DataFrame(values, columns=columns)
        if np.array_equal(values, np.round(values)):
            frame = frame.astype(int)
        return frame

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready description: name, columns and rows."""
        return {
            "name": self.name,
            "source": self.source,
            "input_columns": list(self.input_columns),
            "output_columns": list(self.output_columns),
            "inputs": self.inputs.tolist(),
            "targets": self.targets.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TruthTable:
        """Rebuild a table written by :meth:`to_dict` and validate it."""
        try:
            inputs = np.asarray(data["inputs"], dtype=np.float32)
            targets = np.asarray(data["targets"], dtype=np.float32)
            table = cls(
                name=str(data["name"]),
                input_columns=tuple(str(c) for c in data["input_columns"]),  # type: ignore[attr-defined]
                output_columns=tuple(str(c) for c in data["output_columns"]),  # type: ignore[attr-defined]
                inputs=inputs.reshape(len(inputs), -1),
                targets=targets.reshape(len(targets), -1),
                source=str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TableError(f"invalid stored truth table: {exc}") from None
        validate_table(table)
        return table


def is_onehot(targets: np.ndarray) -> bool:
    """Return True when targets have 2+ columns and each row has exactly one 1."""
    if targets.ndim != 2 or targets.shape[1] < 2:
        return False
    binary = np.isin(targets, (0.0, 1.0)).all()
    return bool(binary and (targets.sum(axis=1) == 1).all())


def load_table(
    path: str | Path,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
) -> TruthTable:
    """Load and validate a truth table from a CSV file.

    The delimiter (comma, semicolon or tab) is detected or taken from an
    Excel ``sep=`` first line. The file is UTF-8, with or without a
    byte-order mark, or UTF-16 with one. CRLF line endings, spaces around
    cells, quotes, blank rows and cells of an unnamed trailing column are
    ignored, and ``TRUE``/``FALSE`` cells read as 1/0. With a semicolon or
    tab delimiter, or in a quoted cell, a decimal comma is accepted.
    ``inputs`` and ``outputs`` name the columns to use; by default they are
    the ``IN<k>`` and ``OUT<k>`` columns in numeric order.

    Raises:
        TableError: the file is missing, empty or not text, a column is
            missing or repeated, a cell is not a number, a target is outside
            [0, 1], or two rows list the same inputs with different targets.
    """
    path = Path(path)
    text = _read_text(path)
    text, skipped, hinted = _strip_preamble(text)
    delimiter = hinted or _detect_delimiter(text, path)
    frame = _read_frame(text, delimiter, path)
    _check_header(text, delimiter, path)

    # Line numbers count from 1 at the file's first line, and the header is
    # line 1 + skipped. Blank rows, which spreadsheets export as ",,,", go.
    lines = np.arange(len(frame)) + 2 + skipped
    filled = (frame != "").any(axis=1).to_numpy()
    frame = frame[filled].reset_index(drop=True)
    return table_from_frame(
        frame,
        name=path.stem,
        source=str(path),
        inputs=inputs,
        outputs=outputs,
        decimal_comma=delimiter != ",",
        lines=tuple(int(n) for n in lines[filled]),
    )


def load_inputs(path: str | Path, columns: list[str]) -> np.ndarray:
    """Load the named input columns of a CSV file, shape (rows, len(columns)).

    The file needs no target columns; it is read like :func:`load_table`.

    Raises:
        TableError: the file cannot be read, a column is missing or a cell is
            not a number.
    """
    path = Path(path)
    text, skipped, hinted = _strip_preamble(_read_text(path))
    delimiter = hinted or _detect_delimiter(text, path)
    frame = _read_frame(text, delimiter, path)
    lines = np.arange(len(frame)) + 2 + skipped
    filled = (frame != "").any(axis=1).to_numpy()
    frame = frame[filled].reset_index(drop=True)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableError(
            f"{path}: no input column {missing[0]!r}; the file has columns "
            f"{', '.join(frame.columns)}"
        )
    if frame.empty:
        raise TableError(f"{path}: the table has no rows")
    row_lines = tuple(int(n) for n in lines[filled])
    return _parse_numbers(frame, columns, str(path), delimiter != ",", row_lines)


def _strip_preamble(text: str) -> tuple[str, int, str | None]:
    """Drop leading blank lines and Excel's ``sep=;`` line.

    Returns the remaining text, the number of lines dropped and the
    delimiter that a ``sep=`` line names (None without one).
    """
    body = text.lstrip("\r\n")
    skipped = text[: len(text) - len(body)].count("\n")
    first, _, rest = body.partition("\n")
    match = re.fullmatch(r"sep=(.)", first.strip("\r"), re.IGNORECASE)
    if match is None:
        return body, skipped, None
    return rest, skipped + 1, match.group(1)


def _read_frame(text: str, delimiter: str, path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise TableError(
            f"{path}: cannot parse as CSV ({detail}); "
            "check that every row has the same number of cells"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda column: column.str.strip())


def _check_header(text: str, delimiter: str, path: Path) -> None:
    # pandas renames a repeated column "IN1" to "IN1.1", which would then be
    # ignored, so repeats are found in the raw header.
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    names = [name.strip() for name in header if name.strip()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TableError(
            f"{path}: column {repeated[0]!r} appears more than once in the header; "
            "rename or delete the copy"
        )


def load_builtin(name: str = "xor") -> TruthTable:
    """Load a table shipped with the package (``xor``) by name."""
    data = resources.files("xornet") / "data" / f"{name}.csv"
    if not data.is_file():
        raise TableError(f"no shipped table named {name!r}")
    with resources.as_file(data) as path:
        table = load_table(path)
    return TruthTable(
        name=name,
        input_columns=table.input_columns,
        output_columns=table.output_columns,
        inputs=table.inputs,
        targets=table.targets,
        source=f"builtin:{name}",
        lines=table.lines,
    )


def table_from_frame(
    frame: pd.DataFrame,
    name: str,
    source: str = "",
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    decimal_comma: bool = False,
    lines: tuple[int, ...] | None = None,
) -> TruthTable:
    """Build a validated table from a DataFrame of cells (strings or numbers).

    ``lines`` gives each row's line number in the source file for error
    messages; by default row i is line i + 2, below a one-line header.
    """
    where = source or name
    if frame.empty:
        raise TableError(
            f"{where}: the table has no rows; add one row per input combination"
        )
    input_columns = _pick_columns(frame, inputs, _INPUT_RE, "input", "--inputs", where)
    output_columns = _pick_columns(
        frame, outputs, _OUTPUT_RE, "output", "--outputs", where
    )
    overlap = set(input_columns) & set(output_columns)
    if overlap:
        raise TableError(
            f"{where}: column {sorted(overlap)[0]!r} is both an input and an output; "
            "name disjoint --inputs and --outputs"
        )
    if lines is None:
        lines = tuple(range(2, len(frame) + 2))
    values = _parse_numbers(
        frame, input_columns + output_columns, where, decimal_comma, lines
    )
    table = TruthTable(
        name=name,
        input_columns=tuple(input_columns),
        output_columns=tuple(output_columns),
        inputs=values[:, : len(input_columns)],
        targets=values[:, len(input_columns) :],
        source=source,
        lines=lines,
    )
    validate_table(table)
    return table


def validate_table(table: TruthTable) -> None:
    """Raise TableError if targets leave [0, 1] or rows contradict each other."""
    where = table.source or table.name
    lines = table.lines or tuple(range(2, len(table) + 2))
    if len(table) == 0:
        raise TableError(f"{where}: the table has no rows")
    bad = np.argwhere((table.targets < 0) | (table.targets > 1))
    if len(bad):
        row, col = bad[0]
        raise TableError(
            f"{where}: line {lines[row]}, column {table.output_columns[col]}: "
            f"target {table.targets[row, col]:g} is outside [0, 1]; "
            "targets are probabilities, use 0 and 1"
        )
    seen: dict[tuple[float, ...], int] = {}
    for row, key in enumerate(map(tuple, table.inputs.tolist())):
        if key not in seen:
            seen[key] = row
            continue
        first = seen[key]
        if not np.array_equal(table.targets[first], table.targets[row]):
            shown = ",".join(f"{v:g}" for v in key)
            raise TableError(
                f"{where}: lines {lines[first]} and {lines[row]} list the same "
                f"inputs ({shown}) with different targets; keep one of them"
            )
        log.warning("%s: line %d repeats line %d", where, lines[row], lines[first])


def _read_text(path: Path) -> str:
    if not path.exists():
        raise TableError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise TableError(f"{path}: is a folder, expected a CSV file")
    try:
        raw = path.read_bytes()
        # Excel's "Unicode text" export is UTF-16 with a byte-order mark.
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = raw.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError:
        raise TableError(
            f"{path}: not UTF-8 text; save it as CSV (UTF-8) from your editor"
        ) from None
    except OSError as exc:
        raise TableError(f"{path}: cannot read ({exc.strerror})") from None
    if not text.strip():
        raise TableError(
            f"{path}: file is empty; write a header line such as IN1,IN2,OUT1 "
            "and one row per input combination"
        )
    return text


def _detect_delimiter(text: str, path: Path) -> str:
    header = text.strip().splitlines()[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] == 0:
        raise TableError(
            f"{path}: header {header.strip()!r} has a single column; separate "
            "columns with commas, e.g. IN1,IN2,OUT1"
        )
    return best


def _pick_columns(
    frame: pd.DataFrame,
    requested: list[str] | None,
    pattern: re.Pattern[str],
    role: str,
    flag: str,
    where: str,
) -> list[str]:
    available = list(frame.columns)
    if requested:
        missing = [c for c in requested if c not in available]
        if missing:
            raise TableError(
                f"{where}: no {role} column {missing[0]!r}; the file has columns "
                f"{', '.join(available)}"
            )
        return list(requested)
    matches = [(int(m.group(1)), c) for c in available if (m := pattern.match(c))]
    if not matches:
        prefix = "IN" if role == "input" else "OUT"
        raise TableError(
            f"{where}: no {role} columns named {prefix}1, {prefix}2, ...; the file "
            f"has columns {', '.join(available)}; rename them or pass {flag}"
        )
    return [c for _, c in sorted(matches)]


def _parse_numbers(
    frame: pd.DataFrame,
    columns: list[str],
    where: str,
    decimal_comma: bool,
    lines: tuple[int, ...],
) -> np.ndarray:
    values = np.empty((len(frame), len(columns)), dtype=np.float32)
    for j, column in enumerate(columns):
        for i, cell in enumerate(frame[column].tolist()):
            values[i, j] = _parse_cell(cell, lines[i], column, where, decimal_comma)
    return values


def _parse_cell(
    cell: object, line: int, column: str, where: str, decimal_comma: bool
) -> float:
    text = str(cell).strip()
    text = _BOOL_WORDS.get(text.lower(), text)
    # A comma-delimited file can carry a decimal comma only in a quoted cell,
    # such as "0,5", so a lone comma between digits is read as one there too.
    if decimal_comma or _DECIMAL_COMMA_RE.fullmatch(text):
        text = text.replace(",", ".")
    if not text:
        raise TableError(
            f"{where}: line {line}, column {column}: empty cell; fill in 0 or 1"
        )
    try:
        value = float(text)
    except ValueError:
        raise TableError(
            f"{where}: line {line}, column {column}: {str(cell).strip()!r} is not "
            "a number; use 0 or 1"
        ) from None
    if not np.isfinite(value) or abs(value) > FLOAT32_MAX:
        raise TableError(
            f"{where}: line {line}, column {column}: {text!r} is not a finite "
            "number in float32 range; use 0 or 1"
        )
    return value


class TruthTableDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The rows of a truth table as a torch Dataset.

    Item ``i`` is ``(inputs, targets)``: float32 tensors of shape
    (n_inputs,) and (n_outputs,), so a DataLoader batch has the shapes of
    the network's input and output, (batch, n_inputs) and (batch, n_outputs).
    """

    def __init__(self, table: TruthTable) -> None:
        self.table = table
        self.inputs, self.targets = table.tensors()

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]

    def __repr__(self) -> str:
        return f"TruthTableDataset({self.table.name!r}, rows={len(self)})"
