"""The ``%%symgraph`` cell magic: parse the options, run the cell, show the results."""

import difflib

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from nbgrad_magics.errors import OptionError

__all__ = ["SymgraphMagics", "complete_symgraph", "OPTION_NAMES"]


@magics_class
class SymgraphMagics(Magics):
    """Magics added by ``%load_ext nbgrad``."""

    @cell_magic
    @magic_arguments()
    @argument("name", nargs="?", default=None,
              help="Bind the compiled function to this name (call it as name(x) or name(x=...)).")
    @argument("--backend", choices=("cpu", "gpu"), default=None,
              help="Array backend of the compiled function (default: nbgrad.config.backend).")
    @argument("--outputs", default=None, metavar="A,B",
              help="Comma-separated names of the results to compile "
                   "(default: every derived quantity the cell assigns).")
    @argument("--no-optimize", dest="optimize", action="store_false",
              help="Compile without graph rewrites and show the formulas as written.")
    @argument("--show", default="formula", metavar="formula|graph|source|none",
              help="What to show after the cell, comma-separated (default: formula).")
    @argument("--widgets", action="store_true",
              help="Add a slider per scalar input and a seed slider per random stream.")
    @argument("--range", dest="ranges", action="append", default=[], metavar="NAME=LOW:HIGH",
              help="Slider range of a scalar input, e.g. --range x=-3:3 (repeatable).")
    def symgraph(self, line, cell):
        """Build symbolic expressions, compile them and show the derived formulas.

        The cell is ordinary Python run in the notebook's namespace, with nbgrad's
        tensor constructors and math (``dscalar``, ``exp``, ...), ``grad``,
        ``jacobian``, ``hessian``, ``Rop``, ``Lop``, ``shared``, ``function``,
        ``scan`` and ``RandomStreams`` available without imports. Only the names the
        cell assigns (and the compiled function) are added to the namespace. Example::

            %%symgraph f --range x=-2:2 --widgets
            x = dscalar("x")
            y = x ** 2 + x ** 3
            gy = grad(y, x)

        Every derived quantity the cell assigns is shown and compiled, lists and tuples
        of them included: ``gz = grad(z, [x, y])`` shows ∂z/∂x and ∂z/∂y, and ``f``
        returns ``gz`` as a list; a list of rows (``H = [[a, b], [c, d]]``) shows as
        one matrix.
        """
        from nbgrad_magics.cell import CellOptions, run_and_show

        args = _parse(self.symgraph, line)
        try:
            options = CellOptions(name=args.name, backend=args.backend, outputs=args.outputs,
                                  optimize=args.optimize, show=args.show, widgets=args.widgets,
                                  ranges=args.ranges)
        except OptionError as exc:
            raise UsageError(f"{_usage(self.symgraph)}\n%%symgraph: {exc}") from None
        try:
            shown = run_and_show(cell, self.shell.user_ns, options)
        except OptionError as exc:
            raise UsageError(f"{_usage(self.symgraph)}\n%%symgraph: {exc}") from None
        for obj, raw in shown:
            display(obj, raw=raw)


# argparse would take --widget for --widgets (any unique prefix): a misspelt option must fail
SymgraphMagics.symgraph.parser.allow_abbrev = False


def _usage(magic):
    text = magic.parser.format_usage().strip()
    if text.startswith("::"):  # magic_arguments formats usage as a reST literal block
        text = text[2:].strip()
    return "usage: %" + " ".join(text.split())


def _parse(magic, line):
    try:
        return parse_argstring(magic, line)
    except UsageError as exc:
        raise UsageError(f"{_usage(magic)}\n%%symgraph: {exc}{_did_you_mean(str(exc))}") from None


def _did_you_mean(message):
    """A hint naming the option an unrecognized one abbreviates or misspells ('' if none)."""
    if "unrecognized arguments:" not in message:
        return ""
    hints = []
    for word in message.split("unrecognized arguments:", 1)[1].split():
        if not word.startswith("--"):
            continue
        option = word.split("=", 1)[0]
        close = [o for o in OPTION_NAMES if o.startswith(option)]
        close = close or difflib.get_close_matches(option, OPTION_NAMES, n=1)
        if close:
            hints.append(f"{option} is not an option (options are not abbreviated); "
                         f"did you mean {close[0]}?")
    return "".join("\n" + h for h in hints)


OPTION_NAMES = ("--backend", "--outputs", "--no-optimize", "--show", "--widgets", "--range", "--help")
_CHOICES = {"--backend": ("cpu", "gpu"), "--show": ("formula", "graph", "source", "none")}


def complete_symgraph(shell, event):
    """Completions after ``%%symgraph``: option names, and the values of --backend/--show."""
    words = event.line.split()
    before = words[-1] if words and not event.line.endswith(" ") else ""
    prev = words[-2] if before and len(words) > 1 else (words[-1] if words else "")
    if prev in _CHOICES and (not before or not before.startswith("-")):
        return [c for c in _CHOICES[prev] if c.startswith(before)]
    return [o for o in OPTION_NAMES if o.startswith(before or "--")]
