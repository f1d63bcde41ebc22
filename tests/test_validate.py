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
        check_known_tokens,
        check_min_freq,
        check_str_items,
        check_tokens,
        check_unique,
        check_vocab_ids,
    )

    check_tokens("tokens", ["a"])
    with pytest.raises(TypeError, match="tokens must be a sequence of tokens, got a str"):
        check_tokens("tokens", "abc")
    with pytest.raises(TypeError, match="tokens must be str, got int 3"):
        check_str_items("tokens", ["a", 3])
    with pytest.raises(ValueError, match=r"specials must be distinct, got \['x', 'x'\]"):
        check_unique("specials", ["x", "x"])
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


# --- chapter 3: recurrent networks ---


def test_check_text_ids() -> None:
    from lmbook.validate import check_text_ids  # imported here: the file's sections stay apart

    check_text_ids("ids", [0, 3, 4], vocab_size=5, min_length=3)
    check_text_ids("ids", torch.tensor([1, 2], dtype=torch.int32))
    check_text_ids("ids", [])  # nothing required, nothing given
    with pytest.raises(TypeError, match="ids must be token ids, got a str; encode it with a Vocab"):
        check_text_ids("ids", "ROMEO")
    with pytest.raises(TypeError, match=r"ids must be a 1-D sequence of ints, got torch.float32"):
        check_text_ids("ids", [1.0, 2.0])
    with pytest.raises(TypeError, match=r"1-D sequence of ints, got torch.int64 \(1, 2\)"):
        check_text_ids("ids", [[1, 2]])
    with pytest.raises(TypeError, match="1-D sequence of ints, got torch.bool"):
        check_text_ids("ids", torch.tensor([True]))
    with pytest.raises(ValueError, match="p holds 1 id, too few to start: at least 2 ids"):
        check_text_ids("p", [1], min_length=2, purpose="to start")
    with pytest.raises(ValueError, match="p holds 0 ids, too few: at least 1 id$"):
        check_text_ids("p", [], min_length=1)
    with pytest.raises(ValueError, match="ids holds ids from -1 to 4; this model knows ids 0 … 4"):
        check_text_ids("ids", [-1, 4], vocab_size=5)


def test_check_ndim_target_shape_and_carried_state() -> None:
    from lmbook.validate import check_carried_state, check_ndim, check_target_shape

    check_ndim("x", torch.zeros(2, 3), 2, "(B, T)")
    with pytest.raises(ValueError, match=r"x must be token ids of shape \(B, T\), got \(3,\)"):
        check_ndim("x", torch.zeros(3), 2, "(B, T)", what="token ids")
    with pytest.raises(TypeError, match=r"x must be a tensor of shape \(B, T\), got list"):
        check_ndim("x", [[1]], 2, "(B, T)")
    check_target_shape(torch.zeros(2, 3), (2, 3))
    with pytest.raises(ValueError, match=r"shape of inputs, \(2, 3\), got \(2, 4\)"):
        check_target_shape(torch.zeros(2, 4), torch.Size([2, 3]))
    h = torch.zeros(1, 4, 8)
    check_carried_state(None, batch_size=2)
    check_carried_state(h, batch_size=4)
    check_carried_state((h, h), batch_size=4)
    with pytest.raises(
        ValueError, match="state is for 4 streams but inputs have 2 rows; call reset"
    ):
        check_carried_state((h, h), batch_size=2)


# --- chapter 6, the transformer translator ---


def test_check_divisible_index_and_distinct() -> None:
    from lmbook.validate import check_distinct, check_divisible, check_index

    check_divisible("d_model", 16, 4, "n_heads")
    with pytest.raises(ValueError, match="d_model=16 is not divisible by n_heads=3: each head"):
        check_divisible("d_model", 16, 3, "n_heads", "each head gets d_model / n_heads")
    with pytest.raises(ValueError, match="d_model must be a multiple of 2, got 7"):
        check_divisible("d_model", 7, 2)
    check_index("bos_id", np.int64(10), 11, "tgt_vocab_size")
    for bad in (11, -1, True, 2.0):
        with pytest.raises(ValueError, match=r"bos_id must be an int in \[0, tgt_vocab_size=11\)"):
            check_index("bos_id", bad, 11, "tgt_vocab_size")
    check_distinct(pad=1, bos=2, eos=3)
    with pytest.raises(ValueError, match="pad, bos and eos must differ, got 1, 2 and 1"):
        check_distinct(pad=1, bos=2, eos=1)


def test_check_vocab_tokens_and_positions() -> None:
    from lmbook.seq2seq import build_vocab
    from lmbook.text import Vocab
    from lmbook.validate import check_positions, check_vocab_tokens

    check_vocab_tokens("src_vocab", build_vocab([["a"]]), ("<pad>", "<eos>"))
    with pytest.raises(TypeError, match="src_vocab must be an lmbook.text.Vocab, got list"):
        check_vocab_tokens("src_vocab", ["a"], ("<pad>",))
    with pytest.raises(ValueError, match=r"lacks the special tokens \['<pad>'\]; build it"):
        check_vocab_tokens("src_vocab", Vocab(["a"]), ("<pad>",))
    check_positions("target", 8, 8)
    with pytest.raises(ValueError, match="the target has 9 positions but config.max_len=8"):
        check_positions("target", 9, 8)


def test_check_source_ids_and_targets() -> None:
    from lmbook.validate import check_source_ids, check_target_batch

    check_source_ids(torch.tensor([[4, 3], [3, 1]]), pad_id=1, max_len=2)
    with pytest.raises(TypeError, match=r"src must be a \(B, S\) LongTensor of source ids"):
        check_source_ids(torch.zeros(2, 3), pad_id=1)
    with pytest.raises(ValueError, match="source row 1 is all <pad> "):
        check_source_ids(torch.tensor([[4, 3], [1, 1]]), pad_id=1)
    with pytest.raises(ValueError, match="padded on the right only, with <pad> = 1"):
        check_source_ids(torch.tensor([[4, 3], [1, 3]]), pad_id=1)
    with pytest.raises(ValueError, match="the source has 2 positions but config.max_len=1"):
        check_source_ids(torch.tensor([[4, 3]]), pad_id=1, max_len=1)
    tgt = torch.tensor([[2, 5, 3], [2, 3, 1]])
    check_target_batch(tgt, 2, bos_id=2)
    with pytest.raises(ValueError, match=r"at least <bos> and <eos>, got shape \(2, 1\)"):
        check_target_batch(tgt[:, :1], 2, bos_id=2)
    with pytest.raises(ValueError, match="same number of sentences, got 3 and 2"):
        check_target_batch(tgt, 3, bos_id=2)
    with pytest.raises(ValueError, match=r"start with <bos> \(id 4\), got first ids \[2, 2\]"):
        check_target_batch(tgt, 2, bos_id=4)


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


# --- chapter 8 (small and fast) ---


def test_chapter_8_checks() -> None:
    from torch import nn

    from lmbook.validate import (
        check_distillation_inputs,
        check_generates,
        check_on_cpu,
        check_prunable,
        check_two_models,
    )

    with pytest.raises(TypeError, match="model must have a generate method, got Linear"):
        check_generates("model", nn.Linear(2, 2))
    check_on_cpu("model", nn.Linear(2, 2), why="quantized models run on the CPU only")
    meta = nn.Linear(2, 2, device="meta")
    with pytest.raises(ValueError, match=r"CPU only; model is on \['meta'\]: move it"):
        check_on_cpu("model", meta, why="quantized models run on the CPU only")
    with pytest.raises(ValueError, match="Sequential has no Linear layers"):
        check_prunable(nn.Sequential(), [])
    s, y = torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
    check_distillation_inputs(s, s, y)
    with pytest.raises(TypeError, match="must be tensors"):
        check_distillation_inputs(s.tolist(), s, y)
    with pytest.raises(ValueError, match=r"one shape, got \(2, 3, 5\) and \(2, 3, 6\)"):
        check_distillation_inputs(s, torch.zeros(2, 3, 6), y)
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 3\) .* got \(2, 2\)"):
        check_distillation_inputs(s, s, y[:, :2])
    model = nn.Linear(2, 2)
    check_two_models(model, nn.Linear(2, 2))
    with pytest.raises(ValueError, match="one model"):
        check_two_models(model, model)
