"""Built-in gates: every table against a Python reference, names, encodings, CLI."""

from __future__ import annotations

import itertools
import os
import string
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import xornet
from xornet.cli import main
from xornet.errors import TableError
from xornet.gates import builtin_gates, gate_table, get_gate
from xornet.tables import load_builtin, load_table

# Reference functions written with Python's own operators, one per gate name.
REFERENCES: dict[str, Callable[..., tuple[int, ...]]] = {
    "false": lambda a, b: (0,),
    "and": lambda a, b: (a & b,),
    "a_and_not_b": lambda a, b: (a & (1 - b),),
    "a": lambda a, b: (a,),
    "not_a_and_b": lambda a, b: ((1 - a) & b,),
    "b": lambda a, b: (b,),
    "xor": lambda a, b: (a ^ b,),
    "or": lambda a, b: (a | b,),
    "nor": lambda a, b: (1 - (a | b),),
    "xnor": lambda a, b: (int(a == b),),
    "not_b": lambda a, b: (1 - b,),
    "b_implies_a": lambda a, b: (int(b <= a),),
    "not_a": lambda a, b: (1 - a,),
    "a_implies_b": lambda a, b: (int(a <= b),),
    "nand": lambda a, b: (1 - (a & b),),
    "true": lambda a, b: (1,),
    "not": lambda a: (1 - a,),
    "half_adder": lambda a, b: ((a + b) % 2, (a + b) // 2),
    "full_adder": lambda a, b, c: ((a + b + c) % 2, (a + b + c) // 2),
    "mux": lambda s, x0, x1: (x1 if s else x0,),
    "parity2": lambda *x: (sum(x) % 2,),
    "parity3": lambda *x: (sum(x) % 2,),
    "parity4": lambda *x: (sum(x) % 2,),
    "parity5": lambda *x: (sum(x) % 2,),
    "majority3": lambda *x: (int(2 * sum(x) > len(x)),),
    "majority5": lambda *x: (int(2 * sum(x) > len(x)),),
}
N_INPUTS = {"not": 1, "full_adder": 3, "mux": 3}


def _n_inputs(name: str) -> int:
    # parityN and majorityN carry their input count in the name.
    digits = name.lstrip(string.ascii_letters + "_")
    return int(digits) if digits else N_INPUTS.get(name, 2)


def _reference_rows(name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    combos = itertools.product((0, 1), repeat=_n_inputs(name))
    return [(combo, REFERENCES[name](*combo)) for combo in combos]


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_gate_bits_table_matches_reference(name: str) -> None:
    table = gate_table(name, "bits")
    rows = _reference_rows(name)
    expected_inputs = np.array([combo for combo, _ in rows], dtype=np.float32)
    expected_targets = np.array([values for _, values in rows], dtype=np.float32)

    assert np.array_equal(table.inputs, expected_inputs)
    assert np.array_equal(table.targets, expected_targets)
    assert table.input_columns == tuple(f"IN{i + 1}" for i in range(len(rows[0][0])))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_gate_onehot_table_matches_reference(name: str) -> None:
    table = gate_table(name, "onehot")
    rows = _reference_rows(name)
    n_outputs = len(rows[0][1])

    assert table.targets.shape == (len(rows), 2**n_outputs)
    assert (table.targets.sum(axis=1) == 1).all()
    for row, (_, values) in enumerate(rows):
        # Column 0 is the all-ones output value, the last column all zeros.
        code = int("".join(map(str, values)), 2)
        hot = int(np.flatnonzero(table.targets[row])[0])
        assert hot == 2**n_outputs - 1 - code, f"row {row}"


def test_every_listed_gate_has_a_reference() -> None:
    listed = {gate.name for gate in builtin_gates()}
    missing = listed - set(REFERENCES)
    assert not missing


def test_two_input_gates_are_all_sixteen_functions() -> None:
    two_input = [g for g in builtin_gates() if g.n_inputs == 2 and g.n_outputs == 1]
    columns = {tuple(gate_table(g.name, "bits").targets[:, 0]) for g in two_input}
    assert len(two_input) == 16
    assert len(columns) == 16


def test_gate_xor_default_equals_shipped_csv() -> None:
    gate = gate_table("xor")
    shipped = load_builtin("xor")

    assert gate.input_columns == shipped.input_columns
    assert gate.output_columns == shipped.output_columns
    assert np.array_equal(gate.inputs, shipped.inputs)
    assert np.array_equal(gate.targets, shipped.targets)


def test_gate_default_encoding_bits_for_adders() -> None:
    assert gate_table("half_adder").output_columns == ("OUT1", "OUT2")
    assert gate_table("full_adder").encoding == "bits"
    assert gate_table("nand").encoding == "onehot"


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("XOR", "xor"),
        ("exclusive-or", "xor"),
        ("tautology", "true"),
        ("contradiction", "false"),
        ("implication", "a_implies_b"),
        ("converse", "b_implies_a"),
        ("inhibition", "a_and_not_b"),
        ("mux2", "mux"),
    ],
)
def test_gate_alias_resolves(alias: str, name: str) -> None:
    assert get_gate(alias).name == name


def test_gate_unknown_name_lists_close_matches() -> None:
    with pytest.raises(TableError, match="unknown gate 'xorr'.*xor") as info:
        get_gate("xorr")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("majority4", "even"),
        ("parity1", "from 2 to"),
        ("parity11", "from 2 to"),
        ("majority1", "from 3 to"),
    ],
)
def test_gate_family_size_out_of_range(name: str, message: str) -> None:
    with pytest.raises(TableError, match=message):
        get_gate(name)


def test_gate_unknown_encoding_rejected() -> None:
    with pytest.raises(TableError, match="unknown encoding 'ascii'"):
        gate_table("xor", "ascii")


def test_cli_table_writes_loadable_csv(tmp_path: Path) -> None:
    out = tmp_path / "full_adder.csv"
    assert main(["table", "--gate", "full_adder", "--out", str(out)]) == 0
    loaded = load_table(out)
    expected = gate_table("full_adder")

    assert np.array_equal(loaded.inputs, expected.inputs)
    assert np.array_equal(loaded.targets, expected.targets)


def test_cli_table_prints_csv_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--gate", "nand", "--encoding", "bits"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["IN1,IN2,OUT1", "0,0,1", "0,1,1", "1,0,1", "1,1,0"]


def test_cli_table_unknown_gate_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.csv"
    assert main(["table", "--gate", "nandd", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nand" in err
    assert not out.exists()


def test_cli_gates_lists_every_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gates"]) == 0
    out = capsys.readouterr().out
    for gate in builtin_gates():
        assert f"\n{gate.name}" in "\n" + out, gate.name
    assert "00:0 01:1 10:1 11:0" in out


def test_cli_train_gate_and_table_rejected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("IN1,IN2,OUT1\n0,0,0\n0,1,0\n1,0,0\n1,1,1\n")
    status = main(["train", str(csv), "--gate", "and", "--out", str(tmp_path / "r")])
    assert status == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_train_encoding_without_gate_rejected(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status = main(["train", "--encoding", "bits", "--out", str(tmp_path / "r")])
    assert status == 2
    assert "--encoding applies only to --gate" in capsys.readouterr().err


def test_cli_parser_does_not_import_torch() -> None:
    # A fresh interpreter, because this test process has imported torch already.
    code = (
        "import sys; from xornet.cli import build_parser; build_parser(); "
        "print(sorted({'torch', 'pandas', 'numpy'} & set(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(xornet.__file__).parents[1])}
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
