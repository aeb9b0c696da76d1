"""funcad.nn: values against NumPy/SciPy, derivatives against closed forms and finite differences,
and stability at x = +-1000 (no overflow, no NaN gradients)."""

import warnings

import numpy as np
import pytest
import scipy.special as sc

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads

BIG = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])


@pytest.fixture(autouse=True)
def _no_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or invalid-value warning fails the test
        yield


def _all_finite(*xs):
    return all(np.all(np.isfinite(x)) for x in xs)


def test_sigmoid_and_softplus_stable_at_large_inputs(transform):
    s = transform(fa.nn.sigmoid)(BIG)
    np.testing.assert_allclose(s, sc.expit(BIG), rtol=1e-15)
    ds = transform(fa.elementwise_grad(fa.nn.sigmoid))(BIG)
    np.testing.assert_allclose(ds, sc.expit(BIG) * sc.expit(-BIG), rtol=1e-12, atol=1e-300)
    d2s = fa.elementwise_grad(fa.elementwise_grad(fa.nn.sigmoid))(BIG)
    sp = transform(fa.nn.softplus)(BIG)
    np.testing.assert_allclose(sp, np.logaddexp(0, BIG), rtol=1e-15)
    dsp = transform(fa.elementwise_grad(fa.nn.softplus))(BIG)
    np.testing.assert_allclose(dsp, sc.expit(BIG), rtol=1e-12)
    d2sp = fa.elementwise_grad(fa.elementwise_grad(fa.nn.softplus))(BIG)
    assert _all_finite(s, ds, d2s, sp, dsp, d2sp)
    assert sp[-1] == 1000.0 and sp[0] == 0.0


def test_relu():
    x = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
    np.testing.assert_array_equal(fa.nn.relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(fa.elementwise_grad(fa.nn.relu)(x), [0, 0, 0, 1, 1])


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False), ((0, 1), True)])
def test_logsumexp_values_and_grads(axis, keepdims, rng, transform):
    x = rng.standard_normal((3, 4))
    out = transform(lambda x: fa.nn.logsumexp(x, axis=axis, keepdims=keepdims))(x)
    np.testing.assert_allclose(out, sc.logsumexp(x, axis=axis, keepdims=keepdims), rtol=1e-14)
    check_grads(lambda x: fa.nn.logsumexp(x, axis=axis, keepdims=keepdims), (x,), order=2)


def test_logsumexp_softmax_stable_at_large_inputs(transform):
    x = np.array([1000.0, -1000.0, 999.0, 0.0])
    lse = transform(fa.nn.logsumexp)(x)
    np.testing.assert_allclose(lse, sc.logsumexp(x), rtol=1e-15)
    g = transform(fa.grad(fa.nn.logsumexp))(x)
    np.testing.assert_allclose(g, sc.softmax(x), rtol=1e-12, atol=1e-300)
    H = fa.hessian(fa.nn.logsumexp)(x)
    s = sc.softmax(x)
    np.testing.assert_allclose(H, np.diag(s) - np.outer(s, s), rtol=1e-12, atol=1e-300)
    for f in (fa.nn.softmax, fa.nn.log_softmax):
        y = transform(f)(x)
        J = fa.jacrev(f)(x)
        assert _all_finite(y, J)
    np.testing.assert_allclose(fa.nn.softmax(x), sc.softmax(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(fa.nn.log_softmax(x), sc.log_softmax(x), rtol=1e-12)
    # all -inf but one (masked logits) and all-equal huge values
    np.testing.assert_allclose(fa.nn.logsumexp(np.array([1000.0, 1000.0])), 1000 + np.log(2))
    np.testing.assert_allclose(fa.grad(fa.nn.logsumexp)(np.array([1000.0, 1000.0])), [0.5, 0.5])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_family_values_and_grads(name, axis, rng, transform):
    x = rng.standard_normal((3, 4))
    f = lambda x: getattr(fa.nn, name)(x, axis=axis)  # noqa: E731
    np.testing.assert_allclose(transform(f)(x), getattr(sc, name)(x, axis=axis), rtol=1e-13)
    check_grads(f, (x,), order=2)


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_elementwise_nn_check_grads(name, rng):
    check_grads(getattr(fa.nn, name), (rng.standard_normal((2, 3)) * 3,), order=3)


def test_one_hot():
    np.testing.assert_array_equal(fa.nn.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


def test_cross_entropy_gradient_is_softmax_minus_onehot_at_large_logits(rng):
    z = np.array([[1000.0, -1000.0, 0.0], [0.0, 500.0, -500.0]])
    y = np.array([1, 0])

    def loss(z):
        return -fnp.sum(fa.nn.log_softmax(z) * fa.nn.one_hot(y, 3))

    g = fa.grad(loss)(z)
    np.testing.assert_allclose(g, sc.softmax(z, axis=-1) - np.eye(3)[y], atol=1e-300)
    assert np.isfinite(loss(z))
