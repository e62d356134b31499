"""CSV files as spreadsheets and editors save them, and the errors for bad ones."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pytest

from xornet.cli import main
from xornet.errors import TableError
from xornet.tables import load_table

# XOR with one bit column, the table every readable variant below encodes.
XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float32)


def _write(tmp_path: Path, data: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


READABLE = {
    "plain": "IN1,IN2,OUT1\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
    "crlf": "IN1,IN2,OUT1\r\n0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0\r\n",
    "no final newline": "IN1,IN2,OUT1\n0,0,0\n0,1,1\n1,0,1\n1,1,0",
    "trailing empty lines": "IN1,IN2,OUT1\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n\n\n\r\n",
    "blank line inside": "IN1,IN2,OUT1\n0,0,0\n\n0,1,1\n1,0,1\n1,1,0\n",
    "leading blank lines": "\n\nIN1,IN2,OUT1\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
    "trailing delimiter": "IN1,IN2,OUT1,\n0,0,0,\n0,1,1,\n1,0,1,\n1,1,0,\n",
    "delimiter-only rows": "IN1,IN2,OUT1\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n,,\n,,\n",
    "quoted cells": '"IN1","IN2","OUT1"\n"0","0","0"\n"0","1","1"\n"1","0","1"\n'
    '"1","1","0"\n',
    "bom": "\ufeffIN1,IN2,OUT1\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n",
    "semicolons": "IN1;IN2;OUT1\n0;0;0\n0;1;1\n1;0;1\n1;1;0\n",
    "semicolons decimal comma": "IN1;IN2;OUT1\n0,0;0;0,0\n0;1,0;1,0\n1;0;1\n1;1;0,00\n",
    "quoted decimal comma": 'IN1,IN2,OUT1\n"0,0",0,0\n0,1,"1,0"\n1,0,1\n1,1,0\n',
    "tabs": "IN1\tIN2\tOUT1\n0\t0\t0\n0\t1\t1\n1\t0\t1\n1\t1\t0\n",
    "excel booleans": "IN1,IN2,OUT1\nFALSE,FALSE,FALSE\nFALSE,TRUE,TRUE\n"
    "TRUE,FALSE,TRUE\nTRUE,TRUE,FALSE\n",
    "lowercase booleans": "IN1,IN2,OUT1\nfalse,false,false\nfalse,true,true\n"
    "true,false,true\ntrue,true,false\n",
    "spaces around cells": " IN1 , IN2 , OUT1 \n 0 , 0 , 0 \n0, 1,1\n1 ,0,1\n1,1,0\n",
    "excel sep line": "sep=;\nIN1;IN2;OUT1\n0;0;0\n0;1;1\n1;0;1\n1;1;0\n",
    "excel semicolon export": "\ufeffIN1;IN2;OUT1;\r\n0;0;0;\r\n0;1;1;\r\n1;0;1;\r\n"
    "1;1;0;\r\n;;;\r\n",
    "extra unused column": "IN1,IN2,OUT1,note\n0,0,0,a\n0,1,1,\n1,0,1,b\n1,1,0,\n",
}


@pytest.mark.parametrize("case", sorted(READABLE))
def test_load_table_reads_spreadsheet_variant(tmp_path: Path, case: str) -> None:
    table = load_table(_write(tmp_path, READABLE[case]))
    assert np.array_equal(table.inputs, XOR_INPUTS)
    assert np.array_equal(table.targets, XOR_TARGETS)
    assert table.input_columns[0].upper() == "IN1"


def test_load_table_lowercase_headers(tmp_path: Path) -> None:
    path = _write(tmp_path, "in2,out1,in1\n0,0,0\n1,1,0\n0,1,1\n1,0,1\n")
    table = load_table(path)
    assert table.input_columns == ("in1", "in2")
    assert table.output_columns == ("out1",)
    assert np.array_equal(table.inputs, XOR_INPUTS)
    assert np.array_equal(table.targets, XOR_TARGETS)


def test_load_table_utf16_with_bom(tmp_path: Path) -> None:
    text = READABLE["tabs"].replace("\n", "\r\n")
    path = _write(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    table = load_table(path)
    assert np.array_equal(table.targets, XOR_TARGETS)


def test_load_table_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, "\nIN1,IN2,OUT1\n0,0,0\n\n0,1,x\n")
    # File lines: 1 blank, 2 header, 3 first row, 4 blank, 5 the bad cell.
    with pytest.raises(TableError, match="line 5, column OUT1: 'x' is not a number"):
        load_table(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("\n\n", "file is empty"),
        ("IN1,IN2,OUT1\n", "no rows"),
        ("IN1,IN2,OUT1\n,,\n", "no rows"),
        ("IN1 IN2 OUT1\n0 0 0\n", "has a single column"),
        ("A,B,C\n0,0,0\n", "no input columns named IN1"),
        ("IN1,IN2\n0,0\n", "no output columns named OUT1"),
        ("IN1,IN1,OUT1\n0,0,0\n", "column 'IN1' appears more than once"),
        ("IN1,IN2,OUT1\n0,0,0\n0,1,1,1\n", "cannot parse as CSV"),
        ("IN1,IN2,OUT1\n0,0,0\n0,1\n", "line 3, column OUT1: empty cell"),
        ("IN1,IN2,OUT1\n0,0,yes\n", "line 2, column OUT1: 'yes' is not a number"),
        ("IN1,IN2,OUT1\n0,0,1.5\n", "target 1.5 is outside"),
        ("IN1,IN2,OUT1\n0,0,nan\n", "not a finite number"),
        ('IN1,IN2,OUT1\n0,0,"0,5,1"\n', "'0,5,1' is not a number"),
        (
            "IN1,IN2,OUT1\n0,0,0\n0,1,1\n0,0,1\n",
            "lines 2 and 4 list the same inputs .0,0. with different targets",
        ),
    ],
)
def test_load_table_invalid_one_line_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(TableError, match=message) as info:
        load_table(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_load_table_latin1_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "IN1,IN2,OUT1,Gr\xf6\xdfe\n0,0,0,1\n".encode("latin-1"))
    with pytest.raises(TableError, match="not UTF-8 text"):
        load_table(path)


def test_load_table_repeated_row_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, "IN1,IN2,OUT1\n0,0,0\n0,1,1\n0,0,0\n")
    table = load_table(path)
    assert len(table) == 3
    assert "line 4 repeats line 2" in caplog.text


def test_load_table_missing_rows_listed(tmp_path: Path) -> None:
    table = load_table(_write(tmp_path, "IN1,IN2,OUT1\n0,0,0\n1,1,1\n"))
    assert table.missing_rows == [(0, 1), (1, 0)]


def test_cli_train_missing_rows_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "IN1,IN2,OUT1\n0,0,0\n1,1,1\n")
    out = tmp_path / "run"
    argv = ["train", str(path), "--epochs", "2", "--seed", "0", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "leaves out input combinations: 0,1; 1,0" in err
    assert (out / "run.json").is_file()


def test_cli_train_contradicting_rows_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "IN1,OUT1\n0,0\n1,1\n0,1\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "lines 2 and 4 list the same inputs (0) with different targets" in err
    assert not out.exists()
