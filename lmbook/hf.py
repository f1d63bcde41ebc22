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

For chapter 7's rebuild, `to_gpt2_classifier` puts the converted body under
`transformers`' sequence classifier, `gpt2_classifier_inputs` pads lmbook's passages so
that it pools each one's last character, and `train_gpt2_classifier` fine-tunes it with
`transformers.Trainer` (which needs the `accelerate` package)::

    >>> hf = to_gpt2_classifier(model, num_labels=6, pad_token_id=0)  # doctest: +SKIP
    >>> log = train_gpt2_classifier(hf, ids, labels, steps=200, lr=1e-3,
    ...                             batch_size=16, seed=0)             # doctest: +SKIP

`transformers` is imported only when a function here is called: nothing else in lmbook
needs it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lmbook.encoder import Encoder
from lmbook.finetune import PAD_ID
from lmbook.transformer import GPT, GPTConfig
from lmbook.validate import (
    check_choice,
    check_class_ids,
    check_int,
    check_not_type,
    check_number,
    check_pad_id_unused,
    check_padded_ids,
    check_type,
)

# GPT-2's activation names (transformers' ACT2FN) -> the torch GELU they compute
GELUS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}


def to_gpt2(model: GPT):
    """A `transformers.GPT2LMHeadModel` with model's weights, dtype and device (eval mode)."""
    from transformers import GPT2LMHeadModel

    config = gpt2_config(model)  # checks that GPT-2 can hold the model
    weight = model.lm_head.weight
    hf = GPT2LMHeadModel(config).to(dtype=weight.dtype, device=weight.device)
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model), strict=False)
    # masks that some versions keep as buffers are not weights; nothing else may miss
    if unexpected or not all(k.endswith(".attn.bias") for k in missing):
        raise RuntimeError(f"GPT-2 did not take the weights: {missing=}, {unexpected=}")
    return hf.eval()


def gpt2_config(model: GPT):
    """The `transformers.GPT2Config` of model's sizes, activation and LayerNorm epsilon.

    Refuses what GPT-2 cannot hold: sinusoidal positions, Linear layers without bias,
    and an Encoder (GPT-2 is causal).
    """
    from transformers import GPT2Config

    check_type("model", model, GPT, "an lmbook GPT")
    check_not_type("model", model, Encoder, "GPT-2 is causal, an Encoder is not")
    c = model.config
    check_choice("model.config.positions", c.positions, ("learned",))  # GPT-2's kind
    check_choice("model.config.bias", c.bias, (True,))  # GPT-2 has every bias
    approximate = {block.mlp.gelu.approximate for block in model.blocks}
    activation = {"none": "gelu", "tanh": "gelu_new"}[approximate.pop()]
    return GPT2Config(
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


def gpt2_names(n_layer: int) -> list[tuple[str, str, bool]]:
    """(lmbook's name, GPT-2's name, transposed?) of every tensor but q|k|v and the head.

    GPT-2's Conv1D keeps a weight as (in, out), nn.Linear as (out, in): those are
    transposed. GPT-2 fuses W_q, W_k and W_v into one c_attn; the converters split or
    join it, and handle the (maybe tied) head.
    """
    check_int("n_layer", n_layer)
    names = [
        ("tok_emb.weight", "transformer.wte.weight", False),
        ("pos_emb.weight", "transformer.wpe.weight", False),
        ("ln_f.weight", "transformer.ln_f.weight", False),
        ("ln_f.bias", "transformer.ln_f.bias", False),
    ]
    linears = [("attn.W_o", "attn.c_proj"), ("mlp.fc", "mlp.c_fc"), ("mlp.proj", "mlp.c_proj")]
    for i in range(n_layer):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for norm in ("ln_1", "ln_2"):
            names += [
                (f"{ours}{norm}.{p}", f"{theirs}{norm}.{p}", False) for p in ("weight", "bias")
            ]
        for linear, conv in linears:
            names.append((f"{ours}{linear}.weight", f"{theirs}{conv}.weight", True))
            names.append((f"{ours}{linear}.bias", f"{theirs}{conv}.bias", False))
    return names


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """model's weights under GPT-2's names and layouts (Conv1D: (in, out); c_attn: q|k|v)."""
    state = model.state_dict()
    out = {
        theirs: state[ours].T if t else state[ours]
        for ours, theirs, t in gpt2_names(model.config.n_layer)
    }
    for i in range(model.config.n_layer):
        ours, theirs = f"blocks.{i}.attn.W_", f"transformer.h.{i}.attn.c_attn."
        qkv = [state[f"{ours}{x}.weight"] for x in "qkv"]  # each (C, C): (out, in)
        out[f"{theirs}weight"] = torch.cat(qkv, dim=0).T  # (C, 3C)
        out[f"{theirs}bias"] = torch.cat([state[f"{ours}{x}.bias"] for x in "qkv"])
    out["lm_head.weight"] = state["lm_head.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def lmbook_state_dict(state: dict[str, torch.Tensor], config: GPTConfig) -> dict[str, torch.Tensor]:
    """A GPT-2 state dict (GPT2LMHeadModel's names) under lmbook's names and layouts."""
    C = config.n_embd
    out = {
        ours: state[theirs].T if t else state[theirs]
        for ours, theirs, t in gpt2_names(config.n_layer)
    }
    for i in range(config.n_layer):
        ours, theirs = f"blocks.{i}.attn.W_", f"transformer.h.{i}.attn.c_attn."
        w, b = state[f"{theirs}weight"], state[f"{theirs}bias"]  # (C, 3C), (3C,)
        for j, x in enumerate("qkv"):
            out[f"{ours}{x}.weight"] = w[:, j * C : (j + 1) * C].T
            out[f"{ours}{x}.bias"] = b[j * C : (j + 1) * C]
    head = state.get("lm_head.weight", state["transformer.wte.weight"])  # tied: one tensor
    out["lm_head.weight"] = head
    return {k: v.contiguous() for k, v in out.items()}


# --- a sequence classifier and transformers' Trainer (chapter 7's rebuild) ---------


def to_gpt2_classifier(model: GPT, num_labels: int, pad_token_id: int):
    """A `transformers.GPT2ForSequenceClassification` on model's body (eval mode).

    Its `transformer` holds model's weights (converted as `to_gpt2` converts them), in
    model's dtype and on its device; its head `score`, (num_labels, C) without a bias,
    is new. It classifies a row by the logits of its last token that is not
    pad_token_id: make its inputs with `gpt2_classifier_inputs`, which checks that this
    is each passage's last character.
    """
    from transformers import GPT2ForSequenceClassification

    config = gpt2_config(model)  # checks that GPT-2 can hold the model
    check_int("num_labels", num_labels, low=2)
    check_int("pad_token_id", pad_token_id, low=0, high=model.config.vocab_size - 1)
    config.num_labels = num_labels
    config.pad_token_id = pad_token_id
    config.problem_type = "single_label_classification"
    weight = model.lm_head.weight
    hf = GPT2ForSequenceClassification(config)
    hf = hf.to(dtype=weight.dtype, device=weight.device)
    state = gpt2_state_dict(model)
    body = {k: v for k, v in state.items() if k.startswith("transformer.")}  # no head
    missing, unexpected = hf.load_state_dict(body, strict=False)
    new = [k for k in missing if k != "score.weight" and not k.endswith(".attn.bias")]
    if unexpected or new:
        raise RuntimeError(f"GPT-2 did not take the weights: {missing=}, {unexpected=}")
    return hf.eval()


def gpt2_classifier_inputs(
    ids: torch.Tensor,
    pad_token_id: int,
) -> dict[str, torch.Tensor]:
    """lmbook's padded passages ids (N, T) as GPT-2's classifier reads them.

    Returns {"input_ids": ids with PAD_ID replaced by pad_token_id, "attention_mask": 1
    on the characters, 0 on the padding}, each (N, T). GPT-2 pools the last token that
    is not pad_token_id, so no passage may hold that id: then the pooled token is each
    passage's last character.
    """
    check_padded_ids("ids", ids, PAD_ID, shape="(N, T)")
    check_pad_id_unused(ids, PAD_ID, pad_token_id)
    real = ids != PAD_ID  # (N, T)
    return {
        "input_ids": ids.masked_fill(~real, pad_token_id),  # (N, T)
        "attention_mask": real.long(),  # (N, T)
    }


def gpt2_classifier_rows(
    ids: torch.Tensor, labels: torch.Tensor, pad_token_id: int
) -> list[dict[str, torch.Tensor]]:
    """One dict per passage, {"input_ids", "attention_mask", "labels"}: a dataset that
    transformers' Trainer batches with its default collator."""
    inputs = gpt2_classifier_inputs(ids, pad_token_id)
    labels = torch.as_tensor(labels)
    check_class_ids("labels", labels, len(ids))
    columns = (inputs["input_ids"], inputs["attention_mask"], labels.long())
    rows = zip(*columns, strict=True)
    return [{"input_ids": x, "attention_mask": m, "labels": y} for x, m, y in rows]


def trainer_settings(
    output_dir: str | Path,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
    weight_decay: float = 0.0,
    warmup: float = 0.1,
) -> dict[str, Any]:
    """Keyword arguments for `transformers.TrainingArguments`: a seeded run of `steps`
    with a warm-up share `warmup` and linear decay, AdamW, clipping at 1; nothing
    reported or saved; on the CPU unless CUDA is there."""
    check_int("steps", steps)
    check_number("lr", lr, low=0, low_open=True)
    check_int("batch_size", batch_size)
    check_number("warmup", warmup, low=0, high=1, high_open=True)
    return {
        "output_dir": str(output_dir),
        "max_steps": steps,
        "per_device_train_batch_size": batch_size,
        "learning_rate": lr,
        "weight_decay": weight_decay,
        "warmup_steps": warmup,  # below 1: a share of the steps
        "optim": "adamw_torch",
        "max_grad_norm": 1.0,
        "seed": seed,
        "data_seed": seed,
        "report_to": "none",
        "save_strategy": "no",
        "eval_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "use_cpu": not torch.cuda.is_available(),
    }


def train_gpt2_classifier(
    hf_model, ids: torch.Tensor, labels: torch.Tensor, **settings: Any
) -> list[dict[str, float]]:
    """Fine-tune hf_model with `transformers.Trainer` on passages ids (N, T), padded
    with PAD_ID as lmbook pads them, and their class ids labels (N,).

    settings: `trainer_settings`'s keywords (steps, lr, batch_size, seed, ...). Returns
    the Trainer's log history, one dict per step with its "loss". Trainer needs the
    `accelerate` package.
    """
    from transformers import GPT2ForSequenceClassification, Trainer, TrainingArguments

    check_type(
        "hf_model",
        hf_model,
        GPT2ForSequenceClassification,
        "a transformers GPT2ForSequenceClassification",
    )
    rows = gpt2_classifier_rows(ids, labels, hf_model.config.pad_token_id)
    # Trainer wants a folder; it saves nothing there
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(**trainer_settings(output_dir, **settings))
        trainer = Trainer(model=hf_model, args=args, train_dataset=rows)
        trainer.train()
    return trainer.state.log_history
