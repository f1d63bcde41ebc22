"""Every chapter runs standalone, from an installed lmbook wheel, outside the repository.

This is what a Colab user gets: `pip install lmbook` puts the package in site-packages,
the notebook runs in a folder that holds nothing of the repository, and any path that
only exists in a checkout (`../book/references.bib`, `lmbook/data.py`) fails there.

How the tests guarantee it:

- The wheel is built from a clean copy of the source tree (a stale `build/` in a checkout
  can smuggle deleted modules into a wheel), offline, with the test environment's
  setuptools.
- It is installed with pip, with its `notebooks` extra (what the chapters import) and
  ipykernel, into a fresh virtual environment in a temporary folder that shares nothing
  with the test environment: no `.pth`, no system site-packages, pip in isolated mode
  (no configuration or environment variables), offline from a wheelhouse (`.whl/`, or
  `LMBOOK_WHEELHOUSE`), with the versions requirements.txt pins as constraints. A
  dependency that lmbook uses but does not declare is then missing there, as it would
  be for a reader who runs `pip install "lmbook[notebooks]"`. `.ci/run` fills the
  wheelhouse in its install stage, where the network is allowed:
  `python -m pip download -d .whl -c <requirements.txt without "-e ."> ".[notebooks]" ipykernel`.
- Each notebook runs in a fresh kernel of the new environment's Python, in smoke mode,
  with an empty temporary working directory. A last cell, added to the in-memory copy,
  asserts that every lmbook module it loaded came from the wheel's files in the new
  site-packages, and that neither the repository root nor the source tree of the test
  environment's lmbook is on `sys.path`.

The book's "every chapter runs standalone" test *is* this wheel test: it executes every
notebook, so no other test runs them standalone a second time. (nbval, which `pytest` also
runs, executes them inside notebooks/, where a repo-relative path still works.)
"""

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import nbformat
import pytest
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds; a smoke-mode notebook should take at most 90 in all
DROPPED_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")

# What a wheel build must not copy: history, build outputs, caches, and what no package needs.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", "build", "dist", "_build", "*.egg-info", "__pycache__", ".*cache", ".venv*", ".whl"
)


def source_roots() -> list[Path]:
    """Folders whose `lmbook` must not be importable: the checkout under test, and the
    source tree of the test environment's lmbook where that is an editable install."""
    roots = [ROOT]
    try:
        recorded = metadata.distribution("lmbook").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        recorded = None
    direct_url = json.loads(recorded or "{}")
    if direct_url.get("dir_info", {}).get("editable") and direct_url["url"].startswith("file:"):
        roots.append(Path(url2pathname(urlparse(direct_url["url"]).path)).resolve())
    return list(dict.fromkeys(roots))


def isolation_check(site_packages: Path, forbidden: list[Path]) -> str:
    """Code for a notebook's last cell: fail unless lmbook came from the installed wheel."""
    return f"""\
import sys as _sys
from pathlib import Path as _Path

import lmbook as _lmbook

_site = _Path({str(site_packages)!r}).resolve()
_forbidden = [_Path(p) for p in {[str(p) for p in forbidden]!r}]
_outside = {{
    name: getattr(module, "__file__", None)
    for name, module in _sys.modules.items()
    if (name == "lmbook" or name.startswith("lmbook."))
    and not _Path(str(getattr(module, "__file__", None))).resolve().is_relative_to(_site)
}}
assert not _outside, f"lmbook modules not loaded from the installed wheel: {{_outside}}"
_elsewhere = {{
    name: _sys.modules[name].__file__
    for name in ("torch", "numpy", "pandas")
    if name in _sys.modules
    and not _Path(_sys.modules[name].__file__).resolve().is_relative_to(_site)
}}
assert not _elsewhere, f"dependencies not from the new environment: {{_elsewhere}}"
_on_path = [p for p in _sys.path if _Path(p or ".").resolve() in _forbidden]
assert not _on_path, f"the repository is on sys.path: {{_on_path}}"
assert not any(_Path.cwd().resolve().is_relative_to(f) for f in _forbidden), _Path.cwd()
print(f"lmbook {{_lmbook.__version__}} from the installed wheel: {{_lmbook.__file__}}")
"""


def standalone_env(python: Path) -> dict[str, str]:
    """This process's environment for `python`, less what could point into the checkout
    or into another environment (PYTHONPATH, PYTHONHOME, VIRTUAL_ENV)."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    return env


def run_standalone(notebook: nbformat.NotebookNode, python: Path, workdir: Path) -> None:
    """Execute a notebook as a reader would, standalone; raise CellExecutionError if a cell fails.

    The kernel is `python` (a kernelspec written into `workdir`, so no installed
    kernelspec can substitute another interpreter), runs in smoke mode whatever the
    caller's LMBOOK_SMOKE says (this checks that chapters run, not their results), on one
    torch thread whatever the machine's load, and starts in an empty folder, so that a
    repo-relative path fails as it would on Colab.
    """
    kernels = workdir / "kernels"
    (kernels / "standalone").mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "standalone", "language": "python"}
    (kernels / "standalone" / "kernel.json").write_text(json.dumps(spec))
    cwd = workdir / "cwd"
    cwd.mkdir()
    # One torch thread: two threads on a 2-core machine that something else keeps busy
    # spin against each other and a smoke-mode cell can pass the timeout (seen in CI).
    one_thread = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env = standalone_env(python) | {"LMBOOK_SMOKE": "1"} | one_thread
    manager = AsyncKernelManager(
        kernel_name="standalone",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
    )
    client = NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT)
    client.execute(cwd=str(cwd), env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lmbook wheel, built offline from a clean copy of the source tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*build, "--no-index", "-w", str(tmp / "dist"), str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"building the wheel failed:\n{done.stdout}\n{done.stderr}"
    (built,) = (tmp / "dist").glob("lmbook-*.whl")
    return built


WHEELHOUSE = Path(os.environ.get("LMBOOK_WHEELHOUSE", ROOT / ".whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh virtual environment with `lmbook[notebooks]` and ipykernel installed from
    the wheel and the wheelhouse alone: (its python, its site-packages)."""
    assert any(WHEELHOUSE.glob("torch-*.whl")), (
        f"no wheelhouse at {WHEELHOUSE}: fill it once (the network or a package index is "
        "needed for that, not for the test): python -m pip download -d .whl -c "
        '<requirements.txt without "-e ."> ".[notebooks]" ipykernel  (.ci/run does)'
    )
    home = tmp_path_factory.mktemp("venv")
    assert not any(home.is_relative_to(root) for root in source_roots()), home
    venv.create(home, with_pip=False, symlinks=os.name != "nt")
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(subprocess.check_output([python, "-c", where], text=True).strip())
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    constraints = home / "constraints.txt"
    constraints.write_text("\n".join(r for r in requirements if not r.startswith("-")) + "\n")
    install = [sys.executable, "-m", "pip", "--isolated", "--python", str(python), "install"]
    offline = ["--no-index", "--find-links", str(WHEELHOUSE), "-c", str(constraints)]
    done = subprocess.run(
        [*install, *offline, f"lmbook[notebooks] @ {wheel.as_uri()}", "ipykernel"],
        capture_output=True,
        text=True,
        env=standalone_env(python),
    )
    assert done.returncode == 0, f"installing the wheel failed:\n{done.stdout}\n{done.stderr}"
    return python, site_packages


def test_wheel_ships_every_package_file(wheel: Path) -> None:
    """A module or data file missing from the wheel breaks only installed copies, never the
    checkout, so list the wheel: every file under lmbook/ (and the PEP 561 marker) is in it,
    and nothing but lmbook is installed at the top level of site-packages."""
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "lmbook").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
    }
    needed.add("lmbook/py.typed")
    missing = sorted(needed - shipped)
    assert not missing, (
        f"the wheel lacks {missing}: a module needs an __init__.py in its package, and any "
        "other file needs a pattern under [tool.setuptools.package-data] in pyproject.toml"
    )
    top_level = {name.split("/")[0] for name in shipped} - {"lmbook"}
    others = sorted(name for name in top_level if not name.endswith(".dist-info"))
    assert not others, f"the wheel installs more than lmbook into site-packages: {others}"


def test_installed_lmbook_is_the_wheel(installed: tuple[Path, Path], tmp_path: Path) -> None:
    """The new environment imports every lmbook module from the wheel's files, and cannot
    see the checkout (this runs even when notebooks/ is empty)."""
    python, site_packages = installed
    import_all = (
        "import importlib, pkgutil, lmbook\n"
        "for module in pkgutil.walk_packages(lmbook.__path__, 'lmbook.'):\n"
        "    importlib.import_module(module.name)\n"
    )
    done = subprocess.run(
        [python, "-c", import_all + isolation_check(site_packages, source_roots())],
        cwd=tmp_path,
        env=standalone_env(python),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "from the installed wheel" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_runs_standalone_from_the_wheel(
    path: Path, installed: tuple[Path, Path], tmp_path: Path
) -> None:
    """Each chapter runs top to bottom, in smoke mode, on the installed wheel, in an empty
    folder: no repo-relative path, no import of the checkout. This is also the book's
    "every chapter runs standalone" test (nbval runs the notebooks inside notebooks/)."""
    python, site_packages = installed
    notebook = nbformat.read(path, as_version=4)
    check = isolation_check(site_packages, source_roots())
    notebook.cells.append(nbformat.v4.new_code_cell(check))
    run_standalone(notebook, python, tmp_path)
    assert "from the installed wheel" in notebook.cells[-1].outputs[0]["text"]


@pytest.mark.parametrize(
    ("works_from", "repo_path"), [("notebooks", "../book/references.bib"), (".", "lmbook/data.py")]
)
def test_a_repo_relative_path_fails_standalone(
    works_from: str, repo_path: str, tmp_path: Path
) -> None:
    """The harness can fail: a path that works in the checkout (`../book/…` from notebooks/,
    where Jupyter and nbval run a chapter) fails in the standalone run, while a path found
    through the package itself works. Runs in the test environment: no wheel needed."""
    assert (ROOT / works_from / repo_path).exists()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import pathlib\nimport lmbook\n\n"
                "len(pathlib.Path(lmbook.__file__).with_name('data.py').read_text()) > 0"
            ),
            nbformat.v4.new_code_cell(f"open({repo_path!r}).read()"),
        ]
    )
    with pytest.raises(CellExecutionError) as failure:
        run_standalone(notebook, Path(sys.executable), tmp_path)
    assert "FileNotFoundError" in str(failure.value) and repo_path in str(failure.value)
    assert notebook.cells[0].outputs[0]["data"]["text/plain"] == "True"
