"""The hand-computed training step of ``xornet explain`` against torch."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from xornet import runs, training
from xornet.cli import main
from xornet.config import ACTIVATIONS, LOSSES, Recipe
from xornet.errors import XornetError
from xornet.explain import explain_row
from xornet.model import MLP
from xornet.tables import TruthTable, load_builtin

TOLERANCE = 1e-6


def make_model(table: TruthTable, recipe: Recipe, seed: int) -> MLP:
    torch.manual_seed(seed)
    return MLP(recipe.architecture(table.n_inputs, table.n_outputs))


def autograd_step(
    model: MLP, table: TruthTable, recipe: Recipe, row: int
) -> tuple[float, list[torch.Tensor], list[torch.Tensor]]:
    """Return the loss, autograd's gradients and the weights after one Adam step."""
    inputs, targets = table.tensors()
    outputs = model(inputs[row - 1 : row])
    loss = training.make_loss(recipe.loss)(outputs, targets[row - 1 : row])
    optimizer = training.make_optimizer(model.parameters(), recipe)
    optimizer.zero_grad()
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    optimizer.step()
    stepped = [p.detach().clone() for p in model.parameters()]
    return loss.item(), grads, stepped


def hand_gradients(explanation) -> list[np.ndarray]:
    """Return the explanation's gradients in model.parameters() order."""
    return [
        grad
        for layer in explanation.layers
        for grad in (layer.weight_grad, layer.bias_grad)
    ]


CASES = list(itertools.product(LOSSES, ACTIVATIONS))


@pytest.mark.parametrize(("loss", "activation"), CASES)
def test_gradients_match_autograd(loss: str, activation: str) -> None:
    table = load_builtin("xor")
    recipe = Recipe(loss=loss, activation=activation, hidden_sizes=(3, 2), lr=0.01)
    for row in range(1, len(table) + 1):
        model = make_model(table, recipe, seed=row)
        explanation = explain_row(model, table, recipe.to_dict(), row)
        expected_loss, grads, _ = autograd_step(model, table, recipe, row)
        assert explanation.loss == pytest.approx(expected_loss, abs=TOLERANCE)
        for hand, auto in zip(hand_gradients(explanation), grads, strict=True):
            np.testing.assert_allclose(hand, auto.numpy(), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
@pytest.mark.parametrize("loss", LOSSES)
def test_update_matches_torch_optimizer(optimizer: str, loss: str) -> None:
    table = load_builtin("xor")
    recipe = Recipe(loss=loss, optimizer=optimizer, lr=0.05, weight_decay=0.01)
    for row in range(1, len(table) + 1):
        model = make_model(table, recipe, seed=10 + row)
        explanation = explain_row(model, table, recipe.to_dict(), row)
        _, _, stepped = autograd_step(model, table, recipe, row)
        hand = [step.new_value for step in explanation.steps]
        for new_value, torch_value in zip(hand, stepped, strict=True):
            np.testing.assert_allclose(
                new_value, torch_value.numpy(), rtol=0, atol=TOLERANCE
            )


def test_tutorial_update_is_about_lr_sign() -> None:
    table = load_builtin("xor")
    recipe = Recipe()
    model = make_model(table, recipe, seed=3)
    explanation = explain_row(model, table, recipe.to_dict(), 2)
    for step in explanation.steps:
        big = np.abs(step.g) > 1e-5
        expected = -recipe.lr * np.sign(step.g[big])
        np.testing.assert_allclose(step.update[big], expected, rtol=1e-3)


def test_forward_matches_model() -> None:
    table = load_builtin("xor")
    recipe = Recipe(loss="bce-with-logits")
    model = make_model(table, recipe, seed=5)
    explanation = explain_row(model, table, recipe.to_dict(), 4)
    inputs, _ = table.tensors()
    expected = model.predict(inputs[3:4]).numpy()[0]
    np.testing.assert_allclose(explanation.probabilities, expected, atol=TOLERANCE)


@pytest.mark.parametrize("row", [0, 5, -1])
def test_row_out_of_range_raises(row: int) -> None:
    table = load_builtin("xor")
    model = make_model(table, Recipe(), seed=0)
    with pytest.raises(XornetError, match="out of range"):
        explain_row(model, table, Recipe().to_dict(), row)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = load_builtin("xor")
    recipe = Recipe(epochs=30, batch_size=4, lr=0.05)
    result = training.train(table, recipe, seed=1)
    path, _ = runs.write_run(
        tmp_path_factory.mktemp("run") / "xor", table, recipe, result
    )
    return path


def test_cli_prints_formulas_and_numbers(
    run_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(run_folder), "--row", "2"]) == 0
    out = capsys.readouterr().out
    saved = runs.load_run(run_folder)
    explanation = explain_row(saved.model, saved.table, saved.metadata["recipe"], 2)
    assert "z1 = W1 · a0 + b1" in out
    assert "δ2 = dL/dz2" in out
    assert "first step of a fresh Adam" in out
    assert f"L = {explanation.loss:.8f}" in out


@pytest.mark.parametrize("row", ["0", "5"])
def test_cli_row_out_of_range_exits_2(
    run_folder: Path, row: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(run_folder), "--row", row]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "rows 1 to 4" in captured.err


def test_cli_not_a_run_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(tmp_path), "--row", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
