"""funcad.nn's activations as jax.nn has them (issue 17): values against closed forms in
NumPy/SciPy, derivatives by check_grads away from kinks and pinned at them, no overflow or NaN
in values or gradients at x = +-1000, jit equal to eager; and a port of JAX's MLP usage."""

import math
import warnings

import numpy as np
import pytest
import scipy.special as sc

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads

BIG = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
X = np.array([-3.1, -1.7, -0.6, -0.2, 0.3, 0.9, 1.4, 2.5, 6.5])  # away from kinks

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
REFERENCE = {
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "celu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0))),
    "silu": lambda x: x * sc.expit(x),
    "swish": lambda x: x * sc.expit(x),
    "log_sigmoid": lambda x: sc.log_expit(x),
    "soft_sign": lambda x: x / (np.abs(x) + 1),
    "softsign": lambda x: x / (np.abs(x) + 1),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)),
    "identity": lambda x: x,
    "tanh": np.tanh,
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_values_derivatives_and_jit(name):
    f = getattr(fa.nn, name)
    with np.errstate(over="ignore"):
        expected = REFERENCE[name](X)
    np.testing.assert_allclose(f(X), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fa.jit(f)(X), expected, rtol=1e-13, atol=1e-15)
    check_grads(lambda x: f(x), (X,), order=2)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activations_stable_at_large_inputs(name):
    f = getattr(fa.nn, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or invalid-value warning fails the test
        y = f(BIG)
        g = fa.vmap(fa.grad(f))(BIG)
        gg = fa.vmap(fa.grad(fa.grad(f)))(BIG)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g)) and np.all(np.isfinite(gg)), (y, g, gg)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = REFERENCE[name](BIG[[1, 2, 4, 5]])
    np.testing.assert_allclose(y[[1, 2, 4, 5]], ref, rtol=1e-13, atol=1e-300)


def test_gelu_exact_and_approximate():
    np.testing.assert_allclose(fa.nn.gelu(X, approximate=False), X * sc.ndtr(X), rtol=1e-14)
    check_grads(lambda x: fa.nn.gelu(x, approximate=False), (X,), order=2)
    g = fa.vmap(fa.grad(lambda x: fa.nn.gelu(x, approximate=False)))(BIG)
    np.testing.assert_allclose(g[[0, -1]], [0.0, 1.0])
    d = fa.vmap(fa.grad(fa.nn.gelu))(X)
    eps = 1e-6
    np.testing.assert_allclose(
        d, (REFERENCE["gelu"](X + eps) - REFERENCE["gelu"](X - eps)) / (2 * eps), rtol=1e-7
    )


def test_kinks_take_the_flat_side():
    for name, x, slope in [
        ("relu6", 0.0, 0.0),
        ("relu6", 6.0, 0.0),
        ("hard_tanh", 1.0, 0.0),
        ("hard_tanh", -1.0, 0.0),
        ("leaky_relu", 0.0, 1.0),
        ("elu", 0.0, 1.0),
        ("sparse_plus", 1.0, 1.0),
        ("sparse_plus", -1.0, 0.0),
    ]:
        assert float(fa.grad(getattr(fa.nn, name))(x)) == slope, name


def test_parameters_of_elu_celu_leaky_relu():
    x = X
    np.testing.assert_allclose(fa.nn.elu(x, alpha=2.0), np.where(x > 0, x, 2.0 * np.expm1(np.minimum(x, 0))))
    np.testing.assert_allclose(
        fa.nn.celu(x, alpha=2.0), np.where(x > 0, x, 2.0 * np.expm1(np.minimum(x, 0) / 2))
    )
    np.testing.assert_allclose(fa.nn.leaky_relu(x, negative_slope=0.2), np.where(x >= 0, x, 0.2 * x))
    check_grads(lambda a: fa.nn.celu(x, alpha=a), (1.5,), order=2)


def test_glu_standardize_one_hot():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 6))
    np.testing.assert_allclose(fa.nn.glu(z), z[:, :3] * sc.expit(z[:, 3:]))
    np.testing.assert_allclose(fa.nn.glu(z.T, axis=0), fa.nn.glu(z).T)
    with pytest.raises(ValueError, match="even"):
        fa.nn.glu(z[:, :5])
    check_grads(fa.nn.glu, (z,), order=2)
    s = fa.nn.standardize(z, axis=-1)
    np.testing.assert_allclose(s, (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5))
    np.testing.assert_allclose(fa.nn.normalize(z, axis=0, mean=0.0, variance=1.0, epsilon=0.0), z)
    check_grads(lambda z: fa.nn.standardize(z, axis=0), (z,), order=2)
    np.testing.assert_allclose(fa.jit(fa.nn.standardize)(z), s)
    np.testing.assert_array_equal(fa.nn.one_hot(np.array([2, 0, 5]), 3), [[0, 0, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(fa.nn.one_hot(np.array([2, 0]), 3, axis=0), [[0, 1], [0, 0], [1, 0]])


def test_port_of_jax_mlp_with_nn_functions():
    """JAX's "training a simple neural network" idiom: an MLP with gelu/silu, log_softmax
    cross-entropy and one_hot labels; the gradient by funcad equals finite differences and
    the loss decreases under plain SGD."""
    rng = np.random.default_rng(1)
    sizes = [4, 8, 3]
    params = [(0.5 * rng.standard_normal((m, n)), np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((16, 4))
    labels = fa.nn.one_hot(rng.integers(0, 3, 16), 3)

    def predict(params, x):
        for w, b in params[:-1]:
            x = fa.nn.gelu(x @ w + b)
            x = fa.nn.silu(x)
        w, b = params[-1]
        return fa.nn.log_softmax(x @ w + b)

    def loss(params):
        return -fnp.mean(fnp.sum(predict(params, x) * labels, axis=1))

    check_grads(loss, (params,), order=1)
    step = fa.jit(lambda p: fa.tree_util.tree_map(lambda v, g: v - 0.5 * g, p, fa.grad(loss)(p)))
    before = loss(params)
    for _ in range(20):
        params = step(params)
    assert loss(params) < before - 0.1
