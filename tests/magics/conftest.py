"""One raising IPython shell for the magic tests, with nbgrad's extension loaded."""

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output


class Shell:
    """Runs cells like a kernel would; ``run`` raises the cell's error, ``bundles`` are displays."""

    def __init__(self, ip):
        self.ip = ip

    def run(self, cell):
        with capture_output() as cap:
            result = self.ip.run_cell(cell, store_history=False)
        result.raise_error()
        self.captured = cap
        return [o.data for o in cap.outputs]

    def run_failing(self, cell):
        """Run a cell that must fail; returns (error, printed output)."""
        with capture_output() as cap:
            result = self.ip.run_cell(cell, store_history=False)
        assert not result.success, "the cell was expected to fail"
        return result.error_in_exec or result.error_before_exec, cap.stdout + cap.stderr

    @property
    def ns(self):
        return self.ip.user_ns


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.colors = "NoColor"
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "nbgrad")
    yield Shell(shell)
    shell.run_line_magic("unload_ext", "nbgrad")
    shell.extension_manager.loaded.discard("nbgrad_magics")
    shell.reset(new_session=False)
