"""Where and how a notebook runs: the device, the random seed, and the full/smoke mode.

Introduced in chapter 1 and used at the top of every chapter::

    import lmbook
    device = lmbook.device()          # CUDA, then MPS, then CPU (LMBOOK_DEVICE overrides)
    lmbook.seed(0)                    # Python, NumPy and torch
    steps = lmbook.by_mode(full=5_000, smoke=20)
"""

from __future__ import annotations

import numbers
import os
import random
import sys
import warnings
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

DEVICE_ENV = "LMBOOK_DEVICE"
SMOKE_ENV = "LMBOOK_SMOKE"
_DEVICE_KINDS = ("cuda", "mps", "cpu")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    return kind == "cpu"


def device() -> torch.device:
    """The device to compute on: CUDA, then MPS, then CPU; the LMBOOK_DEVICE variable overrides.

    >>> lmbook.device()            # doctest: +SKIP
    device(type='cpu')
    """
    wanted = os.environ.get(DEVICE_ENV, "").strip().lower()
    if not wanted:
        kind = next(k for k in _DEVICE_KINDS if _available(k))
        return torch.device(kind)
    kind = wanted.split(":", 1)[0]
    if kind not in _DEVICE_KINDS:
        raise ValueError(
            f"{DEVICE_ENV}={wanted!r} is not a device lmbook knows; "
            f"use one of {', '.join(_DEVICE_KINDS)} (optionally 'cuda:N'), or unset it"
        )
    if not _available(kind):
        raise ValueError(
            f"{DEVICE_ENV}={wanted!r} asks for {kind}, but torch {torch.__version__} "
            f"cannot use {kind} on this machine; unset {DEVICE_ENV} to pick automatically"
        )
    return torch.device(wanted)


def seed(n: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators (all devices) with n."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):  # NumPy ints pass
        raise TypeError(f"seed must be an int, got {type(n).__name__} {n!r}")
    n = int(n)
    if not 0 <= n < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {n}")
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)  # also seeds CUDA and MPS generators


def mode() -> str:
    """'smoke' when LMBOOK_SMOKE is set to 1/true/yes/on, else 'full'."""
    raw = os.environ.get(SMOKE_ENV, "").strip().lower()
    if raw in _TRUE:
        return "smoke"
    if raw in _FALSE:
        return "full"
    raise ValueError(
        f"{SMOKE_ENV}={raw!r} is not understood; use 1 (smoke mode) or 0 / unset (full mode)"
    )


def by_mode(full: T, smoke: T) -> T:
    """The full-mode value, or the smoke-mode value when LMBOOK_SMOKE=1.

    Every size a notebook uses goes through this helper, so that CI can execute the
    same cells with tiny data:

    >>> steps = by_mode(full=5_000, smoke=20)   # doctest: +SKIP
    """
    numbers = (int, float)
    same = type(full) is type(smoke) or (isinstance(full, numbers) and isinstance(smoke, numbers))
    if not same and full is not None and smoke is not None:
        raise TypeError(
            f"full and smoke values must have the same type, got "
            f"{type(full).__name__} and {type(smoke).__name__}"
        )
    return smoke if mode() == "smoke" else full


def report_setup(made_with: str) -> None:
    """Print the lmbook and torch versions, the device and the mode (the set-up cell's
    last line); warn when this lmbook is not `made_with`, the version the notebook's
    committed outputs were made with, since its numbers may then differ.

    >>> report_setup(made_with="0.2.0")   # doctest: +SKIP
    lmbook 0.2.0 · torch 2.13.0+cpu · device cpu · full mode
    """
    import lmbook

    if not isinstance(made_with, str) or not made_with:
        raise TypeError(f"made_with must be a version string such as '0.2.0', got {made_with!r}")
    where = device()
    print(
        f"lmbook {lmbook.__version__} · torch {torch.__version__} · device {where} · {mode()} mode"
    )
    if lmbook.__version__ != made_with:
        warnings.warn(
            f"this notebook's outputs were made with lmbook {made_with}, and this is "
            f"lmbook {lmbook.__version__}: your numbers may differ from the book's",
            stacklevel=2,
        )
    if "google.colab" in sys.modules and where.type == "cpu":
        print("No GPU: for chapters that train, use Runtime > Change runtime type > GPU.")
