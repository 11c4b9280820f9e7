"""End to end: JupyterLab in headless Chromium runs %%symgraph cells and every course notebook.

Needs the Debian ``chromium`` package at /usr/bin/chromium (CI installs it) and the Python
package ``playwright`` (in the ``test`` extra); the browser is never downloaded. Without either,
every test here is skipped with a reason that names what is missing.
"""

import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing():
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: install the Debian package (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is missing: pip install -e '.[test]'"
    return None


_MISSING = _missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.ipynb"))

CELLS = [
    "%load_ext nbgrad",
    "%%symgraph f --widgets --range x=-2:2\n"
    "srng = RandomStreams(seed=1)\n"
    "x = dscalar('x')\n"
    "y = x ** 2 + srng.uniform(())\n",
]


# formulas as a course shows them: the textbook logistic loss (its stabilized form prints as
# written), and the gradient of softmax regression with dynamic shapes, long enough to be
# laid out on several lines
FORMULA_CELLS = [
    "%load_ext nbgrad",
    "%%symgraph logistic\n"
    "X = dmatrix('X'); t = dvector('t'); w = dvector('w')\n"
    "p = sigmoid(dot(X, w))\n"
    "loss = (-t * log(p) - (1 - t) * log(1 - p)).mean()\n"
    "gw = grad(loss, w)\n",
    "%%symgraph softreg\n"
    "X = dmatrix('X'); y = ivector('y'); W = dmatrix('W'); b = dvector('b')\n"
    "p = softmax(dot(X, W) + b)\n"
    "cost = -log(p)[arange(y.shape[0]), y].mean()\n"
    "gW = grad(cost, W)\n",
]


# one of each fault the course-notebook test must report, the failing cell last (Run All stops there)
BROKEN_CELLS = [
    ("markdown", "A formula MathJax cannot typeset: $x^2^3$."),
    ("markdown", "Math that is never closed: $$ \\sum_i x_i"),
    "from IPython.display import Math\n"
    "Math(' + '.join(f'x_{{{i}}}' for i in range(300)))",
    "1 / 0",
]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path, cells=CELLS):
    """Write a notebook of ``cells``: code sources, or ``("markdown", text)`` pairs."""
    def cell(src):
        if isinstance(src, tuple):
            return {"cell_type": src[0], "metadata": {}, "source": src[1]}
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}

    nb = {
        "cells": [cell(src) for src in cells],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def _course_notebook(src, dst):
    """Copy a course notebook without its stored outputs, so that every prompt starts empty."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    dst.write_text(json.dumps(nb), encoding="utf-8")


def _lab_settings(settings):
    """JupyterLab settings for the tests: every cell of a notebook stays in the page.

    JupyterLab 4 windows long notebooks: cells out of view are detached or left unrendered,
    so their outputs could be neither measured nor checked.
    """
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a token, a free port and fresh settings.

    Its root holds the notebooks of the tests below and the course notebooks, without outputs.
    """
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "root"
    root.mkdir()
    _notebook(root / "demo.ipynb")
    _notebook(root / "formulas.ipynb", FORMULA_CELLS)
    _notebook(root / "broken.ipynb", BROKEN_CELLS)
    for notebook in EXAMPLES:
        _course_notebook(notebook, root / notebook.name)
    _lab_settings(tmp_path / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), IPYTHONDIR=str(tmp_path / "ipython"),
               JUPYTER_PLATFORM_DIRS="1")
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         "--allow-root", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield url, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _shut_down_kernels(url, token):
    """End every kernel session of the server, so that one test's kernel does not load the next."""
    auth = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions", headers=auth)) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", headers=auth,
                                         method="DELETE")
        urllib.request.urlopen(request).close()


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium, driven by Playwright, shared by the tests of this file."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(lab, chromium):
    """A fresh browser page at a laptop's window size; its kernels end with the test."""
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)  # a loaded CI machine can take a while
    yield page
    context.close()
    _shut_down_kernels(*lab)


def _open(page, lab, notebook):
    """Open ``notebook`` alone, in a workspace of its own.

    The server remembers each workspace's open tabs, so the default one would reopen the last
    test's notebooks (and start their kernels); a new workspace starts empty. (The ``reset``
    query would do the same, but it reloads the page while the kernel connects.)
    """
    url, token = lab
    workspace = re.sub(r"\W", "-", Path(notebook).stem)
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?token={token}")


def _wait_for_kernel(page):
    """Wait until the notebook's kernel is connected and idle.

    The status bar says so ("Python 3 (ipykernel) | Idle"); the toolbar's execution indicator
    already reads idle while there is no kernel yet, and cells run then are dropped.
    """
    page.wait_for_function(
        r"""() => /\|\s*Idle\b/.test(document.querySelector('#jp-main-statusbar')?.innerText || '')""",
        timeout=120_000, polling=250)


def _run_cell(page, cell, attempts=3):
    """Run ``cell`` (Shift+Enter in its editor) and wait until its prompt shows a count.

    A keypress that arrives before the editor has focus is lost on a loaded machine; the cell
    then never runs, so the click and keypress are repeated while the prompt is still empty.
    """
    from playwright.sync_api import expect

    prompt = cell.locator(".jp-InputPrompt")
    for attempt in range(attempts):
        if attempt == 0 or not re.search(r"\[[\d*]+\]", prompt.inner_text()):
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=40_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def test_symgraph_cell_renders_formula_and_seed_slider_changes_output(lab, page):
    from playwright.sync_api import expect

    _open(page, lab, "demo.ipynb")
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(2)
    _wait_for_kernel(page)
    for k in range(2):
        _run_cell(page, cells.nth(k))
    out = cells.nth(1).locator(".jp-OutputArea")
    # the formula, typeset by MathJax
    formula = out.locator("mjx-container").first
    formula.wait_for(state="attached")
    values = out.locator(".nbgrad-values")
    expect(values).to_contain_text("y")
    before = values.inner_text()
    sliders = out.locator(".widget-slider")
    expect(sliders).to_have_count(2)  # x and the seed of srng
    expect(sliders.nth(1)).to_contain_text("seed")
    handle = sliders.nth(1).locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("ArrowRight")
    expect(sliders.nth(1).locator(".widget-readout")).to_contain_text("2")
    expect(values).not_to_have_text(before)


# what a formula output must not show: MathJax's error boxes, or TeX that was not typeset
_FORMULA_STATE = """out => {
    const area = out.getBoundingClientRect();
    return {
        containers: out.querySelectorAll('mjx-container').length,
        errors: Array.from(out.querySelectorAll('mjx-merror, [data-mjx-error]'))
            .map(e => e.getAttribute('data-mjx-error') || e.textContent),
        text: out.innerText,
        right: area.right,
        rights: Array.from(out.querySelectorAll('mjx-container'))
            .map(e => Math.round(e.getBoundingClientRect().right)),
        overflow: Array.from(out.querySelectorAll('.jp-OutputArea-output'))
            .filter(e => e.scrollWidth > e.clientWidth + 1).length,
    };
}"""


def _png_size_and_colours(data):
    """(width, height, number of distinct colours) of a PNG screenshot."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    return img.width, img.height, len(img.getcolors(maxcolors=1 << 20) or ())


def test_formulas_typeset_without_error_and_fit_the_output_area(lab, page, tmp_path):
    from playwright.sync_api import expect

    _open(page, lab, "formulas.ipynb")
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(len(FORMULA_CELLS))
    _wait_for_kernel(page)
    for k in range(len(FORMULA_CELLS)):  # one after the other, each run to its end
        _run_cell(page, cells.nth(k))
    expected = {1: 3, 2: 3}  # formulas shown per %%symgraph cell (p, loss, gw / p, cost, gW)
    for k, count in expected.items():
        out = cells.nth(k).locator(".jp-OutputArea")
        expect(out.locator("mjx-container")).to_have_count(count)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    for k in expected:
        out = cells.nth(k).locator(".jp-OutputArea")
        state = out.evaluate(_FORMULA_STATE)
        assert state["errors"] == [], f"cell {k}: MathJax errors {state['errors']}"
        assert "\\" not in state["text"] and "$" not in state["text"], (
            f"cell {k}: TeX left in the page: {state['text'][:300]}")
        assert "Traceback" not in state["text"] and "Error" not in state["text"], state["text"][:500]
        assert state["overflow"] == 0 and max(state["rights"]) <= state["right"] + 1, (
            f"cell {k}: a formula is wider than the output area (right edges "
            f"{state['rights']} > {state['right']}): {state['text'][:300]}")
    # the long gradient is laid out on several lines: MathJax renders the aligned rows
    gW = cells.nth(2).locator(".jp-OutputArea mjx-container").last
    assert gW.locator("mjx-mtr, mjx-mlabeledtr").count() >= 2
    shot = cells.nth(2).locator(".jp-OutputArea").screenshot(path=str(tmp_path / "formulas.png"))
    width, height, colours = _png_size_and_colours(shot)
    assert width > 200 and height > 50 and colours > 2, (width, height, colours)


# Everything a course notebook's page must not show once it has run, cell by cell:
# MathJax's error boxes; TeX that was not typeset, in rendered markdown, LaTeX, HTML or widget
# labels (plain-text outputs such as print() show TeX source on purpose); a traceback or a widget
# that failed to display; and any output, formula or other, wider than its output area.
_NOTEBOOK_PROBLEMS = r"""() => {
    const RAW_TEX = /\\(frac|dfrac|sum|prod|begin|end|left|right|sqrt|cdot|partial|nabla|mathrm|mathbf|operatorname|displaystyle|text)\b|\$\$|\$[^$\s][^$]*\$/;
    const RENDERED = '.jp-RenderedMarkdown, .jp-RenderedLatex, .jp-RenderedHTMLCommon, .widget-label, .widget-html-content';
    const SKIP = 'mjx-container, code, pre, script, style, .jp-InputArea-editor';
    const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
    const where = el => {
        const cell = el.closest('.jp-Cell');
        return `cell ${cells.indexOf(cell)}`;
    };
    const problems = {errors: [], raw_tex: [], tracebacks: [], wide: []};
    for (const e of document.querySelectorAll('.jp-Notebook mjx-merror, .jp-Notebook [data-mjx-error]')) {
        problems.errors.push(`${where(e)}: ${e.getAttribute('data-mjx-error') || e.textContent}`);
    }
    for (const root of document.querySelectorAll('.jp-Notebook :is(' + RENDERED + ')')) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (node.parentElement.closest(SKIP) || !RAW_TEX.test(node.textContent)) continue;
            problems.raw_tex.push(`${where(root)}: ${node.textContent.trim().slice(0, 120)}`);
        }
    }
    for (const out of document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')) {
        const text = out.innerText;
        if (/Traceback \(most recent call last\)|Error displaying widget|Failed to load model class/.test(text)
            || out.querySelector('[data-mime-type="application/vnd.jupyter.error"]')) {
            problems.tracebacks.push(`${where(out)}: ${text.slice(-600)}`);
        }
        const area = out.getBoundingClientRect();
        const parts = [out, ...out.querySelectorAll(
            'mjx-container, pre, img, canvas, table, svg:not(mjx-container svg), .jupyter-widgets')];
        for (const part of parts) {
            const box = part.getBoundingClientRect();
            const spills = box.width > 0 && (box.right > area.right + 1 || box.left < area.left - 1);
            const scrolls = part.scrollWidth > part.clientWidth + 1;
            if (spills || scrolls) {
                problems.wide.push(`${where(out)}: <${part.tagName.toLowerCase()}> is `
                    + `${Math.round(Math.max(box.width, part.scrollWidth))}px wide, its output area `
                    + `${Math.round(area.width)}px: ${(part.textContent || part.tagName).replace(/\s+/g, ' ').slice(0, 160)}`);
            }
        }
    }
    return problems;
}"""


def _run_all_cells(page, n_code_cells):
    """Run the whole notebook with JupyterLab's Run > Run All Cells and wait for the end.

    The end: the kernel is idle and every code cell shows an execution count, or a cell
    failed (JupyterLab then stops and leaves the later prompts empty).
    """
    _wait_for_kernel(page)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    page.wait_for_function(
        r"""n => {
            const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const prompts = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'));
            const done = prompts.length === n && prompts.every(p => /\[\d+\]/.test(p.textContent));
            const failed = document.querySelector('.jp-Notebook [data-mime-type^="application/vnd.jupyter.err"], '
                + '.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]')
                && !prompts.some(p => p.textContent.includes('*'));
            return indicator && indicator.dataset.status === 'idle' && (done || failed);
        }""",
        arg=n_code_cells, timeout=180_000, polling=250)


def _page_problems(page, until, seconds=20):
    """The page's problems (see ``_NOTEBOOK_PROBLEMS``) once ``until(problems)`` holds, or after ``seconds``.

    MathJax typesets asynchronously after a cell or an output appears, so the page is looked at
    again until the wanted state is reached or the time is up.
    """
    deadline = time.monotonic() + seconds
    while True:
        state = page.evaluate(_NOTEBOOK_PROBLEMS)
        if until(state) or time.monotonic() > deadline:
            return state
        page.wait_for_timeout(500)


_KINDS = ("tracebacks", "errors", "raw_tex", "wide")


def test_the_notebook_checks_find_each_fault(lab, page):
    from playwright.sync_api import expect

    _open(page, lab, "broken.ipynb")
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(len(BROKEN_CELLS))
    _run_all_cells(page, n_code_cells=2)

    def wide_formula(state):
        return any("<mjx-container>" in wide for wide in state["wide"])

    state = _page_problems(page, until=lambda state: all(state[kind] for kind in _KINDS) and wide_formula(state))
    for kind in _KINDS:
        assert state[kind], f"no {kind} found in the broken notebook: {state}"
    assert "ZeroDivisionError" in state["tracebacks"][0]
    assert "x^2^3" in state["errors"][0] or "Double exponent" in state["errors"][0], state["errors"]
    assert "$$" in state["raw_tex"][0], state["raw_tex"]
    assert wide_formula(state), state["wide"]


@pytest.mark.parametrize("notebook", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_course_notebook_runs_and_typesets_in_the_browser(lab, page, notebook):
    from playwright.sync_api import expect

    nb = json.loads(notebook.read_text(encoding="utf-8"))
    n_code = sum(cell["cell_type"] == "code" for cell in nb["cells"])
    _open(page, lab, notebook.name)
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(len(nb["cells"]))
    _run_all_cells(page, n_code)
    state = _page_problems(page, until=lambda state: not any(state[kind] for kind in _KINDS))
    name = notebook.name
    assert state["tracebacks"] == [], f"{name}: a cell failed:\n" + "\n".join(state["tracebacks"])
    assert state["errors"] == [], f"{name}: MathJax errors:\n" + "\n".join(state["errors"])
    assert state["raw_tex"] == [], f"{name}: TeX left untypeset:\n" + "\n".join(state["raw_tex"])
    assert state["wide"] == [], f"{name}: outputs wider than their output area:\n" + "\n".join(state["wide"])
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    assert all(re.search(r"\[\d+\]", p) for p in prompts), f"{name}: cells left unrun: {prompts}"
    cells = page.locator(".jp-Notebook .jp-Cell")
    for k in _symgraph_cells_with_formulas(nb):
        formulas = cells.nth(k).locator(".jp-OutputArea mjx-container").count()
        assert formulas > 0, f"{name}: cell {k} (%%symgraph) typeset no formula"


def _symgraph_cells_with_formulas(nb):
    """Indices of the %%symgraph cells that show formulas (``--show`` is ``formula`` by default)."""
    found = []
    for k, cell in enumerate(nb["cells"]):
        first = "".join(cell["source"]).split("\n", 1)[0]
        if cell["cell_type"] != "code" or not first.startswith("%%symgraph"):
            continue
        show = re.search(r"--show[= ]+(\S+)", first)
        if "formula" in (show.group(1).split(",") if show else ["formula"]):
            found.append(k)
    return found
