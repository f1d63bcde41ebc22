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


# --- chapter 4: encoder–decoder ---------------------------------------------------------

from lmbook.validate import (  # noqa: E402
    check_corpus,
    check_decodable,
    check_distinct,
    check_encoded_pairs,
    check_id,
    check_padded_right,
    check_sentence_pair,
    check_source_batch,
    check_targets,
    check_tokens,
    check_vocab_specials,
)


def test_check_tokens_and_pairs() -> None:
    check_tokens("s", ["le", "chat"])
    with pytest.raises(TypeError, match=r"s is a str \('le chat'\), not a list of tokens"):
        check_tokens("s", "le chat")
    check_sentence_pair("pair 0", (["a"], ["b"]))
    with pytest.raises(ValueError, match=r"pair 0 must be a \(source tokens, target tokens\)"):
        check_sentence_pair("pair 0", (["a"],))
    with pytest.raises(TypeError, match="the target of pair 3 is a str"):
        check_sentence_pair("pair 3", (["a"], "b c"))


def test_check_corpus() -> None:
    check_corpus([["a"]], [("a", "b")])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        check_corpus([["a"], ["b"]], [["a"]])
    with pytest.raises(ValueError, match="the corpus is empty"):
        check_corpus([], [])
    with pytest.raises(TypeError, match="references must be a list of token lists"):
        check_corpus([["a"]], "a")
    with pytest.raises(TypeError, match="hypothesis 1 is a str"):
        check_corpus([["a"], "b"], [["a"], ["b"]])


def test_check_vocab_specials() -> None:
    from lmbook.text import Vocab

    vocab = Vocab(["a"], specials=("<pad>",), unk="<unk>")
    check_vocab_specials("v", vocab, ("<pad>", "<unk>"))
    with pytest.raises(ValueError, match=r"v lacks the special tokens \['<bos>'\]"):
        check_vocab_specials("v", vocab, ("<pad>", "<bos>"))
    with pytest.raises(TypeError, match="v must be an lmbook.text.Vocab, got dict"):
        check_vocab_specials("v", {"a": 0}, ())


def test_check_id_and_distinct() -> None:
    check_id("bos_id", 2, "tgt_vocab_size", 9)
    check_id("bos_id", np.int64(0), "tgt_vocab_size", 9)
    for bad in (9, -1, 2.0, True):
        with pytest.raises(ValueError, match=r"bos_id must be an int in \[0, tgt_vocab_size=9\)"):
            check_id("bos_id", bad, "tgt_vocab_size", 9)
    check_distinct(a=1, b=2, c=3)
    with pytest.raises(ValueError, match="a, b and c must differ, got 1, 2 and 2"):
        check_distinct(a=1, b=2, c=2)


def test_check_encoded_pairs() -> None:
    check_encoded_pairs("examples", [([5, 3], [2, 3])])
    with pytest.raises(ValueError, match="examples must not be empty"):
        check_encoded_pairs("examples", [])
    with pytest.raises(ValueError, match="example 1 must be .* at least <bos> <eos>"):
        check_encoded_pairs("examples", [([5, 3], [2, 3]), ([5], [2])])


def test_check_id_batches() -> None:
    src = torch.tensor([[5, 3, 1], [5, 6, 3]])
    check_source_batch(src)
    check_padded_right("source", src, pad_id=1)
    with pytest.raises(TypeError, match=r"src must be a \(B, S\) LongTensor .* got torch.int32"):
        check_source_batch(src.int())
    with pytest.raises(ValueError, match=r"src holds no sentence \(B = 0\)"):
        check_source_batch(src[:0])
    with pytest.raises(ValueError, match=r"source row 1 is all <pad> \(id 1\)"):
        check_padded_right("source", torch.tensor([[5, 3], [1, 1]]), pad_id=1)
    with pytest.raises(ValueError, match="source rows must be padded on the right only"):
        check_padded_right("source", torch.tensor([[1, 3]]), pad_id=1)
    check_targets(torch.tensor([[2, 7, 3]]), bos_id=2)
    with pytest.raises(ValueError, match="tgt must hold at least <bos> and <eos>"):
        check_targets(torch.tensor([[2]]), bos_id=2)
    with pytest.raises(ValueError, match=r"must start with <bos> \(id 2\), got first ids \[7\]"):
        check_targets(torch.tensor([[7, 3]]), bos_id=2)


def test_check_decodable() -> None:
    from types import SimpleNamespace

    check_decodable(SimpleNamespace(config=SimpleNamespace(bos_id=2, eos_id=3)))
    with pytest.raises(TypeError, match="model must have config.bos_id and config.eos_id"):
        check_decodable(SimpleNamespace(config=SimpleNamespace(bos_id=2)))
