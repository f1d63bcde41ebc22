"""Re-execute chapter notebooks and write their execution records.

    python -m lmbook.execute notebooks/01_language_models_from_counts.ipynb
    python -m lmbook.execute --smoke notebooks/*.ipynb        # check only, writes nothing
    LMBOOK_DEVICE=cuda python -m lmbook.execute --require-device cuda notebooks/*.ipynb

Full mode (the default) runs each notebook top to bottom in a fresh kernel whose working
directory is an empty temporary folder (so a repo-relative path fails here too), writes
the outputs back into the notebook, and writes notebooks/_records/<name>.json: duration,
device, CPU and GPU names, torch's thread count, versions, date, and the SHA-256 of the
code cells that the freshness test compares against. Each file is written whole or not at
all (a temporary file, fsynced, then renamed; the record last). A notebook that fails does
not stop the others; the run ends with a table (notebook, status, seconds) and exits non-zero if any
failed. Since each kernel starts in an empty folder, a chapter's checkpoints (kept in
./checkpoints where a reader runs it) never carry over into a recorded run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lmbook.book import code_hash, record_path

# Run in the kernel after the last cell (and not saved): what the notebook really used.
_PROBE = """\
import json as _json, torch as _torch, lmbook as _lmbook
_cuda = _torch.cuda.is_available()
print(_json.dumps({
    "device": str(_lmbook.device()),
    "mode": _lmbook.mode(),
    "cuda_peak_mb": round(_torch.cuda.max_memory_allocated() / 2**20, 1) if _cuda else 0.0,
    "gpu": _torch.cuda.get_device_name() if _cuda else None,
    "torch_threads": _torch.get_num_threads(),
}))
"""


def cpu_name() -> str:
    """The processor's model name, as /proc/cpuinfo or the platform reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _collapse_carriage_returns(text: str) -> str:
    # What a terminal or Jupyter shows: on each line, only the text after the last '\r'.
    lines = []
    for line in text.split("\n"):
        crlf = line.endswith("\r")
        lines.append((line[:-1] if crlf else line).split("\r")[-1] + ("\r" if crlf else ""))
    return "\n".join(lines)


def clean(notebook: Any) -> None:
    """Tidy an executed notebook: progress bars as final text, no timing metadata."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        merged = []  # a progress bar arrives as many stream messages: join runs of them
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                output.get("output_type") == "stream"
                and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")
            ):
                previous["text"] += output["text"]
            else:
                merged.append(output)
        for output in merged:
            if output.get("output_type") == "stream":
                output["text"] = _collapse_carriage_returns(output["text"])
        if "outputs" in cell:
            cell["outputs"] = merged
    notebook.metadata.pop("widgets", None)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }


def execute(path: Path, smoke: bool, timeout: int) -> tuple[Any, dict[str, Any]]:
    """Run one notebook in a fresh kernel; returns the executed notebook and its record."""
    import nbformat
    import torch
    from nbclient import NotebookClient

    import lmbook

    notebook = nbformat.read(path, as_version=4)
    # The kernel gets the mode in its own environment; this process's stays as it was (a
    # caller such as pytest may go on to run notebooks itself, in the mode it chose).
    kernel_env = os.environ | {"LMBOOK_SMOKE": "1" if smoke else "0"}
    with tempfile.TemporaryDirectory(prefix="lmbook-run-") as workdir:
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": workdir}},
        )
        seconds = []
        start = time.perf_counter()
        with client.setup_kernel(cwd=workdir, env=kernel_env):
            for index, cell in enumerate(notebook.cells):
                tick = time.perf_counter()
                client.execute_cell(cell, index)
                seconds.append(round(time.perf_counter() - tick, 2))
            duration = time.perf_counter() - start
            probe = nbformat.v4.new_code_cell(_PROBE)
            notebook.cells.append(probe)  # nbclient writes cells back by index
            client.execute_cell(probe, len(notebook.cells) - 1)
            notebook.cells.pop()
    used = json.loads(probe.outputs[-1]["text"])
    clean(notebook)
    slowest = sorted(range(len(seconds)), key=seconds.__getitem__, reverse=True)[:5]
    record = {
        "notebook": path.name,
        "mode": used["mode"],
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration, 1),
        "slowest_cells": [{"cell": i, "seconds": seconds[i]} for i in slowest],
        "device": used["device"],
        "cuda_peak_mb": used["cuda_peak_mb"],
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": used["torch_threads"],  # the kernel's, as the notebook ran
        "gpu": used["gpu"],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lmbook": lmbook.__version__,
        "platform": platform.platform(),
        "code_sha256": code_hash(notebook),
    }
    return notebook, record


def wants_gpu(notebook: Any) -> bool:
    """Whether a notebook trains on the GPU: its metadata asks Colab for one."""
    return notebook.metadata.get("accelerator") == "GPU"


def device_problem(record: dict[str, Any], wanted: str | None, gpu_notebook: bool) -> str:
    """Why a run does not satisfy --require-device, or '' if it does.

    The notebook's own lmbook.device() must be the wanted device; a notebook that trains
    on the GPU must also have allocated CUDA memory (a counting chapter may not).
    """
    if not wanted:
        return ""
    if not record["device"].startswith(wanted):
        return f"required {wanted}, but the notebook's lmbook.device() was {record['device']}"
    if wanted == "cuda" and gpu_notebook and record["cuda_peak_mb"] <= 0:
        return "the notebook asks for a GPU but allocated no CUDA memory"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lmbook.execute",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--smoke", action="store_true", help="run in smoke mode and write nothing (a quick check)"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    parser.add_argument(
        "--require-device",
        choices=("cuda", "mps", "cpu"),
        help="fail unless the notebooks really ran on this device",
    )
    args = parser.parse_args(argv)

    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    for path in args.notebooks:  # before anything runs: a typo should not cost an hour
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"{path} is not a notebook file")
    results: list[tuple[str, str, float | None]] = []  # (notebook, status, seconds)
    for path in args.notebooks:
        print(f"executing {path} ({'smoke' if args.smoke else 'full'} mode) …", flush=True)
        tick = time.perf_counter()
        try:
            notebook, record = execute(path, args.smoke, args.timeout)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            # Keep going: one failing notebook should not hide the others' results. The
            # failing notebook and its record are left as they were.
            print(f"  FAILED: {_first_lines(error)}", file=sys.stderr, flush=True)
            results.append((path.name, "failed (cell error)", time.perf_counter() - tick))
            continue
        print(
            f"  {record['duration_s']} s on {record['device']} ({record['cpu']}"
            f"{', ' + record['gpu'] if record['gpu'] else ''})",
            flush=True,
        )
        if problem := device_problem(record, args.require_device, wants_gpu(notebook)):
            print(f"  FAILED: {problem}", file=sys.stderr)
            results.append((path.name, "failed (device)", record["duration_s"]))
            continue
        if not args.smoke:
            out = record_path(path)
            out.parent.mkdir(exist_ok=True)
            # The notebook first, its record last, each whole or not at all: a run
            # stopped in between leaves an old record, which the freshness test refuses.
            write_atomically(path, nbformat.writes(notebook) + "\n")
            write_atomically(out, json.dumps(record, indent=2) + "\n")
            print(f"  wrote {path} and {out}", flush=True)
        results.append((path.name, "ok", record["duration_s"]))
    print(summary_table(results), flush=True)
    return 1 if any(status != "ok" for _, status, _ in results) else 0


def write_atomically(path: Path, text: str) -> None:
    """Write text to path whole or not at all: a unique temporary file in the same
    folder, flushed to disk, then renamed over path."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def summary_table(results: list[tuple[str, str, float | None]]) -> str:
    """A plain-text table: notebook, status, seconds; and how many failed."""
    width = max([len("notebook")] + [len(name) for name, _, _ in results])
    lines = [f"{'notebook':<{width}}  {'status':<20}  {'seconds':>8}"]
    for name, status, seconds in results:
        lines.append(f"{name:<{width}}  {status:<20}  {seconds:>8.1f}")
    failed = sum(status != "ok" for _, status, _ in results)
    lines.append(f"{len(results) - failed} ok, {failed} failed")
    return "\n".join(lines)


def _first_lines(error: Exception, n: int = 6) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return "\n    ".join(lines[-n:])


if __name__ == "__main__":
    sys.exit(main())
