"""The bad-input table (issue 15): every public function of lmbook, given a bad input,
raises a TypeError or ValueError (or the error named) whose message names the argument.

Each case is (id, call, error type, regex); the regex names the argument, so a message
that does not say what was wrong fails the table. `BEFORE` lists the cases that were
silent (no error: a wrong answer) or unclear (an error that did not name the argument)
before issue 15's fixes; benchmarks/bad_input_probe.py runs this table and counts
clear / unclear / silent, before (on an older lmbook) and now.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

NAN, INF = float("nan"), float("inf")


class Case(NamedTuple):
    id: str
    call: Callable[[], Any]
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str


V = (ValueError, TypeError)  # either: the table asserts the message, not the class


# --- small objects the cases use (built once, on the CPU) ------------------------------


@functools.cache
def gpt():
    from lmbook.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))


@functools.cache
def gpt2():
    from lmbook.transformer import GPT, GPTConfig

    torch.manual_seed(1)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))


@functools.cache
def char_rnn():
    from lmbook.rnn import CharRNN, CharRNNConfig

    torch.manual_seed(0)
    return CharRNN(CharRNNConfig(kind="gru", vocab_size=7, n_embd=4, n_hidden=8))


@functools.cache
def seq2seq_config():
    from lmbook.seq2seq import Seq2SeqConfig

    return Seq2SeqConfig(
        9, 10, src_pad_id=0, tgt_pad_id=0, bos_id=1, eos_id=2, n_embd=4, n_hidden=8
    )


@functools.cache
def seq2seq():
    from lmbook.seq2seq import Seq2Seq

    torch.manual_seed(0)
    return Seq2Seq(seq2seq_config())


@functools.cache
def translator():
    from lmbook.translator import TransformerConfig, TransformerSeq2Seq

    torch.manual_seed(0)
    config = TransformerConfig(
        9,
        10,
        src_pad_id=0,
        tgt_pad_id=0,
        bos_id=1,
        eos_id=2,
        d_model=8,
        n_heads=2,
        n_layers=1,
        dropout=0.0,
        max_len=16,
    )
    return TransformerSeq2Seq(config)


@functools.cache
def vocab():
    from lmbook.text import Vocab

    return Vocab(list("abcab"))


@functools.cache
def seq_vocab():
    from lmbook.seq2seq import build_vocab

    return build_vocab([["a", "b"], ["c"]])


@functools.cache
def vectors():
    from lmbook.word2vec import WordVectors

    return WordVectors(["a", "b", "c", "d"], np.eye(4))


@functools.cache
def empty_file() -> str:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "empty.txt"
    path.write_text("")
    return str(path)


def with_nan(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[0] = NAN
    return x


class SilentlyWrong(Exception):
    """A case's call left something wrong behind (a model's mode) after it raised."""


def generate_then_mode(**kwargs: Any) -> None:
    """rnn.generate raising mid-way; afterwards the model must still be in training mode."""
    from lmbook.rnn import generate

    model = char_rnn().train()
    try:
        generate(model, [1, 2], 3, **kwargs)
    finally:
        if not model.training:
            raise SilentlyWrong("generate left the model in eval mode")


def train_call(model: nn.Module | None = None, batches=None, **kwargs: Any):
    from lmbook.training import train

    model = model or nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = batches if batches is not None else [(torch.zeros(3, 2), torch.zeros(3, 1))]
    settings = {"steps": 1, "device": "cpu", "progress": False, **kwargs}
    return lambda: train(model, batches, optimizer, **settings)


class NoLoss(nn.Module):
    """A model that returns logits only, not (logits, loss)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x, y=None):
        return self.linear(x)


def step_with_other_batch():
    _, caches = gpt().step(torch.tensor([[1, 2]]))
    return gpt().step(torch.tensor([[1], [2], [3]]), caches)


T2 = torch.tensor([[1, 2, 3]])
L3 = torch.randn(2, 3, 5)
Y3 = torch.zeros(2, 3, dtype=torch.long)


# --- the table, by module ---------------------------------------------------------------


def text_cases():
    from lmbook.text import Vocab, char_tokenize, word_tokenize

    return [
        Case("char_tokenize-list", lambda: char_tokenize(["a"]), TypeError, r"text must be a str"),
        Case("word_tokenize-bytes", lambda: word_tokenize(b"a b"), TypeError, r"text must be"),
        Case("word_tokenize-lower", lambda: word_tokenize("a", lower="yes"), V, r"lower"),
        Case("Vocab-str", lambda: Vocab("abc"), TypeError, r"tokens must be a sequence"),
        Case("Vocab-empty", lambda: Vocab([]), ValueError, r"tokens must not be empty"),
        Case("Vocab-ints", lambda: Vocab([1, 2]), TypeError, r"tokens must be str"),
        Case("Vocab-min_freq-0", lambda: Vocab(["a"], min_freq=0), ValueError, r"min_freq"),
        Case("Vocab-min_freq-high", lambda: Vocab(["a"], min_freq=5), ValueError, r"min_freq"),
        Case("Vocab-specials-dup", lambda: Vocab(["a"], specials=["<s>", "<s>"]), V, "specials"),
        Case("Vocab.encode-ids", lambda: vocab().encode([1, 2]), TypeError, r"tokens must be str"),
        Case("Vocab.encode-str", lambda: vocab().encode("ab"), TypeError, r"tokens must be a seq"),
        Case("Vocab.decode-high", lambda: vocab().decode([99]), ValueError, r"id 99 .*Vocab"),
        Case("Vocab.decode-neg", lambda: vocab().decode([-1]), ValueError, r"id -1 .*Vocab"),
        Case("Vocab.decode-float", lambda: vocab().decode([1.5]), TypeError, r"ids must be int"),
    ]


def ngram_cases():
    from lmbook.ngram import NGramLM, histories, sample

    ids = np.array([0, 1, 2, 1, 0, 2, 1], dtype=np.int64)
    fitted = NGramLM(2, 3).fit(ids)
    return [
        Case("NGramLM-n-0", lambda: NGramLM(0, 3), ValueError, r"n must be an int >= 1"),
        Case("NGramLM-V-0", lambda: NGramLM(2, 0), ValueError, r"vocab_size must be"),
        Case("NGramLM-smoothing", lambda: NGramLM(2, 3, smoothing="x"), ValueError, "smoothing"),
        Case("NGramLM-k-nan", lambda: NGramLM(2, 3, "add-k", k=NAN), ValueError, r"k must be"),
        Case("NGramLM-k-0", lambda: NGramLM(2, 3, "add-k", k=0), ValueError, r"k must be > 0"),
        Case("NGramLM.fit-str", lambda: NGramLM(2, 3).fit("abc"), TypeError, r"ids must be token"),
        Case("NGramLM.fit-high", lambda: NGramLM(2, 3).fit([0, 5]), ValueError, r"ids must lie"),
        Case("NGramLM.fit-float", lambda: NGramLM(2, 3).fit([0.5, 1.0]), TypeError, r"ids must"),
        Case("NGramLM.fit-short", lambda: NGramLM(3, 3).fit([0, 1]), ValueError, r"ids must hold"),
        Case(
            "NGramLM.log_probs-unfit",
            lambda: NGramLM(2, 3).log_probs([0, 1]),
            RuntimeError,
            r"not fitted",
        ),
        Case("NGramLM.log_probs-high", lambda: fitted.log_probs([0, 7]), ValueError, r"ids must"),
        Case("NGramLM.generate-len", lambda: fitted.generate([0], -1), ValueError, r"length"),
        Case(
            "NGramLM.generate-temp",
            lambda: fitted.generate([0], 3, temperature=0),
            ValueError,
            r"temperature",
        ),
        Case(
            "sample-temp-nan",
            lambda: sample(fitted, [0], 3, temperature=NAN),
            ValueError,
            r"temperature",
        ),
        Case("sample-context-high", lambda: sample(fitted, [9], 3), ValueError, r"context"),
        Case("NGramLM-V-float", lambda: NGramLM(2, 3.5), ValueError, r"vocab_size must be"),
        Case("histories-n-0", lambda: histories(ids, 0), ValueError, r"\bn\b"),
    ]


def word2vec_cases():
    from lmbook import word2vec as w

    counts = np.array([3, 2, 1])
    return [
        Case("speeches-bytes", lambda: w.speeches(b"x"), TypeError, r"text must be a str"),
        Case("word2vec.build_vocab-str", lambda: w.build_vocab("abc"), TypeError, r"sentences"),
        Case(
            "build_vocab-min_count",
            lambda: w.build_vocab([["a"]], min_count=0),
            ValueError,
            r"min_count",
        ),
        Case("encode-str", lambda: w.encode("ab", ["a"]), TypeError, r"sentences"),
        Case(
            "skipgram_pairs-window",
            lambda: w.skipgram_pairs(np.arange(3), np.zeros(3, int), 0),
            ValueError,
            r"window",
        ),
        Case(
            "skipgram_pairs-lengths",
            lambda: w.skipgram_pairs(np.arange(3), np.zeros(2, int), 1),
            ValueError,
            r"sentence_ids",
        ),
        Case(
            "keep_probabilities-nan",
            lambda: w.keep_probabilities(counts, NAN),
            ValueError,
            r"sample must be a number >= 0, got nan",
        ),
        Case(
            "keep_probabilities-neg",
            lambda: w.keep_probabilities(counts, -1e-3),
            ValueError,
            r"sample must be",
        ),
        Case(
            "noise_distribution-nan",
            lambda: w.noise_distribution(counts, NAN),
            ValueError,
            r"exponent must be a number, got nan",
        ),
        Case(
            "noise_distribution-inf",
            lambda: w.noise_distribution(counts, INF),
            ValueError,
            r"exponent must be a number, got inf",
        ),
        Case(
            "noise_distribution-neg", lambda: w.noise_distribution([-1, 2]), ValueError, r"counts"
        ),
        Case("SkipGramNS-V-0", lambda: w.SkipGramNS(0), ValueError, r"vocab_size must be"),
        Case("SkipGramNS-dim", lambda: w.SkipGramNS(3, dim=0), ValueError, r"dim must be"),
        Case(
            "Word2VecConfig-lr-nan",
            lambda: w.Word2VecConfig(lr=NAN),
            ValueError,
            r"lr must be a number > 0, got nan",
        ),
        Case("Word2VecConfig-lr-inf", lambda: w.Word2VecConfig(lr=INF), ValueError, r"lr must"),
        Case("Word2VecConfig-dim", lambda: w.Word2VecConfig(dim=0), ValueError, r"dim must be"),
        Case(
            "Word2VecConfig-sample",
            lambda: w.Word2VecConfig(sample=NAN),
            ValueError,
            r"sample must",
        ),
        Case(
            "Word2VecConfig-window",
            lambda: w.Word2VecConfig(window=1.5),
            ValueError,
            r"window must be an int",
        ),
        Case(
            "VectorSpace-mismatch",
            lambda: w.VectorSpace(["a", "b"], np.eye(3)),
            ValueError,
            r"words",
        ),
        Case(
            "most_similar-topn-neg",
            lambda: vectors().most_similar("a", topn=-1),
            ValueError,
            r"topn must be an int >= 1, got -1",
        ),
        Case(
            "most_similar-topn-float",
            lambda: vectors().most_similar("a", topn=1.5),
            ValueError,
            r"topn must be an int",
        ),
        Case("most_similar-unknown", lambda: vectors().most_similar("zz"), V, r"'zz'"),
        Case(
            "analogy-topn-neg",
            lambda: vectors().analogy("a", "b", "c", topn=-2),
            ValueError,
            r"topn must be an int >= 1, got -2",
        ),
        Case("similarity-unknown", lambda: vectors().similarity("a", "zz"), V, r"'zz'"),
        Case(
            "evaluate_word_pairs-empty",
            lambda: vectors().evaluate_word_pairs(empty_file()),
            ValueError,
            r"path .*empty\.txt' holds no word pairs",
        ),
        Case(
            "evaluate_analogies-empty",
            lambda: vectors().evaluate_analogies(empty_file()),
            ValueError,
            r"path .*empty\.txt' holds no analogy questions",
        ),
    ]


def rnn_cases():
    from lmbook import rnn

    model = char_rnn()
    return [
        Case("RNNCell-size", lambda: rnn.RNNCell(0, 3), ValueError, r"input_size"),
        Case("RNNLayer-xs-2d", lambda: rnn.RNNLayer(2, 3)(torch.zeros(2, 2)), V, r"xs must"),
        Case("CharRNNConfig-kind", lambda: rnn.CharRNNConfig(kind="tcn"), ValueError, r"kind"),
        Case("CharRNNConfig-V", lambda: rnn.CharRNNConfig(vocab_size=0), ValueError, r"vocab_size"),
        Case(
            "CharRNNConfig-dropout-nan",
            lambda: rnn.CharRNNConfig(dropout=NAN),
            ValueError,
            r"dropout",
        ),
        Case("CharRNN-config", lambda: rnn.CharRNN({"vocab_size": 3}), TypeError, r"config"),
        Case(
            "CharRNN-id-high",
            lambda: model(torch.tensor([[1, 7]])),
            ValueError,
            r"inputs holds ids from 1 to 7; this model knows ids 0 … 6",
        ),
        Case(
            "CharRNN-id-neg",
            lambda: model(torch.tensor([[-1, 2]])),
            ValueError,
            r"inputs holds ids from -1",
        ),
        Case("CharRNN-1d", lambda: model(torch.tensor([1, 2])), ValueError, r"inputs must be"),
        Case(
            "CharRNN-float",
            lambda: model(torch.tensor([[1.0, 2.0]])),
            TypeError,
            r"inputs must be a \(B, T\) LongTensor",
        ),
        Case("lm_loss-shape", lambda: rnn.lm_loss(L3, Y3[:, :2]), ValueError, r"targets must"),
        Case(
            "StreamBatches-batch",
            lambda: rnn.StreamBatches([1, 2, 3], 0, 1),
            ValueError,
            r"batch_size",
        ),
        Case("StreamBatches-str", lambda: rnn.StreamBatches("abc", 1, 1), TypeError, r"ids"),
        Case(
            "TruncatedBPTT-model", lambda: rnn.TruncatedBPTT(nn.Linear(2, 2)), TypeError, r"model"
        ),
        Case("nats_per_token-short", lambda: rnn.nats_per_token(model, [1]), ValueError, r"ids"),
        Case(
            "nats_per_token-high", lambda: rnn.nats_per_token(model, [1, 9, 2]), ValueError, r"ids"
        ),
        Case(
            "generate-temp-0",
            lambda: rnn.generate(model, [1], 3, temperature=0),
            ValueError,
            r"temperature must be a number > 0",
        ),
        Case("generate-length", lambda: rnn.generate(model, [1], -1), ValueError, r"length"),
        Case(
            "generate-prompt-empty", lambda: rnn.generate(model, [], 3), ValueError, r"prompt_ids"
        ),
        Case(
            "generate-prompt-high", lambda: rnn.generate(model, [9], 3), ValueError, r"prompt_ids"
        ),
        Case(
            "generate-keeps-mode",
            lambda: generate_then_mode(generator="not a generator"),
            TypeError,
            r"generator",
        ),
        Case(
            "gradient_norms-1d",
            lambda: rnn.gradient_norms_through_time(model, T2[0], T2[0]),
            V,
            r"inputs",
        ),
    ]


def seq2seq_cases():
    from lmbook import seq2seq as s

    model = seq2seq()
    src = torch.tensor([[3, 4, 0]])
    tgt = torch.tensor([[1, 5, 2]])
    return [
        Case("seq2seq.build_vocab-str", lambda: s.build_vocab("ab"), TypeError, r"sentences"),
        Case(
            "build_vocab-min_freq",
            lambda: s.build_vocab([["a"]], min_freq=0),
            ValueError,
            r"min_freq",
        ),
        Case(
            "encode_pairs-vocab",
            lambda: s.encode_pairs([(["a"], ["b"])], vocab(), vocab()),
            ValueError,
            r"src_vocab",
        ),
        Case(
            "encode_pairs-pair",
            lambda: s.encode_pairs([("ab",)], seq_vocab(), seq_vocab()),
            ValueError,
            r"pair",
        ),
        Case(
            "pad-float-ids",
            lambda: s.pad([[1.7, 2.2]], 0),
            TypeError,
            r"seqs\[0\] must be a 1-D tensor of ints",
        ),
        Case("pad-empty", lambda: s.pad([], 0), ValueError, r"seqs must not be empty"),
        Case("pad-str", lambda: s.pad(["ab"], 0), TypeError, r"seqs\[0\] must be token ids"),
        Case("pad-pad_id", lambda: s.pad([[1]], -1), ValueError, r"pad_id must be an int >= 0"),
        Case(
            "LengthBatches-batch",
            lambda: s.LengthBatches([([1], [1, 2])], 0, shuffle=False, src_pad=0, tgt_pad=0),
            ValueError,
            r"batch_size",
        ),
        Case(
            "LengthBatches-examples",
            lambda: s.LengthBatches([([], [1])], 1, shuffle=False, src_pad=0, tgt_pad=0),
            ValueError,
            r"example 0",
        ),
        Case(
            "Seq2SeqConfig-pad",
            lambda: s.Seq2SeqConfig(5, 5, 9, 0, 1, 2),
            ValueError,
            r"src_pad_id",
        ),
        Case(
            "Seq2SeqConfig-same",
            lambda: s.Seq2SeqConfig(5, 5, 0, 1, 1, 2),
            ValueError,
            r"tgt_pad_id, bos_id and eos_id must differ",
        ),
        Case(
            "Seq2SeqConfig-dropout",
            lambda: s.Seq2SeqConfig(5, 5, 0, 0, 1, 2, dropout=INF),
            ValueError,
            r"dropout",
        ),
        Case(
            "Seq2Seq-src-high",
            lambda: model(torch.tensor([[3, 9]]), tgt),
            ValueError,
            r"src holds ids from 3 to 9; this model knows ids 0 … 8",
        ),
        Case(
            "Seq2Seq-tgt-high",
            lambda: model(src, torch.tensor([[1, 12, 2]])),
            ValueError,
            r"y holds ids from 1 to 12; this model knows ids 0 … 9",
        ),
        Case(
            "Seq2Seq-tgt-bos", lambda: model(src, torch.tensor([[5, 5, 2]])), ValueError, r"<bos>"
        ),
        Case(
            "Seq2Seq-src-left-pad",
            lambda: model(torch.tensor([[0, 3]]), tgt),
            ValueError,
            r"source rows must be padded on the right",
        ),
        Case("Seq2Seq-src-float", lambda: model(src.float(), tgt), TypeError, r"src must be"),
        Case(
            "Seq2Seq.encode-high",
            lambda: model.encode(torch.tensor([[10]])),
            ValueError,
            r"src holds ids",
        ),
        Case(
            "padding_fraction-pad", lambda: s.padding_fraction([(src, tgt)], -1, 0), V, r"src_pad"
        ),
    ]


def decoding_cases():
    from lmbook import decoding as d

    model = seq2seq()
    src = torch.tensor([[3, 4, 0]])
    logits = torch.randn(5)
    return [
        Case(
            "greedy_decode-model",
            lambda: d.greedy_decode(nn.Linear(2, 2), src),
            TypeError,
            r"model must have config\.bos_id",
        ),
        Case(
            "greedy_decode-max_len",
            lambda: d.greedy_decode(model, src, max_len=0),
            ValueError,
            r"max_len",
        ),
        Case(
            "greedy_decode-src-1d",
            lambda: d.greedy_decode(model, src[0]),
            TypeError,
            r"src must be",
        ),
        Case(
            "greedy_decode-src-high",
            lambda: d.greedy_decode(model, torch.tensor([[20]])),
            ValueError,
            r"src holds ids",
        ),
        Case(
            "beam_search-beam",
            lambda: d.beam_search(model, src, beam_size=0),
            ValueError,
            r"beam_size",
        ),
        Case(
            "beam_search-penalty",
            lambda: d.beam_search(model, src, length_penalty=NAN),
            ValueError,
            r"length_penalty",
        ),
        Case(
            "beam_search-max_len",
            lambda: d.beam_search(model, src, max_len=-3),
            ValueError,
            r"max_len",
        ),
        Case(
            "sequence_log_probs-len",
            lambda: d.sequence_log_probs(model, src, [[1], [2]]),
            ValueError,
            r"targets",
        ),
        Case(
            "translate-vocab",
            lambda: d.translate(model, "a b", vocab(), seq_vocab()),
            ValueError,
            r"src_vocab",
        ),
        Case(
            "translate-sentence",
            lambda: d.translate(model, ["a"], seq_vocab(), seq_vocab()),
            TypeError,
            r"sentence",
        ),
        Case("top_k_filter-k", lambda: d.top_k_filter(logits, 0), ValueError, r"\bk must be"),
        Case("top_k_filter-float", lambda: d.top_k_filter(logits, 1.5), ValueError, r"\bk must"),
        Case("top_p_filter-p", lambda: d.top_p_filter(logits, 0.0), ValueError, r"\bp must be"),
        Case("top_p_filter-nan", lambda: d.top_p_filter(logits, NAN), ValueError, r"\bp must"),
        Case(
            "sample_next-nan-logits",
            lambda: d.sample_next(torch.full((5,), NAN)),
            ValueError,
            r"logits hold NaN: .*did training diverge",
        ),
        Case(
            "sample_next-some-nan",
            lambda: d.sample_next(with_nan(torch.zeros(2, 5))),
            ValueError,
            r"logits hold NaN",
        ),
        Case(
            "sample_next-temp-0",
            lambda: d.sample_next(logits, temperature=0),
            ValueError,
            r"temperature must be a finite number > 0.*top_k=1",
        ),
        Case(
            "sample_next-temp-inf",
            lambda: d.sample_next(logits, temperature=INF),
            ValueError,
            r"temperature",
        ),
        Case("sample_next-top_k", lambda: d.sample_next(logits, top_k=0), ValueError, r"top_k"),
        Case("sample_next-top_p", lambda: d.sample_next(logits, top_p=1.5), ValueError, r"top_p"),
        Case(
            "sample_next-int",
            lambda: d.sample_next(torch.ones(5, dtype=torch.long)),
            TypeError,
            r"logits must be a float tensor",
        ),
        Case("sample_next-list", lambda: d.sample_next([0.1, 0.2]), ValueError, r"logits must"),
    ]


def metrics_cases():
    from lmbook import metrics as m

    return [
        Case("cross_entropy-positive", lambda: m.cross_entropy([0.5]), ValueError, r"log_probs"),
        Case("cross_entropy-empty", lambda: m.cross_entropy([]), ValueError, r"log_probs"),
        Case("cross_entropy-nan", lambda: m.cross_entropy([NAN]), ValueError, r"log_probs"),
        Case("perplexity-neg", lambda: m.perplexity(-1.0), ValueError, r"nats must be a number"),
        Case("perplexity-nan", lambda: m.perplexity(NAN), ValueError, r"nats must be a number"),
        Case("perplexity-str", lambda: m.perplexity("1"), ValueError, r"nats must be a number"),
        Case("perplexity-inf", lambda: m.perplexity(INF), ValueError, r"nats must be a number"),
        Case("nats_to_bits-str", lambda: m.nats_to_bits("1"), TypeError, r"nats must be"),
        Case("ngram_counts-n", lambda: m.ngram_counts(["a"], 0), ValueError, r"\bn must be"),
        Case("bleu-lengths", lambda: m.bleu([["a"]], []), ValueError, r"references"),
        Case("bleu-empty", lambda: m.bleu([], []), ValueError, r"corpus is empty"),
        Case("bleu-str", lambda: m.bleu("a b", "a b"), TypeError, r"hypotheses"),
        Case("bleu-max_n", lambda: m.bleu([["a"]], [["a"]], max_n=0), ValueError, r"max_n"),
        Case(
            "bleu_by_length-lengths",
            lambda: m.bleu_by_length([["a"]], [["a"]], [], [0, 5]),
            ValueError,
            r"lengths",
        ),
        Case(
            "attention_alignment-nan",
            lambda: m.attention_alignment([[NAN, 0.5], [0.2, 0.8]]),
            ValueError,
            r"weights holds NaN",
        ),
        Case(
            "attention_alignment-1d",
            lambda: m.attention_alignment([0.5, 0.5]),
            ValueError,
            r"weights must be a non-empty 2-D",
        ),
        Case(
            "attention_alignment-tensor-nan",
            lambda: m.attention_alignment(with_nan(torch.ones(2, 2))),
            ValueError,
            r"weights holds NaN",
        ),
        Case(
            "alignment_accuracy-len",
            lambda: m.alignment_accuracy([set()], []),
            ValueError,
            r"predicted.*gold",
        ),
        Case(
            "alignment_accuracy-link",
            lambda: m.alignment_accuracy([{(0, -1)}], [{(0, 0)}]),
            ValueError,
            r"predicted: a link",
        ),
        Case(
            "alignment_error_rate-set",
            lambda: m.alignment_error_rate({(0, 0)}, [{(0, 0)}]),
            TypeError,
            r"predicted must be a sequence",
        ),
        Case("accuracy-lengths", lambda: m.accuracy([1, 2], [1]), ValueError, r"y_true.*y_pred"),
        Case("accuracy-str", lambda: m.accuracy("ab", "ab"), TypeError, r"y_true"),
        Case(
            "confusion_matrix-labels",
            lambda: m.confusion_matrix([1], [1], labels=[2]),
            ValueError,
            r"labels",
        ),
        Case("macro_f1-empty", lambda: m.macro_f1([], []), ValueError, r"y_true"),
        Case(
            "precision_recall_f1-len",
            lambda: m.precision_recall_f1([1], [1, 2]),
            ValueError,
            r"y_true",
        ),
        Case(
            "adjusted_rand_index-len",
            lambda: m.adjusted_rand_index([1], [1, 2]),
            ValueError,
            r"labels_true",
        ),
        Case(
            "class_order-dup", lambda: m.class_order([1], [1], labels=[1, 1]), ValueError, r"labels"
        ),
    ]


def attention_cases():
    from lmbook import attention as a

    q = torch.randn(2, 3, 4)
    mha = a.MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    return [
        Case("causal_mask-T", lambda: a.causal_mask(0), ValueError, r"\bT must be"),
        Case(
            "padding_mask-float",
            lambda: a.padding_mask(torch.ones(2, 3)),
            TypeError,
            r"ids_or_lengths must be an integer tensor",
        ),
        Case("padding_mask-no-pad", lambda: a.padding_mask(T2), ValueError, r"pad_id"),
        Case(
            "padding_mask-lengths",
            lambda: a.padding_mask(torch.tensor([3, -1])),
            ValueError,
            r"lengths must lie",
        ),
        Case(
            "masked_softmax-mask",
            lambda: a.masked_softmax(q, torch.ones(5, 5, dtype=bool)),
            ValueError,
            r"mask",
        ),
        Case(
            "sdpa-dk",
            lambda: a.scaled_dot_product_attention(q, torch.randn(2, 3, 5), q),
            ValueError,
            r"q and k must share d_k",
        ),
        Case(
            "sdpa-Tk",
            lambda: a.scaled_dot_product_attention(q, q, torch.randn(2, 4, 4)),
            ValueError,
            r"k and v must share T_k",
        ),
        Case(
            "sdpa-dropout",
            lambda: a.scaled_dot_product_attention(q, q, q, dropout_p=1.0),
            ValueError,
            r"dropout_p",
        ),
        Case(
            "sdpa-1d",
            lambda: a.scaled_dot_product_attention(q[0, 0], q, q),
            ValueError,
            r"\bq must be a tensor",
        ),
        Case(
            "MHA-heads",
            lambda: a.MultiHeadAttention(10, 3),
            ValueError,
            r"d_model=10 is not divisible by n_heads=3",
        ),
        Case(
            "MHA-dropout", lambda: a.MultiHeadAttention(8, 2, dropout=NAN), ValueError, r"dropout"
        ),
        Case("MHA-d_model", lambda: a.MultiHeadAttention(0, 1), ValueError, r"d_model"),
        Case(
            "MHA-forward-width",
            lambda: mha(q, q, q),
            ValueError,
            r"query, key and value must be \(B, T, d_model=8\)",
        ),
        Case(
            "MHA-forward-3d-mask",
            lambda: mha(x, x, x, mask=torch.ones(2, 3, 3, dtype=bool)),
            ValueError,
            r"3-D mask",
        ),
        Case(
            "MHA-padding_mask",
            lambda: mha(x, x, x, padding_mask=torch.ones(3, 3, dtype=bool)),
            ValueError,
            r"padding_mask must be \(B, T_k\)",
        ),
        Case(
            "from_torch_mha-type",
            lambda: a.from_torch_mha(nn.Linear(2, 2)),
            TypeError,
            r"mha must be a torch\.nn\.MultiheadAttention",
        ),
        Case("to_torch_mha-type", lambda: a.to_torch_mha(nn.Linear(2, 2)), TypeError, r"ours"),
        Case(
            "AdditiveAttention-size", lambda: a.AdditiveAttention(0, 2, 2), ValueError, r"d_query"
        ),
        Case(
            "AdditiveAttention-shapes",
            lambda: a.AdditiveAttention(2, 3, 4)(torch.randn(2, 2), torch.randn(3, 5, 3)),
            ValueError,
            r"s must be \(B, d_query\)",
        ),
        Case(
            "sinusoidal_positions-odd",
            lambda: a.sinusoidal_positions(4, 5),
            ValueError,
            r"d_model must be an even int",
        ),
        Case("sinusoidal_positions-T", lambda: a.sinusoidal_positions(0, 4), ValueError, r"\bT"),
        Case("AttentionSeq2Seq-config", lambda: a.AttentionSeq2Seq({"a": 1}), TypeError, r"config"),
    ]


def transformer_cases():
    from lmbook import transformer as t

    model = gpt()
    return [
        Case("GPTConfig-V", lambda: t.GPTConfig(vocab_size=0), ValueError, r"vocab_size"),
        Case(
            "GPTConfig-heads",
            lambda: t.GPTConfig(11, n_embd=10, n_head=4),
            ValueError,
            r"n_embd=10 is not divisible by n_head=4",
        ),
        Case("GPTConfig-dropout", lambda: t.GPTConfig(11, dropout=NAN), ValueError, r"dropout"),
        Case(
            "GPTConfig-positions",
            lambda: t.GPTConfig(11, positions="rope"),
            ValueError,
            r"positions",
        ),
        Case("GPTConfig-block", lambda: t.GPTConfig(11, block_size=1.5), ValueError, r"block_size"),
        Case("GPTConfig-bias", lambda: t.GPTConfig(11, bias="no"), TypeError, r"bias"),
        Case("GPT-config", lambda: t.GPT({"vocab_size": 3}), TypeError, r"config"),
        Case(
            "GPT-id-high",
            lambda: model(torch.tensor([[1, 11]])),
            ValueError,
            r"idx holds ids from 1 to 11",
        ),
        Case(
            "GPT-too-long",
            lambda: model(torch.zeros(1, 9, dtype=torch.long)),
            ValueError,
            r"block_size = 8",
        ),
        Case("GPT-float", lambda: model(torch.zeros(1, 2)), TypeError, r"idx must be"),
        Case("GPT-targets", lambda: model(T2, T2[:, :2]), ValueError, r"targets must have"),
        Case(
            "GPT.step-caches-batch",
            step_with_other_batch,
            ValueError,
            r"caches hold 1 sequences but idx has 3 rows",
        ),
        Case(
            "GPT.step-caches-layers",
            lambda: model.step(T2, []),
            ValueError,
            r"caches and blocks must have the same length",
        ),
        Case("GPT.generate-prompt", lambda: model.generate([], 3), ValueError, r"prompt"),
        Case(
            "GPT.generate-temp",
            lambda: model.generate([1], 3, temperature=0),
            ValueError,
            r"temperature",
        ),
        Case("GPT.generate-str", lambda: model.generate("ab", 3), TypeError, r"idx must be"),
        Case(
            "GPT.nats_per_token-short",
            lambda: model.nats_per_token([1]),
            ValueError,
            r"ids is too short",
        ),
        Case(
            "GPT.nats_per_token-str",
            lambda: model.nats_per_token("abc"),
            TypeError,
            r"ids must be token ids",
        ),
        Case("GPT.flops_per_token-T", lambda: model.flops_per_token(T=0), ValueError, r"\bT\b"),
        Case(
            "CausalSelfAttention-heads",
            lambda: t.CausalSelfAttention(10, 3),
            ValueError,
            r"not divisible by",
        ),
        Case("Block-config", lambda: t.Block(None), TypeError, r"config"),
    ]


def translator_cases():
    from lmbook import translator as tr

    model = translator()
    src = torch.tensor([[3, 4, 0]])
    tgt = torch.tensor([[1, 5, 2]])
    return [
        Case(
            "TransformerConfig-heads",
            lambda: tr.TransformerConfig(5, 5, 0, 0, 1, 2, d_model=10, n_heads=3),
            ValueError,
            r"d_model=10 is not divisible by n_heads=3",
        ),
        Case(
            "TransformerConfig-bos",
            lambda: tr.TransformerConfig(5, 5, 0, 0, 9, 2),
            ValueError,
            r"bos_id",
        ),
        Case(
            "TransformerConfig-dropout",
            lambda: tr.TransformerConfig(5, 5, 0, 0, 1, 2, dropout=NAN),
            ValueError,
            r"dropout",
        ),
        Case(
            "TransformerSeq2Seq-src-high",
            lambda: model(torch.tensor([[3, 9]]), tgt),
            ValueError,
            r"src holds ids from 3 to 9; this model knows ids 0 … 8",
        ),
        Case(
            "TransformerSeq2Seq-tgt-high",
            lambda: model(src, torch.tensor([[1, 12, 2]])),
            ValueError,
            r"y holds ids from 1 to 12; this model knows ids 0 … 9",
        ),
        Case(
            "TransformerSeq2Seq-src-long",
            lambda: model(torch.ones(1, 17, dtype=torch.long), tgt),
            ValueError,
            r"source has 17 positions",
        ),
        Case(
            "TransformerSeq2Seq-src-float",
            lambda: model(src.float(), tgt),
            TypeError,
            r"src must be a \(B, S\) LongTensor",
        ),
        Case(
            "TransformerSeq2Seq-tgt-short",
            lambda: model(src, tgt[:, :1]),
            ValueError,
            r"tgt must be \(B, T\) with T >= 2",
        ),
        Case(
            "TransformerSeq2Seq-rows",
            lambda: model(src, torch.cat([tgt, tgt])),
            ValueError,
            r"src and tgt must hold the same number",
        ),
        Case(
            "TransformerSeq2Seq-pad-row",
            lambda: model(torch.zeros(1, 3, dtype=torch.long), tgt),
            ValueError,
            r"source row 0 is all <pad>",
        ),
        Case(
            "TransformerSeq2Seq.encode-high",
            lambda: model.encode(torch.tensor([[10]])),
            ValueError,
            r"src holds ids",
        ),
        Case(
            "split_heads-heads",
            lambda: tr.split_heads(torch.randn(1, 2, 6), 4),
            ValueError,
            r"n_heads",
        ),
        Case(
            "cross_attention_weights-src",
            lambda: tr.cross_attention_weights(model, src[0], tgt),
            V,
            r"src",
        ),
    ]


def training_cases():
    from lmbook import training as tg

    lin = nn.Linear(2, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    return [
        Case("count_parameters-type", lambda: tg.count_parameters([1]), TypeError, r"model"),
        Case("param_groups-wd", lambda: tg.param_groups(lin, -1.0), ValueError, r"weight_decay"),
        Case("param_groups-nan", lambda: tg.param_groups(lin, NAN), ValueError, r"weight_decay"),
        Case(
            "warmup_cosine-total",
            lambda: tg.warmup_cosine(0, warmup_steps=5, total_steps=5),
            ValueError,
            r"total_steps must be an int > warmup_steps",
        ),
        Case(
            "warmup_cosine-ratio",
            lambda: tg.warmup_cosine(0, warmup_steps=1, total_steps=5, min_ratio=NAN),
            ValueError,
            r"min_ratio",
        ),
        Case(
            "warmup_cosine-step",
            lambda: tg.warmup_cosine(-1, warmup_steps=1, total_steps=5),
            ValueError,
            r"step",
        ),
        Case(
            "warmup_cosine_schedule-opt",
            lambda: tg.warmup_cosine_schedule(lin, warmup_steps=1, total_steps=5),
            TypeError,
            r"optimizer",
        ),
        Case(
            "RandomWindows-short",
            lambda: tg.RandomWindows([1, 2], 1, 4),
            ValueError,
            r"ids is too short",
        ),
        Case(
            "RandomWindows-batch",
            lambda: tg.RandomWindows([1, 2, 3], 0, 1),
            ValueError,
            r"batch_size",
        ),
        Case(
            "RandomWindows-seed",
            lambda: tg.RandomWindows([1, 2, 3], 1, 1, seed=1.5),
            TypeError,
            r"seed",
        ),
        Case(
            "train-no-loss",
            train_call(NoLoss()),
            ValueError,
            r"model\(\*batch\) must return \(logits, loss\)",
        ),
        Case(
            "train-cuda-absent",
            lambda: mock_no_cuda(train_call(device="cuda")),
            ValueError,
            r"device='cuda' but .*no CUDA.*lmbook\.device\(\)",
        ),
        Case(
            "train-device-name",
            train_call(device="gpu"),
            ValueError,
            r"device must be a torch device",
        ),
        Case("train-steps", train_call(steps=0), ValueError, r"steps must be an int >= 1"),
        Case("train-clip", train_call(clip=0), ValueError, r"clip"),
        Case("train-clip-nan", train_call(clip=NAN), ValueError, r"clip"),
        Case("train-accumulate", train_call(accumulate=0), ValueError, r"accumulate"),
        Case("train-amp", train_call(amp_dtype=torch.float64), ValueError, r"amp_dtype"),
        Case("train-eval_every", train_call(eval_every=2), ValueError, r"evaluate"),
        Case("train-resume", train_call(resume=True), ValueError, r"checkpoint"),
        Case(
            "train-model",
            lambda: tg.train([1], [], opt, steps=1, device="cpu"),
            TypeError,
            r"model must be a torch\.nn\.Module",
        ),
        Case("mixed_precision-device", lambda: tg.mixed_precision("gpu"), V, r"device"),
        Case(
            "load_checkpoint-missing",
            lambda: tg.load_checkpoint("/nonexistent/ckpt.pt", lin),
            (FileNotFoundError, ValueError),
            r"ckpt\.pt",
        ),
        Case(
            "load_checkpoint-empty",
            lambda: tg.load_checkpoint(empty_file(), lin),
            ValueError,
            r"empty\.txt",
        ),
        Case("to_device-device", lambda: tg.to_device(torch.zeros(1), "gpu"), V, r"device"),
    ]


def mock_no_cuda(call: Callable[[], Any]) -> Any:
    with mock.patch("torch.cuda.is_available", return_value=False):
        return call()


def compress_cases():
    from lmbook import compress as c

    return [
        Case("model_size_bytes-type", lambda: c.model_size_bytes("m"), TypeError, r"model"),
        Case(
            "latency_per_token-n_new",
            lambda: c.latency_per_token(gpt(), [1], n_new=0),
            ValueError,
            r"n_new",
        ),
        Case(
            "latency_per_token-model",
            lambda: c.latency_per_token(nn.Linear(2, 2), [1]),
            TypeError,
            r"model must have a generate method",
        ),
        Case(
            "latency_per_token-repeats",
            lambda: c.latency_per_token(gpt(), [1], repeats=0),
            ValueError,
            r"repeats",
        ),
        Case("quantize_int8-type", lambda: c.quantize_int8("m"), TypeError, r"model"),
        Case("sparsity-type", lambda: c.sparsity(None), TypeError, r"model"),
        Case("prune_linear-amount", lambda: c.prune_linear(gpt(), 1.5), ValueError, r"amount"),
        Case("prune_linear-nan", lambda: c.prune_linear(gpt(), NAN), ValueError, r"amount"),
        Case(
            "prune_linear-scope",
            lambda: c.prune_linear(gpt(), 0.5, scope="x"),
            ValueError,
            r"scope",
        ),
        Case(
            "prune_linear-none",
            lambda: c.prune_linear(nn.Sequential(), 0.5),
            ValueError,
            r"no Linear layers",
        ),
        Case(
            "distillation_loss-temp-nan",
            lambda: c.distillation_loss(L3, L3, Y3, NAN),
            ValueError,
            r"temperature must be a number > 0, got nan",
        ),
        Case(
            "distillation_loss-alpha",
            lambda: c.distillation_loss(L3, L3, Y3, alpha=2),
            ValueError,
            r"alpha",
        ),
        Case(
            "distillation_loss-shape",
            lambda: c.distillation_loss(L3, L3[..., :4], Y3),
            ValueError,
            r"student and teacher logits must have one shape",
        ),
        Case(
            "distillation_loss-targets",
            lambda: c.distillation_loss(L3, L3, Y3[:, :2]),
            ValueError,
            r"targets must have shape",
        ),
        Case(
            "Distiller-temp-nan",
            lambda: c.Distiller(gpt(), gpt2(), temperature=NAN),
            ValueError,
            r"temperature must be a number > 0, got nan",
        ),
        Case(
            "Distiller-temp-inf",
            lambda: c.Distiller(gpt(), gpt2(), temperature=INF),
            ValueError,
            r"temperature must be a number > 0, got inf",
        ),
        Case(
            "Distiller-alpha-nan",
            lambda: c.Distiller(gpt(), gpt2(), alpha=NAN),
            ValueError,
            r"alpha must be a number in \[0, 1\], got nan",
        ),
        Case("Distiller-same", lambda: c.Distiller(gpt(), gpt()), ValueError, r"student and"),
        Case("Distiller-student", lambda: c.Distiller("s", gpt()), TypeError, r"student"),
    ]


def finetune_cases():
    from lmbook import finetune as f

    return [
        Case(
            "hidden_states-model", lambda: f.hidden_states(nn.Linear(2, 2), T2), TypeError, r"model"
        ),
        Case("hidden_states-idx", lambda: f.hidden_states(gpt(), T2.float()), TypeError, r"idx"),
        Case(
            "pool_states-pooling",
            lambda: f.pool_states(torch.randn(1, 3, 4), T2 > 0, "sum"),
            ValueError,
            r"pooling",
        ),
        Case("pool_states-h", lambda: f.pool_states(torch.randn(3, 4), T2 > 0), V, r"\bh\b"),
        Case(
            "encode_passages-str", lambda: f.encode_passages("abc", vocab(), 4), TypeError, r"texts"
        ),
        Case(
            "encode_passages-max_len",
            lambda: f.encode_passages(["ab"], vocab(), 0),
            ValueError,
            r"max_len",
        ),
        Case(
            "GPTClassifier-body",
            lambda: f.GPTClassifier(nn.Linear(2, 2), 2),
            TypeError,
            r"body must be an lmbook GPT",
        ),
        Case(
            "GPTClassifier-classes",
            lambda: f.GPTClassifier(gpt(), 1),
            ValueError,
            r"n_classes must be an int >= 2",
        ),
        Case(
            "GPTClassifier-pooling",
            lambda: f.GPTClassifier(gpt(), 2, pooling="max"),
            ValueError,
            r"pooling",
        ),
        Case(
            "GPTClassifier-weights",
            lambda: f.GPTClassifier(gpt(), 2, class_weights=[1.0]),
            ValueError,
            r"class_weights",
        ),
        Case(
            "GPTClassifier-weights-nan",
            lambda: f.GPTClassifier(gpt(), 2, class_weights=[1.0, NAN]),
            ValueError,
            r"class_weights",
        ),
        Case("predict-model", lambda: f.predict(gpt(), T2), TypeError, r"model"),
        Case(
            "passage_features-batch",
            lambda: f.passage_features(classifier(), T2, batch_size=0),
            ValueError,
            r"batch_size",
        ),
        Case(
            "PassageBatches-labels",
            lambda: f.PassageBatches(T2, torch.tensor([0, 1]), 1),
            ValueError,
            r"labels",
        ),
        Case(
            "PassageBatches-batch",
            lambda: f.PassageBatches(T2, torch.tensor([0]), 0),
            ValueError,
            r"batch_size",
        ),
        Case(
            "classifier_param_groups-lr",
            lambda: f.classifier_param_groups(classifier(), 0.1, body_lr=NAN, head_lr=1e-3),
            ValueError,
            r"body_lr",
        ),
    ]


@functools.cache
def classifier():
    from lmbook.finetune import GPTClassifier

    return GPTClassifier(gpt(), 2)


def analysis_cases():
    from lmbook import analysis as an

    x = torch.randn(6, 2)
    return [
        Case("kmeans-nan", lambda: an.kmeans(with_nan(x), 2), ValueError, r"x holds NaN"),
        Case("kmeans-inf", lambda: an.kmeans(x * INF, 2), ValueError, r"x holds NaN or inf"),
        Case("kmeans-k", lambda: an.kmeans(x, 7), ValueError, r"k must be an int in \[1, 6\]"),
        Case(
            "kmeans-int",
            lambda: an.kmeans(torch.ones(3, 2, dtype=torch.long), 1),
            TypeError,
            r"x must be a floating-point tensor",
        ),
        Case("kmeans-init", lambda: an.kmeans(x, 2, init=torch.zeros(3, 2)), ValueError, r"init"),
        Case("kmeans-iters", lambda: an.kmeans(x, 2, iters=0), ValueError, r"iters"),
        Case("window_spans-stride", lambda: an.window_spans(10, 4, 0), ValueError, r"stride"),
        Case("window_spans-big-stride", lambda: an.window_spans(10, 4, 5), ValueError, r"stride"),
        Case("token_surprisal-str", lambda: an.token_surprisal(gpt(), "abc"), TypeError, r"ids"),
        Case(
            "token_surprisal-batch",
            lambda: an.token_surprisal(gpt(), [1, 2, 3], batch_size=0),
            ValueError,
            r"batch_size",
        ),
        Case("shuffle_words-rng", lambda: an.shuffle_words("a b", 0), TypeError, r"rng"),
        Case("swap_letters-line", lambda: an.swap_letters(3, random.Random(0)), TypeError, r"line"),
        Case("corrupt_lines-rate", lambda: an.corrupt_lines(["a b"], 1.5), ValueError, r"rate"),
        Case(
            "corrupt_lines-kinds",
            lambda: an.corrupt_lines(["a b"], 0.5, kinds=["x"]),
            ValueError,
            r"kinds",
        ),
        Case("corrupt_lines-str", lambda: an.corrupt_lines("a b", 0.5), TypeError, r"lines"),
        Case(
            "passage_embeddings-str",
            lambda: an.passage_embeddings(gpt(), "ab", vocab()),
            TypeError,
            r"texts",
        ),
        Case(
            "TextWindows-block",
            lambda: an.TextWindows([empty_file()], vocab(), 0),
            ValueError,
            r"block_size",
        ),
        Case(
            "TextWindows-paths",
            lambda: an.TextWindows(empty_file(), vocab(), 4),
            TypeError,
            r"paths",
        ),
        Case(
            "surprisal_html-len",
            lambda: an.surprisal_html(["a", "b"], [1.0]),
            ValueError,
            r"chars.*nats",
        ),
        Case(
            "surprisal_html-vmax",
            lambda: an.surprisal_html(["a"], [1.0], vmax=0),
            ValueError,
            r"vmax",
        ),
        Case("kmeans_plus_plus-k", lambda: an.kmeans_plus_plus(x, 0), ValueError, r"\bk\b"),
    ]


def data_cases():
    from lmbook import data

    return [
        Case("genre-unknown", lambda: data.genre("nothing"), KeyError, r"no play named 'nothing'"),
        Case("title-unknown", lambda: data.title("nothing"), KeyError, r"no play named 'nothing'"),
        Case("split_plays-split", lambda: data.split_plays("dev"), ValueError, r"split"),
        Case("shakespeare-split", lambda: data.shakespeare("dev"), ValueError, r"split"),
        Case("genre_split_plays-split", lambda: data.genre_split_plays("x"), ValueError, r"split"),
        Case(
            "genre_passages-lines",
            lambda: data.genre_passages("train", lines=0),
            ValueError,
            r"lines",
        ),
        Case(
            "read_tatoeba-max",
            lambda: data.read_tatoeba(empty_file(), max_pairs=0),
            ValueError,
            r"max_pairs",
        ),
        Case("spoken_lines-bytes", lambda: data.spoken_lines(b"x"), TypeError, r"text"),
        Case("markdown_to_text-list", lambda: data.markdown_to_text(["x"]), TypeError, r"markdown"),
    ]


def distributed_cases():
    from lmbook import distributed as dd

    return [
        Case("shard_indices-rank", lambda: dd.shard_indices(10, 2, 2), ValueError, r"rank"),
        Case("shard_indices-world", lambda: dd.shard_indices(10, 0, 0), ValueError, r"world_size"),
        Case("shard_indices-n", lambda: dd.shard_indices(-1, 0, 1), ValueError, r"\bn\b"),
        Case(
            "ShardedBatches-batch",
            lambda: dd.ShardedBatches(list(range(4)), 0, rank=0, world_size=1),
            ValueError,
            r"batch_size",
        ),
        Case("ranks_from_env-missing", lambda: dd.ranks_from_env({}), ValueError, r"RANK"),
        Case(
            "ranks_from_env-bad",
            lambda: dd.ranks_from_env({"RANK": "x", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}),
            ValueError,
            r"RANK",
        ),
        Case("average_gradients-model", lambda: dd.average_gradients("m"), TypeError, r"model"),
        Case("save_on_main-path", lambda: dd.save_on_main({}, 3), TypeError, r"path"),
        Case("launch-script", lambda: dd.launch("/nonexistent/x.py"), ValueError, r"script"),
        Case("launch-nproc", lambda: dd.launch(empty_file(), nproc=0), ValueError, r"nproc"),
        Case("launch-args", lambda: dd.launch(empty_file(), args="a b"), TypeError, r"args"),
        Case("bytes_per_device-stage", lambda: dd.bytes_per_device(10, 2, 4), ValueError, r"stage"),
        Case(
            "bytes_per_device-devices",
            lambda: dd.bytes_per_device(10, 0, 1),
            ValueError,
            r"n_devices",
        ),
    ]


def leaderboard_cases():
    from lmbook.leaderboard import leaderboard_row, report

    return [
        Case(
            "leaderboard_row-nan",
            lambda: leaderboard_row("m", NAN, chapter=1),
            ValueError,
            r"nats_per_char must be a .*number.*, got nan",
        ),
        Case(
            "leaderboard_row-neg",
            lambda: leaderboard_row("m", -1.0, chapter=1),
            ValueError,
            r"nats_per_char (must be a number >= 0|cannot be negative)",
        ),
        Case(
            "leaderboard_row-str",
            lambda: leaderboard_row("m", "1.2", chapter=1),
            ValueError,
            r"nats_per_char",
        ),
        Case(
            "leaderboard_row-chapter",
            lambda: leaderboard_row("m", 1.0, chapter=0),
            ValueError,
            r"chapter must be an? (int|chapter number) >= 1",
        ),
        Case(
            "leaderboard_row-chapter-float",
            lambda: leaderboard_row("m", 1.0, chapter=1.5),
            ValueError,
            r"chapter must be an? (int|chapter number)",
        ),
        Case(
            "leaderboard_row-params",
            lambda: leaderboard_row("m", 1.0, chapter=1, params=-3),
            ValueError,
            r"params must be an? (int|count) >= 0",
        ),
        Case(
            "leaderboard_row-split",
            lambda: leaderboard_row("m", 1.0, chapter=1, split="x"),
            ValueError,
            r"split",
        ),
        Case(
            "leaderboard_row-model",
            lambda: leaderboard_row("", 1.0, chapter=1),
            ValueError,
            r"model must be a non-empty name",
        ),
        Case("report-nan", lambda: report("m", NAN, chapter=1), ValueError, r"nats_per_char"),
    ]


def runtime_and_book_cases():
    import lmbook
    from lmbook import claims, plotting

    return [
        Case("seed-float", lambda: lmbook.seed(1.5), V, r"\bn\b|seed"),
        Case("seed-str", lambda: lmbook.seed("0"), V, r"\bn\b|seed"),
        Case(
            "by_mode-mode",
            lambda: mock_mode("fast", lambda: lmbook.by_mode(1, 2)),
            ValueError,
            r"LMBOOK_SMOKE='fast' is not understood",
        ),
        Case("by_mode-types", lambda: lmbook.by_mode(1, "2"), TypeError, r"full and smoke"),
        Case("glue-name", lambda: claims.glue("", 1), ValueError, r"name"),
        Case("check-claim", lambda: claims.check("", True), ValueError, r"claim"),
        Case(
            "line_plot-lengths",
            lambda: plotting.line_plot([1, 2], {"a": [1]}, "x", "y"),
            ValueError,
            r"'a'",
        ),
        Case(
            "history_plot-keys",
            lambda: plotting.history_plot([{"step": 1}], keys=["loss"]),
            ValueError,
            r"loss",
        ),
        Case(
            "confusion_matrix_plot-labels",
            lambda: plotting.confusion_matrix_plot([[1, 0], [0, 1]], ["a"]),
            ValueError,
            r"labels",
        ),
        Case(
            "alignment_plot-weights",
            lambda: plotting.alignment_plot(["a"], ["b"], np.zeros((2, 2))),
            ValueError,
            r"weights",
        ),
    ]


def mock_mode(value: str, call: Callable[[], Any]) -> Any:
    with mock.patch.dict("os.environ", {"LMBOOK_SMOKE": value}):
        return call()


CASES = [
    *text_cases(),
    *ngram_cases(),
    *word2vec_cases(),
    *rnn_cases(),
    *seq2seq_cases(),
    *decoding_cases(),
    *metrics_cases(),
    *attention_cases(),
    *transformer_cases(),
    *translator_cases(),
    *training_cases(),
    *compress_cases(),
    *finetune_cases(),
    *analysis_cases(),
    *data_cases(),
    *distributed_cases(),
    *leaderboard_cases(),
    *runtime_and_book_cases(),
]

# The cases that were silent (a wrong answer, no error) or unclear (an error that did not
# name the argument) before issue 15's fixes, as benchmarks/bad_input_probe.py found them
# on lmbook at 0461ff4; every other case already raised a clear error.
BEFORE: dict[str, str] = {
    "word_tokenize-lower": "silent",
    "Vocab.encode-ids": "silent",
    "histories-n-0": "unclear",
    "noise_distribution-nan": "silent",
    "noise_distribution-inf": "silent",
    "most_similar-topn-neg": "silent",
    "most_similar-topn-float": "unclear",
    "analogy-topn-neg": "silent",
    "evaluate_word_pairs-empty": "unclear",
    "evaluate_analogies-empty": "unclear",
    "CharRNN-id-high": "unclear",
    "CharRNN-id-neg": "unclear",
    "CharRNN-float": "unclear",
    "generate-keeps-mode": "silent",
    "pad-float-ids": "silent",
    "pad-str": "unclear",
    "pad-pad_id": "silent",
    "Seq2Seq-src-high": "unclear",
    "Seq2Seq-tgt-high": "unclear",
    "Seq2Seq-src-float": "unclear",
    "Seq2Seq.encode-high": "unclear",
    "padding_fraction-pad": "silent",
    "greedy_decode-src-high": "unclear",
    "sample_next-nan-logits": "unclear",
    "sample_next-some-nan": "unclear",
    "perplexity-inf": "silent",
    "ngram_counts-n": "silent",
    "attention_alignment-nan": "silent",
    "attention_alignment-tensor-nan": "silent",
    "to_torch_mha-type": "unclear",
    "AdditiveAttention-size": "silent",
    "AttentionSeq2Seq-config": "unclear",
    "GPT.step-caches-batch": "unclear",
    "Block-config": "unclear",
    "TransformerSeq2Seq-src-high": "unclear",
    "TransformerSeq2Seq-tgt-high": "unclear",
    "TransformerSeq2Seq.encode-high": "unclear",
    "split_heads-heads": "unclear",
    "warmup_cosine_schedule-opt": "unclear",
    "train-no-loss": "unclear",
    "train-cuda-absent": "unclear",
    "train-device-name": "unclear",
    "mixed_precision-device": "unclear",
    "to_device-device": "unclear",
    "sparsity-type": "unclear",
    "Distiller-temp-nan": "silent",
    "Distiller-temp-inf": "silent",
    "Distiller-alpha-nan": "silent",
    "pool_states-pooling": "silent",
    "pool_states-h": "silent",
    "kmeans-nan": "silent",
    "kmeans-inf": "silent",
    "shuffle_words-rng": "unclear",
    "swap_letters-line": "unclear",
    "kmeans_plus_plus-k": "silent",
    "markdown_to_text-list": "unclear",
}


def test_the_table_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 200
    assert len({case.id for case in CASES}) == len(CASES)
    assert set(BEFORE) <= {case.id for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_by_name(case: Case) -> None:
    with pytest.raises(case.error, match=case.match):
        case.call()


def test_numpy_and_tensor_scalars_pass_where_numbers_do() -> None:
    from lmbook.decoding import sample_next
    from lmbook.leaderboard import leaderboard_row
    from lmbook.metrics import nats_to_bits, perplexity
    from lmbook.transformer import GPTConfig

    assert perplexity(np.float32(1.0)) == pytest.approx(math.e)
    assert perplexity(torch.tensor(0.0)) == 1.0
    assert nats_to_bits(np.float32(math.log(2))) == pytest.approx(1.0)
    row = leaderboard_row("m", np.float32(1.2), chapter=np.int64(3), params=np.int64(5))
    assert row["params"] == 5 and row["chapter"] == 3
    assert GPTConfig(vocab_size=np.int64(11), n_layer=torch.tensor(1)).n_layer == 1
    assert sample_next(torch.zeros(5), temperature=np.float64(0.5)).shape == ()
    import lmbook

    lmbook.seed(np.int64(0))


def test_perplexity_past_a_floats_range_is_inf() -> None:
    from lmbook.metrics import perplexity

    assert perplexity(1000.0) == math.inf  # exp(1000) overflows a float: inf, not an error
