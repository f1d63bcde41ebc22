"""The hand-off to Hugging Face: lmbook's GPT as a `transformers` GPT-2, and back.

lmbook's GPT has GPT-2's layout (pre-LayerNorm blocks, learned positions, a GELU MLP of
width 4C, an output layer tied to the token embedding), so the same numbers fit both::

    >>> hf_model = to_gpt2(model)            # a transformers.GPT2LMHeadModel  # doctest: +SKIP
    >>> again = from_gpt2(hf_model)          # an lmbook GPT, the same logits  # doctest: +SKIP
    >>> gpt2 = from_pretrained_gpt2("gpt2")  # GPT-2 small from the Hub (network)  # doctest: +SKIP

Three things differ in how the weights are stored, and the conversion handles each:

- GPT-2 projects queries, keys and values with one matrix, `c_attn` (C, 3C); lmbook
  with three, `W_q`, `W_k`, `W_v`: they are its three column blocks.
- GPT-2's linear layers are `Conv1D` modules, whose weight is (in, out): the transpose
  of a `torch.nn.Linear`'s (out, in).
- GPT-2's GELU is the tanh approximation ("gelu_new"), lmbook's the exact one. `to_gpt2`
  asks `transformers` for the exact GELU ("gelu"); `from_gpt2` gives each of lmbook's
  MLPs the GELU the GPT-2 config names, so the logits agree either way.

`transformers` is imported only when a function here is called: nothing else in lmbook
needs it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lmbook.encoder import Encoder
from lmbook.transformer import GPT, GPTConfig
from lmbook.validate import check_choice, check_not_type, check_type

# GPT-2's activation names (transformers' ACT2FN) -> the torch GELU they compute
GELUS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}


def to_gpt2(model: GPT):
    """A `transformers.GPT2LMHeadModel` with model's weights, dtype and device (eval mode)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    check_type("model", model, GPT, "an lmbook GPT")
    check_not_type("model", model, Encoder, "GPT-2 is causal; an Encoder reads both ways")
    c = model.config
    check_choice("model.config.positions", c.positions, ("learned",))  # GPT-2's kind
    check_choice("model.config.bias", c.bias, (True,))  # GPT-2 has every bias
    approximate = {block.mlp.gelu.approximate for block in model.blocks}
    activation = {"none": "gelu", "tanh": "gelu_new"}[approximate.pop()]
    config = GPT2Config(
        vocab_size=c.vocab_size,
        n_positions=c.block_size,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        activation_function=activation,
        resid_pdrop=c.dropout,
        embd_pdrop=c.dropout,
        attn_pdrop=c.dropout,
        layer_norm_epsilon=model.ln_f.eps,
        tie_word_embeddings=c.tie_weights,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    weight = model.lm_head.weight
    hf = GPT2LMHeadModel(config).to(dtype=weight.dtype, device=weight.device)
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model), strict=False)
    # masks that some versions keep as buffers are not weights; nothing else may miss
    if unexpected or not all(k.endswith(".attn.bias") for k in missing):
        raise RuntimeError(f"GPT-2 did not take the weights: {missing=}, {unexpected=}")
    return hf.eval()


def from_gpt2(hf_model) -> GPT:
    """An lmbook GPT with a `transformers` GPT-2's weights, dtype and device (eval mode)."""
    from transformers import GPT2LMHeadModel

    check_type("hf_model", hf_model, GPT2LMHeadModel, "a transformers.GPT2LMHeadModel")
    h = hf_model.config
    check_choice("the GPT-2's activation_function", h.activation_function, tuple(GELUS))
    config = GPTConfig(
        vocab_size=h.vocab_size,
        block_size=h.n_positions,
        n_layer=h.n_layer,
        n_head=h.n_head,
        n_embd=h.n_embd,
        tie_weights=h.tie_word_embeddings,
    )
    weight = hf_model.lm_head.weight
    model = GPT(config).to(dtype=weight.dtype, device=weight.device)
    for block in model.blocks:
        block.mlp.gelu = nn.GELU(approximate=GELUS[h.activation_function])
    for norm in (*(m for b in model.blocks for m in (b.ln_1, b.ln_2)), model.ln_f):
        norm.eps = h.layer_norm_epsilon
    model.load_state_dict(lmbook_state_dict(hf_model.state_dict(), config))
    return model.eval()


def from_pretrained_gpt2(name_or_path: str | Path = "gpt2") -> GPT:
    """GPT-2's weights (a Hub name such as "gpt2", or a local folder) in lmbook's GPT.

    A Hub name needs the network the first time (`transformers` caches the files); a
    folder written by `save_pretrained` needs none.
    """
    from transformers import GPT2LMHeadModel

    return from_gpt2(GPT2LMHeadModel.from_pretrained(str(name_or_path)))


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """model's weights under GPT-2's names and layouts (Conv1D: (in, out); c_attn: q|k|v)."""
    state, out = model.state_dict(), {}
    out["transformer.wte.weight"] = state["tok_emb.weight"]
    out["transformer.wpe.weight"] = state["pos_emb.weight"]
    for i in range(model.config.n_layer):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for norm in ("ln_1", "ln_2"):
            for p in ("weight", "bias"):
                out[f"{theirs}{norm}.{p}"] = state[f"{ours}{norm}.{p}"]
        qkv = [state[f"{ours}attn.W_{x}.weight"] for x in "qkv"]  # each (C, C): (out, in)
        out[f"{theirs}attn.c_attn.weight"] = torch.cat(qkv, dim=0).T  # (C, 3C)
        out[f"{theirs}attn.c_attn.bias"] = torch.cat(
            [state[f"{ours}attn.W_{x}.bias"] for x in "qkv"]
        )
        pairs = [("attn.c_proj", "attn.W_o"), ("mlp.c_fc", "mlp.fc"), ("mlp.c_proj", "mlp.proj")]
        for conv, linear in pairs:
            out[f"{theirs}{conv}.weight"] = state[f"{ours}{linear}.weight"].T
            out[f"{theirs}{conv}.bias"] = state[f"{ours}{linear}.bias"]
    out["transformer.ln_f.weight"] = state["ln_f.weight"]
    out["transformer.ln_f.bias"] = state["ln_f.bias"]
    out["lm_head.weight"] = state["lm_head.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def lmbook_state_dict(state: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """A GPT-2 state dict (GPT2LMHeadModel's names) under lmbook's names and layouts."""
    C, out = config.n_embd, {}
    out["tok_emb.weight"] = state["transformer.wte.weight"]
    out["pos_emb.weight"] = state["transformer.wpe.weight"]
    for i in range(config.n_layer):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for norm in ("ln_1", "ln_2"):
            for p in ("weight", "bias"):
                out[f"{ours}{norm}.{p}"] = state[f"{theirs}{norm}.{p}"]
        w, b = state[f"{theirs}attn.c_attn.weight"], state[f"{theirs}attn.c_attn.bias"]
        for j, x in enumerate("qkv"):
            out[f"{ours}attn.W_{x}.weight"] = w[:, j * C : (j + 1) * C].T
            out[f"{ours}attn.W_{x}.bias"] = b[j * C : (j + 1) * C]
        pairs = [("attn.c_proj", "attn.W_o"), ("mlp.c_fc", "mlp.fc"), ("mlp.c_proj", "mlp.proj")]
        for conv, linear in pairs:
            out[f"{ours}{linear}.weight"] = state[f"{theirs}{conv}.weight"].T
            out[f"{ours}{linear}.bias"] = state[f"{theirs}{conv}.bias"]
    out["ln_f.weight"] = state["transformer.ln_f.weight"]
    out["ln_f.bias"] = state["transformer.ln_f.bias"]
    head = state.get("lm_head.weight", state["transformer.wte.weight"])  # tied: one tensor
    out["lm_head.weight"] = head
    return {k: v.contiguous() for k, v in out.items()}
