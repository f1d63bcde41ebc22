"""Tests of lmbook.checks: right answers pass, common mistakes fail with a specific hint."""

import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmbook import checks
from lmbook.checks import (
    check_add_k,
    check_attention,
    check_kneser_ney_bigram,
    check_perplexity,
    check_sgns_loss,
)
from lmbook.ngram import NGramLM, kneser_ney_discount

ALL_CHECKS = [
    check_perplexity,
    check_add_k,
    check_kneser_ney_bigram,
    check_attention,
    check_sgns_loss,
]


def verdict(capsys: pytest.CaptureFixture) -> str:
    """The one line a check printed."""
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def assert_passes(check, fn, capsys) -> None:
    assert check(fn) is True
    assert verdict(capsys).startswith(f"✓ {check.__name__} passed: ")


def assert_fails(check, fn, capsys, *words: str) -> str:
    assert check(fn) is False
    line = verdict(capsys)
    assert line.startswith(f"✗ {check.__name__} failed: "), line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    return line


# ---------------------------------------------------------------- common behaviour


def boom(*args, **kwargs):
    raise ValueError("boom")


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_a_function_that_raises_is_a_failure_with_the_exception_text(check, capsys):
    assert_fails(check, boom, capsys, "ValueError: boom")


@pytest.mark.parametrize("check", ALL_CHECKS)
@pytest.mark.parametrize("not_a_function", [None, 3.0, "exp(-mean)"])
def test_a_non_callable_raises_type_error(check, not_a_function):
    with pytest.raises(TypeError, match=f"{check.__name__} expects your function"):
        check(not_a_function)


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_a_function_that_returns_none_is_a_failure(check, capsys):
    assert_fails(check, lambda *args: None, capsys, "returned None", "return statement")


def test_checks_leave_the_global_random_state_alone():
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    check_attention(F.scaled_dot_product_attention)
    check_sgns_loss(lambda c, o, n: torch.tensor(0.0))
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


# ---------------------------------------------------------------- perplexity


def test_perplexity_right_answers_pass(capsys):
    assert_passes(check_perplexity, lambda lp: math.exp(-sum(lp) / len(lp)), capsys)
    assert_passes(check_perplexity, lambda lp: np.exp(-np.mean(lp)), capsys)
    assert_passes(check_perplexity, lambda lp: torch.tensor(lp).neg().mean().exp(), capsys)


@pytest.mark.parametrize(
    "wrong, word",
    [
        (lambda lp: 2 ** (-np.mean(lp)), "nats"),  # log2-style 2** with natural logs
        (lambda lp: np.exp(-np.mean(np.log2(np.exp(lp)))), "bits"),  # log2 then exp
        (lambda lp: np.exp(np.mean(lp)), "minus sign"),
        (lambda lp: np.exp(-np.sum(lp)), "summed"),
        (lambda lp: -np.mean(lp), "cross-entropy"),
    ],
)
def test_perplexity_common_mistakes_fail_with_a_hint(wrong, word, capsys):
    line = assert_fails(check_perplexity, wrong, capsys, word, "expected 5, got")
    assert "uniform over V=5" in line  # the first case, which every mistake gets wrong


def test_perplexity_reports_a_non_number(capsys):
    assert_fails(check_perplexity, lambda lp: [1.0, 2.0], capsys, "shape (2,)")
    assert_fails(check_perplexity, lambda lp: "five", capsys, "expected a number")


# ---------------------------------------------------------------- add-k


def test_add_k_right_answer_passes(capsys):
    assert_passes(check_add_k, lambda c, ch, k, V: (c + k) / (ch + k * V), capsys)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda c, ch, k, V: (c + k) / (ch + k), ["sum to", "not 1", "k·V, not + k"]),
        (lambda c, ch, k, V: (c + k) / (ch + V), ["not + V"]),
        (lambda c, ch, k, V: (c + 1) / (ch + V), ["add-one"]),
        (lambda c, ch, k, V: c / (ch + k * V), ["numerator"]),
    ],
)
def test_add_k_common_mistakes_fail_with_a_hint(wrong, words, capsys):
    assert_fails(check_add_k, wrong, capsys, "count_hw=3, count_h=10, k=0.5, V=4", *words)


def test_add_k_reports_division_by_zero_on_an_unseen_context(capsys):
    # right where c(h) > 0, but divides by c(h) first: fails only on the unseen context
    def fragile(c, ch, k, V):
        return (c / ch * ch + k) / (ch + k * V)

    assert_fails(check_add_k, fragile, capsys, "count_h=0", "ZeroDivisionError")


# ---------------------------------------------------------------- Kneser–Ney


def kn_bigram(w, h, bigrams, V, lower="continuation", floor=True, weight=True, unseen="lower"):
    """A student's interpolated Kneser–Ney bigram; the keyword arguments make the mistakes."""
    followers = Counter(a for a, b in bigrams)  # N1+(h•)
    if lower == "continuation":
        low = Counter(b for a, b in bigrams)  # N1+(•w): distinct characters before w
    else:
        low = Counter()
        for (_, b), c in bigrams.items():
            low[b] += c  # raw counts: the mistake
    D1 = kneser_ney_discount(np.array(list(low.values())))
    p1 = max(low[w] - D1, 0) / sum(low.values())
    if floor:
        p1 += D1 * len(low) / sum(low.values()) / V
    c_h = sum(c for (a, _), c in bigrams.items() if a == h)
    if c_h == 0 and unseen == "lower":
        return p1
    if c_h == 0 and unseen == "uniform":
        return 1 / V
    D2 = kneser_ney_discount(np.array(list(bigrams.values())))
    backoff = D2 * followers[h] / c_h if weight else D2
    return max(bigrams[h, w] - D2, 0) / c_h + backoff * p1  # unseen="divide": ZeroDivisionError


def test_kneser_ney_right_answer_passes(capsys):
    assert_passes(check_kneser_ney_bigram, kn_bigram, capsys)


def test_kneser_ney_pass_message_names_the_unseen_contexts(capsys):
    check_kneser_ney_bigram(kn_bigram)
    assert "['!', 'z']" in verdict(capsys)


@pytest.mark.parametrize(
    "mistake, words",
    [
        ({"lower": "raw"}, ["raw counts", "continuation counts"]),
        ({"floor": False}, ["not 1", "uniform floor"]),
        ({"weight": False}, ["not 1", "interpolation weight D·N1+(h•)/c(h)"]),
        ({"unseen": "uniform"}, ["fall through", "not jump to 1/V"]),
        ({"unseen": "divide"}, ["ZeroDivisionError", "h='!'", "fall through"]),
    ],
)
def test_kneser_ney_common_mistakes_fail_with_a_hint(mistake, words, capsys):
    def wrong(w, h, bigrams, V):
        return kn_bigram(w, h, bigrams, V, **mistake)

    assert_fails(check_kneser_ney_bigram, wrong, capsys, *words)


def test_kneser_ney_a_zero_probability_points_at_the_floor(capsys):
    def no_floor_no_discount(w, h, bigrams, V):  # P1(w) = N1+(•w) / N1+(••)
        low = Counter(b for a, b in bigrams)
        c_h = sum(c for (a, _), c in bigrams.items() if a == h)
        p1 = low[w] / sum(low.values())
        if c_h == 0:
            return p1
        D = kneser_ney_discount(np.array(list(bigrams.values())))
        n_h = sum(1 for a, _ in bigrams if a == h)
        return max(bigrams[h, w] - D, 0) / c_h + D * n_h / c_h * p1

    assert_fails(check_kneser_ney_bigram, no_floor_no_discount, capsys, "is 0", "floor 1/V")


def test_the_mistake_tables_start_from_the_book_model():
    # the candidate mistakes are variants of _kn_bigram_table, so its defaults must be NGramLM
    text, alphabet = checks._KN_TEXT, checks._KN_ALPHABET
    table = checks._kn_bigram_table(Counter(zip(text, text[1:], strict=False)), alphabet)
    lm = NGramLM(n=2, vocab_size=len(alphabet)).fit([alphabet.index(c) for c in text])
    for i, h in enumerate(alphabet):
        probs = lm.next_token_probs([i])
        assert [table[h, w] for w in alphabet] == pytest.approx(probs, abs=1e-12)


# ---------------------------------------------------------------- attention


def attention(q, k, v, mask=None):
    """A student's scaled dot-product attention; True in mask means 'may attend'."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v  # (B, H, T_q, d_v)


def test_attention_right_answers_pass(capsys):
    assert_passes(check_attention, attention, capsys)
    assert_passes(check_attention, F.scaled_dot_product_attention, capsys)
    # computing in float32 is close enough
    assert_passes(
        check_attention,
        lambda q, k, v, mask=None: attention(q.float(), k.float(), v.float(), mask),
        capsys,
    )


def no_scaling(q, k, v, mask=None):
    return attention(q * math.sqrt(q.shape[-1]), k, v, mask)


def wrong_axis(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-2) @ v


def v_inside_softmax(q, k, v, mask=None):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + v).softmax(dim=-1) @ v


def inverted_mask(q, k, v, mask=None):
    return attention(q, k, v, None if mask is None else ~mask)


def with_weights(q, k, v, mask=None):
    return attention(q, k, v, mask), None


@pytest.mark.parametrize(
    "wrong, words",
    [
        (no_scaling, ["no 1/sqrt(d_k) scaling"]),
        (wrong_axis, ["wrong axis", "dim=-1"]),
        (lambda q, k, v, mask=None: attention(q, k, v), ["causal mask", "mask is ignored"]),
        (v_inside_softmax, ["RuntimeError", "shape error"]),
        (inverted_mask, ["NaN", "invert"]),
        (with_weights, ["tuple"]),
    ],
)
def test_attention_common_mistakes_fail_with_a_hint(wrong, words, capsys):
    assert_fails(check_attention, wrong, capsys, *words)


# ---------------------------------------------------------------- skip-gram negative sampling


def sgns_loss(center, context, negatives, neg_sign=-1, reduce="mean", log=True, k_sum=True):
    """A student's SGNS loss; the keyword arguments make the common mistakes."""
    f = F.logsigmoid if log else torch.sigmoid
    pos = (context * center).sum(-1)  # (B,)
    neg = torch.einsum("bkd,bd->bk", negatives, center)  # (B, K)
    neg_terms = f(neg_sign * neg)
    loss = -f(pos) - (neg_terms.sum(-1) if k_sum else neg_terms.mean(-1))  # (B,)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduce]


def test_sgns_right_answer_passes(capsys):
    assert_passes(check_sgns_loss, sgns_loss, capsys)


@pytest.mark.parametrize(
    "mistake, words",
    [
        ({"neg_sign": 1}, ["wrong sign"]),
        ({"reduce": "sum"}, ["summed over the batch"]),
        ({"log": False}, ["without the log"]),
        ({"k_sum": False}, ["averaged over the K negatives"]),
        ({"reduce": "none"}, ["shape (4,)", "scalar"]),
    ],
)
def test_sgns_common_mistakes_fail_with_a_hint(mistake, words, capsys):
    def wrong(center, context, negatives):
        return sgns_loss(center, context, negatives, **mistake)

    assert_fails(check_sgns_loss, wrong, capsys, *words)
