"""lmbook.finetune: hidden states and the classifier built on a pre-trained GPT."""

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from lmbook import finetune
from lmbook.finetune import (
    PAD_ID,
    GPTClassifier,
    PassageBatches,
    StandardisedLinear,
    classifier_param_groups,
    encode_passages,
    fine_tune_classifier,
    hidden_states,
    passage_features,
    predict,
    probe_then_fine_tune,
    standardise_head,
)
from lmbook.metrics import macro_f1
from lmbook.text import Vocab
from lmbook.training import train
from lmbook.transformer import GPT, GPTConfig


def tiny_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8))


def test_hidden_states_are_what_the_head_reads():
    model = tiny_gpt().eval()
    idx = torch.randint(0, 11, (3, 9))
    h = hidden_states(model, idx)
    assert h.shape == (3, 9, 8)
    logits, _ = model(idx)
    torch.testing.assert_close(model.lm_head(h), logits, rtol=0, atol=0)
    assert len(model.ln_f._forward_hooks) == 0  # the hook is removed


def test_hidden_states_are_causal():
    model = tiny_gpt().eval()
    idx = torch.randint(0, 11, (1, 12))
    changed = idx.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 11
    a, b = hidden_states(model, idx), hidden_states(model, changed)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_hidden_states_rejects_other_models_and_bad_ids():
    with pytest.raises(TypeError, match="model must be an lmbook GPT"):
        hidden_states(torch.nn.Linear(2, 2), torch.zeros(1, 2, dtype=torch.long))
    model = tiny_gpt()
    with pytest.raises(ValueError, match="this model knows ids"):
        hidden_states(model, torch.full((1, 3), 11))
    assert len(model.ln_f._forward_hooks) == 0  # removed even when the forward fails


# --- the classifier (chapter 7) ----------------------------------------------------------


def test_encode_passages_pads_at_the_end_and_crops():
    vocab = Vocab(list("abcd"))
    ids, lengths = encode_passages(["abcd", "b", "dca"], vocab, max_len=3)
    assert ids.dtype == torch.long and ids.shape == (3, 3)
    assert lengths.tolist() == [3, 1, 3]
    assert ids[1].tolist() == [vocab.stoi["b"], PAD_ID, PAD_ID]
    assert vocab.decode(ids[0].tolist()) == list("abc")  # the first max_len characters
    ids, _ = encode_passages(["az"], vocab, max_len=5)
    assert ids[0, 1] == vocab.unk_id and ids.shape == (1, 2)
    with pytest.raises(TypeError, match="got a str"):
        encode_passages("abc", vocab, 3)
    with pytest.raises(ValueError, match="passage 1 must be a non-empty str"):
        encode_passages(["a", ""], vocab, 3)
    with pytest.raises(ValueError, match="max_len must be an int >= 1"):
        encode_passages(["a"], vocab, 0)


def test_padding_changes_no_logit():
    torch.manual_seed(0)
    model = GPTClassifier(tiny_gpt(), n_classes=3).double().eval()
    vocab = Vocab(list("abcdefghij"))
    texts = ["abcdefghij", "jih", "a", "cafe"]
    ids, _ = encode_passages(texts, vocab, max_len=16)
    for pooling in ("mean", "last"):
        model.pooling = pooling
        batch, _ = model(ids)  # (4, 3): padded to 10 characters
        for i, text in enumerate(texts):
            alone, _ = model(encode_passages([text], vocab, 16)[0])  # (1, 3): no padding
            torch.testing.assert_close(batch[i], alone[0], rtol=0, atol=1e-12)


def test_pooling_against_hidden_states():
    model = GPTClassifier(tiny_gpt(), n_classes=4).double().eval()
    idx = torch.tensor([[1, 2, 3, PAD_ID], [4, 5, 6, 7]])
    h = hidden_states(model.body, idx.clamp(min=0))  # (2, 4, 8)
    expected = torch.stack([h[0, :3].mean(0), h[1].mean(0)])
    torch.testing.assert_close(model.features(idx), expected, rtol=0, atol=1e-12)
    model.pooling = "last"
    torch.testing.assert_close(model.features(idx), torch.stack([h[0, 2], h[1, 3]]))
    logits, loss = model(idx, torch.tensor([0, 3]))
    assert logits.shape == (2, 4)
    expected_loss = F.cross_entropy(model.head(h[[0, 1], [2, 3]]), torch.tensor([0, 3]))
    torch.testing.assert_close(loss, expected_loss, rtol=0, atol=1e-12)


def test_from_pretrained_copies_the_body_and_freezing_trains_the_head_only():
    gpt = tiny_gpt()
    model = GPTClassifier.from_pretrained(gpt, n_classes=3, freeze_body=True)
    assert model.body is not gpt
    for a, b in zip(model.body.parameters(), gpt.parameters(), strict=True):
        assert torch.equal(a, b) and a is not b
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = PassageBatches(torch.randint(0, 11, (8, 5)), torch.tensor([0, 1, 2] * 2 + [0, 1]), 4)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    train(model, batches, optimizer, steps=3, device="cpu", progress=False)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"head.weight", "head.bias"}
    model.freeze_body(False)
    assert all(p.requires_grad for p in model.parameters())


def test_training_a_classifier_learns_a_separable_task():
    torch.manual_seed(0)
    model = GPTClassifier(tiny_gpt(), n_classes=2)
    x = torch.randint(1, 11, (64, 6))
    x[::3, 4:] = PAD_ID  # some shorter passages
    y = (x == 10).any(dim=1).long()  # is there a 10 in the passage?
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train(
        model, PassageBatches(x, y, 16, seed=1), optimizer, steps=120, device="cpu", progress=False
    )
    assert (predict(model, x, batch_size=10) == y).float().mean() > 0.95
    assert model.training  # predict restores the mode


def test_passage_batches_are_reproducible_and_cut_to_the_longest():
    ids = torch.full((10, 6), PAD_ID)
    for i in range(10):
        ids[i, : i % 3 + 1] = i
    batches = PassageBatches(ids, torch.arange(10) % 2, batch_size=4, seed=3)
    first = [b for _, b in zip(range(5), batches, strict=False)]
    again = [b for _, b in zip(range(5), batches, strict=False)]
    assert all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(first, again, strict=True)
    )
    seen = torch.cat([x[:, 0] for x, _ in first[:2]])  # one pass: 2 full batches of 4
    assert len(set(seen.tolist())) == 8
    for x, y in first:
        assert x.shape[1] == int((x != PAD_ID).sum(1).max()) and torch.equal(y, x[:, 0] % 2)
    with pytest.raises(ValueError, match=r"batch_size must be an int in \[1, 10\], got 11"):
        PassageBatches(ids, torch.zeros(10, dtype=torch.long), 11)
    with pytest.raises(ValueError, match=r"labels must be \(N,\) = \(10,\)"):
        PassageBatches(ids, torch.zeros(9), 2)


def test_classifier_rejects_bad_input():
    model = GPTClassifier(tiny_gpt(), n_classes=3)
    with pytest.raises(ValueError, match="padding must come after"):
        model(torch.tensor([[1, PAD_ID, 2]]))
    with pytest.raises(ValueError, match="has no characters"):
        model(torch.tensor([[PAD_ID, PAD_ID]]))
    with pytest.raises(ValueError, match=r"targets must be \(B,\) = \(1,\)"):
        model(torch.tensor([[1, 2]]), torch.tensor([[0]]))
    with pytest.raises(ValueError, match="pooling must be one of 'mean', 'last', got 'max'"):
        GPTClassifier(tiny_gpt(), 3, pooling="max")
    with pytest.raises(ValueError, match="n_classes must be an int >= 2"):
        GPTClassifier(tiny_gpt(), 1)
    with pytest.raises(TypeError, match="body must be an lmbook GPT"):
        GPTClassifier(torch.nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="this model knows ids"):
        model(torch.tensor([[1, 11]]))


def test_passage_features_and_predict_match_the_forward_pass():
    torch.manual_seed(0)
    model = GPTClassifier(tiny_gpt(), n_classes=3)
    x = torch.randint(0, 11, (7, 6))
    x[2, 3:] = PAD_ID
    features = passage_features(model, x, batch_size=3)  # batches of 3, 3 and 1
    assert features.shape == (7, 8) and model.training
    with torch.no_grad():
        torch.testing.assert_close(features, model.eval().features(x), rtol=0, atol=1e-6)
        logits, _ = model(x)
    assert torch.equal(predict(model, x, batch_size=2), logits.argmax(-1))
    with pytest.raises(TypeError, match="model must be a GPTClassifier"):
        passage_features(tiny_gpt(), x)


def test_class_weights_weight_the_loss():
    torch.manual_seed(0)
    weights = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    model = GPTClassifier(tiny_gpt(), 3, class_weights=weights).double()
    x, t = torch.randint(0, 11, (5, 4)), torch.tensor([0, 1, 2, 1, 0])
    logits, loss = model(x, t)
    by_hand = (weights[t] * F.cross_entropy(logits, t, reduction="none")).sum() / weights[t].sum()
    torch.testing.assert_close(loss, by_hand, rtol=0, atol=1e-12)
    assert "class_weights" in model.state_dict()
    with pytest.raises(ValueError, match="class_weights must be 3 numbers > 0"):
        GPTClassifier(tiny_gpt(), 3, class_weights=[1.0, 0.0, 1.0])


def test_classifier_param_groups_give_the_body_and_head_their_rates():
    model = GPTClassifier(tiny_gpt(), 3)
    groups = classifier_param_groups(model, 0.1, body_lr=1e-3, head_lr=1e-1)
    by_name = {n: (g["lr"], g["weight_decay"]) for g in groups for n in g["param_names"]}
    assert by_name["weight"] == (0.1, 0.1) and by_name["bias"] == (0.1, 0.0)  # the head
    assert by_name["tok_emb.weight"] == (1e-3, 0.0)
    assert by_name["blocks.0.mlp.fc.weight"] == (1e-3, 0.1)
    n_params = sum(p.numel() for g in groups for p in g["params"])
    assert n_params == sum(p.numel() for p in model.parameters())  # the tied weight once
    model.freeze_body()
    assert [g["param_names"] for g in classifier_param_groups(model, 0.1, 1e-3, 1e-1)] == [
        ["weight"],
        ["bias"],
    ]
    with pytest.raises(ValueError, match="head_lr must be a number > 0"):
        classifier_param_groups(model, 0.1, 1e-3, 0)


def test_a_standardised_head_reads_features_of_mean_0_and_std_1():
    torch.manual_seed(0)
    model = GPTClassifier(tiny_gpt(), n_classes=3)
    x = torch.randint(0, 11, (40, 6))
    x[::4, 3:] = PAD_ID
    raw = passage_features(model, x)  # (40, 8): a GPT's pooled states are not centred
    assert raw.mean(dim=0).abs().max() > 0.05 or (raw.std(dim=0) - 1).abs().max() > 0.5
    weight = model.head.weight.clone()
    standardise_head(model, x, batch_size=16)
    assert isinstance(model.head, StandardisedLinear)
    assert torch.equal(model.head.weight, weight)  # the same weights, a new input
    z = model.head.standardise(raw)
    torch.testing.assert_close(z.mean(dim=0), torch.zeros(8), rtol=0, atol=1e-5)
    torch.testing.assert_close(z.std(dim=0), torch.ones(8), rtol=0, atol=1e-3)
    with torch.no_grad():  # the forward pass reads the standardised features
        logits, _ = model.eval()(x)
    torch.testing.assert_close(logits, z @ weight.T + model.head.bias, rtol=0, atol=1e-5)
    assert torch.equal(predict(model, x), logits.argmax(-1))
    assert {"head.mean", "head.std"} <= set(model.state_dict())  # saved, not trained
    assert {n for n, _ in model.head.named_parameters()} == {"weight", "bias"}


def test_a_standardised_head_refuses_features_it_cannot_fit():
    head = StandardisedLinear(4, 2)
    with pytest.raises(ValueError, match="x must have 4 features"):
        head.fit(torch.randn(5, 3))
    with pytest.raises(ValueError, match="x holds 1 example"):
        head.fit(torch.randn(1, 4))
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \(N, C\)"):
        head.fit(torch.ones(5, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="x holds NaN or infinite values"):
        head.fit(torch.tensor([[0.0, 1, 2, 3], [math.nan, 1, 2, 3]]))
    with pytest.raises(TypeError, match="model must be a GPTClassifier"):
        standardise_head(tiny_gpt(), torch.zeros(2, 3, dtype=torch.long))


def test_lp_ft_probes_with_the_body_frozen_then_tunes_it(monkeypatch):
    torch.manual_seed(0)
    model = GPTClassifier.from_pretrained(tiny_gpt(), n_classes=2)
    x = torch.randint(1, 11, (32, 6))
    y = (x == 10).any(dim=1).long()
    snapshots = []  # the body's weights after each phase

    def recorded(model, batches, **settings):
        history = fine_tune_classifier(model, batches, **settings)
        snapshots.append(({k: v.clone() for k, v in model.body.state_dict().items()}, settings))
        return history

    monkeypatch.setattr(finetune, "fine_tune_classifier", recorded)
    body = {k: v.clone() for k, v in model.body.state_dict().items()}
    head = model.head.weight.clone()
    probe, tune = probe_then_fine_tune(
        model,
        PassageBatches(x, y, 8),
        probe_steps=6,
        tune_steps=6,
        probe_lr=1e-2,
        body_lr=1e-3,
        head_lr=1e-2,
        device="cpu",
    )
    (after_probe, probe_settings), (after_tune, tune_settings) = snapshots
    assert all(torch.equal(after_probe[k], body[k]) for k in body)  # bit for bit
    assert not torch.equal(model.head.weight, head)
    changed = [k for k in body if not torch.equal(after_tune[k], body[k])]
    assert "blocks.0.attn.W_q.weight" in changed and "tok_emb.weight" in changed
    assert (probe_settings["head_lr"], tune_settings["body_lr"]) == (1e-2, 1e-3)
    assert probe[-1]["step"] == tune[-1]["step"] == 6
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="probe_steps must be an int >= 1"):
        probe_then_fine_tune(
            model,
            PassageBatches(x, y, 8),
            probe_steps=0,
            tune_steps=1,
            probe_lr=1e-2,
            body_lr=1e-3,
            head_lr=1e-2,
            device="cpu",
        )
    with pytest.raises(ValueError, match=r"warmup must be a number in \[0, 1\)"):
        fine_tune_classifier(
            model,
            PassageBatches(x, y, 8),
            steps=1,
            body_lr=1e-3,
            head_lr=1e-2,
            device="cpu",
            warmup=1.0,
        )


@pytest.mark.usefixtures("one_thread")  # the same numbers on every machine
def test_a_classifier_that_cannot_read_its_labels_collapses_onto_the_prior():
    """Chapter 7's falling from-scratch curve, in miniature (issue 17).

    The labels are random, so nothing the body can learn predicts them. With a few
    passages and many passes, the model memorises them: its logits stay spread and its
    answers spread over the classes (chance, 1/K, give or take). With many passages
    seen about twice, it cannot, and the class-weighted loss is lowest for the
    balanced prior: the body and head drive every passage's logits to the same
    values, and the argmax of near-constant logits piles onto a few classes, which
    macro-F1 scores below chance. The chapter's rule gives more labels more steps,
    so the collapse deepens as the labels grow. Same recipe as the chapter's.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 20, (3000, 24), generator=g)
    y = torch.randint(0, 4, (3000,), generator=g)
    config = GPTConfig(vocab_size=20, block_size=24, n_layer=2, n_head=2, n_embd=16)
    spread, top_share, loss, f1 = {}, {}, {}, {}
    for n in (64, 2000):
        steps = max(40, math.ceil(2 * n / 16))  # two passes, at least 40 steps
        torch.manual_seed(0)
        counts = torch.bincount(y[:n], minlength=4).float()
        model = GPTClassifier(GPT(config), 4, class_weights=n / (4 * counts))
        history = fine_tune_classifier(
            model,
            PassageBatches(x[:n], y[:n], 16),
            steps=steps,
            body_lr=3e-3,
            head_lr=1e-1,
            device="cpu",
        )
        with torch.no_grad():
            logits = model.head(passage_features(model, x[2000:]))  # (1000, 4)
        answers = Counter(answers_of(logits))
        spread[n] = logits.std(dim=0).mean().item()  # across passages
        top_share[n] = max(answers.values()) / 1000
        loss[n] = history[-1]["loss"]
        f1[n] = macro_f1(y[2000:].tolist(), answers_of(logits), labels=range(4))
    assert loss[64] < math.log(4) - 0.3  # memorised
    assert loss[2000] > math.log(4) - 0.02  # no better than the prior
    assert spread[2000] < spread[64] / 10
    assert top_share[64] < 0.4 and top_share[2000] > 0.7  # onto one class, mostly
    assert f1[2000] < 0.2 < f1[64]  # chance: 0.25, the labels balanced on average


def answers_of(logits: torch.Tensor) -> list[int]:
    return logits.argmax(dim=-1).tolist()


def test_doctests():
    import doctest

    from lmbook import finetune

    assert doctest.testmod(finetune).failed == 0
