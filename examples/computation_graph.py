"""The course's figure, from funcad's own IR: the computation graph of a softmax classifier
(x, W, b -> z -> softmax -> loss), then the graph of its gradient, before and after jit's
simplifier. Writes PNGs with graphviz installed (pip install "funcad[viz]"; apt-get install
graphviz), DOT text otherwise.

    python examples/computation_graph.py [OUTDIR]        (default: funcad-figures/)
"""

import os
import sys

import numpy as np

import funcad as fa

out = sys.argv[1] if len(sys.argv) > 1 else "funcad-figures"
ext = ".png" if fa.viz.render_available() else ".dot"


def loss(x, W, b):
    z = x @ W + b                        # the logits
    return -fa.nn.log_softmax(z)[0]      # cross-entropy of softmax(z) for the true class 0


rng = np.random.default_rng(0)
x, W, b = rng.normal(size=3), rng.normal(size=(3, 4)), np.zeros(4)
print(fa.make_jaxpr(loss)(x, W, b))

figures = {
    "classifier_graph": fa.viz.graph(loss, x, W, b, params=("W", "b")),
    "classifier_grad_graph": fa.viz.graph(fa.grad(loss, argnums=(1, 2)), x, W, b, params=("W", "b"),
                                          title="grad(loss) w.r.t. W, b", out_names=["dW", "db"]),
    "classifier_grad_graph_simplified": fa.viz.graph(
        fa.grad(loss, argnums=(1, 2)), x, W, b, params=("W", "b"), simplify=True,
        title="grad(loss) w.r.t. W, b, simplified", out_names=["dW", "db"]),
}
for name, g in figures.items():
    print("wrote", g.save(os.path.join(out, name + ext)))
if ext == ".dot":
    print(fa.viz.INSTALL_HINT)
