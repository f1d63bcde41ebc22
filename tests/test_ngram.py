"""Tests of lmbook.ngram: normalisation, agreement with a slow reference implementation of
add-k and interpolated Kneser–Ney, the key helpers, generation and the errors."""

import itertools
from collections import Counter, defaultdict

import numpy as np
import pytest

from lmbook.ngram import NGramLM, kneser_ney_discount, lookup, ngram_keys

SMOOTHINGS = ("kneser-ney", "add-k")
ORDERS = (1, 2, 3, 4)


# --- a slow, obviously-correct reference --------------------------------------------


class ReferenceNGram:
    """Add-k and interpolated Kneser–Ney with plain dicts of tuples, one query at a time.

    Kneser–Ney: the highest order uses raw counts c(h w); every lower order m uses
    continuation counts N1+(• h w), the number of distinct tokens seen just before h w.
    Each order discounts its counts by D = n1 / (n1 + 2 n2) (0.5 if undefined), computed
    from that order's counts, and hands the discounted mass D·types(h)/total(h) to the
    order below; the lowest order is interpolated with the uniform 1/V. A context whose
    total is zero at some order leaves the lower-order estimate unchanged.

    Add-k: (c(h w) + k) / (c(h) + k V) with h the longest available history, c(h) the
    number of times h is followed by a token.
    """

    def __init__(self, ids, n, V, smoothing, k=1.0):
        ids = [int(i) for i in ids]
        self.n, self.V, self.smoothing, self.k = n, V, smoothing, k
        raw = {
            m: Counter(tuple(ids[i : i + m]) for i in range(len(ids) - m + 1))
            for m in range(1, n + 1)
        }
        self.counts = {}
        for m in range(1, n + 1):
            if smoothing == "kneser-ney" and m < n:
                left = defaultdict(set)
                for gram in raw[m + 1]:
                    left[gram[1:]].add(gram[0])
                self.counts[m] = {gram: len(before) for gram, before in left.items()}
            else:
                self.counts[m] = dict(raw[m])
        self.total = {m: Counter() for m in self.counts}
        self.types = {m: Counter() for m in self.counts}
        self.D = {}
        for m, table in self.counts.items():
            for gram, c in table.items():
                self.total[m][gram[:-1]] += c
                self.types[m][gram[:-1]] += 1
            n1 = sum(1 for c in table.values() if c == 1)
            n2 = sum(1 for c in table.values() if c == 2)
            self.D[m] = n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.5

    def prob(self, history, w):
        history = tuple(int(t) for t in history)
        h = history[max(0, len(history) - (self.n - 1)) :] if self.n > 1 else ()
        if self.smoothing == "add-k":
            m = len(h) + 1
            c = self.counts[m].get(h + (w,), 0)
            return (c + self.k) / (self.total[m][h] + self.k * self.V)
        p = 1.0 / self.V
        for m in range(1, len(h) + 2):
            ctx = h[len(h) - (m - 1) :] if m > 1 else ()
            total = self.total[m][ctx]
            if total == 0:
                continue
            c = self.counts[m].get(ctx + (w,), 0)
            D = self.D[m]
            p = (max(c - D, 0.0) + D * self.types[m][ctx] * p) / total
        return p

    def dist(self, history):
        return np.array([self.prob(history, w) for w in range(self.V)])


# --- helpers and fixtures -----------------------------------------------------------


def _random_contexts(rng, V, count, max_len):
    contexts = [[], [0], [V - 1], [V - 1] * max_len]  # V - 1 never occurs in training
    for _ in range(count):
        contexts.append(rng.integers(0, V, size=rng.integers(0, max_len + 1)).tolist())
    return contexts


@pytest.fixture(scope="module")
def random_train():
    # tokens 0 … V-2 only, so that token V-1 and every context holding it are unseen
    V = 7
    ids = np.random.default_rng(0).integers(0, V - 1, size=400)
    return ids, V


def _structured(rng, size, V=10, noise=0.1):
    """x[t] = (x[t-1] + x[t-2]) mod V, replaced by a uniform draw with probability noise."""
    out = [0, 1]
    for _ in range(size - 2):
        if rng.random() < noise:
            out.append(int(rng.integers(V)))
        else:
            out.append((out[-1] + out[-2]) % V)
    return np.array(out)


# --- (a) every next-token distribution sums to 1 -----------------------------------


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("n", ORDERS)
def test_next_token_probs_sum_to_one(random_train, n, smoothing):
    ids, V = random_train
    lm = NGramLM(n, V, smoothing=smoothing).fit(ids)
    rng = np.random.default_rng(n)
    seen_contexts = [ids[i : i + n - 1].tolist() for i in range(0, 300, 7)]
    for context in _random_contexts(rng, V, 60, 6) + seen_contexts:
        p = lm.next_token_probs(context)
        assert p.shape == (V,)
        assert np.all(p > 0)
        np.testing.assert_allclose(p.sum(), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [0.01, 0.5, 3.0])
def test_add_k_sums_to_one_for_any_k(random_train, k):
    ids, V = random_train
    lm = NGramLM(3, V, smoothing="add-k", k=k).fit(ids)
    for context in _random_contexts(np.random.default_rng(1), V, 30, 4):
        np.testing.assert_allclose(lm.next_token_probs(context).sum(), 1.0, rtol=0, atol=1e-12)


# --- (b) log_probs agrees with next_token_probs ------------------------------------


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("n", ORDERS)
def test_log_probs_match_next_token_probs(random_train, n, smoothing):
    ids, V = random_train
    lm = NGramLM(n, V, smoothing=smoothing).fit(ids)
    test = np.random.default_rng(10 + n).integers(0, V, size=40)
    logp = lm.log_probs(test)
    assert logp.shape == (len(test),)
    assert np.all(logp < 0)
    for i, token in enumerate(test):
        expected = lm.next_token_probs(test[:i])[token]
        np.testing.assert_allclose(np.exp(logp[i]), expected, rtol=1e-12, atol=0)
    assert lm.nats_per_token(test) == pytest.approx(-logp.mean(), rel=1e-12)


# --- (c) agreement with the reference ----------------------------------------------


def test_reference_on_a_hand_computed_bigram():
    # ids 0 1 2 1 0 1, V = 3. Bigram counts: 01×2, 12, 21, 10; n1 = 3, n2 = 1, D2 = 3/5.
    # Continuation counts: 0 ← {1}, 1 ← {0, 2}, 2 ← {1}: 1, 2, 1; D1 = 2/4.
    # P1 = ((1-.5) + .5·3/3) / 4 … = [1/4, 1/2, 1/4].
    # P(·|0) = [.6·1·.25, 2-.6 + .6·1·.5, .6·1·.25] / 2 = [.075, .85, .075].
    # P(·|1) = [1-.6 + .6·2·.25, .6·2·.5, 1-.6 + .6·2·.25] / 2 = [.35, .3, .35].
    # P(·|2) = [.6·.25, 1-.6 + .6·.5, .6·.25] / 1 = [.15, .7, .15].
    ids = [0, 1, 2, 1, 0, 1]
    expected = {
        (): [0.25, 0.5, 0.25],
        (0,): [0.075, 0.85, 0.075],
        (1,): [0.35, 0.3, 0.35],
        (2,): [0.15, 0.7, 0.15],
    }
    lm = NGramLM(2, 3).fit(ids)
    ref = ReferenceNGram(ids, 2, 3, "kneser-ney")
    assert lm.discounts == {1: 0.5, 2: 0.6}
    for context, probs in expected.items():
        np.testing.assert_allclose(lm.next_token_probs(list(context)), probs, atol=1e-15)
        np.testing.assert_allclose(ref.dist(context), probs, atol=1e-15)
    # add-k, k = 1: unigram counts 2, 3, 1 of 6; 1 is followed by 2 and 0
    add1 = NGramLM(2, 3, smoothing="add-k").fit(ids)
    np.testing.assert_allclose(add1.next_token_probs([]), [3 / 9, 4 / 9, 2 / 9], atol=1e-15)
    np.testing.assert_allclose(add1.next_token_probs([1]), [2 / 5, 1 / 5, 2 / 5], atol=1e-15)


@pytest.mark.parametrize(("smoothing", "k"), [("kneser-ney", 1.0), ("add-k", 1.0), ("add-k", 0.3)])
@pytest.mark.parametrize("n", ORDERS)
def test_agrees_with_reference(n, smoothing, k):
    rng = np.random.default_rng(100 + n)
    V = 5
    # skewed, so that counts of 1 and 2 both occur at every order; V-1 never occurs
    train = rng.choice(V - 1, size=300, p=[0.5, 0.25, 0.15, 0.1])
    lm = NGramLM(n, V, smoothing=smoothing, k=k).fit(train)
    ref = ReferenceNGram(train, n, V, smoothing, k=k)
    if smoothing == "kneser-ney":
        assert lm.discounts == pytest.approx(ref.D, rel=1e-15)
    # every context of every length up to n-1 (including unseen ones)
    for length in range(n):
        for context in itertools.product(range(V), repeat=length):
            np.testing.assert_allclose(
                lm.next_token_probs(list(context)), ref.dist(context), rtol=0, atol=1e-12
            )
    # and position by position on held-out text, where early positions have short histories
    test = rng.integers(0, V, size=60)
    expected = [ref.prob(test[:i], int(t)) for i, t in enumerate(test)]
    np.testing.assert_allclose(np.exp(lm.log_probs(test)), expected, rtol=0, atol=1e-12)


def test_kneser_ney_discount():
    assert kneser_ney_discount(np.array([1, 1, 1, 2, 5])) == pytest.approx(3 / 5)
    assert kneser_ney_discount(np.array([1, 1, 3])) == 0.5  # n2 = 0
    assert kneser_ney_discount(np.array([2, 2, 3])) == 0.5  # n1 = 0
    assert kneser_ney_discount(np.array([], dtype=int)) == 0.5


# --- (d) ngram_keys and lookup -----------------------------------------------------


def test_ngram_keys_examples():
    ids = np.array([1, 2, 3, 4])
    np.testing.assert_array_equal(ngram_keys(ids, 1, 10), [1, 2, 3, 4])
    np.testing.assert_array_equal(ngram_keys(ids, 2, 10), [12, 23, 34])
    np.testing.assert_array_equal(ngram_keys(ids, 4, 10), [1234])
    np.testing.assert_array_equal(ngram_keys(np.array([2, 0, 1]), 3, 3), [2 * 9 + 0 * 3 + 1])
    assert ngram_keys(ids, 2, 10).dtype == np.int64


def test_ngram_keys_decode_back_to_the_windows():
    rng = np.random.default_rng(3)
    V, m = 7, 3
    ids = rng.integers(0, V, size=50)
    keys = ngram_keys(ids, m, V)
    assert len(keys) == len(ids) - m + 1
    for i, key in enumerate(keys):
        digits = [(int(key) // V ** (m - 1 - j)) % V for j in range(m)]
        assert digits == ids[i : i + m].tolist()


def test_ngram_keys_large_base_does_not_overflow():
    V = 2**20
    ids = np.array([V - 1, V - 2, V - 3])
    (key,) = ngram_keys(ids, 3, V)
    assert int(key) == (V - 1) * V**2 + (V - 2) * V + (V - 3)


def test_lookup():
    keys = np.array([2, 5, 9])
    values = np.array([20, 50, 90])
    query = np.array([5, 0, 9, 10, 3, 2, 100])
    np.testing.assert_array_equal(lookup(keys, values, query), [50, 0, 90, 0, 0, 20, 0])
    floats = lookup(keys, np.array([0.5, 1.5, 2.5]), np.array([9, 4]))
    np.testing.assert_array_equal(floats, [2.5, 0.0])
    empty = lookup(np.array([], dtype=np.int64), np.array([], dtype=np.int64), query)
    np.testing.assert_array_equal(empty, np.zeros(len(query)))
    assert len(lookup(keys, values, np.array([], dtype=np.int64))) == 0


# --- (e) more context helps on structured text -------------------------------------


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_trigram_beats_unigram_on_structured_text(smoothing):
    rng = np.random.default_rng(5)
    train, held_out = _structured(rng, 20_000), _structured(rng, 2_000)
    unigram = NGramLM(1, 10, smoothing=smoothing).fit(train)
    trigram = NGramLM(3, 10, smoothing=smoothing).fit(train)
    uni, tri = unigram.nats_per_token(held_out), trigram.nats_per_token(held_out)
    assert uni == pytest.approx(np.log(10), abs=0.05)  # about uniform
    assert tri < 0.5 * uni  # the next token is mostly determined by the last two
    # and a trigram on little data is worse than on more data
    small = NGramLM(3, 10, smoothing=smoothing).fit(train[:300])
    assert small.nats_per_token(held_out) > tri


# --- (f) generate -------------------------------------------------------------------


@pytest.fixture(scope="module")
def structured_lm():
    return NGramLM(3, 10).fit(_structured(np.random.default_rng(6), 5_000))


def test_generate_is_reproducible(structured_lm):
    a = structured_lm.generate([3, 4], 50, rng=np.random.default_rng(0))
    b = structured_lm.generate([3, 4], 50, rng=np.random.default_rng(0))
    c = structured_lm.generate([3, 4], 50, rng=np.random.default_rng(1))
    assert a == b
    assert a != c
    np.random.seed(0)
    d = structured_lm.generate([3, 4], 50)
    np.random.seed(0)
    assert structured_lm.generate([3, 4], 50) == d


@pytest.mark.parametrize("length", [0, 1, 37])
def test_generate_returns_length_ids_in_range(structured_lm, length):
    out = structured_lm.generate([1, 2, 3], length, rng=np.random.default_rng(0))
    assert len(out) == length
    assert all(type(i) is int and 0 <= i < 10 for i in out)


def test_generate_from_an_empty_context(structured_lm):
    out = structured_lm.generate([], 20, rng=np.random.default_rng(0))
    assert len(out) == 20 and all(0 <= i < 10 for i in out)


def test_generate_at_low_temperature_is_greedy(structured_lm):
    context = [3, 4]
    out = structured_lm.generate(context, 30, temperature=1e-4, rng=np.random.default_rng(0))
    history = list(context)
    for token in out:
        p = structured_lm.next_token_probs(history)
        top2 = np.sort(p)[-2:]
        assert top2[1] > 1.5 * top2[0]  # a clear winner, so greedy is well defined
        assert token == int(np.argmax(p))
        history.append(token)
    # greedy follows the rule x[t] = x[t-1] + x[t-2] mod 10
    assert out[:4] == [7, 1, 8, 9]


def test_generate_high_temperature_spreads_out(structured_lm):
    rng = np.random.default_rng(0)
    cold = structured_lm.generate([3, 4], 300, temperature=0.5, rng=rng)
    hot = structured_lm.generate([3, 4], 300, temperature=50.0, rng=rng)

    def follows(out):  # how often the generated token obeys the rule
        triples = zip([3, 4] + out, [4] + out, out, strict=False)
        return np.mean([(a + b) % 10 == c for a, b, c in triples])

    assert follows(cold) > 0.9
    assert follows(hot) < 0.5


# --- (g) errors ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, 2.0, "2", True, None])
def test_bad_n(n):
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        NGramLM(n, 10)


@pytest.mark.parametrize("V", [0, -3, 10.0, True])
def test_bad_vocab_size(V):
    with pytest.raises(ValueError, match="vocab_size must be an int >= 1"):
        NGramLM(2, V)


def test_unknown_smoothing():
    with pytest.raises(ValueError, match="'witten-bell'") as info:
        NGramLM(2, 10, smoothing="witten-bell")
    assert "kneser-ney" in str(info.value) and "add-k" in str(info.value)


@pytest.mark.parametrize("k", [0, -1.0, float("nan")])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be > 0"):
        NGramLM(2, 10, smoothing="add-k", k=k)


def test_vocab_size_to_the_n_too_large():
    with pytest.raises(ValueError, match="too large"):
        NGramLM(11, 65)
    with pytest.raises(ValueError, match="too large"):
        NGramLM(2, 2**32)  # keys up to 2**64 - 1 do not fit in int64
    NGramLM(10, 78)  # 78**10 < 2**63: the book's 77-character vocabulary allows n = 10


def test_keys_at_the_int64_limit_do_not_overflow():
    V = 3_037_000_499  # the largest V with V**2 - 1 <= 2**63 - 1
    ids = [V - 1, V - 1, 0, V - 1]
    lm = NGramLM(2, V, smoothing="add-k", k=1.0).fit(ids)
    keys, counts = lm.tables[2]
    assert sorted(keys.tolist()) == [V - 1, (V - 1) * V, (V - 1) * V + V - 1]
    p = np.exp(lm.log_probs([V - 1, V - 1]))
    assert p[1] == pytest.approx((1 + 1.0) / (2 + V))  # c(h w) = 1, c(h) = 2


def test_ids_out_of_range_name_the_range():
    lm = NGramLM(2, 5)
    for bad in ([0, 1, 5], [0, -1, 2]):
        with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\)"):
            lm.fit(bad)
    lm.fit([0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        lm.log_probs([0, 7])
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        lm.nats_per_token([9])
    with pytest.raises(ValueError, match=r"context must lie in \[0, 5\)"):
        lm.generate([5], 3)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_next_token_probs_checks_its_context(n):
    lm = NGramLM(n, 5).fit([0, 1, 2, 3, 4, 0, 1])
    with pytest.raises(ValueError, match=r"context must lie in \[0, 5\)"):
        lm.next_token_probs([0, 9])
    with pytest.raises(TypeError, match="got a str"):
        lm.next_token_probs("ab")


def test_str_instead_of_ids():
    lm = NGramLM(2, 5)
    with pytest.raises(TypeError, match="got a str"):
        lm.fit("01234")
    lm.fit([0, 1, 2, 3])
    with pytest.raises(TypeError, match="got a str"):
        lm.log_probs("012")
    with pytest.raises(TypeError, match="got a str"):
        lm.generate("01", 2)


@pytest.mark.parametrize("bad", [[0.0, 1.0, 2.0], [[0, 1], [2, 3]], [True, False, True]])
def test_non_integer_ids(bad):
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        NGramLM(2, 5).fit(bad)


@pytest.mark.parametrize("n", [1, 3])
def test_fit_on_fewer_than_n_tokens(n):
    with pytest.raises(
        ValueError, match=f"ids must hold at least n={n} training tokens, got {n - 1}"
    ):
        NGramLM(n, 5).fit(list(range(n - 1)))


def test_scoring_an_empty_sequence():
    lm = NGramLM(2, 5).fit([0, 1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        lm.nats_per_token([])
    assert lm.log_probs([]).shape == (0,)


def test_unfitted_model():
    lm = NGramLM(2, 5)
    for call in (
        lambda: lm.next_token_probs([1]),
        lambda: lm.log_probs([1, 2]),
        lambda: lm.nats_per_token([1, 2]),
        lambda: lm.generate([1], 3),
    ):
        with pytest.raises(RuntimeError, match="not fitted"):
            call()


@pytest.mark.parametrize("length", [-1, 2.0, True])
def test_generate_bad_length(structured_lm, length):
    with pytest.raises(ValueError, match="length must be an int >= 0"):
        structured_lm.generate([1], length)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_generate_bad_temperature(structured_lm, temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        structured_lm.generate([1], 5, temperature=temperature)


def test_repr():
    assert repr(NGramLM(3, 65, smoothing="add-k")) == (
        "NGramLM(n=3, vocab_size=65, smoothing='add-k')"
    )
