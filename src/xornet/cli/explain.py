"""``xornet explain``: one row's forward pass, backward pass and Adam step."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from xornet.cli.common import print_result

if TYPE_CHECKING:
    import numpy as np

    from xornet.explain import Explanation, LayerPass, ParameterStep

# (definition, derivative) of each activation, as printed above its numbers.
ACTIVATION_FORMULAS = {
    "relu": ("relu(z) = max(z, 0)", "relu'(z) = 1 if z > 0, else 0"),
    "leaky_relu": (
        "leaky_relu(z) = z if z > 0, else 0.01 z",
        "leaky_relu'(z) = 1 if z > 0, else 0.01",
    ),
    "tanh": (
        "tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))",
        "tanh'(z) = 1 − tanh(z)²",
    ),
    "sigmoid": ("sigmoid(z) = 1 / (1 + e^(−z))", "sigmoid'(z) = a (1 − a)"),
    "gelu": (
        "gelu(z) = z Φ(z), Φ the standard normal CDF",
        "gelu'(z) = Φ(z) + z φ(z), φ the standard normal density",
    ),
    "identity": ("identity(z) = z (logits)", "identity'(z) = 1"),
}
# (loss, dL/d(network output)) for each loss; y is the output, t the target.
LOSS_FORMULAS = {
    "mse": ("L = (1/m) Σ_j (y_j − t_j)²", "dL/dy = (2/m) (y − t)"),
    "bce": (
        "L = −(1/m) Σ_j [t_j ln y_j + (1 − t_j) ln(1 − y_j)]",
        "dL/dy = (1/m) (y − t) / (y (1 − y))",
    ),
    "bce-with-logits": (
        "L = (1/m) Σ_j [max(y_j, 0) − y_j t_j + ln(1 + e^(−|y_j|))], y = logits",
        "dL/dy = (1/m) (sigmoid(y) − t)",
    ),
}


def add_parser(subparsers: Any) -> None:
    from xornet.cli import add_verbosity

    parser = subparsers.add_parser(
        "explain",
        help="show one row's forward pass, gradients and Adam step",
        description="Print, for one table row and the run's weights, every number "
        "of a training step: the forward pass, the loss, the backward pass by the "
        "chain rule, and the update a fresh Adam optimizer would make. Each block "
        "shows its formula first.",
    )
    parser.add_argument("run", metavar="RUN", help="run folder written by xornet train")
    parser.add_argument(
        "--row",
        type=int,
        required=True,
        metavar="N",
        help="table row to explain, counting from 1",
    )
    add_verbosity(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xornet import runs
    from xornet.explain import explain_row

    saved = runs.load_run(args.run)
    recipe = saved.metadata.get("recipe", {})
    explanation = explain_row(saved.model, saved.table, recipe, args.row)
    print_result(format_explanation(explanation))
    return 0


def format_explanation(e: Explanation) -> str:
    """Return the whole explanation as text, formula lines above numbers."""
    sections = [
        _header(e),
        _forward(e),
        _loss(e),
        _backward(e),
        _optimizer(e),
    ]
    return "\n\n".join(sections)


def _header(e: Explanation) -> str:
    inputs = ", ".join(e.input_columns)
    outputs = ", ".join(e.output_columns)
    sizes = "-".join(str(n) for n in [len(e.x), *(len(lay.z) for lay in e.layers)])
    return "\n".join(
        [
            f"Row {e.row} of table {e.table_name}, network {sizes}",
            f"  x = a0 = ({inputs}) = {_vector(e.x)}",
            f"  t = ({outputs}) = {_vector(e.targets)}",
            "  Notation: layer l computes z_l = W_l a_(l-1) + b_l and a_l = f_l(z_l);",
            "  ⊙ multiplies elementwise, ᵀ transposes, m is the number of outputs.",
        ]
    )


def _forward(e: Explanation) -> str:
    lines = ["== Forward pass =="]
    last = len(e.layers)
    for layer in e.layers:
        n = layer.number
        role = "output" if n == last else "hidden"
        definition, _ = ACTIVATION_FORMULAS[layer.activation]
        lines += [
            f"Layer {n} ({role}, {layer.activation})",
            f"  z{n} = W{n} · a{n - 1} + b{n}",
            *_matrix(f"W{n}", layer.weight),
            _named(f"a{n - 1}", layer.inputs),
            _named(f"b{n}", layer.bias),
            _named(f"z{n}", layer.z),
            f"  a{n} = {layer.activation}(z{n}),  {definition}",
            _named(f"a{n}", layer.a),
        ]
    y = f"a{last}"
    if e.layers[-1].activation == "identity":
        lines.append(
            f"  Output probabilities sigmoid({y}) = {_vector(e.probabilities)}"
        )
    else:
        lines.append(f"  Output y = {y} = {_vector(e.probabilities)}")
    return "\n".join(lines)


def _loss(e: Explanation) -> str:
    formula, _ = LOSS_FORMULAS[e.loss_name]
    return "\n".join(
        [
            f"== Loss ({e.loss_name}) ==",
            f"  {formula},  m = {len(e.targets)}",
            f"  L = {e.loss:.8f}",
        ]
    )


def _backward(e: Explanation) -> str:
    _, gradient = LOSS_FORMULAS[e.loss_name]
    last = len(e.layers)
    lines = [
        "== Backward pass (chain rule) ==",
        f"  {gradient},  y = a{last}",
        _named(f"dL/da{last}", e.output_grad),
    ]
    for layer in reversed(e.layers):
        lines += _layer_backward(layer)
    return "\n".join(lines)


def _layer_backward(layer: LayerPass) -> list[str]:
    n, name = layer.number, layer.activation
    _, derivative = ACTIVATION_FORMULAS[name]
    lines = [
        f"Layer {n}",
        f"  δ{n} = dL/dz{n} = dL/da{n} ⊙ {name}'(z{n}),  {derivative}",
        _named(f"{name}'(z{n})", layer.slope),
        _named(f"δ{n}", layer.delta),
        f"  dL/dW{n} = δ{n} · a{n - 1}ᵀ",
        *_matrix(f"dL/dW{n}", layer.weight_grad),
        f"  dL/db{n} = δ{n}",
        _named(f"dL/db{n}", layer.bias_grad),
    ]
    if n > 1:
        lines += [
            f"  dL/da{n - 1} = W{n}ᵀ · δ{n}",
            _named(f"dL/da{n - 1}", layer.weight.T @ layer.delta),
        ]
    return lines


def _optimizer(e: Explanation) -> str:
    name = "AdamW" if e.optimizer == "adamw" else "Adam"
    decay = (
        "g = dL/dθ, and AdamW first shrinks θ <- θ (1 − lr λ)"
        f"  (decoupled decay, λ = {e.weight_decay:g})"
        if e.optimizer == "adamw"
        else f"g = dL/dθ + λ θ  (coupled L2 weight decay, λ = {e.weight_decay:g})"
    )
    lines = [
        f"== Update: the first step of a fresh {name} ==",
        f"  What torch.optim.{name}(lr={e.lr:g}, weight_decay={e.weight_decay:g}) "
        "would change, created now",
        "  on the run's weights and stepped once on this row: m and v start at 0, "
        "t = 1.",
        "  It is not the run's own next step, whose moments were not saved.",
    ]
    if e.trained_with not in ("adam", "adamw"):
        lines.append(f"  The run itself trained with {e.trained_with}.")
    lines += [
        f"  {decay}",
        "  m = β1 · 0 + (1 − β1) g,  v = β2 · 0 + (1 − β2) g²  (β1 = 0.9, β2 = 0.999)",
        "  m̂ = m / (1 − β1¹) = g,  v̂ = v / (1 − β2¹) = g²",
        f"  Δθ = −lr m̂ / (√v̂ + ε)  (lr = {e.lr:g}, ε = 1e-08), about −lr sign(g)",
        "  θ_new = θ + Δθ",
    ]
    for step in e.steps:
        lines += _step(step)
    return "\n".join(lines)


def _step(step: ParameterStep) -> list[str]:
    kind = "weights" if step.name.startswith("W") else "biases"
    lines = [f"{step.name} (layer {step.name[1:]} {kind})"]
    for label, values in (
        ("θ", step.value),
        ("dL/dθ", step.grad),
        ("g", step.g),
        ("m", step.m),
        ("v", step.v),
        ("Δθ", step.update),
        ("θ_new", step.new_value),
    ):
        lines += _matrix(label, values) if values.ndim == 2 else [_named(label, values)]
    return lines


# Labels are padded to this width so that the numbers of a block line up.
LABEL_WIDTH = 8


def _named(label: str, values: np.ndarray) -> str:
    return f"    {label.ljust(LABEL_WIDTH)} = {_vector(values)}"


def _matrix(label: str, values: np.ndarray) -> list[str]:
    """Format a matrix one row per line, the later rows aligned under the first."""
    prefix = f"    {label.ljust(LABEL_WIDTH)} = "
    style = _style(values)
    rows = [_vector(row, style) for row in values]
    return [prefix + rows[0], *(" " * len(prefix) + row for row in rows[1:])]


def _vector(values: np.ndarray, style: str | None = None) -> str:
    import numpy as np

    style = style or _style(values)
    # Adding 0.0 turns -0.0 (from ReLU and from products with 0) into 0.0.
    numbers = (format(float(v) + 0.0, style) for v in np.ravel(values))
    return "[" + " ".join(numbers) + " ]"


def _style(values: np.ndarray) -> str:
    """Return one format for a whole array, so its columns line up.

    Fixed point shows 6 decimals; scientific notation is used when a nonzero
    entry is too small or too large for them to show it well.
    """
    import numpy as np

    magnitudes = np.abs(values[values != 0])
    if magnitudes.size and (magnitudes.min() < 1e-3 or magnitudes.max() >= 1e4):
        return " .4e"
    return " .6f"
