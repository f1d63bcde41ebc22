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


# --- chapter 7: labelings, class orders, padded passages and class ids ----------------


def test_check_labelings() -> None:
    from lmbook.validate import check_labelings

    check_labelings(y_true=["a", "b"], y_pred=np.array([0, 1]))
    with pytest.raises(ValueError, match="3 labels in y_true but 2 in y_pred: give one each"):
        check_labelings(y_true=["a", "b", "c"], y_pred=["a", "b"])
    with pytest.raises(ValueError, match="y_true and y_pred are empty"):
        check_labelings(y_true=[], y_pred=[])
    with pytest.raises(TypeError, match="y_true must be a sequence of labels, got a str"):
        check_labelings(y_true="abc", y_pred=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"y_pred must be 1-D, got shape \(2, 1\)"):
        check_labelings(y_true=[0, 1], y_pred=np.zeros((2, 1)))


def test_check_class_order() -> None:
    from lmbook.validate import check_class_order

    check_class_order(None, {"a", "b"})
    check_class_order(np.array([2, 0, 1]), {0, 2})  # NumPy items, and an absent class
    with pytest.raises(ValueError, match=r"classes 'c' occur but are not in labels \['a', 'b'\]"):
        check_class_order(["a", "b"], {"a", "c"})
    with pytest.raises(ValueError, match="labels holds a class twice"):
        check_class_order(["a", "a"], {"a"})
    with pytest.raises(ValueError, match="labels is empty"):
        check_class_order([], {"a"})
    with pytest.raises(TypeError, match="labels must be a sequence of classes, got a str"):
        check_class_order("ab", {"a"})
    with pytest.raises(TypeError, match=r"cannot sort the classes .* pass labels"):
        check_class_order(None, {1, "a"})


def test_check_passages() -> None:
    from lmbook.validate import check_passages

    check_passages(["a", "bc"])
    with pytest.raises(TypeError, match="got a str; wrap it"):
        check_passages("abc")
    with pytest.raises(ValueError, match="texts is empty"):
        check_passages([])
    with pytest.raises(ValueError, match="passage 1 must be a non-empty str, got ''"):
        check_passages(["a", ""])


def test_check_padded_ids() -> None:
    from lmbook.validate import check_padded_ids

    check_padded_ids("idx", torch.tensor([[1, 2, -1], [3, 4, 5]]), pad_id=-1)
    with pytest.raises(TypeError, match=r"idx must be a \(B, T\) LongTensor, .* torch.int32"):
        check_padded_ids("idx", torch.zeros(1, 2, dtype=torch.int32), pad_id=-1)
    with pytest.raises(ValueError, match="a passage in idx has no characters"):
        check_padded_ids("idx", torch.tensor([[1, 2], [-1, -1]]), pad_id=-1)
    with pytest.raises(ValueError, match=r"padding must come after .* pad id \(-1\)"):
        check_padded_ids("idx", torch.tensor([[1, -1, 2]]), pad_id=-1)


def test_check_class_ids_and_weights() -> None:
    from lmbook.validate import check_class_ids, check_class_weights

    check_class_ids("labels", torch.tensor([0, 2, 1]), 3)
    with pytest.raises(ValueError, match=r"labels must be \(N,\) = \(3,\) class ids, got torch"):
        check_class_ids("labels", torch.zeros(3), 3)
    with pytest.raises(ValueError, match=r"targets must be \(B,\) = \(1,\) class ids, got list"):
        check_class_ids("targets", [0], 1, dim="B")
    check_class_weights(torch.tensor([1.0, 0.5]), 2)
    check_class_weights(None, 2)
    check_class_weights([1, 2], 2)
    with pytest.raises(ValueError, match=r"class_weights must be 2 numbers > 0, .* got \[1.0"):
        check_class_weights(torch.tensor([1.0, math.nan]), 2)
    with pytest.raises(ValueError, match="class_weights must be 3 numbers > 0"):
        check_class_weights(torch.tensor([1.0, 1.0]), 3)
