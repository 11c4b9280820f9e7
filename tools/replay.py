"""Replay the course notebooks and record what a refactor must not change.

For every code cell of every notebook in ``examples/`` this records the cell's printed
output, the plain-text and LaTeX forms of what it displays, and the generated source
(``f.source``) of every function the cell compiles. A refactor step keeps the record
identical::

    python tools/replay.py > /tmp/before.txt      # on the parent commit
    python tools/replay.py > /tmp/after.txt       # with the change
    diff /tmp/before.txt /tmp/after.txt           # must print nothing

``--check FILE`` does the comparison itself and exits 1 with a unified diff when they
differ. Output that changes from run to run (addresses, timings) is masked with the
regexes of ``examples/sanitize.cfg``, the same ones nbval uses.
"""

import argparse
import configparser
import contextlib
import difflib
import io
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # replay the checkout this script is in


def _sanitizers():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "examples" / "sanitize.cfg")
    subs = [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]
    # %timeit's plain-terminal form ("+-", "us") of the timings nbval sees with "±", "µs"
    subs.append((re.compile(r"[\d.]+ ?[nuµm]?s \+- [\d.]+ ?[nuµm]?s per loop.*"), "TIMING"))
    return subs


def _record_sources(log):
    """Make every compiled function append its generated source to ``log``."""
    import importlib

    fmod = importlib.import_module("nbgrad.compile.function")

    init = fmod.Function.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        log.append(self.source)

    fmod.Function.__init__ = recording_init
    return lambda: setattr(fmod.Function, "__init__", init)


def replay_notebook(path, shell):
    """The record of one notebook, as a list of text lines."""
    cells = json.loads(path.read_text())["cells"]
    shell.reset(new_session=True)
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_cell("%unload_ext nbgrad", store_history=False, silent=True)
    lines = [f"=== {path.name}"]
    for k, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
        sources = []
        restore = _record_sources(sources)
        shown = []
        publish = shell.display_pub.publish
        shell.display_pub.publish = lambda data, *args, _shown=shown, **kwargs: _shown.append(data)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                result = shell.run_cell("".join(cell["source"]), store_history=True)
        finally:
            shell.display_pub.publish = publish
            restore()
        lines.append(f"--- cell {k}")
        if result.result is not None:
            data, _ = shell.display_formatter.format(result.result)
            shown.append(data)
        if result.error_in_exec is not None or result.error_before_exec is not None:
            err = result.error_in_exec or result.error_before_exec
            lines.append(f"error: {type(err).__name__}: {err}")
        lines.extend(out.getvalue().splitlines())
        for data in shown:
            for mime in ("text/plain", "text/latex"):
                if mime in data:
                    lines.append(f"[{mime}]")
                    lines.extend(str(data[mime]).splitlines())
        for src in sources:
            lines.append("[source]")
            lines.extend(src.splitlines())
    return lines


def replay(notebooks):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None  # `%matplotlib inline` without a kernel
    text = "\n".join(line for nb in notebooks for line in replay_notebook(nb, shell)) + "\n"
    for regex, replace in _sanitizers():
        text = regex.sub(replace, text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to replay (default: examples/*.ipynb)")
    parser.add_argument("--check", metavar="FILE", help="compare with an earlier record")
    args = parser.parse_args(argv)
    notebooks = [pathlib.Path(p) for p in args.notebooks] or sorted((ROOT / "examples").glob("*.ipynb"))
    text = replay(notebooks)
    if args.check is None:
        sys.stdout.write(text)
        return 0
    before = pathlib.Path(args.check).read_text()
    if before == text:
        print(f"replay: identical ({len(text.splitlines())} lines)")
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(before.splitlines(True), text.splitlines(True), "before", "after")
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
