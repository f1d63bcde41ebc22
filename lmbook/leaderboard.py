"""The book-wide leaderboard: every language model's nats/char on the held-out plays.

Each chapter calls `report` for the models it trains; the output is a small table in
the notebook and, under a MIME type of its own, a machine-readable row that the book's
leaderboard page collects from the committed notebooks.
"""

from __future__ import annotations

import html
from typing import Any

from lmbook.book import LEADERBOARD_MIME
from lmbook.metrics import nats_to_bits
from lmbook.validate import check_int, check_number

COLUMNS = ("model", "split", "nats_per_char", "bits_per_char", "params", "budget", "device")


def leaderboard_row(
    model: str,
    nats_per_char: float,
    *,
    chapter: int,
    split: str = "validation",
    params: int | None = None,
    budget: str = "",
    device: str = "cpu",
    notes: str = "",
) -> dict[str, Any]:
    """A checked leaderboard row (a dict); `report` displays it."""
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a non-empty name, got {model!r}")
    check_number("nats_per_char", nats_per_char, low=0)  # NumPy and 0-d tensors pass
    if split not in ("validation", "test"):
        raise ValueError(f"split must be 'validation' or 'test', got {split!r}")
    check_int("chapter", chapter)
    check_int("params", params, low=0, allow_none=True)
    return {
        "model": model,
        "chapter": int(chapter),
        "split": split,
        "nats_per_char": round(float(nats_per_char), 4),
        "bits_per_char": round(nats_to_bits(float(nats_per_char)), 4),
        "params": None if params is None else int(params),
        "budget": budget,
        "device": str(device),
        "notes": notes,
    }


def report(model: str, nats_per_char: float, **kwargs: Any) -> None:
    """Display a leaderboard row in the notebook; the book's leaderboard page collects it."""
    from IPython.display import display

    row = leaderboard_row(model, nats_per_char, **kwargs)
    cells = "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in COLUMNS)
    heads = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in COLUMNS)
    text = " | ".join(f"{c}={row[c]}" for c in COLUMNS)
    display(
        {
            "text/plain": f"leaderboard: {text}",
            "text/html": f"<table><tr>{heads}</tr><tr>{cells}</tr></table>",
            LEADERBOARD_MIME: row,
        },
        raw=True,
    )
