"""Recipe options: optimizers, losses, layers, activations, inits and stopping.

Each check compares the reference trainer with a hand-written computation or
with torch's own functions, never with numbers the trainer produced before.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from xornet.config import Architecture, Recipe
from xornet.diagnostics import rows_correct
from xornet.gates import gate_table
from xornet.model import LEAKY_RELU_SLOPE, MLP
from xornet.tables import TruthTable
from xornet.training import build_models, make_loss, table_solved, train

XOR = gate_table("xor")

# Full batch, so one epoch is exactly one optimizer step.
FULL_BATCH = Recipe(hidden_sizes=(4,), lr=0.1, weight_decay=0.01, batch_size=4)


def _parameters(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _gradients(
    model: MLP, params: list[torch.Tensor], table: TruthTable, loss_name: str
) -> list[torch.Tensor]:
    """Return d(loss)/d(params) by autograd at the given parameter values."""
    probe = copy.deepcopy(model)
    with torch.no_grad():
        for target, value in zip(probe.parameters(), params, strict=True):
            target.copy_(value)
    inputs, targets = table.tensors()
    loss = make_loss(loss_name)(probe(inputs), targets)
    return list(torch.autograd.grad(loss, list(probe.parameters())))


def _hand_trained(
    recipe: Recipe, steps: int, seed: int = 0
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Return (trainer's parameters, hand-updated parameters) after ``steps``."""
    model = build_models(XOR, recipe, seed)[0]
    start = copy.deepcopy(model)
    result = train(XOR, recipe.replace(epochs=steps), seed, models=[model])
    trained = _parameters(result.model)

    params = _parameters(start)
    state = [dict(m=torch.zeros_like(p), v=torch.zeros_like(p)) for p in params]
    for step in range(1, steps + 1):
        grads = _gradients(start, params, XOR, recipe.loss)
        params = [
            _UPDATES[recipe.optimizer](p, g, s, recipe, step)
            for p, g, s in zip(params, grads, state, strict=True)
        ]
    return trained, params


def _adam(p: torch.Tensor, g: torch.Tensor, s: dict, r: Recipe, t: int) -> torch.Tensor:
    # Coupled L2: the decay term joins the gradient before the moments.
    g = g + r.weight_decay * p
    return _adam_moments(p, g, s, r, t)


def _adamw(
    p: torch.Tensor, g: torch.Tensor, s: dict, r: Recipe, t: int
) -> torch.Tensor:
    # Decoupled: the weights shrink directly, the moments see the raw gradient.
    return _adam_moments(p * (1 - r.lr * r.weight_decay), g, s, r, t)


def _adam_moments(
    p: torch.Tensor, g: torch.Tensor, s: dict, r: Recipe, t: int
) -> torch.Tensor:
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    s["m"] = beta1 * s["m"] + (1 - beta1) * g
    s["v"] = beta2 * s["v"] + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = s["v"] / (1 - beta2**t)
    return p - r.lr * m_hat / (v_hat.sqrt() + eps)


def _sgd(p: torch.Tensor, g: torch.Tensor, s: dict, r: Recipe, t: int) -> torch.Tensor:
    g = g + r.weight_decay * p
    s["m"] = g if t == 1 else r.momentum * s["m"] + g
    return p - r.lr * s["m"]


def _rmsprop(
    p: torch.Tensor, g: torch.Tensor, s: dict, r: Recipe, t: int
) -> torch.Tensor:
    alpha, eps = 0.99, 1e-8
    g = g + r.weight_decay * p
    s["v"] = alpha * s["v"] + (1 - alpha) * g * g
    s["m"] = r.momentum * s["m"] + g / (s["v"].sqrt() + eps)
    return p - r.lr * s["m"]


_UPDATES = {"adam": _adam, "adamw": _adamw, "sgd": _sgd, "rmsprop": _rmsprop}


@pytest.mark.parametrize("optimizer", sorted(_UPDATES))
@pytest.mark.parametrize("loss", ["mse", "bce-with-logits"])
def test_optimizer_steps_match_hand_update(optimizer: str, loss: str) -> None:
    # Three steps, so momentum and the second moments take part.
    recipe = FULL_BATCH.replace(optimizer=optimizer, loss=loss)
    trained, expected = _hand_trained(recipe, steps=3)
    for index, (got, want) in enumerate(zip(trained, expected, strict=True)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=str(index))


def test_adam_and_adamw_decay_differ() -> None:
    adam, _ = _hand_trained(FULL_BATCH.replace(optimizer="adam"), steps=2)
    adamw, _ = _hand_trained(FULL_BATCH.replace(optimizer="adamw"), steps=2)
    assert not torch.allclose(adam[0], adamw[0])


def test_bce_with_logits_loss_equals_bce_on_sigmoid() -> None:
    logits = torch.tensor([[-3.0, 0.5], [2.0, -0.1], [0.0, 7.0]])
    targets = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    with_logits = make_loss("bce-with-logits")(logits, targets)
    on_outputs = make_loss("bce")(torch.sigmoid(logits), targets)
    torch.testing.assert_close(with_logits, on_outputs)


def test_bce_with_logits_training_matches_bce() -> None:
    recipe = FULL_BATCH.replace(epochs=20)
    bce = train(XOR, recipe.replace(loss="bce"), seed=3)
    logits = train(XOR, recipe.replace(loss="bce-with-logits"), seed=3)

    np.testing.assert_allclose(bce.history, logits.history, rtol=1e-5)
    for a, b in zip(bce.model.parameters(), logits.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_logits_model_applies_sigmoid_once() -> None:
    recipe = FULL_BATCH.replace(loss="bce-with-logits")
    model = build_models(XOR, recipe, seed=0)[0]
    inputs, targets = XOR.tensors()

    sigmoids = [m for m in model.modules() if isinstance(m, nn.Sigmoid)]
    assert sigmoids == []
    with torch.no_grad():
        logits = model(inputs)
    torch.testing.assert_close(model.predict(inputs), torch.sigmoid(logits))

    # The first epoch's loss (one full-batch step) is the loss on raw logits.
    result = train(XOR, recipe.replace(epochs=1), seed=0, models=[model])
    p = torch.sigmoid(logits)
    expected = -(targets * p.log() + (1 - targets) * (1 - p).log()).mean()
    assert result.history[0, 0] == pytest.approx(float(expected), rel=1e-5)


def test_sigmoid_model_predict_equals_forward() -> None:
    model = build_models(XOR, FULL_BATCH, seed=0)[0]
    inputs, _ = XOR.tensors()
    assert isinstance(model.layers[-1], nn.Sigmoid)
    with torch.no_grad():
        torch.testing.assert_close(model.predict(inputs), model(inputs))


@pytest.mark.parametrize("hidden", [(), (3,), (8, 8), (5, 4, 3)])
def test_hidden_sizes_build_layers(hidden: tuple[int, ...]) -> None:
    model = MLP(Architecture(n_inputs=3, n_outputs=2, hidden_sizes=hidden))
    shapes = [tuple(linear.weight.shape) for linear in model.linears]
    sizes = (3, *hidden, 2)
    assert shapes == [(b, a) for a, b in zip(sizes, sizes[1:], strict=False)]
    n_parameters = sum(p.numel() for p in model.parameters())
    assert n_parameters == model.architecture.n_parameters


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("relu", torch.relu),
        ("leaky_relu", lambda x: torch.where(x > 0, x, LEAKY_RELU_SLOPE * x)),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("gelu", lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))),
    ],
)
def test_hidden_activation_matches_formula(name: str, reference: object) -> None:
    architecture = Architecture(
        2, 1, (6,), activation=name, output_activation="identity"
    )
    model = MLP(architecture)
    inputs = torch.randn(10, 2)
    first, last = model.linears
    with torch.no_grad():
        expected = last(reference(first(inputs)))  # type: ignore[operator]
        torch.testing.assert_close(model(inputs), expected)


def _gain(nonlinearity: str) -> float:
    gains = {
        "relu": math.sqrt(2),
        "leaky_relu": math.sqrt(2 / (1 + LEAKY_RELU_SLOPE**2)),
        "tanh": 5 / 3,
        "sigmoid": 1.0,
        "linear": 1.0,
    }
    return gains[nonlinearity]


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("init", ["xavier", "kaiming"])
def test_init_bounds_follow_fans_and_gain(init: str, activation: str) -> None:
    torch.manual_seed(0)
    model = MLP(Architecture(300, 200, (400,), activation=activation, init=init))
    for index, linear in enumerate(model.linears):
        fan_out, fan_in = linear.weight.shape
        gain = _gain("linear" if index == 1 else activation)
        if init == "xavier":
            bound = gain * math.sqrt(6 / (fan_in + fan_out))
        else:
            bound = gain * math.sqrt(3 / fan_in)
        largest = float(linear.weight.detach().abs().max())
        assert largest <= bound
        assert largest > 0.99 * bound
        assert not linear.bias.any()


def test_stop_when_solved_stops_after_patience() -> None:
    recipe = Recipe(hidden_sizes=(8,), lr=0.05, batch_size=4, epochs=500, restarts=1)
    stopped = train(XOR, recipe.replace(stop_when_solved=True, patience=7), seed=1)
    solved_epoch = stopped.solved_epochs[0]
    assert solved_epoch is not None
    assert stopped.epochs_run == solved_epoch + 7

    # The same start without stopping: unsolved one epoch earlier, solved then.
    kept = train(
        XOR,
        recipe.replace(epochs=solved_epoch),
        seed=1,
        snapshot_at=[solved_epoch - 1, solved_epoch],
    )
    inputs, targets = XOR.tensors()
    for epoch, expected in ((solved_epoch - 1, False), (solved_epoch, True)):
        model = build_models(XOR, recipe, seed=1)[0]
        model.load_state_dict(kept.snapshots[epoch][0])
        assert bool(rows_correct(model.predict(inputs), targets).all()) == expected


def test_stop_when_solved_epoch_cap_applies() -> None:
    # An lr this small cannot solve XOR in 30 epochs.
    recipe = Recipe(lr=1e-6, batch_size=4, epochs=30, stop_when_solved=True, restarts=1)
    result = train(XOR, recipe, seed=0)
    assert result.epochs_run == 30
    assert result.solved_epochs == [None]


def test_restarts_stopping_at_different_epochs_keep_final_losses() -> None:
    recipe = Recipe(
        hidden_sizes=(8,),
        lr=0.05,
        batch_size=4,
        epochs=500,
        restarts=3,
        stop_when_solved=True,
    )
    result = train(XOR, recipe, seed=2)
    lengths = [epoch for epoch in result.solved_epochs if epoch is not None]
    assert len(set(lengths)) > 1, "pick a seed whose restarts stop apart"
    assert result.epochs_run == max(lengths)
    for index, epoch in enumerate(result.solved_epochs):
        assert epoch is not None
        tail = result.history[epoch - 1 :, index]
        assert (tail == tail[0]).all()
        assert table_solved(result.models[index], XOR)
