from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from xornet.errors import TableError
from xornet.tables import TruthTableDataset, load_builtin, load_table

XOR_ROWS = [([0, 0], [0, 1]), ([0, 1], [1, 0]), ([1, 0], [1, 0]), ([1, 1], [0, 1])]


def test_builtin_xor_matches_tutorial_table():
    table = load_builtin("xor")
    assert table.input_columns == ("IN1", "IN2")
    assert table.output_columns == ("OUT1", "OUT2")
    for row, (inputs, targets) in enumerate(XOR_ROWS):
        assert table.inputs[row].tolist() == inputs
        assert table.targets[row].tolist() == targets
    assert table.inputs.dtype == np.float32
    assert table.encoding == "onehot"
    assert table.missing_rows == []


def test_load_table_orders_columns_numerically(write_csv):
    path = write_csv("OUT1,IN10,IN2,IN1\n1,0,0,1\n0,1,1,1\n")
    table = load_table(path)
    assert table.input_columns == ("IN1", "IN2", "IN10")
    assert table.inputs[0].tolist() == [1, 0, 0]
    assert table.encoding == "bits"


def test_load_table_named_columns(write_csv):
    path = write_csv("a,b,y\n0,0,0\n0,1,0\n1,0,0\n1,1,1\n")
    table = load_table(path, inputs=["a", "b"], outputs=["y"])
    assert table.targets[:, 0].tolist() == [0, 0, 0, 1]


def test_load_table_reports_missing_rows(write_csv):
    table = load_table(write_csv("IN1,IN2,OUT1\n0,0,0\n1,1,1\n"))
    assert table.missing_rows == [(0, 1), (1, 0)]


def test_load_table_semicolons_and_bom(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffIN1;IN2;OUT1\r\n0;1;1\r\n1;1;0\r\n".encode())
    table = load_table(path)
    assert table.input_columns == ("IN1", "IN2")
    assert table.targets[:, 0].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "file is empty"),
        ("IN1,IN2,OUT1\n", "no rows"),
        (
            "A,B,OUT1\n0,1,1\n",
            "no input columns named IN1, IN2, ...; the file has columns A, B, OUT1",
        ),
        ("IN1,IN2,OUT1\n0,x,1\n", "line 2, column IN2: 'x' is not a number"),
        ("IN1,IN2,OUT1\n0,1,1\n1,,0\n", "line 3, column IN2: empty cell"),
        ("IN1,IN2,OUT1\n0,1,2\n", "line 2, column OUT1: target 2 is outside [0, 1]"),
        (
            "IN1,IN2,OUT1\n0,1,1\n1,1,0\n0,1,0\n",
            "lines 2 and 4 list the same inputs (0,1)",
        ),
        ("IN1,IN2,OUT1\n0,1\n1,1,0,5\n", "cannot parse as CSV"),
    ],
)
def test_load_table_rejects_bad_file(write_csv, text, expected):
    path = write_csv(text)
    with pytest.raises(TableError) as info:
        load_table(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_load_table_missing_file(tmp_path):
    with pytest.raises(TableError, match="file not found"):
        load_table(tmp_path / "nope.csv")


def test_load_table_misspelled_requested_column(write_csv):
    path = write_csv("IN1,IN2,OUT1\n0,1,1\n")
    with pytest.raises(
        TableError, match="no output column 'OUT2'; the file has columns IN1, IN2, OUT1"
    ):
        load_table(path, outputs=["OUT2"])


def test_dataset_items_are_float32_rows(xor_table):
    dataset = TruthTableDataset(xor_table)
    assert len(dataset) == 4
    inputs, targets = dataset[1]
    assert inputs.dtype == torch.float32
    assert targets.dtype == torch.float32
    assert inputs.tolist() == [0.0, 1.0]
    assert targets.tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("batch_size", "shapes"), [(1, [1, 1, 1, 1]), (3, [3, 1]), (4, [4])]
)
def test_dataloader_batches_have_network_shapes(xor_table, batch_size, shapes):
    loader = DataLoader(TruthTableDataset(xor_table), batch_size=batch_size)
    batches = list(loader)
    assert [len(inputs) for inputs, _ in batches] == shapes
    for inputs, targets in batches:
        assert inputs.shape[1:] == (2,)
        assert targets.shape[1:] == (2,)
    order = torch.cat([inputs for inputs, _ in batches])
    assert torch.equal(order, torch.from_numpy(xor_table.inputs))
