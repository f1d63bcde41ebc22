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
    assert settings["max_steps"] == 5 and settings["warmup_steps"] == 0.1
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        trainer_settings(tmp_path, steps=0, lr=1e-3, batch_size=4)
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        trainer_settings(tmp_path, steps=1, lr=0, batch_size=4)
    with pytest.raises(ValueError, match=r"warmup must be a number in \[0, 1\)"):
        trainer_settings(tmp_path, steps=1, lr=1e-3, batch_size=4, warmup=1.0)


def test_a_trainer_run_lowers_the_loss_on_a_separable_task():
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
