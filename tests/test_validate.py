"""lmbook.validate: the named checks the package's guards call, one line each."""

import math

import numpy as np
import pytest
import torch

from lmbook.validate import (
    check_choice,
    check_even,
    check_finite,
    check_head_split,
    check_int,
    check_logits,
    check_module,
    check_needed,
    check_nonempty,
    check_number,
    check_probability,
    check_prompt,
    check_same_length,
    check_same_shape,
    check_schedule,
    check_str,
    check_temperature,
    check_tensor,
    check_token_ids,
    check_token_sequence,
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


# --- chapter 6 (transformers) --------------------------------------------------------------


def test_check_head_split_and_check_even() -> None:
    check_head_split("n_embd", 12, "n_head", 4)
    with pytest.raises(
        ValueError, match=r"n_embd=10 is not divisible by n_head=4.*\[1, 2, 5, 10\]"
    ):
        check_head_split("n_embd", 10, "n_head", 4)
    check_even("n_embd", 8, "pairs")
    with pytest.raises(ValueError, match="sine–cosine pairs: n_embd must be even, got 9"):
        check_even("n_embd", 9, "sine–cosine pairs")


def test_check_same_shape() -> None:
    check_same_shape("targets", torch.zeros(2, 3), "idx", torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"targets must have the shape of idx, \(2, 3\), got"):
        check_same_shape("targets", torch.zeros(2, 4), "idx", torch.zeros(2, 3))
    with pytest.raises(ValueError, match="got list"):
        check_same_shape("targets", [1], "idx", torch.zeros(2, 3))


def test_check_token_sequence() -> None:
    check_token_sequence("ids", [1, 2, 3], at_least=3)
    check_token_sequence("ids", np.arange(4))
    with pytest.raises(TypeError, match="got a str; encode it"):
        check_token_sequence("ids", "to be")
    with pytest.raises(TypeError, match="ids must be a 1-D tensor of ints"):
        check_token_sequence("ids", torch.rand(5))
    with pytest.raises(TypeError, match="ids must be a 1-D tensor of ints"):
        check_token_sequence("ids", torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"too short \(0 ids\): at least 1 ids are needed"):
        check_token_sequence("ids", [])
    with pytest.raises(ValueError, match="at least 2 ids are needed to score a prediction"):
        check_token_sequence("ids", [3], at_least=2, why="to score a prediction")


def test_check_prompt() -> None:
    check_prompt([1, 2], block_size=2)
    check_prompt(torch.tensor([[1, 2]]), block_size=2)  # (1, T) is a prompt too
    with pytest.raises(ValueError, match="the prompt has 3 ids, more than block_size = 2"):
        check_prompt([1, 2, 3], block_size=2)
    with pytest.raises(ValueError, match="the prompt is empty"):
        check_prompt([], block_size=2)
    with pytest.raises(TypeError, match=r"1-D \(T,\) or \(1, T\) ints, got torch.float32"):
        check_prompt([0.5], block_size=2)
    with pytest.raises(TypeError, match="got a str"):
        check_prompt("to be", block_size=8)


def test_check_temperature_and_check_logits() -> None:
    check_temperature(0.7)
    check_temperature(np.float32(2.0))
    with pytest.raises(ValueError, match="got 0; for greedy decoding use top_k=1"):
        check_temperature(0)
    for bad in (-1.0, math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            check_temperature(bad)
    check_logits(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\(…, V\) with V >= 1, got shape \(\)"):
        check_logits(torch.tensor(1.0))
    with pytest.raises(TypeError, match="logits must be a float tensor, got torch.int64"):
        check_logits(torch.tensor([1, 2]))


def test_check_schedule_and_check_needed() -> None:
    check_schedule(0, 1, 0.0)
    with pytest.raises(ValueError, match="warmup_steps must be an int >= 0"):
        check_schedule(-1, 10, 0.1)
    with pytest.raises(ValueError, match=r"total_steps must be an int > warmup_steps \(10\)"):
        check_schedule(10, 10, 0.1)
    with pytest.raises(ValueError, match=r"min_ratio must be a number in \[0, 1\]"):
        check_schedule(2, 10, 1.5)
    check_needed("resume", False, "checkpoint", None)
    check_needed("eval_every", None, "evaluate", None)
    with pytest.raises(ValueError, match="resume=True but checkpoint is None: give checkpoint"):
        check_needed("resume", True, "checkpoint", None)
