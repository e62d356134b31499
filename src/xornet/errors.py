"""The package's exception types.

Every error that a user can cause derives from :class:`XornetError`; the CLI
prints its message as one line on stderr and exits with status 2.
"""


class XornetError(Exception):
    """Base class for errors caused by input: files, options or checkpoints."""


class TableError(XornetError):
    """A truth table that cannot be loaded or is invalid."""


class ConfigError(XornetError):
    """An invalid architecture or training recipe."""


class CheckpointError(XornetError):
    """A run folder or checkpoint that is missing, corrupt or inconsistent."""


class TrainingError(XornetError):
    """Training that cannot continue, for example a loss that became NaN."""


class PlotError(XornetError):
    """A figure that cannot be drawn for this run, table or sweep."""
