"""Figures, snapshots and ``xornet plot``: files, sizes and the data drawn."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.colors import to_hex
from PIL import Image

from xornet import plots, runs, snapshots, training
from xornet.cli import main
from xornet.cli.plot import FILENAMES
from xornet.config import Architecture, Recipe
from xornet.errors import CheckpointError, PlotError
from xornet.model import MLP
from xornet.plots import style
from xornet.plots.activations import activation_curve
from xornet.plots.maps import dead_units, hidden_grids, output_grid
from xornet.plots.network import network_figure
from xornet.plots.sweep import sweep_summary
from xornet.stats import wilson_interval
from xornet.tables import TruthTable, load_builtin, table_from_frame

SNAPSHOT_EPOCHS = [0, 5, 20, 40]
QUICK = Recipe(epochs=40, batch_size=4, lr=0.05)


def parity3_table() -> TruthTable:
    rows = [(a, b, c, (a + b + c) % 2) for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    frame = pd.DataFrame(rows, columns=["IN1", "IN2", "IN3", "OUT1"])
    return table_from_frame(frame, name="parity3")


def hand_set_model() -> MLP:
    """A 2-3-1 ReLU network whose first hidden unit is dead on [0, 1]²."""
    model = MLP(Architecture(n_inputs=2, n_outputs=1, hidden_sizes=(3,)))
    with torch.no_grad():
        first, second = model.linears
        first.weight.copy_(torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]))
        first.bias.copy_(torch.tensor([-0.5, 0.0, 0.0]))
        second.weight.copy_(torch.tensor([[0.3, 4.0, -4.0]]))
        second.bias.copy_(torch.tensor([-1.0]))
    return model


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = load_builtin("xor")
    result = training.train(table, QUICK, seed=2, snapshot_at=SNAPSHOT_EPOCHS)
    path, _ = runs.write_run(
        tmp_path_factory.mktemp("xor") / "run", table, QUICK, result
    )
    return path


@pytest.fixture(scope="module")
def parity_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = parity3_table()
    recipe = QUICK.replace(epochs=5)
    result = training.train(table, recipe, seed=0)
    path, _ = runs.write_run(
        tmp_path_factory.mktemp("par") / "run", table, recipe, result
    )
    return path


def saved_size(fig, path: Path, dpi: int = 120) -> tuple[int, int]:
    """Save ``fig`` and return the pixel size its inches and dpi call for."""
    width, height = fig.get_size_inches()
    plots.save_figure(fig, path, dpi=dpi)
    return round(width * dpi), round(height * dpi)


# Data behind the maps


def test_output_grid_is_model_output() -> None:
    model = hand_set_model()
    table = load_builtin("xor")
    grid = output_grid(model, table, resolution=21)
    for i, j in [(0, 0), (3, 17), (10, 10), (20, 5), (20, 20)]:
        point = torch.tensor([[grid.xs[j], grid.ys[i]]])
        expected = model.predict(point).numpy()[0]
        np.testing.assert_allclose(grid.values[i, j], expected, atol=1e-6)


def test_output_grid_covers_rows_with_margin() -> None:
    grid = output_grid(hand_set_model(), load_builtin("xor"), resolution=11)
    assert grid.xs[0] < 0.0
    assert grid.xs[-1] > 1.0
    assert grid.ys[0] < 0.0
    assert grid.ys[-1] > 1.0


def test_hidden_grid_is_relu_of_first_layer() -> None:
    model = hand_set_model()
    table = load_builtin("xor")
    (grid,) = hidden_grids(model, table, resolution=9)
    weight = model.linears[0].weight.detach().numpy()
    bias = model.linears[0].bias.detach().numpy()
    for i, j in [(0, 0), (4, 7), (8, 8)]:
        point = np.array([grid.xs[j], grid.ys[i]])
        expected = np.maximum(weight @ point + bias, 0.0)
        np.testing.assert_allclose(grid.values[i, j], expected, atol=1e-6)


def test_dead_units_finds_hand_set_unit() -> None:
    (dead,) = dead_units(hand_set_model(), load_builtin("xor"))
    assert dead.tolist() == [True, False, False]


def test_three_inputs_rejected_for_maps() -> None:
    with pytest.raises(PlotError, match="2 input columns"):
        output_grid(MLP(Architecture(3, 1)), parity3_table())


def test_activation_derivatives_by_autograd() -> None:
    z = np.linspace(-3.0, 3.0, 13)
    values, slopes = activation_curve(torch.nn.Sigmoid(), z)
    expected = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(values, expected, atol=1e-12)
    np.testing.assert_allclose(slopes, expected * (1 - expected), atol=1e-12)
    _, relu_slopes = activation_curve(torch.nn.ReLU(), z)
    assert relu_slopes.tolist() == (z > 0).astype(float).tolist()


def test_network_edges_follow_weights() -> None:
    model = hand_set_model()
    table = TruthTable(
        name="gate",
        input_columns=("A", "B"),
        output_columns=("Y",),
        inputs=np.zeros((1, 2), dtype=np.float32),
        targets=np.zeros((1, 1), dtype=np.float32),
    )
    fig = network_figure(model, table)
    ax = fig.axes[0]
    edges = [line for line in ax.lines if len(line.get_xdata()) == 2]
    # Edges are drawn target by target, the order of nn.Linear's weight rows.
    weights = np.concatenate(
        [linear.weight.detach().numpy().ravel() for linear in model.linears]
    )
    assert len(edges) == len(weights)
    widths = np.array([line.get_linewidth() for line in edges])
    colours = [to_hex(line.get_color()) for line in edges]
    order = np.argsort(np.abs(weights))
    assert np.all(np.diff(widths[order]) >= -1e-9)
    for weight, colour in zip(weights, colours, strict=True):
        assert colour == to_hex(style.POSITIVE if weight >= 0 else style.NEGATIVE)
    texts = {t.get_text() for t in ax.texts}
    assert {"A", "B", "Y", "b = -1.00"} <= texts
    fig.clf()


def test_boundary_image_is_output_grid() -> None:
    model = hand_set_model()
    table = TruthTable(
        name="gate",
        input_columns=("A", "B"),
        output_columns=("Y",),
        inputs=np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32),
        targets=np.array([[0], [1], [1], [0]], dtype=np.float32),
    )
    fig = plots.boundary_figure(model, table, resolution=31)
    (image,) = fig.axes[0].get_images()
    expected = output_grid(model, table, resolution=31).values[..., 0]
    np.testing.assert_array_equal(np.asarray(image.get_array()), expected)
    fig.clf()


def test_units_figure_marks_dead_unit() -> None:
    model = hand_set_model()
    fig = plots.units_figure(model, load_builtin("xor"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 3
    assert "DEAD" in titles[0]
    assert "DEAD" not in titles[1]
    assert "DEAD" not in titles[2]
    fig.clf()


def test_loss_figure_draws_kept_bold() -> None:
    history = np.array([[0.5, 0.4, 0.6], [0.3, 0.2, 0.5], [0.1, 0.05, 0.4]])
    fig = plots.loss_figure(history, kept=1, log_scale=False)
    ax = fig.axes[0]
    lines = [line for line in ax.lines if len(line.get_ydata())]
    bold = [line for line in lines if line.get_linewidth() > 1.5]
    assert len(lines) == 3
    assert len(bold) == 1
    np.testing.assert_array_equal(bold[0].get_ydata(), history[:, 1])
    assert ax.get_yscale() == "linear"
    fig.clf()


# Statistics and sweeps


def test_wilson_interval_hand_computed() -> None:
    # 8 of 10: p = 0.8, z = 1.96; centre 0.99208 / 1.38416, half-width
    # 1.96 * sqrt(0.016 + 0.009604) / 1.38416, worked out by hand.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490162, abs=1e-5)
    assert high == pytest.approx(0.943317, abs=1e-5)


def test_wilson_interval_edges() -> None:
    low, high = wilson_interval(0, 5)
    assert low == 0.0
    assert 0.0 < high < 1.0
    low, high = wilson_interval(5, 5)
    assert high == 1.0
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


def sweep_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "config": ["h3"] * 4 + ["h8"] * 3,
            "solved": [True, False, True, True, True, True, True],
            "solved_epoch": [120.0, np.nan, 90.0, 300.0, 40.0, 50.0, 45.0],
        }
    )


def test_sweep_summary_rates_and_intervals() -> None:
    summary = sweep_summary(sweep_frame()).set_index("config")
    assert summary.loc["h3", "solved"] == 3
    assert summary.loc["h3", "runs"] == 4
    assert summary.loc["h3", "rate"] == pytest.approx(0.75)
    assert (summary.loc["h3", "low"], summary.loc["h3", "high"]) == wilson_interval(
        3, 4
    )


def test_sweep_missing_column_raises() -> None:
    with pytest.raises(PlotError, match="solved_epoch"):
        sweep_summary(sweep_frame().drop(columns="solved_epoch"))


def test_sweep_figure_png_size(tmp_path: Path) -> None:
    fig = plots.sweep_results_figure(sweep_frame())
    size = saved_size(fig, tmp_path / "sweep.png")
    with Image.open(tmp_path / "sweep.png") as image:
        assert image.format == "PNG"
        assert image.size == size


# Figures as files


@pytest.mark.parametrize("kind", ["boundary", "units", "network", "activations"])
def test_run_figures_png_size(xor_run: Path, tmp_path: Path, kind: str) -> None:
    saved = runs.load_run(xor_run)
    figure = {
        "boundary": lambda: plots.boundary_figure(saved.model, saved.table),
        "units": lambda: plots.units_figure(saved.model, saved.table),
        "network": lambda: plots.network_figure(saved.model, saved.table),
        "activations": lambda: plots.activations_figure(saved.model),
    }[kind]()
    assert figure.texts or figure._suptitle is not None or figure.axes[0].get_title()
    size = saved_size(figure, tmp_path / f"{kind}.png")
    with Image.open(tmp_path / f"{kind}.png") as image:
        assert image.format == "PNG"
        assert image.size == size


def test_boundary_panel_per_output_titled(xor_run: Path) -> None:
    saved = runs.load_run(xor_run)
    fig = plots.boundary_figure(saved.model, saved.table)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [f"output {c}" for c in saved.table.output_columns]
    fig.clf()


# Snapshots and the animation


def test_write_run_saves_snapshots_and_boundary(xor_run: Path) -> None:
    assert (xor_run / "boundary.png").is_file()
    saved = runs.load_run(xor_run)
    loaded = saved.load_snapshots()
    assert sorted(loaded) == SNAPSHOT_EPOCHS
    final = loaded[SNAPSHOT_EPOCHS[-1]]
    for key, tensor in saved.model.state_dict().items():
        assert torch.equal(final[key], tensor)


def test_snapshot_keys_name_epochs(xor_run: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(xor_run / snapshots.FILENAME), framework="pt") as f:
        keys = set(f.keys())
        epochs = json.loads(f.metadata()["xornet"])["epochs"]
    assert "epoch_000005.layers.0.weight" in keys
    assert epochs == SNAPSHOT_EPOCHS


def test_snapshots_add_final_epoch() -> None:
    table = load_builtin("xor")
    result = training.train(table, QUICK.replace(epochs=7), seed=0, snapshot_at=[0, 3])
    kept = runs.kept_snapshots(result)
    assert sorted(kept) == [0, 3, 7]


def test_snapshots_reject_other_network(xor_run: Path) -> None:
    other = Architecture(n_inputs=2, n_outputs=2, hidden_sizes=(4,))
    with pytest.raises(CheckpointError, match="different network"):
        snapshots.load_snapshots(xor_run / snapshots.FILENAME, other)


def test_snapshots_reject_missing_tensor(tmp_path: Path) -> None:
    model = hand_set_model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    path = tmp_path / snapshots.FILENAME
    snapshots.save_snapshots(path, {0: state}, model.architecture)
    del state["layers.0.bias"]
    snapshots.save_snapshots(path, {0: state}, model.architecture)
    with pytest.raises(CheckpointError, match="missing tensor"):
        snapshots.load_snapshots(path, model.architecture)


def test_snapshots_reject_non_safetensors(tmp_path: Path) -> None:
    path = tmp_path / snapshots.FILENAME
    path.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        snapshots.load_snapshots(path, hand_set_model().architecture)


def test_gif_has_frame_per_snapshot(xor_run: Path, tmp_path: Path) -> None:
    saved = runs.load_run(xor_run)
    loaded = saved.load_snapshots()
    path = tmp_path / "training.gif"
    count = plots.write_training_gif(
        path, saved.table, saved.model.architecture, loaded, saved.history()[:, 0]
    )
    assert count == len(loaded)
    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.n_frames == len(SNAPSHOT_EPOCHS)
        first = np.asarray(image.convert("RGB"))
        image.seek(image.n_frames - 1)
        last = np.asarray(image.convert("RGB"))
    assert not np.array_equal(first, last)


# The command line


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_cli_plot_writes_default_kinds(
    xor_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = ["loss", "boundary", "units", "network", "activations", "animation"]
    for name in (FILENAMES[k] for k in kinds):
        (xor_run / name).unlink(missing_ok=True)
    assert main(["plot", str(xor_run)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(xor_run / FILENAMES[k]) for k in kinds]
    for kind in kinds:
        with Image.open(xor_run / FILENAMES[kind]) as image:
            assert image.format == ("GIF" if kind == "animation" else "PNG")


def test_cli_plot_out_single_kind(xor_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "curve.png"
    assert (
        main(["plot", str(xor_run), "--kind", "loss", "--linear", "--out", str(out)])
        == 0
    )
    with Image.open(out) as image:
        assert image.format == "PNG"


def test_cli_plot_out_with_kinds_exits_2(
    xor_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "both.png"
    argv = ["plot", str(xor_run), "--kind", "loss", "boundary", "--out", str(out)]
    assert main(argv) == 2
    assert len(stderr_lines(capsys)) == 1
    assert not out.exists()


def test_cli_plot_not_a_run_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert len(stderr_lines(capsys)) == 1


def test_cli_boundary_three_inputs_exits_2(
    parity_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(parity_run), "--kind", "loss", "boundary"]) == 2
    lines = stderr_lines(capsys)
    assert len(lines) == 1
    assert "2 input columns" in lines[0]
    assert not (parity_run / "boundary.png").exists()


def test_cli_three_inputs_default_kinds(
    parity_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(parity_run)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [
        str(parity_run / FILENAMES[k]) for k in ("loss", "network", "activations")
    ]


def test_cli_animation_needs_gif_suffix(
    xor_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "plot",
        str(xor_run),
        "--kind",
        "animation",
        "--out",
        str(tmp_path / "a.png"),
    ]
    assert main(argv) == 2
    assert len(stderr_lines(capsys)) == 1


def test_cli_sweep_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep_frame().to_csv(tmp_path / "results.csv", index=False)
    assert main(["plot", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "summary.png")
    with Image.open(tmp_path / "summary.png") as image:
        assert image.format == "PNG"


def test_cli_sweep_on_run_exits_2(
    xor_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(xor_run), "--kind", "sweep"]) == 2
    assert len(stderr_lines(capsys)) == 1


def test_cli_missing_history_exits_2(
    xor_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.safetensors", "run.json"):
        (broken / name).write_bytes((xor_run / name).read_bytes())
    assert main(["plot", str(broken), "--kind", "loss"]) == 2
    lines = stderr_lines(capsys)
    assert len(lines) == 1
    assert "history.csv" in lines[0]
    assert not (broken / "loss.png").exists()


def test_boundary_marks_rows_by_argmax_for_onehot() -> None:
    # No hidden layer, zero weights: every row outputs (0.475, 0.450), so
    # argmax picks OUT1 everywhere and only rows 1 and 4 (target OUT2) are
    # wrong, although every OUT1 output is below 0.5.
    model = MLP(Architecture(2, 2, hidden_sizes=()))
    with torch.no_grad():
        model.layers[0].weight.zero_()
        model.layers[0].bias.copy_(torch.tensor([-0.1, -0.2]))
    fig = plots.boundary_figure(model, load_builtin("xor"), resolution=11)
    for ax in fig.axes[:2]:
        squares = [
            line.get_xydata()[0].tolist()
            for line in ax.get_lines()
            if line.get_marker() == "s"
        ]
        assert sorted(squares) == [[0.0, 0.0], [1.0, 1.0]]
    matplotlib.pyplot.close(fig)
