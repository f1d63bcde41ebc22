"""Tests of lmbook.rnn: the cell against torch.nn.RNN, truncated BPTT, stream batching,
the character model of each kind, and the errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmbook.rnn import (
    RNN_KINDS,
    CharRNN,
    CharRNNConfig,
    RNNCell,
    RNNLayer,
    StreamBatches,
    TruncatedBPTT,
    detach_state,
    generate,
    gradient_norms_through_time,
    lm_loss,
    nats_per_token,
)
from lmbook.training import train


def tiny(kind: str, vocab_size: int = 11, **kw) -> CharRNN:
    torch.manual_seed(0)
    return CharRNN(CharRNNConfig(kind=kind, vocab_size=vocab_size, n_embd=8, n_hidden=16, **kw))


def test_rnn_layer_matches_torch_rnn_with_copied_weights():
    torch.manual_seed(0)
    D, H, B, T = 5, 7, 3, 6
    ours = RNNLayer(D, H).double()
    ref = nn.RNN(D, H, batch_first=True).double()
    with torch.no_grad():  # torch keeps two biases, b_ih + b_hh; ours is their sum
        ref.weight_ih_l0.copy_(ours.cell.W)
        ref.weight_hh_l0.copy_(ours.cell.U)
        ref.bias_ih_l0.copy_(ours.cell.b)
        ref.bias_hh_l0.zero_()
    xs = torch.randn(B, T, D, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    hs, h_last = ours(xs, h0)
    ref_hs, ref_h = ref(xs, h0[None])
    torch.testing.assert_close(hs, ref_hs, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_last, ref_h[0], rtol=0, atol=1e-12)
    # the cell is the equation, step by step
    h1 = torch.tanh(xs[:, 0] @ ours.cell.W.T + h0 @ ours.cell.U.T + ours.cell.b)
    torch.testing.assert_close(hs[:, 0], h1, rtol=0, atol=1e-12)
    # without h0 both start from zeros
    torch.testing.assert_close(ours(xs)[0], ref(xs)[0], rtol=0, atol=1e-12)


def test_rnn_cell_gradients_match_torch():
    torch.manual_seed(1)
    cell = RNNCell(4, 6).double()
    ref = nn.RNNCell(4, 6).double()
    with torch.no_grad():
        ref.weight_ih.copy_(cell.W)
        ref.weight_hh.copy_(cell.U)
        ref.bias_ih.copy_(cell.b)
        ref.bias_hh.zero_()
    x, h = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)
    cell(x, h).sum().backward()
    ref(x, h).sum().backward()
    torch.testing.assert_close(cell.U.grad, ref.weight_hh.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(cell.b.grad, ref.bias_ih.grad, rtol=0, atol=1e-12)


def test_stream_batches_are_contiguous_and_targets_shift_by_one():
    ids = torch.arange(103)
    batches = StreamBatches(ids, batch_size=4, seq_len=5)
    n = (103 - 1) // 4  # 25 predictions per stream: 5 windows of 5
    assert len(batches) == 5 and len(list(batches)) == 5
    previous = None
    for inputs, targets in batches:
        assert inputs.shape == targets.shape == (4, 5)
        assert torch.equal(targets, inputs + 1)  # ids are positions, so shifted by one is +1
        if previous is not None:
            assert torch.equal(inputs[:, 0], previous[:, -1] + 1)  # the stream continues
        previous = inputs
    first = next(iter(batches))[0]
    assert torch.equal(first[:, 0], torch.arange(4) * n)  # row b starts at the b-th slice
    assert torch.equal(next(iter(batches))[0], first)  # re-iterable: a new pass starts over


def test_stream_batches_leave_out_only_the_tail():
    batches = StreamBatches(list(range(50)), batch_size=2, seq_len=7)
    seen = torch.cat([x for x, _ in batches], dim=1)  # (2, 21): 3 windows of 7 per stream
    assert seen.shape == (2, 21) and torch.equal(seen[1, 0], torch.tensor(24))


def test_truncated_bptt_carries_a_detached_state():
    model = tiny("lstm")
    stream = TruncatedBPTT(model)
    x = torch.randint(0, 11, (3, 8), generator=torch.Generator().manual_seed(0))
    _, loss = stream(x, x)
    h, c = stream.state
    assert not h.requires_grad and h.grad_fn is None and c.grad_fn is None
    _, expected = model.run(x)  # the same values as the last hidden state
    torch.testing.assert_close(h, expected[0].detach())
    torch.testing.assert_close(c, expected[1].detach())
    loss.backward()
    # a second window starts from the carried state; its backward stops at the boundary
    model.zero_grad()
    _, loss2 = stream(x, x)
    loss2.backward()  # would fail ("backward through the graph a second time") if attached
    grad_from_carried = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    logits, _ = model.run(x, (h, c))
    F.cross_entropy(logits.flatten(0, 1), x.flatten()).backward()
    for g, p in zip(grad_from_carried, model.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad)  # equal to a fresh graph from a constant state


def test_without_detach_the_second_backward_fails():
    model = tiny("rnn")
    x = torch.randint(0, 11, (2, 5))
    logits, state = model.run(x)
    model(x, x)[1].backward()
    F.cross_entropy(logits.flatten(0, 1), x.flatten()).backward()
    logits2, _ = model.run(x, state)  # state still attached to the first window's graph
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        F.cross_entropy(logits2.flatten(0, 1), x.flatten()).backward()


def test_truncated_bptt_in_the_training_loop_and_reset():
    model = tiny("gru")
    stream = TruncatedBPTT(model)
    batches = StreamBatches(torch.randint(0, 11, (400,)), batch_size=4, seq_len=10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train(stream, batches, opt, steps=12, device="cpu", progress=False)
    assert stream.state.shape == (1, 4, 16) and stream.state.grad_fn is None
    with pytest.raises(ValueError, match="call reset"):
        stream(torch.zeros(2, 10, dtype=torch.long))
    stream.reset()
    assert stream.state is None
    stream(torch.zeros(2, 10, dtype=torch.long))
    assert stream.state.shape == (1, 2, 16)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_char_rnn_shapes_loss_and_generation(kind):
    model = tiny(kind, n_layers=2)
    x = torch.randint(0, 11, (3, 7))
    y = torch.randint(0, 11, (3, 7))
    logits, loss = model(x, y)
    assert logits.shape == (3, 7, 11)
    assert model(x)[1] is None
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1)))
    _, state = model.run(x)
    h = state[0] if kind == "lstm" else state
    assert h.shape == (2, 3, 16)
    # reading in two windows with the state carried equals reading at once
    first, s = model.run(x[:, :4])
    second, _ = model.run(x[:, 4:], s)
    torch.testing.assert_close(torch.cat([first, second], 1), logits)
    out = generate(model, [1, 2], length=9, temperature=0.7, generator=torch.Generator())
    assert len(out) == 9 and all(0 <= i < 11 for i in out)
    assert generate(model, torch.tensor([3]), length=0) == []
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert generate(model, [1], 20, generator=g1) == generate(model, [1], 20, generator=g2)


def test_nats_per_token_scores_every_prediction_once():
    model = tiny("lstm")
    ids = torch.randint(0, 11, (53,), generator=torch.Generator().manual_seed(0))
    logits, _ = model.run(ids[None, :-1])  # one stream: the whole text at once
    expected = F.cross_entropy(logits[0], ids[1:]).item()
    assert nats_per_token(model, ids, batch_size=1, seq_len=10) == pytest.approx(expected)
    # several streams (the last one padded) differ only by the context lost at stream starts
    assert abs(nats_per_token(model, ids, batch_size=4, seq_len=5) - expected) < 0.1
    assert model.training  # the mode is restored


def test_gradient_norms_through_time():
    for kind in RNN_KINDS:
        model = tiny(kind)
        x = torch.randint(0, 11, (2, 12))
        norms = gradient_norms_through_time(model, x, x)
        assert norms.shape == (11,) and torch.all(norms >= 0)
        assert model.training
    # by hand for the RNN: the gradient with respect to h_{T-1}
    model = tiny("rnn")
    logits, h = model.run(x[:, :-1])
    h = h.detach().requires_grad_()
    last, _ = model.run(x[:, -1:], h)
    (g,) = torch.autograd.grad(F.cross_entropy(last[:, -1], x[:, -1]), h)
    norms = gradient_norms_through_time(model, x, x)
    assert norms[0].item() == pytest.approx(g[0].norm(dim=1).mean().item(), rel=1e-5)


def test_gradient_norms_do_not_underflow_in_float32():
    # U = 0.05·Q shrinks the gradient about 20-fold per step: 30 steps back its elements
    # are ~1e-30, still normal float32 numbers, whose squares (~1e-60) are not.
    model = tiny("rnn")
    with torch.no_grad():
        Q, _ = torch.linalg.qr(torch.randn(16, 16))
        model.rnn.weight_hh_l0.copy_(0.05 * Q)
    x = torch.randint(0, 11, (2, 32))
    norms = gradient_norms_through_time(model, x, x)
    assert norms[-1] < 1e-25  # far below where float32 squares underflow
    assert torch.all(norms > 0) and torch.all(norms[1:] < norms[:-1])


def test_a_tiny_model_learns_a_repeated_string():
    torch.manual_seed(0)
    text = "to be or not to be " * 40
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(ch) for ch in text])
    model = CharRNN(CharRNNConfig("lstm", vocab_size=len(chars), n_embd=16, n_hidden=32))
    batches = StreamBatches(ids, batch_size=4, seq_len=19)
    opt = torch.optim.Adam(model.parameters(), lr=5e-2)
    train(TruncatedBPTT(model), batches, opt, steps=40, device="cpu", clip=1.0, progress=False)
    assert nats_per_token(model, ids, batch_size=1) < 0.1
    prompt = [chars.index(ch) for ch in "to be or"]
    out = generate(model, prompt, length=11, temperature=0.1)
    assert "".join(chars[i] for i in out) == " not to be "


def test_detach_state_handles_tensors_and_pairs():
    h = torch.ones(2, requires_grad=True) * 2
    assert detach_state(h).grad_fn is None
    pair = detach_state((h, h))
    assert isinstance(pair, tuple) and all(p.grad_fn is None for p in pair)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "transformer"}, "kind must be one of 'rnn', 'gru', 'lstm', got 'transformer'"),
        ({"n_hidden": 0}, "n_hidden must be an int >= 1"),
        ({"n_layers": 1.5}, "n_layers must be an int >= 1"),
        ({"vocab_size": True}, "vocab_size must be an int >= 1"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharRNNConfig(**kwargs)


def test_errors_name_the_bad_value():
    model = tiny("rnn")
    with pytest.raises(ValueError, match="temperature must be a number > 0, got 0"):
        generate(model, [1], 5, temperature=0)
    with pytest.raises(ValueError, match="length must be an int >= 0"):
        generate(model, [1], -1)
    with pytest.raises(ValueError, match=r"ids from 1 to 11; this model knows ids 0 … 10"):
        generate(model, [1, 11], 5)
    with pytest.raises(
        ValueError, match="prompt_ids holds 0 ids, too few to start from: at least 1 id"
    ):
        generate(model, [], 5)
    with pytest.raises(TypeError, match="encode it with a Vocab"):
        generate(model, "ROMEO", 5)
    with pytest.raises(ValueError, match="targets must have the shape of inputs"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"inputs must be token ids of shape \(B, T\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(
        ValueError,
        match="ids holds 30 ids, too few for 4 streams of one window of 10: at least 41 ids",
    ):
        StreamBatches(torch.arange(30), batch_size=4, seq_len=10)
    with pytest.raises(ValueError, match="seq_len must be an int >= 1"):
        StreamBatches(torch.arange(30), batch_size=4, seq_len=0)
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        StreamBatches(torch.ones(30), batch_size=2, seq_len=3)
    with pytest.raises(TypeError, match="must be a CharRNN"):
        TruncatedBPTT(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="must be a CharRNNConfig"):
        CharRNN({"kind": "rnn"})
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        RNNCell(3, 0)
    with pytest.raises(
        ValueError, match="ids holds 1 id, too few to score a prediction: at least 2 ids"
    ):
        nats_per_token(model, [1])
    with pytest.raises(ValueError, match="the length T of inputs must be an int >= 2, got 1"):
        gradient_norms_through_time(model, torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, 1))
    assert math.isfinite(nats_per_token(model, [1, 2, 3]))


def test_lm_loss_and_shape_errors():
    logits = torch.randn(2, 3, 5)
    targets = torch.randint(0, 5, (2, 3))
    expected = F.cross_entropy(logits.reshape(6, 5), targets.reshape(6))
    torch.testing.assert_close(lm_loss(logits, targets), expected)
    with pytest.raises(ValueError, match=r"xs must be a tensor of shape \(B, T, D\), got \(2, 5\)"):
        RNNLayer(5, 4)(torch.zeros(2, 5))
    with pytest.raises(TypeError, match=r"inputs must be token ids of shape \(B, T\), got list"):
        tiny("gru").run([[1, 2]])
