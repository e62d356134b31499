"""Architecture and training recipe: frozen dataclasses, presets, validation.

This module imports neither torch nor pandas, so the command line can build
its help text from these dataclasses without loading them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from xornet.errors import ConfigError

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu")
INITS = ("default", "xavier", "kaiming")
LOSSES = ("mse", "bce", "bce-with-logits")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
DEVICES = ("cpu", "cuda", "auto")


def _option(default: Any, help: str, **choices: Any) -> Any:
    return field(default=default, metadata={"help": help, **choices})


@dataclass(frozen=True)
class Architecture:
    """The shape of a feed-forward network.

    ``output_activation`` is ``"sigmoid"`` for outputs in (0, 1), or
    ``"identity"`` when the network returns logits (the bce-with-logits loss).
    """

    n_inputs: int
    n_outputs: int
    hidden_sizes: tuple[int, ...] = (3,)
    activation: str = "relu"
    output_activation: str = "sigmoid"
    init: str = "default"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden_sizes, self.n_outputs)

    @property
    def n_parameters(self) -> int:
        sizes = self.layer_sizes
        return sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        """Rebuild an architecture stored by :meth:`to_dict` and validate it."""
        try:
            arch = cls(
                n_inputs=int(data["n_inputs"]),
                n_outputs=int(data["n_outputs"]),
                hidden_sizes=tuple(int(h) for h in data["hidden_sizes"]),
                activation=str(data["activation"]),
                output_activation=str(data["output_activation"]),
                init=str(data.get("init", "default")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"invalid stored architecture: {exc!r}") from None
        arch.validate()
        return arch

    def validate(self) -> None:
        """Raise ConfigError naming every invalid field at once."""
        problems = []
        if self.n_inputs < 1 or self.n_outputs < 1:
            problems.append(
                f"the table needs at least one input and one output column, "
                f"got {self.n_inputs} and {self.n_outputs}"
            )
        problems += _check_hidden(self.hidden_sizes)
        problems += _check_choice("activation", self.activation, ACTIVATIONS)
        problems += _check_choice("init", self.init, INITS)
        problems += _check_choice(
            "output_activation", self.output_activation, ("sigmoid", "identity")
        )
        if problems:
            raise ConfigError("; ".join(problems))


@dataclass(frozen=True)
class Recipe:
    """Everything a user chooses about a training run.

    The defaults are the tutorial recipe: a 3-unit ReLU hidden layer, MSE
    loss, Adam with lr 0.001 and coupled L2 weight decay 0.0001, 10 000
    epochs of batch size 1 without shuffling. One difference: 8 models train
    from different initialisations and the best is kept, because about a
    quarter of single tutorial runs end unsolved.
    """

    hidden_sizes: tuple[int, ...] = _option(
        (3,), "hidden layer sizes, comma-separated, e.g. 8,8; none for no hidden layer"
    )
    activation: str = _option("relu", "hidden activation", choices=ACTIVATIONS)
    init: str = _option(
        "default",
        "weight initialisation: default is PyTorch's nn.Linear initialisation",
        choices=INITS,
    )
    loss: str = _option(
        "mse",
        "loss function; bce-with-logits trains on logits and applies the "
        "sigmoid only to report outputs",
        choices=LOSSES,
    )
    optimizer: str = _option(
        "adam",
        "optimizer: adam adds weight_decay * weights to the gradient (coupled "
        "L2, as the tutorial), adamw shrinks the weights directly (decoupled)",
        choices=OPTIMIZERS,
    )
    lr: float = _option(0.001, "learning rate")
    weight_decay: float = _option(0.0001, "weight decay factor (0 turns it off)")
    momentum: float = _option(0.9, "momentum, used by sgd and rmsprop")
    epochs: int = _option(10_000, "number of passes over the table (maximum)")
    batch_size: int = _option(1, "rows per optimizer step")
    shuffle: bool = _option(False, "shuffle the rows every epoch")
    stop_when_solved: bool = _option(
        False, "stop once every row is right for --patience more epochs"
    )
    patience: int = _option(0, "epochs to keep training after solving (epochs)")
    restarts: int = _option(
        8, "models trained from different initialisations; the best is kept"
    )
    seed: int | None = _option(None, "random seed (default: drawn and recorded)")
    device: str = _option("cpu", "device to train on", choices=DEVICES)

    def architecture(self, n_inputs: int, n_outputs: int) -> Architecture:
        """Return the network shape for a table with these column counts."""
        output_activation = "identity" if self.loss == "bce-with-logits" else "sigmoid"
        return Architecture(
            n_inputs=n_inputs,
            n_outputs=n_outputs,
            hidden_sizes=self.hidden_sizes,
            activation=self.activation,
            output_activation=output_activation,
            init=self.init,
        )

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """Build a recipe from a mapping, rejecting unknown keys, and validate it."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown recipe option {unknown[0]!r}; known options are "
                f"{', '.join(known)}"
            )
        values = dict(data)
        if "hidden_sizes" in values:
            values["hidden_sizes"] = parse_hidden(values["hidden_sizes"])
        recipe = cls(**values)
        recipe.validate()
        return recipe

    def validate(self) -> None:
        """Raise ConfigError naming every invalid option at once."""
        problems = _check_hidden(self.hidden_sizes)
        problems += _check_choice("activation", self.activation, ACTIVATIONS)
        problems += _check_choice("init", self.init, INITS)
        problems += _check_choice("loss", self.loss, LOSSES)
        problems += _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        problems += _check_choice("device", self.device, DEVICES)
        for name in ("epochs", "batch_size", "restarts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{_flag(name)} must be a positive integer, got {value!r}")
        if not _is_number(self.lr) or not self.lr > 0:
            problems.append(f"--lr must be a positive number, got {self.lr!r}")
        for name in ("weight_decay", "momentum"):
            value = getattr(self, name)
            if not _is_number(value) or not value >= 0:
                problems.append(f"{_flag(name)} must be 0 or more, got {value!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or (
            self.patience < 0
        ):
            problems.append(f"--patience must be 0 or more epochs, got {self.patience!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed < 2**63
        ):
            problems.append(f"--seed must be an integer in [0, 2**63), got {self.seed!r}")
        if problems:
            raise ConfigError("; ".join(problems))


PRESETS: dict[str, Recipe] = {"tutorial": Recipe()}


def parse_hidden(value: Any) -> tuple[int, ...]:
    """Parse hidden sizes from ``"8,8"``, ``8`` or ``[8, 8]``; ``"none"`` means none."""
    if isinstance(value, str):
        if value.strip().lower() == "none":
            return ()
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(
                f"--hidden must be comma-separated integers such as 3 or 8,8, "
                f"got {value!r}"
            ) from None
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"hidden_sizes must be a list of integers, got {value!r}") from None


def _check_hidden(hidden_sizes: tuple[int, ...]) -> list[str]:
    bad = [h for h in hidden_sizes if h < 1]
    if bad:
        return [f"--hidden sizes must be positive integers, got {bad[0]}"]
    return []


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> list[str]:
    if value in choices:
        return []
    return [f"unknown {_flag(name)} {value!r}; choose one of {', '.join(choices)}"]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and (
        value == value and abs(value) != float("inf")
    )
