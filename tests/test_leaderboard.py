"""Leaderboard rows: checked on the way in, and found again in a notebook's outputs."""

import math
import re
from pathlib import Path

import pytest

from lmbook.book import LEADERBOARD_MIME, cell_source, code_cells, leaderboard_rows, read_notebook
from lmbook.leaderboard import leaderboard_row


def test_row_fields_and_bits() -> None:
    row = leaderboard_row("7-gram", 1.5, chapter=1, params=10, budget="1 s", device="cpu")
    assert row["bits_per_char"] == round(1.5 / math.log(2), 4)
    assert row["split"] == "validation" and row["chapter"] == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", 1.0), {"chapter": 1}, "model"),
        (("m", float("nan")), {"chapter": 1}, r"nats_per_char must be a number >= 0, got nan"),
        (("m", -1.0), {"chapter": 1}, r"nats_per_char must be a number >= 0, got -1.0"),
        (("m", 1.0), {"chapter": 0}, "chapter"),
        (("m", 1.0), {"chapter": 1, "split": "train"}, "split"),
        (("m", 1.0), {"chapter": 1, "params": -3}, "params"),
    ],
)
def test_bad_rows_are_refused(args, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        leaderboard_row(*args, **kwargs)


def test_rows_are_read_back_from_outputs() -> None:
    row = leaderboard_row("m", 1.0, chapter=2)
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "x"},
            {
                "cell_type": "code",
                "source": "report(…)",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "hi"},
                    {"output_type": "display_data", "data": {LEADERBOARD_MIME: row}},
                ],
            },
        ]
    }
    assert leaderboard_rows(notebook) == [row]


# A chapter that quotes another chapter's result (it cannot re-run it) types the number
# as a named constant; it must equal that chapter's committed leaderboard row.
QUOTED = [
    # (notebook, constant, notebook of the run, model, split)
    (
        "06_where_attention_wins",
        "KNESER_NEY_7GRAM_VAL",
        "01_language_models_from_counts",
        "character 7-gram, Kneser–Ney",
        "validation",
    ),
    ("06_where_attention_wins", "GRU_VAL", "03_recurrent_networks", "character GRU", "validation"),
    (
        "06_where_attention_wins",
        "CHAPTER6_GPT_VAL",
        "06_transformers",
        "character GPT",
        "validation",
    ),
    ("06_transformers", "gru_val", "03_recurrent_networks", "character GRU", "validation"),
    (
        "03_recurrent_networks",
        "KNESER_NEY_7GRAM_TEST",
        "01_language_models_from_counts",
        "character 7-gram, Kneser–Ney",
        "test",
    ),
]


@pytest.mark.parametrize("quoting, name, source, model, split", QUOTED)
def test_a_number_quoted_from_another_chapter_equals_its_row(quoting, name, source, model, split):
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    code = "\n".join(
        cell_source(c) for c in code_cells(read_notebook(notebooks / f"{quoting}.ipynb"))
    )
    found = re.findall(rf"^{name} = ([0-9.]+)\b", code, re.MULTILINE)
    assert len(found) == 1, f"{quoting} should set {name} once, found {found}"
    rows = [
        r
        for r in leaderboard_rows(read_notebook(notebooks / f"{source}.ipynb"))
        if r["model"].startswith(model) and r["split"] == split
    ]
    assert len(rows) == 1, f"{source} should report one {model!r} row on {split}"
    decimals = len(found[0].split(".")[1])
    assert float(found[0]) == round(rows[0]["nats_per_char"], decimals), (
        f"{quoting} quotes {name} = {found[0]}, {source}'s row says "
        f"{rows[0]['nats_per_char']}: update the constant"
    )


def test_numpy_and_tensor_numbers_are_numbers() -> None:
    import numpy as np
    import torch

    row = leaderboard_row("m", np.float32(1.5), chapter=np.int64(3), params=torch.tensor(5))
    assert row["nats_per_char"] == 1.5 and row["chapter"] == 3 and row["params"] == 5
    assert type(row["chapter"]) is int and type(row["params"]) is int
