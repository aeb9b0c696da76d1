"""The table backend (backend/table.py) against eager results and NumPy, which programs it
takes, and its disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads
from funcad.tree_util import tree_leaves

ROOT = Path(__file__).resolve().parent.parent


def _close(got, want, rtol=1e-12):
    for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        finite = np.abs(w[np.isfinite(w)]) if w.dtype.kind == "f" else np.abs(w)
        scale = max(float(np.max(finite, initial=0.0)), 1e-300)
        tol = max(rtol, 4 * np.finfo(w.dtype).eps) if w.dtype.kind == "f" else rtol  # (sums' order)
        np.testing.assert_allclose(g, w, rtol=0, atol=tol * scale, equal_nan=True)


def _mlp(params, x, y):
    w1, b1, w2, b2 = params
    hidden = fa.nn.relu(x @ w1 + b1)
    return -fnp.sum(y * fa.nn.log_softmax(hidden @ w2 + b2)) / x.shape[0]


def _lstm(steps, hidden=8, vocab=5):
    def sigmoid(x):
        return 0.5 * (fnp.tanh(0.5 * x) + 1.0)

    def loss(params, seq):
        Wx, Wh, b, Wy, by = params
        h, c, total = fnp.zeros(hidden), fnp.zeros(hidden), 0.0
        for t in range(steps - 1):
            z = Wx @ seq[t] + Wh @ h + b
            i, f, o, g = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:3 * hidden], z[3 * hidden:]
            c = sigmoid(f) * c + sigmoid(i) * fnp.tanh(g)
            h = sigmoid(o) * fnp.tanh(c)
            logits = Wy @ h + by
            logp = logits - fnp.log(fnp.sum(fnp.exp(logits - fnp.max(logits)))) - fnp.max(logits)
            total = total - fnp.sum(logp * seq[t + 1])
        return total / (steps - 1)

    rng = np.random.default_rng(1)
    params = (rng.normal(0, 0.3, (4 * hidden, vocab)), rng.normal(0, 0.3, (4 * hidden, hidden)),
              rng.normal(0, 0.1, 4 * hidden), rng.normal(0, 0.3, (vocab, hidden)), np.zeros(vocab))
    seq = np.eye(vocab)[rng.integers(0, vocab, steps)]
    return fa.value_and_grad(loss), (params, seq)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 5))
Y = RNG.normal(size=(6, 5))
A = RNG.normal(size=(5, 4))
V = RNG.normal(size=5)
NAN = np.array([[1.0, np.nan, -2.0], [np.inf, 0.5, -np.inf], [0.0, -0.0, 3.0]])

PROGRAMS = {
    "elementwise": (lambda x, y: fnp.tanh(x) * fnp.exp(-y * y) + fnp.log1p(x * x) / (1.0 + y * y), (X, Y)),
    "sums over each axis": (lambda x: (fnp.sum(x, axis=0), fnp.sum(x, axis=1), fnp.sum(x)), (X,)),
    "max, min, prod": (lambda x: (fnp.max(x, axis=0), fnp.min(x, axis=1), fnp.prod(x[:3], axis=0)), (X,)),
    "maximum, minimum with nan": (
        lambda x: (fnp.maximum(x, 0.0), fnp.minimum(x, x.T), fnp.maximum(x.T, x)), (NAN,)),
    "comparisons and where": (lambda x, y: (fnp.where(x > y, x, y), x >= 0.0), (X, Y)),
    "float32": (lambda x, y: fnp.sum(fnp.sin(x) * y, axis=1), (X.astype(np.float32), Y.astype(np.float32))),
    "matmuls and transposes": (
        lambda x, a, v: (x @ a, a.T @ x.T, x @ v, v @ a, x.T @ x, (x @ a)[::2]), (X, A, V)),
    "slices, reshapes, strided reshape": (
        lambda x: (x[1:4, ::2], x[:, 1].reshape(2, 3) * 2.0, x.T.reshape(-1)), (X,)),
    "concatenate": (
        lambda x, y: (fnp.concatenate([x, y[:2]]), fnp.concatenate([x.T, fnp.sin(y).T], axis=1)), (X, Y)),
    "grad of a slice (index_add)": (fa.grad(lambda x: fnp.sum(fnp.sin(x[1:4, 2:]) ** 2)), (X,)),
    "softmax regression value and grad": (fa.value_and_grad(
        lambda w, x: -fnp.sum(fa.nn.log_softmax(x @ w)) / x.shape[0]), (A, X)),
    "outputs: an input, a repeat, a constant": (lambda x: (x, fnp.sin(x), fnp.sin(x), fnp.ones(3)), (X,)),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_table_backend_matches_eager(on_table, name):
    f, args = PROGRAMS[name]
    _close(on_table(f, *args), f(*args))


def test_mlp_step_matches_eager_and_finite_differences(on_table):
    rng = np.random.default_rng(2)
    params = (rng.normal(0, 0.1, (20, 16)), rng.normal(0, 0.1, 16), rng.normal(0, 0.1, (16, 4)), np.zeros(4))
    x, y = rng.uniform(size=(8, 20)), np.eye(4)[rng.integers(0, 4, 8)]
    step = fa.value_and_grad(_mlp)
    _close(on_table(step, params, x, y), step(params, x, y))  # BLAS may sum in another order
    check_grads(lambda p: _mlp(p, x, y), (params,), order=1, modes=["rev"])


def test_lstm_gradient_matches_eager(on_table):
    f, args = _lstm(6)
    _close(on_table(f, *args), f(*args))


def test_programs_beyond_the_loops_subset_give_numpys_results(table_backend):
    # (an integer to a traced power raises for a negative exponent: not in the table's loops)
    n = np.arange(1, 6)
    f = fa.jit(lambda x, n: (fnp.cumsum(x, axis=0), x.astype(np.int64) ** n))
    _close(f(X, n), (np.cumsum(X, axis=0), X.astype(np.int64) ** n))


_CHILD = """
import json, sys
import numpy as np
import funcad as fa, funcad.numpy as fnp
from funcad.backend import table
out = fa.jit(fa.grad(lambda w, x: fnp.sum(fnp.tanh(x @ w) ** 2)))(np.ones((3, 2)), np.ones((4, 3)))
print(json.dumps(dict(table.stats, numba="numba" in sys.modules, out=out.tolist())))
"""


def test_object_code_cached_on_disk(tmp_path):
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    runs = [json.loads(subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                                      check=True).stdout.splitlines()[-1]) for _ in range(2)]
    assert (runs[0]["compiled"], runs[0]["loaded"]) == (1, 0)
    assert (runs[1]["compiled"], runs[1]["loaded"]) == (0, 1)
    assert not runs[1]["numba"]  # a warm load needs llvmlite only
    assert runs[0]["out"] == runs[1]["out"]
    want = fa.grad(lambda w, x: fnp.sum(fnp.tanh(x @ w) ** 2))(np.ones((3, 2)), np.ones((4, 3)))
    np.testing.assert_allclose(runs[1]["out"], want, rtol=1e-14)


def test_tampered_object_code_is_not_loaded(tmp_path):
    """The .o files are read through cache.read_checked: one changed after
    funcad wrote it, or planted without funcad's manifest, is refused with a warning and rebuilt."""
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))

    def run():
        p = subprocess.run([sys.executable, "-W", "always", "-c", _CHILD], env=env, capture_output=True,
                           text=True, check=True)
        return json.loads(p.stdout.splitlines()[-1]), p.stderr

    first, _ = run()
    (obj,) = [p for p in (tmp_path / "table").glob("*.o") if not p.name.startswith("runtime-")]
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 0xFF
    obj.write_bytes(bytes(data))
    tampered, err = run()
    assert (tampered["compiled"], tampered["loaded"]) == (1, 0)
    assert "not funcad's" in err and "digest differs" in err
    assert tampered["out"] == first["out"]
    obj.with_suffix(".sums").unlink()  # a file funcad has no digest of
    planted, err = run()
    assert (planted["compiled"], planted["loaded"]) == (1, 0) and "no recorded digest" in err
