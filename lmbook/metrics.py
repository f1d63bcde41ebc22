"""Metrics: cross-entropy, perplexity, unit conversions between nats and bits, and BLEU.

Introduced in chapter 1 (BLEU in chapter 4)::

    >>> import math
    >>> V = 65
    >>> round(perplexity(cross_entropy([-math.log(V)] * 10)), 6)   # a uniform model
    65.0
    >>> bleu([["the", "cat", "sat", "down"]], [["the", "cat", "sat", "down"]])
    100.0
    >>> bleu([["the", "cat", "sat"]], [["the", "cat", "sat"]])   # no 4-gram: p_4 = 0/0
    0.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import pairwise

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


def _check_corpus(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> None:
    for name, corpus in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(corpus, str):
            raise TypeError(f"{name} must be a list of token lists, got a str: tokenize first")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} references: "
            "give exactly one reference per hypothesis"
        )
    if len(hypotheses) == 0:
        raise ValueError("the corpus is empty: BLEU needs at least one hypothesis")
    for name, corpus in (("hypothesis", hypotheses), ("reference", references)):
        for i, sentence in enumerate(corpus):
            if isinstance(sentence, str):
                raise TypeError(
                    f"{name} {i} is a str ({sentence[:30]!r}), not a list of tokens; "
                    "tokenize it first, e.g. sentence.split()"
                )


def _ngrams(tokens: Sequence[Hashable], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], max_n: int = 4
) -> float:
    """Corpus BLEU (Papineni et al., 2002) on 0-100, of tokenised sentences, one reference each.

    The n-gram precisions p_n (each hypothesis n-gram counted at most as often as it
    occurs in its reference) are summed over the whole corpus before dividing, then
    BLEU = BP · exp(mean over n = 1..max_n of log p_n), with the brevity penalty
    BP = exp(1 - r/c) when the c hypothesis tokens are not more than the r reference
    tokens, else 1. No smoothing: if some p_n is 0, BLEU is 0. The same number as
    sacrebleu's corpus BLEU with tokenize="none", smooth_method="none".

    >>> round(bleu([["the", "cat", "sat", "on", "the", "mat"]],
    ...            [["the", "cat", "sat", "on", "a", "mat"]]), 2)
    53.73
    """
    _check_corpus(hypotheses, references)
    if isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"max_n must be an int >= 1, got {max_n!r}")
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0  # hypothesis and reference lengths, in tokens
    for hyp, ref in zip(hypotheses, references, strict=True):
        c, r = c + len(hyp), r + len(ref)
        for n in range(1, max_n + 1):
            hyp_counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
            matches[n - 1] += sum(min(k, ref_counts[g]) for g, k in hyp_counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if min(matches) == 0:  # some precision is 0 (or 0/0: no n-grams that long at all)
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / max_n
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return 100 * brevity * math.exp(log_precision)


def bleu_by_length(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    lengths: Sequence[int],
    bins: Sequence[float],
    max_n: int = 4,
) -> list[tuple[str, float, int]]:
    """Corpus BLEU within each length bin: a (label, BLEU, count) row per bin.

    bins are increasing edges; bin i holds the sentences with bins[i] <= length <
    bins[i+1] (the last edge may be math.inf). An empty bin has BLEU nan and count 0.

    >>> hyps = [list("abcd"), list("abcdefg")]
    >>> refs = [list("abcd"), list("abcdxyz")]
    >>> [(label, round(b, 2), n) for label, b, n in
    ...  bleu_by_length(hyps, refs, lengths=[4, 7], bins=[1, 5, math.inf])]
    [('1-4', 100.0, 1), ('5+', 41.11, 1)]
    """
    _check_corpus(hypotheses, references)
    if len(lengths) != len(hypotheses):
        raise ValueError(f"{len(lengths)} lengths but {len(hypotheses)} hypotheses: give one each")
    if len(bins) < 2 or any(lo >= hi for lo, hi in pairwise(bins)):
        raise ValueError(f"bins must be at least two increasing edges, got {list(bins)}")
    for length in lengths:
        if not bins[0] <= length < bins[-1]:
            raise ValueError(
                f"length {length} is outside the bins [{bins[0]}, {bins[-1]}); widen the bins"
            )
    rows = []
    for lo, hi in pairwise(bins):
        label = f"{lo}+" if math.isinf(hi) else f"{lo}-{hi - 1}"
        inside = [i for i, length in enumerate(lengths) if lo <= length < hi]
        score = (
            bleu([hypotheses[i] for i in inside], [references[i] for i in inside], max_n)
            if inside
            else math.nan
        )
        rows.append((label, score, len(inside)))
    return rows
