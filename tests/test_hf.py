"""lmbook's GPT and Hugging Face's GPT-2: the same model, converted both ways, offline."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach the Hub

import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

import lmbook
from lmbook.finetune import PAD_ID, hidden_states
from lmbook.hf import (
    from_gpt2,
    from_pretrained_gpt2,
    gpt2_classifier_inputs,
    gpt2_classifier_rows,
    gpt2_state_dict,
    to_gpt2,
    to_gpt2_classifier,
    train_gpt2_classifier,
    trainer_settings,
)
from lmbook.transformer import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def small_gpt(**changes) -> GPT:
    lmbook.seed(0)
    config = GPTConfig(vocab_size=37, block_size=24, n_layer=2, n_head=4, n_embd=32)
    model = GPT(GPTConfig(**{**config.__dict__, **changes})).double()
    with torch.no_grad():  # weights that are not the initial ones: biases and norms too
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def ids(n: int = 20) -> torch.Tensor:
    return torch.randint(37, (3, n), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("tie_weights", [True, False])
def test_to_gpt2_gives_the_same_logits_and_back_gives_the_same_weights(tie_weights):
    model = small_gpt(tie_weights=tie_weights)
    hf = to_gpt2(model)
    x = ids()
    ours = model(x)[0]
    theirs = hf(x).logits
    assert theirs.dtype == torch.float64
    assert (ours - theirs).abs().max().item() <= 1e-6
    back = from_gpt2(hf)
    assert (back(x)[0] - ours).abs().max().item() <= 1e-6
    for name, tensor in model.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name
    assert (back.lm_head.weight is back.tok_emb.weight) == tie_weights


def test_huggingface_greedy_generation_writes_lmbooks_text():
    model = small_gpt()
    prompt = [3, 1, 4, 1, 5]
    ours = model.generate(prompt, max_new_tokens=15, top_k=1)
    out = to_gpt2(model).generate(
        torch.tensor([prompt]), max_new_tokens=15, do_sample=False, pad_token_id=0
    )
    assert out[0, len(prompt) :].tolist() == ours


def test_a_gpt2_with_the_tanh_gelu_comes_over_with_it():
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=37,
        n_positions=24,
        n_embd=32,
        n_layer=2,
        n_head=4,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
    )
    hf = GPT2LMHeadModel(config).double().eval()
    model = from_gpt2(hf)
    assert all(b.mlp.gelu.approximate == "tanh" for b in model.blocks)
    x = ids()
    assert (model(x)[0] - hf(x).logits).abs().max().item() <= 1e-6
    # and back again: to_gpt2 keeps the tanh GELU
    again = to_gpt2(model)
    assert again.config.activation_function == "gelu_new"
    assert (again(x).logits - hf(x).logits).abs().max().item() <= 1e-6


def test_from_pretrained_loads_a_saved_gpt2_without_the_network(tmp_path):
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=24, n_layer=2, n_head=2)
    hf = GPT2LMHeadModel(config).eval()
    hf.save_pretrained(tmp_path)
    model = from_pretrained_gpt2(tmp_path)
    x = torch.randint(50, (2, 16), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(model(x)[0], hf(x).logits, atol=1e-5, rtol=1e-5)


def test_the_qkv_blocks_and_conv1d_transposes_are_where_gpt2_expects_them():
    model = small_gpt()
    state = gpt2_state_dict(model)
    attn = model.blocks[1].attn
    C = model.config.n_embd
    c_attn = state["transformer.h.1.attn.c_attn.weight"]  # (in, 3 out)
    assert c_attn.shape == (C, 3 * C)
    assert torch.equal(c_attn[:, C : 2 * C], attn.W_k.weight.T)
    assert torch.equal(state["transformer.h.1.mlp.c_fc.weight"], model.blocks[1].mlp.fc.weight.T)


@pytest.mark.parametrize(
    "changes, message",
    [({"positions": "sinusoidal"}, "positions"), ({"bias": False}, "bias")],
)
def test_a_gpt_that_gpt2_cannot_hold_is_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        to_gpt2(small_gpt(**changes))


def test_an_encoder_is_refused_since_gpt2_is_causal():
    from lmbook.encoder import Encoder

    encoder = Encoder(GPTConfig(vocab_size=37, block_size=24, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(
        TypeError, match="model must not be of type Encoder: GPT-2 is causal, an Encoder is not"
    ):
        to_gpt2(encoder)


def test_from_gpt2_refuses_what_is_not_a_gpt2():
    with pytest.raises(TypeError, match="hf_model"):
        from_gpt2(small_gpt())
    with pytest.raises(TypeError, match="model"):
        to_gpt2(torch.nn.Linear(2, 2))


# --- the classifier hand-off: GPT2ForSequenceClassification and Trainer ----------------


def passages() -> tuple[torch.Tensor, torch.Tensor]:
    """Three passages of 9, 5 and 2 ids in 1 … 36, padded with PAD_ID; their lengths."""
    lengths = torch.tensor([9, 5, 2])
    x = torch.randint(1, 37, (3, 9), generator=torch.Generator().manual_seed(3))
    x[torch.arange(9) >= lengths[:, None]] = PAD_ID
    return x, lengths


def test_the_classifiers_transformer_computes_the_bodys_hidden_states():
    model = small_gpt()
    hf = to_gpt2_classifier(model, num_labels=4, pad_token_id=0)
    assert type(hf).__name__ == "GPT2ForSequenceClassification" and not hf.training
    assert hf.score.weight.shape == (4, 32) and hf.score.bias is None
    x = ids()
    theirs = hf.transformer(x).last_hidden_state
    assert theirs.dtype == torch.float64
    assert (theirs - hidden_states(model, x)).abs().max().item() <= 1e-6
    state = gpt2_state_dict(model)
    for name, tensor in hf.state_dict().items():
        if name in state:
            assert torch.equal(tensor, state[name]), name


def test_the_inputs_make_gpt2_pool_each_passages_last_character():
    model = small_gpt()
    hf = to_gpt2_classifier(model, num_labels=3, pad_token_id=0)
    x, lengths = passages()
    inputs = gpt2_classifier_inputs(x, pad_token_id=0)
    assert torch.equal(inputs["attention_mask"], (x != PAD_ID).long())
    assert (inputs["input_ids"][x == PAD_ID] == 0).all()
    with torch.no_grad():
        pooled = hf(**inputs).logits  # (3, 3)
        h = hidden_states(model, x.clamp(min=0))  # (3, 9, C)
        last = hf.score(h[torch.arange(3), lengths - 1])  # each last character's
        alone = torch.cat(
            [hf(x[i : i + 1, : lengths[i]]).logits for i in range(3)]
        )  # no padding at all
    assert (pooled - last).abs().max().item() <= 1e-6
    assert (pooled - alone).abs().max().item() <= 1e-6
    x[1, 2] = 0  # a passage holding the pad id: GPT-2 would pool the wrong token
    with pytest.raises(ValueError, match=r"pad_token_id=0 occurs in 1 passage\(s\) \(rows 1\)"):
        gpt2_classifier_inputs(x, pad_token_id=0)
    with pytest.raises(ValueError, match="padding must come after"):
        gpt2_classifier_inputs(torch.tensor([[1, PAD_ID, 2]]), pad_token_id=0)


def test_the_rows_batch_with_transformers_collator_into_the_classifiers_loss():
    from transformers import default_data_collator

    model = small_gpt()
    hf = to_gpt2_classifier(model, num_labels=3, pad_token_id=0).train()
    x, _ = passages()
    labels = torch.tensor([2, 0, 1])
    rows = gpt2_classifier_rows(x, labels, pad_token_id=0)
    assert sorted(rows[0]) == ["attention_mask", "input_ids", "labels"]
    batch = default_data_collator(rows)
    out = hf(**batch)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels))
    out.loss.backward()
    assert hf.transformer.h[0].attn.c_attn.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"labels must be \(N,\) = \(3,\)"):
        gpt2_classifier_rows(x, torch.tensor([0, 1]), pad_token_id=0)


def test_the_classifier_refuses_what_it_cannot_hold():
    with pytest.raises(ValueError, match="num_labels must be an int >= 2, got 1"):
        to_gpt2_classifier(small_gpt(), num_labels=1, pad_token_id=0)
    with pytest.raises(ValueError, match=r"pad_token_id must be an int in \[0, 36\], got 37"):
        to_gpt2_classifier(small_gpt(), num_labels=2, pad_token_id=37)
    with pytest.raises(TypeError, match="hf_model must be a transformers"):
        train_gpt2_classifier(small_gpt(), *passages(), steps=1, lr=1e-3, batch_size=2)


def test_trainer_settings_are_training_arguments_that_report_and_save_nothing(tmp_path):
    import inspect

    from transformers import TrainingArguments

    settings = trainer_settings(tmp_path, steps=5, lr=1e-3, batch_size=4, seed=7)
    fields = inspect.signature(TrainingArguments).parameters
    assert set(settings) <= set(fields), set(settings) - set(fields)
    assert settings["report_to"] == "none" and settings["save_strategy"] == "no"
    assert settings["use_cpu"] == (not torch.cuda.is_available())
    assert settings["seed"] == settings["data_seed"] == 7
    assert settings["max_steps"] == 5 and settings["warmup_steps"] == 1  # max(1, int(.5))
    assert settings["dataloader_drop_last"] and settings["adam_beta2"] == 0.95
    assert settings["weight_decay"] == 0.1  # fine_tune_classifier's default too
    assert trainer_settings(tmp_path, steps=5, lr=1e-3, batch_size=4, seed=7)["seed"] == 7
    assert (
        trainer_settings(tmp_path, steps=5, lr=1, batch_size=4, max_grad_norm=2)["max_grad_norm"]
        == 2
    )  # extra fields win
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        trainer_settings(tmp_path, steps=0, lr=1e-3, batch_size=4)
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        trainer_settings(tmp_path, steps=1, lr=0, batch_size=4)
    with pytest.raises(ValueError, match=r"warmup must be a number in \[0, 1\)"):
        trainer_settings(tmp_path, steps=1, lr=1e-3, batch_size=4, warmup=1.0)


def test_a_trainer_run_lowers_the_loss_on_a_separable_task(capsys):
    # Trainer needs accelerate, which requirements.txt pins: a missing one fails here
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=16))
    hf = to_gpt2_classifier(model, num_labels=2, pad_token_id=0)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 12, (64, 8), generator=g)
    y = (x == 11).any(dim=1).long()  # is there an 11 in the passage?
    log = train_gpt2_classifier(hf, x, y, steps=60, lr=3e-3, batch_size=16, seed=0)
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert len(losses) >= 20  # one entry a step (logging_steps=1)
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.1
    assert capsys.readouterr().out == ""  # the logs are returned, not printed


def test_gpt2_names_is_one_table_for_both_directions() -> None:
    from lmbook.hf import gpt2_names

    names = gpt2_names(2)
    assert len(names) == 4 + 2 * (4 + 6)  # embeddings, ln_f; per layer 2 norms, 3 linears
    assert len({ours for ours, _, _ in names}) == len({theirs for _, theirs, _ in names}) == 24
    transposed = {ours for ours, _, t in names if t}
    assert transposed == {
        f"blocks.{i}.{m}.weight" for i in (0, 1) for m in ("attn.W_o", "mlp.fc", "mlp.proj")
    }
    with pytest.raises(ValueError, match="n_layer must be an int >= 1, got 0"):
        gpt2_names(0)


# --- Trainer against the book's loop: the same recipe, step for step ---------------------


def test_trainers_schedule_is_the_books_warmup_cosine(tmp_path) -> None:
    from transformers import get_scheduler

    from lmbook.training import warmup_cosine

    settings = trainer_settings(tmp_path, steps=50, lr=1.0, batch_size=4)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = get_scheduler(
        settings["lr_scheduler_type"],
        optimizer,
        num_warmup_steps=settings["warmup_steps"],
        num_training_steps=50,
        scheduler_specific_kwargs=settings["lr_scheduler_kwargs"],
    )
    theirs = []
    for _ in range(50):
        theirs.append(optimizer.param_groups[0]["lr"])  # the rate this step uses
        optimizer.step()
        schedule.step()
    ours = [warmup_cosine(k, warmup_steps=5, total_steps=50, min_ratio=0.1) for k in range(50)]
    assert theirs == pytest.approx(ours, abs=1e-12)


def top_block_trainable(book, hf) -> None:
    """Train the top block, the final LayerNorm and the head's weight, in both."""
    for model in (book, hf):
        model.requires_grad_(False)
    for part in (book.body.blocks[-1], book.body.ln_f, hf.transformer.h[-1]):
        part.requires_grad_(True)
    for part in (hf.transformer.ln_f, hf.score, book.head.weight):
        part.requires_grad_(True)


def test_trainer_takes_the_same_steps_as_the_books_loop() -> None:
    from lmbook.finetune import GPTClassifier, PassageBatches, fine_tune_classifier

    model = small_gpt()
    torch.manual_seed(0)
    hf = to_gpt2_classifier(model, num_labels=3, pad_token_id=0)
    weights = torch.tensor([1.0, 2.0, 0.5])
    book = GPTClassifier.from_pretrained(model, 3, pooling="last", class_weights=weights)
    book = book.double()
    with torch.no_grad():  # GPT-2's head: its initial weights, no bias
        book.head.weight.copy_(hf.score.weight)
        book.head.bias.zero_()
    top_block_trainable(book, hf)
    x, _ = passages()
    y = torch.tensor([2, 0, 1])
    recipe = {"steps": 4, "weight_decay": 0.1}
    # one batch holds every passage, so the two loops read the same batches
    train_gpt2_classifier(hf, x, y, weights, lr=3e-2, batch_size=3, seed=0, **recipe)
    batches = PassageBatches(x, y, batch_size=3, seed=0)
    fine_tune_classifier(book, batches, body_lr=3e-2, head_lr=3e-2, device="cpu", **recipe)
    state = gpt2_state_dict(book.body)
    moved = 0.0
    for name, tensor in hf.state_dict().items():
        if name in state:
            assert (tensor - state[name]).abs().max().item() <= 1e-9, name
            moved = max(moved, (tensor - gpt2_state_dict(model)[name]).abs().max().item())
    assert moved > 1e-2  # the top block did train
    assert (hf.score.weight - book.head.weight).abs().max().item() <= 1e-9
    assert torch.equal(
        hf.transformer.h[0].mlp.c_fc.weight, state["transformer.h.0.mlp.c_fc.weight"]
    )


def test_trainers_first_pass_is_passage_batches_first_pass_then_the_orders_part() -> None:
    """accelerate's SeedableRandomSampler seeds pass e with data_seed + e; PassageBatches
    draws every pass from one generator seeded with seed: the same first pass only.
    A small max_grad_norm / clip makes the clipping act at every step."""
    from lmbook.finetune import GPTClassifier, PassageBatches, fine_tune_classifier

    model = small_gpt()
    torch.manual_seed(0)
    hf = to_gpt2_classifier(model, num_labels=3, pad_token_id=0)
    book = GPTClassifier.from_pretrained(model, 3, pooling="last").double()
    with torch.no_grad():
        book.head.weight.copy_(hf.score.weight)
        book.head.bias.zero_()
    top_block_trainable(book, hf)
    x = torch.randint(1, 37, (6, 9), generator=torch.Generator().manual_seed(4))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    recipe = {"steps": 6, "weight_decay": 0.1}  # two passes of three batches
    log = train_gpt2_classifier(
        hf, x, y, lr=3e-2, batch_size=2, seed=5, max_grad_norm=0.01, **recipe
    )
    history = fine_tune_classifier(
        book,
        PassageBatches(x, y, batch_size=2, seed=5),
        body_lr=3e-2,
        head_lr=3e-2,
        device="cpu",
        clip=0.01,
        log_every=1,
        **recipe,
    )
    theirs = [e for e in log if "loss" in e]
    ours = [e for e in history if "loss" in e]
    assert len(theirs) == len(ours) == 6
    for a, b in zip(theirs[:3], ours[:3], strict=True):  # pass 1: the same batches
        # (Trainer keeps its logged loss in float32)
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-6)
        assert a["grad_norm"] > 0.01  # clipped
    gaps = [abs(a["loss"] - b["loss"]) for a, b in zip(theirs[3:], ours[3:], strict=True)]
    assert max(gaps) > 1e-6  # pass 2: Trainer reseeds, PassageBatches does not


def test_fine_tune_classifier_logs_every_ten_steps_unless_told() -> None:
    from lmbook.finetune import GPTClassifier, PassageBatches, fine_tune_classifier

    book = GPTClassifier.from_pretrained(small_gpt(), 3, freeze_body=True).double()
    x = torch.randint(1, 37, (6, 9), generator=torch.Generator().manual_seed(4))
    batches = PassageBatches(x, torch.tensor([0, 1, 2, 0, 1, 2]), batch_size=2)
    kwargs = {"steps": 20, "body_lr": 1e-3, "head_lr": 1e-3, "device": "cpu"}
    default = fine_tune_classifier(book, batches, **kwargs)
    assert [e["step"] for e in default if "loss" in e] == [10, 20]
    every = fine_tune_classifier(book, batches, log_every=1, **kwargs)
    assert [e["step"] for e in every if "loss" in e] == list(range(1, 21))


@pytest.mark.parametrize(
    "setting",
    [{"scale_attn_weights": False}, {"scale_attn_by_inverse_layer_idx": True}],
)
def test_from_gpt2_refuses_attention_that_lmbooks_gpt_does_not_compute(setting) -> None:
    hf = to_gpt2(small_gpt())
    for name, value in setting.items():
        setattr(hf.config, name, value)
    (name,) = setting
    with pytest.raises(ValueError, match=f"the GPT-2's {name} is"):
        from_gpt2(hf)


def test_collate_trimmed_cuts_each_batch_to_its_longest_passage() -> None:
    from lmbook.hf import collate_trimmed

    x, _ = passages()
    rows = gpt2_classifier_rows(x[1:], torch.tensor([0, 1]), pad_token_id=0)
    batch = collate_trimmed(rows)
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (2, 5)
    assert batch["labels"].tolist() == [0, 1]


def test_gpt2_predict_is_the_argmax_of_the_whole_batch() -> None:
    from lmbook.hf import gpt2_predict

    hf = to_gpt2_classifier(small_gpt(), num_labels=3, pad_token_id=0).train()
    x, _ = passages()
    with torch.no_grad():
        hf.eval()
        expected = hf(**gpt2_classifier_inputs(x, pad_token_id=0)).logits.argmax(dim=-1)
        hf.train()
    assert torch.equal(gpt2_predict(hf, x, batch_size=2), expected)
    assert hf.training  # restored


# --- going further: the Hub, GPT-2's tokens, nats per character (all offline) ------------


def test_hub_reachable_is_false_offline_and_when_the_connection_fails(monkeypatch) -> None:
    import socket

    from lmbook.hf import hub_reachable

    calls = []

    def opens(address, timeout):
        calls.append((address, timeout))
        return socket.socket()  # closed by the with-block

    def fails(address, timeout):
        raise OSError("no network")

    monkeypatch.setattr(socket, "create_connection", opens)
    assert not hub_reachable()  # HF_HUB_OFFLINE=1 here: no connection is even tried
    assert calls == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert hub_reachable(timeout=0.5)
    assert calls == [(("huggingface.co", 443), 0.5)]
    monkeypatch.setattr(socket, "create_connection", fails)
    assert not hub_reachable()
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", opens)
    assert not hub_reachable()
    with pytest.raises(ValueError, match="timeout must be a number > 0"):
        hub_reachable(timeout=0)


@pytest.fixture(scope="module")
def tiny_tokenizer():
    """A byte-level BPE of 300 tokens trained on a little Shakespeare, as a transformers
    tokenizer: GPT-2's kind of tokenizer, made offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from lmbook import data

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
    )
    tokenizer.train_from_iterator([data.shakespeare("train")[:30_000]], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>")


def test_nats_per_char_sums_the_tokens_nats_over_their_characters(tmp_path, tiny_tokenizer):
    from lmbook.hf import subword_nats_per_char

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tiny_tokenizer), n_positions=64, n_embd=24, n_layer=2, n_head=2
    )
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    hf = GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    model = from_pretrained_gpt2(tmp_path)  # the path the notebook's Colab cell takes
    text = "But, soft! what light through yonder window breaks?\nIt is the east."
    ids = tiny_tokenizer.encode(text)
    assert 10 < len(ids) < 64 and tiny_tokenizer.decode(ids) == text
    with torch.no_grad():
        logits = hf(torch.tensor([ids])).logits[0, :-1]  # predicts tokens 2 …
        total = F.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()
    first = len(tiny_tokenizer.decode(ids[:1]))
    expected = total / (len(text) - first)
    assert subword_nats_per_char(model, tiny_tokenizer, text) == pytest.approx(expected, rel=1e-5)
    # a longer text slides the 64-token windows and still counts every character once
    long = text * 6
    assert len(tiny_tokenizer.encode(long)) > 64
    slid = subword_nats_per_char(model, tiny_tokenizer, long, stride=32)
    assert 0 < slid < 10
    one_by_one = subword_nats_per_char(model, tiny_tokenizer, long, stride=32, batch_size=1)
    assert one_by_one == pytest.approx(slid, rel=1e-6)


def test_nats_per_char_refuses_a_tokenizer_that_loses_characters(tmp_path, tiny_tokenizer):
    from lmbook.hf import subword_nats_per_char

    class Lossy:
        def encode(self, text, add_special_tokens=False):
            return tiny_tokenizer.encode(text.lower())

        def decode(self, ids):
            return tiny_tokenizer.decode(ids)

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tiny_tokenizer), n_positions=64, n_embd=8, n_layer=1, n_head=2
    )
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    model = from_pretrained_gpt2(tmp_path)
    with pytest.raises(
        ValueError, match=r"differs at character 0 \('To be, or not to be' became 'to"
    ):
        subword_nats_per_char(model, Lossy(), "To be, or not to be")


def test_a_tokenized_gpt2_fine_tunes_on_passages_as_the_colab_cell_does(tmp_path, tiny_tokenizer):
    from lmbook.hf import gpt2_predict, tokenize_passages

    texts = ["The king is dead.", "Sweet love, adieu!", "A horse!", "Come, Kate, to bed."]
    ids, lengths = tokenize_passages(texts, tiny_tokenizer)
    assert ids.shape == (4, int(lengths.max())) and (ids[0, : lengths[0]] >= 0).all()
    assert (ids[2, lengths[2] :] == PAD_ID).all()
    assert tiny_tokenizer.decode(ids[1, : lengths[1]].tolist()) == texts[1]
    assert tokenize_passages(texts, tiny_tokenizer, max_len=2)[0].shape == (4, 2)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tiny_tokenizer), n_positions=32, n_embd=16, n_layer=1, n_head=2
    )
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    model = from_pretrained_gpt2(tmp_path)
    eos = tiny_tokenizer.eos_token_id
    hf = to_gpt2_classifier(model, num_labels=2, pad_token_id=eos)
    y = torch.tensor([0, 1, 0, 1])
    log = train_gpt2_classifier(
        hf, ids, y, torch.tensor([1.0, 1.0]), steps=3, lr=1e-3, batch_size=2
    )
    assert len([e for e in log if "loss" in e]) == 3
    assert gpt2_predict(hf, ids).shape == (4,)
