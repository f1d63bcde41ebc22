"""Tests of lmbook.translator: the encoder–decoder Transformer, its config, masks and
decoding with chapter 4's greedy and beam search."""

import math
import random

import pair_examples
import pytest
import torch
from pair_examples import batch

from lmbook.decoding import beam_search, greedy_decode, select, translate
from lmbook.parallel import translation_pairs
from lmbook.seq2seq import BOS, EOS, PAD, LengthBatches, build_vocab, encode_pairs
from lmbook.training import count_parameters, train
from lmbook.translator import (
    TransformerConfig,
    TransformerSeq2Seq,
    cached_step,
    cross_attention_weights,
    fast_step,
    start_cache,
)

ATOL = 1e-10  # float64: the same sums over more (masked) keys agree far below this


def assert_same_beams(ours_all, theirs_all):
    """Beam search's hypotheses, source by source: the same tokens, log-probs within ATOL."""
    for ours, theirs in zip(ours_all, theirs_all, strict=True):
        assert [h.tokens for h in ours] == [h.tokens for h in theirs]
        assert [h.log_prob for h in ours] == pytest.approx([h.log_prob for h in theirs], abs=ATOL)


# Tiny models run fastest on one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def config(**overrides) -> TransformerConfig:
    """A tiny config whose special ids follow build_vocab (unk 0, pad 1, bos 2, eos 3)."""
    sizes = dict(src_vocab_size=12, tgt_vocab_size=11, src_pad_id=1, tgt_pad_id=1, bos_id=2)
    sizes.update(eos_id=3, d_model=16, n_heads=2, n_layers=2, dropout=0.0)
    return TransformerConfig(**(sizes | overrides))


class Rereading(TransformerSeq2Seq):
    """The decoder without a cache, the reference for the cached one: every step runs
    decode, teacher forcing's code, over the whole prefix read so far."""

    def encode(self, src: torch.Tensor) -> dict:
        return {**super().encode(src), "prefix": src[:, :0]}  # (B, 0): nothing read yet

    def decode_step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        prefix = torch.cat([state["prefix"], prev[:, None]], dim=1)  # (B, t)
        logits = self.decode(prefix, state)  # (B, t, V)
        return logits[:, -1], {**state, "prefix": prefix}


class Ending(TransformerSeq2Seq):
    """A TransformerSeq2Seq whose <eos> grows likelier at every step of decode_step, so that
    random models translate to varied lengths."""

    def decode_step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        logits, state = super().decode_step(prev, state)
        t = state["prefix"].size(1) if "prefix" in state else state["read"].size(1)
        return logits + 0.5 * t * (torch.arange(logits.size(1)) == 3), state


class RereadingEnding(Ending, Rereading):
    """An Ending without the cache."""


class PlainEnding(Ending):
    """An Ending whose decode_step is cached_step, the cache grown by torch.cat."""

    def decode_step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        logits, state = cached_step(self, prev, state)
        return logits + 0.5 * state["self_k"].size(3) * (torch.arange(logits.size(1)) == 3), state


def model64(seed: int = 0, ending: bool = False, **overrides) -> TransformerSeq2Seq:
    """A random float64 model in eval mode, untied, with its cross-attention and output
    weights tripled: at initialisation the source barely moves a decoder's choices, and
    a random model would answer the same token to every source. ending=True: an Ending."""
    torch.manual_seed(seed)
    model = (Ending if ending else TransformerSeq2Seq)(config(tie_weights=False, **overrides))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and ("cross_attn" in name or name == "out.weight"):
                p.mul_(3.0)
    return model.double().eval()


def random_examples(n: int, seed: int, longest: int = 7) -> list:
    """n (source, target) id pairs over this file's vocabularies (source 12 ids, target 11)."""
    return pair_examples.random_examples(n, seed, src_ids=(4, 12), tgt_ids=(4, 11), longest=longest)


# --- the config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, bad, match",
    [
        ("n_heads", 3, "d_model=16 is not divisible by n_heads=3"),
        ("d_model", 15, "d_model=15 is not divisible by n_heads=2"),
        ("n_layers", 0, "n_layers must be an int >= 1, got 0"),
        ("max_len", 2.0, "max_len must be an int >= 1, got 2.0"),
        ("dropout", 1.0, r"dropout must be a number in \[0, 1\), got 1.0"),
        ("bos_id", 11, r"bos_id must be an int in \[0, tgt_vocab_size=11\), got 11"),
        ("src_pad_id", -1, r"src_pad_id must be an int in \[0, src_vocab_size=12\)"),
        ("eos_id", 1, "tgt_pad_id, bos_id and eos_id must differ, got 1, 2 and 1"),
    ],
)
def test_config_rejects_bad_values(field, bad, match):
    with pytest.raises(ValueError, match=match):
        config(**{field: bad})


def test_config_rejects_odd_widths_and_non_bool_tying():
    with pytest.raises(ValueError, match="d_model must be a multiple of 2, got 7: sine–cosine"):
        config(d_model=7, n_heads=1)
    with pytest.raises(TypeError, match="tie_weights must be True or False, got int"):
        config(tie_weights=1)
    with pytest.raises(TypeError, match="config must be a TransformerConfig, got dict"):
        TransformerSeq2Seq({"d_model": 16})


def test_config_from_vocabs_fits_translate():
    pairs = [(["the", "cat", "sleeps", "."], ["le", "chat", "dort", "."])]
    src_vocab = build_vocab(s for s, _ in pairs)
    tgt_vocab = build_vocab(t for _, t in pairs)
    c = TransformerConfig.from_vocabs(src_vocab, tgt_vocab, d_model=8, n_heads=2, n_layers=1)
    assert (c.src_vocab_size, c.tgt_vocab_size, c.d_model) == (8, 8, 8)
    assert c.src_pad_id == src_vocab.stoi[PAD] and c.tgt_pad_id == tgt_vocab.stoi[PAD]
    assert (c.bos_id, c.eos_id) == (tgt_vocab.stoi[BOS], tgt_vocab.stoi[EOS])
    torch.manual_seed(0)
    words = translate(TransformerSeq2Seq(c), "The cat sleeps.", src_vocab, tgt_vocab, max_len=5)
    assert len(words) <= 5 and set(words) <= set(tgt_vocab.itos)
    with pytest.raises(TypeError, match="src_vocab must be an lmbook.text.Vocab"):
        TransformerConfig.from_vocabs(["the"], tgt_vocab)


def test_tied_weights_share_one_matrix():
    torch.manual_seed(0)
    tied, untied = TransformerSeq2Seq(config()), TransformerSeq2Seq(config(tie_weights=False))
    assert tied.out.weight is tied.tgt_embed.weight
    assert count_parameters(untied) - count_parameters(tied) == 11 * 16  # V × d_model
    assert "pe" not in tied.state_dict()  # the positions are computed, not learned


# --- shapes, state and masks ---------------------------------------------------------------


def test_forward_and_state_shapes():
    model = model64()
    src, tgt = batch(random_examples(4, seed=0))
    B, S, T = 4, src.size(1), tgt.size(1)
    logits, loss = model(src, tgt)
    assert logits.shape == (B, T - 1, 11) and loss.ndim == 0 and loss.isfinite()
    state = model.encode(src)
    assert set(state) == {"memory", "src_mask"}
    assert state["memory"].shape == (B, S, 16) and torch.equal(state["src_mask"], src != 1)
    started = start_cache(model, state)  # 2 layers, 2 heads of d_k = 8
    assert started["cross_k"].shape == started["cross_v"].shape == (B, 2, 2, S, 8)
    assert started["self_k"].shape == started["self_v"].shape == (B, 2, 2, 0, 8)
    step, after = cached_step(model, tgt[:, 0], state)  # the plain cache grows by cat
    assert step.shape == (B, 11) and after["self_k"].shape == (B, 2, 2, 1, 8)
    _, after = cached_step(model, tgt[:, 1], after)
    assert after["self_v"].shape == (B, 2, 2, 2, 8)
    chosen = select(after, torch.tensor([3, 0, 0]))  # beam search's reordering works on it
    assert all(v.size(0) == 3 for v in chosen.values())
    assert torch.equal(chosen["self_k"], after["self_k"][[3, 0, 0]])
    # decode_step is fast_step: buffers of 16 positions, then 32, and the ids read
    step, fast = model.decode_step(tgt[:, 0], state)
    assert step.shape == (B, 11) and fast["self_k"].shape == (B, 2, 2, 16, 8)
    assert torch.equal(fast["read"], tgt[:, :1])
    for t in range(1, 17):
        _, fast = model.decode_step(tgt[:, min(t, T - 1)], fast)
    assert fast["self_v"].shape == (B, 2, 2, 32, 8) and fast["read"].shape == (B, 17)
    chosen = select(fast, torch.tensor([3, 0, 0]))
    assert all(v.size(0) == 3 for v in chosen.values())
    assert torch.equal(chosen["self_k"][:, :, :, :17], fast["self_k"][[3, 0, 0], :, :, :17])


def test_fast_step_gives_cached_steps_logits_and_cache_past_its_first_room():
    model = model64(seed=11, max_len=40)
    src, _ = batch(random_examples(5, seed=11))
    torch.manual_seed(11)
    ids = torch.randint(4, 11, (5, 37))  # 37 steps: the buffers grow from 16 to 32 to 64
    plain, fast = model.encode(src), model.encode(src)
    for t in range(ids.size(1)):
        expected, plain = cached_step(model, ids[:, t], plain)
        got, fast = fast_step(model, ids[:, t], fast)
        torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)
    assert fast["self_k"].size(3) == 64
    n = ids.size(1)
    torch.testing.assert_close(fast["self_k"][:, :, :, :n], plain["self_k"], rtol=0, atol=ATOL)
    torch.testing.assert_close(fast["self_v"][:, :, :, :n], plain["self_v"], rtol=0, atol=ATOL)
    assert torch.equal(fast["read"], ids)


def test_fast_step_refuses_a_state_stepped_twice_and_select_lets_it_branch():
    model = model64(seed=12)
    src, _ = batch(random_examples(3, seed=12))
    ids = torch.randint(4, 11, (3, 6), generator=torch.Generator().manual_seed(12))
    state = model.encode(src)
    for t in range(4):  # inside the first room: the steps share one pair of buffers
        _, state = fast_step(model, ids[:, t], state)
    assert torch.equal(state["filled"], torch.full((3,), 4))
    branch = select(state, torch.arange(3))  # a copy: buffers and count
    expected, after = fast_step(model, ids[:, 4], state)
    with pytest.raises(ValueError, match=r"already stepped: it has read 4 token\(s\)"):
        fast_step(model, ids[:, 5], state)  # a second branch from the same state
    got, _ = fast_step(model, ids[:, 4], branch)  # the copy steps on its own buffers
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)
    then, _ = fast_step(model, ids[:, 5], after)  # the first branch continues, unharmed
    reference = model.decode(torch.cat([ids[:, :5], ids[:, 5:6]], 1), model.encode(src))
    torch.testing.assert_close(then, reference[:, -1], rtol=0, atol=ATOL)


def test_each_step_refuses_the_other_steps_state():
    model = model64(seed=13)
    src, tgt = batch(random_examples(2, seed=13))
    _, fast = fast_step(model, tgt[:, 0], model.encode(src))
    with pytest.raises(ValueError, match="cached_step was given a state that fast_step"):
        cached_step(model, tgt[:, 1], fast)
    _, plain = cached_step(model, tgt[:, 0], model.encode(src))
    with pytest.raises(ValueError, match="fast_step was given a state that cached_step"):
        fast_step(model, tgt[:, 1], plain)


def test_padding_never_changes_a_sentence_logits_or_translations():
    model = model64(seed=4, ending=True)
    examples = random_examples(6, seed=4)
    src, tgt = batch(examples)
    logits, _ = model(src, tgt)
    weights = cross_attention_weights(model, src, tgt)  # (B, n_layers, n_heads, T-1, S)
    greedy = greedy_decode(model, src, max_len=10)
    beams = beam_search(model, src, beam_size=3, max_len=10)
    assert len({len(g) for g in greedy}) > 1  # the translations differ in length
    assert len({tuple(g) for g in greedy}) == len(greedy)  # and in words
    assert beams != greedy  # beam search finds other translations
    for i, (s, t) in enumerate(examples):
        alone_src, alone_tgt = torch.tensor([s]), torch.tensor([t])
        alone, _ = model(alone_src, alone_tgt)
        torch.testing.assert_close(logits[i, : len(t) - 1], alone[0], rtol=0, atol=ATOL)
        alone_w = cross_attention_weights(model, alone_src, alone_tgt)[0]
        torch.testing.assert_close(
            weights[i, ..., : len(t) - 1, : len(s)], alone_w, rtol=0, atol=ATOL
        )
        assert bool((weights[i, ..., len(s) :] == 0).all())  # no attention on padding
        assert greedy_decode(model, alone_src, max_len=10)[0] == greedy[i]
        assert beam_search(model, alone_src, beam_size=3, max_len=10)[0] == beams[i]


def test_the_decoder_never_looks_ahead():
    model = model64(seed=2)
    src, tgt = batch(random_examples(3, seed=2, longest=5))
    tgt = torch.cat([tgt, torch.full((3, 2), 3)], 1)  # every row at least 4 long
    logits, _ = model(src, tgt)
    for k in range(1, tgt.size(1) - 1):  # change the token the decoder reads at position k
        changed = tgt.clone()
        changed[:, k] = 4 + (changed[:, k] - 3) % 7  # another ordinary token
        new, _ = model(src, changed)
        torch.testing.assert_close(new[:, :k], logits[:, :k], rtol=0, atol=ATOL)
        assert (new[:, k] - logits[:, k]).abs().amax(-1).min() > 1e-3  # every row's changes


def test_the_encoder_sees_the_whole_source_and_its_order():
    model = model64(seed=3)
    tgt = torch.tensor([[2, 5, 6, 3]])
    logits, _ = model(torch.tensor([[4, 5, 6, 7, 3]]), tgt)
    swapped, _ = model(torch.tensor([[5, 4, 6, 7, 3]]), tgt)  # same words, another order
    assert (swapped - logits).abs().amax() > 1e-3  # the positions tell the two apart
    last, _ = model(torch.tensor([[4, 5, 6, 8, 3]]), tgt)  # no causal mask on the source
    assert (last[0, 0] - logits[0, 0]).abs().amax() > 1e-3


def test_decode_step_equals_teacher_forcing():
    model = model64(seed=4)
    src, tgt = batch(random_examples(4, seed=4))
    logits, _ = model(src, tgt)  # (B, T-1, V)
    state = model.encode(src)
    for t in range(tgt.size(1) - 1):
        step, state = model.decode_step(tgt[:, t], state)  # (B, V)
        torch.testing.assert_close(step, logits[:, t], rtol=0, atol=ATOL)


def test_the_cache_changes_no_token_of_greedy_or_beam_search():
    cached = model64(seed=9, ending=True)
    rereading = RereadingEnding(cached.config).double().eval()
    rereading.load_state_dict(cached.state_dict())
    src, _ = batch(random_examples(8, seed=9))
    greedy = greedy_decode(cached, src, max_len=12)
    assert len({len(g) for g in greedy}) > 1 and len({tuple(g) for g in greedy}) > 4
    assert greedy_decode(rereading, src, max_len=12) == greedy
    beams = beam_search(cached, src, beam_size=3, max_len=12, return_all=True)
    reference = beam_search(rereading, src, beam_size=3, max_len=12, return_all=True)
    assert_same_beams(beams, reference)
    plain = PlainEnding(cached.config).double().eval()  # cached_step, the cat-grown cache
    plain.load_state_dict(cached.state_dict())
    assert greedy_decode(plain, src, max_len=12) == greedy
    plain_beams = beam_search(plain, src, beam_size=3, max_len=12, return_all=True)
    assert_same_beams(beams, plain_beams)


def test_fast_step_past_its_first_room_in_greedy_and_beam_search():
    cached = model64(seed=12, max_len=40)  # no push to <eos>: outputs past 16 positions
    rereading = Rereading(cached.config).double().eval()
    rereading.load_state_dict(cached.state_dict())
    src, _ = batch(random_examples(4, seed=12))
    greedy = greedy_decode(cached, src, max_len=30)
    assert max(len(g) for g in greedy) > 16
    assert greedy_decode(rereading, src, max_len=30) == greedy
    beams = beam_search(cached, src, beam_size=3, max_len=30, return_all=True)
    reference = beam_search(rereading, src, beam_size=3, max_len=30, return_all=True)
    assert_same_beams(beams, reference)


def test_the_cache_in_float32_and_past_max_len():
    model = model64(seed=10, max_len=6).float()
    src, tgt = batch(random_examples(5, seed=10, longest=4))
    logits, _ = model(src, tgt)
    state = model.encode(src)
    for t in range(tgt.size(1) - 1):
        step, state = model.decode_step(tgt[:, t], state)
        torch.testing.assert_close(step, logits[:, t], rtol=1e-5, atol=1e-5)
    prev = tgt[:, 0]
    for _ in range(6 - state["read"].size(1)):
        _, state = model.decode_step(prev, state)
    with pytest.raises(ValueError, match="the target has 7 positions but config.max_len=6"):
        model.decode_step(prev, state)


def test_beam_of_one_is_greedy_and_greedy_follows_the_argmax():
    model = model64(seed=5, ending=True)
    src, _ = batch(random_examples(8, seed=5))
    greedy = greedy_decode(model, src, max_len=10)
    assert beam_search(model, src, beam_size=1, max_len=10) == greedy
    for i, ids in enumerate(greedy):  # teacher-forcing the greedy output: its argmaxes are it
        tgt = torch.tensor([[2] + ids + [3]])
        state = model.encode(src[i : i + 1])
        for t, expected in enumerate(ids + ([3] if len(ids) < 10 else [])):
            step, state = model.decode_step(tgt[:, t], state)
            assert int(step.argmax()) == expected


def test_loss_is_the_mean_over_real_targets_and_ignores_extra_padding():
    model = model64(seed=6)
    src, tgt = batch(random_examples(6, seed=6))
    logits, loss = model(src, tgt)
    real = tgt[:, 1:] != 1
    log_p = logits.log_softmax(-1).gather(-1, tgt[:, 1:, None])[..., 0]  # (B, T-1)
    torch.testing.assert_close(loss, -log_p[real].mean(), rtol=0, atol=ATOL)
    more_src = torch.cat([src, torch.ones(6, 4, dtype=torch.long)], 1)
    more_tgt = torch.cat([tgt, torch.ones(6, 3, dtype=torch.long)], 1)
    _, padded_loss = model(more_src, more_tgt)
    torch.testing.assert_close(padded_loss, loss, rtol=0, atol=ATOL)


def test_cross_attention_rows_sum_to_one_and_the_mode_is_restored():
    model = model64(seed=7, dropout=0.3).train()
    src, tgt = batch(random_examples(3, seed=7))
    w = cross_attention_weights(model, src, tgt)
    assert w.shape == (3, 2, 2, tgt.size(1) - 1, src.size(1))  # (B, layers, heads, T-1, S)
    assert model.training and not w.requires_grad
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1], dtype=torch.float64))
    torch.testing.assert_close(cross_attention_weights(model, src, tgt), w, rtol=0, atol=0)
    a, _ = model(src, tgt)  # training mode: dropout makes two passes differ
    b, _ = model(src, tgt)
    assert not torch.allclose(a, b)


def test_errors_name_the_bad_input():
    model = model64(max_len=8)
    src, tgt = batch(random_examples(2, seed=8, longest=4))
    with pytest.raises(ValueError, match=r"must start with <bos> \(id 2\), got first ids \[5, 2\]"):
        model(src, torch.cat([torch.tensor([[5], [2]]), tgt[:, 1:]], 1))
    with pytest.raises(ValueError, match=r"at least <bos> and <eos>, got shape \(2, 1\)"):
        model(src, tgt[:, :1])
    with pytest.raises(ValueError, match="same number of sentences, got 2 and 1"):
        model(src, tgt[:1])
    with pytest.raises(ValueError, match="source row 1 is all <pad> "):
        model(torch.tensor([[4, 3], [1, 1]]), tgt)
    with pytest.raises(ValueError, match="padded on the right only"):
        model(torch.tensor([[4, 3], [1, 3]]), tgt)
    with pytest.raises(ValueError, match="the source has 9 positions but config.max_len=8"):
        model(torch.full((2, 9), 4), tgt)
    with pytest.raises(TypeError, match=r"src must be a \(B, S\) LongTensor"):
        model.encode(src.double())


# --- training ----------------------------------------------------------------------------


def test_a_tiny_model_learns_to_reverse_sequences():
    rng = random.Random(0)
    examples = []
    for _ in range(12):
        words = [rng.randrange(4, 12) for _ in range(rng.randint(2, 5))]
        examples.append((words + [3], [2] + words[::-1] + [3]))
    src, tgt = batch(examples)
    torch.manual_seed(0)
    model = TransformerSeq2Seq(config(src_vocab_size=12, tgt_vocab_size=12))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):  # 1.3 s of CPU; below 0.1 after 37 to 54 steps with torch seeds 0 to 5
        _, loss = model(src, tgt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1
    assert greedy_decode(model, src, max_len=8) == [t[1:-1] for _, t in examples]


def test_trains_on_the_translation_corpus_with_chapter_4s_batches():
    pairs = [(p.en, p.fr) for p in translation_pairs("train", 48)]
    src_vocab = build_vocab(s for s, _ in pairs)
    tgt_vocab = build_vocab(t for _, t in pairs)
    examples = encode_pairs(pairs, src_vocab, tgt_vocab)
    pads = dict(src_pad=src_vocab.stoi[PAD], tgt_pad=tgt_vocab.stoi[PAD])
    torch.manual_seed(0)
    c = TransformerConfig.from_vocabs(src_vocab, tgt_vocab, d_model=16, n_heads=2, dropout=0.0)
    model = TransformerSeq2Seq(c).double()
    # a mixed-length batch: each sentence's logits are those it gets alone
    src, tgt = next(iter(LengthBatches(examples[:6], 6, shuffle=False, by_length=False, **pads)))
    model.eval()
    logits, loss = model(src, tgt)
    # embeddings at std 1/√d_model, tied: the first loss is about that of a uniform guess
    assert abs(loss.item() - math.log(len(tgt_vocab))) < 1.0
    for i, (s, t) in enumerate(examples[:6]):
        alone, _ = model(torch.tensor([s]), torch.tensor([t]))
        torch.testing.assert_close(logits[i, : len(t) - 1], alone[0], rtol=0, atol=ATOL)
    batches = LengthBatches(examples, 16, shuffle=True, seed=0, **pads)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = train(model, batches, optimizer, steps=15, device="cpu", log_every=5, progress=False)
    assert history[-1]["loss"] < history[0]["loss"] - 0.5
