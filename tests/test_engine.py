"""The batched engine against the reference loop and against autograd."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xornet import engine, kernels, training
from xornet.config import Recipe
from xornet.errors import ConfigError, TrainingError
from xornet.model import MLP
from xornet.tables import TruthTable, load_builtin

TOLERANCE = 1e-5
EPOCHS = 12

# Short runs with a large lr, so the weights move far within a few epochs.
RECIPES = {
    "tutorial": {},
    "full_batch": {"batch_size": 4},
    "shuffle": {"shuffle": True, "batch_size": 3},
    "shuffle_batch_1": {"shuffle": True},
    "adamw": {"optimizer": "adamw"},
    "sgd_momentum": {"optimizer": "sgd"},
    "sgd_plain": {"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.0},
    "rmsprop_momentum": {"optimizer": "rmsprop"},
    "rmsprop_plain": {"optimizer": "rmsprop", "momentum": 0.0},
    "bce": {"loss": "bce"},
    "bce_with_logits": {"loss": "bce-with-logits"},
    "tanh": {"activation": "tanh"},
    "leaky_relu": {"activation": "leaky_relu"},
    "sigmoid_hidden": {"activation": "sigmoid"},
    "xavier": {"init": "xavier"},
    "wide": {"hidden_sizes": (8,)},
}
# Networks that only the stacked backend trains.
STACKED_ONLY = {
    "two_hidden_layers": {"hidden_sizes": (4, 3)},
    "no_hidden_layer": {"hidden_sizes": ()},
    "gelu": {"activation": "gelu"},
    "two_layers_bce_shuffle": {
        "hidden_sizes": (3, 3),
        "loss": "bce",
        "shuffle": True,
        "batch_size": 2,
    },
}


def xor() -> TruthTable:
    return load_builtin("xor")


def bits_table() -> TruthTable:
    """A 3-input table with two bit targets (not one-hot): parity and AND."""
    inputs = np.array(
        [[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=np.float32
    )
    targets = np.stack([inputs.sum(axis=1) % 2, inputs.min(axis=1)], axis=1).astype(
        np.float32
    )
    return TruthTable("bits", ("IN1", "IN2", "IN3"), ("OUT1", "OUT2"), inputs, targets)


def run_both(
    table: TruthTable, recipe: Recipe, backend: str, seed: int = 3
) -> tuple[training.TrainResult, engine.StackedResult]:
    """Train the same initial models with the reference loop and the engine."""
    models = training.build_models(table, recipe, seed)
    epochs = list(range(recipe.epochs + 1))
    reference = training.train(
        table, recipe, seed, models=copy.deepcopy(models), snapshot_at=epochs
    )
    batched = engine.train_stacked(
        table,
        recipe,
        engine.stack_models(models),
        seed=seed,
        backend=backend,
        snapshot_at=epochs,
    )
    return reference, batched


def max_weight_gap(
    expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor]
) -> float:
    assert expected.keys() == actual.keys()
    return max(float((expected[k] - actual[k]).abs().max()) for k in expected)


def assert_same_every_epoch(
    reference: training.TrainResult, batched: engine.StackedResult
) -> None:
    assert batched.epochs_run == reference.epochs_run
    for epoch, states in reference.snapshots.items():
        for k, state in enumerate(states):
            gap = max_weight_gap(state, batched.snapshots[epoch][k])
            assert gap < TOLERANCE, f"model {k} differs by {gap} after epoch {epoch}"
    assert batched.history is not None
    np.testing.assert_allclose(batched.history, reference.history, atol=TOLERANCE)
    assert batched.solved.tolist() == reference.solved


@pytest.mark.parametrize("backend", ["stacked", "numpy", "torch"])
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_backend_matches_reference(backend: str, name: str) -> None:
    recipe = Recipe(restarts=3, epochs=EPOCHS, lr=0.05, **RECIPES[name])
    assert_same_every_epoch(*run_both(xor(), recipe, backend))


@pytest.mark.parametrize("name", sorted(STACKED_ONLY))
def test_stacked_matches_reference_deep(name: str) -> None:
    recipe = Recipe(restarts=3, epochs=EPOCHS, lr=0.05, **STACKED_ONLY[name])
    assert_same_every_epoch(*run_both(xor(), recipe, "stacked"))


@pytest.mark.parametrize("backend", ["stacked", "numpy"])
def test_backend_matches_reference_bit_targets(backend: str) -> None:
    recipe = Recipe(restarts=3, epochs=EPOCHS, lr=0.05, batch_size=3, shuffle=True)
    assert_same_every_epoch(*run_both(bits_table(), recipe, backend))


@pytest.mark.parametrize("backend", ["stacked", "numpy", "torch"])
def test_stop_when_solved_matches_reference(backend: str) -> None:
    recipe = Recipe(restarts=6, epochs=60, lr=0.1, stop_when_solved=True, patience=5)
    table = xor()
    models = training.build_models(table, recipe, 0)
    reference = training.train(table, recipe, 0, models=copy.deepcopy(models))
    # The reference loop trains each model until its own stop, so its
    # final weights are what every model must end with in the engine.
    batched = engine.train_stacked(
        table, recipe, engine.stack_models(models), seed=0, backend=backend
    )
    names = list(models[0].state_dict())
    final = engine.unstack_states(batched.weights, names)
    for k, model in enumerate(reference.models):
        gap = max_weight_gap(model.state_dict(), final[k])
        assert gap < TOLERANCE, f"model {k} differs by {gap}"
    expected_epochs = [-1 if e is None else e for e in reference.solved_epochs]
    assert batched.solved_epochs.tolist() == expected_epochs
    assert 0 < sum(batched.solved) < len(models), "pick a seed with mixed outcomes"


@pytest.mark.parametrize("backend", ["stacked", "numpy"])
def test_stopped_models_stop_changing(backend: str) -> None:
    recipe = Recipe(restarts=6, epochs=60, lr=0.1, stop_when_solved=True)
    table = xor()
    weights = engine.stack_models(training.build_models(table, recipe, 0))
    snapshots = list(range(61))
    batched = engine.train_stacked(
        table, recipe, weights, seed=0, backend=backend, snapshot_at=snapshots
    )
    stopped = [k for k, e in enumerate(batched.solved_epochs) if e >= 0]
    assert stopped
    for k in stopped:
        stop = int(batched.solved_epochs[k])
        frozen = batched.snapshots[stop][k]
        for epoch in range(stop, batched.epochs_run + 1):
            assert max_weight_gap(frozen, batched.snapshots[epoch][k]) == 0.0


def test_train_returns_reference_result() -> None:
    recipe = Recipe(restarts=4, epochs=60, lr=0.05)
    table = xor()
    models = training.build_models(table, recipe, 2)
    reference = training.train(table, recipe, 2, models=copy.deepcopy(models))
    result = engine.train(table, recipe, 2)
    assert result.solved == reference.solved
    assert result.kept == reference.kept
    assert result.seed == 2
    assert result.epochs_run == reference.epochs_run
    np.testing.assert_allclose(result.history, reference.history, atol=TOLERANCE)
    for k, model in enumerate(reference.models):
        gap = max_weight_gap(model.state_dict(), result.models[k].state_dict())
        assert gap < TOLERANCE


def test_train_updates_given_models_in_place() -> None:
    recipe = Recipe(restarts=2, epochs=5, lr=0.05)
    models = training.build_models(xor(), recipe, 0)
    before = copy.deepcopy(models[0].state_dict())
    result = engine.train(xor(), recipe, 0, models=models)
    assert result.models[0] is models[0]
    assert max_weight_gap(before, models[0].state_dict()) > 0


def random_network(shape: kernels.Shape, count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    rows = shape.first_rows + (shape.hidden + 1) * shape.outputs
    return torch.randn(rows, count, generator=generator)


@pytest.mark.parametrize("activation", kernels.ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mse", "bce", "bce-with-logits"])
def test_kernel_gradients_match_autograd(activation: str, loss: str) -> None:
    # float64 on both sides, so any gap is a wrong formula, not rounding.
    shape = kernels.Shape(inputs=3, hidden=5, outputs=2)
    params = random_network(shape, count=7, seed=1).double()
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randn(6, shape.inputs, generator=generator).double()
    targets = (torch.rand(6, shape.outputs, generator=generator) > 0.5).double()
    losses, grad, _ = kernels.gradients(
        np, params.numpy(), inputs.numpy(), targets.numpy(), shape, activation, loss
    )

    leaf = params.clone().requires_grad_(True)
    _, _, z2 = kernels.forward(torch, leaf, inputs, shape, activation)
    outputs = z2 if loss == "bce-with-logits" else torch.sigmoid(z2)
    loss_fn = training.make_loss(loss)
    per_model = torch.stack([loss_fn(outputs[:, :, k], targets) for k in range(7)])
    # The summed per-model losses differentiate into each model's gradient.
    per_model.sum().backward()
    assert leaf.grad is not None
    np.testing.assert_allclose(grad, leaf.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(losses, per_model.detach().numpy(), rtol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_kernel_pack_round_trip(backend: str) -> None:
    recipe = Recipe(restarts=3, hidden_sizes=(4,))
    weights = engine.stack_models(training.build_models(xor(), recipe, 0))
    trainer = engine.make_trainer(xor(), recipe, weights, "cpu", backend)
    for before, after in zip(weights, trainer.weights(), strict=True):
        assert torch.equal(before, after)


def test_kernel_all_correct_matches_predict() -> None:
    recipe = Recipe(restarts=40, epochs=1)
    table = xor()
    models = training.build_models(table, recipe, 9)
    trainer = engine.make_trainer(
        table, recipe, engine.stack_models(models), "cpu", "numpy"
    )
    expected = [training.table_solved(m, table) for m in models]
    assert trainer.all_correct().tolist() == expected


def test_nan_loss_raises_naming_epoch() -> None:
    recipe = Recipe(restarts=2, epochs=50, optimizer="sgd", lr=1e20)
    with pytest.raises(TrainingError, match=r"at epoch \d+; try a smaller --lr"):
        engine.train(xor(), recipe, 0)


def test_diverged_models_freeze_when_asked() -> None:
    recipe = Recipe(restarts=2, epochs=50, optimizer="sgd", lr=1e20)
    weights = engine.stack_models(training.build_models(xor(), recipe, 0))
    result = engine.train_stacked(xor(), recipe, weights, seed=0, freeze_diverged=True)
    assert result.epochs_run == 50
    assert not np.isfinite(result.final_losses).any()
    assert not result.solved.any()


@pytest.mark.parametrize("backend", ["stacked", "numpy"])
def test_interrupt_returns_partial_result(backend: str) -> None:
    recipe = Recipe(restarts=3, epochs=50)
    weights = engine.stack_models(training.build_models(xor(), recipe, 0))

    def interrupt_at_third(epoch: int, loss: float) -> None:
        if epoch == 3:
            raise KeyboardInterrupt

    result = engine.train_stacked(
        xor(), recipe, weights, seed=0, backend=backend, progress=interrupt_at_third
    )
    assert result.interrupted
    assert result.epochs_run == 3
    assert result.history is not None
    assert result.history.shape == (3, 3)


def test_progress_reports_every_epoch() -> None:
    seen: list[int] = []
    engine.train(
        xor(), Recipe(restarts=2, epochs=7), 0, progress=lambda e, _: seen.append(e)
    )
    assert seen == list(range(1, 8))


def test_train_chunks_match_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = Recipe(restarts=5, epochs=8, lr=0.05)
    whole = engine.train(xor(), recipe, 4)
    monkeypatch.setattr(engine, "CHUNK_MODELS", 2)
    chunked = engine.train(xor(), recipe, 4)
    # Batched matmuls may round differently for another number of models.
    np.testing.assert_allclose(chunked.history, whole.history, atol=1e-6)
    assert chunked.solved == whole.solved


def test_numpy_backend_repeats_bit_for_bit() -> None:
    recipe = Recipe(restarts=3, epochs=20)
    first = engine.train(xor(), recipe, 8)
    second = engine.train(xor(), recipe, 8)
    for a, b in zip(first.models, second.models, strict=True):
        for name, tensor in a.state_dict().items():
            assert torch.equal(tensor, b.state_dict()[name])


def test_backend_choice_by_network() -> None:
    weights = engine.stack_models(training.build_models(xor(), Recipe(restarts=2), 0))
    tutorial = engine.make_trainer(xor(), Recipe(), weights, "cpu")
    assert isinstance(tutorial, kernels.HiddenLayerTrainer)
    deep = Recipe(hidden_sizes=(3, 3), restarts=2)
    deep_weights = engine.stack_models(training.build_models(xor(), deep, 0))
    assert isinstance(
        engine.make_trainer(xor(), deep, deep_weights, "cpu"), engine.StackedTrainer
    )


def test_cuda_unavailable_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="--device cuda requested"):
        engine.resolve_device("cuda")
    assert engine.resolve_device("auto") == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backend", ["stacked", "torch"])
def test_cuda_matches_reference(backend: str) -> None:
    recipe = Recipe(restarts=3, epochs=EPOCHS, lr=0.05)
    table = xor()
    models = training.build_models(table, recipe, 3)
    reference = training.train(
        table, recipe, 3, models=copy.deepcopy(models), snapshot_at=[EPOCHS]
    )
    batched = engine.train_stacked(
        table,
        recipe,
        engine.stack_models(models),
        seed=3,
        device="cuda",
        backend=backend,
        snapshot_at=[EPOCHS],
    )
    for k, state in enumerate(reference.snapshots[EPOCHS]):
        assert max_weight_gap(state, batched.snapshots[EPOCHS][k]) < TOLERANCE


def test_stack_models_shapes() -> None:
    models = [MLP(Recipe().architecture(2, 2)) for _ in range(4)]
    shapes = [tuple(w.shape) for w in engine.stack_models(models)]
    assert shapes == [(4, 3, 2), (4, 3), (4, 2, 3), (4, 2)]


def test_failed_compile_falls_back_to_eager(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_compile(function: object, **options: object) -> object:
        def fail(*args: object) -> object:
            raise RuntimeError("no C++ compiler")

        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    recipe = Recipe(restarts=3, epochs=EPOCHS, lr=0.05, batch_size=4)
    table = xor()
    models = training.build_models(table, recipe, 3)
    epochs = list(range(EPOCHS + 1))
    reference = training.train(
        table, recipe, 3, models=copy.deepcopy(models), snapshot_at=epochs
    )
    batched = engine.train_stacked(
        table,
        recipe,
        engine.stack_models(models),
        seed=3,
        backend="torch",
        compile_step=True,
        snapshot_at=epochs,
    )
    assert_same_every_epoch(reference, batched)
    assert "torch.compile failed for the training step" in caplog.text


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_solved_epochs_checked_in_step(backend: str) -> None:
    # Full batches let the step judge the previous epoch's weights; the
    # stacked backend judges every epoch with a separate forward pass.
    recipe = Recipe(restarts=12, epochs=80, lr=0.1, batch_size=4)
    table = xor()
    weights = engine.stack_models(training.build_models(table, recipe, 5))
    expected = engine.train_stacked(
        table, recipe, weights, seed=5, backend="stacked", track_solved=True
    )
    actual = engine.train_stacked(
        table, recipe, weights, seed=5, backend=backend, track_solved=True
    )
    assert (expected.solved_epochs > 0).any()
    assert actual.solved_epochs.tolist() == expected.solved_epochs.tolist()


@pytest.mark.parametrize("name", ["tutorial", "full_batch", "shuffle", "bce", "tanh"])
def test_generic_numpy_kernel_matches_reference(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many models use the generic kernel on numpy instead of NumpyStep.
    monkeypatch.setattr(kernels, "NUMPY_STEP_MAX_ROWS", 0)
    recipe = Recipe(restarts=3, epochs=EPOCHS, lr=0.05, **RECIPES[name])
    assert_same_every_epoch(*run_both(xor(), recipe, "numpy"))
