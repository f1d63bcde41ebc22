"""Survey: every case of the bad-input table, classified as lmbook answers it now.

    python benchmarks/bad_input_probe.py            # counts, then each case not clear
    PYTHONPATH=/path/to/old/checkout python benchmarks/bad_input_probe.py

A case is *clear* when it raises the expected error type with a message that matches the
table's regex (which names the argument), *unclear* when it raises anything else, and
*silent* when it raises nothing: a wrong answer. A mode left wrong after an error (the
table's SilentlyWrong) counts as silent too. The table is tests/test_bad_inputs.py;
pointing PYTHONPATH at an older lmbook measures that one (issue 15's before and after).
"""

from __future__ import annotations

import collections
import importlib.util
import json
import re
import sys
import warnings
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "tests" / "test_bad_inputs.py"


def load_cases() -> list:
    spec = importlib.util.spec_from_file_location("bad_input_table", TABLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def classify(case) -> tuple[str, str]:
    """('clear' | 'unclear' | 'silent', what happened)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.call()
    except Exception as error:  # the probe wants every kind of failure, by name
        if type(error).__name__ == "SilentlyWrong":  # the table's: a mode left wrong
            return "silent", str(error)
        said = f"{type(error).__name__}: {str(error)[:160]}"
        named = isinstance(error, case.error) and re.search(case.match, str(error))
        return ("clear" if named else "unclear"), said
    return "silent", f"returned {repr(result)[:160]}"


def main() -> int:
    import lmbook

    results = {case.id: classify(case) for case in load_cases()}
    counts = collections.Counter(kind for kind, _ in results.values())
    print(f"lmbook from {Path(lmbook.__file__).parent}: {len(results)} cases")
    print(", ".join(f"{counts[k]} {k}" for k in ("clear", "unclear", "silent")))
    for case_id, (kind, said) in results.items():
        if kind != "clear":
            print(f"  {kind:8} {case_id}: {said}")
    if "--json" in sys.argv:
        print(json.dumps({case_id: kind for case_id, (kind, _) in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
