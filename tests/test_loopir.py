"""Loop nests compiled to LLVM IR (backend/loopir.py's printer, the table backend's loops)
against eager funcad: typical programs, NaN and inf, strided and transposed inputs, mixed
dtypes, integer sums and bool operands."""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp


def _softmax_loss(w, x, y):
    z = x @ w
    return -fnp.sum(y * fa.nn.log_softmax(z)) / x.shape[0]


def _chain(x):
    u = x * x
    return fnp.sum(fnp.tanh(x) * fnp.exp(-u) + fnp.log(1.0 + u) * fnp.sin(x))


def _tanh6(x):
    f = fnp.tanh
    for _ in range(6):
        f = fa.elementwise_grad(f)
    return f(x)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(7, 5))
W = RNG.normal(size=(5, 3))
Y = np.eye(3)[RNG.integers(0, 3, 7)]
NAN = np.array([[1.0, np.nan, -2.0], [np.inf, 0.5, -np.inf]])

CASES = {
    "softmax loss and gradient": (fa.value_and_grad(_softmax_loss), (W, X, Y)),
    "chain gradient, float32": (fa.grad(_chain), (X.astype(np.float32),)),
    "relu and its mask": (lambda x: (fa.nn.relu(x), x > 0.0, fnp.where(x > 0, x, -x)), (X,)),
    "max and min with NaN and inf": (lambda a: (fnp.max(a, axis=1), fnp.min(a, axis=0), fnp.max(a)), (NAN,)),
    "predicates": (lambda a: (fnp.isfinite(a), fnp.isnan(a), fnp.isinf(a)), (NAN,)),
    "transposed and strided inputs": (lambda a, b: fnp.sum(fnp.sqrt(fnp.abs(a)) * b, axis=0),
                                      (X.T, np.asfortranarray(X[:, ::-1]).T)),
    "broadcasting, 0-d and size-1 axes": (lambda a, b, c: a[:, None] * b + c,
                                          (X[:, 0], X[0], np.float64(2.0))),
    "mixed float32 and float64": (lambda a, b: fnp.exp(a) + b, (X.astype(np.float32), X)),
    "products and floor/ceil": (lambda a: (fnp.prod(a, axis=1), fnp.floor(a) + fnp.ceil(a)), (X,)),
    "sixth derivative of tanh": (_tanh6, (np.linspace(-3, 3, 50),)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_loops_equal_eager(on_table, name):
    f, args = CASES[name]
    got = [np.asarray(v) for v in fa.tree_util.tree_leaves(on_table(f, *args))]
    eager = [np.asarray(v) for v in fa.tree_util.tree_leaves(f(*args))]
    assert len(got) == len(eager)
    single = any(np.asarray(a).dtype == np.float32 for a in args)
    for d, e in zip(got, eager, strict=True):
        assert d.dtype == e.dtype and d.shape == e.shape
        if d.dtype == bool:
            np.testing.assert_array_equal(d, e)
        else:
            np.testing.assert_allclose(d, e, rtol=1e-5 if single else 1e-10, atol=1e-12)


def test_integer_sums_and_bool_operands_exactly(on_table):
    i = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(on_table(lambda i: fnp.sum(i * 3, axis=1), i), (i * 3).sum(axis=1))
    b = np.array([True, False, True])
    got = on_table(lambda b: (fnp.logical_and(b, b), fnp.where(b, 1.5, -0.5), b.astype(np.float64)), b)
    np.testing.assert_array_equal(got[0], b)
    np.testing.assert_array_equal(got[1], np.where(b, 1.5, -0.5))
    np.testing.assert_array_equal(got[2], b.astype(float))
