from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import FAST_RECIPE
from xornet import training
from xornet.config import Recipe
from xornet.errors import TrainingError
from xornet.model import MLP


def tutorial_loop(model: nn.Module, table, epochs: int) -> list[float]:
    """The tutorial's loop written out by hand, as the reference for train()."""
    inputs, targets = table.tensors()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0001)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(len(inputs)):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs[i : i + 1]), targets[i : i + 1])
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / len(inputs))
    return losses


def test_train_matches_hand_written_tutorial_loop(xor_table):
    recipe = Recipe(epochs=30, restarts=1)
    result = training.train(xor_table, recipe, seed=3)
    torch.manual_seed(3)
    reference = MLP(recipe.architecture(2, 2))
    losses = tutorial_loop(reference, xor_table, epochs=30)
    assert result.history[:, 0].tolist() == pytest.approx(losses, abs=0, rel=0)
    for ours, theirs in zip(
        result.model.parameters(), reference.parameters(), strict=True
    ):
        assert torch.equal(ours, theirs)


def test_train_solves_xor_with_fast_recipe(xor_table):
    result = training.train(xor_table, FAST_RECIPE, seed=11)
    assert result.solved == [True]
    assert result.final_losses[0] < 0.05
    assert result.history.shape == (300, 1)
    assert result.history[-1, 0] < result.history[0, 0]


def test_train_same_seed_is_bit_identical(xor_table):
    recipe = FAST_RECIPE.replace(epochs=40, shuffle=True, batch_size=2, restarts=2)
    first = training.train(xor_table, recipe, seed=7)
    second = training.train(xor_table, recipe, seed=7)
    assert (first.history == second.history).all()
    for a, b in zip(first.models, second.models, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)


def test_train_different_seeds_differ(xor_table):
    recipe = FAST_RECIPE.replace(epochs=5)
    first = training.train(xor_table, recipe, seed=1)
    second = training.train(xor_table, recipe, seed=2)
    assert not torch.equal(first.model.layers[0].weight, second.model.layers[0].weight)


def test_train_history_holds_floats_not_tensors(xor_table):
    result = training.train(xor_table, FAST_RECIPE.replace(epochs=3), seed=0)
    assert result.history.dtype.kind == "f"


def test_train_nan_loss_names_epoch(xor_table):
    model = MLP(FAST_RECIPE.architecture(2, 2))
    with torch.no_grad():
        model.layers[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="loss became nan at epoch 1"):
        training.train(xor_table, FAST_RECIPE, seed=0, models=[model])


def test_train_interrupt_returns_partial_result(xor_table):
    def stop_at_five(epoch: int, loss: float) -> None:
        if epoch == 5:
            raise KeyboardInterrupt

    result = training.train(xor_table, FAST_RECIPE, seed=0, progress=stop_at_five)
    assert result.interrupted
    assert result.epochs_run == 5


def test_choose_best_prefers_solved_then_lowest_loss():
    assert training.choose_best([False, True, True], [0.01, 0.3, 0.2]) == 2
    assert training.choose_best([False, False], [0.5, float("nan")]) == 0


def test_snapshots_hold_weights_at_requested_epochs(xor_table):
    recipe = FAST_RECIPE.replace(epochs=10)
    result = training.train(xor_table, recipe, seed=4, snapshot_at=[0, 10])
    assert sorted(result.snapshots) == [0, 10]
    final = result.snapshots[10][0]["layers.0.weight"]
    assert torch.equal(final, result.model.layers[0].weight)
    assert not torch.equal(result.snapshots[0][0]["layers.0.weight"], final)
