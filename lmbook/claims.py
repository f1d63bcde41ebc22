"""Claims bound to the runs that make them: glued numbers and checked claims.

* ``glue(name, value, ".3f")`` stores a number from the run under a name; the chapter's
  prose writes ``{glue:text}`name``` where the number goes, and the rendered book inserts
  it from the committed outputs, so the prose cannot drift from what the code printed.
  (In Jupyter or Colab the markdown shows the role itself; the numbers are in the
  outputs beside it.)
* ``check("the GRU beats the RNN", gru < rnn, f"{gru:.3f} vs {rnn:.3f}")`` prints the
  claim with a ✓ or a ✗ and the numbers behind it. It never raises: a ✗ in a committed
  full-mode output fails the book's tests (tests/test_budgets.py), while in smoke mode,
  on tiny data, a ✗ is expected and says so.
"""

from __future__ import annotations

from lmbook.runtime import mode
from lmbook.validate import check_str

# myst-nb reads glued values from outputs with this prefix and scrapbook metadata (its
# `glue(..., display=False)`); Jupyter shows nothing for them. Written here so that a
# chapter runs where myst-nb is not installed, as on Colab.
GLUE_PREFIX = "application/papermill.record/"
PASS, FAIL = "✓", "✗"


def glue(name: str, value: object, fmt: str = "") -> None:
    """Store `value`, formatted with `fmt`, for the prose's {glue:text}`name`.

    It returns nothing, so a cell that ends with a glue shows no stray output; the
    number is in the cell's other outputs. glue("gru_nats", 1.58347, ".3f") stores
    '1.583'.
    """
    check_str("name", name, empty=False)
    text = format(value, fmt)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: nothing to glue into
        return
    if get_ipython() is not None:
        # repr, so that myst-nb's literal_eval gives back this exact text ('0.10', not 0.1)
        data = {GLUE_PREFIX + "text/plain": repr(text)}
        meta = {"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}}
        display(data, raw=True, metadata=meta)


def check(claim: str, ok: object, detail: str = "") -> None:
    """Print the claim with ✓ (it holds in this run) or ✗ and the numbers behind it."""
    check_str("claim", claim, empty=False)
    line = f"{PASS if ok else FAIL} {claim}" + (f": {detail}" if detail else "")
    if not ok and mode() == "smoke":
        line += " [smoke mode: tiny data, not a finding]"
    print(line)
