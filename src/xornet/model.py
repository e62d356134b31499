"""The feed-forward network built from an :class:`Architecture`."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from xornet.config import Architecture

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}

# Names that torch.nn.init knows for each hidden activation's gain. GELU has
# none, and behaves like ReLU for positive inputs, so it uses ReLU's.
_GAIN_NAMES: dict[str, Literal["relu", "leaky_relu", "tanh", "sigmoid"]] = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "gelu": "relu",
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

    ``xavier`` and ``kaiming`` draw uniform weights (gain for the hidden
    activation) and set biases to zero.
    """
    if scheme == "default":
        return
    nonlinearity = _GAIN_NAMES[model.architecture.activation]
    for linear in model.linears:
        if scheme == "xavier":
            gain = nn.init.calculate_gain(nonlinearity)
            nn.init.xavier_uniform_(linear.weight, gain=gain)
        else:
            nn.init.kaiming_uniform_(linear.weight, nonlinearity=nonlinearity)
        nn.init.zeros_(linear.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
