"""lmbook.claims: glued numbers and checked claims."""

import pytest

from lmbook.claims import check, glue


def test_glue_stores_the_formatted_text_for_myst_nb(monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append((a, k)))
    assert glue("x", 0.1, ".2f") is None  # nothing for a cell to echo
    glue("n", 18574, ",")
    (data,), kwargs = shown[0]
    assert data == {"application/papermill.record/text/plain": "'0.10'"}
    assert kwargs["metadata"] == {
        "scrapbook": {"name": "x", "mime_prefix": "application/papermill.record/"}
    }
    assert shown[1][0][0] == {"application/papermill.record/text/plain": "'18,574'"}


def test_glue_outside_a_kernel_does_nothing() -> None:
    assert glue("x", 0.1, ".2f") is None


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
