"""lax.reduce_window (against NumPy loops, finite differences, jit and vmap) and
funcad.example_libraries.stax (a port of JAX's examples/mnist_classifier.py-style convnet,
trained with optimizers.adam on synthetic data)."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

import funcad as fa
import funcad.lax as lax
import funcad.numpy as fnp
from funcad import errors
from funcad.example_libraries import optimizers, stax
from funcad.test_util import check_grads

RNG = np.random.default_rng(0)


def reduce_window_loop(x, init, op, dims, strides, pads, base, wdil):
    """XLA's ReduceWindow by loops: init combined with the operand elements each window covers
    (padding and base-dilation holes are skipped)."""
    out_shape = lax.reduce_window_shape_tuple(x.shape, dims, strides, pads, base, wdil)
    out = np.empty(out_shape)
    for o in product(*map(range, out_shape)):
        acc = init
        for w in product(*map(range, dims)):
            pos = [oi * s + wi * d - lo for oi, s, wi, d, (lo, _) in zip(o, strides, w, wdil, pads)]
            if all(p % b == 0 and 0 <= p // b < n for p, b, n in zip(pos, base, x.shape)):
                acc = op(acc, x[tuple(p // b for p, b in zip(pos, base))])
        out[o] = acc
    return out


CASES = [  # init, op, window, strides, padding, base_dilation, window_dilation
    (-np.inf, "max", (2, 2), (2, 2), "VALID", None, None),
    (-np.inf, "max", (3, 2), (1, 2), "SAME", None, None),
    (0.0, "add", (2, 3), (2, 1), "SAME_LOWER", None, (2, 1)),
    (np.inf, "min", (2, 2), (1, 1), [(1, 2), (0, 1)], (1, 2), (2, 1)),
    (1.5, "add", (2, 2), (1, 1), "SAME", (2, 2), None),    # init not the identity: added once
    (0.5, "max", (3, 3), (2, 2), "SAME", (2, 1), (1, 1)),
    (1.0, "mul", (2, 1), (1, 1), [(0, 1), (-1, 0)], None, None),  # negative padding crops
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_reduce_window_against_loops(case):
    init, name, dims, strides, padding, base, wdil = case
    x = RNG.normal(size=(5, 6))
    got = lax.reduce_window(x, init, getattr(lax, name), dims, strides, padding, base, wdil)
    n = 2
    b, d = base or (1,) * n, wdil or (1,) * n
    pads = padding
    if isinstance(padding, str):
        dilated = [(s - 1) * bb + 1 for s, bb in zip(x.shape, b)]
        pads = lax.padtype_to_pads(dilated, [(k - 1) * dd + 1 for k, dd in zip(dims, d)], strides, padding)
    ops = {"max": max, "min": min, "add": lambda a, c: a + c, "mul": lambda a, c: a * c}
    want = reduce_window_loop(x, init, ops[name], dims, strides, pads, b, d)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_reduce_window_general_computation_and_pytrees():
    x, y = RNG.normal(size=(7,)), RNG.normal(size=(7,))
    f = lambda a, c: a * c + 1.0  # noqa: E731  (not a monoid: the masked fold)
    got = lax.reduce_window(x, 0.5, f, (3,), (2,), "SAME", (2,))
    want = reduce_window_loop(x, 0.5, f, (3,), (2,), [(1, 1)], (2,), (1,))
    np.testing.assert_allclose(np.asarray(got), want)
    # a pair of operands reduced together: the argmax of each window, as a (value, index) pair
    idx = np.arange(7.0)

    def pick(a, c):
        return fnp.where(c[0] > a[0], c[0], a[0]), fnp.where(c[0] > a[0], c[1], a[1])

    vals, where = lax.reduce_window((y, idx), (-np.inf, -1.0), pick, (3,), (1,), "VALID")
    windows = np.lib.stride_tricks.sliding_window_view(y, 3)
    np.testing.assert_allclose(np.asarray(vals), windows.max(1))
    np.testing.assert_allclose(np.asarray(where), windows.argmax(1) + np.arange(5))


def test_reduce_window_integer_max_pool():
    x = np.arange(12).reshape(3, 4)
    info = np.iinfo(x.dtype)
    got = lax.reduce_window(x, info.min, lax.max, (2, 2), (1, 2), "SAME")
    want = reduce_window_loop(x, info.min, max, (2, 2), (1, 2), [(0, 1), (0, 0)], (1, 1), (1, 1))
    assert np.asarray(got).dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(got), want)


def _pool(x):
    m = lax.reduce_window(x, -np.inf, lax.max, (2, 3), (1, 2), "SAME", None, (1, 1))
    s = lax.reduce_window(x, 0.0, lax.add, (2, 2), (2, 1), [(1, 0), (0, 1)], (1, 2), (2, 1))
    return fnp.sum(m * m) + fnp.sum(fnp.sin(s))


def test_reduce_window_gradients_finite_differences_jit_vmap():
    x = RNG.normal(size=(4, 5))
    check_grads(_pool, (x,), order=2, modes=("rev", "fwd"))
    np.testing.assert_allclose(fa.jit(fa.grad(_pool))(x), fa.grad(_pool)(x), rtol=1e-12)
    xs = RNG.normal(size=(3, 4, 5))
    np.testing.assert_allclose(fa.vmap(_pool)(xs), [_pool(xi) for xi in xs], rtol=1e-12)
    np.testing.assert_allclose(fa.jit(fa.vmap(fa.grad(_pool)))(xs), [fa.grad(_pool)(xi) for xi in xs],
                               rtol=1e-12)


def test_reduce_window_bad_input():
    x = np.ones((4, 4))
    with pytest.raises(errors.ArgumentError, match="window_dimensions must be 2"):
        lax.reduce_window(x, 0.0, lax.add, (2,), (1,), "VALID")
    with pytest.raises(errors.ShapeError, match="larger than the padded"):
        lax.reduce_window(x, 0.0, lax.add, (5, 1), (1, 1), "VALID")
    with pytest.raises(errors.ArgumentError, match="padding"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")
    with pytest.raises(errors.DTypeError, match="cannot be held"):
        lax.reduce_window(np.ones((4, 4), int), -np.inf, lax.max, (2, 2), (1, 1), "VALID")
    with pytest.raises(errors.TreeStructureError, match="same structure"):
        lax.reduce_window((x, x), 0.0, lax.add, (2, 2), (1, 1), "VALID")


# --------------------------------------------------------------------------------------
# stax


def test_layers_shapes_and_values():
    key = fa.random.key(0)
    x = RNG.normal(size=(2, 6, 6, 3))
    for layer, want in [
        (stax.MaxPool((2, 2), (2, 2)), x.reshape(2, 3, 2, 3, 2, 3).max((2, 4))),
        (stax.SumPool((2, 2), (2, 2)), x.reshape(2, 3, 2, 3, 2, 3).sum((2, 4))),
        (stax.AvgPool((2, 2), (2, 2)), x.reshape(2, 3, 2, 3, 2, 3).mean((2, 4))),
        (stax.Flatten, x.reshape(2, -1)),
        (stax.serial(stax.FanOut(3), stax.FanInSum), 3 * x),
        (stax.serial(stax.FanOut(2), stax.FanInConcat(axis=1)), np.concatenate([x, x], 1)),
        (stax.LogSoftmax, x - np.log(np.exp(x).sum(-1, keepdims=True))),
        (stax.BatchNorm(), (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)),
    ]:
        shape, params = layer[0](key, (-1,) + x.shape[1:])
        y = np.asarray(layer[1](params, x))
        assert shape == (-1,) + want.shape[1:]
        np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)
    # AvgPool with SAME padding divides by the number of real elements in each window
    shape, _ = stax.AvgPool((2, 2), padding="SAME")[0](key, (2, 3, 3, 1))
    y = np.asarray(stax.AvgPool((2, 2), padding="SAME")[1]((), np.ones((2, 3, 3, 1))))
    assert shape == y.shape == (2, 3, 3, 1) and np.allclose(y, 1.0)
    # Conv against a hand-written correlation
    (_, (W, b)), apply = stax.Conv(4, (3, 2), (2, 1))[0](key, x.shape), stax.Conv(4, (3, 2), (2, 1))[1]
    W, b = np.asarray(W), np.asarray(b)
    want = np.zeros((2, 2, 5, 4))
    for i, j in product(range(2), range(5)):
        want[:, i, j] = np.einsum("nhwc,hwco->no", x[:, 2 * i:2 * i + 3, j:j + 2], W)
    np.testing.assert_allclose(np.asarray(apply((W, b), x)), want + b, rtol=1e-10)


def test_transposed_convolution_layers_shapes():
    # output length (n - 1) * stride + kernel for VALID, n * stride for SAME (as JAX's)
    for layer, in_shape, want in [(stax.ConvTranspose(3, (2, 3), (2, 2)), (2, 4, 4, 2), (2, 8, 9, 3)),
                                  (stax.Conv1DTranspose(3, (3,), (2,), "SAME"), (2, 5, 2), (2, 10, 3))]:
        shape, params = layer[0](fa.random.key(0), in_shape)
        assert shape == want == layer[1](params, np.ones(in_shape)).shape


def test_dropout():
    init, apply = stax.Dropout(0.75)
    x = np.ones((200, 50))
    y = np.asarray(apply((), x, rng=fa.random.key(3)))
    assert set(np.unique(y)) == {0.0, 1 / 0.75} and abs((y > 0).mean() - 0.75) < 0.02
    np.testing.assert_array_equal(stax.Dropout(0.75, mode="test")[1]((), x), x)
    with pytest.raises(errors.ArgumentError, match="PRNG key"):
        apply((), x)


# A port of JAX's examples/mnist_classifier.py with a small convnet on synthetic "images":
# class k has a bright square in quadrant k.
init_random_params, predict = stax.serial(
    stax.Conv(4, (3, 3), padding="SAME"), stax.Relu,
    stax.MaxPool((2, 2), (2, 2)),
    stax.Conv(6, (3, 3)), stax.BatchNorm(), stax.Relu,
    stax.AvgPool((2, 2), padding="SAME"),
    stax.Flatten, stax.Dense(4), stax.LogSoftmax)


def loss(params, batch):
    inputs, targets = batch
    return -fnp.mean(fnp.sum(predict(params, inputs) * targets, axis=1))


def accuracy(params, batch):
    inputs, targets = batch
    return fnp.mean(fnp.argmax(predict(params, inputs), axis=1) == fnp.argmax(targets, axis=1))


def synthetic_batch(n, rng):
    labels = rng.integers(0, 4, n)
    images = 0.3 * rng.normal(size=(n, 8, 8, 1))
    for i, k in enumerate(labels):
        r, c = divmod(k, 2)
        images[i, 4 * r:4 * r + 4, 4 * c:4 * c + 4] += 1.0
    return images, np.eye(4)[labels]


def test_mnist_style_convnet_trains_with_adam():
    rng = np.random.default_rng(1)
    out_shape, init_params = init_random_params(fa.random.key(0), (-1, 8, 8, 1))
    assert out_shape == (-1, 4)
    opt_init, opt_update, get_params = optimizers.adam(0.05)

    @fa.jit
    def update(i, opt_state, batch):
        return opt_update(i, fa.grad(loss)(get_params(opt_state), batch), opt_state)

    opt_state = opt_init(init_params)
    test = synthetic_batch(32, rng)
    before = float(loss(init_params, test))
    for i in range(12):
        opt_state = update(i, opt_state, synthetic_batch(16, rng))
    params = get_params(opt_state)
    assert float(loss(params, test)) < 0.5 * before
    assert float(accuracy(params, test)) > 0.8
    batch = synthetic_batch(4, rng)
    eager = fa.grad(loss)(params, batch)
    jitted = fa.jit(fa.grad(loss))(params, batch)
    for a, b in zip(fa.tree_util.tree_leaves(eager), fa.tree_util.tree_leaves(jitted)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_small_net_gradient_finite_differences():
    init, apply = stax.serial(stax.Conv(2, (2, 2), padding="SAME"), stax.Tanh, stax.MaxPool((2, 2), (1, 1)),
                              stax.SumPool((2, 1)), stax.Flatten, stax.Dense(3), stax.Softmax)
    _, params = init(fa.random.key(2), (-1, 4, 4, 1))
    x = RNG.normal(size=(2, 4, 4, 1))
    check_grads(lambda p: fnp.sum(apply(p, x) ** 2), (params,), order=1, modes=("rev",))
