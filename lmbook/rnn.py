"""Recurrent networks: an RNN cell from its equations, and a character language model.

Introduced in chapter 3. The cell is the Elman RNN, written as the chapter writes it::

    h_t = tanh(W x_t + U h_{t-1} + b)        y_t = V h_t + c

`RNNCell` and `RNNLayer` are that equation and the loop over time (checked against
`torch.nn.RNN`); `CharRNN` is a character language model on torch's fused `nn.RNN`,
`nn.GRU` or `nn.LSTM`. For truncated backpropagation through time, `StreamBatches` cuts
a long text into parallel streams of consecutive windows, and `TruncatedBPTT` carries the
hidden state, detached, from one window to the next::

    >>> model = CharRNN(CharRNNConfig(kind="lstm", vocab_size=77))
    >>> batches = StreamBatches(train_ids, batch_size=64, seq_len=128)   # doctest: +SKIP
    >>> history = train(TruncatedBPTT(model), batches, optimizer, steps=500,
    ...                 device=device, clip=1.0)                         # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

RNN_KINDS = ("rnn", "gru", "lstm")

# The hidden state of a torch RNN: h (layers, B, H) for RNN and GRU; (h, c) for the LSTM.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


class RNNCell(nn.Module):
    """One step of an Elman RNN: h_t = tanh(W x_t + U h_{t-1} + b)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        bound = 1 / math.sqrt(hidden_size)  # torch.nn.RNN's initialisation
        self.W = nn.Parameter(torch.empty(hidden_size, input_size).uniform_(-bound, bound))
        self.U = nn.Parameter(torch.empty(hidden_size, hidden_size).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The next hidden state from the input x (B, D) and the previous state h (B, H)."""
        return torch.tanh(x @ self.W.T + h @ self.U.T + self.b)  # (B, H)


class RNNLayer(nn.Module):
    """An RNNCell run over a sequence, one step at a time (the loop nn.RNN runs in C++)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size)
        self.hidden_size = hidden_size

    def forward(
        self, xs: torch.Tensor, h: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every hidden state h_1 … h_T (B, T, H) and the last one h_T (B, H); h_0 = h or 0."""
        if xs.ndim != 3:
            raise ValueError(f"xs must have shape (B, T, D), got {tuple(xs.shape)}")
        B, T, _ = xs.shape
        if h is None:
            h = xs.new_zeros(B, self.hidden_size)
        hs = []
        for t in range(T):
            h = self.cell(xs[:, t], h)  # (B, H)
            hs.append(h)
        return torch.stack(hs, dim=1), h  # (B, T, H), (B, H)


def detach_state(state: State) -> State:
    """The same hidden state cut from the graph, so backpropagation stops here."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def _as_ids(ids: Sequence[int] | torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(ids, str):
        raise TypeError(f"{name} must be token ids, got a str; encode it with a Vocab first")
    ids = torch.as_tensor(ids)
    if ids.numel() == 0:
        ids = ids.long()  # [] becomes a float tensor
    if ids.ndim != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise TypeError(
            f"{name} must be a 1-D sequence of ints, got {ids.dtype} {tuple(ids.shape)}"
        )
    return ids.long()


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have the shape of inputs, {tuple(logits.shape[:-1])}, "
            f"got {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())  # mean nats per token


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
        if self.kind not in RNN_KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; choose one of {', '.join(RNN_KINDS)}")
        for name in ("vocab_size", "n_embd", "n_hidden", "n_layers"):
            _check_size(name, getattr(self, name))
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")


class CharRNN(nn.Module):
    """A character language model: embedding, torch's RNN, GRU or LSTM, and y_t = V h_t + c."""

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__()
        if not isinstance(config, CharRNNConfig):
            raise TypeError(f"config must be a CharRNNConfig, got {type(config).__name__}")
        self.config = config
        recurrent = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[config.kind]
        self.embed = nn.Embedding(config.vocab_size, config.n_embd)
        self.rnn = recurrent(
            config.n_embd,
            config.n_hidden,
            num_layers=config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,  # between layers only
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.n_hidden, config.vocab_size)  # weight V, bias c

    def run(self, inputs: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits for every position (B, T, vocab) and the state after the last one."""
        if inputs.ndim != 2:
            raise ValueError(f"inputs must be token ids of shape (B, T), got {tuple(inputs.shape)}")
        x = self.drop(self.embed(inputs))  # (B, T, n_embd)
        h, state = self.rnn(x, state)  # (B, T, H); state (n_layers, B, H), or a pair for LSTM
        return self.head(self.drop(h)), state  # (B, T, vocab)

    def forward(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, mean cross-entropy in nats per token, or None without targets)."""
        logits, _ = self.run(inputs, state)
        return logits, None if targets is None else _cross_entropy(logits, targets)

    def _known_ids(self, ids: Sequence[int] | torch.Tensor, name: str) -> torch.Tensor:
        ids = _as_ids(ids, name)
        if len(ids) and not (0 <= int(ids.min()) and int(ids.max()) < self.config.vocab_size):
            raise ValueError(
                f"{name} holds ids from {int(ids.min())} to {int(ids.max())}; "
                f"this model knows ids 0 … {self.config.vocab_size - 1}"
            )
        return ids

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: Sequence[int] | torch.Tensor,
        length: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> list[int]:
        """Sample `length` ids after the prompt; temperature < 1 sharpens, > 1 flattens.

        Draws on the CPU, from torch's global generator unless a CPU `generator` is given.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"length must be an int >= 0, got {length!r}")
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
        prompt = self._known_ids(prompt_ids, "prompt_ids")
        if len(prompt) == 0:
            raise ValueError("prompt_ids is empty: give at least one id to start from")
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        logits, state = self.run(prompt.to(device)[None])  # read the prompt: (1, P, vocab)
        out = []
        for _ in range(length):
            probs = F.softmax(logits[0, -1].float().cpu() / temperature, dim=-1)  # (vocab,)
            token = torch.multinomial(probs, 1, generator=generator)  # (1,)
            out.append(int(token))
            logits, state = self.run(token.to(device)[None], state)  # one step: (1, 1, vocab)
        self.train(was_training)
        return out

    @torch.no_grad()
    def nats_per_token(
        self, ids: Sequence[int] | torch.Tensor, batch_size: int = 32, seq_len: int = 256
    ) -> float:
        """Cross-entropy on a long text, in nats per token: every id after the first is scored.

        The text is read as `batch_size` streams, each from a zero state, in windows of
        `seq_len` with the state carried between them.
        """
        _check_size("batch_size", batch_size)
        _check_size("seq_len", seq_len)
        ids = self._known_ids(ids, "ids")
        N = len(ids) - 1  # the number of predictions
        if N < 1:
            raise ValueError(f"need at least 2 ids to score a prediction, got {len(ids)}")
        n = math.ceil(N / batch_size)  # predictions per stream; the last stream is padded
        pad = batch_size * n - N
        inputs = torch.cat([ids[:-1], ids.new_zeros(pad)]).view(batch_size, n)
        targets = torch.cat([ids[1:], ids.new_full((pad,), -100)]).view(batch_size, n)
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        total, state = 0.0, None
        for start in range(0, n, seq_len):
            x = inputs[:, start : start + seq_len].to(device)  # (batch_size, ≤ seq_len)
            y = targets[:, start : start + seq_len].to(device)
            logits, state = self.run(x, state)
            total += F.cross_entropy(
                logits.flatten(0, 1), y.flatten(), ignore_index=-100, reduction="sum"
            ).item()
        self.train(was_training)
        return total / N


class StreamBatches:
    """(inputs, targets) windows of `batch_size` parallel streams of one long text.

    The ids are cut into `batch_size` equal streams, row b holding the b-th slice of the
    text; batch k holds tokens k·T … (k+1)·T - 1 of every stream (T = seq_len), and the
    targets are the same tokens shifted by one. So row b of batch k + 1 continues exactly
    where row b of batch k stopped, and a state carried between them is the right one.
    The tail that does not fill a whole window is left out. Re-iterable: each pass over
    the batches (an epoch) starts again at the beginning of the streams.
    """

    def __init__(self, ids: Sequence[int] | torch.Tensor, batch_size: int, seq_len: int) -> None:
        _check_size("batch_size", batch_size)
        _check_size("seq_len", seq_len)
        ids = _as_ids(ids, "ids")
        n = (len(ids) - 1) // batch_size  # predictions available per stream
        self.n_windows = n // seq_len
        if self.n_windows < 1:
            raise ValueError(
                f"a text of {len(ids)} ids is too short for {batch_size} streams of one "
                f"window of {seq_len}: it needs at least {batch_size * seq_len + 1} ids"
            )
        self.batch_size, self.seq_len = batch_size, seq_len
        used = self.n_windows * seq_len + 1  # one more than the inputs: the last target
        self.streams = torch.stack([ids[b * n : b * n + used] for b in range(batch_size)])

    def __len__(self) -> int:
        return self.n_windows

    def __repr__(self) -> str:
        return (
            f"StreamBatches(batch_size={self.batch_size}, seq_len={self.seq_len}, "
            f"windows={self.n_windows})"
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        T = self.seq_len
        for k in range(self.n_windows):
            window = self.streams[:, k * T : (k + 1) * T + 1]  # (B, T + 1)
            yield window[:, :-1], window[:, 1:]  # inputs, targets: (B, T) each


class TruncatedBPTT(nn.Module):
    """A CharRNN that starts each call from the previous call's final state, detached.

    Fed the consecutive windows of `StreamBatches`, the model reads each stream as one
    long text (the state carries the context forward), while backpropagation stops at
    the window boundary (the state is detached), so each step costs one window. Call
    `reset()` before reading new streams. Shares its parameters with `model`.
    """

    def __init__(self, model: CharRNN) -> None:
        super().__init__()
        if not isinstance(model, CharRNN):
            raise TypeError(f"model must be a CharRNN, got {type(model).__name__}")
        self.model = model
        self.state: State | None = None

    def reset(self) -> None:
        """Forget the carried state: the next call starts from zeros."""
        self.state = None

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, loss) on this window, starting from the carried state; carries the new one."""
        if self.state is not None:
            h = self.state[0] if isinstance(self.state, tuple) else self.state
            if h.shape[1] != inputs.shape[0]:
                raise ValueError(
                    f"the carried state is for {h.shape[1]} streams but inputs have "
                    f"{inputs.shape[0]} rows; call reset() before reading new streams"
                )
        logits, state = self.model.run(inputs, self.state)
        self.state = detach_state(state)  # keep the values, drop the graph behind them
        return logits, None if targets is None else _cross_entropy(logits, targets)


def gradient_norms_through_time(
    model: CharRNN, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """‖∂L_T/∂h_t‖ for t = T-1, T-2, …, 1: entry k-1 is the norm k steps back from T.

    L_T is the cross-entropy of the last position of inputs (B, T); h_t is the whole
    hidden state after step t (all layers, and the LSTM's cell state too). The norm is
    taken per sequence and averaged over the batch. Runs in eval mode (no dropout), with
    cuDNN off: cuDNN's RNNs can backpropagate only in training mode.
    """
    if inputs.ndim != 2 or inputs.shape != targets.shape or inputs.shape[1] < 2:
        raise ValueError(
            f"inputs and targets must have the same shape (B, T) with T >= 2, got "
            f"{tuple(inputs.shape)} and {tuple(targets.shape)}"
        )
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
        g = torch.cat([grads[t * per_step + i] for i in range(per_step)], dim=-1)  # (L, B, ·)
        norms.append(g.transpose(0, 1).flatten(1).norm(dim=1).mean())  # per sequence, averaged
    return torch.stack(norms).flip(0).detach().cpu()  # k = 1 … T-1 steps back
