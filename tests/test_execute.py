"""The notebook runner: cleaning outputs, device checks, and a real (tiny) execution."""

import json
import os
import re
import sys

import nbformat
import pytest

from lmbook import execute
from lmbook.book import code_hash, read_record


def test_progress_bars_collapse_to_their_final_text() -> None:
    text = "  0%|   | 0/10\r 50%|#  | 5/10\r100%|###| 10/10\ndone\n"
    assert execute._collapse_carriage_returns(text) == "100%|###| 10/10\ndone\n"
    assert execute._collapse_carriage_returns("a\r\nb") == "a\r\nb"  # Windows newlines stay


def test_clean_joins_a_progress_bar_sent_as_many_messages() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    stream = nbformat.v4.new_output
    nb.cells[0].outputs = [
        stream("stream", name="stderr", text="\r  0%|  | 0/4"),
        stream("stream", name="stderr", text="\r 50%|# | 2/4"),
        stream("stream", name="stdout", text="between\n"),
        stream("stream", name="stderr", text="\r100%|##| 4/4\n"),
    ]
    execute.clean(nb)
    assert [(o["name"], o["text"]) for o in nb.cells[0].outputs] == [
        ("stderr", " 50%|# | 2/4"),
        ("stdout", "between\n"),
        ("stderr", "100%|##| 4/4\n"),
    ]


def test_clean_drops_timing_and_widget_metadata() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    nb.cells[0].metadata["execution"] = {"iopub.execute_input": "…"}
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text="1\r2\n")]
    nb.metadata["widgets"] = {"state": {}}
    nb.metadata["kernelspec"] = {"name": "my-personal-env", "display_name": "me"}
    execute.clean(nb)
    assert "execution" not in nb.cells[0].metadata
    assert nb.cells[0].outputs[0]["text"] == "2\n"
    assert "widgets" not in nb.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize(
    ("device", "peak", "gpu_notebook", "wanted", "fails"),
    [
        ("cuda", 120.0, True, "cuda", False),
        ("cuda", 0.0, False, "cuda", False),  # a counting chapter need not allocate
        ("cuda", 0.0, True, "cuda", True),  # a training chapter must
        ("cpu", 0.0, False, "cuda", True),
        ("cpu", 0.0, False, None, False),
        ("cpu", 0.0, False, "cpu", False),
    ],
)
def test_device_problem(device, peak, gpu_notebook, wanted, fails) -> None:
    record = {"device": device, "cuda_peak_mb": peak}
    assert bool(execute.device_problem(record, wanted, gpu_notebook)) is fails


def test_execute_writes_outputs_and_a_record(tmp_path, monkeypatch) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# A tiny chapter"),
            nbformat.v4.new_code_cell("import lmbook\nsteps = lmbook.by_mode(full=3, smoke=1)"),
            nbformat.v4.new_code_cell("steps * 2"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(sys, "argv", ["lmbook.execute"])
    monkeypatch.setenv("LMBOOK_SMOKE", "1")  # as under pytest: the caller's mode
    assert execute.main([str(path)]) == 0
    done = nbformat.read(path, as_version=4)
    assert done.cells[2].outputs[0]["data"]["text/plain"] == "6"  # full mode: 3 * 2
    record = read_record(path)
    assert record["mode"] == "full" and record["device"] == "cpu"
    assert isinstance(record["torch_threads"], int) and record["torch_threads"] >= 1
    assert record["code_sha256"] == code_hash(json.loads(path.read_text()))
    # --smoke runs the same cells with the smoke sizes and leaves the notebook alone
    assert execute.main(["--smoke", str(path)]) == 0
    assert nbformat.read(path, as_version=4).cells[2].outputs[0]["data"]["text/plain"] == "6"
    # --require-device cuda fails on this CPU-only machine, and writes nothing
    if not __import__("torch").cuda.is_available():
        before = path.read_text()
        assert execute.main(["--require-device", "cuda", str(path)]) == 1
        assert path.read_text() == before
    # The mode went to the kernels only: this process (pytest, which runs the notebooks
    # next, in smoke mode) keeps its own. A leak once made CI execute them in full mode.
    assert os.environ["LMBOOK_SMOKE"] == "1"


def tiny_notebook(path, code: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)


def test_a_failing_notebook_does_not_stop_the_others_and_the_summary_says_so(
    tmp_path, capsys
) -> None:
    paths = [tmp_path / f"{name}.ipynb" for name in ("a_good", "b_bad", "c_good")]
    tiny_notebook(paths[0], "1 + 1")
    tiny_notebook(paths[1], "raise RuntimeError('this cell fails')")
    tiny_notebook(paths[2], "2 + 2")
    bad_before = paths[1].read_text()
    assert execute.main([str(p) for p in paths]) == 1
    out, err = capsys.readouterr()
    assert "this cell fails" in err
    summary = out[out.index("notebook ") :]
    assert re.search(r"a_good\.ipynb\s+ok\s+\d", summary)
    assert re.search(r"b_bad\.ipynb\s+failed \(cell error\)\s+\d", summary)
    assert re.search(r"c_good\.ipynb\s+ok\s+\d", summary)
    assert "2 ok, 1 failed" in summary
    assert paths[1].read_text() == bad_before and read_record(paths[1]) is None
    assert read_record(paths[2])["code_sha256"] == code_hash(json.loads(paths[2].read_text()))
    assert nbformat.read(paths[2], as_version=4).cells[0].outputs[0]["data"]["text/plain"] == "4"
    with pytest.raises(SystemExit):  # a path that is no notebook: refused before any run
        execute.main([str(paths[0]), str(tmp_path / "missing.ipynb")])


def test_writes_are_whole_or_nothing(tmp_path, monkeypatch) -> None:
    target = tmp_path / "record.json"
    target.write_text("old\n")
    execute.write_atomically(target, "new\n")
    assert target.read_text() == "new\n"

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        execute.write_atomically(target, "half\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
