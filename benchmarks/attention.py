"""lmbook's multi-head attention (fused SDPA core) against the naive softmax(QKᵀ/√d_k)V.

    PYTHONPATH=. python benchmarks/attention.py --runs 3   # full: minutes on 2 quiet cores
    PYTHONPATH=. python benchmarks/attention.py --lengths 64 256 --iters 4   # a quick check
    PYTHONPATH=. python benchmarks/attention.py --device cpu --check   # exit 1: a target missed

Both modules hold the same four projections (the naive one gets lmbook's weights) and
differ only in the core: lmbook's `MultiHeadAttention` calls
`F.scaled_dot_product_attention`, the naive one materialises the (B, h, T, T) scores and
weights with explicit matmuls and a softmax. Self-attention on x (B, T, d_model), no mask
(`--causal`: a causal mask for both), float32; one step is forward + backward
(loss = out.sum(), x requires grad), gradients cleared before each step.

Times are milliseconds per step: each run times `--iters` steps per length (scaled by
64 / T, at least 2) with the two modules alternating step by step, after one warm-up step
each; the table shows the median over `--runs` runs, and the speed-up is the median of
the per-run ratios naive / lmbook. Peak memory is what one step allocates above what was
live before it (x, the weights): on CUDA `torch.cuda.max_memory_allocated`; on the CPU
the highest running sum of the allocation and free events that
`torch.profiler.profile(profile_memory=True)` records for that step, i.e. the peak of
the bytes torch's CPU allocator holds live (outside tensors such as thread-local
scratch of the math libraries are not seen).

Targets: never slower than naive on the CPU (within 5% counts as a tie), and at least
2× naive at T = 256 on a GPU.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

import lmbook
from lmbook.attention import MultiHeadAttention, causal_mask
from lmbook.execute import cpu_name

TIE = 0.05  # within 5%: neither is slower


class NaiveMultiHeadAttention(nn.Module):
    """lmbook's MultiHeadAttention with the core written out: softmax(q kᵀ / √d_k) v."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)  # (B, h, T, d_k)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, _ = x.shape
        q = self._split_heads(self.W_q(x))  # (B, h, T, d_k)
        k = self._split_heads(self.W_k(x))
        v = self._split_heads(self.W_v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, h, T, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        out = scores.softmax(dim=-1) @ v  # (B, h, T, d_k)
        return self.W_o(out.transpose(1, 2).reshape(B, T, self.d_model))  # (B, T, d_model)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step(model: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """One forward + backward from cleared gradients; returns the output (detached)."""
    model.zero_grad(set_to_none=True)
    x.grad = None
    if isinstance(model, MultiHeadAttention):
        out, _ = model(x, x, x, mask=mask)
    else:
        out = model(x, mask)
    out.sum().backward()
    return out.detach()


def timed_step(model: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> float:
    """Seconds for one step, the device synchronised before each clock reading."""
    sync(x.device)
    start = time.perf_counter()
    step(model, x, mask)
    sync(x.device)
    return time.perf_counter() - start


def peak_bytes(model: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> int:
    """Bytes one step allocates at its peak, above what was live before it (x, the weights)."""
    model.zero_grad(set_to_none=True)  # freed here, so that step's clearing frees nothing
    x.grad = None
    if x.device.type == "cuda":
        sync(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        before = torch.cuda.memory_allocated(x.device)
        step(model, x, mask)
        sync(x.device)
        return torch.cuda.max_memory_allocated(x.device) - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(model, x, mask)
    events = [
        e
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == DeviceType.CPU
    ]
    live = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        live += e.nbytes()  # + allocated, - freed
        peak = max(peak, live)
    return peak


def setup(T: int, args: argparse.Namespace, device: torch.device) -> dict:
    """The two modules with the same weights, x and the mask for length T, checked and warm."""
    torch.manual_seed(T)
    fused = MultiHeadAttention(args.d_model, args.heads).to(device)
    naive = NaiveMultiHeadAttention(args.d_model, args.heads).to(device)
    naive.load_state_dict(fused.state_dict())  # the same parameter names: W_q, W_k, W_v, W_o
    x = torch.randn(args.batch, T, args.d_model, device=device, requires_grad=True)
    mask = causal_mask(T, device=device) if args.causal else None
    # the warm-up step of each, and the check that both compute the same function
    out_naive = step(naive, x, mask)
    grad_naive = x.grad.clone()
    out_fused = step(fused, x, mask)
    torch.testing.assert_close(out_fused, out_naive, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x.grad, grad_naive, atol=1e-4, rtol=1e-4)
    mib = 2**20
    return {
        "models": {"naive": naive, "lmbook": fused},
        "x": x,
        "mask": mask,
        "iters": max(2, round(args.iters * 64 / T)),
        "peak": {
            name: peak_bytes(m, x, mask) / mib for name, m in (("naive", naive), ("lmbook", fused))
        },
    }


def verdict(ratio: float) -> str:
    return f"{ratio:.2f}×" + (" (a tie, within 5%)" if abs(ratio - 1) <= TIE else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--iters", type=int, default=32, help="steps per run at T = 64, × 64/T")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--causal", action="store_true", help="a causal mask for both")
    parser.add_argument("--device", default=None, help="default: lmbook.device()")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else lmbook.device()
    hardware = f"{cpu_name()}, {os.cpu_count()} cores"
    if device.type == "cuda":
        hardware = f"{torch.cuda.get_device_name(device)} (host: {hardware})"
    print(
        f"{hardware}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}; device {device}, float32, B={args.batch}, "
        f"d_model={args.d_model}, {args.heads} heads, {'causal' if args.causal else 'no'} mask; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    cases = {T: setup(T, args, device) for T in args.lengths}
    times = {T: {"naive": [], "lmbook": []} for T in args.lengths}
    for run in range(args.runs):
        for T, case in cases.items():
            steps = {"naive": [], "lmbook": []}
            for _ in range(case["iters"]):
                for name, model in case["models"].items():  # alternating, so load hits both
                    steps[name].append(timed_step(model, case["x"], case["mask"]))
            for name, s in steps.items():
                times[T][name].append(1000 * statistics.mean(s))
        ratios = [t["naive"][-1] / t["lmbook"][-1] for t in times.values()]
        print(
            f"run {run + 1}: speed-up naive/lmbook "
            + ", ".join(f"T={T} {r:.2f}" for T, r in zip(args.lengths, ratios, strict=True))
        )

    print(f"\nmedian of {args.runs} run(s), ms per forward + backward; peak MiB per step:")
    print(
        f"{'T':>6}{'naive ms':>11}{'lmbook ms':>11}{'speed-up':>10}"
        f"{'naive MiB':>11}{'lmbook MiB':>12}"
    )
    speedup = {}
    for T, t in times.items():
        speedup[T] = statistics.median(a / b for a, b in zip(t["naive"], t["lmbook"], strict=True))
        peak = cases[T]["peak"]
        print(
            f"{T:>6}{statistics.median(t['naive']):>11.1f}{statistics.median(t['lmbook']):>11.1f}"
            f"{speedup[T]:>9.2f}×{peak['naive']:>11.0f}{peak['lmbook']:>12.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.2f}\n")

    missed = False
    if device.type == "cpu":
        slower = [T for T, r in speedup.items() if r < 1 - TIE]
        missed |= bool(slower)
        detail = ", ".join(f"T={T} {verdict(r)}" for T, r in speedup.items())
        status = f"not met at T={', '.join(map(str, slower))}" if slower else "met"
        print(f"CPU: never slower than naive — {status} ({detail})")
        print("GPU: ≥ 2× naive at T=256 — unmeasured (no GPU in this run)")
    elif device.type == "cuda":
        print("CPU: never slower than naive — unmeasured (run with --device cpu)")
        if 256 in speedup:
            met = speedup[256] >= 2
            missed |= not met
            print(f"GPU: ≥ 2× naive at T=256 — {'met' if met else 'not met'} ({speedup[256]:.2f}×)")
        else:
            print("GPU: ≥ 2× naive at T=256 — unmeasured (256 not in --lengths)")
    else:
        print(f"the targets are for the CPU and CUDA; nothing to check on {device.type}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
