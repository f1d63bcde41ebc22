"""Making models small and fast: size, latency, int8 quantization, pruning, distillation.

Chapter 8 builds this module. Every function takes a trained model (chapter 6's `GPT`,
or any module with the book's contract) and measures it or returns a changed copy::

    >>> small = quantize_int8(gpt)                  # Linear layers in int8, a copy, CPU only
    >>> model_size_bytes(gpt), model_size_bytes(small)
    >>> pruned = prune_linear(gpt, amount=0.5)       # half the Linear weights set to zero
    >>> sparsity(pruned)
    0.5

Knowledge distillation (Hinton et al., 2015) trains a small student to match a large
teacher's temperature-softened predictions: `distillation_loss` is the loss and
`Distiller` wraps student and frozen teacher so that `lmbook.training.train` trains it.
"""

from __future__ import annotations

import copy
import io
import statistics
import time
import warnings
import zlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from lmbook.validate import (
    check_choice,
    check_distillation_inputs,
    check_generates,
    check_int,
    check_module,
    check_number,
    check_on_cpu,
    check_probability,
    check_prunable,
    check_two_models,
)

SCOPES = ("global", "layer")


def model_size_bytes(model: nn.Module, compressed: bool = False) -> int:
    """Bytes of `torch.save(model.state_dict())`, after zlib (level 6) if compressed."""
    check_module("model", model)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)  # a tied weight is saved once
    data = buffer.getvalue()
    return len(zlib.compress(data, 6)) if compressed else len(data)


@torch.no_grad()
def latency_per_token(
    model: nn.Module,
    prompt_ids: Sequence[int] | torch.Tensor,
    n_new: int = 64,
    use_cache: bool = True,
    repeats: int = 5,
) -> float:
    """Median seconds per token of greedy `model.generate`, after one warm-up run.

    Each run generates n_new tokens after the prompt; run 0 is discarded.
    """
    check_generates("model", model)
    check_int("n_new", n_new)
    check_int("repeats", repeats)
    seconds = []
    for run in range(repeats + 1):  # run 0 is the warm-up
        start = time.perf_counter()
        model.generate(prompt_ids, n_new, top_k=1, use_cache=use_cache)
        if run > 0:
            seconds.append((time.perf_counter() - start) / n_new)
    return statistics.median(seconds)


def _tied_ids(model: nn.Module) -> set[int]:
    """ids of the embedding weights (a Linear layer holding one is tied to them)."""
    return {
        id(p)
        for m in model.modules()
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag))
        for p in m.parameters(recurse=False)
    }


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of model with its untied Linear layers' weights in int8 (CPU only).

    Dynamic quantization: int8 weights with one float scale each, activations
    quantized on the fly. A Linear layer tied to an embedding stays float32.
    """
    check_module("model", model)
    check_on_cpu("model", model, why="quantized models run on the CPU only")
    tied = _tied_ids(model)
    names = {
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and id(m.weight) not in tied
    }
    with warnings.catch_warnings():  # silence exactly torch.ao's deprecation warnings
        warnings.filterwarnings(
            "ignore",
            message="torch.ao.quantization is deprecated",
            category=DeprecationWarning,
        )
        warnings.filterwarnings(
            "ignore",
            message="torch.quantize_per_tensor, torch.quantize_per_channel",
            category=UserWarning,
        )
        from torch.ao.quantization import quantize_dynamic

        # a set of module names: those modules, and no others, get int8 weights
        return quantize_dynamic(copy.deepcopy(model).eval(), names, dtype=torch.qint8)


def _prunable(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers that pruning touches: all but those tied to an embedding."""
    tied = _tied_ids(model)
    return [m for m in model.modules() if isinstance(m, nn.Linear) and id(m.weight) not in tied]


def sparsity(model: nn.Module) -> float:
    """The fraction of zeros among the weights of the model's (untied) Linear layers."""
    check_module("model", model)
    layers = _prunable(model)
    check_prunable(model, layers)
    zeros = sum(int((m.weight == 0).sum()) for m in layers)
    return zeros / sum(m.weight.numel() for m in layers)


def prune_linear(model: nn.Module, amount: float, scope: str = "global") -> nn.Module:
    """A copy of model with the fraction `amount` of its Linear weights zeroed.

    The smallest |w| go: ranked across all untied Linear layers (scope="global") or
    within each (scope="layer"). Biases, embeddings and a tied output layer stay.
    """
    check_probability("amount", amount)
    check_choice("scope", scope, SCOPES)
    check_module("model", model)
    pruned = copy.deepcopy(model)  # deepcopy keeps tied weights tied
    layers = _prunable(pruned)
    check_prunable(model, layers)
    if scope == "global":
        targets = [(m, "weight") for m in layers]
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    else:
        for m in layers:
            prune.l1_unstructured(m, "weight", amount=amount)
    for m in layers:
        prune.remove(m, "weight")  # weight = weight_orig * mask, for good
    return pruned


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) · CE(student, targets).

    Logits are (..., V), targets (...) ids; no gradient flows into the teacher's.
    """
    check_distillation_inputs(student_logits, teacher_logits, targets)
    check_number("temperature", temperature, low=0, low_open=True)
    check_probability("alpha", alpha)
    V = student_logits.size(-1)
    student = student_logits.reshape(-1, V)  # (N, V): every position is one prediction
    teacher = teacher_logits.detach().reshape(-1, V)
    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=-1),
        F.log_softmax(teacher / temperature, dim=-1),
        reduction="batchmean",  # the sum over V, averaged over the N positions
        log_target=True,
    )
    hard = F.cross_entropy(student, targets.reshape(-1))
    return alpha * temperature**2 * soft + (1 - alpha) * hard


class Distiller(nn.Module):
    """A student trained by a frozen teacher: forward(idx, targets) -> (logits, loss).

    The logits are the student's (B, T, V); the loss is `distillation_loss`.
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        temperature: float = 2.0,
        alpha: float = 0.5,
    ) -> None:
        super().__init__()
        check_module("student", student)
        check_module("teacher", teacher)
        check_two_models(student, teacher)
        check_number("temperature", temperature, low=0, low_open=True)
        check_probability("alpha", alpha)
        self.student = student
        self.teacher = teacher.eval().requires_grad_(False)  # frozen, in place
        self.temperature, self.alpha = temperature, alpha

    def train(self, mode: bool = True) -> Distiller:
        """Put the student in training mode (or not); the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, _ = self.student(idx)
        if targets is None:
            return logits, None
        with torch.no_grad():
            teacher_logits, _ = self.teacher(idx)  # (B, T, V)
        loss = distillation_loss(logits, teacher_logits, targets, self.temperature, self.alpha)
        return logits, loss
