"""lmbook.finetune: hidden states and the classifier built on a pre-trained GPT."""

import pytest
import torch

from lmbook.finetune import hidden_states
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
