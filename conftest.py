"""Root pytest configuration: notebooks executed by `pytest` (nbval) run in smoke mode.

The kernel nbval starts inherits this process's environment, so setting the variable
here is enough. Set LMBOOK_SMOKE=0 explicitly to execute the notebooks in full mode.
"""

import os

import pytest

os.environ.setdefault("LMBOOK_SMOKE", "1")


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and a busy 2-core machine cannot slow them down.

    Test files of tiny models use it with `pytestmark = pytest.mark.usefixtures("one_thread")`.
    """
    import torch  # here, so that collecting the notebooks alone does not import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
