"""Build docs/tutorial.ipynb from the cells in this file and execute it.

Run ``python docs/build_tutorial.py`` after changing a cell. It writes the
notebook with fresh outputs; tests/test_tutorial.py executes the stored
notebook again and checks that its outputs still match.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent
NOTEBOOK = HERE / "tutorial.ipynb"
CELLS: list[tuple[str, str]] = []


def md(text: str) -> None:
    CELLS.append(("markdown", text.strip()))


def code(text: str) -> None:
    CELLS.append(("code", text.strip()))


md("""
# Neural networks from a truth table

This tutorial trains a small neural network to compute XOR, the exclusive or of
two bits, and explains every step on the way: the data, the model, the loss,
backpropagation, the optimizer and the training loop. Then it looks at what
the trained network computes, why some training runs fail, and how to go
beyond XOR.

It uses PyTorch and xornet's building blocks, and every number, table and
figure below is computed when the notebook runs. Run it yourself with
`jupyter lab docs/tutorial.ipynb` after `make demo`, or read it here.
""")

code("""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

import xornet
from xornet import engine, plots, runs, training
from xornet.config import Recipe
from xornet.model import MLP
from xornet.tables import TruthTableDataset, load_builtin, load_table

%matplotlib inline
plt.rcParams["figure.dpi"] = 80
workdir = Path(tempfile.mkdtemp(prefix="xornet-tutorial-"))
print("xornet", xornet.__version__, "| torch", torch.__version__.split("+")[0])
""")

md("""
## 1. What a feed-forward network computes

A feed-forward network is a chain of layers. Each layer takes a vector `a`,
computes `z = W a + b` with a weight matrix `W` and a bias vector `b`, and
applies an activation function `f` to every entry: the next vector is
`f(z)`. The first vector is the input, the last is the output.

The tutorial network has 2 inputs, a hidden layer of 3 units with the ReLU
activation, and 2 outputs with the sigmoid activation. Below is xornet's
drawing of such a network, freshly initialised: each line is a weight, its
width shows the weight's size and its colour the sign, and the number at
each unit is its bias.
""")

code("""
table = load_builtin("xor")
torch.manual_seed(0)
untrained = MLP(Recipe().architecture(table.n_inputs, table.n_outputs))
plots.network_figure(untrained, table);
""")

md("""
## 2. Tensors and autograd

A `torch.Tensor` is an n-dimensional array that can live on a CPU or GPU. A
tensor created with `requires_grad=True` records every operation applied to
it, and `backward()` then computes the gradient of a scalar result with
respect to it: this is *autograd*, the machinery that trains networks.

Below, `y = x^2 + 3x` at `x = 2`; its derivative `2x + 3` is 7.
""")

code("""
x = torch.tensor(2.0, requires_grad=True)
y = x**2 + 3 * x
y.backward()
print("y =", y.item(), " dy/dx =", x.grad.item())
""")

md("""
Older tutorials wrap tensors in `torch.autograd.Variable` before training.
Since PyTorch 0.4, tensors track gradients themselves and `Variable` was
merged into `Tensor`: calling it still works but returns a plain tensor, so
new code never needs it.
""")

code("""
wrapped = torch.autograd.Variable(torch.ones(2), requires_grad=True)
print(type(wrapped).__name__, "| requires_grad:", wrapped.requires_grad)
""")

md("""
## 3. The truth table as data

XOR's truth table ships with xornet as `xor.csv`. The inputs are the columns
`IN1` and `IN2`. The targets are one-hot: `OUT1` is XOR and `OUT2` its
complement, so each row has exactly one 1 and the network's job is to put
the larger output on the right column. pandas reads the file:
""")

code("""
table.to_frame()
""")

md("""
A `torch.utils.data.Dataset` gives access to the rows one by one as tensors,
and a `DataLoader` groups them into batches. With batch size 1 and no
shuffling (the tutorial's settings) every epoch visits the four rows in the
same order, one optimizer step per row. Larger batches average the gradient
over several rows per step, and shuffling changes the order every epoch.
""")

code("""
dataset = TruthTableDataset(table)
print("rows:", len(dataset), "| first row:", dataset[0])
for batch_size in (1, 2, 4):
    loader = DataLoader(dataset, batch_size=batch_size)
    shapes = [tuple(inputs.shape) for inputs, _ in loader]
    print(f"batch size {batch_size}: input batches of shape {shapes}")
shuffled = DataLoader(dataset, batch_size=1, shuffle=True,
                      generator=torch.Generator().manual_seed(0))
for epoch in range(2):
    order = [inputs.tolist()[0] for inputs, _ in shuffled]
    print(f"shuffled epoch {epoch + 1}:", order)
""")

md("""
## 4. The model as an `nn.Module`

xornet's `MLP` is an `nn.Module` that holds an `nn.Sequential` of layers. Each
`nn.Linear(n_in, n_out)` owns a weight matrix of shape `(n_out, n_in)` and a
bias of `n_out` values, both initialised by PyTorch from a uniform
distribution that depends on `n_in`. Count the parameters:
""")

code("""
model = MLP(Recipe().architecture(2, 2))
print(model)
for name, parameter in model.named_parameters():
    print(f"{name:16} shape {tuple(parameter.shape)} -> {parameter.numel()} values")
print("total:", sum(p.numel() for p in model.parameters()))
""")

md("""
The forward pass sends a batch through the layers. An untrained network's
outputs are close to 0.5 and mean nothing yet:
""")

code("""
inputs, targets = table.tensors()
with torch.no_grad():
    print(model(inputs))
""")

md("""
## 5. Activation functions

Without an activation function, stacked linear layers collapse into one
linear map, and a linear map followed by a threshold can only separate
classes with a straight line. ReLU (`max(0, z)`) and sigmoid
(`1 / (1 + e^-z)`) bend the map. Their derivatives, which backpropagation
multiplies along the way, are drawn dashed: ReLU passes gradient only where
`z > 0`, and sigmoid's derivative is at most 0.25 and vanishes for large
`|z|`.
""")

code("""
plots.activations_figure(model);
""")

md("""
XOR's classes cannot be split by one straight line: (0,1) and (1,0) sit on
one diagonal, (0,0) and (1,1) on the other. So a network with no hidden
layer cannot learn XOR, whatever its starting weights, while it learns AND
easily. Train 200 initialisations of each, all at once with xornet's
batched engine:
""")

code("""
from xornet.gates import gate_table

no_hidden = Recipe(hidden_sizes=(), lr=0.05, batch_size=4, epochs=2000, restarts=200)
for gate in ("xor", "and"):
    gate_data = gate_table(gate)
    result = engine.train(gate_data, no_hidden, seed=0)
    solved = sum(result.solved)
    print(f"{gate}: {solved} of {len(result.solved)} networks without a hidden layer "
          "solved it")
""")

md("""
## 6. Loss functions

The loss measures how far the outputs are from the targets. The tutorial uses
the mean squared error, `MSE = mean((output - target)^2)`. Binary
cross-entropy, `BCE = -mean(t log(p) + (1 - t) log(1 - p))`, treats each
output as a probability and punishes confident mistakes much harder: as a
wrong output approaches certainty, BCE grows without bound while MSE stays
below 1.
""")

code("""
target = torch.tensor([1.0, 0.0])
rows = []
for p in (0.9, 0.6, 0.4, 0.1, 0.01):
    output = torch.tensor([p, 1 - p])
    rows.append({"output for the 1": p,
                 "MSE": nn.MSELoss()(output, target).item(),
                 "BCE": nn.BCELoss()(output, target).item()})
pd.DataFrame(rows).round(4)
""")

md("""
## 7. Backpropagation on one row

Backpropagation applies the chain rule from the loss back to every weight.
`xornet explain` prints one row's forward pass, loss and backward pass with
the numbers, next to the formulas. Here it explains row 2 (inputs 0, 1) of
the untrained network above.
""")

code("""
from xornet.cli.explain import format_explanation
from xornet.explain import explain_row

explanation = explain_row(model, table, Recipe().to_dict(), row=2)
print(format_explanation(explanation))
""")

md("""
The same gradients from autograd, for comparison:
""")

code("""
model.zero_grad()
loss = nn.MSELoss()(model(inputs[1:2]), targets[1:2])
loss.backward()
for layer_pass, linear in zip(explanation.layers, model.linears, strict=True):
    weight_grad = linear.weight.grad.double().numpy()
    bias_grad = linear.bias.grad.double().numpy()
    same_w = np.allclose(layer_pass.weight_grad, weight_grad, atol=1e-7)
    same_b = np.allclose(layer_pass.bias_grad, bias_grad, atol=1e-7)
    print(f"layer {layer_pass.number}: weight gradient matches autograd: {same_w}, "
          f"bias: {same_b}")
""")

md("""
## 8. Optimizers

Gradient descent moves each weight a small step against its gradient:
`w <- w - lr * grad`. Adam keeps running averages of the gradient (`m`) and
of its square (`v`) and steps by `lr * m / (sqrt(v) + eps)`, so every weight
moves at a similar pace whatever the size of its gradient.

Weight decay pulls weights towards zero. `torch.optim.Adam(weight_decay=...)`,
the tutorial's choice, adds `weight_decay * w` to the gradient before the
averages (coupled L2), so the pull is rescaled like the rest of the
gradient. `AdamW` shrinks the weight directly by `lr * weight_decay * w`
(decoupled). For a weight of 2 whose loss gradient is 0, one step of each:
""")

code("""
for name, optimizer_class in (("Adam", torch.optim.Adam), ("AdamW", torch.optim.AdamW)):
    # float64, because AdamW's step here is below float32's resolution at 2.0.
    w = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([w], lr=0.001, weight_decay=0.0001)
    w.grad = torch.zeros(1, dtype=torch.float64)
    optimizer.step()
    print(f"{name:5}: weight moved by {w.item() - 2.0:+.3e}")
""")

md("""
Coupled decay moved the weight by a full `lr` step, because Adam normalises
the decay term like a gradient. Decoupled decay moved it by `lr * weight_decay
* w`, a much gentler pull.

## 9. The training loop

Here is the tutorial's loop written out: for every epoch, for every batch,
clear the old gradients, run the forward pass, compute the loss, backpropagate
and step. The per-epoch loss is kept as a Python float with `loss.item()`; a
list of loss tensors would keep every step's autograd graph alive and
cannot be plotted directly.
""")

code("""
def train_by_hand(model, table, epochs):
    loader = DataLoader(TruthTableDataset(table), batch_size=1, shuffle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0001)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / len(loader))
    return losses

torch.manual_seed(1)
by_hand = MLP(Recipe().architecture(2, 2))
losses = train_by_hand(by_hand, table, epochs=200)
reference = training.train(table, Recipe(epochs=200, restarts=1), seed=1)
same = losses == reference.history[:, 0].tolist()
print("same losses as xornet's reference trainer:", same)
""")

md("""
xornet's batched engine trains the same recipe, and several initialisations
at once. Below is the full tutorial recipe, 10 000 epochs, first with one
model (the original tutorial) and then with 8 restarts, keeping the best.
""")

code("""
recipe = Recipe(restarts=8)
snapshot_at = training.snapshot_epochs(recipe.epochs)
result = engine.train(table, recipe, seed=2, snapshot_at=snapshot_at)
run_dir, prediction = runs.write_run(workdir / "xor", table, recipe, result)
print(f"{len(result.solved)} trained, {sum(result.solved)} solved; "
      f"kept model {result.kept}")
plots.loss_figure(result.history, result.kept, title="Training loss: XOR, 8 restarts");
""")

code("""
prediction.to_frame()
""")

md("""
## 10. Reading the result

The decision boundary shows the network's output over the whole input square,
not only at the four rows: the line is where the output crosses 0.5.
""")

code("""
plots.boundary_figure(result.model, table);
""")

md("""
Each hidden unit computes `relu(w1 * IN1 + w2 * IN2 + b)`: a ramp that is
zero on one side of a line. The output layer adds the ramps up. A unit that
is zero on every row is *dead*: it passes no gradient and never recovers.
""")

code("""
plots.units_figure(result.model, table);
""")

md("""
## 11. Why some runs fail

Train the tutorial recipe from 500 different initialisations at once and
count how many solve XOR. The 95 % Wilson interval shows how far the true
rate could plausibly be from the measured one.
""")

code("""
from xornet.diagnostics import diagnose
from xornet.stats import wilson_interval

many = engine.train(table, Recipe(restarts=500), seed=100)
solved = np.array(many.solved)
low, high = wilson_interval(int(solved.sum()), len(solved))
print(f"solved {solved.sum()} of {len(solved)} = {solved.mean():.1%} "
      f"(95 % interval {low:.1%} to {high:.1%})")
""")

md("""
`xornet train` diagnoses a failed network in plain words. Counting the kinds
of findings over the failed runs shows how they fail:
""")

code("""
from collections import Counter

kinds = Counter()
for index in np.flatnonzero(~solved):
    for finding in diagnose(many.models[index], table, many.history[:, index]):
        kinds[finding.kind] += 1
print(f"{(~solved).sum()} failed runs; findings:", dict(kinds))
failed = int(np.flatnonzero(~solved)[0])
for finding in diagnose(many.models[failed], table, many.history[:, failed]):
    print("-", finding.message, "|", finding.evidence, "|", finding.suggestion)
""")

md("""
Three remedies: keep the best of 8 restarts (what `xornet train` does by
default), make the hidden layer wider, or use an activation that never
outputs exactly zero.
""")

code("""
def solve_rate(recipe, seed=100, count=500):
    result = engine.train(table, recipe.replace(restarts=count), seed=seed)
    return np.array(result.solved)

# 2000 single runs, also read as 250 groups of 8 restarts.
single = solve_rate(Recipe(), count=2000)
best_of_8 = single.reshape(-1, 8).any(axis=1)
rows = {
    "tutorial recipe (one model)": single,
    "best of 8 restarts": best_of_8,
    "8 hidden units": solve_rate(Recipe(hidden_sizes=(8,))),
    "leaky_relu hidden units": solve_rate(Recipe(activation="leaky_relu")),
}
summary = []
for name, outcomes in rows.items():
    low, high = wilson_interval(int(outcomes.sum()), len(outcomes))
    summary.append({"setting": name, "runs": len(outcomes),
                    "solve rate": f"{outcomes.mean():.1%}",
                    "95 % interval": f"{low:.1%} to {high:.1%}"})
pd.DataFrame(summary)
""")

md("""
`xornet sweep` runs such comparisons from the command line and keeps every
run in `results.csv`, including the first epoch at which each model got all
rows right. Here it compares hidden layers of 2, 3 and 4 units over 100
seeds each, and the figure shows the solve rates and how long the solved
runs took:
""")

code("""
import contextlib
import io

from xornet.cli import main as xornet_main
from xornet.sweep import read_results

sweep_dir = workdir / "width"
with contextlib.redirect_stdout(io.StringIO()):  # the printout names a temporary folder
    xornet_main(["sweep", "--hidden", "2", "3", "4", "--seeds", "100", "--seed", "0",
                 "--restarts", "1", "--out", str(sweep_dir), "-q"])
results = read_results(sweep_dir)
print(results.groupby("config", sort=False)["solved"].mean().round(3).to_string())
plots.sweep_results_figure(results);
""")

md("""
## 12. Beyond XOR

xornet knows the classic gates (`xornet gates` lists them) and reads your own
CSV files. The full adder has three inputs and two output bits (sum and
carry):
""")

code("""
adder = gate_table("full_adder")
adder_recipe = Recipe(
    hidden_sizes=(8,), lr=0.05, batch_size=len(adder), epochs=1000, restarts=8
)
adder_result = engine.train(adder, adder_recipe, seed=0)
runs.predict(adder_result.model, adder).to_frame()
""")

md("""
Your own table is a CSV file with input columns `IN1..INn` and target columns
`OUT1..OUTm`. This one says "at least two of three inputs are on" and leaves
out two rows, which xornet reports:
""")

code("""
csv_path = workdir / "two_of_three.csv"
rows = ["0,0,0,0", "0,0,1,0", "0,1,1,1", "1,0,1,1", "1,1,0,1", "1,1,1,1"]
csv_path.write_text("IN1,IN2,IN3,OUT1\\n" + "\\n".join(rows) + "\\n")
own = load_table(csv_path)
print("missing input combinations:", own.missing_rows)
own_result = engine.train(own, adder_recipe, seed=0)
runs.predict(own_result.model, own).to_frame()
""")

md("""
### Exercises

1. Train the tutorial recipe with `--restarts 1` and different seeds until a
   run fails. Read its findings and draw its `units` figure: which unit is
   dead?
2. Replace MSE with `--loss bce`. Does the solve rate of section 11 change?
3. Find the smallest hidden layer that learns `parity3` reliably (use
   `xornet sweep --gate parity3 --hidden 2 3 4 8 --seeds 200`).
4. Compare `--optimizer adam` and `--optimizer adamw` with a large
   `--weight-decay`, and explain the difference with section 8.
5. Write the truth table of a 2-bit comparator (A > B) as a CSV file and
   train it.
""")


def build() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, source in CELLS:
        if kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            notebook.cells.append(nbformat.v4.new_code_cell(source))
    return notebook


def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in docs/, and store the outputs."""
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute()
    return notebook


def main() -> int:
    notebook = execute(build())
    nbformat.write(notebook, NOTEBOOK)
    print(NOTEBOOK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
