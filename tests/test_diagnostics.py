"""Findings on networks whose weights are set by hand to show each failure."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from xornet.cli import main
from xornet.config import Architecture, Recipe
from xornet.diagnostics import FINDING_KINDS, constant_output_loss, diagnose
from xornet.gates import gate_table
from xornet.model import MLP
from xornet.training import train

XOR = gate_table("xor")  # one-hot: OUT1 is XOR, OUT2 its complement
# A loss that fell steadily from 0.3 to 0.05: no stalled_loss finding.
FALLING = np.linspace(0.3, 0.05, 200)


def _network(hidden: tuple[int, ...], *weights: list[list[float]]) -> MLP:
    """Return an MLP whose linear layers get ``weights`` as [W | b] rows."""
    model = MLP(Architecture(2, 2, hidden))
    with torch.no_grad():
        for linear, rows in zip(model.linears, weights, strict=True):
            matrix = torch.tensor(rows)
            linear.weight.copy_(matrix[:, :-1])
            linear.bias.copy_(matrix[:, -1])
    return model


def _kinds(findings: list) -> list[str]:
    return [finding.kind for finding in findings]


def test_dead_units_named_by_layer_and_unit() -> None:
    # Unit 1 is a + b; units 2 and 3 have pre-activation <= -0.5 on every row.
    # One live unit maps (0,1) and (1,0) to 1 but (0,0) to 0 and (1,1) to 2,
    # which no single threshold separates, so XOR stays unsolved.
    model = _network(
        (3,),
        [[1, 1, 0], [-1, -1, -0.5], [-2, 0, -1]],
        [[0.1, 0, 0, 0], [-0.1, 0, 0, 0]],
    )
    findings = diagnose(model, XOR, FALLING)

    assert _kinds(findings) == ["dead_units"]
    message = findings[0].message
    assert "2 of 3 hidden units" in message
    assert "layer 1 unit 2" in message
    assert "layer 1 unit 3" in message
    assert "unit 1" not in message
    assert "-0.5" in findings[0].evidence


def test_dead_units_in_second_layer() -> None:
    model = MLP(Architecture(2, 2, (2, 2)))
    with torch.no_grad():
        first, second, last = model.linears
        first.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        first.bias.zero_()
        second.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
        second.bias.copy_(torch.tensor([0.0, -1.0]))
        last.weight.fill_(0.1)
        last.bias.zero_()
    findings = diagnose(model, XOR, FALLING)
    assert "dead_units" in _kinds(findings)
    assert "layer 2 unit 2" in findings[0].message
    assert "layer 1" not in findings[0].message


def test_merged_rows_names_rows_of_different_classes() -> None:
    # One unit relu(a - b) is 0 on rows 1, 2 and 4 and 1 on row 3, so rows
    # 1 and 2 (targets differ) and rows 2 and 4 (targets differ) merge.
    model = _network((1,), [[1, -1, 0]], [[0.5, 0], [-0.5, 0]])
    findings = diagnose(model, XOR, FALLING)

    assert _kinds(findings) == ["merged_rows"]
    message = findings[0].message
    assert "row 1 (0,0) and row 2 (0,1)" in message
    assert "row 2 (0,1) and row 4 (1,1)" in message
    assert "row 1 (0,0) and row 4 (1,1)" not in message
    assert "row 3" not in message


def test_saturated_outputs_on_wrong_side() -> None:
    # No hidden layer, constant logits -8 and +8: OUT1 is near 0 everywhere,
    # wrong and saturated on rows 2 and 3, where XOR is 1.
    model = _network((), [[0, 0, -8], [0, 0, 8]])
    findings = diagnose(model, XOR, FALLING)

    assert _kinds(findings) == ["saturated_outputs"]
    message = findings[0].message
    assert "OUT1 on rows 2, 3" in message
    assert "OUT2 on rows 2, 3" in message
    slope = 1 / (1 + math.exp(-8)) * (1 / (1 + math.exp(8)))
    assert f"{slope:.2g}" in findings[0].evidence
    assert "bce-with-logits" in findings[0].suggestion


def test_saturated_outputs_bce_suggestion() -> None:
    model = _network((), [[0, 0, -8], [0, 0, 8]])
    findings = diagnose(model, XOR, FALLING, loss="bce")
    assert "bce-with-logits" not in findings[0].suggestion


@pytest.mark.parametrize(
    ("targets", "loss", "expected"),
    [
        (XOR.targets, "mse", 0.25),
        (XOR.targets, "bce", math.log(2)),
        (gate_table("and", "bits").targets, "mse", 3 / 16),
        (
            gate_table("and", "bits").targets,
            "bce-with-logits",
            -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)),
        ),
        (gate_table("true", "bits").targets, "bce", 0.0),
    ],
)
def test_constant_output_loss_hand_computed(
    targets: np.ndarray, loss: str, expected: float
) -> None:
    assert constant_output_loss(targets, loss) == pytest.approx(expected, abs=1e-9)


def test_constant_output_loss_matches_torch() -> None:
    targets = torch.from_numpy(gate_table("full_adder").targets)
    best = targets.mean(dim=0, keepdim=True).expand_as(targets)
    expected = torch.nn.functional.binary_cross_entropy(best, targets)
    got = constant_output_loss(targets.numpy(), "bce")
    assert got == pytest.approx(float(expected), rel=1e-6)


def _stalled(history: np.ndarray, loss: str = "mse") -> list:
    # The dead-unit network fails XOR, so diagnose looks at the history.
    model = _network(
        (3,),
        [[1, 1, 0], [-1, -1, -0.5], [-2, 0, -1]],
        [[0.1, 0, 0, 0], [-0.1, 0, 0, 0]],
    )
    findings = diagnose(model, XOR, history, loss=loss)
    return [f for f in findings if f.kind == "stalled_loss"]


def test_stalled_loss_at_constant_output() -> None:
    history = np.concatenate([np.linspace(0.4, 0.25, 100), np.full(100, 0.2501)])
    [finding] = _stalled(history)
    assert "best constant output" in finding.message
    assert "a constant output scores 0.25" in finding.evidence


def test_stalled_loss_at_constant_bce() -> None:
    history = np.concatenate([np.linspace(1.5, 0.7, 100), np.full(100, 0.6935)])
    [finding] = _stalled(history, loss="bce")
    assert f"scores {math.log(2):.4g}" in finding.evidence


def test_stalled_loss_lr_too_small() -> None:
    history = np.linspace(0.2, 0.199, 1000)  # still falling, 0.5 % in total
    [finding] = _stalled(history)
    assert "learning rate is too small" in finding.message
    assert "--lr" in finding.suggestion


def test_stalled_loss_plateau() -> None:
    history = np.concatenate([np.linspace(0.2, 0.195, 50), np.full(950, 0.195)])
    [finding] = _stalled(history)
    assert "plateau" in finding.message


def test_stalled_loss_absent_when_loss_fell() -> None:
    assert _stalled(FALLING) == []


def test_solved_network_has_no_findings() -> None:
    recipe = Recipe(hidden_sizes=(8,), lr=0.05, batch_size=4, epochs=300, restarts=1)
    result = train(XOR, recipe, seed=0)
    assert result.solved == [True]
    assert diagnose(result.model, XOR, result.history[:, 0]) == []


def test_solved_network_with_dead_unit_has_no_findings() -> None:
    # Findings explain failures, so a solved network with a dead unit has none.
    model = _network(
        (3,),
        [[1, -1, 0], [-1, 1, 0], [-1, -1, -1]],
        [[4, 4, 0, -2], [-4, -4, 0, 2]],
    )
    assert diagnose(model, XOR, np.full(10, 0.25)) == []


def test_finding_kinds_are_listed() -> None:
    model = _network((1,), [[0, 0, -1]], [[0, 0], [0, 0]])
    for finding in diagnose(model, XOR, np.full(50, 0.25)):
        assert finding.kind in FINDING_KINDS
        assert set(finding.to_dict()) == {"kind", "message", "evidence", "suggestion"}


def test_cli_train_prints_and_records_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No hidden layer cannot learn XOR: the loss settles at the constant's 0.25.
    out = tmp_path / "run"
    argv = ["train", "--hidden", "none", "--lr", "0.05", "--batch-size", "4"]
    argv += ["--epochs", "300", "--seed", "0", "-q", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    findings = json.loads((out / "run.json").read_text())["findings"]

    assert "stalled_loss" in [f["kind"] for f in findings]
    for finding in findings:
        assert finding["message"] in stdout
        assert finding["evidence"] in stdout
        assert finding["suggestion"] in stdout
    assert stdout.index("not solved") < stdout.index(findings[0]["message"])


def test_cli_train_solved_run_records_no_findings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", "--hidden", "8", "--lr", "0.05", "--batch-size", "4"]
    argv += ["--epochs", "300", "--seed", "0", "-q", "--out", str(out)]
    assert main(argv) == 0
    assert json.loads((out / "run.json").read_text())["findings"] == []
