"""Metrics: cross-entropy, perplexity, nats and bits, BLEU, word alignments, classification.

Introduced in chapter 1 (BLEU in chapter 4, alignments in chapter 5, classification in
chapter 7)::

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
from collections.abc import Collection, Hashable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from lmbook.validate import (
    check_class_order,
    check_corpus,
    check_corpus_pair,
    check_finite_array,
    check_int,
    check_labelings,
    check_nonzero,
    check_number,
    check_one_link_per_target,
    is_number,
)


def cross_entropy(log_probs: Sequence[float]) -> float:
    """Mean negative log-probability, in nats per token, of the tokens a model was shown."""
    arr = np.asarray(log_probs, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"log_probs must be a non-empty 1-D sequence, got shape {arr.shape}")
    if np.any(arr > 1e-12) or np.any(np.isnan(arr)):
        raise ValueError("log_probs must be natural-log probabilities: <= 0 and not NaN")
    return float(-arr.mean())


def perplexity(nats: float) -> float:
    """exp(cross-entropy): the number of equally likely choices the model is as unsure as.

    Beyond about 709 nats the perplexity exceeds a float's range and is returned as inf.
    """
    check_number("nats", nats, low=0)  # NumPy and 0-d tensor numbers pass; NaN does not
    try:
        return math.exp(float(nats))
    except OverflowError:
        return math.inf


def nats_to_bits(nats: float) -> float:
    """Convert nats to bits: divide by ln 2."""
    if not is_number(nats):
        raise TypeError(f"nats must be a number, got {type(nats).__name__}")
    return nats / math.log(2)


def ngram_counts(tokens: Sequence[Hashable], n: int) -> Counter:
    """Each n-gram of tokens (a tuple) and how often it occurs.

    >>> ngram_counts("abab", 2)
    Counter({('a', 'b'): 2, ('b', 'a'): 1})
    """
    check_int("n", n)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], max_n: int = 4
) -> float:
    """Corpus BLEU (0-100) of tokenised sentences, one reference each (Papineni et al.).

    BLEU = BP · exp(mean over n = 1..max_n of log p_n), no smoothing (some p_n = 0
    gives 0); sacrebleu's corpus BLEU with tokenize="none", smooth_method="none".

    >>> round(bleu([["the", "cat", "sat", "on", "the", "mat"]],
    ...            [["the", "cat", "sat", "on", "a", "mat"]]), 2)
    53.73
    """
    check_corpus(hypotheses, references)
    check_int("max_n", max_n)
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0  # hypothesis and reference lengths, in tokens
    for hyp, ref in zip(hypotheses, references, strict=True):
        c, r = c + len(hyp), r + len(ref)
        for n in range(1, max_n + 1):
            hyp_counts, ref_counts = ngram_counts(hyp, n), ngram_counts(ref, n)
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
    check_corpus(hypotheses, references)
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


# --- word alignments (chapter 5) -------------------------------------------------------

Link = tuple[int, int]  # (source index, target index): (English, French) in lmbook.parallel


def attention_alignment(weights: Any) -> set[Link]:
    """The links (j, t) with j = argmax_j weights[t, j]: each target token's most attended source.

    weights (T, S): row t is the attention while PRODUCING target token t, over the S
    source tokens (a numpy array, a list of rows, or a CPU tensor). Ties go to the first
    source token. Slice the rows and columns to the real tokens first (drop <eos> and
    padding): the argmax is taken among the columns given.

    >>> sorted(attention_alignment([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    [(0, 0), (2, 1)]
    """
    if hasattr(weights, "detach"):  # a torch tensor; metrics do not import torch
        weights = weights.detach().cpu().numpy()
    arr = np.asarray(weights, dtype=float)
    check_nonzero(
        arr.ndim == 2 and arr.size,
        f"weights must be a non-empty 2-D (target, source) array, got {arr.shape}",
    )
    check_finite_array("weights", arr)  # argmax would pick a NaN
    return {(int(j), t) for t, j in enumerate(arr.argmax(axis=1))}


def _corpus_links(alignments: Sequence[Any], name: str) -> list[set[Link]]:
    """Each sentence's links as a set; a 2-D weights array becomes its attention_alignment."""
    if isinstance(alignments, (str, set, frozenset)) or hasattr(alignments, "ndim"):
        raise TypeError(
            f"{name} must be a sequence with one alignment per sentence, got "
            f"{type(alignments).__name__}; for one sentence, pass [links]"
        )
    out = []
    for i, sentence in enumerate(alignments):
        if getattr(sentence, "ndim", None) == 2:
            out.append(attention_alignment(sentence))
            continue
        if not isinstance(sentence, Collection) or isinstance(sentence, str):
            raise TypeError(
                f"sentence {i} of {name} must be a collection of (source, target) links, "
                f"got {type(sentence).__name__}"
            )
        links = set()
        for link in sentence:
            if isinstance(link, (int, np.integer)):
                raise TypeError(
                    f"sentence {i} of {name} is {tuple(sentence)!r}, one link, not a collection "
                    "of links: for one sentence, pass [links]"
                )
            if (
                not isinstance(link, (tuple, list))
                or len(link) != 2
                or not all(isinstance(x, (int, np.integer)) and x >= 0 for x in link)
                or any(isinstance(x, bool) for x in link)
            ):
                raise ValueError(
                    f"sentence {i} of {name}: a link must be a (source, target) pair of ints "
                    f">= 0, got {link!r}"
                )
            links.add((int(link[0]), int(link[1])))
        out.append(links)
    return out


def alignment_accuracy(predicted: Sequence[Any], gold: Sequence[Any]) -> float:
    """The share of gold-aligned target tokens whose predicted source token is a gold one.

    Pooled over a corpus: predicted and gold hold one alignment per sentence, a collection
    of (source, target) links, or for predicted a weights matrix (T, S) that
    attention_alignment turns into links. predicted may link each target token to at most
    one source token (an argmax alignment); a token it leaves out counts as wrong, and its
    links for target tokens that gold does not align (<eos>, say) are not counted.

    >>> alignment_accuracy([{(0, 0), (2, 1), (1, 2)}], [{(0, 0), (1, 1), (2, 2)}])
    0.3333333333333333
    """
    pred, ref = _corpus_links(predicted, "predicted"), _corpus_links(gold, "gold")
    check_corpus_pair(predicted=pred, gold=ref)
    correct = total = 0
    for i, (a, s) in enumerate(zip(pred, ref, strict=True)):
        check_one_link_per_target(a, f"sentence {i} of predicted")
        gold_targets = {t for _, t in s}
        total += len(gold_targets)
        correct += len(a & s)  # one predicted link per target: the targets it gets right
    check_nonzero(total, "gold aligns no target token: accuracy is 0/0")
    return correct / total


def alignment_error_rate(
    predicted: Sequence[Any], sure: Sequence[Any], possible: Sequence[Any] | None = None
) -> float:
    """Alignment error rate (Och & Ney, 2003), pooled over a corpus, from 0 (perfect) to 1.

    AER = 1 - (|A∩S| + |A∩P|) / (|A| + |S|), with A the predicted, S the sure and P the
    possible links (P includes S), each counted over every sentence. Without possible
    links, P = S and AER = 1 - 2|A∩S| / (|A| + |S|), one minus the F1 of the links; so
    it is for lmbook.parallel, whose gold links are all sure. Each argument holds one
    alignment per sentence: a collection of (source, target) links, or for predicted a
    weights matrix (T, S) that attention_alignment turns into links.

    >>> alignment_error_rate([{(0, 0), (2, 1), (1, 2)}], [{(0, 0), (1, 1), (2, 2)}])
    0.6666666666666667
    """
    pred, s_links = _corpus_links(predicted, "predicted"), _corpus_links(sure, "sure")
    check_corpus_pair(predicted=pred, sure=s_links)
    if possible is None:
        p_links = s_links
    else:
        p_links = _corpus_links(possible, "possible")
        check_corpus_pair(sure=s_links, possible=p_links)
        p_links = [p | s for p, s in zip(p_links, s_links, strict=True)]  # P includes S
    a_and_s = sum(len(a & s) for a, s in zip(pred, s_links, strict=True))
    a_and_p = sum(len(a & p) for a, p in zip(pred, p_links, strict=True))
    n_a, n_s = sum(map(len, pred)), sum(map(len, s_links))
    check_nonzero(n_a + n_s, "predicted and sure hold no links at all: AER is 0/0")
    return 1 - (a_and_s + a_and_p) / (n_a + n_s)


# --- classification (chapter 7) --------------------------------------------------------


def as_labels(ys: Sequence[Hashable]) -> list[Hashable]:
    """The labels as a list of plain Python values (NumPy or torch items unwrapped)."""
    return [y.item() if hasattr(y, "item") else y for y in ys]


def class_order(
    y_true: list[Hashable], y_pred: list[Hashable], labels: Sequence[Hashable] | None
) -> list[Hashable]:
    """The K classes in order: `labels` (with every class seen), or all seen, sorted."""
    seen = set(y_true) | set(y_pred)
    check_class_order(labels, seen)
    return sorted(seen) if labels is None else as_labels(labels)


def accuracy(y_true: Sequence[Hashable], y_pred: Sequence[Hashable]) -> float:
    """The share of examples whose predicted label is the true one.

    >>> accuracy(["comedy", "history", "history"], ["comedy", "tragedy", "history"])
    0.6666666666666666
    """
    check_labelings(y_true=y_true, y_pred=y_pred)
    pairs = zip(as_labels(y_true), as_labels(y_pred), strict=True)
    return sum(t == p for t, p in pairs) / len(y_true)


def confusion_matrix(
    y_true: Sequence[Hashable],
    y_pred: Sequence[Hashable],
    labels: Sequence[Hashable] | None = None,
) -> np.ndarray:
    """(K, K) counts: row i the true class labels[i], column j the predicted labels[j].

    labels orders the K classes (by default, the sorted classes seen) and must hold
    every class that occurs. The same matrix as scikit-learn's.

    >>> confusion_matrix(["a", "a", "b"], ["a", "b", "b"])
    array([[1, 1],
           [0, 1]])
    """
    check_labelings(y_true=y_true, y_pred=y_pred)
    t, p = as_labels(y_true), as_labels(y_pred)
    order = class_order(t, p, labels)
    index = {c: i for i, c in enumerate(order)}
    matrix = np.zeros((len(order), len(order)), dtype=np.int64)  # (K, K)
    for a, b in zip(t, p, strict=True):
        matrix[index[a], index[b]] += 1
    return matrix


def precision_recall_f1(
    y_true: Sequence[Hashable],
    y_pred: Sequence[Hashable],
    labels: Sequence[Hashable] | None = None,
) -> dict[Hashable, tuple[float, float, float]]:
    """Per class, in `labels` order: (precision, recall, F1), with 0/0 taken as 0.0.

    The same as scikit-learn's precision_recall_fscore_support with zero_division=0.

    >>> precision_recall_f1(["a", "a", "b"], ["a", "b", "b"])
    {'a': (1.0, 0.5, 0.6666666666666666), 'b': (0.5, 1.0, 0.6666666666666666)}
    """
    check_labelings(y_true=y_true, y_pred=y_pred)
    order = class_order(as_labels(y_true), as_labels(y_pred), labels)
    matrix = confusion_matrix(y_true, y_pred, order)  # (K, K)
    out = {}
    for i, c in enumerate(order):
        hit, predicted, actual = matrix[i, i], matrix[:, i].sum(), matrix[i, :].sum()
        precision = float(hit / predicted) if predicted else 0.0
        recall = float(hit / actual) if actual else 0.0
        f1 = float(2 * hit / (predicted + actual)) if predicted + actual else 0.0
        out[c] = (precision, recall, f1)
    return out


def macro_f1(
    y_true: Sequence[Hashable],
    y_pred: Sequence[Hashable],
    labels: Sequence[Hashable] | None = None,
) -> float:
    """The unweighted mean of the per-class F1: every class counts the same.

    >>> macro_f1(["a", "a", "a", "b"], ["a", "a", "a", "a"])   # accuracy 0.75
    0.42857142857142855
    """
    scores = precision_recall_f1(y_true, y_pred, labels)
    return float(np.mean([f1 for _, _, f1 in scores.values()]))


def adjusted_rand_index(labels_true: Sequence[Hashable], labels_pred: Sequence[Hashable]) -> float:
    """Adjusted Rand index (Hubert & Arabie, 1985) of two clusterings: 1 same, ~0 by chance.

    The share of pairs of examples on which the two clusterings agree (same cluster in
    both, or different in both), corrected for the agreement expected of random
    clusterings with the same cluster sizes. Cluster names do not matter, only who is
    with whom. Two identical partitions score 1.0 (also in the 0/0 cases), as scikit-learn.

    >>> adjusted_rand_index([0, 0, 1, 1], ["x", "x", "y", "y"])
    1.0
    """
    check_labelings(labels_true=labels_true, labels_pred=labels_pred)
    t, p = as_labels(labels_true), as_labels(labels_pred)
    pairs = math.comb(len(t), 2)
    both = sum(math.comb(k, 2) for k in Counter(zip(t, p, strict=True)).values())
    rows = sum(math.comb(k, 2) for k in Counter(t).values())
    cols = sum(math.comb(k, 2) for k in Counter(p).values())
    if pairs * (rows + cols) == 2 * rows * cols:  # exact ints: the denominator is 0
        return 1.0  # 0/0: both all singletons, both one cluster, or a single example
    expected = rows * cols / pairs
    return float((both - expected) / ((rows + cols) / 2 - expected))
