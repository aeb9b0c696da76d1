"""Tour sections "See inside": the course's pictures, made from funcad's own IR.

The computation graph of the classifier and of its gradient (funcad.viz), the program jit
compiles for a function, and the course's three comparisons (funcad_tour.comparisons):
numerical differentiation's round-off, expression swell of repeated derivatives, and
forward versus reverse mode. Pictures go to ``funcad-tour/`` in the current directory:
graphs as PNG when graphviz is installed (else DOT text), plots when matplotlib is.
"""

from __future__ import annotations

import inspect
import os

import numpy as np

from funcad import nn, viz
from funcad.api import grad, make_jaxpr

from . import comparisons as cmp
from .tour import section

OUTPUT_DIR = "funcad-tour"


def classifier_loss(x, W, b):
    """The course's classifier: cross-entropy of softmax(x @ W + b) for the true class 0."""
    z = x @ W + b
    return -nn.log_softmax(z)[0]


def classifier_args():
    rng = np.random.default_rng(0)
    return rng.normal(size=3), rng.normal(size=(3, 4)), np.zeros(4)


def _save_graph(g: viz.Graph, name: str) -> None:
    path = g.save(os.path.join(OUTPUT_DIR, name + (".png" if viz.render_available() else ".dot")))
    print(f"  wrote {path}")


def _report_plot(path: str | None) -> None:
    print(f"  wrote {path}" if path else "  " + cmp.PLOT_HINT)


@section("See inside: the computation graph of the course's classifier")
def show_classifier_graph():
    x, W, b = classifier_args()
    closed = make_jaxpr(classifier_loss)(x, W, b)
    print("loss(x, W, b) = cross-entropy(softmax(x @ W + b)); its jaxpr:")
    print(closed)
    print("As a graph (inputs blue, parameters W and b yellow, the loss red):")
    _save_graph(viz.graph(classifier_loss, x, W, b, params=("W", "b"), out_names=["loss"],
                          title="loss(x, W, b)"), "classifier_graph")
    g = grad(classifier_loss, argnums=(1, 2))
    gj = make_jaxpr(g)(x, W, b)
    n = cmp.count_eqns(gj)
    simplify = cmp.simplifier()
    after = f", {cmp.count_eqns(simplify(gj))} after simplification" if simplify else ""
    print(f"Its gradient with respect to W and b is a program of {n} equations{after}:")
    _save_graph(viz.graph(g, x, W, b, params=("W", "b"), title="grad(loss) w.r.t. W, b",
                          out_names=["dloss/dW", "dloss/db"]), "classifier_grad_graph")
    if not viz.render_available():
        print("  " + viz.INSTALL_HINT)
    print('The same from the shell: python -m funcad graph MODULE:loss --args "f64[3],f64[3,4],f64[4]" '
          "-o loss.png [--grad]")


@section("See inside: the generated code of a jitted function")
def show_generated_code():
    import funcad

    jit = getattr(funcad, "jit", None)
    jit = getattr(jit, "jit", None) if inspect.ismodule(jit) else jit
    if jit is None or not hasattr(jit(classifier_loss), "lower"):
        print("jit's inspection API, fa.jit(f).lower(*args), is not in this build of funcad.")
        return
    x, W, b = classifier_args()
    try:
        lowered = jit(classifier_loss).lower(x, W, b)
    except ImportError as e:  # the backend is not complete in this build
        print(f"jit's code generator is not available in this build of funcad ({e}).")
        return
    print("fa.jit(loss).lower(x, W, b).jaxpr: the program after simplification")
    print(lowered.jaxpr)
    print("\n.source: the table of calls that one native call runs, each under the jaxpr")
    print("equations it computes; each loop kernel is shown once, as its loop IR, which funcad")
    print("writes as LLVM IR through llvmlite (backend/loopir.py, backend/table.py):\n")
    print(lowered.source)


@section("The V-shaped curve: finite differences' truncation and round-off, against grad")
def show_finite_differences():
    data = cmp.finite_difference_errors()
    cmp.print_finite_differences(data, every=8)
    _report_plot(cmp.plot_finite_differences(data, os.path.join(OUTPUT_DIR, "finite_differences.png")))


@section("Symbolic blow-up: the program of the nth derivative of tanh")
def show_expression_swell():
    data = cmp.derivative_program_sizes(8)
    cmp.print_expression_swell(data)
    _report_plot(cmp.plot_expression_swell(data, os.path.join(OUTPUT_DIR, "expression_swell.png")))


@section("Forward vs reverse mode: why backpropagation")
def show_mode_costs():
    data = cmp.mode_costs()
    cmp.print_mode_costs(data)
    print("A loss R^n -> R needs n forward passes but one reverse pass for its whole gradient;")
    print("a trajectory R -> R^n is the other way round. Training differentiates losses.")
    _report_plot(cmp.plot_mode_costs(data, os.path.join(OUTPUT_DIR, "forward_vs_reverse.png")))


__all__ = ["classifier_loss", "classifier_args"]
