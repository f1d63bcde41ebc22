"""Where attention wins: copying, repeated passages, and mixing with an n-gram.

Chapter 6 (continued, "where attention wins") measures copying, which no character
n-gram can do and a recurrent network does worse as the distance grows, and mixing:

- `CopyBatches`: a synthetic task. Each sequence is L different random symbols, a separator, and
  the same L symbols again; only the copy is scored. The symbols are random, so a
  model that sees a fixed number of earlier symbols (an n-gram) stays at chance, 1 in
  `n_symbols`; a model must look back L + 1 positions to copy.
- `repeated_passages`: real text, a validation passage read twice in a row.
- `mixture_surprisal`: a GPT and an n-gram interpolated, p = λ·p_a + (1 - λ)·p_b.

`position_surprisal` gives -ln p of every next token of a batch of short sequences for
a GPT, a `CharRNN` or an `NGramLM`, so the three are scored on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from lmbook.analysis import eval_mode
from lmbook.ngram import NGramLM
from lmbook.rnn import CharRNN
from lmbook.transformer import GPT
from lmbook.validate import (
    check_int,
    check_number,
    check_same_shape,
    check_token_sequence,
    check_type,
)

IGNORE = -100  # the targets cross-entropy skips (torch's default ignore_index)


def copy_sequences(
    n: int, length: int, n_symbols: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """n copy-task rows: inputs (n, 2L) and targets, scored on the copy only.

    A row is x_1 … x_L, SEP, x_1 … x_L: L different symbols drawn at random from
    0 … n_symbols - 1, and SEP = n_symbols (so a model needs n_symbols + 1 ids). Inputs
    are the row but its last id, targets the row shifted by one, with IGNORE wherever
    the next id is not a copy.
    """
    check_int("n", n)
    check_int("n_symbols", n_symbols, low=2)
    check_int("length", length, high=n_symbols, why="the L symbols of a row differ")
    shuffled = torch.rand(n, n_symbols, generator=generator).argsort(dim=1)
    x = shuffled[:, :length]  # (n, L): L different symbols per row
    sep = torch.full((n, 1), n_symbols)
    row = torch.cat([x, sep, x], dim=1)  # (n, 2L + 1)
    inputs, targets = row[:, :-1], row[:, 1:].clone()
    targets[:, :length] = IGNORE  # the first half and the separator: not predictable
    return inputs, targets


class CopyBatches:
    """Endless copy-task batches; each batch draws its own L from [min_length, max_length].

    Every pass over it yields the same batches (a generator seeded with `seed`), as
    `lmbook.training.train` expects of its data.
    """

    def __init__(
        self, batch_size: int, min_length: int, max_length: int, n_symbols: int, seed: int = 0
    ) -> None:
        check_int("batch_size", batch_size)
        check_int("min_length", min_length)
        check_int("max_length", max_length, low=min_length)
        check_int("n_symbols", n_symbols, low=max_length, why="the L symbols of a row differ")
        self.batch_size, self.n_symbols, self.seed = batch_size, n_symbols, seed
        self.min_length, self.max_length = min_length, max_length

    def __repr__(self) -> str:
        return (
            f"CopyBatches(batch_size={self.batch_size}, lengths={self.min_length}-"
            f"{self.max_length}, n_symbols={self.n_symbols}, seed={self.seed})"
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        while True:
            length = int(
                torch.randint(self.min_length, self.max_length + 1, (1,), generator=generator)
            )
            yield copy_sequences(self.batch_size, length, self.n_symbols, generator)


@torch.no_grad()
def position_surprisal(
    model: GPT | CharRNN | NGramLM, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """-ln p(target | the row's inputs up to it), in nats, for every position: (B, T).

    A GPT or CharRNN reads each row from its start (eval mode, restored afterwards);
    an NGramLM sees the up to n - 1 ids of the row before each target. Positions whose
    target is IGNORE get NaN.
    """
    check_type("model", model, (GPT, CharRNN, NGramLM), "a GPT, CharRNN or NGramLM")
    check_same_shape("targets", targets, "inputs", inputs)
    scored = targets != IGNORE
    safe = targets.masked_fill(~scored, 0)
    if isinstance(model, NGramLM):
        rows = torch.cat([inputs, targets[:, -1:]], dim=1)  # the full rows
        nats = torch.stack([-torch.from_numpy(model.log_probs(r.tolist())[1:]) for r in rows])
        nats = nats.float()
    else:
        device = next(model.parameters()).device
        with eval_mode(model), torch.no_grad():
            logits, _ = model(inputs.to(device))  # (B, T, V)
        nats = F.cross_entropy(logits.transpose(1, 2), safe.to(device), reduction="none")
        nats = nats.float().cpu()
    return nats.masked_fill(~scored, float("nan"))


def copy_accuracy(
    model: GPT | CharRNN | NGramLM, length: int, n_symbols: int, n: int = 200, seed: int = 1
) -> float:
    """The share of copied symbols whose most probable prediction is right (L fixed)."""
    inputs, targets = copy_sequences(n, length, n_symbols, torch.Generator().manual_seed(seed))
    if isinstance(model, NGramLM):
        rows = torch.cat([inputs, targets[:, -1:]], dim=1)
        hits = []
        for r, t in zip(rows, targets, strict=True):
            for i in range(length, inputs.size(1)):  # each copied symbol, from its history
                context = r[max(0, i + 1 - (model.n - 1)) : i + 1].tolist()
                hits.append(int(np.argmax(model.next_token_probs(context))) == int(t[i]))
        return float(np.mean(hits))
    with eval_mode(model), torch.no_grad():
        logits, _ = model(inputs.to(next(model.parameters()).device))
    scored = targets != IGNORE
    right = logits.argmax(-1).cpu() == targets
    return float(right[scored].float().mean())


def repeated_passages(
    ids: torch.Tensor, n: int, length: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """n passages of `length` ids from ids, each read twice: inputs and targets (n, 2L - 1).

    Passages start at random places (reproducible from seed) that do not overlap.
    """
    check_int("n", n)
    check_int("length", length, low=2)
    check_token_sequence("ids", ids, at_least=n * length, why=f"for {n} passages of {length}")
    ids = torch.as_tensor(ids).long()
    starts = torch.randperm(len(ids) // length, generator=torch.Generator().manual_seed(seed))
    passages = torch.stack([ids[s * length : (s + 1) * length] for s in starts[:n].tolist()])
    rows = torch.cat([passages, passages], dim=1)  # (n, 2L)
    return rows[:, :-1], rows[:, 1:]


def mixture_surprisal(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    """-ln(λ·e^(-a) + (1 - λ)·e^(-b)): the surprisal, in nats, of the mixture of two models
    whose surprisals of the same tokens are a and b."""
    check_same_shape("b", b, "a", a)
    check_number("lam", lam, low=0, high=1)
    if lam in (0, 1):
        return (b if lam == 0 else a).clone()
    both = torch.stack([-a + np.log(lam), -b + np.log(1 - lam)])
    return -torch.logsumexp(both, dim=0)
