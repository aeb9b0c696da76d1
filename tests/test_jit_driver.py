"""Large programs under jit: a Python driver over deduplicated kernels (backend/driver.py).

An unrolled loop repeats the same loop nests at every step: the driven program compiles each
distinct one once, so the number of compiled kernels does not grow with the number of steps.
Results are checked against the same functions run eagerly (and a closed form).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, driver


@pytest.fixture(autouse=True)
def _numba_backend(monkeypatch):
    """Driven programs: Numba's driver over deduplicated kernels: the Numba path
    (FUNCAD_JIT_BACKEND=numba). The table backend's deduplication: tests/test_table.py."""
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", "numba")


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


def _program(f, *args):
    entry, _ = f._entry(args, {})
    return dispatch.executable_for(entry.jaxpr, entry.name)


def test_an_unrolled_rnn_gradient_is_driven_and_compiles_each_kernel_once():
    counts = {}
    for steps in (8, 16):
        params, xs = _rnn_inputs(steps)
        g = fa.jit(fa.grad(rnn_loss(steps)))
        out = g(params, xs)
        expected = fa.grad(rnn_loss(steps))(params, xs)
        for a, b in zip(out, expected):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        exe = _program(g, params, xs)
        assert isinstance(exe, driver.Driven)
        calls = len(re.findall(r"= k\d+\(", exe.driver_source))
        counts[steps] = (len(exe.kernels), calls)
        assert "def run(" in exe.source and "program(args, S)" in exe.source
    # twice the steps: twice the kernel calls, and as few distinct kernels (the last, the
    # sum of every step's contribution to W's gradient, is cut into 16-input pieces)
    (k8, calls8), (k16, calls16) = counts[8], counts[16]
    assert k8 <= 8 and k16 <= 8 and calls16 >= 2 * calls8 - 2 and calls8 >= 2 * k8, counts


def test_driven_and_single_function_programs_agree(monkeypatch):
    """The same program below and above the driving threshold gives the same numbers."""
    params, xs = _rnn_inputs(3)
    f = fa.value_and_grad(rnn_loss(3))
    monkeypatch.setattr(driver, "MIN_ITEMS", 10 ** 9)
    one = fa.jit(f)
    v1, g1 = one(params, xs)
    assert not isinstance(_program(one, params, xs), driver.Driven)
    monkeypatch.setattr(driver, "MIN_ITEMS", 1)
    driven = fa.jit(f)
    v2, g2 = driven(params, xs)
    assert isinstance(_program(driven, params, xs), driver.Driven)
    np.testing.assert_allclose(v2, v1, rtol=1e-13)
    for a, b in zip(g2, g1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_a_driven_program_never_returns_its_input_or_a_view_of_it(monkeypatch):
    monkeypatch.setattr(driver, "MIN_ITEMS", 1)
    x = np.arange(12.0).reshape(3, 4)
    f = fa.jit(lambda x: (x, fnp.reshape(x, (4, 3)), x[1:], fnp.sum(fnp.sin(x)), x.T))
    outs = f(x)
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
def test_a_driven_lstm_step_matches_eager(monkeypatch, steps):
    """A small character LSTM (slices of the gate vector, softmax cross-entropy): value and
    gradient through the driver equal eager evaluation."""
    monkeypatch.setattr(driver, "MIN_ITEMS", 1)
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
    v, g = fa.jit(fa.value_and_grad(loss))(params, seq)
    v0, g0 = fa.value_and_grad(loss)(params, seq)
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    for a, b in zip(g, g0):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_the_steps_of_an_unrolled_loop_run_as_one_kernel_call_each(monkeypatch):
    """A damped spring chain over 150 Euler steps (concatenates and a fused update per step):
    each step is one unit (driver.steps_of), several steps per call, so the driver makes a
    fraction of the calls it makes item by item, compiles few kernels, and gives the eager
    numbers."""
    def run(x, v, k):
        for _ in range(150):
            left = fnp.concatenate([x[:1], x[:-1]])
            right = fnp.concatenate([x[1:], x[-1:]])
            v = v + 0.01 * (k * (left + right - 2.0 * x) - 0.1 * v)
            x = x + 0.01 * v
        return x, v

    rng = np.random.default_rng(4)
    args = rng.normal(0, 1, 8), np.zeros(8), 1.5
    expected = run(*args)
    lines = {}
    for period in (0, driver.MAX_PERIOD):
        monkeypatch.setattr(driver, "MAX_PERIOD", period)
        f = fa.jit(run)
        for a, b in zip(f(*args), expected):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        exe = _program(f, *args)
        assert isinstance(exe, driver.Driven)
        lines[period] = exe.driver_source.count("\n")
    assert lines[driver.MAX_PERIOD] * 4 <= lines[0] and len(exe.kernels) <= 4, (lines, len(exe.kernels))
    # the steps start at the update, where only x and v cross from one step to the next
    # (from the concatenates, five arrays would be returned and passed again per call)
    outs = [len(m.group(1).split(",")) - 1 for m in re.finditer(r"    (.*) = k\d+\(", exe.driver_source)]
    assert max(set(outs), key=outs.count) == 2, outs


def test_single_equations_run_inline_in_the_driver(monkeypatch):
    """Matrix products, transposes, ufuncs and index_add at a basic index (the gradient of a
    slice) are statements of the driver, not calls through ``_call``; the numbers, dtypes and
    0-d results are NumPy's, and no result is a view of an input."""
    monkeypatch.setattr(driver, "MIN_ITEMS", 1)

    def f(W, x, n):
        z = W @ x
        return (fnp.sum(fnp.tanh(z[:3]) * z[3:]) / fnp.sum(x * x), W.T, n // 2, n / 4,
                fnp.sum(z) / n)

    W, x, n = np.arange(24.0).reshape(6, 4) / 10, np.linspace(-1, 1, 4), np.arange(1, 4)
    g = fa.jit(fa.value_and_grad(lambda W, x, n: f(W, x, n)[0], argnums=(0, 1)))
    (v, gr), (v0, gr0) = g(W, x, n), fa.value_and_grad(lambda W, x, n: f(W, x, n)[0], argnums=(0, 1))(W, x, n)
    np.testing.assert_allclose(v, v0, rtol=1e-14)
    for a, b in zip(gr, gr0):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    source = _program(g, W, x, n).driver_source
    assert "np.matmul(" in source and "] += " in source and "_call(" not in source, source
    h = fa.jit(f)
    outs = h(W, x, n)
    for o, e in zip(outs, f(W, x, n)):
        assert type(o) is np.ndarray and o.dtype == np.asarray(e).dtype and o.shape == np.shape(e)
        np.testing.assert_allclose(o, e, rtol=1e-14)
    assert not np.shares_memory(outs[1], W) and ".transpose(" in _program(h, W, x, n).driver_source


def test_returned_arrays_are_boxed_without_unpickling(monkeypatch):
    """Numba boxes a returned array with its Python type unpickled per array (a Python-level
    ``_numba_unpickle`` call); nbrt's boxing reads it from the function's environment."""
    import sys

    monkeypatch.setattr(driver, "MIN_ITEMS", 1)
    params, xs = _rnn_inputs(6)
    g = fa.jit(fa.grad(rnn_loss(6)))
    expected = g(params, xs)
    calls = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "_numba_unpickle":
            calls.append(1)

    sys.setprofile(profile)
    try:
        out = g(params, xs)
    finally:
        sys.setprofile(None)
    assert isinstance(_program(g, params, xs), driver.Driven) and not calls, len(calls)
    for a, b in zip(out, expected):
        np.testing.assert_array_equal(a, b)


def test_index_add_at_a_basic_index_compiles_to_a_loop():
    """The transposes of a slice and of a scalar index (index_add) are loops, not objmode
    blocks; gradients equal eager ones."""
    def f(t, z):
        return t[0] * t[1] ** 2 + fnp.sin(t[2]) + fnp.sum(z[1:3] * z[:2]) + fnp.sum(z[::2, 1] ** 3)

    t, z = np.array([0.3, -1.2, 2.0]), np.arange(12.0).reshape(4, 3) / 7
    g = fa.jit(fa.grad(f, argnums=(0, 1)))
    for a, b in zip(g(t, z), fa.grad(f, argnums=(0, 1))(t, z)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    assert "objmode" not in g.lower(t, z).source
