from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import FAST_FLAGS

RUN_FILES = {
    "model.safetensors",
    "run.json",
    "history.csv",
    "predictions.csv",
    "loss.png",
}


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def trained(cli, tmp_path):
    out = tmp_path / "run"
    result = cli("train", *FAST_FLAGS, "--seed", "11", "--out", out, "-q")
    assert result.code == 0, result.err
    return out, result


def test_help_does_not_import_torch():
    code = "import sys; from xornet.cli import main; sys.argv = ['xornet', '--help']\n"
    code += "try:\n    main()\nexcept SystemExit:\n    pass\n"
    code += "assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "train" in done.stdout


@pytest.mark.parametrize("command", ["train", "predict"])
def test_subcommand_help_shows_defaults(cli, command):
    result = cli(command, "--help")
    assert result.code == 0
    assert "usage: xornet" in result.out
    if command == "train":
        text = " ".join(result.out.split())
        assert "learning rate (default: 0.001)" in text
        assert "(default: 10000)" in text


def test_python_m_xornet_runs():
    done = subprocess.run(
        [sys.executable, "-m", "xornet", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("xornet ")


def test_train_writes_complete_run_folder(trained):
    out, result = trained
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    assert result.out.strip().splitlines()[-1] == str(out)
    assert "solved: every row matches its target" in result.out
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 11
    assert meta["recipe"]["seed"] == 11
    assert meta["table"]["input_columns"] == ["IN1", "IN2"]
    assert meta["architecture"]["hidden_sizes"] == [8]
    assert meta["solved"] is True
    assert meta["interrupted"] is False
    assert set(meta) >= {"xornet_version", "torch_version", "python_version"}


def test_train_history_csv_has_every_epoch(trained):
    out, _ = trained
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss")
    assert len(lines) == 1 + 300


def test_train_loss_png_is_real_image(trained):
    out, _ = trained
    with Image.open(out / "loss.png") as image:
        assert image.format == "PNG"
        assert image.size[0] >= 600
        assert image.size[1] >= 400


def test_train_draws_and_prints_seed(cli, tmp_path):
    out = tmp_path / "run"
    result = cli("train", *FAST_FLAGS, "--epochs", "2", "--out", out)
    assert result.code == 0, result.err
    seed = json.loads((out / "run.json").read_text())["seed"]
    assert f"seed {seed}" in result.err


def test_predict_reproduces_train_output_exactly(cli, trained):
    out, result = trained
    train_table = result.out.strip().splitlines()[:5]
    predicted = cli("predict", out)
    assert predicted.code == 0, predicted.err
    assert predicted.out.strip().splitlines() == train_table


def test_predict_single_input_matches_table_row(cli, trained):
    out, result = trained
    row = result.out.strip().splitlines()[2].split()  # inputs 0 1
    predicted = cli("predict", out, "0", "1")
    assert predicted.code == 0, predicted.err
    values = predicted.out.strip().splitlines()[1].split()
    assert values[2:4] == row[4:6]
    assert values[-1] == "OUT1"


def test_predict_table_file(cli, trained, write_csv):
    out, _ = trained
    path = write_csv("IN1,IN2\n1,1\n0,1\n", "queries.csv")
    predicted = cli("predict", out, "--table", path)
    assert predicted.code == 0, predicted.err
    assert len(predicted.out.strip().splitlines()) == 3


def test_predict_rejects_contradicting_hidden(cli, trained):
    out, _ = trained
    result = cli("predict", out, "--hidden", "3")
    assert_one_line_error(result, "--hidden 3", "hidden sizes are 8")


def test_predict_rejects_wrong_value_count(cli, trained):
    out, _ = trained
    result = cli("predict", out, "0", "1", "1")
    assert_one_line_error(result, "expects 2 input values per row (IN1, IN2), got 3")


def test_predict_rejects_folder_that_is_not_a_run(cli, tmp_path):
    result = cli("predict", tmp_path)
    assert_one_line_error(result, "run.json", "missing")


def test_predict_rejects_corrupt_checkpoint(cli, trained):
    out, _ = trained
    (out / "model.safetensors").write_bytes(b"garbage")
    result = cli("predict", out)
    assert_one_line_error(
        result, "model.safetensors", "not a readable safetensors file"
    )


BAD_TABLES = [
    ("", "file is empty"),
    ("IN1,IN2,OTU1\n0,0,1\n", "no output columns named OUT1"),
    ("IN1,IN2,OUT1\n0,0,zero\n", "line 2, column OUT1: 'zero' is not a number"),
    ("IN1,IN2,OUT1\n0,0,\n", "line 2, column OUT1: empty cell"),
    ("IN1,IN2,OUT1\n0,0,-1\n", "target -1 is outside [0, 1]"),
    ("IN1,IN2,OUT1\n0,0,1\n0,0,0\n", "lines 2 and 3 list the same inputs"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_TABLES)
def test_train_rejects_bad_table_without_writing(
    cli, tmp_path, write_csv, text, expected
):
    path = write_csv(text, "bad.csv")
    result = cli("train", path, "--out", tmp_path / "run")
    assert_one_line_error(result, str(path), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_train_rejects_missing_file(cli, tmp_path):
    result = cli("train", tmp_path / "missing.csv", "--out", tmp_path / "run")
    assert_one_line_error(result, "missing.csv", "file not found")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--lr", "0"], "--lr must be a positive number, got 0.0"),
        (["--lr", "-0.1"], "--lr must be a positive number, got -0.1"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--hidden", "3,0"], "--hidden sizes must be positive integers, got 0"),
        (["--hidden", "three"], "--hidden must be comma-separated integers"),
        (["--epochs", "ten"], "argument --epochs: invalid int value: 'ten'"),
        (["--activation", "swish"], "invalid choice: 'swish'"),
        (["--epochs", "100000000000"], "--epochs must be at most 10,000,000"),
        (["--hidden", "100000000"], "--hidden sizes must be at most 100,000"),
        (["--restarts", "100000000"], "--restarts must be at most 1,000,000"),
        (["--optimizer", "sgd", "--momentum", "1"], "--momentum must be in [0, 1)"),
    ],
)
def test_train_rejects_bad_flag(cli, tmp_path, flags, expected):
    result = cli("train", *flags, "--out", tmp_path / "run")
    assert_one_line_error(result, expected)
    assert list(tmp_path.iterdir()) == []


def test_train_reports_all_bad_flags_at_once(cli, tmp_path):
    result = cli("train", "--epochs", "0", "--lr", "0", "--out", tmp_path / "run")
    assert_one_line_error(result, "--epochs must be", "--lr must be")


def test_train_rejects_unwritable_out(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("train", *FAST_FLAGS, "--out", blocker / "run")
    assert_one_line_error(result, str(blocker), "cannot write the run folder")


def test_train_rejects_nonempty_out(cli, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    result = cli("train", *FAST_FLAGS, "--out", tmp_path / "run")
    assert_one_line_error(result, "already exists and is not empty")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["keep.txt"]


def test_train_nan_loss_stops_without_checkpoint(cli, tmp_path):
    flags = [
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--batch-size",
        "4",
        "--restarts",
        "1",
    ]
    result = cli("train", *flags, "--seed", "0", "--out", tmp_path / "run", "-q")
    assert_one_line_error(result, "became nan at epoch ", "smaller --lr")
    assert list(tmp_path.iterdir()) == []


def test_train_interrupt_writes_folder_marked_interrupted(cli, tmp_path, monkeypatch):
    from xornet.cli import train as train_command

    original = train_command._progress_bar.update

    def interrupt(self, epoch, loss):
        if epoch == 20:
            raise KeyboardInterrupt
        original(self, epoch, loss)

    monkeypatch.setattr(train_command._progress_bar, "update", interrupt)
    out = tmp_path / "run"
    result = cli("train", *FAST_FLAGS, "--seed", "1", "--out", out)
    assert result.code == 130, result.err
    assert "interrupted: training stopped after epoch 20 of 300" in result.out
    meta = json.loads((out / "run.json").read_text())
    assert meta["interrupted"] is True
    assert meta["epochs_run"] == 20
    assert RUN_FILES <= {p.name for p in out.iterdir()}


def test_train_sigint_leaves_no_partial_folder(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xornet",
            "train",
            "--restarts",
            "1",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    line = process.stderr.readline()  # "seed 3 ...": training has started
    assert line.startswith("seed 3")
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "run"]
    assert leftovers == []
    if out.exists():
        meta = json.loads((out / "run.json").read_text())
        assert meta["interrupted"] is True
        assert RUN_FILES <= {p.name for p in out.iterdir()}


def test_train_same_seed_same_weights_file(cli, tmp_path):
    for name in ("a", "b"):
        result = cli(
            "train",
            *FAST_FLAGS,
            "--shuffle",
            "--batch-size",
            "2",
            "--seed",
            "5",
            "--out",
            tmp_path / name,
            "-q",
        )
        assert result.code == 0, result.err
    first = (tmp_path / "a" / "model.safetensors").read_bytes()
    second = (tmp_path / "b" / "model.safetensors").read_bytes()
    assert first == second
    assert (tmp_path / "a" / "history.csv").read_text() == (
        tmp_path / "b" / "history.csv"
    ).read_text()


def test_train_custom_table_with_named_columns(cli, tmp_path, write_csv):
    path = write_csv("a,b,c,y\n0,0,0,0\n0,1,1,0\n1,0,1,1\n1,1,0,1\n", "gate.csv")
    result = cli(
        "train",
        path,
        "--inputs",
        "a,b,c",
        "--outputs",
        "y",
        *FAST_FLAGS,
        "--seed",
        "0",
        "--out",
        tmp_path / "run",
        "-q",
    )
    assert result.code == 0, result.err
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["architecture"]["n_inputs"] == 3
    assert meta["architecture"]["n_outputs"] == 1
    assert "leaves out input combinations" in result.err


def test_default_out_is_under_runs(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("train", *FAST_FLAGS, "--epochs", "2", "-q")
    assert result.code == 0, result.err
    path = Path(result.out.strip().splitlines()[-1])
    assert path.parent == Path("runs")
    assert path.name.startswith("xor-")
    assert (tmp_path / path / "run.json").is_file()


def test_train_run_files_follow_umask(trained):
    out, _ = trained
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~_umask(), path.name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("value", ["nan", "inf", "1e300"])
def test_predict_rejects_non_finite_input(cli, trained, value):
    out, _ = trained
    result = cli("predict", out, value, "1")
    assert_one_line_error(result, repr(value), "not a finite number")


def test_train_rejects_value_beyond_float32(cli, tmp_path, write_csv):
    path = write_csv("IN1,IN2,OUT1\n0,1e300,1\n1,1,0\n", "huge.csv")
    result = cli("train", path, "--out", tmp_path / "runs" / "run")
    assert_one_line_error(result, "line 2, column IN2", "float32 range")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.csv"]


def test_predict_table_rejects_extra_input_column(cli, trained, write_csv):
    out, _ = trained
    path = write_csv("IN1,IN2,IN3\n0,1,1\n", "three.csv")
    result = cli("predict", out, "--table", path)
    assert_one_line_error(result, "input column IN3", "(IN1, IN2)")


def test_train_failure_leaves_no_empty_parent(cli, tmp_path):
    flags = ["--optimizer", "sgd", "--lr", "1e30", "--batch-size", "4", "-q"]
    result = cli("train", *flags, "--seed", "0", "--out", tmp_path / "new" / "run")
    assert result.code == 2
    assert list(tmp_path.iterdir()) == []


def test_subcommand_usage_error_names_subcommand(cli):
    result = cli("gates", "and")
    assert_one_line_error(result, "xornet gates: error: unrecognized arguments: and")


def test_train_rejects_momentum_with_adam(cli, tmp_path):
    result = cli("train", "--momentum", "0.5", "--out", tmp_path / "run")
    assert_one_line_error(result, "--momentum has no effect with --optimizer adam")
    assert list(tmp_path.iterdir()) == []


def test_table_rejects_existing_out_file(cli, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("keep me")
    result = cli("table", "--gate", "and", "--out", path)
    assert_one_line_error(result, str(path), "already exists")
    assert path.read_text() == "keep me"
