"""Recipe flags generated from the :class:`~xornet.config.Recipe` dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from xornet.config import PRESETS, Recipe, flag, load_recipe_file, parse_hidden
from xornet.errors import ConfigError

# Flags whose argparse type differs from the field's default value's type.
_TYPES: dict[str, Any] = {"seed": int, "hidden_sizes": str}


def recipe_flag(name: str) -> str:
    return flag(name)


def add_recipe_arguments(
    parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()
) -> None:
    """Add one flag per Recipe field; defaults print as the tutorial preset's.

    Every flag defaults to None, so :func:`recipe_from_args` can tell which
    ones the user gave and let them override a preset or config file.
    """
    group = parser.add_argument_group("recipe (defaults: the tutorial preset)")
    defaults = Recipe()
    for f in dataclasses.fields(Recipe):
        if f.name in skip:
            continue
        default = getattr(defaults, f.name)
        shown = ",".join(map(str, default)) if f.name == "hidden_sizes" else default
        if default is None:
            shown = "drawn at random, printed and recorded"
        help_text = f"{f.metadata['help']} (default: {shown})"
        kwargs: dict[str, Any] = {"default": None, "help": help_text}
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _TYPES.get(f.name, type(default))
            kwargs["metavar"] = "SIZES" if f.name == "hidden_sizes" else f.name.upper()
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
            kwargs["metavar"] = "{" + ",".join(f.metadata["choices"]) + "}"
        group.add_argument(recipe_flag(f.name), dest=f.name, **kwargs)
    group.add_argument(
        "--config",
        metavar="FILE",
        help='TOML file of recipe keys (lr = 0.01, hidden = "8,8", ...), or a '
        "run's run.json to repeat that run with its seed and table; flags "
        "override the file",
    )
    group.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="tutorial",
        help="recipe to start from before other flags apply (default: tutorial)",
    )


def recipe_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Return the recipe fields the user set on the command line."""
    given = {}
    for f in dataclasses.fields(Recipe):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        if f.name == "hidden_sizes":
            value = parse_hidden(value)
        given[f.name] = value
    return given


def recipe_from_args(args: argparse.Namespace, base: Recipe | None = None) -> Recipe:
    """Build and validate the recipe: preset (or ``base``), config file, flags."""
    recipe = base if base is not None else PRESETS[args.preset]
    config = getattr(args, "config", None)
    if config is not None:
        recipe = recipe.replace(**load_recipe_file(config).values)
    overrides = recipe_overrides(args)
    try:
        recipe = recipe.replace(**overrides)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
    recipe.validate()
    if "momentum" in overrides and recipe.optimizer in ("adam", "adamw"):
        raise ConfigError(
            f"--momentum has no effect with --optimizer {recipe.optimizer}; use it "
            "with sgd or rmsprop, or drop it"
        )
    return recipe
