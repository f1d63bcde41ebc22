"""lmbook's GPT and Hugging Face's GPT-2: the same model, converted both ways, offline."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach the Hub

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import lmbook
from lmbook.hf import from_gpt2, from_pretrained_gpt2, gpt2_state_dict, to_gpt2
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
    with pytest.raises(TypeError, match="model must not be of type Encoder: GPT-2 is causal"):
        to_gpt2(encoder)


def test_from_gpt2_refuses_what_is_not_a_gpt2():
    with pytest.raises(TypeError, match="hf_model"):
        from_gpt2(small_gpt())
    with pytest.raises(TypeError, match="model"):
        to_gpt2(torch.nn.Linear(2, 2))
