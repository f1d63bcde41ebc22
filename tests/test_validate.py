"""lmbook.validate: the named checks the package's guards call, one line each."""

import math

import numpy as np
import pytest
import torch

from lmbook.validate import (
    check_choice,
    check_finite,
    check_int,
    check_module,
    check_nonempty,
    check_number,
    check_probability,
    check_same_length,
    check_str,
    check_tensor,
    check_token_ids,
    check_type,
)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1), torch.tensor(4)])
def test_check_int_accepts_python_numpy_and_0d_tensor_ints(value) -> None:
    check_int("n", value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": 0}, "n must be an int >= 1, got 0"),
        ({"value": True}, "n must be an int >= 1, got True"),
        ({"value": 2.0}, "n must be an int >= 1, got 2.0"),
        ({"value": "3"}, "n must be an int >= 1, got '3'"),
        ({"value": None}, "n must be an int >= 1, got None"),
        ({"value": 5, "high": 3}, r"n must be an int in \[1, 3\], got 5"),
        ({"value": -1, "low": 0, "allow_none": True}, "n must be an int >= 0 or None, got -1"),
        ({"value": torch.tensor(2.5)}, "n must be an int >= 1"),
    ],
)
def test_check_int_names_the_argument_and_what_is_allowed(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_int("n", **kwargs)


def test_check_int_allows_none_only_when_asked() -> None:
    check_int("n", None, allow_none=True)


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        (0.5, {"low": 0, "high": 1}),
        (np.float32(1.2), {"low": 0, "low_open": True}),
        (torch.tensor(0.25), {"low": 0, "high": 1}),
        (3, {}),
        (None, {"allow_none": True}),
    ],
)
def test_check_number_accepts(value, kwargs) -> None:
    check_number("x", value, **kwargs)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (math.nan, {"low": 0, "low_open": True}, "x must be a number > 0, got nan"),
        (math.inf, {"low": 0, "low_open": True}, "x must be a number > 0, got inf"),
        (math.nan, {}, "x must be a number, got nan"),
        (1.0, {"low": 0, "high": 1, "high_open": True}, r"x must be a number in \[0, 1\)"),
        (0, {"low": 0, "high": 1, "low_open": True}, r"x must be a number in \(0, 1\]"),
        (False, {"low": 0}, "x must be a number >= 0, got False"),
        ("1", {}, "x must be a number, got '1'"),
        (-1, {"high": -2}, "x must be a number <= -2, got -1"),
    ],
)
def test_check_number_rejects(value, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_number("x", value, **kwargs)


def test_check_probability() -> None:
    check_probability("p", 1)
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\], got 1.5"):
        check_probability("p", 1.5)


def test_check_choice() -> None:
    check_choice("positions", "learned", ("learned", "sinusoidal"))
    with pytest.raises(ValueError, match="positions must be one of 'learned', 'sinusoidal'"):
        check_choice("positions", "rotary", ("learned", "sinusoidal"))
    with pytest.raises(ValueError, match="got \\['learned'\\]"):
        check_choice("positions", ["learned"], ("learned", "sinusoidal"))


def test_check_type_module_and_str() -> None:
    check_type("path", "a", (str,), "a str or a Path")
    with pytest.raises(TypeError, match="path must be a str or a Path, got int"):
        check_type("path", 3, (str,), "a str or a Path")
    with pytest.raises(TypeError, match="flag must be an int, got bool"):
        check_type("flag", True, int, "an int")
    check_module("model", torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
        check_module("model", "gpt")
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        check_str("name", "", empty=False)


def test_check_nonempty_and_same_length() -> None:
    check_same_length(a=[1, 2], b="xy")
    with pytest.raises(ValueError, match="a and b must have the same length, got a 1, b 2"):
        check_same_length(a=[1], b=[1, 2])
    with pytest.raises(ValueError, match="texts must not be empty"):
        check_nonempty("texts", [])


def test_check_tensor() -> None:
    check_tensor("x", torch.zeros(2, 3, dtype=torch.long), ndim=2, integer=True)
    with pytest.raises(TypeError, match=r"x must be an integer tensor \(B, T\), got torch.float32"):
        check_tensor("x", torch.zeros(2, 3), ndim=2, integer=True, shape="(B, T)")
    with pytest.raises(TypeError, match="x must be a floating-point tensor 1-D, got torch.int64"):
        check_tensor("x", torch.zeros(3, dtype=torch.long), ndim=1, integer=False)
    with pytest.raises(TypeError, match="x must be a tensor, got list"):
        check_tensor("x", [1, 2])


def test_check_finite() -> None:
    check_finite("logits", torch.zeros(3))
    with pytest.raises(ValueError, match="logits holds NaN or infinite values"):
        check_finite("logits", torch.tensor([0.0, math.nan]))


def test_check_token_ids() -> None:
    check_token_ids(torch.tensor([[0, 10]]), vocab_size=11, block_size=2)
    with pytest.raises(ValueError, match="ids from 0 to 11; this model knows ids 0 … 10"):
        check_token_ids(torch.tensor([[0, 11]]), vocab_size=11)
    with pytest.raises(ValueError, match="T = 3 exceeds block_size = 2"):
        check_token_ids(torch.zeros(1, 3, dtype=torch.long), vocab_size=11, block_size=2)
    with pytest.raises(ValueError, match="T = 1 cached \\+ 2 new = 3 exceeds block_size = 2"):
        check_token_ids(torch.zeros(1, 2, dtype=torch.long), 11, block_size=2, start_pos=1)
    with pytest.raises(TypeError, match=r"\(B, T\) LongTensor of token ids, got torch.int32"):
        check_token_ids(torch.zeros(1, 2, dtype=torch.int32), vocab_size=11)
    with pytest.raises(ValueError, match="idx holds no tokens"):
        check_token_ids(torch.zeros(1, 0, dtype=torch.long), vocab_size=11)


# --- chapter 1: token ids, tokens and vocabularies, n-gram models ---


def test_check_ids() -> None:
    from lmbook.validate import check_ids

    check_ids("ids", [0, 4], vocab_size=5)
    check_ids("ids", [], vocab_size=5)
    with pytest.raises(TypeError, match="got a str; encode it with a Vocab first"):
        check_ids("ids", "01", vocab_size=5)
    with pytest.raises(TypeError, match="ids must be a 1-D sequence of ints, got dtype float64"):
        check_ids("ids", [0.0, 1.0], vocab_size=5)
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        check_ids("ids", [[0, 1]], vocab_size=5)
    with pytest.raises(ValueError, match=r"context must lie in \[0, 5\); got values from 0 to 7"):
        check_ids("context", [0, 7], vocab_size=5)


def test_check_min_length_positive_and_fitted() -> None:
    from lmbook.validate import check_fitted, check_min_length, check_positive

    check_min_length("ids", [1, 2], 2, "n=2 tokens")
    with pytest.raises(ValueError, match="ids must hold at least n=3 tokens, got 2"):
        check_min_length("ids", [1, 2], 3, "n=3 tokens")
    check_positive("k", 0.5)
    for bad in (0, -1.0, math.nan, math.inf, True, "1"):
        with pytest.raises(ValueError, match=r"k must be > 0 \(it divides\), got"):
            check_positive("k", bad, "it divides")
    check_fitted(object(), True)
    with pytest.raises(RuntimeError, match="this object is not fitted yet; call fit"):
        check_fitted(object(), False)


def test_check_ngram_keys_fit() -> None:
    from lmbook.validate import check_ngram_keys_fit

    check_ngram_keys_fit(10, 78)  # 78**10 < 2**63
    with pytest.raises(ValueError, match=r"vocab_size\*\*n = 65\*\*11 is too large"):
        check_ngram_keys_fit(11, 65)


def test_check_tokens_and_vocabularies() -> None:
    from lmbook.validate import (
        check_distinct,
        check_known_tokens,
        check_min_freq,
        check_str_items,
        check_tokens,
        check_vocab_ids,
    )

    check_tokens("tokens", ["a"])
    with pytest.raises(TypeError, match="tokens must be a sequence of tokens, got a str"):
        check_tokens("tokens", "abc")
    with pytest.raises(TypeError, match="tokens must be str, got int 3"):
        check_str_items("tokens", ["a", 3])
    with pytest.raises(ValueError, match=r"specials must be distinct, got \['x', 'x'\]"):
        check_distinct("specials", ["x", "x"])
    check_min_freq(2, {"a": 2})
    with pytest.raises(ValueError, match="min_freq=3 times; the most frequent occurs 2 times"):
        check_min_freq(3, {"a": 2, "b": 1})
    with pytest.raises(ValueError, match="min_freq must be an int >= 1"):
        check_min_freq(0, {"a": 2})
    check_vocab_ids([0, torch.tensor(3), np.int64(1)], size=4)
    with pytest.raises(TypeError, match="ids must be integers, got float 1.5"):
        check_vocab_ids([1.5], size=4)
    with pytest.raises(ValueError, match="id 4 is out of range for a Vocab of size 4"):
        check_vocab_ids([4], size=4)
    check_known_tokens(["a"], {"a": 0})
    with pytest.raises(ValueError, match="unknown token 'b' and this Vocab has no <unk>"):
        check_known_tokens(["a", "b"], {"a": 0})


# --- chapter 10: language models as analysis tools ---


def test_chapter_10_validators() -> None:
    from lmbook.data import Line
    from lmbook.validate import (
        check_lines_scored,
        check_list_not_one,
        check_scorable_ids,
        check_shape,
        check_subset,
        check_text_lines,
    )

    check_scorable_ids("ids", [1, 2])
    check_scorable_ids("ids", torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="encode it with a Vocab first"):
        check_scorable_ids("ids", "abc")
    with pytest.raises(TypeError, match="ids must be a 1-D sequence of ints, got torch.float32"):
        check_scorable_ids("ids", [1.0, 2.0])
    with pytest.raises(ValueError, match="need at least 2 ids to score a prediction, got 1"):
        check_scorable_ids("ids", [3])
    check_list_not_one("paths", ["a.txt"], str, "path")
    with pytest.raises(TypeError, match="paths must be a list, got one path: wrap it in a list"):
        check_list_not_one("paths", "a.txt", str, "path")
    check_text_lines("lines", ["a", "b"])
    with pytest.raises(TypeError, match="got one str: wrap it in a list"):
        check_text_lines("lines", "a\nb")
    with pytest.raises(TypeError, match="lines must hold str, one line each, got int 3"):
        check_text_lines("lines", ["a", 3])
    check_subset("kinds", ["swap"], ("swap", "shuffle"))
    for bad in (["reverse"], [], "swap"):
        with pytest.raises(ValueError, match=r"kinds must be a non-empty list of \('swap',"):
            check_subset("kinds", bad, ("swap", "shuffle"))
    check_shape("init", torch.zeros(2, 3), (2, 3), "(k, d)")
    with pytest.raises(ValueError, match=r"init must have shape \(k, d\) = \(2, 3\), got \(3,"):
        check_shape("init", torch.zeros(3, 3), (2, 3), "(k, d)")
    check_lines_scored([Line("ab", "X", 0)], 3)
    with pytest.raises(ValueError, match="ends at character 4, past the 3 scored ones"):
        check_lines_scored([Line("abc", "X", 0)], 3)
