"""The feed-forward network built from an :class:`Architecture`."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from xornet.config import Architecture

# nn.LeakyReLU's default negative slope, which the hidden layers use.
LEAKY_RELU_SLOPE = 0.01

_Nonlinearity = Literal["linear", "relu", "leaky_relu", "tanh", "sigmoid"]
# The torch.nn.init gain of each hidden activation; GELU has none, so ReLU's.
_GAINS: dict[str, _Nonlinearity] = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "gelu": "relu",
}

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}


class MLP(nn.Module):
    """Linear layers with a hidden activation between them.

    For the tutorial architecture this is ``Linear(2, 3) -> ReLU ->
    Linear(3, 2) -> Sigmoid``. With ``output_activation="identity"`` the last
    layer returns logits and :meth:`predict` applies the sigmoid.
    """

    def __init__(self, architecture: Architecture) -> None:
        super().__init__()
        architecture.validate()
        self.architecture = architecture
        sizes = architecture.layer_sizes
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[architecture.activation]())
        if architecture.output_activation == "sigmoid":
            layers.append(nn.Sigmoid())
        self.layers = nn.Sequential(*layers)
        init_weights(self, architecture.init)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return outputs in (0, 1) for a batch of inputs, in eval mode."""
        was_training = self.training
        self.eval()
        outputs = self(inputs)
        if self.architecture.output_activation == "identity":
            outputs = torch.sigmoid(outputs)
        self.train(was_training)
        return outputs


def init_weights(model: MLP, scheme: str) -> None:
    """Re-initialise the linear layers; ``"default"`` keeps PyTorch's init.

    ``xavier`` and ``kaiming`` draw uniform weights and set biases to zero.
    Each layer's gain is that of the nonlinearity after it: the hidden
    activation for hidden layers, 1 for the output layer (sigmoid or logits).
    GELU has no gain in ``torch.nn.init``, so it uses ReLU's.
    """
    if scheme == "default":
        return
    linears = model.linears
    for index, linear in enumerate(linears):
        is_output = index == len(linears) - 1
        nonlinearity = "linear" if is_output else _GAINS[model.architecture.activation]
        slope = LEAKY_RELU_SLOPE if nonlinearity == "leaky_relu" else 0.0
        if scheme == "xavier":
            gain = nn.init.calculate_gain(nonlinearity, slope)
            nn.init.xavier_uniform_(linear.weight, gain=gain)
        else:
            nn.init.kaiming_uniform_(linear.weight, a=slope, nonlinearity=nonlinearity)
        nn.init.zeros_(linear.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
