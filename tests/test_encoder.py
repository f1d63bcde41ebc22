"""lmbook.encoder: a bidirectional encoder and BERT's masked-language-model objective."""

import pytest
import torch
import torch.nn.functional as F

from lmbook.encoder import (
    IGNORE_INDEX,
    Encoder,
    EncoderClassifier,
    MaskedWindows,
    fill_blanks,
    mask_tokens,
    masked_lm_nats,
    masked_windows,
)
from lmbook.finetune import (
    PAD_ID,
    GPTClassifier,
    PassageBatches,
    StandardisedLinear,
    encode_passages,
    hidden_states,
    probe_then_fine_tune,
    standardise_head,
)
from lmbook.text import Vocab
from lmbook.training import train
from lmbook.transformer import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = GPTConfig(vocab_size=12, block_size=16, n_layer=2, n_head=2, n_embd=16)


def tiny_encoder(**changes) -> Encoder:
    torch.manual_seed(0)
    return Encoder(GPTConfig(**{**CONFIG.__dict__, **changes})).eval()


def test_a_later_position_changes_an_earlier_ones_output():
    """The opposite of the GPT's causality test: the encoder reads both ways."""
    model, gpt = tiny_encoder(), GPT(CONFIG).eval()
    idx = torch.randint(0, 11, (2, 10), generator=torch.Generator().manual_seed(0))
    changed = idx.clone()
    changed[:, -1] = (idx[:, -1] + 1) % 11  # only the last position differs
    with torch.no_grad():
        moved = (model(changed)[0] - model(idx)[0])[:, :-1].abs().amax(dim=(0, 2))
        gpt_moved = (gpt(changed)[0] - gpt(idx)[0])[:, :-1].abs().max()
    assert (moved > 1e-4).all()  # every earlier position saw the change
    assert gpt_moved == 0  # the GPT's did not


def test_the_encoder_reuses_the_gpts_parts_and_hidden_states_reads_it():
    model = tiny_encoder()
    assert isinstance(model, GPT)
    assert {type(b).__name__ for b in model.blocks} == {"EncoderBlock"}
    assert model.lm_head.weight is model.tok_emb.weight
    idx = torch.randint(0, 12, (3, 7))
    with torch.no_grad():
        torch.testing.assert_close(hidden_states(model, idx), model.hidden(idx))
    for refused in (
        lambda: model.generate([1, 2], 3),
        lambda: model.step(idx),
        lambda: model.nats_per_token(list(range(12))),
    ):
        with pytest.raises(TypeError, match="an Encoder"):
            refused()


def test_masking_proportions_are_berts_over_many_draws():
    ids = torch.randint(0, 50, (400, 128), generator=torch.Generator().manual_seed(0))
    inputs, targets = mask_tokens(
        ids, mask_id=50, vocab_size=50, generator=torch.Generator().manual_seed(1)
    )
    chosen = targets != IGNORE_INDEX
    assert abs(chosen.float().mean().item() - 0.15) < 0.01
    masked = (inputs == 50)[chosen].float().mean().item()
    unchanged = (inputs == ids)[chosen].float().mean().item()  # random may redraw it
    random = 1 - masked - unchanged
    assert abs(masked - 0.8) < 0.01 and abs(random - 0.1) < 0.01
    assert abs(unchanged - 0.1) < 0.01
    assert torch.equal(targets[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])  # unchosen positions untouched
    assert (inputs[chosen & (inputs != 50)] < 50).all()  # random ids are ordinary ones
    assert (inputs == 50).sum() == (inputs == 50)[chosen].sum()


def test_every_row_is_scored_even_when_the_draws_choose_nothing():
    ids = torch.randint(0, 5, (200, 3))
    _, targets = mask_tokens(ids, 5, 5, mask_prob=0.0)
    assert ((targets != IGNORE_INDEX).sum(dim=1) == 1).all()


def test_the_loss_reads_the_masked_positions_only():
    model = tiny_encoder()
    ids = torch.randint(0, 11, (4, 16), generator=torch.Generator().manual_seed(2))
    inputs, targets = mask_tokens(ids, 11, 11, generator=torch.Generator().manual_seed(3))
    logits, loss = model(inputs, targets)
    chosen = targets != IGNORE_INDEX
    by_hand = F.cross_entropy(logits[chosen], ids[chosen])
    torch.testing.assert_close(loss, by_hand, rtol=0, atol=1e-6)
    everywhere = F.cross_entropy(logits.flatten(0, 1), ids.flatten())
    assert not torch.isclose(loss, everywhere)
    other = targets.masked_fill(~chosen, IGNORE_INDEX)  # the same scored positions
    assert torch.equal(model(inputs, other)[1], loss)


def test_a_tiny_encoders_masked_lm_loss_falls_with_the_books_training_loop():
    text = "the cat sat on the mat. " * 60
    vocab = Vocab(sorted(set(text)))
    V, ids = len(vocab), torch.tensor(vocab.encode(list(text)))
    p = torch.bincount(ids).float() / len(ids)
    unigram = -(p[p > 0] * p[p > 0].log()).sum().item()  # the best without context
    torch.manual_seed(0)
    model = Encoder(GPTConfig(vocab_size=V + 1, block_size=16, n_layer=2, n_head=2, n_embd=32))
    batches = MaskedWindows(ids, batch_size=32, block_size=16, mask_id=V, vocab_size=V)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    history = train(model, batches, optimizer, steps=80, device="cpu", progress=False)
    first, last = history[0]["loss"], history[-1]["loss"]
    assert first > unigram and last < unigram - 0.2  # it reads the context
    inputs, targets = next(iter(batches))
    again = next(iter(batches))
    assert torch.equal(inputs, again[0]) and torch.equal(targets, again[1])
    assert "mask_id=12" in repr(batches)


def test_masked_lm_nats_is_the_mean_over_every_scored_position_and_repeats():
    model = tiny_encoder(vocab_size=13)  # 12 ids and a [MASK] id, 12
    ids = torch.randint(12, (16 * 5 + 7,), generator=torch.Generator().manual_seed(1))
    got = masked_lm_nats(model, ids, mask_id=12, vocab_size=12, seed=3, batch_size=2)
    windows = ids[: 16 * 5].view(5, 16)  # the 7 left over are not read
    inputs, targets = mask_tokens(windows, 12, 12, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits, _ = model(inputs)
    chosen = targets != IGNORE_INDEX
    by_hand = F.cross_entropy(logits[chosen], targets[chosen]).item()  # pooled, not per row
    assert got == pytest.approx(by_hand, abs=1e-6)
    assert masked_lm_nats(model, ids, 12, 12, seed=3) == pytest.approx(got, abs=1e-6)
    assert masked_lm_nats(model, ids, 12, 12, seed=4) != pytest.approx(got, abs=1e-6)
    model.train()
    masked_lm_nats(model, ids, 12, 12)
    assert model.training  # put back as it was


def test_masked_windows_cuts_whole_windows_and_draws_the_same_positions_again():
    ids = torch.randint(12, (16 * 5 + 7,), generator=torch.Generator().manual_seed(1))
    windows, inputs, targets = masked_windows(ids, 16, mask_id=12, vocab_size=12, seed=3)
    assert torch.equal(windows, ids[: 16 * 5].view(5, 16))  # the 7 left over: not cut
    by_hand = mask_tokens(windows, 12, 12, generator=torch.Generator().manual_seed(3))
    assert torch.equal(inputs, by_hand[0]) and torch.equal(targets, by_hand[1])
    _, hid, hid_targets = masked_windows(ids, 16, 12, 12, seed=3, split=(1.0, 0.0, 0.0))
    chosen = hid_targets != IGNORE_INDEX
    assert torch.equal(chosen, targets != IGNORE_INDEX)  # the same positions chosen
    assert (hid[chosen] == 12).all() and torch.equal(hid[~chosen], windows[~chosen])
    with pytest.raises(ValueError, match="for one window of 16"):
        masked_windows(ids[:15], 16, 12, 12)
    with pytest.raises(ValueError, match="ids"):
        masked_windows(torch.full((32,), 12), 16, 12, 12)  # the [MASK] id is not text


def test_fill_blanks_puts_each_guess_in_its_hidden_place():
    hidden = torch.tensor([False, True, False, True])
    assert fill_blanks("abcd", hidden, "XY") == "aXcY"
    assert fill_blanks("abcd", hidden, ["X", "\n"]) == "aXc↵"  # as Vocab.decode gives
    assert fill_blanks("a\ncd", [False, False, True, False], "Z") == "a↵Zd"  # one line


@pytest.mark.parametrize(
    "hidden, guesses, error, match",
    [
        ([False, True, False, True], "X", ValueError, "2 hidden characters"),
        ([False, True, True], "XY", ValueError, "3 flags for 4 characters"),
        (torch.tensor([0, 1, 0, 1]), "XY", TypeError, "hidden must be bools"),
        ([0, 1, 2, 3], "XY", TypeError, "hidden must be bools"),  # indices, not flags
        ([False, True, False, True], ["<unk>", "Y"], TypeError, "one character"),
        ([False, True, False, True], ["", "Y"], TypeError, "one character"),
        ([False, True, False, True], [1, 2], TypeError, "one character"),
    ],
)
def test_fill_blanks_refuses_what_would_shift_the_line(hidden, guesses, error, match):
    with pytest.raises(error, match=match):
        fill_blanks("abcd", hidden, guesses)


def test_masked_lm_nats_refuses_what_it_cannot_score():
    model = tiny_encoder(vocab_size=13)
    with pytest.raises(ValueError, match="for one window of 16"):
        masked_lm_nats(model, torch.arange(10), 12, 12)
    with pytest.raises(TypeError, match="an lmbook Encoder"):
        masked_lm_nats(GPT(CONFIG), torch.arange(40) % 12, 12, 12)
    ids = torch.arange(40) % 13  # holds 12, the [MASK] id, as if it were a character
    with pytest.raises(ValueError, match=r"ids.*12"):
        masked_lm_nats(model, ids, 12, 12)
    with pytest.raises(ValueError, match=r"13 ids: 12 ordinary ones and its \[MASK\] id 12"):
        masked_lm_nats(model, torch.arange(40) % 10, 10, 10)  # 10 is a character's id
    with pytest.raises(ValueError, match="batch_size"):
        masked_lm_nats(model, torch.arange(40) % 12, 12, 12, batch_size=0)


def test_the_encoder_classifier_keeps_padding_out_of_attention():
    vocab = Vocab(list("abcdefghij"))  # 11 ids with <unk>; [MASK] = 11
    batch, lengths = encode_passages(["abcdefgh", "hij", "a"], vocab, max_len=16)
    torch.manual_seed(0)
    model = EncoderClassifier(tiny_encoder(), n_classes=3).eval()
    with torch.no_grad():
        together, _ = model(batch)
        alone = torch.cat([model(batch[i : i + 1, : lengths[i]])[0] for i in range(3)])
        careless = GPTClassifier(model.body, 3).eval()  # pads read as id 0
        careless.head = model.head
        careless_together, _ = careless(batch)
    assert (together - alone).abs().max() < 1e-5
    assert (careless_together - alone).abs().max() > 1e-4  # why the subclass exists
    copy = EncoderClassifier.from_pretrained(model.body, n_classes=2)
    assert isinstance(copy, EncoderClassifier) and copy.body is not model.body
    with pytest.raises(TypeError, match="body must be an lmbook Encoder"):
        EncoderClassifier(GPT(CONFIG), 3)
    with pytest.raises(ValueError, match="padding must come after"):
        model(torch.tensor([[1, PAD_ID, 2]]))


def test_chapter_7s_rebuild_runs_on_an_encoder_as_on_a_gpt():
    """A standardised head and LP-FT take an EncoderClassifier unchanged."""
    torch.manual_seed(0)
    model = EncoderClassifier.from_pretrained(tiny_encoder(), n_classes=2)
    x = torch.randint(1, 11, (32, 8))
    x[::3, 5:] = PAD_ID
    y = (x == 10).any(dim=1).long()
    standardise_head(model, x)
    assert isinstance(model.head, StandardisedLinear)
    body = {k: v.clone() for k, v in model.body.state_dict().items()}
    probe, _ = probe_then_fine_tune(
        model,
        PassageBatches(x, y, 8),
        probe_steps=4,
        tune_steps=4,
        probe_lr=1e-2,
        body_lr=1e-3,
        head_lr=1e-2,
        device="cpu",
    )
    after = model.body.state_dict()
    assert probe[-1]["step"] == 4
    assert not all(torch.equal(after[k], body[k]) for k in body)  # tuned in phase 2


def test_masking_refuses_bad_settings():
    ids = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="mask_id=3 is one of the 11 ordinary ids"):
        mask_tokens(ids, 3, 11)
    with pytest.raises(ValueError, match=r"mask_prob must be a number in \[0, 1\]"):
        mask_tokens(ids, 11, 11, mask_prob=1.5)
    with pytest.raises(ValueError, match="split must be 3 shares >= 0 that sum to 1"):
        mask_tokens(ids, 11, 11, split=(0.8, 0.1, 0.2))
    with pytest.raises(TypeError, match=r"ids must be an integer tensor \(B, T\)"):
        mask_tokens(ids.float(), 11, 11)
    with pytest.raises(ValueError, match="mask_id=5 is one of the 11 ordinary ids"):
        MaskedWindows(torch.arange(40), 2, 8, mask_id=5, vocab_size=11)


def test_doctests():
    import doctest

    from lmbook import encoder

    assert doctest.testmod(encoder).failed == 0
