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


# --- chapter 2 (word vectors): corpora, counts, vocabularies ----------------------------

from lmbook.validate import (  # noqa: E402  (imported here: this section is appended)
    check_corpus_ids,
    check_counts,
    check_in_vocabulary,
    check_min_count,
    check_one_vector_per_word,
    check_sentence_ids,
    check_sentences,
)


def test_check_sentences() -> None:
    check_sentences([["to", "be"], []])
    check_sentences([])
    with pytest.raises(TypeError, match="list of token lists.*got a str: tokenize first"):
        check_sentences("to be")
    with pytest.raises(TypeError, match="got a list of str: tokenize first"):
        check_sentences(["to be", "or not"])


def test_check_min_count() -> None:
    check_min_count({"a": 2, "b": 1}, 2)
    with pytest.raises(ValueError, match="the corpus is empty: no sentence holds a word"):
        check_min_count({}, 1)
    with pytest.raises(ValueError, match="no word occurs min_count=3 times; the most frequent"):
        check_min_count({"a": 2}, 3)


def test_check_corpus_ids_and_sentence_ids() -> None:
    check_corpus_ids([0])
    with pytest.raises(ValueError, match="the corpus is empty: it holds no word"):
        check_corpus_ids([])
    check_sentence_ids([1, 2], [0, 0])
    with pytest.raises(ValueError, match=r"1-D of equal length, got shapes \(2,\) and \(3,\)"):
        check_sentence_ids([1, 2], [0, 0, 1])
    with pytest.raises(ValueError, match="1-D of equal length"):
        check_sentence_ids([[1, 2]], [[0, 0]])


def test_check_counts() -> None:
    check_counts([3, 1])
    for bad in ([], [3, 0], [[1, 2]]):
        with pytest.raises(ValueError, match="non-empty 1-D array of positive word counts"):
            check_counts(bad)


def test_check_one_vector_per_word_and_in_vocabulary() -> None:
    check_one_vector_per_word(["a", "b"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"one vector per word: 3 words, vectors \(2, 3\)"):
        check_one_vector_per_word(["a", "b", "c"], np.zeros((2, 3)))
    check_in_vocabulary("a", {"a": 0})
    with pytest.raises(ValueError, match="'b' is not in the vocabulary of 1 words; check"):
        check_in_vocabulary("b", {"a": 0})
