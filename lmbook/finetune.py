"""Pre-training and fine-tuning: a pre-trained GPT's body under a classification head.

Chapter 7 builds this module. `hidden_states` reads what a GPT computes before its
language-model head; chapter 10 reuses it for passage embeddings.
"""

from __future__ import annotations

import torch

from lmbook.transformer import GPT


def hidden_states(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The final LayerNorm's output (B, T, C) for idx (B, T): what the GPT's head reads.

    It runs the model's own forward and keeps the input of `lm_head`, so it is exactly
    what the language model uses to predict the next token, at every position.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an lmbook GPT, got {type(model).__name__}")
    kept: list[torch.Tensor] = []
    hook = model.ln_f.register_forward_hook(lambda module, inputs, output: kept.append(output))
    try:
        model(idx)
    finally:
        hook.remove()
    return kept[0]  # (B, T, C)
