"""The import graph follows DESIGN.md's direction.

Top-level imports form no circle, and a function-level import in the modules listed in
``COVERED`` states why it cannot be at top level (a ``# lazy: <reason>`` comment): a
facade such as ``Variable.eval``, a display hook, an optional dependency, or an upward
call. The graph is read by ``tools/import_graph.py`` (``python tools/import_graph.py``
prints it).
"""

import importlib.util
import pathlib
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Modules (and packages, with everything under them) whose function-level imports
# must each state a reason. "nbgrad" is the package's __init__ only.
COVERED = (
    "nbgrad",
    "nbgrad.graph",
    "nbgrad.scalar.basic",
    "nbgrad.tensor",
    "nbgrad.gradient",
    "nbgrad.random",
    "nbgrad.ifelse",
    "nbgrad.sandbox",
    "nbgrad.rewriting",
    "nbgrad.compile",
    "nbgrad.serialize",
    "nbgrad.eager",
    "nbgrad.nn",
    "nbgrad.scalar",
    "nbgrad.scan",
    "nbgrad.printing",
    "nbgrad.backends",
    "nbgrad.vectorize",
    "nbgrad.banded",
    "nbgrad.scan_module",
)


def _load_tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


import_graph = _load_tool()


@pytest.fixture(scope="module")
def graph():
    return import_graph.scan_package(ROOT / "nbgrad")


def _covered(module):
    return any(module == c or (c != "nbgrad" and module.startswith(c + ".")) for c in COVERED)


def test_top_level_imports_form_no_circle(graph):
    found = import_graph.circles(graph.top)
    assert not found, (
        "top-level imports form circles (import the upper module inside the function that "
        "needs it, with a '# lazy: <reason>' comment, or move the shared piece down):\n"
        + "\n".join("  " + " -> ".join(c) for c in found)
    )


def test_every_covered_module_exists(graph):
    missing = [c for c in COVERED if not any(m == c or m.startswith(c + ".") for m in graph.modules)]
    assert not missing, f"COVERED names modules that do not exist: {missing}"


def test_function_level_imports_in_covered_modules_state_a_reason(graph):
    silent = [
        f"{imp.path.relative_to(ROOT)}:{imp.lineno}: {imp.text}"
        for imp in graph.lazy
        if _covered(imp.module) and not imp.reason
    ]
    assert not silent, (
        "function-level imports without a '# lazy: <reason>' comment (move them to the top of "
        "the module, or say on the line above why they must stay inside the function):\n  "
        + "\n  ".join(silent)
    )


# ------------------------------------------------------------------ the checker itself
def _package(tmp_path, files):
    root = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return import_graph.scan_package(root)


def test_checker_finds_a_top_level_circle_and_ignores_one_through_a_function(tmp_path):
    graph = _package(tmp_path, {
        "a.py": "from pkg.b import g\n",
        "b.py": "import pkg.c\ndef g():\n    from pkg import a\n",
        "c.py": "from . import b\n",
    })
    assert import_graph.circles(graph.top) == [["pkg.b", "pkg.c"]]
    assert import_graph.circles(graph.every) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_checker_ignores_imports_of_the_parent_package_and_under_type_checking(tmp_path):
    graph = _package(tmp_path, {
        "__init__.py": "from pkg.sub import x\n",
        "sub/__init__.py": "from pkg.sub.mod import x\n",
        "sub/mod.py": "import pkg.sub as s\nfrom typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from pkg import other\nx = 1\n",
        "other.py": "from pkg.sub.mod import x\n",
    })
    assert import_graph.circles(graph.top) == []
    assert graph.lazy == []


def test_checker_reads_the_reason_of_a_function_level_import(tmp_path):
    graph = _package(tmp_path, {
        "low.py": "",
        "m.py": """\
            def silent():
                from pkg import low

            def on_the_line():
                from pkg import low  # lazy: upward call

            def above_a_block():
                # lazy: a display hook
                from pkg import low
                import json

            def after_code():
                x = 1
                import json
        """,
    })
    reasons = {(imp.lineno, imp.text): imp.reason for imp in graph.lazy}
    assert reasons == {
        (2, "from pkg import low"): None,
        (5, "from pkg import low  # lazy: upward call"): "upward call",
        (9, "from pkg import low"): "a display hook",
        (10, "import json"): "a display hook",
        (14, "import json"): None,
    }
    assert [imp.targets for imp in graph.lazy] == [("pkg.low",)] * 3 + [()] * 2
