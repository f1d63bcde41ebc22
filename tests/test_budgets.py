"""What the reader sees is the idea, and the prose says what its run shows.

Budgets (DESIGN.md, "what the reader sees is the idea"):
* a marked cell (``# lmbook: <module>``) holds one idea: at most 60 lines;
* no code line in a notebook is longer than 88 characters (nothing scrolls sideways in
  the rendered book);
* no notebook imports a private (``_name``) from lmbook;
* the whole GPT (config, attention, MLP, block, model) reads in at most 150 shown lines.

Claims (DESIGN.md, "claims are bound to the runs that make them"):
* no committed full-mode output shows a failed check (a ✗ line of lmbook.claims.check);
* every {glue:text}`name` in the prose names a value the notebook glued;
* no number the notebook glued is also typed into its prose by hand;
* a chapter glues the numbers its prose quotes and checks its claims (at least one each).

Chapters are brought under these rules one at a time (issue 14). Until a chapter is,
it is listed in PENDING and its budget tests are expected to fail (strict xfail): the
moment one passes, the test fails until the chapter leaves the list.
"""

import ast
import re
from pathlib import Path

import pytest

from lmbook.book import (
    GLUE_ROLE,
    cell_source,
    check_lines,
    glue_references,
    glued_texts,
    glued_values,
    marked_module,
    python_source,
    read_notebook,
)

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_MARKED_LINES = 60
MAX_LINE = 88
MAX_GPT_LINES = 150
# Where the GPT's parts are shown, and the classes that make it up.
GPT_PARTS = {
    "05_attention.ipynb": ["MultiHeadAttention"],
    "06_transformers.ipynb": ["GPTConfig", "MLP", "Block", "GPT"],
}

# Chapters not yet under these rules, each with what still stands (none since issue 14).
PENDING = {}


def pending(paths: list[Path]) -> list:
    """The notebooks as parameters, the pending ones expected to fail (strictly)."""
    return [
        pytest.param(
            p,
            id=p.name,
            marks=[pytest.mark.xfail(strict=True, reason=f"issue 14: {PENDING[p.name]}")]
            if p.name in PENDING
            else [],
        )
        for p in paths
    ]


def code_cells_numbered(path: Path) -> list[tuple[int, str, dict]]:
    """(1-based code cell number, source, cell) for every code cell."""
    cells = [c for c in read_notebook(path)["cells"] if c.get("cell_type") == "code"]
    return [(i, cell_source(c), c) for i, c in enumerate(cells, start=1)]


def budget_problems(path: Path) -> list[str]:
    found = []
    for number, source, cell in code_cells_numbered(path):
        where = f"{path.name}, code cell {number}"
        lines = source.splitlines()
        if marked_module(cell) and len(lines) > MAX_MARKED_LINES:
            found.append(f"{where}: a marked cell of {len(lines)} lines (> {MAX_MARKED_LINES})")
        for line_no, line in enumerate(lines, start=1):
            if len(line) > MAX_LINE:
                found.append(f"{where}, line {line_no}: {len(line)} characters (> {MAX_LINE})")
        for name in private_imports(source):
            found.append(f"{where} uses lmbook's private {name}")
    return found


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")  # dunders are public


def private_imports(source: str) -> list[str]:
    """Private lmbook names a cell imports or reaches (`from lmbook.x import _y`, …)."""
    tree = ast.parse(python_source(source))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lmbook"):
            parts = node.module.split(".") + [alias.name for alias in node.names]
            found += [f"{node.module}.{a.name}" for a in node.names if is_private(a.name)]
            found += [node.module for p in parts[:-1] if p.startswith("_")][:1]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if "._" in a.name and "lmbook" in a.name]
    found += re.findall(r"\blmbook(?:\.\w+)*\._(?!_)\w+", source)  # dunders are public
    return found


def gpt_lines() -> dict[str, int]:
    """Shown lines of each class that makes up the GPT, where the chapters show it."""
    sizes = {}
    for name, classes in GPT_PARTS.items():
        for _, source, cell in code_cells_numbered(ROOT / "notebooks" / name):
            if not marked_module(cell):
                continue
            for node in ast.parse(python_source(source)).body:
                if isinstance(node, ast.ClassDef) and node.name in classes:
                    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    sizes[node.name] = node.end_lineno - start + 1
    return sizes


@pytest.mark.parametrize("path", pending(NOTEBOOKS))
def test_code_budgets(path: Path) -> None:
    assert budget_problems(path) == []


def test_the_whole_gpt_reads_in_150_lines() -> None:
    sizes = gpt_lines()
    wanted = {c for classes in GPT_PARTS.values() for c in classes}
    assert set(sizes) == wanted, f"GPT parts not found in marked cells: {wanted - set(sizes)}"
    assert sum(sizes.values()) <= MAX_GPT_LINES, f"the GPT is shown in {sizes} lines"


def test_the_budget_checks_catch_what_they_should(tmp_path: Path) -> None:
    source = "# lmbook: ngram\n" + "x = 1\n" * 61 + "y = '" + "z" * 90 + "'\n"
    source += "from lmbook.decoding import _check_src\nlmbook.metrics._ngrams\n"
    source += "print(lmbook.__version__)\nfrom lmbook import __version__\n"
    notebook = {"cells": [{"cell_type": "code", "source": source, "outputs": []}]}
    path = tmp_path / "x.ipynb"
    path.write_text(__import__("json").dumps(notebook), encoding="utf-8")
    found = " | ".join(budget_problems(path))
    assert "a marked cell of 67 lines" in found
    assert "line 63: 96 characters" in found
    assert "lmbook.decoding._check_src" in found and "lmbook.metrics._ngrams" in found
    assert "__version__" not in found


# Numbers worth flagging when typed by hand: a decimal point, or three digits or more.
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
MATH_OR_CODE = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]*`|\]\([^)]*\)|<[^>]*>", re.DOTALL)


def typed_twins(notebook: dict) -> list[str]:
    """Numbers typed into the prose that the notebook also glued (so may drift)."""
    glued = {
        text.rstrip("%").replace(",", "")
        for text in glued_values(notebook).values()
        if re.fullmatch(r"-?[\d,]*\.?\d+%?", text) and ("." in text or len(text) >= 3)
    }
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        prose = MATH_OR_CODE.sub(" ", GLUE_ROLE.sub(" ", cell_source(cell)))
        for number in NUMBER.findall(prose):
            if number.replace(",", "") in glued:
                found.append(f"cell {index}: {number} is typed; glue it")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claims_are_bound_to_the_run(path: Path) -> None:
    notebook = read_notebook(path)
    failed = [f"cell {i}: ✗ {claim}" for i, mark, claim in check_lines(notebook) if mark == "✗"]
    assert failed == [], "the committed full-mode run fails these checks"
    twice = {name: texts for name, texts in glued_texts(notebook).items() if len(set(texts)) > 1}
    assert twice == {}, "a name is glued with different texts; the prose would show one"
    glued = glued_values(notebook)
    missing = [f"cell {i}: {name}" for i, name in glue_references(notebook) if name not in glued]
    assert missing == [], "the prose pastes values the notebook never glued"
    assert typed_twins(notebook) == []


@pytest.mark.parametrize("path", pending([p for p in NOTEBOOKS if p.name[:2].isdigit()]))
def test_a_chapter_glues_its_numbers_and_checks_its_claims(path: Path) -> None:
    notebook = read_notebook(path)
    assert glue_references(notebook), "the prose pastes no number from the run"
    assert check_lines(notebook), "no claim about results is checked"


def test_the_claims_checks_catch_what_they_should() -> None:
    glue = {
        "metadata": {"scrapbook": {"name": "gru", "mime_prefix": "application/x/"}},
        "data": {"application/x/text/plain": "'1.583'"},
        "output_type": "display_data",
    }
    failed = {"output_type": "stream", "name": "stdout", "text": "✗ GRU wins: 1.6 vs 1.5\n"}
    notebook = {
        "cells": [
            {"cell_type": "code", "source": "", "outputs": [glue, failed]},
            {"cell_type": "markdown", "source": "It reaches 1.583 ({glue:text}`gru`)."},
        ]
    }
    assert glued_values(notebook) == {"gru": "1.583"}
    again = {**glue, "data": {"application/x/text/plain": "'1.600'"}}
    notebook["cells"][0]["outputs"].append(again)
    assert glued_texts(notebook) == {"gru": ["1.583", "1.600"]}
    notebook["cells"][0]["outputs"].pop()
    assert check_lines(notebook) == [(0, "✗", "GRU wins: 1.6 vs 1.5")]
    assert typed_twins(notebook) == ["cell 1: 1.583 is typed; glue it"]
    assert glue_references(notebook) == [(1, "gru")]
