"""funcad.viz (computation graphs, the graph command) and funcad_tour.comparisons (the course's
comparisons), checked against the jaxprs they draw, closed forms and Graphviz's own parser."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad_tour import comparisons as cmp
from funcad import viz
from funcad.core import Primitive, ShapedArray
from funcad.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Var, eval_jaxpr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_graphviz = pytest.mark.skipif(not viz.render_available(), reason="graphviz not installed")
needs_matplotlib = pytest.mark.skipif(cmp.pyplot() is None, reason="matplotlib not installed")


# --------------------------------------------------------------------------------------
# A reader for the DOT funcad writes: nodes, edges, and the clusters each node sits in


_NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(?: \[(.*)\])?;$")
_CLUSTER = re.compile(r"^\s*subgraph (cluster_\d+) \{$")
_CLUSTER_LABEL = re.compile(r'^\s*label="((?:[^"\\]|\\.)*)"; style=')


class Dot:
    def __init__(self, source: str):
        self.nodes, self.edges, self.clusters_of = {}, [], {}
        stack: list[str] = []
        for line in source.splitlines():
            if m := _CLUSTER.match(line):
                stack.append("?")
            elif (m := _CLUSTER_LABEL.match(line)) and stack and stack[-1] == "?":
                stack[-1] = m.group(1)
            elif line.strip() == "}" and stack:
                stack.pop()
            elif m := _NODE.match(line):
                label = m.group(2).replace("\\n", "\n")
                self.nodes[m.group(1)] = (label, m.group(3))
                self.clusters_of[m.group(1)] = list(stack)
            elif m := _EDGE.match(line):
                self.edges.append((m.group(1), m.group(2), m.group(3) or ""))

    def find(self, first_line: str) -> list[str]:
        return [n for n, (label, _) in self.nodes.items() if label.split("\n")[0] == first_line]

    def one(self, first_line: str) -> str:
        found = self.find(first_line)
        assert len(found) == 1, (first_line, found)
        return found[0]

    def kind(self, node: str) -> str:
        style = self.nodes[node][1]
        return next(k for k, s in viz._STYLE.items() if s == style)

    def preds(self, node: str) -> list[str]:
        return [s for s, d, _ in self.edges if d == node]

    def reaches(self, src: str, dst: str) -> bool:
        seen, todo = set(), [src]
        while todo:
            n = todo.pop()
            if n == dst:
                return True
            if n not in seen:
                seen.add(n)
                todo.extend(d for s, d, _ in self.edges if s == n)
        return False


def loss(x, W, b):
    """The course's classifier: cross-entropy of softmax(x @ W + b) for class 0."""
    return -fa.nn.log_softmax(x @ W + b)[0]


classifier_loss = loss


def classifier_args():
    rng = np.random.default_rng(0)
    return rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=4)


# --------------------------------------------------------------------------------------
# The course's classifier


def test_classifier_graph_has_the_course_nodes_and_edges():
    x, W, b = classifier_args()
    dot = Dot(viz.graph(classifier_loss, x, W, b, params=("W", "b")).source)
    jaxpr = fa.make_jaxpr(classifier_loss)(x, W, b).jaxpr
    # inputs, parameters, output: marked distinctly
    assert dot.kind(dot.one("x")) == "input"
    assert dot.kind(dot.one("W")) == "param" and dot.kind(dot.one("b")) == "param"
    loss = dot.one("loss")
    assert dot.kind(loss) == "output"
    assert dot.nodes[dot.one("W")][0] == "W\nf64[3,4]"
    # one op node per equation, each with one edge per input
    ops = [n for n in dot.nodes if dot.kind(n) == "op"]
    assert sorted(dot.nodes[n][0].split("\n")[0] for n in ops) == sorted(e.prim.name for e in jaxpr.eqns)
    for prim in ("matmul", "add", "exp", "log", "reduce_sum", "reduce_max", "neg"):
        assert dot.find(prim), prim
    assert sum(len(dot.preds(n)) for n in ops) == sum(len(e.inputs) for e in jaxpr.eqns)
    # x @ W + b: W feeds the matmul, b the add that follows it, and all reach the loss
    matmul = dot.one("matmul")
    assert dot.one("W") in dot.preds(matmul)
    add_b = [n for n in dot.find("add") if dot.one("b") in dot.preds(n)]
    assert len(add_b) == 1 and dot.reaches(matmul, add_b[0])
    assert dot.reaches(dot.one("x"), matmul)
    for name in ("x", "W", "b"):
        assert dot.reaches(dot.one(name), loss)
    assert [dot.nodes[p][0] for p in dot.preds(loss)] == ["neg"]
    # the edges carry the types of the values: z = x @ W + b is f64[4]
    assert any(s == add_b[0] and 'label="f64[4]"' in attrs for s, _, attrs in dot.edges)


def test_inputs_are_inputs_unless_marked_and_closures_are_parameters():
    W = np.ones((3, 2))

    def f(x):
        return fnp.sum(fnp.tanh(x @ W))

    dot = Dot(viz.graph(f, np.ones(3)).source)
    assert dot.kind(dot.one("x")) == "input"
    assert dot.kind(dot.one("W")) == "param"  # a closed-over array, named as in the closure
    x, W2, b = classifier_args()
    dot = Dot(viz.graph(classifier_loss, x, W2, b).source)
    assert {dot.kind(dot.one(n)) for n in ("x", "W", "b")} == {"input"}


def test_derivative_graph_and_simplified_graph():
    x, W, b = classifier_args()
    g = fa.grad(classifier_loss, argnums=(1, 2))
    closed = fa.make_jaxpr(g)(x, W, b)
    dot = Dot(viz.graph(closed, arg_names=["x", "W", "b"], out_names=["dW", "db"]).source)
    assert len([n for n in dot.nodes if dot.kind(n) == "op"]) == len(closed.jaxpr.eqns)
    assert dot.nodes[dot.one("dW")][0] == "dW\nf64[3,4]" and dot.kind(dot.one("db")) == "output"
    assert dot.find("transpose")  # reverse mode through the matmul
    simple = Dot(viz.graph(g, x, W, b, simplify=True).source)
    n_simple = len([n for n in simple.nodes if simple.kind(n) == "op"])
    assert 0 < n_simple < len(closed.jaxpr.eqns)


def test_literals_and_unnamed_jaxprs():
    closed = fa.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(np.zeros(3))
    dot = Dot(viz.to_dot(closed))
    lit = dot.one("2.0")
    assert dot.kind(lit) == "literal" and dot.preds(dot.one("mul")) == [dot.one("sin"), lit]
    assert dot.kind(dot.one("in 0")) == "input" and dot.kind(dot.one("out")) == "output"


# --------------------------------------------------------------------------------------
# Nested jaxprs as clusters


def test_nested_jaxpr_built_by_hand_is_a_cluster_inside_its_equation():
    inner = fa.make_jaxpr(lambda v: fnp.sin(v) * 2.0)(np.zeros(3))
    call_p = Primitive("my_call")
    exp_p = fa.make_jaxpr(fnp.exp)(np.zeros(3)).eqns[0].prim
    a, b, c = (Var(ShapedArray((3,), np.float64)) for _ in range(3))
    outer = Jaxpr([], [a], [Eqn(call_p, [a], {"jaxpr": inner, "name": "f"}, [b]),
                            Eqn(exp_p, [b], {}, [c])], [c])
    dot = Dot(viz.to_dot(ClosedJaxpr(outer, []), arg_names=["x"]))
    call = dot.one("my_call")
    assert dot.clusters_of[call] == ["my_call"]
    assert dot.clusters_of[dot.one("sin")] == ["my_call", "jaxpr"]
    assert dot.clusters_of[dot.one("mul")] == ["my_call", "jaxpr"]
    assert dot.kind(dot.one("in 0")) == "subinput"
    assert dot.clusters_of[dot.one("in 0")] == ["my_call", "jaxpr"]
    assert dot.clusters_of[dot.one("exp")] == [] and dot.clusters_of[dot.one("x")] == []
    # the outer program flows through the call's node: x -> my_call -> exp -> out
    assert dot.preds(call) == [dot.one("x")] and dot.preds(dot.one("exp")) == [call]
    assert dot.kind(dot.one("out 0")) == "suboutput" and dot.reaches(dot.one("in 0"), dot.one("out 0"))


def test_cond_and_scan_bodies_are_clusters():
    def f(x):
        y = fa.lax.cond(fnp.sum(x) > 0, fnp.sin, lambda v: fnp.cos(v) * 2.0, x)
        c, ys = fa.lax.scan(lambda c, xi: (c * xi + 1.0, c), 0.0, y)
        return c + fnp.sum(ys)

    dot = Dot(viz.graph(f, np.ones(3)).source)
    assert dot.clusters_of[dot.one("sin")][0] == "cond"
    assert dot.clusters_of[dot.one("cos")][0] == "cond"
    branches = {dot.clusters_of[dot.one("sin")][1], dot.clusters_of[dot.one("cos")][1]}
    assert branches == {"branches[0]", "branches[1]"}
    muls = sorted(dot.clusters_of[n][0] for n in dot.find("mul"))
    assert muls == ["cond", "scan"]  # the branch's v * 2.0 and the body's c * xi
    assert dot.clusters_of[dot.one("scan")] == ["scan"]
    assert dot.reaches(dot.one("x"), dot.one("f"))


def test_jit_equation_is_a_cluster_when_jit_exists():
    jit = getattr(fa, "jit", None)
    if jit is None or not callable(jit):
        pytest.skip("fa.jit is not in this build")
    closed = fa.make_jaxpr(lambda x: jit(fnp.sin)(x) * 2.0)(np.zeros(3))
    if not any(viz._subjaxprs_named(e.params) for e in closed.eqns):
        pytest.skip("jit leaves no nested jaxpr in make_jaxpr's program")
    dot = Dot(viz.to_dot(closed))
    assert dot.clusters_of[dot.one("sin")][0] == closed.eqns[0].prim.name


# --------------------------------------------------------------------------------------
# Rendering, with and without graphviz


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now raises ImportError
    assert not viz.render_available()


def test_save_without_graphviz_writes_dot(tmp_path, no_graphviz):
    g = viz.graph(fnp.tanh, 0.0)
    written = g.save(tmp_path / "g.png")
    assert written == str(tmp_path / "g.dot") and not (tmp_path / "g.png").exists()
    assert (tmp_path / "g.dot").read_text() == g.source
    with pytest.raises(RuntimeError, match="graphviz"):
        g.pipe("svg")
    assert g._repr_svg_() is None


@needs_graphviz
def test_graphviz_package_without_dot_program_falls_back_to_dot(tmp_path, monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz, "version", missing)
    assert not viz.render_available()
    assert viz.graph(fnp.tanh, 0.0).save(tmp_path / "t.svg") == str(tmp_path / "t.dot")


@needs_graphviz
def test_render_png_svg_and_graphviz_reads_the_same_graph(tmp_path):
    x, W, b = classifier_args()
    g = viz.graph(classifier_loss, x, W, b, params=("W", "b"))
    assert open(g.save(tmp_path / "c.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in open(g.save(tmp_path / "c.svg")).read()
    # Graphviz's own parser sees the nodes and edges our reader sees
    laid_out = json.loads(g.pipe("json"))
    ours = Dot(g.source)
    assert len(laid_out["edges"]) == len(ours.edges)
    assert sorted(o["name"] for o in laid_out["objects"] if "nodes" not in o) == sorted(ours.nodes)


# --------------------------------------------------------------------------------------
# The command line


MODEL = """
import funcad as fa
import funcad.numpy as fnp

def loss(x, W, b):
    return -fa.nn.log_softmax(x @ W + b)[0]
"""


@pytest.fixture
def model(tmp_path, monkeypatch):
    (tmp_path / "vizmodel.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_prints_dot_without_output_file(model, capsys, no_graphviz):
    assert viz.cli(["vizmodel:loss", "--args", "f64[3],f64[3,4],f64[4]", "--params", "W,b"]) == 0
    out, err = capsys.readouterr()
    dot = Dot(out)
    assert dot.kind(dot.one("W")) == "param" and dot.kind(dot.one("loss")) == "output"
    assert len(err.strip().splitlines()) == 1 and "graphviz" in err


def test_cli_without_graphviz_writes_dot_and_one_line_hint(model, capsys, no_graphviz):
    assert viz.cli([str(model / "vizmodel.py") + ":loss", "--args", "f64[3],f64[3,4],f64[4]",
                    "-o", "out.png", "--grad", "--argnums", "1,2"]) == 0
    out, err = capsys.readouterr()
    assert not (model / "out.png").exists()
    dot = Dot((model / "out.dot").read_text())
    assert dot.kind(dot.one("d/dW")) == "output" and dot.nodes[dot.one("d/db")][0] == "d/db\nf64[4]"
    assert len(err.strip().splitlines()) == 1 and "out.dot" in err and "graphviz" in err


@needs_graphviz
def test_cli_with_graphviz_writes_png_and_svg(model, capsys):
    assert viz.cli(["vizmodel:loss", "--args", "f64[3],f64[3,4],f64[4]", "-o", "out.png"]) == 0
    assert (model / "out.png").read_bytes()[:4] == b"\x89PNG"
    assert viz.cli(["vizmodel:loss", "--args", "f64[3],f64[3,4],f64[4]", "-o", "o.svg", "--lr"]) == 0
    assert "<svg" in (model / "o.svg").read_text()
    assert capsys.readouterr().err == ""


def test_cli_errors_and_help(model, capsys):
    assert viz.cli(["vizmodel:nope", "--args", "f64[3]"]) == 2
    assert viz.cli(["vizmodel:loss", "--args", "q64[3]"]) == 2
    assert viz.cli(["vizmodel:loss", "--bogus"]) == 2
    assert viz.cli(["--help"]) == 0
    err = capsys.readouterr().err
    assert "nope" in err and "q64[3]" in err and "--bogus" in err


def test_parse_arg_specs():
    specs = viz.parse_arg_specs("f64[3], f32[2,4],i64[],bool[2] ,f64")
    assert [(a.shape, a.dtype.name) for a in specs] == [
        ((3,), "float64"), ((2, 4), "float32"), ((), "int64"), ((2,), "bool"), ((), "float64")]
    with pytest.raises(ValueError):
        viz.parse_arg_specs("f64[3")


def test_graph_command_through_python_m_funcad(model):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, str(model)]))
    run = subprocess.run([sys.executable, "-m", "funcad", "graph", "vizmodel:loss", "--args",
                          "f64[3],f64[3,4],f64[4]", "-o", "g.dot"], capture_output=True, text=True,
                         env=env, cwd=model, timeout=120)
    assert run.returncode == 0, run.stderr
    assert Dot((model / "g.dot").read_text()).find("matmul")


# --------------------------------------------------------------------------------------
# The course's comparisons


def test_finite_differences_v_curve_and_exact_gradient():
    d = cmp.finite_difference_errors()
    assert 1e-9 <= d["best_h"] <= 1e-7  # near sqrt(eps) for float64
    assert d["funcad"] <= 4 * np.finfo(float).eps
    assert d["exact"] == pytest.approx(np.exp(1) * (np.sin(1) + np.cos(1)), rel=1e-15)
    h, err = d["h"], d["forward"]
    # truncation at large h: error ~ h |f''| / (2 |f'|), f'' = 2 e^x cos x
    trunc = h * abs(2 * np.exp(1) * np.cos(1)) / (2 * d["exact"])
    big = (h >= 1e-6) & (h <= 1e-2)
    np.testing.assert_allclose(err[big], trunc[big], rtol=0.05)
    # round-off at small h: far worse than the best step, on the order of eps / h
    small = (h >= 1e-15) & (h <= 1e-12)
    assert np.all(err[small] > 100 * err.min())
    assert np.median(err[small] / (np.finfo(float).eps / h[small])) == pytest.approx(1, abs=0.9)


def test_expression_swell_sizes_and_values():
    d = cmp.derivative_program_sizes(6)
    t = np.tanh(1.0)
    closed_forms = [1 - t**2, -2 * t * (1 - t**2), -2 * (1 - t**2) * (1 - 3 * t**2)]
    np.testing.assert_allclose(d["values"][:3], closed_forms, rtol=1e-13)
    assert all(b2 > b1 for b1, b2 in zip(d["before"], d["before"][1:]))
    assert d["before"][-1] > 20 * d["before"][0]
    for n, b in zip(d["n"], d["before"]):
        assert b == len(fa.make_jaxpr(cmp.nth_derivative(fnp.tanh, n))(1.0).eqns)
    if d["after"] is None:
        pytest.skip("no simplifier in this build")
    assert all(a <= b for a, b in zip(d["after"], d["before"]))
    # the simplified program still computes the derivative
    closed = fa.make_jaxpr(cmp.nth_derivative(fnp.tanh, 3))(1.0)
    simple = cmp.simplifier()(closed)
    assert float(eval_jaxpr(simple, closed.consts, 1.0)[0]) == pytest.approx(closed_forms[2], rel=1e-13)


def test_count_eqns_counts_nested_jaxprs():
    def f(x):
        return fa.lax.cond(x > 0, fnp.sin, lambda v: fnp.cos(v) * 2.0, x)

    # gt, convert_element_type, cond + sin + (cos, mul)
    assert cmp.count_eqns(fa.make_jaxpr(f)(1.0)) == 6


def test_forward_and_reverse_mode_passes_results_and_costs():
    d = cmp.mode_costs((3, 128), repeat=3)
    assert d["R^n->R"]["forward_passes"] == [3, 128] and d["R^n->R"]["reverse_passes"] == [1, 1]
    assert d["R->R^n"]["forward_passes"] == [1, 1] and d["R->R^n"]["reverse_passes"] == [3, 128]
    assert d["max_error"] < 1e-13
    # 128 passes against one: the cheap mode wins by far at n = 128
    assert d["R^n->R"]["forward_s"][1] > 5 * d["R^n->R"]["reverse_s"][1]
    assert d["R->R^n"]["reverse_s"][1] > 5 * d["R->R^n"]["forward_s"][1]
    x = np.linspace(-1, 1, 5)
    g_fwd, _ = cmp.gradient_forward(cmp._many_to_one, x)
    np.testing.assert_allclose(g_fwd, fa.grad(cmp._many_to_one)(x), rtol=1e-14)


@needs_matplotlib
def test_plots_are_pngs(tmp_path):
    fd = cmp.finite_difference_errors(hs=np.logspace(-12, -2, 11))
    swell = cmp.derivative_program_sizes(3)
    modes = cmp.mode_costs((1, 4), repeat=1)
    for fn, data in ((cmp.plot_finite_differences, fd), (cmp.plot_expression_swell, swell),
                     (cmp.plot_mode_costs, modes)):
        path = fn(data, str(tmp_path / f"{fn.__name__}.png"))
        assert open(path, "rb").read(4) == b"\x89PNG"


def test_plots_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert cmp.pyplot() is None
    data = cmp.finite_difference_errors(hs=[1e-8])
    assert cmp.plot_finite_differences(data, str(tmp_path / "a.png")) is None
    assert not (tmp_path / "a.png").exists()


def test_tour_sections_write_their_pictures(tmp_path, monkeypatch, capsys):
    from funcad_tour import viz as viz_tour

    monkeypatch.chdir(tmp_path)
    viz_tour.show_classifier_graph()
    viz_tour.show_finite_differences()
    viz_tour.show_expression_swell()
    viz_tour.show_generated_code()
    out = capsys.readouterr().out
    suffix = ".png" if viz.render_available() else ".dot"
    assert (tmp_path / "funcad-tour" / f"classifier_graph{suffix}").exists()
    assert (tmp_path / "funcad-tour" / f"classifier_grad_graph{suffix}").exists()
    assert ((tmp_path / "funcad-tour" / "finite_differences.png").exists()
            == (cmp.pyplot() is not None))
    assert "matmul" in out and "equations" in out
    jit = getattr(fa, "jit", None)
    if callable(jit) and hasattr(jit(viz_tour.classifier_loss), "lower"):
        # the compiled program's text, with the jaxpr equations as comments
        source = jit(viz_tour.classifier_loss).lower(*viz_tour.classifier_args()).source
        assert source in out and "# " in source
