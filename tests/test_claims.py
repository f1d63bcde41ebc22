"""lmbook.claims: glued numbers and checked claims."""

import pytest

from lmbook.claims import check, glue


def test_glue_returns_the_formatted_text_outside_a_kernel() -> None:
    assert glue("x", 0.1, ".2f") == "0.10"
    assert glue("n", 18574, ",") == "18,574"
    assert glue("s", "GRU") == "GRU"


def test_glue_needs_a_name() -> None:
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        glue("", 1.0)


def test_check_prints_the_claim_and_its_numbers(capsys, monkeypatch) -> None:
    monkeypatch.setenv("LMBOOK_SMOKE", "0")
    check("the GRU beats the RNN", 1.58 < 1.69, "1.58 vs 1.69")
    check("the RNN beats the GRU", False, "1.69 vs 1.58")
    assert capsys.readouterr().out.splitlines() == [
        "✓ the GRU beats the RNN: 1.58 vs 1.69",
        "✗ the RNN beats the GRU: 1.69 vs 1.58",
    ]


def test_a_failed_check_in_smoke_mode_says_it_is_not_a_finding(capsys, monkeypatch) -> None:
    monkeypatch.setenv("LMBOOK_SMOKE", "1")
    check("A wins", False)
    assert capsys.readouterr().out == "✗ A wins [smoke mode: tiny data, not a finding]\n"
