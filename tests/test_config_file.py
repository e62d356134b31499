"""--config files (TOML and run.json) and recipe checks made before training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import xornet
from xornet.cli import main
from xornet.config import Recipe, load_recipe_file, parse_hidden
from xornet.errors import ConfigError
from xornet.gates import gate_table

SHORT = ["--lr", "0.05", "--batch-size", "4", "--epochs", "60", "-q"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_toml_keys_become_recipe_values(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "r.toml",
        'lr = 0.01\nhidden = "8,8"\nweight-decay = 0.0\noptimizer = "sgd"\n'
        "stop_when_solved = true\n",
    )
    values = load_recipe_file(config).values
    assert values == {
        "lr": 0.01,
        "hidden_sizes": (8, 8),
        "weight_decay": 0.0,
        "optimizer": "sgd",
        "stop_when_solved": True,
    }


def test_toml_hidden_sizes_list(tmp_path: Path) -> None:
    config = _write(tmp_path / "r.toml", "hidden_sizes = [4, 2]\n")
    assert load_recipe_file(config).values["hidden_sizes"] == (4, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lrr = 0.1\n", "unknown key 'lrr'; did you mean 'lr'"),
        ('activation = "swish"\n', "key 'activation' must be one of relu, "),
        ("lr = -1\n", "key 'lr' must be a positive number"),
        ('epochs = "many"\n', "key 'epochs' must be a positive integer"),
        ("epochs = 10.5\n", "key 'epochs' must be a positive integer"),
        ('shuffle = "yes"\n', "key 'shuffle' must be true or false"),
        ("hidden = [8, 0]\n", "key 'hidden' sizes must be positive"),
        ("hidden = [8.5]\n", "key 'hidden' must be a list of integers"),
        ('hidden = ""\n', "key 'hidden' must be comma-separated integers"),
        ("hidden = 3\nhidden_sizes = [3]\n", "repeats"),
        ("lr = \n", "invalid TOML"),
        ("[recipe]\nlr = 0.1\n", "unknown key 'recipe'"),
    ],
)
def test_toml_invalid_names_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    config = _write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        load_recipe_file(config)
    assert str(info.value).startswith(str(config))
    assert "\n" not in str(info.value)


def test_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_recipe_file(tmp_path / "nope.toml")


def test_cli_flags_override_config(tmp_path: Path) -> None:
    config = _write(tmp_path / "r.toml", "lr = 0.01\nepochs = 5\nbatch_size = 4\n")
    out = tmp_path / "run"
    status = main(
        ["train", "--config", str(config), "--epochs", "3", "--seed", "1"]
        + ["-q", "--out", str(out)]
    )
    assert status == 0
    recipe = json.loads((out / "run.json").read_text())["recipe"]
    assert recipe["lr"] == 0.01
    assert recipe["epochs"] == 3
    assert recipe["batch_size"] == 4


def test_cli_bad_config_one_line_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path / "r.toml", 'loss = "hinge"\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "r.toml: key 'loss' must be one of mse, bce, bce-with-logits" in err
    assert not out.exists()


def test_run_json_config_reproduces_run(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "--gate", "nand", *SHORT, "--out", str(first)]) == 0
    config = first / "run.json"
    # A second process, as a user repeating the run would start.
    argv = ["train", "--config", str(config), "-q", "--out", str(second)]
    env = {**os.environ, "PYTHONPATH": str(Path(xornet.__file__).parents[1])}
    command = [sys.executable, "-m", "xornet", *argv]
    subprocess.run(command, check=True, env=env, capture_output=True)

    first_bytes = (first / "model.safetensors").read_bytes()
    assert (second / "model.safetensors").read_bytes() == first_bytes
    stored = json.loads((second / "run.json").read_text())
    assert stored["table"]["name"] == "nand"
    assert stored["recipe"] == json.loads(config.read_text())["recipe"]


def test_run_json_config_with_other_table(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", "--gate", "nand", *SHORT, "--out", str(first)]) == 0
    config = str(first / "run.json")
    assert (
        main(["train", "--gate", "or", "--config", config, "-q", "--out", str(second)])
        == 0
    )
    assert json.loads((second / "run.json").read_text())["table"]["name"] == "or"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hidden", "0"], "--hidden sizes must be positive integers, got 0"),
        (["--hidden", "8,,8"], "--hidden must be comma-separated integers"),
        (["--hidden", ""], "--hidden must be comma-separated integers"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--patience", "-1"], "--patience must be an integer number of epochs"),
        (["--activation", "swish"], "invalid choice: 'swish'"),
        (["--loss", "hinge"], "invalid choice: 'hinge'"),
        (["--patience", "5"], "--patience 5 has no effect without --stop-when-solved"),
    ],
)
def test_cli_invalid_recipe_rejected_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    out = tmp_path / "run"
    with_exit = _run_catching_exit(["train", *flags, "--out", str(out)])
    assert with_exit == 2
    assert message in _one_line_error(capsys)
    assert not out.exists()


def _run_catching_exit(argv: list[str]) -> int:
    # argparse reports invalid choices by raising SystemExit(2).
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("loss", ["bce", "bce-with-logits"])
def test_bce_rejects_fractional_targets(loss: str) -> None:
    table = gate_table("xor")
    soft = table.targets.copy()
    soft[0, 0] = 0.25
    with pytest.raises(ConfigError, match=f"--loss {loss} needs targets of 0 or 1"):
        Recipe(loss=loss).check_table(soft)


def test_mse_accepts_fractional_targets() -> None:
    soft = gate_table("xor").targets * 0.5
    Recipe(loss="mse").check_table(soft)


def test_cli_bce_fractional_table_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _write(tmp_path / "soft.csv", "IN1,OUT1\n0,0.2\n1,0.9\n")
    out = tmp_path / "run"
    assert main(["train", str(csv), "--loss", "bce", "--out", str(out)]) == 2
    assert "--loss bce needs targets of 0 or 1" in _one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8,8", (8, 8)), ("none", ()), (" 3 ", (3,)), (5, (5,)), ([2, 4], (2, 4))],
)
def test_parse_hidden_accepts(value: object, expected: tuple[int, ...]) -> None:
    assert parse_hidden(value) == expected


@pytest.mark.parametrize("value", ["", "8,", "a", [1.5], True, None])
def test_parse_hidden_rejects(value: object) -> None:
    with pytest.raises(ConfigError, match="--hidden must be"):
        parse_hidden(value)
