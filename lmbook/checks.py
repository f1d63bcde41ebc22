"""Checks for the build-it-yourself exercises: run them on your own functions.

Each check calls your function on small inputs it builds itself, compares what you
return with a reference implementation, and prints one line: ``✓ … passed: <what was
checked>``, or ``✗ … failed: <the input, the expected and the returned value, and the
likely mistake>``. It returns True or False and never raises because of a wrong answer::

    >>> import math
    >>> def my_perplexity(log_probs):
    ...     return math.exp(-sum(log_probs) / len(log_probs))
    >>> ok = check_perplexity(my_perplexity)
    ✓ check_perplexity passed: 3 sequences of log-probs, uniform over V=5 included, give exp(-mean)

Exercises: perplexity and add-k smoothing, interpolated Kneser–Ney (chapter 1), the
skip-gram negative-sampling loss (chapter 2), scaled dot-product attention (chapter 5).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lmbook.ngram import NGramLM, kneser_ney_discount

# Student code may use float32 or a different but equivalent order of operations.
RTOL = 1e-6
ATOL = 1e-6


def _require_callable(fn: object, name: str) -> None:
    """Raise TypeError unless fn is a function: the one mistake a check does not grade."""
    if not callable(fn):
        raise TypeError(
            f"{name} expects your function itself, e.g. {name}(my_function), "
            f"got {type(fn).__name__} {fn!r}"
        )


def _report(name: str, ok: bool, message: str) -> bool:
    """Print the one-line verdict and return ok."""
    print(f"✓ {name} passed: {message}" if ok else f"✗ {name} failed: {message}")
    return ok


def _call(fn: Callable, *args: object) -> tuple[object, str | None]:
    """(fn(*args), None), or (None, 'ExceptionName: text') if the student's fn raised."""
    try:
        return fn(*args), None
    except Exception as exc:  # any bug in student code is a failed check, not a crash
        return None, f"{type(exc).__name__}: {exc}"


def _as_number(value: object) -> tuple[float | None, str | None]:
    """(float(value), None), or (None, why it is not a single number)."""
    if value is None:
        return None, "returned None: did you forget the return statement?"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None, f"returned {type(value).__name__} {value!r}, expected a number"
    if arr.size != 1:
        return None, f"returned an array of shape {tuple(arr.shape)}, expected a single number"
    return float(arr.reshape(())), None


def _close(got: float, expected: float) -> bool:
    return math.isclose(got, expected, rel_tol=RTOL, abs_tol=1e-12)


def _all_close(got: Sequence[float], expected: Sequence[float]) -> bool:
    return all(_close(g, e) for g, e in zip(got, expected, strict=True))


# ---------------------------------------------------------------- perplexity (chapter 1)


def check_perplexity(fn: Callable[[Sequence[float]], float]) -> bool:
    """Check fn(log_probs) -> perplexity = exp(-mean(log_probs)), log_probs in nats."""
    name = "check_perplexity"
    _require_callable(fn, name)
    cases = [
        ("uniform over V=5, four tokens", [-math.log(5)] * 4),
        ("probs [0.5, 0.25, 0.125, 0.5]", [math.log(p) for p in (0.5, 0.25, 0.125, 0.5)]),
        ("probs [0.9, 0.2, 0.6]", [math.log(p) for p in (0.9, 0.2, 0.6)]),
    ]
    for label, log_probs in cases:
        H = -sum(log_probs) / len(log_probs)  # cross-entropy in nats
        expected = math.exp(H)
        mistakes = [  # (the value a common mistake returns, why)
            (
                2**H,
                "raised 2 to a cross-entropy in nats: with natural-log probabilities "
                "perplexity is exp(H); 2**H is right only when H is in bits (log2)",
            ),
            (
                math.exp(H / math.log(2)),
                "converted to bits (log2) and then used exp: "
                "use exp with nats, or 2** with bits, never a mix",
            ),
            (
                math.exp(-H),
                "forgot the minus sign: perplexity is exp(-mean log p), which is always >= 1",
            ),
            (
                math.exp(-sum(log_probs)),
                "summed the log-probs instead of averaging them: "
                "perplexity is per token, exp(-mean)",
            ),
            (H, "returned the cross-entropy H itself: perplexity is exp(H)"),
        ]
        value, error = _call(fn, list(log_probs))
        if error is None:
            got, error = _as_number(value)
        if error is not None:
            return _report(name, False, f"on {label}: {error}")
        if not _close(got, expected):
            hint = next(
                (why for bad, why in mistakes if _close(got, bad)),
                "perplexity is exp of the mean negative natural-log probability",
            )
            return _report(
                name, False, f"on {label}: expected {expected:.6g}, got {got:.6g}; {hint}"
            )
    return _report(
        name,
        True,
        f"{len(cases)} sequences of log-probs, uniform over V=5 included, give exp(-mean)",
    )


# ---------------------------------------------------------------- add-k smoothing (chapter 1)


def check_add_k(fn: Callable[[int, int, float, int], float]) -> bool:
    """Check fn(count_hw, count_h, k, V) -> P(w | h) = (c(h,w) + k) / (c(h) + k·V)."""
    name = "check_add_k"
    _require_callable(fn, name)
    # (counts c(h, w) of all V words after one context h, k); V = len(counts), c(h) = sum
    cases = [([3, 0, 5, 2], 0.5), ([7, 1, 0, 0, 2], 1.0), ([0, 0, 0], 1.0)]
    # (formula of a common mistake, why it is wrong); c = c(h,w), ch = c(h)
    mistakes: list[tuple[Callable[[int, int, float, int], float], str]] = [
        (
            lambda c, ch, k, V: (c + k) / (ch + k),
            "the denominator needs + k·V, not + k: k is added to each of the V counts",
        ),
        (
            lambda c, ch, k, V: (c + k) / (ch + V),
            "the denominator needs + k·V, not + V (the two agree only when k = 1)",
        ),
        (
            lambda c, ch, k, V: (c + 1) / (ch + V),
            "k is ignored: this is add-one smoothing, use the k you are given",
        ),
        (
            lambda c, ch, k, V: c / (ch + k * V),
            "k must be added to the count in the numerator too, or unseen words get 0",
        ),
        (
            lambda c, ch, k, V: (c + k) / ch if ch else math.nan,
            "the denominator needs + k·V: the probabilities over the V words must sum to 1",
        ),
    ]
    for counts, k in cases:
        V, ch = len(counts), sum(counts)
        expected = [(c + k) / (ch + k * V) for c in counts]
        got = []
        for c in counts:
            value, error = _call(fn, c, ch, k, V)
            if error is None:
                value, error = _as_number(value)
            if error is not None:
                return _report(name, False, f"on count_hw={c}, count_h={ch}, k={k}, V={V}: {error}")
            got.append(value)
        if _all_close(got, expected):
            continue
        i = next(i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if not _close(g, e))
        hint = next(
            (why for bad, why in mistakes if _all_close(got, [bad(c, ch, k, V) for c in counts])),
            "the formula is P(w | h) = (c(h,w) + k) / (c(h) + k·V)",
        )
        total = sum(got)
        sums = (
            "" if _close(total, 1.0) else f"; over the V={V} words they sum to {total:.4g}, not 1"
        )
        return _report(
            name,
            False,
            f"on count_hw={counts[i]}, count_h={ch}, k={k}, V={V}: expected "
            f"{expected[i]:.6g}, got {got[i]:.6g}{sums}; {hint}",
        )
    return _report(
        name,
        True,
        f"{len(cases)} contexts (k = 0.5 and 1, an unseen context included) give "
        "(c + k) / (c(h) + k·V), summing to 1",
    )


# ---------------------------------------------------------------- Kneser–Ney (chapter 1)

# 'abracadabra cadabra!' gives well-defined discounts at both orders (D2 = 0.4, D1 = 5/7);
# '!' ends the text, so it is never a context, and 'z' is in the vocabulary but unseen.
_KN_TEXT = "abracadabra cadabra!"
_KN_ALPHABET = sorted(set(_KN_TEXT)) + ["z"]


def _kn_bigram_table(
    bigrams: Counter,
    alphabet: Sequence[str],
    lower: str = "continuation",
    floor: bool = True,
    weight: str = "full",
    own_discount: bool = True,
    unseen: str = "lower",
) -> dict[tuple[str, str], float]:
    """P(w | h) for all pairs, by interpolated KN or by one of its common mistakes.

    The defaults give the right model; each other argument value gives one mistake:
    lower='raw' (counts instead of continuation counts), floor=False (no 1/V),
    weight='D' or 'one' (D, or 1, instead of D·N1+(h•)/c(h)), own_discount=False (order
    2's D at order 1),
    unseen='zero' or 'uniform' (an unseen context gives 0 or 1/V).
    """
    V = len(alphabet)
    # lower-order counts: N1+(•w), distinct characters before w, or raw counts c(•w)
    low = Counter()
    for (_, w), c in bigrams.items():
        low[w] += 1 if lower == "continuation" else c
    D2 = kneser_ney_discount(np.array(list(bigrams.values())))
    D1 = kneser_ney_discount(np.array(list(low.values()))) if own_discount else D2
    total1 = sum(low.values())
    p1 = {
        w: (max(low[w] - D1, 0) + (D1 * len(low) / V if floor else 0.0)) / total1 for w in alphabet
    }
    table = {}
    for h in alphabet:
        c_h = sum(c for (a, _), c in bigrams.items() if a == h)
        n_h = sum(1 for (a, _), c in bigrams.items() if a == h and c > 0)
        for w in alphabet:
            if c_h == 0:
                table[h, w] = {"lower": p1[w], "zero": 0.0, "uniform": 1 / V}[unseen]
            else:
                backoff = {"full": D2 * n_h / c_h, "D": D2, "one": 1.0}[weight]
                table[h, w] = max(bigrams[h, w] - D2, 0) / c_h + backoff * p1[w]
    return table


def check_kneser_ney_bigram(fn: Callable[[str, str, Counter, int], float]) -> bool:
    """Check fn(w, h, bigrams, V) -> P_KN(w | h), interpolated Kneser–Ney as NGramLM(n=2).

    bigrams is a Counter of (h, w) character pairs; V is the vocabulary size. The model:
    P(w | h) = max(c(h,w) - D2, 0)/c(h) + D2·N1+(h•)/c(h) · P1(w), or P1(w) if c(h) = 0;
    P1(w) = max(N1+(•w) - D1, 0)/N1+(••) + D1·N1+(•)/N1+(••) · 1/V, where N1+(•w)
    counts the distinct characters seen before w, N1+(h•) those seen after h, and D2, D1
    are lmbook.ngram.kneser_ney_discount of the bigram counts and of the N1+(•w).
    """
    name = "check_kneser_ney_bigram"
    _require_callable(fn, name)
    text, alphabet, V = _KN_TEXT, _KN_ALPHABET, len(_KN_ALPHABET)
    bigrams = Counter(zip(text, text[1:], strict=False))  # (h, w) pairs
    # the reference is the book's own model, fitted on the ids of the same text
    ids = [alphabet.index(ch) for ch in text]
    lm = NGramLM(n=2, vocab_size=V).fit(ids)
    expected = {
        (h, w): float(p)
        for h in alphabet
        for w, p in zip(alphabet, lm.next_token_probs([alphabet.index(h)]), strict=True)
    }
    unseen = [h for h in alphabet if not any(a == h for a, _ in bigrams)]

    got: dict[tuple[str, str], float] = {}
    for h in alphabet:
        for w in alphabet:
            # a fresh Counter each call, so a function that changes it cannot spoil the rest
            value, error = _call(fn, w, h, Counter(bigrams), V)
            if error is None:
                value, error = _as_number(value)
            if error is not None:
                hint = ""
                if h in unseen:
                    hint = (
                        f"; '{h}' is never followed by anything (c(h) = 0), so P(w | '{h}') "
                        "must fall through to the lower order P1(w)"
                    )
                return _report(name, False, f"on w={w!r}, h={h!r}: {error}{hint}")
            got[h, w] = value
    pairs = list(expected)
    if _all_close([got[p] for p in pairs], [expected[p] for p in pairs]):
        return _report(
            name,
            True,
            f"all {len(pairs)} pairs (h, w) over a {V}-character vocabulary, unseen contexts "
            f"{unseen} included, match NGramLM(n=2)",
        )

    h, w = next(p for p in pairs if not _close(got[p], expected[p]))
    where = f"P({w!r} | {h!r}) should be {expected[h, w]:.6g}, got {got[h, w]:.6g}"
    row_sums = {a: sum(got[a, b] for b in alphabet) for a in alphabet}
    bad_row = next((a for a in alphabet if not math.isclose(row_sums[a], 1, abs_tol=1e-6)), None)
    sums = (
        f"the probabilities after context {bad_row!r} sum to {row_sums[bad_row]:.4g}, not 1"
        if bad_row is not None
        else "the probabilities after every context sum to 1"
    )
    mistakes = [
        (
            {"lower": "raw"},
            "at the lower order you used raw counts c(w); Kneser–Ney uses continuation "
            "counts N1+(•w), the number of distinct characters seen before w",
        ),
        (
            {"floor": False},
            "did you forget the uniform floor? the lower order keeps D1·N1+(•)/N1+(••) of "
            "its mass for 1/V, so every character, even unseen, gets some probability",
        ),
        *[
            (
                {"weight": weight},
                "did you forget the interpolation weight D·N1+(h•)/c(h)? the mass taken by "
                "discounting is D times the number of distinct followers of h, over c(h)",
            )
            for weight in ("D", "one")
        ],
        (
            {"own_discount": False},
            "order 1 needs its own discount D1 = kneser_ney_discount of the continuation "
            "counts, not the bigram discount D2",
        ),
        (
            {"unseen": "zero"},
            f"for a context never followed by anything ({unseen}) P(w | h) must fall "
            "through to the lower order P1(w), not be 0",
        ),
        (
            {"unseen": "uniform"},
            f"for a context never followed by anything ({unseen}) P(w | h) must fall "
            "through to the lower order P1(w), not jump to 1/V",
        ),
    ]
    for variant, why in mistakes:
        table = _kn_bigram_table(bigrams, alphabet, **variant)
        if _all_close([got[p] for p in pairs], [table[p] for p in pairs]):
            return _report(name, False, f"{where}; {sums}; {why}")
    if any(got[p] == 0 for p in pairs):
        zero = next(p for p in pairs if got[p] == 0)
        hint = (
            f"P({zero[1]!r} | {zero[0]!r}) is 0, but interpolated Kneser–Ney never gives 0: "
            "did you forget the uniform floor 1/V at the lowest order?"
        )
    elif bad_row in unseen:
        hint = "a context never seen (c(h) = 0) must fall through to the lower order P1(w)"
    elif bad_row is not None:
        hint = "did you forget the interpolation weight D·N1+(h•)/c(h), or the 1/V floor?"
    else:
        hint = "compare your discounts D2, D1 and continuation counts with the formula"
    return _report(name, False, f"{where}; {sums}; {hint}")


# ---------------------------------------------------------------- attention (chapter 5)


def _attention_variants(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """Outputs of the common mistakes of scaled dot-product attention -> why they are wrong."""
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, T_q, T_k)
    masked = scores if mask is None else scores.masked_fill(~mask, float("-inf"))
    out = {
        "no 1/sqrt(d_k) scaling: divide the scores q·k by sqrt(d_k) before the softmax": (
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
        ),
        "scaled by 1/d_k instead of 1/sqrt(d_k)": (
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0 / d_k)
        ),
        "softmax over the wrong axis: normalise over the keys, the last axis (dim=-1), "
        "so that each query's weights sum to 1": masked.softmax(dim=-2) @ v,
    }
    if mask is not None:
        out[
            "the mask is ignored: set the scores where mask is False to -inf before the "
            "softmax (True means 'may attend')"
        ] = F.scaled_dot_product_attention(q, k, v)
        out[
            "the mask is applied after the softmax: weights no longer sum to 1; set masked "
            "scores to -inf before the softmax instead"
        ] = (scores.softmax(-1) * mask) @ v
    return out


def check_attention(fn: Callable[..., torch.Tensor]) -> bool:
    """Check fn(q, k, v, mask=None) -> softmax(q kᵀ / sqrt(d_k)) v, as torch computes it.

    q: (B, H, T_q, d_k), k: (B, H, T_k, d_k), v: (B, H, T_k, d_v); the output is
    (B, H, T_q, d_v). mask is boolean, broadcastable to (B, H, T_q, T_k), and True means
    "may attend" (torch's convention in scaled_dot_product_attention); mask=None
    attends everywhere. The reference is torch.nn.functional.scaled_dot_product_attention
    in float64.
    """
    name = "check_attention"
    _require_callable(fn, name)
    g = torch.Generator().manual_seed(0)  # a private generator: never touch the global seed

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    # d_v differs from T_k, so adding v to the scores is a shape error, not a silent bug
    B, H, T, d_k, d_v = 2, 3, 4, 8, 5
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T), broadcast over B and H
    T_q, T_k = 3, 6
    padding = torch.ones(B, 1, 1, T_k, dtype=torch.bool)  # (B, 1, 1, T_k)
    padding[0, ..., 4:] = False  # the first sequence is 4 keys long, the second 6
    cases = [
        ("self-attention, no mask", (T, T), None),
        ("self-attention, causal mask of shape (T, T)", (T, T), causal),
        ("cross-attention, padding mask of shape (B, 1, 1, T_k)", (T_q, T_k), padding),
    ]
    for label, (n_q, n_k), mask in cases:
        q, k, v = randn(B, H, n_q, d_k), randn(B, H, n_k, d_k), randn(B, H, n_k, d_v)
        shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}" + (
            f", mask {tuple(mask.shape)}" if mask is not None else ""
        )
        where = f"on {label} ({shapes})"
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        args = (q.clone(), k.clone(), v.clone()) + ((mask.clone(),) if mask is not None else ())
        value, error = _call(fn, *args)
        if error is not None:
            hint = ""
            if any(s in error for s in ("size of tensor", "shape", "must match", "broadcast")):
                hint = (
                    "; a shape error: the weights softmax(q kᵀ/sqrt(d_k)) are (B, H, T_q, T_k) "
                    "and multiply v (B, H, T_k, d_v) after the softmax (is v inside it?)"
                )
                if mask is not None:
                    hint += "; the mask must broadcast against the scores (B, H, T_q, T_k)"
            return _report(name, False, f"{where}: {error}{hint}")
        if value is None:
            return _report(
                name, False, f"{where}: returned None: did you forget the return statement?"
            )
        if isinstance(value, tuple):
            return _report(name, False, f"{where}: returned a tuple; return only the output tensor")
        if not isinstance(value, torch.Tensor):
            return _report(
                name, False, f"{where}: returned {type(value).__name__}, expected a tensor"
            )
        if value.shape != expected.shape:
            return _report(
                name,
                False,
                f"{where}: expected an output of shape {tuple(expected.shape)}, got "
                f"{tuple(value.shape)}; the output is weights (B, H, T_q, T_k) @ v",
            )
        got = value.detach().cpu().double()
        if torch.allclose(got, expected, atol=ATOL, rtol=0):
            continue
        if got.isnan().any():
            return _report(
                name,
                False,
                f"{where}: the output has NaN, from a row of scores that is all -inf; True "
                "in the mask means 'may attend' (torch's convention): did you invert it?",
            )
        hint = next(
            (
                why
                for why, bad in _attention_variants(q, k, v, mask).items()
                if torch.allclose(got, bad, atol=ATOL, rtol=0)
            ),
            "compare each step with softmax(q kᵀ / sqrt(d_k)) v",
        )
        return _report(
            name,
            False,
            f"{where}: output differs from torch's scaled_dot_product_attention by up to "
            f"{(got - expected).abs().max().item():.3g}; {hint}",
        )
    return _report(
        name,
        True,
        f"{len(cases)} cases (no mask, causal mask, padding mask with T_q != T_k) match "
        "torch's scaled_dot_product_attention to 1e-6",
    )


# ---------------------------------------------------------------- word2vec (chapter 2)


def _sgns_terms(
    center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The dot products u_o·v_c, (B,), and u_k·v_c, (B, K)."""
    pos = (context * center).sum(-1)  # (B,)
    neg = (negatives @ center.unsqueeze(-1)).squeeze(-1)  # (B, K)
    return pos, neg


def check_sgns_loss(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check fn(center, context, negatives) -> the skip-gram negative-sampling loss.

    center v_c: (B, d), context u_o: (B, d), negatives u_k: (B, K, d). The loss is the
    mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), a scalar tensor.
    """
    name = "check_sgns_loss"
    _require_callable(fn, name)
    g = torch.Generator().manual_seed(0)
    cases = []
    for B, K, d in [(4, 3, 5), (6, 5, 8)]:
        cases.append(
            tuple(
                torch.randn(*shape, generator=g, dtype=torch.float64)
                for shape in [(B, d), (B, d), (B, K, d)]
            )
        )
    for center, context, negatives in cases:
        B, K, d = negatives.shape
        where = f"on a batch of B={B} centers, K={K} negatives each, d={d}"
        pos, neg = _sgns_terms(center, context, negatives)
        per_example = -F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)  # (B,)
        expected = per_example.mean().item()
        value, error = _call(fn, center.clone(), context.clone(), negatives.clone())
        if error is None and isinstance(value, torch.Tensor) and value.shape == (B,):
            error = (
                f"returned a tensor of shape {tuple(value.shape)}, one loss per example; "
                "average over the batch to return a scalar"
            )
        if error is None:
            got, error = _as_number(value)
        if error is not None:
            return _report(name, False, f"{where}: {error}")
        if _close(got, expected):
            continue
        mistakes = [  # (the loss a common mistake returns, why it is wrong)
            (
                -F.logsigmoid(pos) - F.logsigmoid(neg).sum(-1),
                "the negative term has the wrong sign: negatives should score low, "
                "so use log σ(-u_k·v_c)",
            ),
            (
                (per_example * B),
                "summed over the batch: the loss is the mean over the B examples",
            ),
            (
                -torch.sigmoid(pos) - torch.sigmoid(-neg).sum(-1),
                "used σ without the log: the loss is -log σ(·), a negative log-likelihood",
            ),
            (
                -F.logsigmoid(pos) - F.logsigmoid(-neg).mean(-1),
                "averaged over the K negatives: the loss sums them, Σ_k log σ(-u_k·v_c)",
            ),
            (
                -per_example,
                "the overall sign is flipped: the loss -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c) "
                "is positive",
            ),
        ]
        hint = next(
            (why for bad, why in mistakes if _close(got, bad.mean().item())),
            "the loss is mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c)",
        )
        return _report(name, False, f"{where}: expected {expected:.6g}, got {got:.6g}; {hint}")
    return _report(
        name,
        True,
        f"{len(cases)} random batches match -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), "
        "averaged over the batch",
    )
