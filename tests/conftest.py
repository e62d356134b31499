from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from xornet.cli import main
from xornet.config import Recipe
from xornet.tables import TruthTable, load_builtin

# A recipe that solved XOR for 40 of 40 seeds (0..39) with the reference loop:
# 8 hidden units, full batch, lr 0.05, 300 epochs. Tests use it where they need
# a solved network quickly; the tutorial recipe itself takes 10 000 epochs.
FAST_RECIPE = Recipe(hidden_sizes=(8,), lr=0.05, batch_size=4, epochs=300, restarts=1)
FAST_FLAGS = ["--hidden", "8", "--lr", "0.05", "--batch-size", "4", "--epochs", "300"]
FAST_FLAGS += ["--restarts", "1"]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def xor_table() -> TruthTable:
    return load_builtin("xor")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``xornet ARGS`` in this process and capture its exit status and output."""

    def run(*args: str | Path) -> CliResult:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse exits for usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write text to a CSV file under tmp_path and return its path."""

    def write(text: str, name: str = "table.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
