"""Recurrent networks: an RNN cell from its equations, and a character language model.

Introduced in chapter 3. The cell is the Elman RNN, written as the chapter writes it::

    h_t = tanh(W x_t + U h_{t-1} + b)        y_t = V h_t + c

`RNNCell` and `RNNLayer` are that equation and the loop over time (checked against
`torch.nn.RNN`); `CharRNN` is a character language model on torch's fused `nn.RNN`,
`nn.GRU` or `nn.LSTM`. For truncated backpropagation through time, `StreamBatches` cuts
a long text into parallel streams of consecutive windows, and `TruncatedBPTT` carries the
hidden state, detached, from one window to the next. `nats_per_token` scores a long
text, `generate` samples from a model, and `gradient_norms_through_time` measures how
far back a prediction's gradient reaches::

    >>> model = CharRNN(CharRNNConfig(kind="lstm", vocab_size=77))
    >>> batches = StreamBatches(train_ids, batch_size=64, seq_len=128)   # doctest: +SKIP
    >>> history = train(TruncatedBPTT(model), batches, optimizer, steps=500,
    ...                 device=device, clip=1.0)                         # doctest: +SKIP
    >>> nats_per_token(model, valid_ids)                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.validate import (
    check_carried_state,
    check_choice,
    check_int,
    check_ndim,
    check_number,
    check_target_shape,
    check_text_ids,
    check_token_ids,
    check_type,
)

RNN_KINDS = ("rnn", "gru", "lstm")

# The state of a torch RNN: h (layers, B, H) for RNN and GRU; (h, c) for the LSTM.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RNNCell(nn.Module):
    """One step of an Elman RNN: h_t = tanh(W x_t + U h_{t-1} + b)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        check_int("input_size", input_size)
        check_int("hidden_size", hidden_size)
        D, H = input_size, hidden_size
        bound = 1 / math.sqrt(H)  # torch.nn.RNN's initialisation: uniform in ±1/√H
        self.W = nn.Parameter(torch.empty(H, D).uniform_(-bound, bound))  # (H, D)
        self.U = nn.Parameter(torch.empty(H, H).uniform_(-bound, bound))  # (H, H)
        self.b = nn.Parameter(torch.empty(H).uniform_(-bound, bound))  # (H,)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The next state (B, H) from x (B, D) and the previous state h (B, H)."""
        return torch.tanh(x @ self.W.T + h @ self.U.T + self.b)  # (B, H)


class RNNLayer(nn.Module):
    """An RNNCell run over a sequence, one step at a time (as nn.RNN does in C++)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size)
        self.hidden_size = hidden_size

    def forward(
        self, xs: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The states h_1 … h_T (B, T, H) and the last one (B, H), from xs (B, T, D).

        h_0 is `h` (B, H), or zeros.
        """
        check_ndim("xs", xs, 3, "(B, T, D)")
        B, T, _ = xs.shape
        if h is None:
            h = xs.new_zeros(B, self.hidden_size)
        hs = []
        for t in range(T):
            h = self.cell(xs[:, t], h)  # (B, H)
            hs.append(h)
        return torch.stack(hs, dim=1), h  # (B, T, H), (B, H)


@dataclass
class CharRNNConfig:
    """The sizes of a CharRNN; kind is 'rnn' (Elman, tanh), 'gru' or 'lstm'."""

    kind: str = "lstm"
    vocab_size: int = 77
    n_embd: int = 64
    n_hidden: int = 256
    n_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, RNN_KINDS)
        for name in ("vocab_size", "n_embd", "n_hidden", "n_layers"):
            check_int(name, getattr(self, name))
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) of logits (B, T, V) for targets (B, T)."""
    check_target_shape(targets, logits.shape[:-1])
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


class CharRNN(nn.Module):
    """A character LM: an embedding, torch's RNN, GRU or LSTM, and y_t = V h_t + c."""

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__()
        check_type("config", config, CharRNNConfig, "a CharRNNConfig")
        self.config = config
        recurrent = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[config.kind]
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.rnn = recurrent(
            config.n_embd,
            config.n_hidden,
            num_layers=config.n_layers,
            batch_first=True,
            # torch's dropout acts between layers only: none with one layer
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.n_hidden, config.vocab_size)  # weight V, bias c

    def run(self, inputs: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (B, T, vocab) for inputs (B, T), and the state after the last step."""
        check_ndim("inputs", inputs, 2, "(B, T)", what="token ids")
        check_token_ids(inputs, self.config.vocab_size, name="inputs")
        x = self.drop(self.embed(inputs))  # (B, T, n_embd)
        h, state = self.rnn(x, state)  # (B, T, H); state (layers, B, H), or (h, c)
        return self.head(self.drop(h)), state  # (B, T, vocab)

    def forward(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, mean cross-entropy in nats per token, or None without targets)."""
        logits, _ = self.run(inputs, state)
        return logits, None if targets is None else lm_loss(logits, targets)


class StreamBatches:
    """(inputs, targets) windows of `batch_size` parallel streams of one long text.

    Row b of every batch is the b-th of `batch_size` equal slices of the text, and
    batch k holds its tokens k·T … (k+1)·T - 1 (T = seq_len), so row b of batch k + 1
    continues row b of batch k. Targets are the inputs shifted by one; a tail too short
    for a window is left out. Each pass over the batches (an epoch) starts over.
    """

    def __init__(self, ids: Sequence[int] | torch.Tensor, batch_size: int, seq_len: int) -> None:
        check_int("batch_size", batch_size)
        check_int("seq_len", seq_len)
        streams = f"for {batch_size} streams of one window of {seq_len}"
        check_text_ids("ids", ids, min_length=batch_size * seq_len + 1, purpose=streams)
        ids = torch.as_tensor(ids, dtype=torch.long)
        n = (len(ids) - 1) // batch_size  # predictions available per stream
        self.n_windows = n // seq_len
        self.batch_size, self.seq_len = batch_size, seq_len
        used = self.n_windows * seq_len + 1  # one more than the inputs: the last target
        self.streams = torch.stack([ids[b * n : b * n + used] for b in range(batch_size)])

    def __len__(self) -> int:
        return self.n_windows

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        T = self.seq_len
        for k in range(self.n_windows):
            window = self.streams[:, k * T : (k + 1) * T + 1]  # (B, T + 1)
            yield window[:, :-1], window[:, 1:]  # inputs, targets: (B, T) each


def detach_state(state: State) -> State:
    """The same hidden state cut from the graph, so backpropagation stops here."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class TruncatedBPTT(nn.Module):
    """A CharRNN that starts each call from the previous call's final state, detached.

    Call `reset()` before reading new streams. Shares its parameters with `model`.
    """

    def __init__(self, model: CharRNN) -> None:
        super().__init__()
        check_type("model", model, CharRNN, "a CharRNN")
        self.model = model
        self.state: State | None = None

    def reset(self) -> None:
        """Forget the carried state: the next call starts from zeros."""
        self.state = None

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, loss) for inputs (B, T), starting from the carried state."""
        check_carried_state(self.state, batch_size=inputs.shape[0])
        logits, state = self.model.run(inputs, self.state)
        self.state = detach_state(state)  # keep the values, drop the graph behind them
        return logits, None if targets is None else lm_loss(logits, targets)


@torch.no_grad()
def nats_per_token(
    model: CharRNN, ids: Sequence[int] | torch.Tensor, batch_size: int = 32, seq_len: int = 256
) -> float:
    """The model's cross-entropy on a long text, in nats per token.

    Every id after the first is scored once. The text is cut into `batch_size` streams,
    each read from a zero state in windows of `seq_len`, the state carried between them.
    """
    check_int("batch_size", batch_size)
    check_int("seq_len", seq_len)
    vocab_size = model.config.vocab_size
    check_text_ids("ids", ids, vocab_size, min_length=2, purpose="to score a prediction")
    ids = torch.as_tensor(ids, dtype=torch.long)
    N = len(ids) - 1  # the number of predictions
    n = math.ceil(N / batch_size)  # predictions per stream; the last stream is padded
    pad = batch_size * n - N
    inputs = torch.cat([ids[:-1], ids.new_zeros(pad)]).view(batch_size, n)
    targets = torch.cat([ids[1:], ids.new_full((pad,), -100)]).view(batch_size, n)
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    total, state = 0.0, None
    for start in range(0, n, seq_len):
        x = inputs[:, start : start + seq_len].to(device)  # (batch_size, ≤ seq_len)
        y = targets[:, start : start + seq_len].to(device)
        logits, state = model.run(x, state)
        total += F.cross_entropy(
            logits.flatten(0, 1), y.flatten(), ignore_index=-100, reduction="sum"
        ).item()  # the padding's -100 targets are not scored
    model.train(was_training)
    return total / N


def gradient_norms_through_time(
    model: CharRNN, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """‖∂L_T/∂h_t‖ for t = T-1, T-2, …, 1: entry k-1 is the norm k steps back from T.

    L_T is the cross-entropy of the last position of inputs (B, T); h_t is the whole
    state after step t (all layers, and the LSTM's cell too); the norm is per sequence,
    averaged over the batch. Eval mode, cuDNN off (its RNNs backpropagate only in
    training mode).
    """
    check_ndim("inputs", inputs, 2, "(B, T)", what="token ids")
    check_target_shape(targets, inputs.shape)
    check_int("the length T of inputs", inputs.shape[1], low=2)
    was_training = model.training
    model.eval()
    states, state = [], None
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        for t in range(inputs.shape[1]):  # one step at a time, to keep every h_t
            logits, state = model.run(inputs[:, t : t + 1], state)  # (B, 1, vocab)
            states.append(state if isinstance(state, tuple) else (state,))
        loss = F.cross_entropy(logits[:, -1], targets[:, -1])  # L_T
        # h_T itself reaches L_T through the output, not through the returned state.
        flat = [s for step in states[:-1] for s in step]
        grads = torch.autograd.grad(loss, flat)
    model.train(was_training)
    per_step = len(states[0])  # 1 tensor per step, or 2 for the LSTM's (h, c)
    norms = []
    for t in range(len(states) - 1):
        g = torch.cat(grads[t * per_step : (t + 1) * per_step], dim=-1)  # (L, B, ·)
        g = g.double().transpose(0, 1).flatten(1)  # (B, ·); float64: squares of
        # float32 values below ~1e-23 underflow to 0, the gradient itself does not
        norms.append(torch.linalg.vector_norm(g, dim=1).mean())  # per sequence
    return torch.stack(norms).flip(0).detach().cpu()  # k = 1 … T-1 steps back


@torch.no_grad()
def generate(
    model: CharRNN,
    prompt_ids: Sequence[int] | torch.Tensor,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Sample `length` ids after the prompt; temperature < 1 sharpens, > 1 flattens.

    Draws on the CPU, from torch's global generator unless a CPU `generator` is given.
    """
    check_int("length", length, low=0)
    check_number("temperature", temperature, low=0, low_open=True)
    vocab_size = model.config.vocab_size
    check_text_ids("prompt_ids", prompt_ids, vocab_size, min_length=1, purpose="to start from")
    was_training = model.training
    model.eval()
    try:  # the model goes back to its mode even if sampling raises
        device = model.head.weight.device
        prompt = torch.as_tensor(prompt_ids, dtype=torch.long).to(device)
        logits, state = model.run(prompt[None])  # read the prompt: (1, P, vocab)
        out = []
        for _ in range(length):
            last = logits[0, -1].float().cpu()  # (vocab,): the next id's logits
            probs = F.softmax(last / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)  # (1,)
            out.append(int(token))
            logits, state = model.run(token.to(device)[None], state)  # (1, 1, vocab)
    finally:
        model.train(was_training)
    return out
