"""Tests of lmbook.metrics: cross_entropy, perplexity and nats_to_bits."""

import math

import numpy as np
import pytest

from lmbook.metrics import cross_entropy, nats_to_bits, perplexity


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
