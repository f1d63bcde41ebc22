"""Tests of lmbook.transformer: the GPT's blocks, causal masking, weight tying, the KV
cache against plain recomputation, sliding-window scoring, and parameter/FLOP counts."""

import doctest
import math
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from lmbook import transformer
from lmbook.attention import MultiHeadAttention, causal_mask
from lmbook.decoding import sample_next
from lmbook.transformer import (
    GPT,
    MLP,
    Block,
    Cache,
    CausalSelfAttention,
    GPTConfig,
    nats_per_char,
)

ATOL = 1e-10  # float64 throughout: the same maths in another order agrees far below 1e-6
TINY = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)


# Tiny models run fastest on one thread (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(seed: int = 0, **overrides) -> GPT:
    """An untrained float64 GPT, weights scaled up so that its logits differ clearly."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**(TINY | overrides))).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2 and "pos_emb" not in name:
                p.mul_(20.0)
    return model


def random_ids(*shape: int, seed: int = 0, high: int = 11) -> torch.Tensor:
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed))


def test_doctests():
    assert doctest.testmod(transformer).failed == 0


# --- shapes and the model contract ------------------------------------------------------


def test_mlp_and_block_keep_the_shape_and_the_block_returns_its_cache():
    x = torch.randn(3, 5, 16)
    assert MLP(16)(x).shape == (3, 5, 16)
    assert [p.shape for p in MLP(16, bias=False).parameters()] == [(64, 16), (16, 64)]
    y, (k, v) = Block(GPTConfig(**TINY))(x)
    assert y.shape == (3, 5, 16)
    assert k.shape == v.shape == (3, 2, 5, 8)  # (B, n_head, T, d_k)


def test_forward_shapes_and_loss_is_the_mean_cross_entropy():
    model = tiny()
    idx, targets = random_ids(3, 7), random_ids(3, 7, seed=1)
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 7, 11)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 11), targets.flatten()))
    assert model(idx)[1] is None


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_changing_a_future_token_never_changes_earlier_logits(positions):
    model = tiny(positions=positions).eval()
    idx = random_ids(2, 16)
    logits, _ = model(idx)
    for t in range(15):
        changed = idx.clone()
        changed[:, t + 1 :] = (idx[:, t + 1 :] + 1 + t % 3) % 11  # a different future
        logits2, _ = model(changed)
        torch.testing.assert_close(logits2[:, : t + 1], logits[:, : t + 1], rtol=0, atol=ATOL)
        assert not torch.allclose(logits2[:, t + 1 :], logits[:, t + 1 :])


def test_positions_matter_and_sinusoidal_ones_are_a_buffer_not_saved():
    learned, fixed = tiny(), tiny(positions="sinusoidal")
    assert "pos_emb.weight" in learned.state_dict()
    assert not any("pos" in key for key in fixed.state_dict())
    assert fixed.pos_enc.dtype == torch.float64  # moved with .double(), like a parameter
    idx = torch.tensor([[3, 3, 3, 3]])  # the same token everywhere: only positions differ
    for model in (learned, fixed):
        logits, _ = model.eval()(idx)
        assert not torch.allclose(logits[0, 1], logits[0, 2])


# --- weight tying and initialisation -----------------------------------------------------


def test_tied_weights_are_one_tensor_and_stay_equal_after_a_step():
    model = tiny()
    assert model.lm_head.weight is model.tok_emb.weight
    assert sum(p is model.tok_emb.weight for p in model.parameters()) == 1  # counted once
    before = model.tok_emb.weight.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    _, loss = model(random_ids(2, 8), random_ids(2, 8, seed=1))
    loss.backward()
    optimizer.step()
    assert model.lm_head.weight is model.tok_emb.weight
    assert not torch.equal(model.tok_emb.weight, before)


def test_untied_weights_are_separate_and_learn_separately():
    model = tiny(tie_weights=False)
    assert model.lm_head.weight is not model.tok_emb.weight
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    with torch.no_grad():
        model.lm_head.weight.copy_(model.tok_emb.weight)
    _, loss = model(random_ids(2, 8), random_ids(2, 8, seed=1))
    loss.backward()
    optimizer.step()
    assert not torch.allclose(model.lm_head.weight, model.tok_emb.weight)


def test_gpt2_initialisation_scales_the_residual_projections():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, n_layer=8, n_embd=128))
    residual = 0.02 / math.sqrt(2 * 8)
    for block in model.blocks:
        assert block.attn.W_o.weight.std().item() == pytest.approx(residual, rel=0.1)
        assert block.mlp.proj.weight.std().item() == pytest.approx(residual, rel=0.1)
        assert block.mlp.fc.weight.std().item() == pytest.approx(0.02, rel=0.1)
        assert not block.attn.W_q.bias.any() and bool((block.ln_1.weight == 1).all())
    assert model.tok_emb.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert model.blocks[0].ln_1.bias is not None
    assert GPT(GPTConfig(**TINY, bias=False)).blocks[0].ln_1.bias is None


# --- attention: chapter 5's multi-head attention, and the cache ---------------------------


def test_causal_self_attention_equals_multi_head_attention_with_a_causal_mask():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).double().eval()
    attn = CausalSelfAttention(16, 4).double().eval()
    attn.load_state_dict(mha.state_dict())  # the same parameters, by the same names
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    expected, _ = mha(x, x, x, mask=causal_mask(9))
    y, (k, v) = attn(x)
    torch.testing.assert_close(y, expected, rtol=0, atol=ATOL)
    torch.testing.assert_close(k, attn._split_heads(attn.W_k(x)), rtol=0, atol=0)


def test_cached_attention_in_chunks_equals_one_pass():
    torch.manual_seed(1)
    attn = CausalSelfAttention(16, 2).double()  # training mode, dropout 0
    x = torch.randn(2, 10, 16, dtype=torch.float64)
    full, _ = attn(x)
    pieces, cache = [], None
    for a, b in [(0, 4), (4, 5), (5, 8), (8, 10)]:  # chunks of 4, 1, 3 and 2 positions
        y, cache = attn(x[:, a:b], cache)
        pieces.append(y)
    assert cache[0].shape == (2, 2, 10, 8)
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=0, atol=ATOL)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_step_logits_with_the_cache_equal_the_full_forward(positions):
    model = tiny(positions=positions).eval()
    idx = random_ids(2, 16)
    full, _ = model(idx)
    logits, caches = model.step(idx[:, :5])  # the prompt
    pieces = [logits]
    for t in range(5, 12):  # one token at a time
        logits, caches = model.step(idx[:, t : t + 1], caches)
        pieces.append(logits)
    logits, caches = model.step(idx[:, 12:], caches)  # 4 at once, after a cache
    pieces.append(logits)
    assert len(caches) == 2 and caches[1][0].shape == (2, 2, 16, 8)
    torch.testing.assert_close(torch.cat(pieces, 1), full, rtol=0, atol=ATOL)
    with pytest.raises(ValueError, match="16 cached \\+ 1 new = 17 exceeds block_size = 16"):
        model.step(idx[:, :1], caches)


# --- the cache: room allocated once, written in place ------------------------------------


def concatenating_step(model: GPT, idx: torch.Tensor, caches: list | None = None):
    """The KV cache as it was before issue 18: each layer's (k, v) grown by torch.cat."""
    start = 0 if caches is None else caches[0][0].size(2)
    x = model.embed(idx, start)
    grown = []
    for i, block in enumerate(model.blocks):
        attn, h = block.attn, block.ln_1(x)
        B, T, C = h.shape
        q, k, v = (
            w(h).view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
            for w in (attn.W_q, attn.W_k, attn.W_v)
        )
        if caches is not None:
            k, v = torch.cat([caches[i][0], k], dim=2), torch.cat([caches[i][1], v], dim=2)
        mask = torch.ones(T, k.size(2), dtype=torch.bool).tril(diagonal=k.size(2) - T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + attn.W_o(y.transpose(1, 2).reshape(B, T, C))
        x = x + block.mlp(block.ln_2(x))
        grown.append((k, v))
    return model.lm_head(model.ln_f(x)), grown


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_the_cache_gives_the_concatenating_caches_logits(positions):
    torch.manual_seed(0)  # float32, as generation runs
    model = GPT(GPTConfig(**(TINY | dict(positions=positions)))).eval()
    idx = random_ids(2, 16)
    chunks = [(0, 5)] + [(t, t + 1) for t in range(5, 12)] + [(12, 16)]  # prompt, 1s, 4
    caches = old = None
    with torch.no_grad():
        for a, b in chunks:
            logits, caches = model.step(idx[:, a:b], caches)
            expected, old = concatenating_step(model, idx[:, a:b], old)
            torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    assert [c.length for c in caches] == [16, 16]


def test_the_cache_is_allocated_once_and_written_in_place():
    model = tiny().eval()
    idx = random_ids(2, 16)
    _, caches = model.step(idx[:, :3])
    buffers = [(c.k.data_ptr(), c.v.data_ptr()) for c in caches]
    assert all(c.k.shape == (2, 2, 16, 8) for c in caches)  # room for block_size
    for t in range(3, 14):
        _, again = model.step(idx[:, t : t + 1], caches)
        assert again is caches  # the same caches, appended to
    _, caches = model.step(idx[:, 14:], caches)
    assert [(c.k.data_ptr(), c.v.data_ptr()) for c in caches] == buffers  # never moved
    k, v = caches[1]  # the keys and values so far, as views
    assert k.shape == v.shape == (2, 2, 16, 8) and k.data_ptr() == caches[1].k.data_ptr()
    attn, h = model.blocks[0].attn, model.blocks[0].ln_1(model.embed(idx))
    torch.testing.assert_close(caches[0][0], attn._split_heads(attn.W_k(h)), rtol=0, atol=ATOL)


def test_a_cache_without_room_grows_like_a_list():
    k = torch.randn(1, 2, 9, 4)
    cache = Cache()  # no room asked for: the first keys and values are kept as they are
    cache.append(k[:, :, :3], -k[:, :, :3])
    assert cache.k.size(2) == 3 and cache.k.data_ptr() == k.data_ptr()
    cache.append(k[:, :, 3:4], -k[:, :, 3:4])  # out of room: twice the positions held
    assert cache.k.size(2) == 8 and cache.length == 4
    keys, values = cache.append(k[:, :, 4:], -k[:, :, 4:])
    assert cache.k.size(2) == 18 and cache.length == 9
    torch.testing.assert_close(keys, k, rtol=0, atol=0)
    torch.testing.assert_close(values, -k, rtol=0, atol=0)


def test_the_cache_refuses_to_run_past_block_size():
    model = tiny().eval()
    _, caches = model.step(random_ids(1, 14))
    for check_ids in (True, False):  # the room is checked even when the ids are not read
        with pytest.raises(ValueError, match="14 cached \\+ 3 new = 17 exceeds block_size = 16"):
            model.step(random_ids(1, 3), caches, check_ids=check_ids)
    assert caches[0].length == 14  # nothing written
    _, caches = model.step(random_ids(1, 2), caches)  # exactly full is fine
    with pytest.raises(ValueError, match="16 cached \\+ 1 new = 17 exceeds block_size = 16"):
        model.step(random_ids(1, 1), caches, check_ids=False)
    with pytest.raises(TypeError, match="caches must be the Caches a previous step returned"):
        model.step(random_ids(1, 1), [(c.k, c.v) for c in caches])  # the old (k, v) pairs


def test_generation_reads_the_ids_once_and_runs_in_inference_mode():
    model = tiny()
    seen = []
    real_step = model.step

    def step(*args, **kwargs):
        seen.append(torch.is_inference_mode_enabled())
        return real_step(*args, **kwargs)

    with (
        mock.patch.object(torch, "aminmax", wraps=torch.aminmax) as reads,
        mock.patch.object(model, "step", side_effect=step),
    ):
        out = model.generate(random_ids(5), 20, use_cache=True)  # fills and slides
        assert reads.call_count == 1  # the prompt's range check: one read, not one a token
        assert len(out) == 20 and seen == [True] * 20
    with pytest.raises(ValueError, match="ids from 0 to 11"):
        model.generate([0, 11], 3)  # the prompt is checked


# --- generation ------------------------------------------------------------------------


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
@pytest.mark.parametrize(
    "sampling", [dict(top_k=1), dict(), dict(temperature=0.7, top_k=4, top_p=0.9)]
)
def test_generation_with_the_cache_equals_recomputation(positions, sampling):
    model = tiny(positions=positions)
    prompt = random_ids(5)
    # 30 new tokens after 5: the cache fills up, and the context then slides
    runs = [
        model.generate(
            prompt, 30, use_cache=use_cache, generator=torch.Generator().manual_seed(7), **sampling
        )
        for use_cache in (True, False)
    ]
    assert runs[0] == runs[1]
    assert len(runs[0]) == 30 and all(0 <= i < 11 for i in runs[0])
    assert model.training  # the mode is restored


def test_greedy_generation_follows_the_argmax_of_the_cropped_context():
    model = tiny().eval()
    prompt = random_ids(1, 12)  # a (1, T) prompt works like a 1-D one
    out = model.generate(prompt, 8, top_k=1)
    ids = prompt[0].tolist()
    for token in out:
        logits, _ = model(torch.tensor([ids[-16:]]))
        assert token == int(logits[0, -1].argmax())
        ids.append(token)
    assert model.generate(prompt, 0) == []


def test_generation_draws_with_sample_next_from_the_last_logits():
    model = tiny()
    prompt = [1, 2, 3]
    logits, _ = model.eval()(torch.tensor([prompt]))
    for seed in range(20):
        token = model.generate(prompt, 1, top_p=0.9, generator=torch.Generator().manual_seed(seed))
        expected = sample_next(
            logits[0, -1], top_p=0.9, generator=torch.Generator().manual_seed(seed)
        )
        assert token == [int(expected)]


# --- scoring a long text -----------------------------------------------------------------


def brute_force_nats(model: GPT, ids: list[int], stride: int) -> float:
    """Each prediction scored alone, from the context its window gives it."""
    ids = list(map(int, ids))
    L, N = model.config.block_size, len(ids) - 1
    ends = [min(L, N)]
    while ends[-1] < N:
        ends.append(min(ends[-1] + stride, N))
    total = 0.0
    for j in range(1, N + 1):  # predict ids[j]
        end = next(e for e in ends if e >= j)  # the first window that reaches it scores it
        start = max(0, end - L)
        logits, _ = model(torch.tensor([ids[start:j]]))
        total -= F.log_softmax(logits[0, -1], -1)[ids[j]].item()
    return total / N


@pytest.mark.parametrize(
    "n, stride, batch_size", [(40, 8, 32), (40, 1, 4), (41, 5, 2), (40, 16, 3), (9, 8, 1)]
)
def test_nats_per_token_equals_a_brute_force_computation(n, stride, batch_size):
    model = tiny()
    ids = random_ids(n, seed=3).tolist()
    got = model.nats_per_token(ids, batch_size=batch_size, stride=stride)
    assert got == pytest.approx(brute_force_nats(model.eval(), ids, stride), abs=1e-9)


def test_nats_per_token_defaults_and_restores_the_mode():
    model = tiny()
    ids = random_ids(50, seed=4)
    assert model.nats_per_token(ids) == pytest.approx(brute_force_nats(model.eval(), ids, 8))
    model.train()
    model.nats_per_token(ids)
    assert model.training
    # a text no longer than a window: the same as the loss of one forward pass
    _, loss = model(ids[None, :16], ids[None, 1:17])
    assert model.eval().nats_per_token(ids[:17]) == pytest.approx(loss.item(), abs=1e-12)
    with pytest.raises(ValueError, match="at least 2 ids"):
        model.nats_per_token([3])
    with pytest.raises(ValueError, match=r"stride must be an int in \[1, 16\], got 17"):
        model.nats_per_token(ids, stride=17)


# --- training ----------------------------------------------------------------------------


def test_a_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    idx = torch.randint(0, 11, (4, 17))
    x, y = idx[:, :-1], idx[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(150):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_dropout_acts_in_training_only():
    model = tiny(dropout=0.5)
    idx = random_ids(2, 8)
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    assert torch.equal(model(idx)[0], model(idx)[0])


# --- counts ------------------------------------------------------------------------------


def test_num_params_and_flops_per_token():
    tied, untied = tiny(), tiny(tie_weights=False)
    V, C, L, T = 11, 16, 2, 16
    unique = {id(p): p.numel() for p in tied.parameters()}  # a shared tensor once
    assert tied.num_params() == sum(unique.values())
    assert untied.num_params() == tied.num_params() + V * C
    # per block: 2 LayerNorms (2C each), attention 4(C² + C), MLP C·4C + 4C + 4C·C + C
    per_block = 4 * C + 4 * (C * C + C) + 8 * C * C + 5 * C
    assert tied.num_params(non_embedding=True) == L * per_block + 2 * C  # + ln_f
    assert tied.num_params() == L * per_block + 2 * C + V * C + T * C
    assert untied.num_params(non_embedding=True) == L * per_block + 2 * C + V * C
    sinusoidal = tiny(positions="sinusoidal")
    assert sinusoidal.num_params() == tied.num_params() - T * C
    N = L * per_block + 2 * C + V * C  # what multiplies a token: lm_head included
    assert tied.flops_per_token() == 6 * N + 12 * L * C * T
    assert untied.flops_per_token(T=4) == 6 * N + 12 * L * C * 4


# --- errors ------------------------------------------------------------------------------


def test_config_errors():
    with pytest.raises(
        ValueError, match=r"n_embd=10 is not divisible by n_head=4.*\[1, 2, 5, 10\]"
    ):
        GPTConfig(vocab_size=11, n_embd=10, n_head=4)
    with pytest.raises(ValueError, match="positions must be one of 'learned', 'sinusoidal'"):
        GPTConfig(vocab_size=11, positions="rotary")
    with pytest.raises(ValueError, match="n_embd must be even, got 9"):
        GPTConfig(vocab_size=11, n_embd=9, n_head=3, positions="sinusoidal")
    for name, bad in [("vocab_size", 0), ("block_size", 2.0), ("n_layer", True), ("n_head", -1)]:
        with pytest.raises(ValueError, match=f"{name} must be an int >= 1"):
            GPTConfig(**(dict(vocab_size=11) | {name: bad}))
    with pytest.raises(ValueError, match="dropout must be a number in \\[0, 1\\), got 1"):
        GPTConfig(vocab_size=11, dropout=1)
    with pytest.raises(TypeError, match="tie_weights must be True or False"):
        GPTConfig(vocab_size=11, tie_weights="yes")
    with pytest.raises(TypeError, match="config must be a GPTConfig"):
        GPT(dict(vocab_size=11))


def test_model_errors():
    model = tiny()
    with pytest.raises(ValueError, match="sequence length T = 17 exceeds block_size = 16"):
        model(random_ids(1, 17))
    with pytest.raises(ValueError, match="ids from 0 to 11; this model knows ids 0 … 10"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(TypeError, match=r"\(B, T\) LongTensor"):
        model(random_ids(5))
    with pytest.raises(ValueError, match="targets must have the shape of idx"):
        model(random_ids(2, 5), random_ids(2, 4))
    with pytest.raises(ValueError, match="the prompt has 17 ids, more than block_size = 16"):
        model.generate(random_ids(17), 1)
    with pytest.raises(ValueError, match="prompt is empty"):
        model.generate([], 1)
    with pytest.raises(ValueError, match="for greedy decoding use top_k=1"):
        model.generate([1, 2], 3, temperature=0)
    with pytest.raises(ValueError, match="top_p must be a number in \\(0, 1\\]"):
        model.generate([1, 2], 3, top_p=0)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0"):
        model.generate([1, 2], -1)
    with pytest.raises(TypeError, match="got a str"):
        model.generate("to be", 3)
    assert model.training


class PieceTokenizer:
    """A toy lossless tokenizer: the text cut into pieces of `width` characters."""

    def __init__(self, text, width):
        from lmbook.text import Vocab

        self.width = width
        self.vocab = Vocab(self.cut(text))

    def cut(self, text):
        return [text[i : i + self.width] for i in range(0, len(text), self.width)]

    def encode(self, text):
        return self.vocab.encode(self.cut(text))

    def decode(self, ids):
        return "".join(self.vocab.decode(ids))


def test_nats_per_char_sums_the_tokens_nats_over_their_characters():
    text = "Now is the winter of our discontent\nMade glorious summer by this sun of York;"
    torch.manual_seed(0)
    for width in (1, 2):  # characters: nats per char is nats per token; pairs: half
        tok = PieceTokenizer(text, width)
        model = GPT(GPTConfig(len(tok.vocab), block_size=16, n_layer=1, n_head=2, n_embd=16))
        ids = tok.encode(text)
        total = model.nats_per_token(ids) * (len(ids) - 1)  # the first token unscored
        found = nats_per_char(model, text, tok.encode, tok.decode)
        assert found == pytest.approx(total / (len(text) - width), rel=1e-6)
    with pytest.raises(ValueError, match="does not spell the text back"):
        nats_per_char(model, text.upper(), tok.encode, tok.decode)
    with pytest.raises(TypeError, match="model must be a GPT"):
        nats_per_char(tok, text, tok.encode, tok.decode)
