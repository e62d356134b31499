"""Every built-in gate is learned by a short recipe.

The recipe (16 ReLU units, bce-with-logits, Adam lr 0.05, full
batch) solved every gate below from 20 of 20 seeds in 400 epochs, except
full_adder (19/20) and parity5 (17/20); in 1000 epochs it solved full_adder
and parity4 from 50 of 50 seeds and parity5 from 48 of 50
(benchmarks/gate_recipes.py, reference trainer, CPU). Three restarts make a
failure here unlikely rather than lucky.
"""

from __future__ import annotations

import pytest

from xornet.config import Recipe
from xornet.gates import builtin_gates, gate_table
from xornet.training import train

RECIPE = Recipe(
    hidden_sizes=(16,),
    loss="bce-with-logits",
    lr=0.05,
    batch_size=1024,
    epochs=1000,
    stop_when_solved=True,
    restarts=3,
)

GATES = [gate.name for gate in builtin_gates()] + ["parity2", "parity5"]


@pytest.mark.parametrize("name", GATES)
def test_gate_solved_by_short_recipe(name: str) -> None:
    result = train(gate_table(name), RECIPE, seed=0)
    assert any(result.solved), f"{name}: final losses {result.final_losses}"


@pytest.mark.parametrize("name", ["half_adder", "full_adder"])
def test_adder_onehot_solved_by_short_recipe(name: str) -> None:
    result = train(gate_table(name, "onehot"), RECIPE, seed=0)
    assert any(result.solved), f"{name}: final losses {result.final_losses}"
