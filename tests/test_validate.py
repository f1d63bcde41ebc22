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


# --- chapter 5, attention ---------------------------------------------------------------


def test_attention_validators() -> None:
    from torch import nn

    from lmbook.validate import (
        check_additive_inputs,
        check_attention_inputs,
        check_even_int,
        check_ids_or_lengths,
        check_mask,
        check_mha_config,
        check_mha_inputs,
        check_torch_mha,
    )

    check_mask(torch.ones(3, 5, dtype=torch.bool), torch.Size((2, 3, 5)), "the scores")
    with pytest.raises(TypeError, match="mask must be a bool tensor .* got torch.float32"):
        check_mask(torch.ones(3, 5), torch.Size((2, 3, 5)), "the scores")
    with pytest.raises(ValueError, match=r"mask of shape \(5, 3\) does not broadcast to x"):
        check_mask(torch.ones(5, 3, dtype=torch.bool), torch.Size((2, 3, 5)), "x")
    q, k, v = torch.zeros(2, 3, 8), torch.zeros(2, 5, 8), torch.zeros(2, 5, 4)
    check_attention_inputs(q, k, v, torch.ones(3, 5, dtype=torch.bool), 0.1)
    with pytest.raises(ValueError, match=r"share d_k .* k \(2, 5, 6\)"):
        check_attention_inputs(q, torch.zeros(2, 5, 6), v)
    with pytest.raises(ValueError, match=r"dropout_p must be a number in \[0, 1\), got 1.0"):
        check_attention_inputs(q, k, v, dropout_p=1.0)
    check_mha_config(12, 3, 0.1)
    with pytest.raises(ValueError, match=r"n_heads may be one of \[1, 2, 5, 10\]"):
        check_mha_config(10, 4, 0.0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1"):
        check_mha_config(8, 2, 1)
    x, attn = torch.zeros(2, 3, 8), nn.Module()
    attn.d_model, attn.n_heads = 8, 2
    check_mha_inputs(attn, x, x, x, torch.ones(3, 3, dtype=torch.bool), x[..., 0] == 0)
    with pytest.raises(ValueError, match=r"3-D mask \(2, 3, 3\) is ambiguous"):
        check_mha_inputs(attn, x, x, x, torch.ones(2, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"padding_mask must be \(B, T_k\) = \(2, 3\), got list"):
        check_mha_inputs(attn, x, x, x, padding_mask=[True])
    check_ids_or_lengths(torch.tensor([2, 1]), None, 3)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, max_len=1\]"):
        check_ids_or_lengths(torch.tensor([2, 1]), None, 1)
    check_even_int("d_model", 4, "pairs")
    for bad in (3, 0, 4.0, True):
        with pytest.raises(ValueError, match=r"d_model must be an even int >= 2 \(pairs\)"):
            check_even_int("d_model", bad, "pairs")
    check_additive_inputs(torch.zeros(2, 5), torch.zeros(2, 7, 6))
    with pytest.raises(ValueError, match=r"s must be \(B, d_query\)"):
        check_additive_inputs(torch.zeros(3, 5), torch.zeros(2, 7, 6))
    check_torch_mha(nn.MultiheadAttention(8, 2), 8, 2, True)
    with pytest.raises(ValueError, match=r"differ: \(8, 4, True\) here, \(8, 2, True\)"):
        check_torch_mha(nn.MultiheadAttention(8, 2), 8, 4, True)
    with pytest.raises(TypeError, match="mha must be a torch.nn.MultiheadAttention"):
        check_torch_mha(nn.Linear(8, 8), 8, 2, True)


def test_alignment_validators() -> None:
    from lmbook.validate import check_corpus_pair, check_nonzero, check_one_link_per_target

    check_corpus_pair(predicted=[{(0, 0)}], gold=[{(0, 0)}])
    with pytest.raises(ValueError, match="1 sentences in predicted but 2 in gold"):
        check_corpus_pair(predicted=[set()], gold=[set(), set()])
    with pytest.raises(ValueError, match="the corpus is empty"):
        check_corpus_pair(predicted=[], gold=[])
    check_one_link_per_target({(0, 0), (1, 1)}, "sentence 0")
    with pytest.raises(ValueError, match=r"sentence 3 links target token 0 to \[0, 1\]"):
        check_one_link_per_target({(0, 0), (1, 0)}, "sentence 3")
    check_nonzero(2, "never")
    with pytest.raises(ValueError, match="accuracy is 0/0"):
        check_nonzero(0, "accuracy is 0/0")
