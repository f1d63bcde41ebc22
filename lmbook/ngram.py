"""N-gram language models: counting, add-k smoothing and interpolated Kneser–Ney.

Introduced in chapter 1; later chapters compare their neural models with it::

    >>> lm = NGramLM(n=2, vocab_size=3).fit([0, 1, 2, 0, 1, 2, 0, 1])
    >>> float(lm.next_token_probs([0]).sum())
    1.0

Counting is vectorised: an n-gram of ids (a_1, …, a_m) becomes the integer
a_1·V^(m-1) + … + a_m, and NumPy's `unique` counts those integers. That is what lets a
7-gram model fit four million characters in seconds.
"""

from collections.abc import Sequence

import numpy as np

SMOOTHINGS = ("kneser-ney", "add-k")


def ngram_keys(ids: np.ndarray, m: int, base: int) -> np.ndarray:
    """One integer key per m-gram of ids: keys[i] encodes ids[i : i + m] in the given base."""
    keys = np.zeros(len(ids) - m + 1, dtype=np.int64)
    for j in range(m):
        keys = keys * base + ids[j : len(ids) - m + 1 + j]
    return keys


def lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[k] for each query key k found in the sorted array keys, else 0."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=values.dtype)
    idx = np.searchsorted(keys, query).clip(max=len(keys) - 1)
    return np.where(keys[idx] == query, values[idx], 0)


def kneser_ney_discount(counts: np.ndarray) -> float:
    """Ney's estimate D = n1 / (n1 + 2 n2) from the counts of counts (0.5 if undefined)."""
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    return float(n1 / (n1 + 2 * n2)) if n1 > 0 and n2 > 0 else 0.5


class NGramLM:
    """An n-gram language model over token ids 0 … vocab_size-1.

    P(w | h) uses the last n-1 tokens of the history h. smoothing='add-k' adds k to
    every count; smoothing='kneser-ney' is interpolated Kneser–Ney: absolute
    discounting, backed by continuation counts of lower orders, down to a uniform
    distribution, so every token has non-zero probability.
    """

    def __init__(
        self, n: int, vocab_size: int, smoothing: str = "kneser-ney", k: float = 1.0
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {smoothing!r}; choose one of {SMOOTHINGS}")
        if not k > 0:
            raise ValueError(f"k must be > 0 (k = 0 gives unseen n-grams probability 0), got {k}")
        if vocab_size**n > 2**63 - 1:  # the largest key is vocab_size**n - 1
            raise ValueError(
                f"vocab_size**n = {vocab_size}**{n} is too large for 64-bit n-gram keys; "
                f"use a smaller n or a smaller vocabulary"
            )
        self.n, self.vocab_size, self.smoothing, self.k = n, vocab_size, smoothing, k
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # order -> (keys, counts)
        self.contexts: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.discounts: dict[int, float] = {}

    def __repr__(self) -> str:
        return f"NGramLM(n={self.n}, vocab_size={self.vocab_size}, smoothing={self.smoothing!r})"

    def _as_ids(self, ids: Sequence[int], name: str = "ids") -> np.ndarray:
        if isinstance(ids, str):
            raise TypeError(f"{name} must be token ids, got a str; encode it with a Vocab first")
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must be a 1-D sequence of ints, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(
                f"{name} must lie in [0, {self.vocab_size}); got values from "
                f"{arr.min()} to {arr.max()}"
            )
        return arr

    def fit(self, ids: Sequence[int]) -> "NGramLM":
        """Count the n-grams of a training sequence of ids; returns self."""
        ids = self._as_ids(ids)
        if len(ids) < self.n:
            raise ValueError(f"need at least n={self.n} training tokens, got {len(ids)}")
        V = self.vocab_size
        raw = {
            m: np.unique(ngram_keys(ids, m, V), return_counts=True) for m in range(1, self.n + 1)
        }
        for m in range(1, self.n + 1):
            if self.smoothing == "kneser-ney" and m < self.n:
                # continuation count of an m-gram g: how many distinct tokens precede it
                longer = raw[m + 1][0]
                self.tables[m] = np.unique(longer % V**m, return_counts=True)
            else:
                self.tables[m] = raw[m]
            keys, counts = self.tables[m]
            ctx, inverse = np.unique(keys // V, return_inverse=True)
            totals = np.bincount(inverse, weights=counts).astype(np.int64)
            types = np.bincount(inverse).astype(np.int64)
            self.contexts[m] = (ctx, totals, types)  # for m = 1 the only context is key 0
            self.discounts[m] = kneser_ney_discount(counts)
        return self

    def _probs(self, history: np.ndarray, words: np.ndarray) -> np.ndarray:
        """P(words[i] | history[i]) for histories of n-1 ids (-1 where there is none)."""
        if not self.tables:
            raise RuntimeError("this NGramLM is not fitted yet; call fit(ids) first")
        V = self.vocab_size
        p = np.full(len(words), 1.0 / V)
        context = np.zeros(len(words), dtype=np.int64)
        available = np.ones(len(words), dtype=bool)
        for m in range(1, self.n + 1):
            if m > 1:  # extend the context by one more token to the left
                prev = history[:, self.n - m]
                available &= prev >= 0
                context = np.where(available, prev * V ** (m - 2) + context, 0)
            keys, counts = self.tables[m]
            ctx, totals, types = self.contexts[m]
            c = lookup(keys, counts, context * V + words).astype(float)
            total = lookup(ctx, totals, context).astype(float)
            if self.smoothing == "add-k":
                # the longest available context wins; the uniform distribution is the floor
                p = np.where(available, (c + self.k) / (total + self.k * V), p)
                continue
            D = self.discounts[m]
            n_types = lookup(ctx, types, context).astype(float)
            seen = available & (total > 0)
            safe = np.where(seen, total, 1.0)
            p = np.where(seen, (np.maximum(c - D, 0.0) + D * n_types * p) / safe, p)
        return p

    def _histories(self, ids: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.full(self.n - 1, -1, dtype=np.int64), ids])
        if self.n == 1:
            return np.zeros((len(ids), 0), dtype=np.int64)
        return np.lib.stride_tricks.sliding_window_view(padded, self.n - 1)[: len(ids)]

    def log_probs(self, ids: Sequence[int]) -> np.ndarray:
        """log P(ids[i] | the up to n-1 ids before it), in nats, for every position i."""
        ids = self._as_ids(ids)
        return np.log(self._probs(self._histories(ids), ids))

    def nats_per_token(self, ids: Sequence[int]) -> float:
        """The cross-entropy of the model on a sequence: mean of -log P, in nats per token."""
        ids = self._as_ids(ids)
        if len(ids) == 0:
            raise ValueError("cannot score an empty sequence")
        return float(-self.log_probs(ids).mean())

    def next_token_probs(self, context: Sequence[int]) -> np.ndarray:
        """The distribution P(· | context) over all vocab_size tokens (sums to 1)."""
        context = self._as_ids(context, "context")
        context = context[max(0, len(context) - (self.n - 1)) :] if self.n > 1 else context[:0]
        history = np.full(self.n - 1, -1, dtype=np.int64)
        if len(context):
            history[-len(context) :] = context
        words = np.arange(self.vocab_size)
        return self._probs(np.tile(history, (self.vocab_size, 1)), words)

    def generate(
        self,
        context: Sequence[int],
        length: int,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> list[int]:
        """Sample `length` ids after `context`; temperature < 1 sharpens, > 1 flattens.

        Uses NumPy's global random state (seeded by lmbook.seed) unless rng is given.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an int >= 0, got {length!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        choice = rng.choice if rng is not None else np.random.choice
        out = [int(i) for i in self._as_ids(context, "context")]
        for _ in range(length):
            logits = np.log(self.next_token_probs(out)) / temperature
            probs = np.exp(logits - logits.max())
            out.append(int(choice(self.vocab_size, p=probs / probs.sum())))
        return out[len(out) - length :]
