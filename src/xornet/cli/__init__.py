"""The ``xornet`` command line: argparse subcommands over the library.

This is the only part of xornet that prints. Results go to stdout; progress,
warnings and errors go to stderr. An error caused by input is one line on
stderr and exit status 2. Command modules import torch inside their ``run``
function, so ``xornet --help`` returns without loading it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from xornet import __version__
from xornet.cli import explain, gates, plot, predict, sweep, train
from xornet.errors import XornetError

COMMANDS = (train, predict, sweep, plot, explain, gates)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="xornet",
        description="Train, explain and study small neural networks on truth tables.",
    )
    parser.add_argument("--version", action="version", version=f"xornet {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=ArgumentParser
    )
    for command in COMMANDS:
        command.add_parser(subparsers)
    parser.set_defaults(commands=subparsers.choices)
    return parser


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """Add ``-v`` and ``-q`` to a subcommand."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log details of each step to stderr",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar or progress messages; results, warnings and errors only",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if extras:
        # Name the subcommand, whose --help lists what it accepts.
        args.commands[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    level = logging.INFO
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.WARNING
    logging.basicConfig(
        level=level, format="%(message)s", stream=sys.stderr, force=True
    )
    try:
        return int(args.func(args) or 0)
    except XornetError as exc:
        print(f"xornet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"xornet {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout was closed early (for example piped into head).
        sys.stderr.close()
        return 1
