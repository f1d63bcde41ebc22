"""Root pytest configuration: notebooks executed by `pytest` (nbval) run in smoke mode.

The kernel nbval starts inherits this process's environment, so setting the variable
here is enough. Set LMBOOK_SMOKE=0 explicitly to execute the notebooks in full mode.
"""

import os

os.environ.setdefault("LMBOOK_SMOKE", "1")
