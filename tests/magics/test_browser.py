"""End to end: JupyterLab in headless Chromium runs %%symgraph cells, their formulas and sliders.

Needs the Debian ``chromium`` package at /usr/bin/chromium (CI installs it); the
browser is never downloaded.
"""

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

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is missing: install the Debian package (apt-get install chromium)",
)

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


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path, cells=CELLS):
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": src} for src in cells],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with a token, a fixed port and fresh settings."""
    root = tmp_path / "root"
    root.mkdir()
    _notebook(root / "demo.ipynb")
    _notebook(root / "formulas.ipynb", FORMULA_CELLS)
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


def test_symgraph_cell_renders_formula_and_seed_slider_changes_output(lab):
    from playwright.sync_api import expect, sync_playwright

    url, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)  # a loaded CI machine can take a while
            page.goto(f"{url}/lab/tree/demo.ipynb?token={token}")
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            expect(cells).to_have_count(2)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
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
        finally:
            browser.close()


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


def test_formulas_typeset_without_error_and_fit_the_output_area(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)
            page.goto(f"{url}/lab/tree/formulas.ipynb?token={token}")
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            expect(cells).to_have_count(len(FORMULA_CELLS))
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
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
        finally:
            browser.close()
