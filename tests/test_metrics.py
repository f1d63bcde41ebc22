"""Tests of lmbook.metrics: cross_entropy, perplexity, nats_to_bits, and BLEU against sacrebleu."""

import math
import random

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from lmbook.metrics import (
    accuracy,
    adjusted_rand_index,
    alignment_accuracy,
    alignment_error_rate,
    attention_alignment,
    bleu,
    bleu_by_length,
    confusion_matrix,
    cross_entropy,
    macro_f1,
    nats_to_bits,
    perplexity,
    precision_recall_f1,
)


@pytest.mark.parametrize("V", [1, 2, 3, 65, 1000, 50_257])
def test_perplexity_of_a_uniform_model_is_the_vocabulary_size(V):
    nats = cross_entropy([-math.log(V)] * 17)
    assert nats == pytest.approx(math.log(V), rel=1e-12, abs=1e-15)
    assert perplexity(nats) == pytest.approx(V, rel=1e-12)


def test_cross_entropy_is_the_mean_negative_log_probability():
    probs = [0.5, 0.25, 0.125, 1.0]
    expected = -sum(math.log(p) for p in probs) / len(probs)
    assert cross_entropy([math.log(p) for p in probs]) == pytest.approx(expected, rel=1e-15)
    assert cross_entropy(np.log(np.array(probs))) == pytest.approx(expected, rel=1e-15)
    assert cross_entropy((0.0,)) == 0.0
    assert isinstance(cross_entropy([-1.0]), float)


def test_cross_entropy_tolerates_rounding_above_zero():
    assert cross_entropy([1e-13, -2.0]) == pytest.approx(1.0 - 0.5e-13)


def test_nats_to_bits():
    assert nats_to_bits(math.log(2)) == pytest.approx(1.0, rel=1e-15)
    assert nats_to_bits(0) == 0.0
    assert nats_to_bits(math.log(65)) == pytest.approx(math.log2(65), rel=1e-15)
    # a fair coin and a fair four-sided die, in bits per token
    mixed = cross_entropy([math.log(0.5), math.log(0.25)])
    assert nats_to_bits(mixed) == pytest.approx(1.5, rel=1e-15)


def test_perplexity_values():
    assert perplexity(0) == 1.0
    assert perplexity(0.0) == 1.0
    assert perplexity(1.0) == pytest.approx(math.e, rel=1e-15)
    assert perplexity(np.float64(math.log(7))) == pytest.approx(7.0, rel=1e-12)


@pytest.mark.parametrize("bad", [[], np.array([]), [[-1.0, -2.0]], np.zeros((2, 2))])
def test_cross_entropy_rejects_empty_or_not_1d(bad):
    with pytest.raises(ValueError, match="non-empty 1-D"):
        cross_entropy(bad)


@pytest.mark.parametrize("bad", [[0.1], [-1.0, 0.5], [math.log(2)], [-1.0, float("nan")]])
def test_cross_entropy_rejects_positive_or_nan(bad):
    with pytest.raises(ValueError, match="<= 0 and not NaN"):
        cross_entropy(bad)


@pytest.mark.parametrize("bad", [-1e-9, -1, -math.inf, "1", None])
def test_perplexity_rejects_negative_or_non_numbers(bad):
    with pytest.raises(ValueError, match="nats must be a number >= 0"):
        perplexity(bad)


def test_perplexity_rejects_nan():
    # NaN is not a number >= 0: it must raise like -1 does, not return nan
    with pytest.raises(ValueError, match="nats must be a number >= 0"):
        perplexity(float("nan"))


@pytest.mark.parametrize("bad", ["1", None, [1.0]])
def test_nats_to_bits_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="nats must be a number"):
        nats_to_bits(bad)


# --- BLEU ---------------------------------------------------------------------------


def sacre(hypotheses, references, max_n=4):
    """sacrebleu's corpus BLEU on already-tokenised sentences, no smoothing."""
    metric = BLEU(tokenize="none", smooth_method="none", force=True, max_ngram_order=max_n)
    return metric.corpus_score(
        [" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]
    )


def random_corpus(rng, n, vocab=6, shortest=0, longest=12):
    """n (hypothesis, reference) pairs from a small vocabulary, so n-grams often match."""
    words = [f"w{i}" for i in range(vocab)]
    hyps, refs = [], []
    for _ in range(n):
        ref = rng.choices(words, k=rng.randint(max(shortest, 1), longest))
        hyp = [w if rng.random() < 0.7 else rng.choice(words) for w in ref]  # edit the reference
        cut = rng.randint(-4, 4)  # then make it shorter or longer
        hyp = hyp[: len(hyp) + cut] if cut < 0 else hyp + rng.choices(words, k=cut)
        hyps.append(hyp[: max(len(hyp), shortest)])
        refs.append(ref)
    return hyps, refs


@pytest.mark.parametrize("seed", range(25))
def test_bleu_agrees_with_sacrebleu_on_random_corpora(seed):
    rng = random.Random(seed)
    hyps, refs = random_corpus(rng, n=rng.randint(1, 40), vocab=rng.choice([3, 6, 12]))
    max_n = 4 if seed % 5 else rng.randint(1, 6)
    expected = sacre(hyps, refs, max_n).score
    assert bleu(hyps, refs, max_n=max_n) == pytest.approx(expected, abs=1e-9)


def test_the_random_corpora_cover_short_and_long_hypotheses_and_nonzero_scores():
    rng = random.Random(0)
    c_less_than_r = c_more_than_r = nonzero = 0
    for _ in range(25):
        hyps, refs = random_corpus(rng, n=rng.randint(1, 40), vocab=rng.choice([3, 6, 12]))
        c, r = sum(map(len, hyps)), sum(map(len, refs))
        c_less_than_r += c < r
        c_more_than_r += c > r
        nonzero += bleu(hyps, refs) > 0
    assert c_less_than_r >= 5 and c_more_than_r >= 5 and nonzero >= 15


def test_identical_corpus_scores_100():
    rng = random.Random(1)
    _, refs = random_corpus(rng, n=20, shortest=4)
    assert bleu(refs, refs) == pytest.approx(100.0, abs=1e-12)
    assert sacre(refs, refs).score == pytest.approx(100.0, abs=1e-12)


def test_bleu_by_hand():
    hyp = "the cat sat on the mat".split()
    ref = "the cat sat on a mat".split()
    # p1 = 5/6 ("the" clipped to 1), p2 = 3/5, p3 = 2/4, p4 = 1/3; c = r = 6 so BP = 1
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** (1 / 4)
    assert bleu([hyp], [ref]) == pytest.approx(expected, rel=1e-12)
    # shorter hypothesis: BP = exp(1 - 6/4); p1 = 4/4, p2 = 3/3, p3 = 2/2, p4 = 1/1
    assert bleu([hyp[:4]], [ref]) == pytest.approx(100 * math.exp(1 - 6 / 4), rel=1e-12)
    # clipping: "the the the the" against "the cat": p1 = 1/4, no 2-gram matches -> 0
    assert bleu([["the"] * 4], [["the", "cat"]], max_n=1) == pytest.approx(25.0)
    assert bleu([["the"] * 4], [["the", "cat"]]) == 0.0


def test_bleu_is_summed_over_the_corpus_not_averaged_over_sentences():
    hyps = [list("abcd"), list("wxyz")]
    refs = [list("abcd"), list("wxyq")]
    # p1 = 7/8, p2 = 5/6, p3 = 3/4, p4 = 1/2 over the corpus
    expected = 100 * (7 / 8 * 5 / 6 * 3 / 4 * 1 / 2) ** (1 / 4)
    assert bleu(hyps, refs) == pytest.approx(expected, rel=1e-12)
    assert bleu(hyps, refs) == pytest.approx(sacre(hyps, refs).score, abs=1e-9)


@pytest.mark.parametrize(
    "hyps, refs",
    [
        ([list("abc")], [list("abc")]),  # no 4-grams at all: p4 = 0/0
        ([list("abcd")], [list("abdc")]),  # 4-grams but none matches
        ([[]], [list("abcd")]),  # an empty hypothesis: c = 0
        ([[], list("abcd")], [list("abcd"), list("abcd")]),  # one empty among others
        ([list("xyzw")], [list("abcd")]),  # nothing matches
    ],
)
def test_bleu_edge_cases_match_sacrebleu(hyps, refs):
    assert bleu(hyps, refs) == pytest.approx(sacre(hyps, refs).score, abs=1e-9)


def test_a_zero_precision_gives_zero_like_sacrebleu():
    hyps, refs = [list("abcd")], [list("abdc")]
    assert sacre(hyps, refs).precisions[3] == 0.0
    assert bleu(hyps, refs) == 0.0
    assert bleu(hyps, refs, max_n=2) > 0  # "a b" matches
    assert bleu(hyps, refs, max_n=2) == pytest.approx(sacre(hyps, refs, 2).score, abs=1e-9)


def test_bleu_accepts_tuples_and_generators_of_tuples():
    hyps = [tuple("abcde"), tuple("fghij")]
    refs = [tuple("abcdx"), tuple("fghij")]
    assert bleu(hyps, refs) == pytest.approx(bleu([list(h) for h in hyps], [list(r) for r in refs]))


def test_bleu_rejects_different_numbers_of_sentences():
    with pytest.raises(ValueError, match="3 hypotheses but 2 references"):
        bleu([["a"]] * 3, [["a"]] * 2)


def test_bleu_rejects_an_empty_corpus():
    with pytest.raises(ValueError, match="corpus is empty"):
        bleu([], [])


@pytest.mark.parametrize(
    "hyps, refs, match",
    [
        (["the cat"], [["the", "cat"]], "hypothesis 0 must be a sequence of tokens, got a str"),
        ([["the", "cat"]], ["the cat"], "reference 0 must be a sequence of tokens, got a str"),
        ("the cat", [["the", "cat"]], "hypotheses must be a list of token lists"),
        ([["the", "cat"]], "the cat", "references must be a list of token lists"),
    ],
)
def test_bleu_rejects_strings_instead_of_token_lists(hyps, refs, match):
    with pytest.raises(TypeError, match=match):
        bleu(hyps, refs)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, None])
def test_bleu_rejects_bad_max_n(bad):
    with pytest.raises(ValueError, match="max_n must be an int >= 1"):
        bleu([list("abcd")], [list("abcd")], max_n=bad)


def test_bleu_by_length_is_corpus_bleu_within_each_bin():
    rng = random.Random(3)
    hyps, refs = random_corpus(rng, n=60, vocab=4, shortest=2)
    lengths = [len(r) for r in refs]
    rows = bleu_by_length(hyps, refs, lengths, bins=[0, 5, 9, math.inf])
    assert [label for label, _, _ in rows] == ["0-4", "5-8", "9+"]
    assert sum(n for _, _, n in rows) == 60
    for (_, score, n), (lo, hi) in zip(rows, [(0, 5), (5, 9), (9, math.inf)], strict=True):
        inside = [i for i, k in enumerate(lengths) if lo <= k < hi]
        assert n == len(inside) > 0
        expected = sacre([hyps[i] for i in inside], [refs[i] for i in inside]).score
        assert score == pytest.approx(expected, abs=1e-9)


def test_bleu_by_length_reports_empty_bins_as_nan():
    rows = bleu_by_length([list("abcd")], [list("abcd")], [4], bins=[0, 3, 10])
    assert rows[0][0] == "0-2" and math.isnan(rows[0][1]) and rows[0][2] == 0
    assert rows[1] == ("3-9", 100.0, 1)


def test_bleu_by_length_errors():
    hyps, refs = [list("abcd")], [list("abcd")]
    with pytest.raises(ValueError, match="2 lengths but 1 hypotheses"):
        bleu_by_length(hyps, refs, [4, 5], [0, 10])
    with pytest.raises(ValueError, match="increasing edges"):
        bleu_by_length(hyps, refs, [4], [10, 0])
    with pytest.raises(ValueError, match="length 12 is outside the bins"):
        bleu_by_length(hyps, refs, [12], [0, 10])


# --- word alignments -------------------------------------------------------------------

GOLD = {(0, 0), (1, 1), (2, 3), (3, 2)}  # (source, target): source words 2 and 3 swap


def test_attention_alignment_takes_each_target_rows_argmax():
    weights = [
        [0.7, 0.1, 0.1, 0.1],  # target 0 looks at source 0
        [0.2, 0.5, 0.2, 0.1],
        [0.0, 0.1, 0.3, 0.6],  # target 2 looks at source 3
        [0.4, 0.0, 0.4, 0.2],  # a tie goes to the first source
    ]
    assert attention_alignment(weights) == {(0, 0), (1, 1), (3, 2), (0, 3)}
    assert attention_alignment(np.array(weights)[:, :2]) == {(0, 0), (1, 1), (1, 2), (0, 3)}
    with pytest.raises(ValueError, match=r"non-empty 2-D \(target, source\) array, got \(3,\)"):
        attention_alignment([0.2, 0.3, 0.5])


def test_attention_alignment_takes_torch_tensors():
    import torch

    w = torch.tensor([[0.1, 0.9], [0.8, 0.2]], requires_grad=True)
    assert attention_alignment(w) == {(1, 0), (0, 1)}


def test_perfect_and_disjoint_alignments():
    assert alignment_error_rate([GOLD], [GOLD]) == 0.0
    assert alignment_accuracy([GOLD], [GOLD]) == 1.0
    disjoint = {(1, 0), (0, 1), (2, 2), (3, 3)}
    assert alignment_error_rate([disjoint], [GOLD]) == 1.0
    assert alignment_accuracy([disjoint], [GOLD]) == 0.0


def test_alignment_error_rate_worked_example():
    predicted = {(0, 0), (1, 1), (2, 2), (3, 3), (3, 4)}  # 2 right of 5; gold has 4 links
    # |A∩S| = 2, |A| = 5, |S| = 4: AER = 1 - 2·2 / (5 + 4) = 5/9
    assert alignment_error_rate([predicted], [GOLD]) == pytest.approx(5 / 9, abs=1e-15)
    # with possible links: (2, 2) is possible too, so A∩P = 3: AER = 1 - (2 + 3) / 9 = 4/9
    assert alignment_error_rate([predicted], [GOLD], [{(2, 2)}]) == pytest.approx(4 / 9)
    # AER = 1 - F1 when every gold link is sure
    precision, recall = 2 / 5, 2 / 4
    f1 = 2 * precision * recall / (precision + recall)
    assert alignment_error_rate([predicted], [GOLD]) == pytest.approx(1 - f1, abs=1e-15)


def test_alignments_are_pooled_over_the_corpus_not_averaged():
    a, s = [{(0, 0)}, {(0, 0), (1, 1), (2, 2)}], [{(0, 0)}, {(0, 0), (1, 2), (2, 1)}]
    # sentence AERs 0 and 2/3 would average to 1/3; pooled: 1 - 2·2 / (4 + 4) = 1/2
    assert alignment_error_rate(a, s) == 0.5
    assert alignment_accuracy(a, s) == 0.5  # 2 of the 4 gold-aligned target tokens


def test_alignment_accuracy_counts_gold_targets_only():
    # target 4 (say <eos>) is not in gold: ignored; target 3 is not predicted: wrong
    predicted = {(0, 0), (1, 1), (3, 2), (0, 4)}
    assert alignment_accuracy([predicted], [GOLD]) == 0.75
    weights = np.eye(4)[[0, 1, 3, 2]]  # rows: targets, the argmax is GOLD's source
    assert alignment_accuracy([weights], [GOLD]) == 1.0
    assert alignment_error_rate([weights], [GOLD]) == 0.0


def test_alignment_metrics_read_lmbook_parallel_pairs():
    from lmbook.parallel import translation_pairs

    pairs = translation_pairs("train", 20)
    gold = [p.alignment for p in pairs]
    assert alignment_error_rate(gold, gold) == 0.0 and alignment_accuracy(gold, gold) == 1.0
    # attention exactly on the gold links gives them back
    weights = []
    for p in pairs:
        w = np.zeros((len(p.fr), len(p.en)))
        for en, fr in p.alignment:
            w[fr, en] = 1.0
        weights.append(w)
    assert alignment_accuracy(weights, gold) == 1.0


def test_alignment_metric_errors():
    with pytest.raises(ValueError, match="1 sentences in predicted but 2 in gold"):
        alignment_accuracy([GOLD], [GOLD, GOLD])
    with pytest.raises(ValueError, match="the corpus is empty"):
        alignment_error_rate([], [])
    with pytest.raises(TypeError, match=r"one link, not a collection of links: .* pass \[links\]"):
        alignment_error_rate([(0, 1), (1, 0)], [GOLD, GOLD])
    with pytest.raises(TypeError, match=r"one alignment per sentence, got set; .* \[links\]"):
        alignment_error_rate(GOLD, [GOLD])
    with pytest.raises(
        ValueError, match=r"a link must be a \(source, target\) pair .* got \(0, -1\)"
    ):
        alignment_error_rate([{(0, -1)}], [GOLD])
    with pytest.raises(ValueError, match=r"links target token 0 to \[0, 1\]"):
        alignment_accuracy([{(0, 0), (1, 0)}], [GOLD])
    with pytest.raises(ValueError, match="AER is 0/0"):
        alignment_error_rate([set()], [set()])
    with pytest.raises(ValueError, match="accuracy is 0/0"):
        alignment_accuracy([{(0, 0)}], [set()])


def test_doctests():
    import doctest

    from lmbook import metrics

    assert doctest.testmod(metrics).failed == 0


# --- classification (chapter 7), checked against scikit-learn ---------------------------

GENRES = ["comedy", "history", "problem", "roman", "romance", "tragedy"]


def random_labelings(seed: int, n: int, k: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    y_true = [GENRES[i] for i in rng.integers(0, k, n)]
    right = rng.random(n) < 0.5  # half copied, so the scores are far from 0 and 1
    y_pred = [
        t if r else GENRES[i] for t, r, i in zip(y_true, right, rng.integers(0, k, n), strict=True)
    ]
    return y_true, y_pred


@pytest.mark.parametrize("seed,n,k", [(0, 6, 2), (1, 7, 3), (2, 50, 6), (3, 400, 6), (4, 30, 2)])
def test_classification_metrics_match_scikit_learn(seed, n, k):
    skm = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = random_labelings(seed, n, k)
    labels = sorted(set(y_true) | set(y_pred))
    assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-15)
    np.testing.assert_array_equal(
        confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred, labels=labels)
    )
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    ours = precision_recall_f1(y_true, y_pred)
    assert list(ours) == labels
    np.testing.assert_allclose(np.array(list(ours.values())), np.stack([p, r, f], 1), atol=1e-12)
    assert macro_f1(y_true, y_pred) == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro", zero_division=0), abs=1e-12
    )


def test_labels_fix_the_order_and_add_absent_classes():
    skm = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = random_labelings(5, 60, 3)  # comedy, history, problem
    labels = ["tragedy", "problem", "comedy", "history"]  # tragedy never occurs
    matrix = confusion_matrix(y_true, y_pred, labels)
    np.testing.assert_array_equal(matrix, skm.confusion_matrix(y_true, y_pred, labels=labels))
    assert matrix.dtype.kind == "i" and matrix[0].sum() == 0 and matrix.sum() == 60
    scores = precision_recall_f1(y_true, y_pred, labels)
    assert list(scores) == labels and scores["tragedy"] == (0.0, 0.0, 0.0)  # 0/0 -> 0
    assert macro_f1(y_true, y_pred, labels) == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )


def test_classification_metrics_by_hand():
    y_true = ["a", "a", "a", "b"]
    assert accuracy(y_true, ["a"] * 4) == 0.75
    scores = precision_recall_f1(y_true, ["a"] * 4)
    assert scores == {"a": (0.75, 1.0, pytest.approx(6 / 7)), "b": (0.0, 0.0, 0.0)}
    assert macro_f1(y_true, ["a"] * 4) == pytest.approx(3 / 7)  # the majority class is no good
    assert macro_f1(np.array([0, 1, 2]), np.array([0, 1, 2])) == 1.0  # numpy and ints work
    assert list(precision_recall_f1(np.array([2, 0]), [0, 2])) == [0, 2]
    assert isinstance(accuracy([1], [1]), float) and isinstance(macro_f1([1], [0]), float)


def test_classification_metric_errors():
    with pytest.raises(ValueError, match="3 labels in y_true but 2 in y_pred: give one each"):
        accuracy(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="y_true and y_pred are empty"):
        macro_f1([], [])
    with pytest.raises(ValueError, match=r"classes 'c' occur but are not in labels \['a', 'b'\]"):
        confusion_matrix(["a", "b"], ["a", "c"], labels=["a", "b"])
    with pytest.raises(ValueError, match="labels holds a class twice"):
        precision_recall_f1(["a"], ["a"], labels=["a", "a"])
    with pytest.raises(ValueError, match="labels is empty"):
        confusion_matrix(["a"], ["a"], labels=[])
    with pytest.raises(TypeError, match="y_true must be a sequence of labels, got a str"):
        accuracy("abc", ["a", "b", "c"])
    with pytest.raises(TypeError, match=r"cannot sort the classes .* pass labels"):
        confusion_matrix([1, "a"], [1, "a"])
    with pytest.raises(ValueError, match="y_pred must be 1-D"):
        accuracy([0, 1], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="1 labels in labels_true but 2 in labels_pred"):
        adjusted_rand_index([0], [0, 1])
    with pytest.raises(ValueError, match="labels_true and labels_pred are empty"):
        adjusted_rand_index([], [])


@pytest.mark.parametrize(
    "seed,n,k1,k2", [(0, 2, 2, 2), (1, 10, 3, 2), (2, 300, 6, 4), (3, 80, 1, 5)]
)
def test_adjusted_rand_index_matches_scikit_learn(seed, n, k1, k2):
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k1, n).tolist()
    b = [x if rng.random() < 0.6 else int(rng.integers(0, k2)) for x in a]  # partly agreeing
    assert adjusted_rand_index(a, b) == pytest.approx(skm.adjusted_rand_score(a, b), abs=1e-12)


@pytest.mark.parametrize(
    "a,b",
    [
        ([0, 0, 1, 1], ["x", "x", "y", "y"]),  # renamed clusters: identical partitions
        ([0, 1, 2], [5, 6, 7]),  # all singletons in both (0/0)
        ([3, 3, 3], ["z", "z", "z"]),  # one cluster in both (0/0)
        ([0], [1]),  # one example: no pairs at all
        ([0, 0, 1, 1], [0, 1, 0, 1]),  # crossing partitions: worse than chance
        ([0, 0, 0, 0], [0, 1, 2, 3]),  # one cluster against singletons
    ],
)
def test_adjusted_rand_index_special_cases(a, b):
    skm = pytest.importorskip("sklearn.metrics")
    assert adjusted_rand_index(a, b) == pytest.approx(skm.adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index(a, b) == adjusted_rand_index(b, a)  # symmetric
