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

`trainer_settings` makes `TrainingArguments` that run the book's fine-tuning recipe
(`lmbook.finetune.fine_tune_classifier`) step for step: the same AdamW, schedule,
clipping and whole batches; `tests/test_hf.py` checks that Trainer then takes the book's
loop's steps exactly. `gpt2_predict` scores the classifier.

For "going further" on Colab: `hub_reachable` says whether the Hub can be reached (False
offline, never raising), `tokenize_passages` pads a Hugging Face tokenizer's ids as
lmbook pads characters, and `subword_nats_per_char` scores a model that reads subword
tokens in nats per character, the unit that compares models with different tokenizers.

`transformers` is imported only when a function here is called: nothing else in lmbook
needs it.
"""

from __future__ import annotations

import functools
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.encoder import Encoder
from lmbook.finetune import PAD_ID
from lmbook.transformer import GPT, GPTConfig, nats_per_char
from lmbook.validate import (
    check_choice,
    check_class_ids,
    check_class_weights,
    check_gpt2_attention,
    check_int,
    check_not_type,
    check_number,
    check_pad_id_unused,
    check_padded_ids,
    check_passages,
    check_type,
)

# GPT-2's activation names (transformers' ACT2FN) -> the torch GELU they compute
GELUS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}


def to_gpt2(model: GPT):
    """GPT-2 (a transformers GPT2LMHeadModel) with model's weights, dtype, device."""
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
    """An lmbook GPT with a GPT-2's weights, dtype and device (eval mode)."""
    from transformers import GPT2LMHeadModel

    check_type("hf_model", hf_model, GPT2LMHeadModel, "a transformers.GPT2LMHeadModel")
    h = hf_model.config
    check_choice("the GPT-2's activation_function", h.activation_function, tuple(GELUS))
    check_gpt2_attention(h)  # scores scaled by 1/sqrt(d_k) and nothing else, as ours
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
    """(ours, theirs, transposed?) for every tensor but q|k|v and the head.

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
    """model's weights under GPT-2's names, in its layouts (Conv1D, c_attn)."""
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
    weight_decay: float = 0.1,
    warmup: float = 0.1,
    min_lr_ratio: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    **extra: Any,
) -> dict[str, Any]:
    """Keyword arguments for `transformers.TrainingArguments`: the book's fine-tuning
    recipe (`lmbook.finetune.fine_tune_classifier`) as Trainer's settings.

    A seeded run of `steps` on whole batches of batch_size (the last incomplete batch
    of each pass dropped, as `PassageBatches` does); AdamW with `betas`, weight decay on
    the weight matrices (Trainer leaves out biases and LayerNorms), clipping at 1; the
    rate warms up over max(1, int(warmup * steps)) steps, then a cosine decays it to
    min_lr_ratio × lr at the last step ("cosine_warmup_with_min_lr": the same rate at
    every step as `lmbook.training.warmup_cosine`); nothing reported or saved; on the
    CPU unless CUDA is there. extra: other TrainingArguments fields, which win.
    """
    check_int("steps", steps)
    check_number("lr", lr, low=0, low_open=True)
    check_int("batch_size", batch_size)
    check_number("warmup", warmup, low=0, high=1, high_open=True)
    check_number("min_lr_ratio", min_lr_ratio, low=0, high=1)
    return {
        "output_dir": str(output_dir),
        "max_steps": steps,
        "per_device_train_batch_size": batch_size,
        "dataloader_drop_last": True,
        "learning_rate": lr,
        "weight_decay": weight_decay,
        "warmup_steps": max(1, int(warmup * steps)),  # lmbook's rule, not Trainer's ceil
        "lr_scheduler_type": "cosine_warmup_with_min_lr",
        "lr_scheduler_kwargs": {"min_lr_rate": min_lr_ratio},
        "optim": "adamw_torch",
        "adam_beta1": betas[0],
        "adam_beta2": betas[1],
        "max_grad_norm": 1.0,
        "seed": seed,
        "data_seed": seed,
        "report_to": "none",
        "save_strategy": "no",
        "eval_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "use_cpu": not torch.cuda.is_available(),
    } | extra


def train_gpt2_classifier(
    hf_model,
    ids: torch.Tensor,
    labels: torch.Tensor,
    class_weights: Sequence[float] | torch.Tensor | None = None,
    **settings: Any,
) -> list[dict[str, float]]:
    """Fine-tune hf_model with `transformers.Trainer` on passages ids (N, T), padded
    with PAD_ID as lmbook pads them, and their class ids labels (N,).

    class_weights (K,): each class's weight in the cross-entropy, as `GPTClassifier`'s
    (None: GPT-2's own unweighted loss). Each batch is cut to its longest passage
    (`collate_trimmed`). settings: `trainer_settings`'s keywords (steps, lr,
    batch_size, seed, ...). Returns the Trainer's log history, one dict per step with
    its "loss"; nothing is printed. Trainer needs the `accelerate` package.
    """
    from transformers import GPT2ForSequenceClassification, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    check_type(
        "hf_model",
        hf_model,
        GPT2ForSequenceClassification,
        "a transformers GPT2ForSequenceClassification",
    )
    check_class_weights(class_weights, hf_model.config.num_labels)
    rows = gpt2_classifier_rows(ids, labels, hf_model.config.pad_token_id)
    loss = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=torch.float)
        loss = functools.partial(weighted_cross_entropy, weight=weight)
    # Trainer wants a folder; it saves nothing there
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(**trainer_settings(output_dir, **settings))
        trainer = Trainer(
            model=hf_model,
            args=args,
            train_dataset=rows,
            data_collator=collate_trimmed,
            compute_loss_func=loss,
        )
        trainer.remove_callback(PrinterCallback)  # it prints every step's log
        trainer.train()
    return trainer.state.log_history


def collate_trimmed(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """transformers' default collator, then every (B, T) column cut to the batch's
    longest passage (what its attention mask covers): the padding after it is never
    read by a causal model, so only the time changes."""
    from transformers import default_data_collator

    batch = default_data_collator(rows)
    T = int(batch["attention_mask"].sum(dim=1).max())
    return {k: v[:, :T] if v.ndim == 2 else v for k, v in batch.items()}


def weighted_cross_entropy(
    outputs: Any,
    labels: torch.Tensor,
    num_items_in_batch: int | None = None,
    *,
    weight: torch.Tensor,
) -> torch.Tensor:
    """Trainer's `compute_loss_func`: the cross-entropy of the classifier's logits
    (B, K) with class weights (K,), the weighted mean over the batch (as torch's)."""
    logits = outputs.logits  # (B, K)
    return F.cross_entropy(logits, labels, weight=weight.to(logits.device, logits.dtype))


@torch.no_grad()
def gpt2_predict(hf_model, ids: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The most probable class (N,) of each passage in ids (N, T), padded with PAD_ID,
    by a GPT2ForSequenceClassification: in batches of similar lengths, each cut to its
    longest passage, in eval mode (restored afterwards), on the model's device; the
    classes come back on the CPU."""
    check_int("batch_size", batch_size)
    inputs = gpt2_classifier_inputs(ids, hf_model.config.pad_token_id)
    lengths = inputs["attention_mask"].sum(dim=1)  # (N,)
    order = torch.argsort(lengths)  # similar lengths share a batch
    device = next(hf_model.parameters()).device
    was_training = hf_model.training
    hf_model.eval()
    predicted = torch.empty(len(ids), dtype=torch.long)
    try:
        for start in range(0, len(ids), batch_size):
            rows = order[start : start + batch_size]
            T = int(lengths[rows].max())
            batch = {k: v[rows, :T].to(device) for k, v in inputs.items()}
            predicted[rows] = hf_model(**batch).logits.argmax(dim=-1).cpu()
    finally:
        hf_model.train(was_training)
    return predicted


# --- going further on Colab: GPT-2's own tokens, nats per character, the Hub -----------

OFFLINE = ("1", "true", "yes", "on")  # values of HF_HUB_OFFLINE that mean offline


def hub_reachable(timeout: float = 2.0, host: str = "huggingface.co") -> bool:
    """True when the Hugging Face Hub can be reached: HF_HUB_OFFLINE (or
    TRANSFORMERS_OFFLINE) is not set, and a connection to host's port 443 opens within
    `timeout` seconds. Never raises for a network failure: it answers False."""
    check_number("timeout", timeout, low=0, low_open=True)
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in OFFLINE:
            return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except (OSError, ValueError):  # no network, no name server, refused, timed out
        return False


def tokenize_passages(
    texts: Sequence[str], tokenizer, max_len: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """A Hugging Face tokenizer's ids of each text, cut to max_len tokens and padded
    with PAD_ID, as `lmbook.finetune.encode_passages` pads characters.

    Returns ids (N, T), T the longest, and the lengths (N,). No special tokens are
    added: GPT-2's classifier pools each passage's last token.
    """
    check_passages(texts)
    check_int("max_len", max_len)
    rows = [tokenizer.encode(text, add_special_tokens=False)[:max_len] for text in texts]
    lengths = torch.tensor([len(r) for r in rows])  # (N,)
    ids = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.long)  # (N, T)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return ids, lengths


@torch.no_grad()
def subword_nats_per_char(
    model: GPT, tokenizer, text: str, stride: int | None = None, batch_size: int = 8
) -> float:
    """model's cross-entropy on text in nats per CHARACTER, for a model that reads
    tokenizer's tokens (GPT-2's BPE: about four characters a token): `nats_per_char`
    of `lmbook.transformer` with a Hugging Face tokenizer, windows sliding by `stride`
    (default the whole context), read batch_size at a time (GPT-2's logits for 8
    windows take 1.6 GB).
    The tokenizer must spell text back exactly (GPT-2's byte-level BPE does).
    """
    check_type("model", model, GPT, "an lmbook GPT")
    return nats_per_char(
        model,
        text,
        lambda t: tokenizer.encode(t, add_special_tokens=False),
        tokenizer.decode,
        batch_size=batch_size,
        stride=stride or model.config.block_size,
    )
