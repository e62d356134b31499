"""Train, explain and study small PyTorch networks on logic-gate truth tables.

Importing the package is cheap: the submodules that need torch are imported
only where they are used, so ``xornet --help`` starts without loading torch.
"""

__version__ = "0.1.0"
