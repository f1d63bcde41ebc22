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
    with pytest.raises(
        TypeError,
        match=r"s must be a sequence of tokens, got a str \('le chat'\)",
    ):
        check_tokens("s", "le chat")
    check_sentence_pair("pair 0", (["a"], ["b"]))
    with pytest.raises(ValueError, match=r"pair 0 must be a \(source tokens, target tokens\)"):
        check_sentence_pair("pair 0", (["a"],))
    with pytest.raises(
        TypeError, match="the target of pair 3 must be a sequence of tokens, got a str"
    ):
        check_sentence_pair("pair 3", (["a"], "b c"))


def test_check_corpus() -> None:
    check_corpus([["a"]], [("a", "b")])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        check_corpus([["a"], ["b"]], [["a"]])
    with pytest.raises(ValueError, match="the corpus is empty"):
        check_corpus([], [])
    with pytest.raises(TypeError, match="references must be a list of token lists"):
        check_corpus([["a"]], "a")
    with pytest.raises(TypeError, match="hypothesis 1 must be a sequence of tokens, got a str"):
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


# --- chapter 6 (transformers) --------------------------------------------------------------
from lmbook.validate import (  # noqa: E402
    check_even,
    check_head_split,
    check_logits,
    check_needed,
    check_prompt,
    check_same_shape,
    check_schedule,
    check_temperature,
    check_token_sequence,
)


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


def test_issue15_checks() -> None:
    from unittest import mock

    from lmbook.validate import (
        check_cache_batch,
        check_device,
        check_device_available,
        check_finite_array,
        check_model_output,
        check_not_nan,
    )

    check_finite_array("weights", [[0.5, 0.5]])
    with pytest.raises(ValueError, match="weights holds NaN or infinite values"):
        check_finite_array("weights", np.array([[0.5, np.inf]]))
    check_not_nan("logits", torch.tensor([0.0, -math.inf]))  # a masked logit is fine
    with pytest.raises(ValueError, match=r"logits hold NaN: .*did training diverge"):
        check_not_nan("logits", torch.tensor([0.0, math.nan]))
    check_model_output((torch.zeros(2), torch.tensor(1.0)))
    for bad in (torch.zeros(2), (torch.zeros(2),), (torch.zeros(2), None), (1, torch.ones(2))):
        with pytest.raises(ValueError, match=r"model\(\*batch\) must return \(logits, loss\)"):
            check_model_output(bad)
    check_device_available("device", "cpu")
    check_device("device", "cuda:1")  # a name torch reads, whether or not it is here
    with pytest.raises(ValueError, match="device must be a torch device .* got 3.5"):
        check_device("device", 3.5)
    with pytest.raises(ValueError, match="device must be a torch device .* got 'gpu'"):
        check_device_available("device", "gpu")
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.raises(ValueError, match=r"device='cuda' but .* no CUDA .*lmbook\.device\(\)"):
            check_device_available("device", "cuda")
    kv = [(torch.zeros(2, 1, 3, 4), torch.zeros(2, 1, 3, 4))]
    check_cache_batch(None, 5)
    check_cache_batch(kv, 2)
    with pytest.raises(ValueError, match="caches hold 2 sequences but idx has 3 rows"):
        check_cache_batch(kv, 3)
    with pytest.raises(ValueError, match="src holds ids from 0 to 11; .* 0 … 10"):
        check_token_ids(torch.tensor([[0, 11]]), vocab_size=11, name="src")


# --- chapter 7 rebuild: standardised heads, masked language models, Hugging Face ---------


def test_check_features_wants_two_or_more_finite_rows_of_c_features() -> None:
    from lmbook.validate import check_features

    check_features("x", torch.randn(2, 3), 3)
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \(N, C\)"):
        check_features("x", torch.zeros(4, 3, dtype=torch.long), 3)
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \(N, C\)"):
        check_features("x", torch.zeros(4), 3)
    with pytest.raises(ValueError, match=r"x must have 3 features \(C\), got 2"):
        check_features("x", torch.zeros(4, 2), 3)
    with pytest.raises(ValueError, match="x holds 1 example: .* need at least 2"):
        check_features("x", torch.zeros(1, 3), 3)
    with pytest.raises(ValueError, match="x holds NaN or infinite values"):
        check_features("x", torch.tensor([[0.0, 1.0], [math.inf, 0.0]]), 2)


def test_check_mask_id_wants_an_id_outside_the_ordinary_ones() -> None:
    from lmbook.validate import check_mask_id

    check_mask_id(10, 10)
    check_mask_id(np.int64(12), 10)
    with pytest.raises(ValueError, match=r"mask_id=9 is one of the 10 ordinary ids 0 … 9"):
        check_mask_id(9, 10)
    with pytest.raises(ValueError, match="such as 10 .*vocab_size 11"):
        check_mask_id(0, 10)
    with pytest.raises(ValueError, match="mask_id must be an int >= 0, got -1"):
        check_mask_id(-1, 10)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 1, got 0"):
        check_mask_id(3, 0)


def test_check_masking_split_wants_three_shares_summing_to_one() -> None:
    from lmbook.validate import check_masking_split

    check_masking_split((0.8, 0.1, 0.1))
    check_masking_split([1, 0, 0])
    for bad in ((0.8, 0.2), "abc", (0.8, "0.1", 0.1), None):
        with pytest.raises(TypeError, match="split must be 3 numbers"):
            check_masking_split(bad)
    for bad in ((0.8, 0.1, 0.2), (1.2, -0.1, -0.1)):
        with pytest.raises(ValueError, match="split must be 3 shares >= 0 that sum to 1"):
            check_masking_split(bad)


def test_check_not_type_refuses_the_named_type_with_its_reason() -> None:
    from lmbook.validate import check_not_type

    check_not_type("model", torch.nn.Linear(2, 2), torch.nn.Conv1d, "why")
    with pytest.raises(TypeError, match="model must not be of type Linear: it is linear"):
        check_not_type("model", torch.nn.Linear(2, 2), torch.nn.Linear, "it is linear")


def test_check_pad_id_unused_names_the_passages_holding_the_pad_token() -> None:
    from lmbook.validate import check_pad_id_unused

    ids = torch.tensor([[3, 4, -1], [5, -1, -1]])
    check_pad_id_unused(ids, -1, 0)
    with pytest.raises(ValueError, match=r"pad_token_id=5 occurs in 1 passage\(s\) \(rows 1\)"):
        check_pad_id_unused(ids, -1, 5)
    many = torch.full((7, 2), 2)
    with pytest.raises(ValueError, match=r"in 7 passage\(s\) \(rows 0, 1, 2, 3, 4, …\)"):
        check_pad_id_unused(many, -1, 2)
    with pytest.raises(ValueError, match="pad_token_id must be an int >= 0, got -1"):
        check_pad_id_unused(ids, -1, -1)


def test_check_shared_negatives_and_check_multiple() -> None:
    from lmbook.validate import check_multiple, check_shared_negatives

    check_shared_negatives(torch.arange(12), torch.zeros(4, 5))
    for bad in (torch.zeros(5, 5), torch.zeros(0, 5), torch.zeros(12)):
        with pytest.raises(ValueError, match="12 pairs in n groups of equal size"):
            check_shared_negatives(torch.arange(12), bad)
    check_multiple("batch_size", 4096, "group", 16)
    with pytest.raises(ValueError, match="batch_size=10 must be a multiple of group=4"):
        check_multiple("batch_size", 10, "group", 4)


# --- issue 18: the translator's decoding states --------------------------------------


def test_check_step_owner_sends_each_state_back_to_the_step_that_made_it() -> None:
    from lmbook.validate import check_step_owner

    empty, fresh = torch.zeros(2, 1, 1, 0, 4), {"memory": torch.zeros(2, 3, 4)}
    check_step_owner(fresh, "cached_step")
    check_step_owner(fresh, "fast_step")
    check_step_owner({"self_k": empty}, "cached_step")
    check_step_owner({"self_k": empty, "read": torch.zeros(2, 0)}, "fast_step")
    with pytest.raises(ValueError, match="cached_step was given a state that fast_step"):
        check_step_owner({"self_k": empty, "read": torch.zeros(2, 0)}, "cached_step")
    with pytest.raises(ValueError, match="fast_step was given a state that cached_step"):
        check_step_owner({"self_k": empty}, "fast_step")
    with pytest.raises(ValueError, match='step must be "cached_step" or "fast_step"'):
        check_step_owner(fresh, "beam_step")


def test_check_not_stepped_refuses_a_state_whose_buffers_moved_on() -> None:
    from lmbook.validate import check_not_stepped

    check_not_stepped(torch.tensor([3, 3]), 3)
    with pytest.raises(ValueError, match=r"already stepped: it has read 3 token\(s\), but its"):
        check_not_stepped(torch.tensor([4, 4]), 3)
    with pytest.raises(ValueError, match="copy it first with lmbook.decoding.select"):
        check_not_stepped(torch.tensor([3, 4]), 3)


# --- issue 17: chapter 7's fair experiment ----------------------------------------------


def test_check_label_count_and_check_split_block() -> None:
    from lmbook.validate import check_label_count, check_split_block

    check_label_count(6, 6, 100)
    check_label_count(100, 6, 100)
    for bad in (5, 101, 3.0, "all", True):
        with pytest.raises(ValueError, match=r"label count must be an int from 6 \(one"):
            check_label_count(bad, 6, 100)
    check_split_block(0, 6)
    check_split_block(5, 6)
    for bad in (-1, 6, 1.0, None):
        with pytest.raises(ValueError, match=r"block index from 0 to 5 \(the GPT has 6"):
            check_split_block(bad, 6)


# --- issue 17 review: computed features, predicted class ids, weight records ------------


def test_check_computed_predicted_classes_and_record_keys() -> None:
    import numpy as np

    from lmbook.validate import check_computed, check_predicted_classes, check_record_keys

    check_computed("x", torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"x holds NaN in 1 of its 3 rows: states never"):
        check_computed("x", torch.tensor([[0.0, 0.0], [0.0, float("nan")], [1.0, 1.0]]))
    check_predicted_classes(np.array([0, 2, 1]), 3)
    check_predicted_classes(np.array([], dtype=int), 3)
    for bad in (np.array([0, 3]), np.array([-1, 0]), [0, 5]):
        with pytest.raises(ValueError, match=r"class ids must be from 0 to 2 \(3 classes\)"):
            check_predicted_classes(bad, 3)
    with pytest.raises(ValueError, match="1-D array of int class ids"):
        check_predicted_classes(np.array([0.0, 1.0]), 3)
    check_record_keys("a.json", {"x": 1, "y": 2}, ["x"])
    with pytest.raises(ValueError, match=r"a.json is damaged: its record lacks y, z"):
        check_record_keys("a.json", {"x": 1}, ["x", "y", "z"])
    with pytest.raises(ValueError, match=r"a.json is damaged: its record lacks x"):
        check_record_keys("a.json", [1, 2], ["x"])


def test_check_mask_convention() -> None:
    from lmbook.validate import check_mask_convention

    check_mask_convention(12, 12, 13)
    for mask_id, vocab_size in ((10, 10), (12, 13), (13, 12), (11, 12)):
        with pytest.raises(ValueError, match=r"13 ids: 12 ordinary ones and its \[MASK\] id 12"):
            check_mask_convention(mask_id, vocab_size, 13)


def test_check_weights_record() -> None:
    from lmbook.validate import check_weights_record

    gpt = {"config": {"vocab_size": 3}, "vocab": ["<unk>", "a", "b"], "weights_sha256": "0"}
    check_weights_record("g.json", gpt, "gpt")
    check_weights_record(
        "e.json", gpt | {"kind": "encoder", "config": {"vocab_size": 4}}, "encoder"
    )
    with pytest.raises(ValueError, match="g.json is damaged: its record lacks weights_sha256"):
        check_weights_record("g.json", {"config": {}, "vocab": []}, "gpt")
    with pytest.raises(ValueError, match="g.json records 'gpt' weights, not 'encoder'"):
        check_weights_record("g.json", gpt, "encoder")
    with pytest.raises(ValueError, match=r"needs a model of 4 ids \(the characters and \[MASK\]\)"):
        check_weights_record("e.json", gpt | {"kind": "encoder"}, "encoder")


# --- issue 17: the hand-off to Hugging Face ---------------------------------------------


def test_check_lossless_tokens() -> None:
    from lmbook.validate import check_lossless_tokens

    check_lossless_tokens("To be, or not", "To be, or not")
    with pytest.raises(ValueError, match=r"differs at character 3 \('be' became '\?\?'\)"):
        check_lossless_tokens("To be", "To ??")
    with pytest.raises(ValueError, match="differs at character 5"):
        check_lossless_tokens("To be", "To be ")


# --- issue 17, review: GPT-2 settings that would make a wrong twin -------------------


def test_check_gpt2_attention() -> None:
    from types import SimpleNamespace

    from lmbook.validate import check_gpt2_attention

    check_gpt2_attention(
        SimpleNamespace(scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False)
    )
    check_gpt2_attention(SimpleNamespace())  # an older config without the fields
    with pytest.raises(ValueError, match=r"scale_attn_weights is False; .* needs True"):
        check_gpt2_attention(SimpleNamespace(scale_attn_weights=False))
    with pytest.raises(ValueError, match=r"scale_attn_by_inverse_layer_idx is True"):
        check_gpt2_attention(SimpleNamespace(scale_attn_by_inverse_layer_idx=True))
