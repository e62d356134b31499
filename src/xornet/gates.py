"""Built-in truth tables: the 16 two-input Boolean functions and a few circuits.

A gate maps a tuple of input bits to a tuple of output bits. It becomes a
:class:`~xornet.tables.TruthTable` with inputs ``IN1..INn`` in binary
counting order (``IN1`` is the most significant bit, as in ``xor.csv``) and
one of two target encodings:

- ``onehot``: one column per output value. For a one-output gate ``OUT1``
  is the gate's value and ``OUT2`` its complement, the convention of the
  shipped ``xor.csv``. A gate with k outputs gets 2**k columns, one per
  output combination, ordered from all ones down to all zeros.
- ``bits``: one column per output bit, ``OUT1`` being the first output.

One-output gates default to ``onehot`` (so ``--gate xor`` is exactly
``xor.csv``), gates with several outputs to ``bits``.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xornet.config import ENCODINGS
from xornet.errors import TableError
from xornet.tables import TruthTable, validate_table

# Largest input count of parityN and majorityN: a 10-input table has 1024 rows.
MAX_FAMILY_INPUTS = 10

Bits = tuple[int, ...]


@dataclass(frozen=True)
class Gate:
    """A named Boolean function of ``n_inputs`` bits, with names for its outputs.

    ``function`` maps ``n_inputs`` bits to ``len(outputs)`` bits.
    """

    name: str
    n_inputs: int
    function: Callable[[Bits], Bits]
    description: str
    outputs: tuple[str, ...] = ("out",)
    aliases: tuple[str, ...] = ()

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def default_encoding(self) -> str:
        return "onehot" if self.n_outputs == 1 else "bits"

    def rows(self) -> list[tuple[Bits, Bits]]:
        """Return ``(inputs, outputs)`` for every input combination, in order."""
        combos = itertools.product((0, 1), repeat=self.n_inputs)
        return [(combo, self.function(combo)) for combo in combos]

    def table(self, encoding: str | None = None) -> TruthTable:
        """Return the gate's truth table in ``encoding`` (default: see module).

        Raises:
            TableError: the encoding is not one of :data:`ENCODINGS`.
        """
        encoding = encoding or self.default_encoding
        if encoding not in ENCODINGS:
            raise TableError(
                f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}"
            )
        rows = self.rows()
        inputs = np.array([combo for combo, _ in rows], dtype=np.float32)
        values = [outputs for _, outputs in rows]
        if encoding == "bits":
            targets = np.array(values, dtype=np.float32)
        else:
            targets = _onehot(values, self.n_outputs)
        table = TruthTable(
            name=self.name,
            input_columns=tuple(f"IN{i + 1}" for i in range(self.n_inputs)),
            output_columns=tuple(f"OUT{j + 1}" for j in range(targets.shape[1])),
            inputs=inputs,
            targets=targets,
            source=f"gate:{self.name}",
        )
        validate_table(table)
        return table


def _onehot(values: list[Bits], n_outputs: int) -> np.ndarray:
    # Column j is the output combination whose binary value is 2**k - 1 - j,
    # so for one output OUT1 is the value 1 and OUT2 the value 0.
    n_columns = 2**n_outputs
    targets = np.zeros((len(values), n_columns), dtype=np.float32)
    for row, bits in enumerate(values):
        code = int("".join(map(str, bits)), 2)
        targets[row, n_columns - 1 - code] = 1.0
    return targets


def _two_input(
    name: str, outputs: str, description: str, *aliases: str
) -> tuple[str, Gate]:
    # ``outputs`` lists the function's value on inputs 00, 01, 10, 11.
    values = {
        combo: (int(bit),)
        for combo, bit in zip(itertools.product((0, 1), repeat=2), outputs, strict=True)
    }
    gate = Gate(name, 2, values.__getitem__, description, aliases=aliases)
    return name, gate


_GATES: dict[str, Gate] = dict(
    [
        _two_input("false", "0000", "always 0", "contradiction", "zero"),
        _two_input("and", "0001", "a and b", "conjunction"),
        _two_input(
            "a_and_not_b", "0010", "a and not b", "inhibition", "nimply", "a_nimply_b"
        ),
        _two_input("a", "0011", "a, ignoring b", "projection_a"),
        _two_input(
            "not_a_and_b", "0100", "b and not a", "converse_inhibition", "b_nimply_a"
        ),
        _two_input("b", "0101", "b, ignoring a", "projection_b"),
        _two_input("xor", "0110", "a or b but not both", "exclusive_or"),
        _two_input("or", "0111", "a or b", "disjunction"),
        _two_input("nor", "1000", "neither a nor b", "not_or"),
        _two_input("xnor", "1001", "a equals b", "equivalence", "iff", "not_xor"),
        _two_input("not_b", "1010", "not b, ignoring a", "negation_b"),
        _two_input(
            "b_implies_a", "1011", "a or not b", "converse", "converse_implication"
        ),
        _two_input("not_a", "1100", "not a, ignoring b", "negation_a"),
        _two_input(
            "a_implies_b", "1101", "not a or b", "implication", "implies", "imply"
        ),
        _two_input("nand", "1110", "not both a and b", "not_and"),
        _two_input("true", "1111", "always 1", "tautology", "one"),
    ]
)
_GATES["not"] = Gate("not", 1, lambda x: (1 - x[0],), "not a", aliases=("negation",))
_GATES["half_adder"] = Gate(
    "half_adder",
    2,
    lambda x: ((x[0] + x[1]) % 2, (x[0] + x[1]) // 2),
    "a + b as sum and carry bits",
    outputs=("sum", "carry"),
)
_GATES["full_adder"] = Gate(
    "full_adder",
    3,
    lambda x: (sum(x) % 2, sum(x) // 2),
    "a + b + carry_in as sum and carry bits",
    outputs=("sum", "carry"),
)
_GATES["mux"] = Gate(
    "mux",
    3,
    lambda x: (x[1] if x[0] == 0 else x[2],),
    "2-to-1 multiplexer: IN1 selects IN2 (when 0) or IN3 (when 1)",
    aliases=("mux2", "multiplexer"),
)

_FAMILY_RE = re.compile(r"^(parity|majority)(\d+)$")
# Family members listed by ``xornet gates``; any size up to the maximum works.
LISTED_FAMILY_MEMBERS = ("parity3", "parity4", "majority3", "majority5")


def _parity(n: int) -> Gate:
    return Gate(
        f"parity{n}",
        n,
        lambda x: (sum(x) % 2,),
        f"1 when an odd number of the {n} inputs are 1",
    )


def _majority(n: int) -> Gate:
    if n % 2 == 0:
        raise TableError(
            f"majority{n} has ties, because {n} is even; use an odd input count "
            f"such as majority{n + 1}"
        )
    return Gate(
        f"majority{n}",
        n,
        lambda x: (int(sum(x) > n // 2),),
        f"1 when most of the {n} inputs are 1",
    )


def _aliases() -> dict[str, str]:
    return {alias: gate.name for gate in _GATES.values() for alias in gate.aliases}


def builtin_gates() -> list[Gate]:
    """Return the fixed gates, then the listed parity and majority members."""
    family = [get_gate(name) for name in LISTED_FAMILY_MEMBERS]
    return [*_GATES.values(), *family]


def get_gate(name: str) -> Gate:
    """Return the gate called ``name`` (case and ``-``/``_`` ignored).

    Raises:
        TableError: no gate has that name; the message lists close matches.
    """
    key = name.strip().lower().replace("-", "_")
    key = _aliases().get(key, key)
    if key in _GATES:
        return _GATES[key]
    match = _FAMILY_RE.match(key)
    if match:
        return _family_gate(match.group(1), int(match.group(2)))
    known = [*_GATES, *_aliases(), *LISTED_FAMILY_MEMBERS]
    close = difflib.get_close_matches(key, known, n=3)
    hint = f"close matches: {', '.join(close)}; " if close else ""
    raise TableError(
        f"unknown gate {name!r}; {hint}run 'xornet gates' to list the built-in gates"
    )


def _family_gate(family: str, n: int) -> Gate:
    low = 2 if family == "parity" else 3
    if not low <= n <= MAX_FAMILY_INPUTS:
        raise TableError(
            f"{family}{n}: the input count must be from {low} to "
            f"{MAX_FAMILY_INPUTS}, got {n}"
        )
    return _parity(n) if family == "parity" else _majority(n)


def gate_table(name: str, encoding: str | None = None) -> TruthTable:
    """Return the truth table of the gate called ``name``.

    Raises:
        TableError: unknown gate or encoding.
    """
    return get_gate(name).table(encoding)
