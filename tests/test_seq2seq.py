"""Tests of lmbook.seq2seq: vocabularies, padded length batches and the GRU encoder–decoder."""

import random
import time
import warnings

import pytest
import torch
from pair_examples import random_examples

from lmbook.decoding import greedy_decode
from lmbook.seq2seq import (
    BOS,
    EOS,
    PAD,
    UNK,
    Encoder,
    LengthBatches,
    Seq2Seq,
    Seq2SeqConfig,
    build_vocab,
    encode_pairs,
    pad,
    padding_fraction,
)
from lmbook.text import Vocab

PAIRS = [
    (["the", "cat", "sleeps", "."], ["le", "chat", "dort", "."]),
    (
        ["the", "black", "cat", "does", "not", "sleep", "."],
        ["le", "chat", "noir", "ne", "dort", "pas", "."],
    ),
    (["a", "dog", "runs", "."], ["un", "chien", "court", "."]),
]


def config(**overrides) -> Seq2SeqConfig:
    """A small config whose special ids follow build_vocab (unk 0, pad 1, bos 2, eos 3)."""
    sizes = dict(
        src_vocab_size=11, tgt_vocab_size=9, src_pad_id=1, tgt_pad_id=1, bos_id=2, eos_id=3
    )
    sizes.update(n_embd=8, n_hidden=12, n_layers=2)
    return Seq2SeqConfig(**(sizes | overrides))


def model64(seed: int = 0, **overrides) -> Seq2Seq:
    """A random float64 Seq2Seq, so equalities can be checked to 1e-12."""
    torch.manual_seed(seed)
    return Seq2Seq(config(**overrides)).double().eval()


# Tiny models run fastest on one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


# --- vocabularies, examples, padding ------------------------------------------------


def test_build_vocab_has_the_special_tokens():
    vocab = build_vocab(t for _, t in PAIRS)
    assert isinstance(vocab, Vocab)
    assert [vocab.itos[i] for i in range(4)] == [UNK, PAD, BOS, EOS]
    assert vocab.stoi["."] == 4  # the most frequent word comes first
    assert vocab.encode(["chat", "zèbre"]) == [vocab.stoi["chat"], vocab.stoi[UNK]]
    rare = build_vocab([s for s, _ in PAIRS], min_freq=2)
    assert "the" in rare and "dog" not in rare and PAD in rare


def test_build_vocab_rejects_strings():
    with pytest.raises(TypeError, match="sentence 1 must be a sequence of tokens, got a str"):
        build_vocab([["a", "b"], "the cat"])
    with pytest.raises(TypeError, match="got a str"):
        build_vocab("the cat")


def test_encode_pairs_adds_eos_to_sources_and_bos_eos_to_targets():
    src_vocab = build_vocab(s for s, _ in PAIRS)
    tgt_vocab = build_vocab(t for _, t in PAIRS)
    examples = encode_pairs(PAIRS + [(["the", "zebra"], ["le", "zèbre"])], src_vocab, tgt_vocab)
    src, tgt = examples[0]
    assert src_vocab.decode(src) == ["the", "cat", "sleeps", ".", EOS]
    assert tgt_vocab.decode(tgt) == [BOS, "le", "chat", "dort", ".", EOS]
    assert src_vocab.decode(examples[-1][0]) == ["the", UNK, EOS]
    assert tgt_vocab.decode(examples[-1][1]) == [BOS, "le", UNK, EOS]


def test_encode_pairs_errors():
    src_vocab = build_vocab(s for s, _ in PAIRS)
    tgt_vocab = build_vocab(t for _, t in PAIRS)
    with pytest.raises(
        TypeError, match="the source of pair 0 must be a sequence of tokens, got a str"
    ):
        encode_pairs([("the cat", ["le", "chat"])], src_vocab, tgt_vocab)
    with pytest.raises(ValueError, match="pair 0 must be a"):
        encode_pairs([(["the"], ["le"], ["der"])], src_vocab, tgt_vocab)
    plain = Vocab(["le", "chat"])
    with pytest.raises(ValueError, match=r"tgt_vocab lacks the special tokens \['<pad>'"):
        encode_pairs(PAIRS, src_vocab, plain)


def test_pad():
    assert pad([[5, 6, 7], [8]], pad_id=1).tolist() == [[5, 6, 7], [8, 1, 1]]
    assert pad([(4,)], pad_id=0).dtype == torch.long
    with pytest.raises(ValueError, match="seqs must not be empty"):
        pad([], pad_id=1)


# --- batches by length ---------------------------------------------------------------


def batch_rows(batches) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every (source, target) of an epoch, with the padding stripped."""
    rows = []
    for src, tgt in batches:
        for s, t in zip(src.tolist(), tgt.tolist(), strict=True):
            s = tuple(s[: len(s) - s[::-1].index(3)])  # up to the last <eos>
            rows.append((s, tuple(t[: len(t) - t[::-1].index(3)])))
    return rows


def test_length_batches_yield_every_example_once_per_epoch():
    examples = random_examples(103, seed=0)
    batches = LengthBatches(examples, 10, shuffle=True, seed=0, src_pad=1, tgt_pad=1)
    assert len(batches) == 11
    for _ in range(2):
        epoch = list(batches)
        assert len(epoch) == 11 and sum(len(s) for s, _ in epoch) == 103
        assert sorted(batch_rows(epoch)) == sorted((tuple(s), tuple(t)) for s, t in examples)
        for src, tgt in epoch:
            assert src.dtype == tgt.dtype == torch.long and len(src) == len(tgt) <= 10


def test_length_batches_group_similar_lengths_and_pad_less_than_random_batches():
    rng = random.Random(1)
    lengths = [rng.randint(1, 20) for _ in range(400)]  # targets as long or one longer
    examples = [([4] * n + [3], [2] + [5] * (n + rng.randint(0, 1)) + [3]) for n in lengths]
    kw = dict(shuffle=True, seed=0, src_pad=1, tgt_pad=1)
    by_length = LengthBatches(examples, 16, **kw)
    for src, _ in by_length:
        lengths = (src != 1).sum(1)
        assert lengths.max() - lengths.min() <= 2  # ~20 sources of each length
    src_pad, tgt_pad = padding_fraction(by_length, 1, 1)
    random_src, random_tgt = padding_fraction(
        LengthBatches(examples, 16, by_length=False, **kw), 1, 1
    )
    assert src_pad < 0.05 and random_src > 0.3
    assert tgt_pad < 0.05 and random_tgt > 0.3


def test_length_batches_shuffle_each_epoch_reproducibly():
    examples = random_examples(200, seed=2)
    kw = dict(shuffle=True, src_pad=1, tgt_pad=1)
    a = LengthBatches(examples, 8, seed=5, **kw)
    b = LengthBatches(examples, 8, seed=5, **kw)
    a1, a2 = batch_rows(a), batch_rows(a)
    assert a1 != a2  # a new order each epoch
    assert batch_rows(b) == a1 and batch_rows(b) == a2  # the same seed, the same epochs
    assert batch_rows(LengthBatches(examples, 8, seed=6, **kw)) != a1
    assert iter(a) is not a  # re-iterable, as lmbook.training.train needs


def test_length_batches_without_shuffle_go_shortest_first_every_epoch():
    examples = random_examples(50, seed=3)
    batches = LengthBatches(examples, 7, shuffle=False, src_pad=1, tgt_pad=1)
    first = batch_rows(batches)
    assert first == batch_rows(batches)
    keys = [(len(s), len(t)) for s, t in first]
    assert keys == sorted(keys)


def test_length_batches_errors():
    examples = random_examples(5, seed=0)
    kw = dict(shuffle=False, src_pad=1, tgt_pad=1)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
            LengthBatches(examples, bad, **kw)
    with pytest.raises(ValueError, match="examples must not be empty"):
        LengthBatches([], 4, **kw)
    with pytest.raises(ValueError, match="example 1 must be"):
        LengthBatches([([4, 3], [2, 3]), ([], [2, 3])], 4, **kw)


def test_padding_fraction_by_hand():
    src = torch.tensor([[5, 3, 1], [6, 7, 3]])  # 1 pad in 6
    tgt = torch.tensor([[2, 5, 3, 1], [2, 3, 1, 1]])  # 3 pads in 8
    assert padding_fraction([(src, tgt)], 1, 1) == (1 / 6, 3 / 8)


# --- the config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, bad, match",
    [
        ("src_vocab_size", 0, "src_vocab_size must be an int >= 1, got 0"),
        ("n_hidden", 2.5, "n_hidden must be an int >= 1, got 2.5"),
        ("n_layers", True, "n_layers must be an int >= 1, got True"),
        ("dropout", 1.0, r"dropout must be a number in \[0, 1\), got 1.0"),
        ("dropout", -0.1, "dropout must be a number in"),
        ("src_pad_id", 11, r"src_pad_id must be an int in \[0, src_vocab_size=11\), got 11"),
        ("bos_id", -1, r"bos_id must be an int in \[0, tgt_vocab_size=9\), got -1"),
        ("eos_id", 9, "eos_id must be an int in"),
        ("eos_id", 2, "tgt_pad_id, bos_id and eos_id must differ, got 1, 2 and 2"),
        ("tgt_pad_id", 3, "must differ"),
    ],
)
def test_config_rejects_bad_values(field, bad, match):
    with pytest.raises(ValueError, match=match):
        config(**{field: bad})


def test_config_from_vocabs():
    src_vocab = build_vocab(s for s, _ in PAIRS)
    tgt_vocab = build_vocab(t for _, t in PAIRS)
    c = Seq2SeqConfig.from_vocabs(src_vocab, tgt_vocab, n_hidden=32)
    assert (c.src_vocab_size, c.tgt_vocab_size, c.n_hidden) == (len(src_vocab), len(tgt_vocab), 32)
    assert c.src_pad_id == src_vocab.stoi[PAD] and c.tgt_pad_id == tgt_vocab.stoi[PAD]
    assert (c.bos_id, c.eos_id) == (tgt_vocab.stoi[BOS], tgt_vocab.stoi[EOS])
    with pytest.raises(ValueError, match="src_vocab lacks the special tokens"):
        Seq2SeqConfig.from_vocabs(Vocab(["a"]), tgt_vocab)


def test_dropout_with_one_layer_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Seq2Seq(config(n_layers=1, dropout=0.3))


# --- the encoder: padding never reaches the state ------------------------------------


def test_encoder_zeroes_padding_and_is_invariant_to_it():
    model = model64()
    sentences = [[5, 6, 3], [7, 8, 9, 10, 4, 5, 3], [4, 3]]
    outputs, hidden = model.encoder(pad(sentences, 1))  # (3, 7, H), (2, 3, H)
    assert outputs.shape == (3, 7, 12) and hidden.shape == (2, 3, 12)
    for i, s in enumerate(sentences):
        alone_out, alone_hidden = model.encoder(torch.tensor([s]))
        torch.testing.assert_close(outputs[i, : len(s)], alone_out[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(hidden[:, i], alone_hidden[:, 0], rtol=0, atol=1e-12)
        assert bool((outputs[i, len(s) :] == 0).all())
    # the top layer's final state is the output after the last real token
    torch.testing.assert_close(outputs[1, 6], hidden[-1, 1], rtol=0, atol=1e-12)


def test_encoder_rejects_empty_or_left_padded_sources():
    encoder = Encoder(config())
    with pytest.raises(ValueError, match="source row 1 is all <pad>"):
        encoder(torch.tensor([[5, 3], [1, 1]]))
    with pytest.raises(ValueError, match="padded on the right only"):
        encoder(torch.tensor([[1, 5, 3]]))


# --- the model: teacher forcing and the masked loss ---------------------------------


def test_forward_shapes_and_loss_is_the_mean_over_real_target_tokens():
    model = model64()
    examples = random_examples(5, seed=4)
    src = pad([s for s, _ in examples], 1)
    tgt = pad([t for _, t in examples], 1)
    logits, loss = model(src, tgt)
    assert logits.shape == (5, tgt.size(1) - 1, 9) and loss.ndim == 0
    # by hand: sum the per-sentence losses, each computed alone without padding
    total, count = 0.0, 0
    for s, t in examples:
        step_logits, _ = model(torch.tensor([s]), torch.tensor([t]))
        log_p = step_logits[0].log_softmax(-1).gather(1, torch.tensor(t[1:])[:, None])
        total, count = total - log_p.sum(), count + len(t) - 1
    torch.testing.assert_close(loss, total / count, rtol=1e-12, atol=0)


def test_loss_ignores_extra_padding_in_source_and_target():
    model = model64(seed=1)
    examples = random_examples(6, seed=5)
    src = pad([s for s, _ in examples], 1)
    tgt = pad([t for _, t in examples], 1)
    more_src = torch.cat([src, torch.ones(6, 4, dtype=torch.long)], 1)
    more_tgt = torch.cat([tgt, torch.ones(6, 3, dtype=torch.long)], 1)
    _, loss = model(src, tgt)
    logits, padded_loss = model(more_src, more_tgt)
    torch.testing.assert_close(padded_loss, loss, rtol=0, atol=1e-12)
    assert logits.shape[1] == tgt.size(1) + 2


def test_teacher_forced_logits_equal_step_by_step_decoding():
    model = model64(seed=2)
    examples = random_examples(4, seed=6)
    src = pad([s for s, _ in examples], 1)
    tgt = pad([t for _, t in examples], 1)
    logits, _ = model(src, tgt)  # (B, T-1, V)
    state = model.encode(src)
    assert state["hidden"].shape == (4, 2, 12) and state["context"].shape == (4, 12)
    for t in range(tgt.size(1) - 1):
        step, state = model.decode_step(tgt[:, t], state)  # (B, V)
        torch.testing.assert_close(step, logits[:, t], rtol=0, atol=1e-12)


def test_forward_rejects_targets_without_bos():
    model = model64()
    src = torch.tensor([[5, 3]])
    with pytest.raises(ValueError, match=r"must start with <bos> \(id 2\), got first ids \[4\]"):
        model(src, torch.tensor([[4, 5, 3]]))
    with pytest.raises(ValueError, match="at least <bos> and <eos>"):
        model(src, torch.tensor([[2]]))


def test_a_tiny_model_learns_to_reverse_20_sequences():
    rng = random.Random(0)
    examples = []
    for _ in range(20):
        words = [rng.randrange(4, 11) for _ in range(rng.randint(2, 5))]
        examples.append((words + [3], [2] + words[::-1] + [3]))
    src = pad([s for s, _ in examples], 1)
    tgt = pad([t for _, t in examples], 1)
    torch.manual_seed(0)
    model = Seq2Seq(config(tgt_vocab_size=11, n_embd=16, n_hidden=64, n_layers=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(150):
        _, loss = model(src, tgt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert time.perf_counter() - start < 5
    assert loss.item() < 0.01
    logits, _ = model(src, tgt)
    real = tgt[:, 1:] != 1
    assert torch.equal(logits.argmax(-1)[real], tgt[:, 1:][real])
    assert greedy_decode(model, src, max_len=10) == [t[1:-1] for _, t in examples]
