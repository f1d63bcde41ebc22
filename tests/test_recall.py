"""The copy task, repeated passages and mixtures (lmbook.recall)."""

import math

import pytest
import torch
import torch.nn.functional as F

import lmbook
from lmbook.ngram import NGramLM
from lmbook.recall import (
    IGNORE,
    CopyBatches,
    copy_accuracy,
    copy_sequences,
    mixture_surprisal,
    position_surprisal,
    repeated_passages,
)
from lmbook.rnn import CharRNN, CharRNNConfig
from lmbook.transformer import GPT, GPTConfig


def test_a_copy_row_is_symbols_separator_and_the_same_symbols():
    inputs, targets = copy_sequences(5, 6, 10, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (5, 12)
    row = torch.cat([inputs, targets[:, -1:]], dim=1)  # (5, 13)
    assert (row[:, 6] == 10).all()  # the separator
    assert torch.equal(row[:, :6], row[:, 7:])
    assert all(len(set(r[:6].tolist())) == 6 for r in row)  # different symbols
    assert (targets[:, :6] == IGNORE).all()  # only the copy is scored
    assert torch.equal(targets[:, 6:], row[:, 7:])


def test_copy_batches_repeat_exactly_and_draw_lengths_in_range():
    batches = CopyBatches(4, 3, 7, n_symbols=8, seed=2)
    first = [b for _, b in zip(range(20), batches, strict=False)]
    again = [b for _, b in zip(range(20), batches, strict=False)]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    lengths = {x.size(1) // 2 for x, _ in first}
    assert lengths <= set(range(3, 8)) and len(lengths) > 2


def test_position_surprisal_is_each_models_cross_entropy():
    lmbook.seed(0)
    inputs, targets = copy_sequences(3, 4, 8, torch.Generator().manual_seed(1))
    gpt = GPT(GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, n_embd=16))
    rnn = CharRNN(CharRNNConfig("gru", vocab_size=9, n_embd=8, n_hidden=16))
    for model in (gpt, rnn):
        nats = position_surprisal(model, inputs, targets)
        logits, _ = model(inputs)
        expected = F.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
        assert torch.isnan(nats[:, :4]).all()
        torch.testing.assert_close(nats[:, 4:], expected[:, 4:].detach())
    ngram = NGramLM(2, 9).fit(torch.cat([inputs, targets[:, -1:]], 1).flatten().tolist())
    nats = position_surprisal(ngram, inputs, targets)
    row = torch.cat([inputs[0], targets[0, -1:]]).tolist()
    expected = -torch.from_numpy(ngram.log_probs(row)[1:]).float()
    torch.testing.assert_close(nats[0, 4:], expected[4:])


def test_an_ngram_stays_near_chance_on_the_copy():
    inputs, targets = copy_sequences(400, 8, 32, torch.Generator().manual_seed(0))
    ngram = NGramLM(3, 33).fit(torch.cat([inputs, targets[:, -1:]], 1).flatten().tolist())
    assert copy_accuracy(ngram, 8, 32, n=50) < 0.15  # chance: about 1 in 32


def test_copy_accuracy_is_one_for_a_model_that_copies_and_chance_for_one_that_guesses():
    class Copier(torch.nn.Module):  # at copy position j, predicts input j - L
        def __init__(self, guess: bool) -> None:
            super().__init__()
            self.guess = guess
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            L = x.size(1) // 2
            logits = torch.zeros(*x.shape, 9)
            if not self.guess:
                logits[:, L:].scatter_(2, x[:, :L, None], 1.0)
            return logits, None

    assert copy_accuracy(Copier(guess=False), 5, 8) == 1.0
    assert copy_accuracy(Copier(guess=True), 5, 8) < 0.3  # always symbol 0


def test_repeated_passages_read_each_passage_twice():
    ids = torch.arange(1000)
    inputs, targets = repeated_passages(ids, n=6, length=50, seed=0)
    assert inputs.shape == targets.shape == (6, 99)
    rows = torch.cat([inputs, targets[:, -1:]], dim=1)
    assert torch.equal(rows[:, :50], rows[:, 50:])
    starts = rows[:, 0].tolist()
    assert len(set(s // 50 for s in starts)) == 6 and all(s % 50 == 0 for s in starts)


def test_the_mixture_is_the_log_of_the_mixed_probabilities():
    a, b = torch.tensor([0.1, 2.0, 5.0]), torch.tensor([1.0, 0.5, 3.0])
    torch.testing.assert_close(mixture_surprisal(a, b, 1.0), a)
    torch.testing.assert_close(mixture_surprisal(a, b, 0.0), b)
    lam = 0.3
    expected = -torch.log(lam * torch.exp(-a) + (1 - lam) * torch.exp(-b))
    torch.testing.assert_close(mixture_surprisal(a, b, lam), expected)
    # far in the tail logsumexp stays finite where exp underflows
    far = mixture_surprisal(torch.tensor([200.0]), torch.tensor([300.0]), 0.5)
    assert math.isclose(far.item(), 200 + math.log(2), rel_tol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: copy_sequences(2, 9, 8), "length"),
        (lambda: CopyBatches(2, 5, 4, 8), "max_length"),
        (lambda: CopyBatches(2, 2, 9, 8), "n_symbols"),
        (lambda: mixture_surprisal(torch.ones(2), torch.ones(2), 1.5), "lam"),
        (lambda: mixture_surprisal(torch.ones(2), torch.ones(3), 0.5), "b"),
        (lambda: repeated_passages(torch.arange(10), n=3, length=5), "ids"),
        (lambda: position_surprisal("model", torch.ones(1, 2), torch.ones(1, 2)), "model"),
    ],
)
def test_bad_inputs_are_refused_by_name(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()
