"""``xornet gates`` lists the built-in gates; ``xornet table`` writes one as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xornet.cli.common import print_result

if TYPE_CHECKING:
    from xornet.gates import Gate


def add_parser(subparsers: Any) -> None:
    from xornet.cli import add_verbosity

    gates = subparsers.add_parser(
        "gates",
        help="list the built-in gates with their truth tables",
        description="List the built-in gates: name, aliases, what they compute and "
        "their truth table as inputs:outputs pairs. parityN and majorityN work "
        "for other input counts too. Train one with 'xornet train --gate NAME'.",
    )
    add_verbosity(gates)
    gates.set_defaults(func=run_gates)

    table = subparsers.add_parser(
        "table",
        help="write a built-in gate's truth table as CSV",
        description="Write a built-in gate's truth table as CSV, to stdout or a "
        "file, so you can edit it and train on the edited copy.",
    )
    table.add_argument(
        "--gate", required=True, metavar="NAME", help="gate name, see xornet gates"
    )
    add_encoding_argument(table)
    table.add_argument(
        "--out", metavar="FILE", help="CSV file to write (default: stdout)"
    )
    add_verbosity(table)
    table.set_defaults(func=run_table)


def add_encoding_argument(parser: argparse.ArgumentParser) -> None:
    from xornet.config import ENCODINGS

    parser.add_argument(
        "--encoding",
        choices=ENCODINGS,
        help="target columns of a --gate table: onehot is one column per output "
        "value (OUT1 the gate, OUT2 its complement), bits one column per output "
        "bit (default: onehot for one-output gates, bits for the adders)",
    )


def run_gates(args: argparse.Namespace) -> int:
    from xornet.gates import MAX_FAMILY_INPUTS, builtin_gates

    blocks = [format_gate(gate) for gate in builtin_gates()]
    blocks.append(
        f"parityN (N from 2 to {MAX_FAMILY_INPUTS}) and majorityN (odd N from 3 "
        f"to {MAX_FAMILY_INPUTS - 1}) work too."
    )
    print_result("\n".join(blocks))
    return 0


def format_gate(gate: Gate) -> str:
    """Return the gate's name, aliases and description, then its truth table.

    The table goes on an indented second line as ``inputs:outputs`` pairs.
    """
    names = gate.name
    if gate.aliases:
        names += f" ({', '.join(gate.aliases)})"
    outputs = f" -> {', '.join(gate.outputs)}" if gate.n_outputs > 1 else ""
    pairs = " ".join(
        "".join(map(str, inputs)) + ":" + "".join(map(str, values))
        for inputs, values in gate.rows()
    )
    line = f"{names}: {gate.description}{outputs}"
    return f"{line}\n    {pairs}"


def run_table(args: argparse.Namespace) -> int:
    from xornet.checkpoint import write_text
    from xornet.gates import gate_table

    table = gate_table(args.gate, args.encoding)
    text = table.to_frame().to_csv(index=False)
    if args.out is None:
        print_result(text.rstrip("\n"))
        return 0
    if Path(args.out).exists():
        from xornet.errors import XornetError

        raise XornetError(
            f"{args.out}: already exists; choose another --out file or delete it"
        )
    try:
        write_text(args.out, text)
    except OSError as exc:
        from xornet.errors import XornetError

        raise XornetError(
            f"{args.out}: cannot write ({exc.strerror}); choose another --out file"
        ) from None
    return 0
