"""The math in the course notebooks' text cells is valid LaTeX that MathJax renders.

nbval compares code outputs only, so a formula in a markdown cell that MathJax
cannot typeset (an error box, or backslash commands shown as plain letters)
would pass it unnoticed. Each ``$...$`` and ``$$...$$`` span of every markdown
cell is parsed with a real TeX parser (pylatexenc) and checked for the
mistakes that break rendering: a doubled backslash before a command
(``\\\\top`` for ``\\top``, left by one escaping too many in the source),
unbalanced braces, ``\\left`` or ``$``, and commands outside the small set the
course uses.
"""

import json
import re
from pathlib import Path

import pytest
from pylatexenc.latexwalker import (
    LatexEnvironmentNode, LatexGroupNode, LatexMacroNode, LatexMathNode, LatexWalker,
    LatexWalkerParseError,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))

#: The LaTeX commands the course's text uses; a new one is added here on purpose.
KNOWN_COMMANDS = {
    "\\", ",", ";", "!", "quad", "qquad", "{", "}",
    "alpha", "beta", "epsilon", "varepsilon", "eta", "theta", "lambda", "mu", "sigma", "partial", "nabla", "top", "dots", "ldots", "cdots", "cdot", "pm",
    "to", "in", "le", "ge", "infty", "times", "odot", "mathbb", "mathrm", "text", "operatorname",
    "frac", "sqrt", "sum", "prod", "log", "exp", "tanh", "sin", "cos", "max", "min",
    "left", "right", "begin", "end",
}
KNOWN_ENVIRONMENTS = {"aligned", "bmatrix", "pmatrix", "cases"}

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)


def math_spans(markdown):
    """``[(delimiter, tex)]`` for each ``$...$`` / ``$$...$$`` of a markdown text (code skipped).

    Raises ValueError for a ``$`` or ``$$`` that is never closed.

    >>> math_spans("a $x^2$ and `$not math$` then $$y$$")
    [('$', 'x^2'), ('$$', 'y')]
    """
    text = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    spans = []
    pos = 0
    while True:
        start = _next_dollar(text, pos)
        if start < 0:
            return spans
        delim = "$$" if text.startswith("$$", start) else "$"
        end = _next_dollar(text, start + len(delim), delim)
        if end < 0:
            line = text.count("\n", 0, start) + 1
            raise ValueError(f"line {line}: {delim} opens math that is never closed: "
                             f"{text[start:start + 40]!r}")
        spans.append((delim, text[start + len(delim):end]))
        pos = end + len(delim)


def _next_dollar(text, pos, delim=None):
    """Where the next unescaped ``$`` (or, with ``delim``, that exact delimiter) starts, or -1."""
    while True:
        k = text.find("$", pos)
        if k < 0:
            return -1
        if k > 0 and text[k - 1] == "\\":
            pos = k + 1
            continue
        if delim == "$" and text.startswith("$$", k):
            return -1  # display math cannot start inside inline math
        if delim == "$$" and not text.startswith("$$", k):
            pos = k + 1
            continue
        return k


def math_problems(delim, tex):
    """What in one math span would not render as meant (empty when all is well).

    >>> math_problems("$", r"J_3^\\\\top")
    ['doubled backslash before a command: \\\\\\\\top (write \\\\top)']
    >>> math_problems("$", r"\\frac{a}{b")
    ['not valid TeX: unbalanced braces or delimiters']
    >>> math_problems("$", r"\\sigma(x) \\frakk y")
    ['unknown command \\\\frakk (known: see KNOWN_COMMANDS)']
    """
    problems = []
    for m in re.finditer(r"\\\\([A-Za-z]+|[,;:!])", tex):
        problems.append(f"doubled backslash before a command: \\\\{m.group(1)} "
                        f"(write \\{m.group(1)})")
    if _count(tex, r"\\left\b") != _count(tex, r"\\right\b"):
        problems.append("\\left and \\right do not pair up")
    try:
        nodes, _, _ = LatexWalker(f"{delim}{tex}{delim}", tolerant_parsing=False).get_latex_nodes()
    except LatexWalkerParseError:
        return problems + ["not valid TeX: unbalanced braces or delimiters"]
    for node in _walk(nodes):
        if isinstance(node, LatexMacroNode) and node.macroname not in KNOWN_COMMANDS:
            problems.append(f"unknown command \\{node.macroname} (known: see KNOWN_COMMANDS)")
        if isinstance(node, LatexEnvironmentNode) and node.environmentname not in KNOWN_ENVIRONMENTS:
            problems.append(f"unknown environment {node.environmentname}")
    return problems


def _count(text, pattern):
    return len(re.findall(pattern, text))


def _walk(nodes):
    stack = list(nodes or ())
    while stack:
        node = stack.pop()
        if node is None:
            continue
        yield node
        if isinstance(node, (LatexGroupNode, LatexMathNode, LatexEnvironmentNode)):
            stack.extend(node.nodelist or ())
        if isinstance(node, LatexMacroNode) and node.nodeargd is not None:
            stack.extend(a for a in node.nodeargd.argnlist if a is not None)


def _markdown_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            source = cell["source"]
            yield k, source if isinstance(source, str) else "".join(source)


def test_the_course_has_notebooks_with_math():
    spans = [s for path in NOTEBOOKS for _, text in _markdown_cells(path) for s in math_spans(text)]
    assert len(NOTEBOOKS) >= 7
    assert len(spans) > 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_math_renders(path):
    problems = []
    for k, text in _markdown_cells(path):
        try:
            spans = math_spans(text)
        except ValueError as exc:
            problems.append(f"cell {k}: {exc}")
            continue
        for delim, tex in spans:
            problems += [f"cell {k}: {delim}{tex}{delim}: {p}" for p in math_problems(delim, tex)]
    assert not problems, "math in markdown cells that would not render:\n" + "\n".join(problems)


@pytest.mark.parametrize("tex, expected", [
    (r"J_3^\\top", "doubled backslash"),
    (r"J = J_3 \\, J_2", "doubled backslash"),
    (r"\\mathbb{R}^n \\to \\mathbb{R}^m", "doubled backslash"),
    (r"B \\tanh(A x)", "doubled backslash"),
    (r"\frac{1}{n", "not valid TeX"),
    (r"x}", "not valid TeX"),
    (r"\left( x", "\\left and \\right"),
    (r"\mathscr{L}", "unknown command \\mathscr"),
    (r"\begin{tabular}x\end{tabular}", "unknown environment"),
])
def test_math_problems_are_found(tex, expected):
    problems = math_problems("$", tex)
    assert any(expected in p for p in problems), problems


def test_good_math_passes():
    assert math_problems("$$", r"J = J_3 \, J_2 \, J_1 .") == []
    assert math_problems("$", r"\begin{aligned} a &= b \\ &\quad + c \end{aligned}") == []
    assert math_problems("$", r"f: \mathbb{R}^n \to \mathbb{R}^m") == []


@pytest.mark.parametrize("markdown", ["costs $x + 1", "a $$x$ b", "$a$ and $b"])
def test_unbalanced_dollars_are_found(markdown):
    with pytest.raises(ValueError, match="never closed"):
        math_spans(markdown)
