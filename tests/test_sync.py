"""Notebook code and package code are one.

A code cell that starts with the marker line `# lmbook: <module>` holds definitions that
`lmbook.<module>` also holds. Each function, class and constant defined in such a cell
must be the same code as the package's, compared by AST: comments and layout may
differ, code and docstrings may not. A cell without the marker must not define a name
that an lmbook module exports (import it instead).
"""

import ast
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path

import pytest

import lmbook
from lmbook.book import (
    cell_source,
    code_cells,
    definitions,
    marked_module,
    python_source,
    read_notebook,
    same_code,
)

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
TOOLING = {"book", "execute"}  # modules for the book's tooling, not shown in chapters


def package_definitions(module_name: str) -> dict[str, ast.AST]:
    module = importlib.import_module(f"lmbook.{module_name}")
    return definitions(inspect.getsource(module))


def public_names() -> dict[str, str]:
    """Every public function and class of an lmbook chapter module -> its module."""
    names = {}
    for info in pkgutil.iter_modules(lmbook.__path__):
        if info.name in TOOLING:
            continue
        for name, node in package_definitions(info.name).items():
            if not name.startswith("_") and not isinstance(node, (ast.Assign, ast.AnnAssign)):
                names[name] = info.name
    return names


def drift(notebook_path: Path) -> list[str]:
    """Every way the notebook's marked cells differ from lmbook, as readable messages."""
    problems = []
    exported = public_names()
    for index, cell in enumerate(code_cells(read_notebook(notebook_path))):
        where = f"{notebook_path.name}, code cell {index + 1}"
        source = python_source(cell_source(cell))
        module = marked_module(cell)
        if module is None:
            for name, node in definitions(source).items():
                if name in exported and not isinstance(node, (ast.Assign, ast.AnnAssign)):
                    problems.append(
                        f"{where} redefines lmbook.{exported[name]}.{name}: import it, "
                        f"or mark the cell with '# lmbook: {exported[name]}'"
                    )
            continue
        try:
            package = package_definitions(module)
        except ModuleNotFoundError:
            problems.append(f"{where} is marked with unknown module lmbook.{module}")
            continue
        for name, node in definitions(source).items():
            if name not in package:
                problems.append(f"{where} defines {name}, which lmbook.{module} lacks")
            elif not same_code(node, package[name]):
                problems.append(f"{where}: {name} differs from lmbook.{module}.{name}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_marked_cells_match_the_package(path: Path) -> None:
    assert drift(path) == []


def test_at_least_one_marked_cell_exists() -> None:
    marked = [marked_module(c) for path in NOTEBOOKS for c in code_cells(read_notebook(path))]
    assert any(marked), "no notebook has a '# lmbook: <module>' cell"


def _notebook_with(cells: list[str], tmp_path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def _ngram_cell(body: str) -> str:
    return "# lmbook: ngram\n" + textwrap.dedent(body)


def test_drift_detects_a_changed_body(tmp_path: Path) -> None:
    source = inspect.getsource(importlib.import_module("lmbook.ngram").kneser_ney_discount)
    changed = source.replace("n1 + 2 * n2", "n1 + n2")
    assert changed != source
    problems = drift(_notebook_with([_ngram_cell(changed)], tmp_path))
    assert problems == [
        "probe.ipynb, code cell 1: kneser_ney_discount differs from "
        "lmbook.ngram.kneser_ney_discount"
    ]


def test_drift_ignores_comments_and_layout(tmp_path: Path) -> None:
    source = inspect.getsource(importlib.import_module("lmbook.ngram").kneser_ney_discount)
    relaid = source.replace("    n1, n2 =", "    # a comment the package lacks\n\n    n1, n2 =")
    assert drift(_notebook_with([_ngram_cell(relaid)], tmp_path)) == []


def test_drift_detects_redefinition_and_unknown_names(tmp_path: Path) -> None:
    cells = [
        "def lookup(keys, values, query):\n    return values",
        _ngram_cell("def not_in_the_package():\n    pass\n"),
        "# lmbook: nosuchmodule\nx = 1",
        "%time y = 2",
    ]
    problems = drift(_notebook_with(cells, tmp_path))
    assert len(problems) == 3
    assert "redefines lmbook.ngram.lookup" in problems[0]
    assert "not_in_the_package, which lmbook.ngram lacks" in problems[1]
    assert "unknown module lmbook.nosuchmodule" in problems[2]
