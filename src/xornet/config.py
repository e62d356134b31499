"""Architecture and training recipe: frozen dataclasses, presets, validation.

This module imports neither torch nor pandas, so the command line can build
its help text from these dataclasses without loading them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xornet.errors import ConfigError

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "gelu")
INITS = ("default", "xavier", "kaiming")
LOSSES = ("mse", "bce", "bce-with-logits")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
DEVICES = ("cpu", "cuda", "auto")
# Target encodings of the built-in gate tables (see xornet.gates).
ENCODINGS = ("onehot", "bits")


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
        checks = {
            "hidden_sizes": _check_hidden(self.hidden_sizes),
            "activation": _check_choice(self.activation, ACTIVATIONS),
            "init": _check_choice(self.init, INITS),
            "output_activation": _check_choice(
                self.output_activation, ("sigmoid", "identity")
            ),
        }
        problems += [f"{name} {text}" for name, text in checks.items() if text]
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
        False,
        "stop --patience epochs after the first epoch at which every row is "
        "right; --epochs still caps the run",
    )
    patience: int = _option(
        0, "epochs to keep training after the table is first solved"
    )
    restarts: int = _option(
        8, "models trained from different initialisations; the best is kept"
    )
    seed: int | None = _option(None, "random seed")
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
        problems = [f"{flag(name)} {text}" for name, text in self.problems()]
        if self.patience and not self.stop_when_solved and not problems:
            problems.append(
                f"--patience {self.patience} has no effect without "
                "--stop-when-solved; add that flag or drop --patience"
            )
        if problems:
            raise ConfigError("; ".join(problems))

    def problems(self) -> list[tuple[str, str]]:
        """Return ``(field, what is wrong)`` for every invalid field."""
        return [
            (f.name, text)
            for f in dataclasses.fields(self)
            if (text := check_field(f.name, getattr(self, f.name))) is not None
        ]

    def check_table(self, targets: Any) -> None:
        """Raise ConfigError if this recipe cannot train on a table's targets.

        ``targets`` is the table's (rows, n_outputs) array. The binary
        cross-entropy losses need every target to be 0 or 1.
        """
        import numpy as np

        if self.loss in ("bce", "bce-with-logits"):
            odd = sorted({float(v) for v in np.unique(targets)} - {0.0, 1.0})
            if odd:
                raise ConfigError(
                    f"--loss {self.loss} needs targets of 0 or 1, but the table has "
                    f"target {odd[0]:g}; use --loss mse for other targets"
                )


PRESETS: dict[str, Recipe] = {"tutorial": Recipe()}

_FIELD_TYPES = {f.name: f for f in dataclasses.fields(Recipe)}
_POSITIVE_INTS = ("epochs", "batch_size", "restarts")
_CHOICES = {
    "activation": ACTIVATIONS,
    "init": INITS,
    "loss": LOSSES,
    "optimizer": OPTIMIZERS,
    "device": DEVICES,
}


# Upper bounds that catch typos such as --epochs 100000000000 before they run
# for days or exhaust memory. Each is far beyond what a truth table needs.
MAX_VALUES = {"epochs": 10**7, "batch_size": 10**6, "restarts": 10**6}
MAX_HIDDEN = 10**5


def check_field(name: str, value: Any) -> str | None:
    """Return what is wrong with ``value`` for recipe field ``name``, or None.

    The text reads after the option's name, e.g. "must be 0 or more, got -1".
    """
    if name in _CHOICES:
        return _check_choice(value, _CHOICES[name])
    if name == "hidden_sizes":
        return _check_hidden(value)
    if name in _POSITIVE_INTS:
        if not _is_int(value) or value < 1:
            return f"must be a positive integer, got {value!r}"
        if value > MAX_VALUES[name]:
            return f"must be at most {MAX_VALUES[name]:,}, got {value:,}"
    elif name == "momentum":
        if not _is_number(value) or not 0 <= value < 1:
            return f"must be in [0, 1), got {value!r}; 0.9 is usual"
    elif name == "lr":
        if not _is_number(value) or not value > 0:
            return f"must be a positive number, got {value!r}"
    elif name == "weight_decay":
        if not _is_number(value) or not value >= 0:
            return f"must be a number, 0 or more, got {value!r}"
    elif name == "patience":
        if not _is_int(value) or value < 0:
            return f"must be an integer number of epochs, 0 or more, got {value!r}"
    elif name == "seed":
        if value is not None and (not _is_int(value) or not 0 <= value < 2**63):
            return f"must be an integer in [0, 2**63), got {value!r}"
    elif isinstance(_FIELD_TYPES[name].default, bool) and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    return None


def flag(name: str) -> str:
    """Return the command-line flag of a recipe field, e.g. ``--weight-decay``."""
    if name == "hidden_sizes":
        return "--hidden"
    return "--" + name.replace("_", "-")


def parse_hidden(value: Any, name: str = "--hidden") -> tuple[int, ...]:
    """Parse hidden sizes from ``"8,8"``, ``8`` or ``[8, 8]``; ``"none"`` means none.

    ``name`` is the option or key that error messages name.

    Raises:
        ConfigError: the value is not integers, or is an empty string.
    """
    if isinstance(value, str):
        if value.strip().lower() == "none":
            return ()
        parts = [p.strip() for p in value.split(",")]
        if all(p.lstrip("-").isdigit() for p in parts):
            return tuple(int(p) for p in parts)
        raise ConfigError(
            f"{name} must be comma-separated integers such as 3 or 8,8, or none "
            f"for no hidden layer, got {value!r}"
        )
    if _is_int(value):
        return (value,)
    if isinstance(value, list | tuple) and all(_is_int(v) for v in value):
        return tuple(value)
    raise ConfigError(
        f"{name} must be a list of integers such as [8, 8], got {value!r}"
    )


def _check_hidden(hidden_sizes: Any) -> str | None:
    if not isinstance(hidden_sizes, tuple) or not all(map(_is_int, hidden_sizes)):
        return f"must be a tuple of integers, got {hidden_sizes!r}"
    bad = [h for h in hidden_sizes if h < 1]
    if bad:
        return (
            f"sizes must be positive integers, got {bad[0]}; use none for no "
            "hidden layer"
        )
    huge = [h for h in hidden_sizes if h > MAX_HIDDEN]
    if huge:
        return f"sizes must be at most {MAX_HIDDEN:,}, got {huge[0]:,}"
    return None


def _check_choice(value: Any, choices: tuple[str, ...]) -> str | None:
    if value in choices:
        return None
    return f"must be one of {', '.join(choices)}, got {value!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (value == value and abs(value) != float("inf"))
    )


@dataclass(frozen=True)
class RecipeFile:
    """Recipe values read from a TOML file or a run's run.json.

    ``values`` maps recipe fields to checked values, ready for
    :meth:`Recipe.replace`. ``table`` is the truth table stored in a
    run.json (as written by ``TruthTable.to_dict``), or None for TOML.
    """

    path: str
    values: dict[str, Any]
    table: dict[str, Any] | None = None


# Keys accepted in a TOML file besides the field names; dashes also work.
_KEY_ALIASES = {"hidden": "hidden_sizes"}


def load_recipe_file(path: str | Path) -> RecipeFile:
    """Read recipe values from a TOML file or a run.json written by train.

    A TOML file contains recipe keys at the top level (``lr = 0.01``,
    ``hidden_sizes = [8, 8]`` or ``hidden = "8,8"``). A run.json gives its
    ``"recipe"``, seed included, and its ``"table"``.

    Raises:
        ConfigError: the file is missing or unreadable, or a key is unknown or
            has an invalid value; the message names the file and the key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        data, table = _parse_run_json(text, path)
    else:
        data, table = _parse_toml(text, path), None
    return RecipeFile(str(path), _check_keys(data, path), table)


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None


def _parse_run_json(
    text: str, path: Path
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of recipe keys")
    if "recipe" not in data:
        return data, None
    recipe, table = data["recipe"], data.get("table")
    if not isinstance(recipe, dict) or not isinstance(table, dict | None):
        raise ConfigError(f"{path}: the run's recipe or table is not a JSON object")
    return recipe, table


def _check_keys(data: dict[str, Any], path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        name = _KEY_ALIASES.get(name, name)
        if name not in _FIELD_TYPES:
            raise ConfigError(f"{path}: unknown key {key!r}; {_key_hint(name)}")
        if name in values:
            raise ConfigError(f"{path}: key {key!r} repeats {name!r}; keep one")
        if name == "hidden_sizes":
            value = parse_hidden(value, name=f"{path}: key {key!r}")
        problem = check_field(name, value)
        if problem is not None:
            raise ConfigError(f"{path}: key {key!r} {problem}")
        values[name] = value
    return values


def _key_hint(name: str) -> str:
    keys = [*_FIELD_TYPES, *_KEY_ALIASES]
    close = difflib.get_close_matches(name, keys, n=1)
    accepted = f"accepted keys are {', '.join(keys)}"
    return f"did you mean {close[0]!r}? {accepted}" if close else accepted
