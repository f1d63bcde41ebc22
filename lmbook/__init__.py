"""lmbook: the code that the book *Language Models from Scratch, in Notebooks* builds.

Each module holds what one topic builds; the chapters show the same code in marked
cells (a test keeps the two identical)::

    import lmbook
    device = lmbook.device()
    lmbook.seed(0)
    n_steps = lmbook.by_mode(full=5_000, smoke=20)
"""

from lmbook.runtime import by_mode, device, mode, report_setup, seed

# The one place the version lives: pyproject.toml reads it, and the set-up cell of every
# chapter installs the git tag v<version> on Colab (lmbook.book.SETUP_CELL).
__version__ = "0.2.0"
__all__ = ["by_mode", "device", "mode", "report_setup", "seed", "__version__"]
