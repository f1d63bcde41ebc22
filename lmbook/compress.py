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

SCOPES = ("global", "layer")


def model_size_bytes(model: nn.Module, compressed: bool = False) -> int:
    """Bytes of `torch.save(model.state_dict())`; compressed=True: after zlib (level 6).

    Zeros stored densely still take 4 bytes each; a general-purpose compressor is one
    way to see how much a pruned model would save when stored sparsely.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
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
    """Median seconds per generated token of `model.generate` (greedy), after one warm-up run.

    Each run generates n_new tokens after the prompt; the first run is discarded (it
    pays for memory allocation and lazy initialisation), the median of the next
    `repeats` runs, divided by n_new, is returned.
    """
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"model must have a generate method, got {type(model).__name__}")
    for name, value in (("n_new", n_new), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    seconds = []
    for run in range(repeats + 1):  # run 0 is the warm-up
        start = time.perf_counter()
        model.generate(prompt_ids, n_new, top_k=1, use_cache=use_cache)
        if run > 0:
            seconds.append((time.perf_counter() - start) / n_new)
    return statistics.median(seconds)


def _tied_ids(model: nn.Module) -> set[int]:
    """ids of the embedding weights: a Linear layer holding one of them is a tied output layer."""
    return {
        id(p)
        for m in model.modules()
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag))
        for p in m.parameters(recurse=False)
    }


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of model with its Linear layers' weights in int8 (dynamic quantization; CPU only).

    `torch.ao.quantization.quantize_dynamic` stores each weight matrix as int8 with one
    float scale, and quantizes the activations on the fly at every call. A Linear layer
    tied to an embedding (a GPT's lm_head) stays in float32: quantizing it would give it
    an int8 copy of its own, untie it and keep the float embedding as well. The
    embeddings and LayerNorms stay in float32. torch.ao.quantization is deprecated
    (its successor is torchao's `quantize_`) but works; this function silences exactly
    its deprecation warnings, and no others.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(
            f"quantized models run on the CPU only; the model is on {sorted(devices)}: "
            "move it with model.cpu() first"
        )
    tied = _tied_ids(model)
    names = {
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and id(m.weight) not in tied
    }
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="torch.ao.quantization is deprecated", category=DeprecationWarning
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
    layers = _prunable(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear layers (other than tied ones)")
    zeros = sum(int((m.weight == 0).sum()) for m in layers)
    return zeros / sum(m.weight.numel() for m in layers)


def prune_linear(model: nn.Module, amount: float, scope: str = "global") -> nn.Module:
    """A copy of model with the fraction `amount` of its Linear weights (the smallest |w|) zeroed.

    Magnitude pruning (L1 unstructured, Han et al., 2015) with `torch.nn.utils.prune`:
    scope="global" ranks the weights of all Linear layers together, scope="layer" prunes
    each layer by `amount`. `prune.remove` then makes it permanent (plain weights with
    zeros, no masks). Biases, embeddings and a tied output layer are left alone.
    """
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount <= 1:
        raise ValueError(f"amount must be a fraction in [0, 1], got {amount!r}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    pruned = copy.deepcopy(model)  # deepcopy keeps tied weights tied
    layers = _prunable(pruned)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear layers (other than tied ones)")
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
    """alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) · cross-entropy(student, targets).

    Hinton et al. (2015): p_T = softmax(logits / T) for both models; the KL divergence
    is averaged over positions, and multiplied by T² so that its gradients keep their
    size as T changes (they shrink as 1/T² otherwise). Logits are (..., V), targets
    (...) ids; the teacher's logits are a target, so no gradient flows into them.
    """
    if not isinstance(student_logits, torch.Tensor) or not isinstance(teacher_logits, torch.Tensor):
        raise TypeError("student_logits and teacher_logits must be tensors (..., V)")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits must have one shape, got {tuple(student_logits.shape)} "
            f"and {tuple(teacher_logits.shape)} (the same vocabulary, the same positions)"
        )
    if not isinstance(targets, torch.Tensor) or targets.shape != student_logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {tuple(student_logits.shape[:-1])} (the logits' without V), "
            f"got {tuple(targets.shape) if isinstance(targets, torch.Tensor) else targets!r}"
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or temperature <= 0
    ):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
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
    """A student trained by a frozen teacher: forward(idx, targets) -> (student logits, loss).

    The loss is `distillation_loss` of the student's and the teacher's logits, so
    `lmbook.training.train(distiller, ...)` trains the student unchanged. The teacher
    runs in eval mode without gradients; its parameters are frozen (in place:
    `teacher.requires_grad_(True)` undoes it), so `param_groups(distiller, ...)` holds
    only the student's. The teacher is a submodule
    (`distiller.to(device)` moves it too), so `distiller.state_dict()` holds both
    models: save `distiller.student`, the model you keep.
    """

    def __init__(
        self, student: nn.Module, teacher: nn.Module, temperature: float = 2.0, alpha: float = 0.5
    ) -> None:
        super().__init__()
        for name, value in (("student", student), ("teacher", teacher)):
            if not isinstance(value, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
        if student is teacher:
            raise ValueError("student and teacher are one model: the teacher would be frozen")
        self.student = student
        self.teacher = teacher.eval().requires_grad_(False)
        self.temperature, self.alpha = temperature, alpha

    def train(self, mode: bool = True) -> Distiller:
        """Put the student in training mode (or not); the teacher stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the student's logits (B, T, V), the distillation loss, or None without targets)."""
        logits, _ = self.student(idx)
        if targets is None:
            return logits, None
        with torch.no_grad():
            teacher_logits, _ = self.teacher(idx)  # (B, T, V)
        loss = distillation_loss(logits, teacher_logits, targets, self.temperature, self.alpha)
        return logits, loss
