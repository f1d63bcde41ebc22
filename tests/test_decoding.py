"""Tests of lmbook.decoding: greedy and beam search, sequence scores, translate, and
sampling from a language model (temperature, top-k, top-p)."""

import doctest
import itertools
import math
from types import SimpleNamespace

import pytest
import torch

from lmbook import decoding
from lmbook.decoding import (
    Hypothesis,
    beam_search,
    greedy_decode,
    sample_next,
    select,
    sequence_log_probs,
    top_k_filter,
    top_p_filter,
    translate,
)
from lmbook.seq2seq import BOS, EOS, PAD, UNK, Seq2Seq, Seq2SeqConfig, build_vocab, pad
from lmbook.text import Vocab

EOS_ID = 3  # the configs below follow build_vocab: unk 0, pad 1, bos 2, eos 3


# Tiny models run fastest on one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


class Ending(Seq2Seq):
    """A Seq2Seq whose <eos> grows likelier at every step, so random models end at varied lengths.

    It also keeps a state tensor of its own ("t"), as chapter 5's subclass will: decoding
    must carry it along with the rest of the state.
    """

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        t = torch.zeros(src.size(0), dtype=torch.float64)  # (B,) steps taken
        return {**super().encode(src), "t": t}

    def decode_step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        logits, state = super().decode_step(prev, state)
        t = state["t"] + 1
        logits = logits + 0.4 * t[:, None] * (torch.arange(logits.size(1)) == EOS_ID)
        return logits, {**state, "t": t}


def random_model(seed: int, tgt_vocab_size: int = 9, **overrides) -> Seq2Seq:
    """An untrained float64 encoder–decoder, weights doubled so that its choices vary."""
    torch.manual_seed(seed)
    sizes = dict(src_vocab_size=11, src_pad_id=1, tgt_pad_id=1, bos_id=2, eos_id=EOS_ID)
    sizes.update(n_embd=8, n_hidden=12, n_layers=2)
    model = Ending(Seq2SeqConfig(tgt_vocab_size=tgt_vocab_size, **(sizes | overrides)))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
        model.decoder.out.bias[EOS_ID] -= 2.0
    return model.double().eval()


def random_sources(seed: int, n: int = 8, longest: int = 7) -> torch.Tensor:
    """n padded sources of random lengths 1..longest, each ending in <eos>."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, longest + 1, (n,), generator=g).tolist()
    return pad([torch.randint(4, 11, (k,), generator=g).tolist() + [EOS_ID] for k in lengths], 1)


class Bigram:
    """A toy decodable model, not an nn.Module: p(next | prev) from a table, source ignored."""

    def __init__(self, probs: dict[int, dict[int, float]], vocab_size: int = 8) -> None:
        table = torch.full((vocab_size, vocab_size), 1e-6, dtype=torch.float64)
        for prev, row in probs.items():
            for token, p in row.items():
                table[prev, token] = p
        self.log_p = (table / table.sum(1, keepdim=True)).log()
        self.config = SimpleNamespace(bos_id=2, eos_id=EOS_ID)
        self.calls = 0

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"src": src}  # (B, S): batch in dim 0, like every state

    def decode_step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        self.calls += 1
        return self.log_p[prev], state


def log_prob(hypothesis: Hypothesis, model, src_row: torch.Tensor) -> float:
    """log p of a hypothesis, recomputed by sequence_log_probs (<eos> counted if finished)."""
    tokens = hypothesis.tokens + [EOS_ID] * hypothesis.finished
    return sequence_log_probs(model, src_row[None], [tokens])[0]


# --- greedy search ------------------------------------------------------------------


def test_greedy_follows_the_argmax_and_stops_at_eos():
    model = Bigram({2: {5: 0.6, 6: 0.4}, 5: {6: 0.9}, 6: {EOS_ID: 0.7, 5: 0.3}})
    src = torch.tensor([[4, EOS_ID], [5, EOS_ID]])
    assert greedy_decode(model, src, max_len=50) == [[5, 6], [5, 6]]
    assert model.calls == 3  # stopped as soon as every row had ended
    assert greedy_decode(model, src, max_len=1) == [[5], [5]]  # cut short: no <eos>


def test_greedy_rows_end_independently_in_a_padded_batch():
    model = random_model(0)
    src = random_sources(0, n=10)
    batch = greedy_decode(model, src, max_len=12)
    assert len({len(h) for h in batch}) > 2  # the rows do end at different steps
    for i, row in enumerate(src):
        alone = greedy_decode(model, row[row != 1][None], max_len=12)[0]
        assert batch[i] == alone
        assert EOS_ID not in alone


def test_decoding_restores_the_training_mode_and_ignores_dropout():
    model = random_model(1, dropout=0.5).train()
    src = random_sources(1)
    first = greedy_decode(model, src)
    assert model.training  # restored
    assert greedy_decode(model, src) == first == greedy_decode(model.eval(), src)
    assert beam_search(model.train(), src, 3) == beam_search(model.eval(), src, 3)


# --- beam search --------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_beam_search_with_one_beam_is_greedy_search(seed):
    model = random_model(seed)
    src = random_sources(seed)
    greedy = greedy_decode(model, src, max_len=10)
    assert beam_search(model, src, beam_size=1, max_len=10) == greedy
    assert beam_search(model, src, beam_size=1, max_len=10, length_penalty=0) == greedy


def test_beam_search_finds_what_greedy_misses():
    # greedy takes 5 (0.5) then must end with p 0.3: 0.15; "6 <eos>" has p 0.4 * 0.9 = 0.36
    model = Bigram({2: {5: 0.5, 6: 0.4, EOS_ID: 0.1}, 5: {EOS_ID: 0.3, 4: 0.25, 7: 0.25, 0: 0.2}})
    model.log_p[6] = torch.tensor([0.02, 0.02, 0.02, 0.9, 0.01, 0.01, 0.01, 0.01]).log()
    src = torch.tensor([[4, EOS_ID]])
    assert greedy_decode(model, src) == [[5]]
    best = beam_search(model, src, beam_size=2, length_penalty=0, return_all=True)[0]
    assert best[0].tokens == [6] and best[0].log_prob == pytest.approx(math.log(0.36), rel=1e-4)
    assert best[1].tokens == [5] and best[1].log_prob == pytest.approx(math.log(0.15), rel=1e-4)


def test_beam_search_can_lose_to_greedy():
    # Greedy's path "5 4 <eos>" has p 0.4 * 0.35 = 0.14. Beam search with K = 2 keeps
    # "6 0" and "6 1" (0.175 each) at step 2 and prunes "5 4"; both then end with
    # p 0.105. K = 2 is no guarantee, which is why the tests check optimality only with
    # an exhaustive beam.
    model = Bigram(
        {
            2: {5: 0.4, 6: 0.35, 7: 0.25},
            5: {4: 0.35, 0: 0.33, 1: 0.32},
            4: {EOS_ID: 1.0},
            6: {0: 0.5, 1: 0.5},
            7: {EOS_ID: 0.5, 0: 0.5},
            0: {EOS_ID: 0.6, 1: 0.4},
            1: {EOS_ID: 0.6, 0: 0.4},
        }
    )
    src = torch.tensor([[4, EOS_ID]])
    greedy = greedy_decode(model, src)[0]
    assert greedy == [5, 4]
    greedy_log_p = sequence_log_probs(model, src, [greedy + [EOS_ID]])[0]
    assert greedy_log_p == pytest.approx(math.log(0.14), rel=1e-4)
    beam = beam_search(model, src, beam_size=2, length_penalty=0, return_all=True)[0]
    assert sorted(h.tokens for h in beam) == [[6, 0], [6, 1]]  # equally likely
    assert beam[0].log_prob == pytest.approx(math.log(0.105), rel=1e-4)
    assert beam_search(model, src, beam_size=3, length_penalty=0) == [[5, 4]]


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_an_exhaustive_beam_finds_the_most_probable_target(length_penalty):
    # 4 target ids (3 that are not <eos>) and 4 steps: 40 targets end in <eos> and 81
    # are cut off; a beam of 128 keeps every prefix, so beam search is exact search.
    model = random_model(5, tgt_vocab_size=4)
    src = random_sources(5, n=3)
    found = beam_search(model, src, 128, max_len=4, length_penalty=length_penalty, return_all=True)
    for i, hypotheses in enumerate(found):
        everything = [
            (list(p), True) for n in range(4) for p in itertools.product((0, 1, 2), repeat=n)
        ]
        everything += [(list(p), False) for p in itertools.product((0, 1, 2), repeat=4)]
        log_ps = sequence_log_probs(
            model,
            src[i : i + 1].expand(len(everything), -1),
            [t + [EOS_ID] * f for t, f in everything],
        )
        scores = [
            lp / (len(t) + f) ** length_penalty
            for (t, f), lp in zip(everything, log_ps, strict=True)
        ]
        assert len(hypotheses) == len(everything)
        best = max(range(len(everything)), key=scores.__getitem__)
        assert (hypotheses[0].tokens, hypotheses[0].finished) == everything[best]
        assert hypotheses[0].score == pytest.approx(scores[best], abs=1e-9)
        assert sorted(h.score for h in hypotheses) == pytest.approx(sorted(scores), abs=1e-9)
        # hence never worse than greedy search (here greedy's target ends within 4 steps)
        greedy = greedy_decode(model, src[i : i + 1], max_len=4)[0]
        if len(greedy) < 4 and length_penalty == 0:
            greedy_lp = sequence_log_probs(model, src[i : i + 1], [greedy + [EOS_ID]])[0]
            assert hypotheses[0].log_prob >= greedy_lp - 1e-12


def test_beam_search_scores_are_the_model_log_probabilities():
    model = random_model(2)
    src = random_sources(2, n=6)
    for length_penalty in (0.0, 0.6, 1.0):
        found = beam_search(model, src, 4, 12, length_penalty, return_all=True)
        for i, hypotheses in enumerate(found):
            assert 1 <= len(hypotheses) <= 4
            assert [h.score for h in hypotheses] == sorted(
                (h.score for h in hypotheses), reverse=True
            )
            for h in hypotheses:
                assert h.log_prob == pytest.approx(log_prob(h, model, src[i]), abs=1e-9)
                length = len(h.tokens) + h.finished
                assert h.score == pytest.approx(h.log_prob / length**length_penalty, abs=1e-12)
                assert EOS_ID not in h.tokens
        best = beam_search(model, src, 4, 12, length_penalty)
        assert best == [hypotheses[0].tokens for hypotheses in found]


def test_beam_search_with_four_beams_mostly_beats_greedy_on_random_models():
    # Not a guarantee (see test_beam_search_can_lose_to_greedy), but on 40 sentences of
    # random models beam search mostly finds a more probable target than greedy's.
    wins = losses = 0
    for seed in range(5):
        model = random_model(seed)
        src = random_sources(seed)
        greedy = greedy_decode(model, src, max_len=20)
        beam = beam_search(model, src, 4, 20, length_penalty=0, return_all=True)
        greedy_lps = sequence_log_probs(model, src, [g + [EOS_ID] for g in greedy])
        for g, hypotheses, g_lp in zip(greedy, beam, greedy_lps, strict=True):
            assert len(g) < 20 and hypotheses[0].finished
            wins += hypotheses[0].log_prob > g_lp + 1e-9
            losses += hypotheses[0].log_prob < g_lp - 1e-9
    assert wins >= 30 and losses <= 2


def test_beam_search_is_the_same_alone_and_in_a_padded_batch():
    model = random_model(3)
    src = random_sources(3, n=8)
    batch = beam_search(model, src, 3, 12, return_all=True)
    for i, row in enumerate(src):
        alone = beam_search(model, row[row != 1][None], 3, 12, return_all=True)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batch[i]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batch[i]], abs=1e-12)


def test_beam_larger_than_the_vocabulary_still_works():
    model = random_model(4, tgt_vocab_size=5)
    src = random_sources(4, n=3)
    found = beam_search(model, src, beam_size=12, max_len=6, return_all=True)
    for i, hypotheses in enumerate(found):
        assert all(math.isfinite(h.score) for h in hypotheses)
        assert len({tuple(h.tokens) for h in hypotheses}) == len(hypotheses)  # no duplicates
        for h in hypotheses:
            assert h.log_prob == pytest.approx(log_prob(h, model, src[i]), abs=1e-9)


def test_select_reorders_and_copies_every_tensor_along_dim_0():
    state = {"hidden": torch.arange(6).view(3, 1, 2), "context": torch.arange(3)}
    picked = select(state, torch.tensor([2, 2, 0]))
    assert picked["context"].tolist() == [2, 2, 0]
    assert picked["hidden"][:, 0, 0].tolist() == [4, 4, 0]


# --- errors --------------------------------------------------------------------------


def test_decoding_errors():
    model = random_model(0)
    src = random_sources(0, n=2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="beam_size must be an int >= 1"):
            beam_search(model, src, beam_size=bad)
        with pytest.raises(ValueError, match="max_len must be an int >= 1"):
            greedy_decode(model, src, max_len=bad)
    with pytest.raises(ValueError, match="length_penalty must be a number >= 0, got -1"):
        beam_search(model, src, length_penalty=-1)
    with pytest.raises(TypeError, match=r"src must be a \(B, S\) LongTensor"):
        greedy_decode(model, src.float())
    with pytest.raises(TypeError, match=r"src must be a \(B, S\) LongTensor"):
        greedy_decode(model, src[0])
    with pytest.raises(TypeError, match="config.bos_id and config.eos_id"):
        greedy_decode(SimpleNamespace(encode=None, decode_step=None), src)
    with pytest.raises(ValueError, match="3 targets for 2 sources"):
        sequence_log_probs(model, src, [[4], [5], [6]])


# --- translate ---------------------------------------------------------------------

PAIRS = [
    (["the", "cat", "sleeps", "."], ["le", "chat", "dort", "."]),
    (["a", "dog", "runs", "."], ["un", "chien", "court", "."]),
]


def vocabs_and_model(seed: int = 0):
    src_vocab = build_vocab(s for s, _ in PAIRS)
    tgt_vocab = build_vocab(t for _, t in PAIRS)
    torch.manual_seed(seed)
    config = Seq2SeqConfig.from_vocabs(src_vocab, tgt_vocab, n_embd=8, n_hidden=16)
    return src_vocab, tgt_vocab, Seq2Seq(config)


def test_translate_maps_unknown_words_to_unk_and_returns_plain_tokens():
    src_vocab, tgt_vocab, model = vocabs_and_model()
    seen = []
    encode = model.encode
    model.encode = lambda src: seen.append(src) or encode(src)
    for beam_size in (1, 3):
        out = translate(model, "The zebra sleeps!", src_vocab, tgt_vocab, beam_size=beam_size)
        assert isinstance(out, list) and all(isinstance(t, str) for t in out)
        assert not {BOS, EOS, PAD} & set(out)
    unk, eos = src_vocab.stoi[UNK], src_vocab.stoi[EOS]
    assert seen[0].tolist() == [[src_vocab.stoi["the"], unk, src_vocab.stoi["sleeps"], unk, eos]]


class Scripted:
    """A toy decodable model that says the same tokens whatever the source."""

    def __init__(self, script: list[int], vocab_size: int) -> None:
        self.script, self.vocab_size = script, vocab_size
        self.config = SimpleNamespace(bos_id=2, eos_id=EOS_ID)

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"t": torch.zeros(src.size(0), dtype=torch.long)}  # (B,) steps taken

    def decode_step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        t = state["t"]
        logits = torch.zeros(len(t), self.vocab_size)
        logits[
            torch.arange(len(t)), torch.tensor(self.script)[t.clamp(max=len(self.script) - 1)]
        ] = 10.0
        return logits, {"t": t + 1}


def test_translate_drops_special_tokens_from_the_output():
    src_vocab, tgt_vocab, _ = vocabs_and_model()
    s = tgt_vocab.stoi
    model = Scripted([s[BOS], s["le"], s[PAD], s["chat"], s[UNK], s[EOS]], len(tgt_vocab))
    for beam_size in (1, 2):
        out = translate(model, "the cat", src_vocab, tgt_vocab, beam_size=beam_size)
        assert out == ["le", "chat", UNK]  # <unk> stays: it says a word is missing


def test_translate_rejects_empty_and_non_string_input():
    src_vocab, tgt_vocab, model = vocabs_and_model()
    for empty in ("", "   \n\t "):
        with pytest.raises(ValueError, match="holds no words to translate"):
            translate(model, empty, src_vocab, tgt_vocab)
    with pytest.raises(TypeError, match="sentence must be a str, got list"):
        translate(model, ["the", "cat"], src_vocab, tgt_vocab)


def test_translate_rejects_vocabularies_that_do_not_fit_the_model():
    src_vocab, tgt_vocab, model = vocabs_and_model()
    other = build_vocab([["der", "hund"]])
    with pytest.raises(
        ValueError, match="model.config.tgt_vocab_size is 11 but the vocabularies give 6"
    ):
        translate(model, "the cat", src_vocab, other)
    with pytest.raises(ValueError, match="model.config.src_vocab_size is 11 but the vocab"):
        translate(model, "the cat", other, tgt_vocab)
    # the same words, but <pad> and <bos> swapped: the ids no longer fit the model
    swapped = Vocab([w for s, _ in PAIRS for w in s], specials=(BOS, PAD, EOS))
    assert len(swapped) == len(src_vocab)
    with pytest.raises(
        ValueError, match="model.config.src_pad_id is 1 but the vocabularies give 2"
    ):
        translate(model, "the cat", swapped, tgt_vocab)


# --- sampling from a language model ------------------------------------------------------


def test_sampling_doctests():
    assert doctest.testmod(decoding).failed == 0


def test_top_k_filter_keeps_the_k_largest_of_each_row_and_ties_at_the_boundary():
    logits = torch.randn(5, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for k in (1, 3, 9):
        kept = top_k_filter(logits, k).isfinite()  # (5, 9)
        expected = torch.zeros_like(kept).scatter(1, logits.topk(k, -1).indices, True)
        assert torch.equal(kept, expected)
    assert torch.equal(top_k_filter(logits, 20), logits)  # k > V keeps every token
    ties = torch.tensor([1.0, 2.0, 2.0, 0.0])
    assert top_k_filter(ties, 2).isfinite().tolist() == [False, True, True, False]
    assert top_k_filter(ties, 1).isfinite().tolist() == [False, True, True, False]


def test_top_k_sampling_never_leaves_the_k_largest():
    logits = torch.tensor([0.3, 2.0, -1.0, 1.5, 0.0, 1.0], dtype=torch.float64)
    draws = sample_next(
        logits.expand(4000, 6), top_k=3, generator=torch.Generator().manual_seed(0)
    )  # (4000,)
    assert set(draws.tolist()) == {1, 3, 5}  # all three are drawn, nothing else
    freq = torch.bincount(draws, minlength=6).double() / 4000
    expected = torch.zeros(6, dtype=torch.float64)
    expected[[1, 3, 5]] = logits[[1, 3, 5]].softmax(-1)  # renormalised over the k kept
    torch.testing.assert_close(freq, expected, rtol=0, atol=0.03)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_top_p_filter_keeps_the_smallest_set_that_reaches_p(dtype):
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=dtype)
    logits = probs.log()

    def kept(p, x=logits):
        return top_p_filter(x, p).isfinite().tolist()

    assert kept(0.8) == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8 exactly
    assert kept(0.81) == [True, True, True, False]
    assert kept(0.5) == [True, False, False, False]
    assert kept(1e-9) == [True, False, False, False]  # the top token always stays
    assert kept(1.0) == [True] * 4
    order = torch.tensor([2, 0, 3, 1])  # the same distribution, shuffled
    assert kept(0.8, logits[order]) == [False, True, False, True]
    rows = torch.stack([logits, logits.flip(0)])  # (2, 4): each row on its own
    assert top_p_filter(rows, 0.8).isfinite().tolist() == [
        [True, True, False, False],
        [False, False, True, True],
    ]


def test_top_p_sampling_never_leaves_the_nucleus():
    logits = torch.tensor([0.05, 0.5, 0.15, 0.3], dtype=torch.float64).log()
    generator = torch.Generator().manual_seed(0)
    draws = sample_next(logits.expand(4000, 4), top_p=0.8, generator=generator)
    assert set(draws.tolist()) == {1, 3}
    assert (draws == 1).double().mean().item() == pytest.approx(0.5 / 0.8, abs=0.03)
    both = sample_next(logits.expand(4000, 4), top_k=3, top_p=0.6, generator=generator)
    assert set(both.tolist()) == {1, 3}  # top-k first (3 kept), then the nucleus of those


def test_a_tiny_temperature_is_the_argmax_and_a_large_one_is_uniform():
    logits = torch.randn(200, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for temperature in (1e-6, 1e-300):  # no overflow: the logits are shifted first
        assert torch.equal(sample_next(logits, temperature=temperature), logits.argmax(-1))
    assert torch.equal(sample_next(logits, top_k=1), logits.argmax(-1))  # greedy
    row = torch.tensor([3.0, 0.0, -3.0])
    hot = sample_next(row.expand(3000, 3), temperature=1e6, generator=torch.Generator())
    freq = torch.bincount(hot, minlength=3) / 3000
    torch.testing.assert_close(freq, torch.full((3,), 1 / 3), rtol=0, atol=0.04)


def test_sample_next_shapes_and_seeding():
    logits = torch.randn(2, 3, 5)
    assert sample_next(logits).shape == (2, 3)
    one = sample_next(logits[0, 0])
    assert one.shape == () and one.dtype == torch.long
    a = sample_next(logits, generator=torch.Generator().manual_seed(5))
    b = sample_next(logits, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_sampling_errors():
    logits = torch.randn(4)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="top_k must be an int >= 1"):
            sample_next(logits, top_k=bad)
        with pytest.raises(ValueError, match="k must be an int >= 1"):
            top_k_filter(logits, bad)
    for bad in (0, -0.1, 1.5, True, float("nan")):
        with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\]"):
            sample_next(logits, top_p=bad)
        with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\]"):
            top_p_filter(logits, bad)
    with pytest.raises(ValueError, match="got 0; for greedy decoding use top_k=1"):
        sample_next(logits, temperature=0)
    for bad in (-1.0, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            sample_next(logits, temperature=bad)
    with pytest.raises(TypeError, match="logits must be a float tensor, got torch.int64"):
        sample_next(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="logits must be a float tensor"):
        sample_next(torch.tensor(1.0))
