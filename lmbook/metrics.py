"""Metrics: cross-entropy, perplexity, and unit conversions between nats and bits.

Introduced in chapter 1::

    >>> import math
    >>> V = 65
    >>> round(perplexity(cross_entropy([-math.log(V)] * 10)), 6)   # a uniform model
    65.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def cross_entropy(log_probs: Sequence[float]) -> float:
    """Mean negative log-probability, in nats per token, of the tokens a model was shown."""
    arr = np.asarray(log_probs, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"log_probs must be a non-empty 1-D sequence, got shape {arr.shape}")
    if np.any(arr > 1e-12) or np.any(np.isnan(arr)):
        raise ValueError("log_probs must be natural-log probabilities: <= 0 and not NaN")
    return float(-arr.mean())


def perplexity(nats: float) -> float:
    """exp(cross-entropy): the number of equally likely choices the model is as unsure as."""
    if not isinstance(nats, (int, float)) or not nats >= 0:  # also rejects NaN
        raise ValueError(f"nats must be a number >= 0, got {nats!r}")
    return math.exp(nats)


def nats_to_bits(nats: float) -> float:
    """Convert nats to bits: divide by ln 2."""
    if not isinstance(nats, (int, float)):
        raise TypeError(f"nats must be a number, got {type(nats).__name__}")
    return nats / math.log(2)
