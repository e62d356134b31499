"""Every built-in gate is learned by one short recipe.

The recipe (32 ReLU units, bce-with-logits, Adam lr 0.05, full batch)
solved each gate below from 20 of 20 seeds, and full_adder, parity4 and
parity5 from 50 of 50. No seed needed more than 116 epochs. Measured with
benchmarks/gate_recipes.py on the reference trainer (CPU), see
docs/gate-recipes.md.
The 300-epoch cap and a second restart leave a wide margin, so a pass
here does not depend on a lucky seed.
"""

from __future__ import annotations

import pytest

from xornet.config import Recipe
from xornet.gates import builtin_gates, gate_table
from xornet.training import train

RECIPE = Recipe(
    hidden_sizes=(32,),
    loss="bce-with-logits",
    lr=0.05,
    batch_size=1024,
    epochs=300,
    stop_when_solved=True,
    restarts=2,
)

GATES = [gate.name for gate in builtin_gates()] + ["parity5"]


@pytest.mark.parametrize("name", GATES)
def test_gate_solved_by_short_recipe(name: str) -> None:
    result = train(gate_table(name), RECIPE, seed=0)
    assert any(result.solved), f"{name}: final losses {result.final_losses}"


@pytest.mark.parametrize("name", ["half_adder", "full_adder"])
def test_adder_onehot_solved_by_short_recipe(name: str) -> None:
    result = train(gate_table(name, "onehot"), RECIPE, seed=0)
    assert any(result.solved), f"{name}: final losses {result.final_losses}"
