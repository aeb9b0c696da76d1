"""Jitted functions pickle (for Dask workers) and keep their per-signature cache."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp


def loss(w, X, y):
    return fnp.sum((X @ w - y) ** 2)


def power(x, n):
    return x ** n


def test_pickle_round_trip_returns_the_same_object_in_process():
    f = fa.jit(loss)
    X, y, w = np.arange(6.0).reshape(3, 2), np.ones(3), np.array([0.5, -1.0])
    f(w, X, y)
    g = pickle.loads(pickle.dumps(f))
    assert g is f  # the per-signature cache is kept: nothing traced again
    np.testing.assert_allclose(g(w, X, y), np.sum((X @ w - y) ** 2))


def test_static_arguments_survive_pickling():
    f = fa.jit(power, static_argnums=1)
    g = pickle.loads(pickle.dumps(f))
    assert g.static_argnums == (1,)
    assert float(g(2.0, 3)) == 8.0


def test_transformed_jitted_functions_cloudpickle():
    cloudpickle = pytest.importorskip("cloudpickle")  # distributed ships it
    f = fa.jit(lambda w, X, y: fnp.sum(fnp.tanh(X @ w) - y))
    X, y, w = np.arange(6.0).reshape(3, 2) / 6, np.ones(3), np.array([0.5, -1.0])
    for h in (fa.grad(f), fa.hessian(f), fa.jit(fa.grad(f)),
              fa.vmap(fa.grad(f), in_axes=(None, 0, 0))):
        h2 = cloudpickle.loads(cloudpickle.dumps(h))
        Xa = X if h.__name__ != "vmap_f" else X[:, None, :]
        ya = y if h.__name__ != "vmap_f" else y[:, None]
        np.testing.assert_allclose(h2(w, Xa, ya), h(w, Xa, ya), rtol=1e-12)


_CHILD = """
import pickle, sys, cloudpickle, numpy as np
import funcad.jit as J
f = pickle.loads(sys.stdin.buffer.read())
X, y = np.arange(6.0).reshape(3, 2), np.ones(3)
r1 = f(np.array([0.5, -1.0]), X, y)
g = pickle.loads(cloudpickle.dumps(f))      # a second task in the same worker
r2 = g(np.array([1.0, 1.0]), X, y)
print(repr((float(r1[0]), float(r2[0]), g is f, len(f._cache))))
"""


def test_a_pickled_jitted_gradient_runs_in_a_subprocess():
    cloudpickle = pytest.importorskip("cloudpickle")  # distributed ships it
    def local_loss(w, X, y):  # a local function: cloudpickle ships it by value
        return fnp.sum((X @ w - y) ** 2)

    f = fa.jit(fa.value_and_grad(local_loss))
    data = cloudpickle.dumps(f)
    out = subprocess.run([sys.executable, "-c", _CHILD], input=data, capture_output=True)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    r1, r2, same, n_entries = eval(out.stdout.decode().strip().splitlines()[-1])
    X, y = np.arange(6.0).reshape(3, 2), np.ones(3)
    assert np.isclose(r1, np.sum((X @ [0.5, -1.0] - y) ** 2))
    assert np.isclose(r2, np.sum((X @ [1.0, 1.0] - y) ** 2))
    assert same and n_entries <= 2  # one signature: traced once (plus its fast-path key)
