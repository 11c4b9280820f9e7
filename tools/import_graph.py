"""Import graph of a package: circles among its top-level imports and among all its imports.

DESIGN.md fixes one direction of imports (graph <- scalar <- tensor <- gradient/rewriting <-
compile <- scan/random <- eager/nn <- nbgrad_magics). A module that must call "upward" does so
from inside a function (a function-level import), which keeps the top-level import graph free
of circles; each such import states why with a ``# lazy: <reason>`` comment on its line, or on
a comment line directly above it (that line covers the block of imports below it).

This script reads the package's sources with ``ast`` (it imports nothing) and prints

- the circles (strongly connected components of more than one module) among top-level
  imports, among all imports (top-level and function-level together), and among the
  top-level imports plus the function-level imports that give no reason;
- every function-level import of a module of the package, with its place and its reason;
- function-level imports of other libraries (optional dependencies, the standard library).

Imports under ``if TYPE_CHECKING:`` are not counted, and neither is an import of a module's own
parent package (a package's ``__init__`` re-exporting its children would otherwise make each
child a trivial circle with its parent)::

    python tools/import_graph.py                # nbgrad/ next to this script
    python tools/import_graph.py --summary      # circles and counts only
    python tools/import_graph.py path/to/pkg

The test ``tests/test_imports.py`` uses :func:`scan_package` and :func:`circles`.
"""

import argparse
import ast
import pathlib
from collections import Counter
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAZY_TAG = "# lazy:"


@dataclass(frozen=True)
class LazyImport:
    """One import statement inside a function (or class) body."""

    module: str  # the importing module
    path: pathlib.Path
    lineno: int
    targets: tuple  # modules of the package it imports; empty for other libraries
    names: int  # how many of its imported names come from modules of the package
    text: str  # the statement's first line, stripped
    reason: str | None  # text after "# lazy:", None when the import gives no reason


@dataclass
class ImportGraph:
    """Modules of a package and the imports among them."""

    modules: dict  # module name -> source path
    top: dict = field(default_factory=dict)  # module -> set of modules imported at top level
    every: dict = field(default_factory=dict)  # module -> set of modules imported anywhere
    lazy: list = field(default_factory=list)  # LazyImport, in file and line order


def _module_name(path, root):
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(module, node, is_package, modules):
    """Modules of the package that an Import/ImportFrom node imports, one per imported name.

    A name that is not a module counts as its nearest enclosing module; the module itself is
    left out, duplicates are kept (callers count names, or take the set).
    """
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        names = []
        for alias in node.names:
            full = f"{base}.{alias.name}"
            names.append(full if full in modules else base)
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


def _is_type_checking_block(node):
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _lazy_reason(node, lines, import_lines):
    """The ``# lazy:`` reason of an import: on its own lines, or on the comment line above it.

    A comment line covers the consecutive import statements below it.
    """
    for lineno in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        line = lines[lineno - 1]
        if LAZY_TAG in line:
            return line.split(LAZY_TAG, 1)[1].strip()
    lineno = node.lineno - 1
    while lineno >= 1 and lineno in import_lines:
        lineno -= 1
    if lineno >= 1:
        line = lines[lineno - 1].strip()
        if line.startswith(LAZY_TAG):
            return line[len(LAZY_TAG) :].strip()
    return None


def _imports(tree):
    """Yield (import node, whether it is inside a function or class body) for a module's tree."""
    scope = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    pending = [(tree, False)]
    while pending:
        node, in_function = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            elif in_function or not _is_type_checking_block(child):
                pending.append((child, in_function or isinstance(child, scope)))


def _scan_module(graph, module, path):
    source = path.read_text()
    lines = source.splitlines()
    found = sorted(_imports(ast.parse(source, filename=str(path))), key=lambda item: item[0].lineno)
    import_lines = {
        ln for node, _ in found for ln in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    for node, in_function in found:
        targets = _targets(module, node, path.name == "__init__.py", graph.modules)
        graph.every[module].update(targets)
        if not in_function:
            graph.top[module].update(targets)
            continue
        reason = _lazy_reason(node, lines, import_lines)
        text = lines[node.lineno - 1].strip()
        graph.lazy.append(
            LazyImport(module, path, node.lineno, tuple(dict.fromkeys(targets)), len(targets), text, reason)
        )


def scan_package(root=ROOT / "nbgrad"):
    """Read every module under ``root`` and return its :class:`ImportGraph`."""
    root = pathlib.Path(root).resolve()
    modules = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph = ImportGraph(modules, {m: set() for m in modules}, {m: set() for m in modules})
    for module, path in modules.items():
        _scan_module(graph, module, path)
    return graph


def unexplained_edges(graph):
    """Top-level imports plus the function-level imports that state no ``# lazy:`` reason."""
    edges = {m: set(targets) for m, targets in graph.top.items()}
    for imp in graph.lazy:
        if imp.reason is None:
            edges[imp.module].update(imp.targets)
    return edges


def _without_parent_packages(edges):
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in edges.items()}


def circles(edges):
    """Strongly connected components of more than one module, each sorted, largest first."""
    edges = _without_parent_packages(edges)
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        # iterative Tarjan: (node, iterator over its successors)
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(edges[start])))]
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found, key=lambda c: (-len(c), c))


def _print_circles(title, components):
    sizes = ", ".join(str(len(c)) for c in components)
    print(f"{title}: {len(components)} circles" + (f" ({sizes} modules)" if components else ""))
    for component in components:
        print("    " + " ".join(component))


def _subpackage(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def report(graph, summary=False):
    """Print the circles, the function-level imports and their counts."""
    internal = [imp for imp in graph.lazy if imp.targets]
    external = [imp for imp in graph.lazy if not imp.targets]
    _print_circles("top-level imports", circles(graph.top))
    _print_circles("all imports", circles(graph.every))
    _print_circles("top-level and unexplained function-level imports", circles(unexplained_edges(graph)))
    without = sum(imp.reason is None for imp in internal)
    names = sum(imp.names for imp in internal)
    print(
        f"function-level imports of package modules: {len(internal)} statements, {names} names"
        f" ({without} statements without a reason)"
    )
    print(f"function-level imports of other libraries: {len(external)}")
    if summary:
        return
    print("\nfunction-level imports by subpackage (importer -> imported):")
    pairs = Counter((_subpackage(imp.module), _subpackage(t)) for imp in internal for t in imp.targets)
    for (source, target), count in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {count:4d}  {source} -> {target}")
    for title, imports in (("of package modules", internal), ("of other libraries", external)):
        print(f"\nfunction-level imports {title}:")
        for imp in imports:
            where = (
                f"{imp.path.relative_to(ROOT) if imp.path.is_relative_to(ROOT) else imp.path}:{imp.lineno}"
            )
            reason = f"lazy: {imp.reason}" if imp.reason is not None else "NO REASON"
            print(f"    {where}: {imp.text}  [{reason}]")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "root",
        nargs="?",
        default=ROOT / "nbgrad",
        type=pathlib.Path,
        help="package directory to read (default: nbgrad/)",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="print the circles and the counts only, not every function-level import",
    )
    args = parser.parse_args(argv)
    if not (args.root / "__init__.py").is_file():
        parser.error(f"{args.root} is not a package directory (it has no __init__.py)")
    report(scan_package(args.root), summary=args.summary)


if __name__ == "__main__":
    main()
