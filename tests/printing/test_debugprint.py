import io

import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph.fg import FunctionGraph
from nbgrad.printing import debugprint

x = T.dscalar("x")


def test_tree_with_ids_types_and_shared_structure_once():
    e = T.exp(x)
    out = e * e + 1
    out.name = "y"
    assert debugprint(out, print_type=True, file="str") == (
        "add [id A] 'y' <TensorType(float64, scalar)>\n"
        " ├─ mul [id B] <TensorType(float64, scalar)>\n"
        " │  ├─ exp [id C] <TensorType(float64, scalar)>\n"
        " │  │  └─ x [id D] <TensorType(float64, scalar)>\n"
        " │  └─ exp [id C] ···\n"
        " └─ 1 [id E] <TensorType(float64, scalar)>"
    )


def test_ids_are_deterministic_and_selectable():
    out = T.log(x) + x
    assert debugprint(out, file="str") == debugprint(out, file="str")
    assert debugprint(out, file="str", print_type=False, ids="int") == (
        "add [id 0]\n ├─ log [id 1]\n │  └─ x [id 2]\n └─ x [id 2]"
    )
    assert debugprint(out, file="str", print_type=False, ids="") == (
        "add\n ├─ log\n │  └─ x\n └─ x"
    )
    with pytest.raises(ValueError, match="ids must be"):
        debugprint(out, file="str", ids="letters")


def test_list_shares_ids_between_roots():
    e = T.exp(x)
    text = debugprint([e + 1, e * 2], file="str", print_type=False)
    assert text.splitlines()[-3:] == ["mul [id E]", " ├─ exp [id B] ···", " └─ 2 [id F]"]


def test_function_prints_optimized_graph_and_fgraph_too():
    f = nbgrad.function([x], T.grad(1 / (1 + T.exp(-x)), x))
    text = debugprint(f, file="str", print_type=False)
    assert text == debugprint(f.maker.fgraph, file="str", print_type=False)
    assert text.splitlines()[0].startswith(("Composite{", "mul [id A]"))
    assert "x [id" in text


def test_prints_to_file_and_rejects_other_objects():
    buf = io.StringIO()
    assert debugprint(x + 1, file=buf, print_type=False) is None
    assert buf.getvalue() == "add [id A]\n ├─ x [id B]\n └─ 1 [id C]\n"
    fg = FunctionGraph([x], [x * 3])
    assert debugprint(fg, file="str", print_type=False).startswith("mul [id A]")
    with pytest.raises(TypeError, match="debugprint takes"):
        debugprint(42, file="str")


def test_deep_chain_prints_within_a_small_stack(shallow_stack):
    n = 3000
    chain = x
    for _ in range(n):
        chain = T.tanh(chain)
    with shallow_stack():
        text = debugprint(chain, file="str", print_type=False, ids="")
    lines = text.splitlines()
    assert len(lines) == n + 1
    assert lines[0] == "tanh" and lines[1] == " └─ tanh" and lines[2] == "    └─ tanh"
    assert lines[-1] == " " + "   " * (n - 1) + "└─ x"
