"""xornet sweep: results.csv, resume, the Wilson interval and bad flags."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from scipy.stats import binomtest

from xornet import engine, sweep, training
from xornet.cli import main
from xornet.config import Recipe
from xornet.diagnostics import diagnose
from xornet.tables import load_builtin

SMALL = ["--seeds", "3", "--epochs", "30", "--lr", "0.05", "--seed", "5", "-q"]


def run_cli(args: list[str]) -> int:
    return main([str(a) for a in args])


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Return results without timing, sorted by configuration and seed."""
    frame = frame.drop(columns="train_seconds")
    return frame.sort_values(["config", "seed"]).reset_index(drop=True)


def test_results_csv_rows_and_columns(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    status = run_cli(
        ["sweep", "--out", out, "--hidden", "2", "3", "--restarts", "2", *SMALL]
    )
    assert status == 0
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == sweep.RESULT_COLUMNS
    assert len(results) == 6
    assert sorted(set(results["config"])) == [
        "hidden=2 lr=0.05 epochs=30",
        "hidden=3 lr=0.05 epochs=30",
    ]
    assert sorted(results["seed"].unique().tolist()) == [5, 6, 7]
    assert results["solved"].dtype == bool
    assert (out / "summary.png").stat().st_size > 0
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["seeds"] == 3
    assert stored["seed"] == 5


def test_rows_repeat_train_runs(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert run_cli(["sweep", "--out", out, "--restarts", "3", *SMALL]) == 0
    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    table = load_builtin("xor")
    recipe = Recipe(restarts=3, epochs=30, lr=0.05)
    for row in results.itertuples():
        # The reference loop, trained one model at a time, must agree.
        run = training.train(table, recipe, int(row.seed))
        assert row.solved == run.solved[run.kept]
        assert row.final_loss == pytest.approx(run.final_losses[run.kept], abs=1e-5)


def test_solved_epoch_is_first_solved_epoch(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["--seeds", "4", "--epochs", "60", "--lr", "0.1", "--seed", "0", "-q"]
    assert run_cli(["sweep", "--out", out, "--restarts", "1", *args]) == 0
    results = pd.read_csv(out / "results.csv")
    table = load_builtin("xor")
    for row in results.itertuples():
        recipe = Recipe(restarts=1, epochs=60, lr=0.1, stop_when_solved=True)
        run = training.train(table, recipe, int(row.seed))
        expected = run.solved_epochs[0]
        if expected is None:
            assert math.isnan(row.solved_epoch)
        else:
            assert row.solved_epoch == expected


def test_resume_after_partial_line_matches_full_run(tmp_path: Path) -> None:
    table = load_builtin("xor")
    settings = sweep.SweepSettings(
        recipe=Recipe(restarts=2, epochs=25, lr=0.05, seed=3),
        grid={"hidden_sizes": [(2,), (3,)], "lr": [0.05], "epochs": [25]},
        seeds=5,
        seed=3,
    )
    full = tmp_path / "full"
    sweep.prepare_folder(full, table, settings, resume=False)
    expected = sweep.run_sweep(full, table, settings, max_models=4)

    # A crash after three rows, in the middle of writing the fourth.
    broken = tmp_path / "broken"
    shutil.copytree(full, broken)
    lines = (full / "results.csv").read_text().splitlines(keepends=True)
    partial = lines[4][: len(lines[4]) // 2]
    (broken / "results.csv").write_text("".join(lines[:4]) + partial)
    assert len(sweep.read_results(broken)) == 3

    status = run_cli(["sweep", "--resume", broken, "-q"])
    assert status == 0
    resumed = pd.read_csv(broken / "results.csv")
    assert len(resumed) == 10
    pd.testing.assert_frame_equal(comparable(resumed), comparable(expected))


def test_read_results_drops_partial_line(tmp_path: Path) -> None:
    header = ",".join(sweep.RESULT_COLUMNS)
    row = "hidden=3 lr=0.001 epochs=5,3,0.001,5,1,True,0.1,4,0.5"
    (tmp_path / "results.csv").write_text(f"{header}\n{row}\n{row[:12]}")
    frame = sweep.read_results(tmp_path)
    assert len(frame) == 1
    assert (tmp_path / "results.csv").read_text().endswith(f"{row}\n")


def test_resume_with_other_settings_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    assert run_cli(["sweep", "--out", out, "--restarts", "1", *SMALL]) == 0
    capsys.readouterr()
    status = run_cli(["sweep", "--resume", out, "--lr", "0.5", "-q"])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1
    assert "grid.lr differs from the stored sweep" in error


def test_resume_of_missing_folder_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_cli(["sweep", "--resume", tmp_path / "nothing", "-q"])
    error = capsys.readouterr().err
    assert status == 2
    assert "not found" in error


def test_wilson_interval_worked_example() -> None:
    # By hand for 77 of 100: p = 0.77, z = 1.959964, z^2/n = 0.0384146,
    # centre = (0.77 + 0.0192073) / 1.0384146 = 0.760015,
    # half = 1.959964 / 1.0384146 * sqrt(0.77 * 0.23 / 100 + 0.0000960)
    #      = 1.887459 * 0.0432093 = 0.0815558.
    low, high = sweep.wilson_interval(77, 100)
    assert low == pytest.approx(0.678459, abs=1e-5)
    assert high == pytest.approx(0.841571, abs=1e-5)


@pytest.mark.parametrize(
    ("successes", "trials"), [(0, 10), (3, 10), (10, 10), (999, 1000)]
)
def test_wilson_interval_matches_scipy(successes: int, trials: int) -> None:
    expected = binomtest(successes, trials).proportion_ci(0.95, method="wilson")
    low, high = sweep.wilson_interval(successes, trials)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_summarize_counts_and_median() -> None:
    results = pd.DataFrame(
        {
            "config": ["a", "a", "a", "b"],
            "solved": [True, True, False, False],
            "solved_epoch": [10, 30, None, None],
            "failure": [None, None, "merged_rows", "dead_units"],
            "train_seconds": [1.0, 1.0, 1.0, 2.0],
        }
    )
    summary = sweep.summarize(results).set_index("config")
    assert summary.loc["a", "runs"] == 3
    assert summary.loc["a", "solve_rate"] == pytest.approx(2 / 3)
    assert summary.loc["a", "median_solved_epoch"] == 20
    assert summary.loc["b", "solved"] == 0
    assert summary.loc["b", "train_seconds"] == 2.0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seeds", "0"], "--seeds must be a positive integer, got 0"),
        (["--seeds", "-4"], "--seeds must be a positive integer, got -4"),
        (["--lr", "0.1", "0"], "--lr must be a positive number, got 0.0"),
        (["--hidden", "3", "0"], "--hidden sizes must be positive integers, got 0"),
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--restarts", "0"], "--restarts must be a positive integer, got 0"),
    ],
)
def test_bad_flags_exit_2_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    status = run_cli(["sweep", "--out", tmp_path / "sweep", "-q", *flags])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1
    assert message in error
    assert not (tmp_path / "sweep").exists()


def test_existing_folder_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.csv").write_text("x\n")
    status = run_cli(["sweep", "--out", tmp_path, *SMALL])
    assert status == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize("init", ["default", "kaiming"])
def test_initial_weights_equal_build_models(init: str) -> None:
    table = load_builtin("xor")
    recipe = Recipe(restarts=3, hidden_sizes=(4, 2), init=init)
    seeds = [0, 7, 12]
    expected = engine.stack_models(
        [m for s in seeds for m in training.build_models(table, recipe, s)]
    )
    actual = sweep.initial_weights(table, recipe, seeds)
    for a, b in zip(actual, expected, strict=True):
        assert torch.equal(a, b)


def test_shuffled_sweep_trains_seeds_alone() -> None:
    recipe = Recipe(restarts=2, shuffle=True)
    chunks = list(sweep.seed_chunks([1, 2, 3], recipe, max_models=100))
    assert chunks == [[1], [2], [3]]
    plain = list(sweep.seed_chunks([1, 2, 3, 4, 5], Recipe(restarts=2), max_models=4))
    assert plain == [[1, 2], [3, 4], [5]]


def test_failure_column_names_finding_kinds(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["--seeds", "30", "--seed", "0", "--epochs", "2000", "--restarts", "1"]
    assert run_cli(["sweep", "--out", out, *args, "-q"]) == 0
    results = sweep.read_results(out)
    unsolved = results[~results["solved"].astype(bool)]
    assert len(unsolved) > 0, "pick seeds where some tutorial runs fail"
    assert results[results["solved"].astype(bool)]["failure"].isna().all()

    # Each unsolved run's dead units and merged rows, found again on the same
    # run trained by engine.train and diagnosed with its full history.
    table = load_builtin("xor")
    recipe = Recipe(epochs=2000, restarts=1)
    for row in unsolved.itertuples():
        result = engine.train(table, recipe, seed=int(row.seed))
        findings = diagnose(result.model, table, result.history[:, 0], loss="mse")
        expected = {f.kind for f in findings} & {"dead_units", "merged_rows"}
        assert (
            set(str(row.failure).split("+")) & {"dead_units", "merged_rows"} == expected
        )


def test_summary_counts_failures() -> None:
    frame = pd.DataFrame(
        {
            "config": ["a"] * 4,
            "solved": [True, False, False, False],
            "solved_epoch": [3, None, None, None],
            "failure": [None, "dead_units+merged_rows", "merged_rows", "stalled_loss"],
            "train_seconds": [1.0] * 4,
        }
    )
    summary = sweep.summarize(frame)
    assert summary["failures"].tolist() == [
        "dead_units 1, merged_rows 2, stalled_loss 1"
    ]


def test_repeated_grid_value_trains_once(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert run_cli(["sweep", "--out", out, "--hidden", "3", "3", *SMALL]) == 0
    results = sweep.read_results(out)
    assert len(results) == 3
    assert results["config"].nunique() == 1


def test_diagnosis_stops_at_budget(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sweep, "MAX_DIAGNOSED", 2)
    out = tmp_path / "sweep"
    # An lr this small leaves every run unsolved after 5 epochs.
    args = ["--seeds", "5", "--seed", "0", "--epochs", "5", "--lr", "1e-6"]
    assert run_cli(["sweep", "--out", out, *args, "--restarts", "1", "-q"]) == 0
    failures = sweep.read_results(out)["failure"].tolist()
    assert len(failures) == 5
    assert failures.count(sweep.NOT_DIAGNOSED) == 3
    assert all(f != sweep.NOT_DIAGNOSED and f for f in failures[:2])
