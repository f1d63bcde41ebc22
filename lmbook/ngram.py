"""N-gram language models: counting, add-k smoothing and interpolated Kneser–Ney.

Introduced in chapter 1; later chapters compare their neural models with it::

    >>> lm = NGramLM(n=2, vocab_size=3).fit([0, 1, 2, 0, 1, 2, 0, 1])
    >>> float(lm.next_token_probs([0]).sum())
    1.0

Counting is vectorised: an n-gram of ids (a_1, …, a_m) becomes the integer
a_1·V^(m-1) + … + a_m, and NumPy's `unique` counts those integers. That is what lets a
7-gram model fit four million characters in seconds.

Chapter 1 shows every definition here but `histories`, the bookkeeping that lines up
each position of a sequence with the n-1 ids before it.
"""

from collections.abc import Sequence

import numpy as np

from lmbook.validate import (
    check_choice,
    check_fitted,
    check_ids,
    check_int,
    check_min_length,
    check_ngram_keys_fit,
    check_nonempty,
    check_positive,
)

SMOOTHINGS = ("kneser-ney", "add-k")


def ngram_keys(ids: np.ndarray, m: int, base: int) -> np.ndarray:
    """One integer key per m-gram: keys[i] encodes ids[i : i + m] in the given base."""
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
    """Ney's D = n1 / (n1 + 2 n2); n_r: how many counts equal r (0.5 if undefined)."""
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    return float(n1 / (n1 + 2 * n2)) if n1 > 0 and n2 > 0 else 0.5


def kneser_ney_interpolate(
    c: np.ndarray, c_h: np.ndarray, n_h: np.ndarray, D: float, lower: np.ndarray
) -> np.ndarray:
    """One order of interpolated Kneser–Ney, elementwise over a batch of (h, w).

    max(c - D, 0) / c_h + D n_h / c_h · lower, with c the count of h w, c_h the total
    count after h, n_h the number of distinct tokens after h and `lower` the next
    lower order's P(w | h'); just `lower` where h was never seen (c_h = 0).
    """
    seen = c_h > 0
    safe = np.where(seen, c_h, 1.0)  # no division by zero where h is unseen
    return np.where(seen, (np.maximum(c - D, 0.0) + D * n_h * lower) / safe, lower)


def count_tables(
    ids: np.ndarray, n: int, V: int, continuation: bool
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{m: (keys, counts)} for the orders m = 1 … n: the sorted distinct m-grams.

    The counts are c(g); with `continuation`, orders below n count instead N1+(• g),
    the number of distinct tokens seen just before the m-gram g.
    """
    orders = range(1, n + 1)
    tables = {m: np.unique(ngram_keys(ids, m, V), return_counts=True) for m in orders}
    if continuation:  # upwards, so that tables[m + 1] still holds raw counts
        for m in range(1, n):  # the distinct (m+1)-grams v g, less their first id v
            tables[m] = np.unique(tables[m + 1][0] % V**m, return_counts=True)
    return tables


def context_counts(
    keys: np.ndarray, counts: np.ndarray, V: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(contexts, totals, types) of a table: its sorted contexts h (the keys without
    their last id), the total count after each, how many distinct tokens follow each."""
    contexts, inverse = np.unique(keys // V, return_inverse=True)  # m = 1: just key 0
    totals = np.bincount(inverse, weights=counts).astype(np.int64)
    types = np.bincount(inverse).astype(np.int64)
    return contexts, totals, types


def context_keys(history: np.ndarray, j: int, V: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys of the last j ids of each (N, n-1) history, and where all j are known
    (history holds -1 before the start of a text); the key is 0 where not."""
    last = history[:, history.shape[1] - j :]  # (N, j)
    known = (last >= 0).all(axis=1)
    keys = np.zeros(len(history), dtype=np.int64)
    for column in last.T:
        keys = keys * V + column
    return np.where(known, keys, 0), known


def histories(ids: np.ndarray, n: int) -> np.ndarray:
    """(len(ids), n-1) ids: row i holds the n-1 ids before ids[i], -1 before the start."""
    check_int("n", n)
    if n == 1:
        return np.zeros((len(ids), 0), dtype=np.int64)
    padded = np.concatenate([np.full(n - 1, -1, dtype=np.int64), ids])
    return np.lib.stride_tricks.sliding_window_view(padded, n - 1)[: len(ids)]


class MarkovLM:
    """Scoring and sampling for any model of P(w | the last n-1 tokens).

    A subclass sets n and vocab_size and computes _probs(history, words); this class
    scores sequences with it (log_probs, nats_per_token) and samples from it.
    """

    def _probs(self, history: np.ndarray, words: np.ndarray) -> np.ndarray:
        """P(words[i] | history[i]) for (N, n-1) id histories, -1 before the start."""
        raise NotImplementedError

    def log_probs(self, ids: Sequence[int]) -> np.ndarray:
        """log P(ids[i] | the up to n-1 ids before it), in nats, at every position i."""
        check_ids("ids", ids, self.vocab_size)
        ids = np.asarray(ids, dtype=np.int64)
        return np.log(self._probs(histories(ids, self.n), ids))

    def nats_per_token(self, ids: Sequence[int]) -> float:
        """The cross-entropy on a sequence: the mean of -log P, in nats per token."""
        check_ids("ids", ids, self.vocab_size)
        check_nonempty("ids", ids)
        return float(-self.log_probs(ids).mean())

    def next_token_probs(self, context: Sequence[int]) -> np.ndarray:
        """The distribution P(· | context) over all vocab_size tokens (sums to 1)."""
        check_ids("context", context, self.vocab_size)
        context = np.asarray(context, dtype=np.int64)
        context = context[max(0, len(context) - self.n + 1) :]  # the last n-1 ids
        history = np.full(self.n - 1, -1, dtype=np.int64)  # -1: before the start
        history[len(history) - len(context) :] = context
        words = np.arange(self.vocab_size)
        return self._probs(np.tile(history, (self.vocab_size, 1)), words)

    def generate(
        self,
        context: Sequence[int],
        length: int,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> list[int]:
        """Sample `length` ids after `context` at a temperature: see `sample`."""
        return sample(self, context, length, temperature, rng)


def sample(
    model: MarkovLM,
    context: Sequence[int],
    length: int,
    temperature: float = 1.0,
    rng: np.random.Generator | None = None,
) -> list[int]:
    """Draw `length` ids after `context`, one at a time, from P(· | history)^(1/T).

    temperature T < 1 sharpens the distribution, T > 1 flattens it. Uses NumPy's global
    random state (seeded by lmbook.seed) unless rng is given.
    """
    check_int("length", length, low=0)
    check_positive("temperature", temperature)
    check_ids("context", context, model.vocab_size)
    choice = rng.choice if rng is not None else np.random.choice
    out = [int(i) for i in context]
    for _ in range(length):
        logits = np.log(model.next_token_probs(out)) / temperature
        probs = np.exp(logits - logits.max())  # P^(1/T), up to a constant
        out.append(int(choice(model.vocab_size, p=probs / probs.sum())))
    return out[len(out) - length :]


class NGramLM(MarkovLM):
    """An n-gram model of ids 0 … vocab_size-1: P(w | the last n-1 ids of the history).

    smoothing='add-k' adds k to every count; 'kneser-ney' is interpolated Kneser–Ney.
    """

    def __init__(
        self, n: int, vocab_size: int, smoothing: str = "kneser-ney", k: float = 1.0
    ) -> None:
        check_int("n", n)
        check_int("vocab_size", vocab_size)
        check_choice("smoothing", smoothing, SMOOTHINGS)
        check_positive("k", k, "k = 0 gives unseen n-grams probability 0")
        check_ngram_keys_fit(n, vocab_size)
        self.n, self.vocab_size, self.smoothing, self.k = n, vocab_size, smoothing, k
        # filled by fit, per order m: (keys, counts), (contexts, totals, types), D
        self.tables, self.contexts, self.discounts = {}, {}, {}

    def __repr__(self) -> str:
        args = f"n={self.n}, vocab_size={self.vocab_size}, smoothing={self.smoothing!r}"
        return f"NGramLM({args})"

    def fit(self, ids: Sequence[int]) -> "NGramLM":
        """Count the n-grams of a training sequence of ids; returns self."""
        check_ids("ids", ids, self.vocab_size)
        check_min_length("ids", ids, self.n, f"n={self.n} training tokens")
        ids, V = np.asarray(ids, dtype=np.int64), self.vocab_size
        self.tables = count_tables(ids, self.n, V, self.smoothing == "kneser-ney")
        for m, (keys, counts) in self.tables.items():
            self.contexts[m] = context_counts(keys, counts, V)
            self.discounts[m] = kneser_ney_discount(counts)
        return self

    def _probs(self, history: np.ndarray, words: np.ndarray) -> np.ndarray:
        """P(words[i] | history[i]) for (N, n-1) id histories, -1 before the start."""
        check_fitted(self, bool(self.tables))
        V = self.vocab_size
        p = np.full(len(words), 1.0 / V)  # order 0: uniform
        for m in range(1, self.n + 1):
            h, known = context_keys(history, m - 1, V)  # the last m-1 ids, if known
            keys, counts = self.tables[m]
            contexts, totals, types = self.contexts[m]
            c = lookup(keys, counts, h * V + words).astype(float)  # c(h w)
            c_h = lookup(contexts, totals, h).astype(float)  # c(h)
            if self.smoothing == "add-k":  # the longest known context wins
                q = (c + self.k) / (c_h + self.k * V)
            else:
                n_h = lookup(contexts, types, h).astype(float)  # N1+(h •)
                q = kneser_ney_interpolate(c, c_h, n_h, self.discounts[m], p)
            p = np.where(known, q, p)
        return p
