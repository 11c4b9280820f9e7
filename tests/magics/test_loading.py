"""Loading, unloading, and the lazy registration that installed kernels get."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nbgrad_magics

REPO = Path(__file__).resolve().parents[2]
STARTUP = "50-nbgrad-symgraph.py"
SOURCE = REPO / "jupyter-config" / "ipython" / "startup" / STARTUP


@pytest.fixture
def bare():
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    yield shell
    for name in ("nbgrad", "nbgrad_magics"):
        if name in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", name)
    shell.extension_manager.loaded.discard("nbgrad_magics")
    shell.magics_manager.lazy_magics.pop("symgraph", None)
    shell.reset(new_session=False)


def _registered(shell):
    from nbgrad.tensor import TensorVariable

    return ("symgraph" in shell.magics_manager.magics["cell"],
            TensorVariable in shell.display_formatter.formatters["text/latex"].type_printers)


@pytest.mark.parametrize("module", ["nbgrad", "nbgrad_magics"])
def test_load_and_unload(bare, module):
    assert _registered(bare) == (False, False)
    bare.run_line_magic("load_ext", module)
    assert _registered(bare) == (True, True)
    bare.run_line_magic("unload_ext", module)
    assert _registered(bare) == (False, False)
    assert "%%symgraph" not in bare.strdispatchers["complete_command"].strs
    with pytest.raises(UsageError, match="not found"):
        bare.run_cell_magic("symgraph", "", "x = 1")


def test_loading_twice_is_harmless(bare):
    bare.run_line_magic("load_ext", "nbgrad")
    magic = bare.find_cell_magic("symgraph")
    bare.run_line_magic("load_ext", "nbgrad_magics")
    nbgrad_magics.load_ipython_extension(bare)
    assert bare.find_cell_magic("symgraph") == magic
    bare.run_cell_magic("symgraph", "f", "x = dscalar('x')\ny = x + 1")
    assert float(bare.user_ns["f"](1.0)) == 2.0
    bare.run_line_magic("unload_ext", "nbgrad")
    assert _registered(bare) == (False, False)


def test_unload_restores_previous_formatters(bare):
    from nbgrad.tensor import TensorVariable

    latex = bare.display_formatter.formatters["text/latex"]
    mine = lambda obj: "$mine$"
    latex.for_type(TensorVariable, mine)
    try:
        bare.run_line_magic("load_ext", "nbgrad")
        assert latex.lookup_by_type(TensorVariable) is not mine
        bare.run_line_magic("unload_ext", "nbgrad")
        assert latex.lookup_by_type(TensorVariable) is mine
    finally:
        latex.pop(TensorVariable, None)


def test_startup_file_registers_lazily_and_binds_no_names(bare):
    before = set(bare.user_ns)
    bare.safe_execfile(str(SOURCE), bare.user_ns, raise_exceptions=True)
    assert set(bare.user_ns) == before
    assert bare.magics_manager.lazy_magics["symgraph"] == "nbgrad_magics"
    bare.run_cell_magic("symgraph", "f", "x = dscalar('x')\ny = 2 * x")
    assert float(bare.user_ns["f"](3.0)) == 6.0
    assert "nbgrad_magics" in bare.extension_manager.loaded


def test_unload_also_removes_the_lazy_registration(bare):
    bare.safe_execfile(str(SOURCE), bare.user_ns, raise_exceptions=True)
    bare.run_cell_magic("symgraph", "f", "x = dscalar('x')\ny = x + 1")
    bare.run_line_magic("unload_ext", "nbgrad_magics")
    assert "symgraph" not in bare.magics_manager.lazy_magics
    with pytest.raises(UsageError, match="not found"):
        bare.run_cell_magic("symgraph", "", "x = 1")


def test_installed_startup_file_matches_the_repository():
    installed = Path(sys.prefix, "etc", "ipython", "startup", STARTUP)
    assert installed.is_file(), (
        f"{installed} is missing: install the package (pip install -e .) so that IPython "
        "kernels register %%symgraph"
    )
    assert installed.read_text() == SOURCE.read_text()


def test_a_fresh_ipython_uses_symgraph_without_load_and_imports_nothing_before(tmp_path):
    code = textwrap.dedent("""
        import sys
        print("before", "nbgrad" in sys.modules, "nbgrad_magics" in sys.modules)
        get_ipython().run_cell_magic("symgraph", "f", "x = dscalar('x')\\ny = x ** 3\\ngy = grad(y, x)")
        print("after", "nbgrad" in sys.modules, float(f(x=2.0)[1]))
    """)
    env = dict(os.environ, IPYTHONDIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "IPython", "--no-banner",
                          "--colors=NoColor", "-c", code],
                         capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert "before False False" in out.stdout, out.stdout + out.stderr
    assert "after True 12.0" in out.stdout, out.stdout + out.stderr


def test_nbgrad_never_imports_ipython():
    code = "import sys, nbgrad, nbgrad.tensor as T; T.grad(T.dscalar('x') ** 2, T.dscalar('y'), " \
           "disconnected_inputs='ignore'); print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr



def test_readme_quick_start_opens_the_course_even_as_root():
    # JupyterLab refuses to start as root unless told --allow-root; the README's first
    # command must work in a container too, as one line that installs and runs
    import re
    import shlex

    from jupyterlab.labapp import LabApp

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", quick_start, re.S).group(1)
    assert "\n" not in command.strip()
    install, run = command.split(" && ")
    assert install.split()[:4] == ["python3", "-m", "pip", "install"]
    words = shlex.split(run)
    assert words[:4] == ["python3", "-m", "jupyter", "lab"]
    app = LabApp()
    app.parse_command_line(words[4:])
    assert app.config.ServerApp.allow_root is True
    assert app.extra_args == ["examples/"]
