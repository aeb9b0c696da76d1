"""Large programs under jit: an unrolled loop's steps share deduplicated kernels (the table
backend compiles each distinct kernel once and calls it per step), against eager funcad and
closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import table


def rnn_loss(steps):
    def loss(params, xs):
        W, U, b = params
        h = fnp.zeros(W.shape[0])
        for t in range(steps):
            h = fnp.tanh(W @ h + U @ xs[t] + b)
        return fnp.sum(h * h)

    return loss


def _rnn_inputs(steps, hidden=6, n_in=3):
    rng = np.random.default_rng(0)
    params = (rng.normal(0, 0.3, (hidden, hidden)), rng.normal(0, 0.3, (hidden, n_in)),
              rng.normal(0, 0.1, hidden))
    return params, rng.normal(0, 1.0, (steps, n_in))


def _calls(program) -> int:
    """How many kernel calls the program's table makes per call (its steps' included)."""
    return len(table.Plan(*program._plan_args).calls)


def test_an_unrolled_rnn_gradient_compiles_each_distinct_kernel_once(on_table):
    counts = {}
    for steps in (8, 16):
        params, xs = _rnn_inputs(steps)
        out, exe = on_table.run(fa.grad(rnn_loss(steps)), params, xs)
        expected = fa.grad(rnn_loss(steps))(params, xs)
        for a, b in zip(out, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        counts[steps] = (exe.kernels, _calls(exe))
    # twice the steps: twice the kernel calls, and (nearly) as few distinct kernels
    (k8, calls8), (k16, calls16) = counts[8], counts[16]
    assert k16 <= k8 + 2 and calls16 >= 2 * calls8 - 2 and calls8 >= 4 * k8, counts


def test_a_program_never_returns_its_input_or_a_view_of_it(on_table):
    x = np.arange(12.0).reshape(3, 4)
    outs = on_table(lambda x: (x, fnp.reshape(x, (4, 3)), x[1:], fnp.sum(fnp.sin(x)), x.T), x)
    for o in outs:
        assert not np.shares_memory(o, x)
    np.testing.assert_array_equal(outs[1], x.reshape(4, 3))
    np.testing.assert_array_equal(outs[2], x[1:])
    np.testing.assert_allclose(outs[3], np.sum(np.sin(x)), rtol=1e-14)
    np.testing.assert_array_equal(outs[4], x.T)


def test_a_program_past_the_old_10000_operation_limit_compiles():
    """x_{k+1} = a x_k + b over 6,000 steps (12,000 operations; 10,000 was refused)."""
    a, b, n = 0.999, 0.001, 6_000

    def chain(x):
        for _ in range(n):
            x = x * a + b
        return x

    x = np.linspace(0.0, 2.0, 5)
    out = fa.jit(chain)(x)
    np.testing.assert_allclose(out, 1.0 + (x - 1.0) * a ** n, rtol=1e-10)


@pytest.mark.parametrize("steps", [2])
def test_an_unrolled_lstm_step_matches_eager(on_table, steps):
    """A small character LSTM (slices of the gate vector, softmax cross-entropy): value and
    gradient equal eager evaluation."""
    hidden, vocab = 4, 5

    def sigmoid(x):
        return 0.5 * (fnp.tanh(0.5 * x) + 1.0)

    def loss(params, seq):
        Wx, Wh, b, Wy = params
        h = c = fnp.zeros(hidden)
        total = 0.0
        for t in range(steps):
            z = Wx @ seq[t] + Wh @ h + b
            i, f, o, g = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:3 * hidden], z[3 * hidden:]
            c = sigmoid(f) * c + sigmoid(i) * fnp.tanh(g)
            h = sigmoid(o) * fnp.tanh(c)
            logits = Wy @ h
            total = total - fnp.sum((logits - fnp.log(fnp.sum(fnp.exp(logits)))) * seq[t + 1])
        return total

    rng = np.random.default_rng(1)
    params = (rng.normal(0, 0.3, (4 * hidden, vocab)), rng.normal(0, 0.3, (4 * hidden, hidden)),
              rng.normal(0, 0.1, 4 * hidden), rng.normal(0, 0.3, (vocab, hidden)))
    seq = np.eye(vocab)[rng.integers(0, vocab, steps + 1)]
    v, g = on_table(fa.value_and_grad(loss), params, seq)
    v0, g0 = fa.value_and_grad(loss)(params, seq)
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    for a, b in zip(g, g0):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_the_steps_of_an_unrolled_loop_share_their_kernels(on_table):
    """A damped spring chain over 150 Euler steps (concatenates and a fused update per step):
    a few distinct kernels, called at every step, give the eager numbers."""
    def run(x, v, k):
        for _ in range(150):
            left = fnp.concatenate([x[:1], x[:-1]])
            right = fnp.concatenate([x[1:], x[-1:]])
            v = v + 0.01 * (k * (left + right - 2.0 * x) - 0.1 * v)
            x = x + 0.01 * v
        return x, v

    rng = np.random.default_rng(4)
    args = rng.normal(0, 1, 8), np.zeros(8), 1.5
    got, exe = on_table.run(run, *args)
    for a, b in zip(got, run(*args), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert exe.kernels <= 4 and _calls(exe) >= 150, (exe.kernels, _calls(exe))


def test_products_transposes_and_integer_arithmetic_as_numpy(on_table):
    """Matrix products, transposes, integer division and index_add at a basic index (the
    gradient of a slice): the numbers, dtypes and 0-d results are NumPy's, and no result is a
    view of an input."""
    def f(W, x, n):
        z = W @ x
        return (fnp.sum(fnp.tanh(z[:3]) * z[3:]) / fnp.sum(x * x), W.T, n // 2, n / 4,
                fnp.sum(z) / n)

    W, x, n = np.arange(24.0).reshape(6, 4) / 10, np.linspace(-1, 1, 4), np.arange(1, 4)
    vg = fa.value_and_grad(lambda W, x, n: f(W, x, n)[0], argnums=(0, 1))
    (v, gr), (v0, gr0) = on_table(vg, W, x, n), vg(W, x, n)
    np.testing.assert_allclose(v, v0, rtol=1e-14)
    for a, b in zip(gr, gr0, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    outs = on_table(f, W, x, n)
    for o, e in zip(outs, f(W, x, n), strict=True):
        assert type(o) is np.ndarray and o.dtype == np.asarray(e).dtype and o.shape == np.shape(e)
        np.testing.assert_allclose(o, e, rtol=1e-14)
    assert not np.shares_memory(outs[1], W)


def test_index_add_at_a_basic_index_compiles_natively(on_table):
    """The transposes of a slice and of a scalar index (index_add): native loops, not host
    steps; gradients equal eager ones."""
    def f(t, z):
        return t[0] * t[1] ** 2 + fnp.sin(t[2]) + fnp.sum(z[1:3] * z[:2]) + fnp.sum(z[::2, 1] ** 3)

    t, z = np.array([0.3, -1.2, 2.0]), np.arange(12.0).reshape(4, 3) / 7
    g = fa.grad(f, argnums=(0, 1))
    got, exe = on_table.run(g, t, z)
    for a, b in zip(got, g(t, z), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    assert "host[" not in exe.source
