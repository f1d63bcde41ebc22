"""lmbook.compress: sizes, latency, int8 quantization, pruning, distillation."""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmbook.compress import (
    Distiller,
    distillation_loss,
    latency_per_token,
    model_size_bytes,
    prune_linear,
    quantize_int8,
    sparsity,
)
from lmbook.training import RandomWindows, param_groups, train
from lmbook.transformer import GPT, GPTConfig


def small_gpt(seed: int = 0, n_embd: int = 32, n_layer: int = 2) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=n_layer, n_head=2, n_embd=n_embd))


def test_model_size_is_four_bytes_a_parameter_and_compression_sees_zeros() -> None:
    model = small_gpt()
    size = model_size_bytes(model)
    n = model.num_params()  # the tied weight once: torch.save stores shared storage once
    assert 4 * n < size < 4 * n + 40_000  # plus pickle overhead per tensor
    pruned = prune_linear(model, 0.9)
    assert model_size_bytes(pruned) == size  # dense zeros still take 4 bytes
    assert model_size_bytes(pruned, compressed=True) < 0.6 * model_size_bytes(
        model, compressed=True
    )
    with pytest.raises(TypeError, match="torch.nn.Module"):
        model_size_bytes("model")


def test_quantize_int8_quantizes_untied_linears_only_and_stays_close() -> None:
    model = small_gpt()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning, deprecation or other, fails the test
        q = quantize_int8(model)
    assert isinstance(model.blocks[0].attn.W_q, nn.Linear)  # the original is unchanged
    layers = (q.blocks[0].attn.W_q, q.blocks[0].attn.W_o, q.blocks[1].mlp.fc, q.blocks[1].mlp.proj)
    assert all(type(m).__module__.endswith("quantized.dynamic.modules.linear") for m in layers)
    assert all(m.weight().dtype == torch.qint8 for m in layers)
    assert isinstance(q.lm_head, nn.Linear) and q.lm_head.weight is q.tok_emb.weight  # still tied
    idx = torch.randint(20, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact, approx = model(idx)[0], q(idx)[0]
    assert (exact - approx).abs().max() < 0.05 * exact.abs().max()
    assert model_size_bytes(q) < 0.6 * model_size_bytes(model)
    assert len(q.generate([1, 2, 3], 4, top_k=1)) == 4
    with pytest.raises(TypeError, match="torch.nn.Module"):
        quantize_int8(None)


def test_prune_linear_zeroes_the_smallest_weights_globally() -> None:
    model = small_gpt()
    pruned = prune_linear(model, 0.3)
    layers = [m for m in model.modules() if isinstance(m, nn.Linear) and m is not model.lm_head]
    everything = torch.cat([m.weight.abs().flatten() for m in layers])
    k = round(0.3 * everything.numel())
    threshold = everything.sort().values[k - 1]  # brute force: the k-th smallest |w|
    new = [m for m in pruned.modules() if isinstance(m, nn.Linear) and m is not pruned.lm_head]
    for old, now in zip(layers, new, strict=True):
        expected = torch.where(old.weight.abs() <= threshold, 0.0, old.weight)
        assert torch.equal(now.weight, expected)
    assert sparsity(pruned) == pytest.approx(k / everything.numel())
    assert sparsity(model) == 0.0  # the original is untouched
    assert pruned.lm_head.weight is pruned.tok_emb.weight  # the tie is kept, not pruned
    assert not any("orig" in k or "mask" in k for k in pruned.state_dict())  # made permanent
    assert torch.equal(pruned.blocks[0].mlp.fc.bias, model.blocks[0].mlp.fc.bias)


def test_prune_linear_per_layer_and_bad_arguments() -> None:
    model = small_gpt()
    pruned = prune_linear(model, 0.5, scope="layer")
    for m in pruned.modules():
        if isinstance(m, nn.Linear) and m is not pruned.lm_head:
            assert (m.weight == 0).float().mean().item() == pytest.approx(0.5)
    assert sparsity(prune_linear(model, 0.0)) == 0.0
    assert sparsity(prune_linear(model, 1.0)) == 1.0
    with pytest.raises(ValueError, match=r"amount must be a number in \[0, 1\]"):
        prune_linear(model, 50)
    with pytest.raises(ValueError, match="scope must be one of 'global', 'layer', got 'local'"):
        prune_linear(model, 0.5, scope="local")
    with pytest.raises(ValueError, match="no Linear layers"):
        sparsity(nn.Embedding(3, 2))


def test_distillation_loss_matches_a_float64_formula_and_kl_div() -> None:
    g = torch.Generator().manual_seed(0)
    s, t = (
        torch.randn(3, 5, 7, generator=g, dtype=torch.float64) * 2,
        torch.randn(3, 5, 7, generator=g, dtype=torch.float64) * 2,
    )
    y = torch.randint(7, (3, 5), generator=g)
    T, alpha = 2.5, 0.3
    p_t = (t / T).exp() / (t / T).exp().sum(-1, keepdim=True)  # softmax by hand
    p_s = (s / T).exp() / (s / T).exp().sum(-1, keepdim=True)
    kl = (p_t * (p_t.log() - p_s.log())).sum(-1).mean()  # per position, averaged
    log_q = s - s.exp().sum(-1, keepdim=True).log()
    ce = -log_q.gather(-1, y[..., None]).mean()
    expected = alpha * T**2 * kl + (1 - alpha) * ce
    assert distillation_loss(s, t, y, T, alpha).item() == pytest.approx(expected.item(), rel=1e-12)
    torch_kl = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="sum") / 15
    assert distillation_loss(s, t, y, T, alpha=1.0).item() == pytest.approx(
        T**2 * torch_kl.item(), rel=1e-12
    )
    assert distillation_loss(s, t, y, T, alpha=0.0).item() == pytest.approx(
        F.cross_entropy(s.flatten(0, 1), y.flatten()).item(), rel=1e-12
    )
    assert distillation_loss(s, s, y, T, alpha=1.0).abs().item() < 1e-12  # KL(p ‖ p) = 0


def test_t_squared_keeps_the_gradient_scale_at_high_temperature() -> None:
    # Hinton et al.: for large T, d(T² KL)/dz ≈ (z − v) / V per position (zero-mean logits).
    g = torch.Generator().manual_seed(0)
    N, V = 4, 6
    z = torch.randn(N, V, generator=g, dtype=torch.float64)
    v = torch.randn(N, V, generator=g, dtype=torch.float64)
    z, v = z - z.mean(-1, keepdim=True), v - v.mean(-1, keepdim=True)
    y = torch.zeros(N, dtype=torch.long)
    limit = (z - v) / (V * N)  # batchmean divides by N
    for T in (20.0, 50.0):
        z_ = z.clone().requires_grad_(True)
        distillation_loss(z_, v, y, temperature=T, alpha=1.0).backward()
        assert torch.allclose(z_.grad, limit, rtol=0, atol=0.05 * limit.abs().max())
    z_ = z.clone().requires_grad_(True)
    t_ = v.clone().requires_grad_(True)
    distillation_loss(z_, t_, y, temperature=20.0, alpha=1.0).backward()
    assert t_.grad is None  # the teacher's logits are a target


def test_distillation_loss_rejects_bad_arguments() -> None:
    s, y = torch.zeros(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="one shape"):
        distillation_loss(s, torch.zeros(2, 3, 6), y)
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 3\)"):
        distillation_loss(s, s, y[:, :2])
    with pytest.raises(ValueError, match="temperature must be a number > 0, got 0"):
        distillation_loss(s, s, y, temperature=0)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got 1.5"):
        distillation_loss(s, s, y, alpha=1.5)
    with pytest.raises(TypeError, match="tensors"):
        distillation_loss(s.tolist(), s, y)


def test_distiller_trains_the_student_only_with_train() -> None:
    teacher, student = small_gpt(seed=1, n_embd=32), small_gpt(seed=2, n_embd=16, n_layer=1)
    distiller = Distiller(student, teacher, temperature=2.0, alpha=0.7)
    idx = torch.randint(20, (2, 16), generator=torch.Generator().manual_seed(3))
    logits, loss = distiller(idx[:, :-1], idx[:, 1:])
    with torch.no_grad():
        expected = distillation_loss(
            student(idx[:, :-1])[0], teacher(idx[:, :-1])[0], idx[:, 1:], 2.0, 0.7
        )
    assert torch.equal(logits, student(idx[:, :-1])[0])  # the student's own logits
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert distiller(idx)[1] is None
    groups = param_groups(distiller, 0.1)
    in_optimizer = {id(p) for g in groups for p in g["params"]}
    assert in_optimizer == {id(p) for p in student.parameters()}  # none of the teacher's
    before = [p.clone() for p in teacher.parameters()]
    student_before = [p.clone() for p in student.parameters()]
    optimizer = torch.optim.AdamW(groups, lr=1e-2)
    windows = RandomWindows(
        torch.randint(20, (500,), generator=torch.Generator().manual_seed(4)), 4, 15
    )
    train(distiller, windows, optimizer, steps=3, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters(), strict=True))
    assert not all(
        torch.equal(a, b) for a, b in zip(student_before, student.parameters(), strict=True)
    )
    distiller.train()
    assert distiller.student.training and not distiller.teacher.training
    assert {k.split(".")[0] for k in distiller.state_dict()} == {"student", "teacher"}
    with pytest.raises(ValueError, match="one model"):
        Distiller(student, student)
    with pytest.raises(TypeError, match="teacher must be a torch.nn.Module"):
        Distiller(student, "teacher")


class CountingModel(nn.Module):
    """A stand-in for a GPT that records how generate is called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, bool, int]] = []

    def generate(self, idx, max_new_tokens, top_k=None, use_cache=True):  # noqa: ANN001, ANN201
        self.calls.append((max_new_tokens, use_cache, top_k))
        return [0] * max_new_tokens


def test_latency_per_token_warms_up_then_times_repeats() -> None:
    model = CountingModel()
    seconds = latency_per_token(model, [1, 2], n_new=7, use_cache=False, repeats=3)
    assert model.calls == [(7, False, 1)] * 4  # one warm-up, then 3 timed runs, greedy
    assert 0 < seconds < 0.01
    real = latency_per_token(small_gpt(), [1, 2, 3], n_new=5, repeats=2)
    assert 0 < real < 1
    with pytest.raises(ValueError, match="repeats must be an int >= 1, got 0"):
        latency_per_token(model, [1], repeats=0)
    with pytest.raises(TypeError, match="generate method"):
        latency_per_token(nn.Linear(2, 2), [1])


def test_pruned_model_loss_grows_with_sparsity() -> None:
    model = small_gpt()
    idx = torch.randint(20, (4, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        outputs = [prune_linear(model, a)(idx)[0] for a in (0.0, 0.5, 1.0)]
    assert torch.equal(outputs[0], model(idx)[0])  # amount 0 changes nothing
    gaps = [(o - outputs[0]).abs().mean().item() for o in outputs[1:]]
    assert 0 < gaps[0] < gaps[1] and math.isfinite(gaps[1])


def test_the_book_gpt_compresses_as_chapter_8_measures_it() -> None:
    """Chapter 8's teacher: int8 keeps the tie and about 1% of the loss; pruning 10% is free."""
    from lmbook import data
    from lmbook.pretrain import load_book_gpt
    from lmbook.text import char_tokenize

    teacher, vocab = load_book_gpt("cpu")
    ids = torch.tensor(vocab.encode(char_tokenize(data.shakespeare("validation")[:4_097])))
    loss = teacher.nats_per_token(ids, stride=256)
    q = quantize_int8(teacher)
    quantized = [m for m in q.modules() if callable(getattr(m, "weight", None))]
    assert len(quantized) == 6 * teacher.config.n_layer  # W_q, W_k, W_v, W_o, fc, proj
    assert q.lm_head.weight is q.tok_emb.weight  # the tie survives, in float32
    assert model_size_bytes(teacher) / model_size_bytes(q) > 3.4
    assert 0 < q.nats_per_token(ids, stride=256) - loss < 0.05
    pruned = prune_linear(teacher, 0.1)
    assert sparsity(pruned) == pytest.approx(0.1, abs=1e-6)
    assert abs(pruned.nats_per_token(ids, stride=256) - loss) < 0.01
