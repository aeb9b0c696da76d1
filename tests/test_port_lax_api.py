"""jax.lax / jax names funcad composes: dynamic slices (and x[i:i + k] with a traced i),
dot_general, associative_scan, top_k, custom_root, custom_linear_solve, the small
elementwise and shape functions, eval_shape/ShapeDtypeStruct, linear_transpose and
debug.print (eager, and at run time under jit). Checked against NumPy/SciPy and closed
forms, by check_grads, jit == eager and vmap == a loop."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import funcad as fa
import funcad.numpy as fnp
from funcad import errors, lax
from funcad.test_util import check_grads

RNG = np.random.default_rng(17)


def test_dynamic_slice_values_clamping_and_derivatives():
    x = RNG.normal(size=(5, 6))
    np.testing.assert_array_equal(lax.dynamic_slice(x, (1, 2), (2, 3)), x[1:3, 2:5])
    np.testing.assert_array_equal(lax.dynamic_slice(x, (4, 5), (2, 3)), x[3:5, 3:6])  # clamped
    np.testing.assert_array_equal(lax.dynamic_slice(x, np.array([1, 2]), (2, 3)), x[1:3, 2:5])
    f = fa.jit(lambda x, i, j: lax.dynamic_slice(x, (i, j), (2, 3)))
    for i, j in [(0, 0), (1, 2), (4, 5), (-1, 0)]:
        np.testing.assert_array_equal(f(x, i, j), lax.dynamic_slice(x, (i, j), (2, 3)))
    check_grads(lambda x: fnp.sum(lax.dynamic_slice(x, (1, 2), (2, 3)) ** 2), (x,), order=2)
    g = fa.grad(lambda x, i: fnp.sum(lax.dynamic_slice(x, (i, 0), (2, 6)) ** 2))
    np.testing.assert_allclose(fa.jit(g)(x, 2), g(x, 2))
    out = fa.vmap(lambda i: lax.dynamic_slice_in_dim(fnp.asarray(x) * 1.0, i, 2, axis=1))(np.arange(3))
    np.testing.assert_array_equal(out, [x[:, i:i + 2] for i in range(3)])
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, 2, 1, keepdims=False), x[:, 2])
    np.testing.assert_array_equal(lax.dynamic_index_in_dim(x, 2), x[2:3])
    with pytest.raises(errors.ShapeError, match="slice_sizes"):
        lax.dynamic_slice(x, (0, 0), (6, 1))


def test_dynamic_update_slice():
    x, u = RNG.normal(size=(4, 5)), RNG.normal(size=(2, 2))
    expect = x.copy()
    expect[1:3, 3:5] = u
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, u, (1, 3)), expect)
    np.testing.assert_array_equal(fa.jit(lambda x, u, i: lax.dynamic_update_slice(x, u, (i, 9)))(x, u, 1),
                                  expect)  # the column start is clamped to 3
    check_grads(lambda x, u: fnp.sum(fnp.sin(lax.dynamic_update_slice(x, u, (1, 3)))), (x, u), order=2)
    row = lax.dynamic_update_index_in_dim(x, np.zeros(5), 2, 0)
    assert np.all(row[2] == 0) and np.all(row[[0, 1, 3]] == x[[0, 1, 3]])
    np.testing.assert_array_equal(lax.dynamic_update_slice_in_dim(x, u, 1, 0)[1:3, :2], u)
    out = fa.vmap(lambda x, i: lax.dynamic_update_slice(x, fnp.ones(2), (i,)))(np.zeros((3, 4)), np.arange(3))
    np.testing.assert_array_equal(out, [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]])


def test_traced_slice_under_jit_is_a_dynamic_slice():
    x = np.arange(12.0).reshape(2, 6)
    f = fa.jit(lambda x, i: x[:, i:i + 3])
    for i in range(4):
        np.testing.assert_array_equal(f(x, i), x[:, i:i + 3])
    np.testing.assert_array_equal(fa.jit(lambda x, i: x[1, i * 2:(i + 1) * 2])(x, 2), x[1, 4:6])
    np.testing.assert_array_equal(fa.jit(lambda x, i: x[..., i:i + 2])(x, 1), x[:, 1:3])
    g = fa.jit(fa.grad(lambda x, i: fnp.sum(x[0, i:i + 2] ** 2)))(x, 1)
    expect = np.zeros_like(x)
    expect[0, 1:3] = 2 * x[0, 1:3]
    np.testing.assert_array_equal(g, expect)
    out = fa.vmap(lambda r, i: r[i:i + 2])(np.tile(np.arange(6.0), (3, 1)), np.arange(3))
    np.testing.assert_array_equal(out, [[0, 1], [1, 2], [2, 3]])
    const = fnp.asarray(np.arange(6.0))  # a constant funcad array sliced by a traced start
    np.testing.assert_array_equal(fa.jit(lambda i: const[i:i + 2])(3), [3, 4])
    np.testing.assert_array_equal(fa.vmap(lambda i: const[i:i + 2])(np.arange(2)), [[0, 1], [1, 2]])
    with pytest.raises(errors.ConcretizationError, match="static difference"):
        fa.jit(lambda x, i: x[i:])(x[0], 2)
    with pytest.raises(errors.ConcretizationError, match="not static"):
        fa.jit(lambda x, i, j: x[i:j])(x[0], 1, 3)


def test_dot_general_against_einsum():
    a, b = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(4, 3, 5))
    dn = (((2,), (1,)), ((0,), (0,)))
    np.testing.assert_allclose(lax.dot_general(a, b, dn), np.einsum("bij,bjk->bik", a, b))
    c, d = RNG.normal(size=(3, 4)), RNG.normal(size=(5, 3))
    np.testing.assert_allclose(lax.dot_general(c, d, (((0,), (1,)), ((), ()))), c.T @ d.T)
    check_grads(lambda a, b: lax.dot_general(a, b, dn), (a, b), order=2)
    np.testing.assert_allclose(lax.dot(c.T, c), c.T @ c)
    with pytest.raises(errors.ShapeError, match="dot_general"):
        lax.dot_general(a, b, (((1,), (1,)), ((0,), (0,))))


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_associative_scan(n):
    x = RNG.normal(size=(n, 3))
    np.testing.assert_allclose(lax.associative_scan(fnp.add, x), np.cumsum(x, 0))
    np.testing.assert_allclose(lax.associative_scan(fnp.add, x, reverse=True),
                               np.cumsum(x[::-1], 0)[::-1])
    np.testing.assert_allclose(lax.associative_scan(fnp.multiply, x, axis=1), np.cumprod(x, 1))
    np.testing.assert_allclose(lax.cummax(x, 0), np.maximum.accumulate(x, 0))
    np.testing.assert_allclose(lax.cummin(x, 0, reverse=True), np.minimum.accumulate(x[::-1], 0)[::-1])
    np.testing.assert_allclose(lax.cumlogsumexp(x, 0), np.logaddexp.accumulate(x, 0))

    # a pytree of elements: the affine recurrence h_t = a_t h_{t-1} + b_t
    a, b = RNG.uniform(0.5, 1.0, size=n), RNG.normal(size=n)
    comb = lambda l, r: (l[0] * r[0], r[0] * l[1] + r[1])  # noqa: E731
    _, h = lax.associative_scan(comb, (a, b))
    ref, acc = [], 0.0
    for at, bt in zip(a, b):
        acc = at * acc + bt
        ref.append(acc)
    np.testing.assert_allclose(h, ref)
    check_grads(lambda b: lax.associative_scan(comb, (a, b))[1], (b,), order=1)
    if n == 5:  # one compiled case: compiling costs seconds
        np.testing.assert_allclose(fa.jit(lambda x: lax.associative_scan(fnp.add, x))(x), np.cumsum(x, 0))


def test_top_k():
    x = np.array([[1.0, 5.0, 3.0, 5.0], [0.0, -1.0, 2.0, 1.5]])
    v, i = lax.top_k(x, 2)
    np.testing.assert_array_equal(v, [[5, 5], [2, 1.5]])
    np.testing.assert_array_equal(i, [[1, 3], [2, 3]])
    g = fa.grad(lambda x: fnp.sum(lax.top_k(x, 2)[0] * np.array([1.0, 10.0])))(x[1])
    np.testing.assert_array_equal(g, [0, 0, 1, 10])
    vj, ij = fa.jit(lambda x: lax.top_k(x, 3))(x)
    np.testing.assert_array_equal(vj, lax.top_k(x, 3)[0])
    with pytest.raises(errors.ShapeError, match="top_k"):
        lax.top_k(x, 5)


def test_small_elementwise_and_shape_functions():
    x = RNG.uniform(0.2, 3.0, size=5)
    np.testing.assert_allclose(lax.rsqrt(x), 1 / np.sqrt(x))
    np.testing.assert_allclose(lax.lgamma(x), scipy.special.gammaln(x))
    np.testing.assert_allclose(lax.clamp(0.5, x, 2.0), np.clip(x, 0.5, 2.0))
    np.testing.assert_allclose(lax.square(x), x * x)
    np.testing.assert_allclose(lax.rem(-x, 0.7), np.fmod(-x, 0.7))
    np.testing.assert_allclose(lax.integer_pow(x, 3), x ** 3)
    np.testing.assert_allclose(lax.pow(x, 0.5), np.sqrt(x))
    np.testing.assert_allclose(lax.select(x > 1, x, -x), np.where(x > 1, x, -x))
    np.testing.assert_allclose(lax.select_n(np.array([0, 1, 2, 1, 0]), x, 2 * x, 3 * x),
                               np.choose([0, 1, 2, 1, 0], [x, 2 * x, 3 * x]))
    y = RNG.uniform(-0.99, 0.99, size=7)
    np.testing.assert_allclose(lax.erf_inv(y), scipy.special.erfinv(y), rtol=1e-12, atol=1e-14)
    for f in (lax.rsqrt, lax.lgamma, lax.erf_inv, lambda x: lax.clamp(0.5, x, 0.9)):
        check_grads(f, (x / 4 + 0.1,), order=2)
    np.testing.assert_array_equal(lax.iota(np.int32, 4), np.arange(4))
    m = np.arange(6.0).reshape(2, 3)
    assert lax.broadcast(m, (4,)).shape == (4, 2, 3)
    np.testing.assert_array_equal(lax.broadcast_in_dim(np.arange(3.0), (2, 3), (1,)),
                                  np.tile(np.arange(3.0), (2, 1)))
    np.testing.assert_array_equal(lax.rev(m, (0, 1)), m[::-1, ::-1])
    np.testing.assert_array_equal(lax.collapse(np.ones((2, 3, 4)), 1).shape, (2, 12))
    np.testing.assert_array_equal(lax.squeeze(lax.expand_dims(m, (0,)), (0,)), m)
    np.testing.assert_array_equal(lax.slice(m, (0, 1), (2, 3)), m[:, 1:3])
    np.testing.assert_array_equal(lax.slice_in_dim(m, 0, 3, 2, axis=1), m[:, ::2])
    np.testing.assert_array_equal(lax.index_in_dim(m, 1, 1, keepdims=False), m[:, 1])
    np.testing.assert_array_equal(lax.pad(np.array([1.0, 2.0]), 0.0, [(1, 2, 1)]), [0, 1, 0, 2, 0, 0])
    np.testing.assert_array_equal(lax.pad(np.arange(4.0), -1.0, [(-1, 1, 0)]), [1, 2, 3, -1])
    check_grads(lambda m: lax.pad(m, 0.0, [(1, 0, 1), (0, -1, 0)]), (m,), order=1)
    k, v = lax.sort_key_val(np.array([3.0, 1.0, 2.0]), np.array([30.0, 10.0, 20.0]))
    np.testing.assert_array_equal(v, [10, 20, 30])
    assert lax.reduce_and(np.array([True, False]), (0,)) == False  # noqa: E712
    np.testing.assert_array_equal(lax.full_like(m, 2.0), np.full((2, 3), 2.0))


def test_custom_root_implicit_derivatives():
    def solve(f, x):  # Newton with a numerical slope: the iterations are never differentiated
        for _ in range(40):
            x = x - f(x) / ((f(x + 1e-7) - f(x)) / 1e-7)
        return x

    def cube_root(a):
        return lax.custom_root(lambda x: x ** 3 - a, 1.0, solve, lambda g, y: y / g(1.0))

    a = 5.0
    np.testing.assert_allclose(cube_root(a), a ** (1 / 3), rtol=1e-10)
    np.testing.assert_allclose(fa.grad(cube_root)(a), a ** (-2 / 3) / 3, rtol=1e-8)
    np.testing.assert_allclose(fa.grad(fa.grad(cube_root))(a), -2 / 9 * a ** (-5 / 3), rtol=1e-6)
    np.testing.assert_allclose(fa.jit(fa.grad(cube_root))(a), fa.grad(cube_root)(a))
    np.testing.assert_allclose(fa.vmap(fa.grad(cube_root))(np.array([1.0, 8.0])),
                               [fa.grad(cube_root)(1.0), fa.grad(cube_root)(8.0)])


def test_custom_linear_solve():
    a0 = np.array([[3.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 5.0]])
    b = np.array([1.0, -2.0, 0.5])

    def solve_scaled(s, b):
        a = a0 * s
        return lax.custom_linear_solve(lambda v: a @ v, b, lambda mv, rhs: fnp.linalg.solve(a, rhs),
                                       symmetric=True)

    np.testing.assert_allclose(solve_scaled(2.0, b), np.linalg.solve(2 * a0, b))
    np.testing.assert_allclose(fa.jacrev(lambda b: solve_scaled(2.0, b))(b), np.linalg.inv(2 * a0))
    np.testing.assert_allclose(fa.jacfwd(lambda b: solve_scaled(2.0, b))(b), np.linalg.inv(2 * a0))
    np.testing.assert_allclose(fa.grad(lambda s: fnp.sum(solve_scaled(s, b)))(2.0),
                               -np.sum(np.linalg.solve(a0, b)) / 4)
    check_grads(lambda s, b: solve_scaled(s, b), (2.0, b), order=2)


def test_eval_shape_and_shape_dtype_struct():
    s = fa.ShapeDtypeStruct((5, 3), np.float64)
    assert (s.shape, s.dtype, s.ndim, s.size) == ((5, 3), np.dtype(np.float64), 2, 15)
    out = fa.eval_shape(lambda x, w: {"h": fnp.tanh(x @ w), "n": fnp.sum(x > 0)}, s, np.ones((3, 2)))
    assert out == {"h": fa.ShapeDtypeStruct((5, 2), np.float64), "n": fa.ShapeDtypeStruct((), np.int64)}
    calls = []
    fa.eval_shape(lambda x: calls.append(type(x).__name__) or x, np.ones(2))
    assert calls and calls[0] != "ndarray"  # traced abstractly, never computed


def test_linear_transpose():
    a = RNG.normal(size=(3, 2))
    f_t = fa.linear_transpose(lambda x, y: (a @ x + 2.0 * y[::-1], fnp.sum(x)), np.zeros(2), np.zeros(3))
    ct = (RNG.normal(size=3), 1.5)
    cx, cy = f_t(ct)
    np.testing.assert_allclose(cx, a.T @ ct[0] + 1.5)
    np.testing.assert_allclose(cy, 2.0 * ct[0][::-1])
    # <f(x), ct> == <x, f_T(ct)>
    f = lambda x: fnp.cumsum(x * 3.0)  # noqa: E731
    x, c = RNG.normal(size=4), RNG.normal(size=4)
    (ft,) = fa.linear_transpose(f, x)(c)
    np.testing.assert_allclose(np.dot(f(x), c), np.dot(x, ft))
    np.testing.assert_allclose(fa.jit(lambda c: fa.linear_transpose(f, x)(c)[0])(c), ft)
    for nonlinear in (lambda x: x * x, fnp.sin):
        with pytest.raises(errors.ArgumentError, match="not linear"):
            fa.linear_transpose(nonlinear, 1.0)(1.0)
    with pytest.raises(errors.ArgumentError, match="affine"):
        fa.linear_transpose(lambda x: x + 1.0, 1.0)


def test_debug_print_eager_jit_grad_vmap(capfd):
    def f(x):
        fa.debug.print("x={} y={y}", x, y=x * 2.0)
        return fnp.sum(x ** 2)

    f(np.array([1.0, 2.0]))
    assert capfd.readouterr().out == "x=[1. 2.] y=[2. 4.]\n"
    jf = fa.jit(f)
    jf(np.array([1.0, 2.0]))
    capfd.readouterr()
    jf(np.array([3.0, 4.0]))  # the compiled program prints at run time, with this call's values
    assert capfd.readouterr().out == "x=[3. 4.] y=[6. 8.]\n"
    fa.grad(f)(np.array([5.0, 6.0]))
    assert capfd.readouterr().out == "x=[5. 6.] y=[10. 12.]\n"
    fa.jit(fa.grad(f))(np.array([7.0, 8.0]))
    assert capfd.readouterr().out == "x=[7. 8.] y=[14. 16.]\n"
    fa.vmap(f)(np.array([[1.0], [2.0]]))
    assert capfd.readouterr().out == "x=[1.] y=[2.]\nx=[2.] y=[4.]\n"

    def body(c, x):
        fa.debug.print("step {}", x)
        fa.debug.print("step {}", x)  # not merged with the line above
        return c + x, c

    fa.jit(lambda xs: fa.lax.scan(body, 0.0, xs))(np.arange(2.0))
    assert capfd.readouterr().out == "step 0.0\nstep 0.0\nstep 1.0\nstep 1.0\n"


def test_jax_spellings_of_lax_names():
    x = RNG.uniform(0.1, 0.9, size=(2, 3))
    for ours, ref in ((lax.acos, np.arccos), (lax.asin, np.arcsin), (lax.atan, np.arctan),
                      (lax.atanh, np.arctanh), (lax.asinh, np.arcsinh), (lax.reciprocal, np.reciprocal),
                      (lax.tan, np.tan)):
        np.testing.assert_allclose(ours(x), ref(x))
    np.testing.assert_allclose(lax.acosh(x + 1.0), np.arccosh(x + 1.0))
    np.testing.assert_allclose(lax.atan2(x, 1.0 - x), np.arctan2(x, 1.0 - x))
    np.testing.assert_array_equal(lax.real(x), x)
    np.testing.assert_array_equal(lax.imag(x), np.zeros_like(x))
    np.testing.assert_array_equal(lax.broadcasted_iota(np.int32, (2, 3), 1), [[0, 1, 2], [0, 1, 2]])
    assert lax.broadcast_to_rank(np.ones(3), 3).shape == (1, 1, 3)
    np.testing.assert_allclose(lax.reduce(x, 0.0, lax.add, (1,)), x.sum(1))
    np.testing.assert_allclose(lax.reduce(x, -np.inf, lax.max, (0,)), x.max(0))
    np.testing.assert_allclose(lax.reduce((x, x), (1.0, 2.0), fnp.multiply, (0,))[1], 2 * x.prod(0))
    with pytest.raises(errors.ArgumentError, match="lax.reduce"):
        lax.reduce(x, 0.0, lambda a, b: a - b, (0,))
    a, b = lax.split(np.arange(5.0), (2, 3))
    np.testing.assert_array_equal(b, [2, 3, 4])
    assert lax.argmax(x, 1, np.int32).dtype == np.int32
    np.testing.assert_array_equal(lax.argmin(x, 0), x.argmin(0))
    keys, vals = lax.sort((np.array([2, 1, 2, 0]), np.array([0.0, 1.0, 2.0, 3.0])), 0, num_keys=1)
    np.testing.assert_array_equal(vals, [3, 1, 0, 2])
    np.testing.assert_array_equal(lax.sort(x), np.sort(x, -1))
    check_grads(lambda x: lax.sort(x, 0) * np.arange(2.0)[:, None], (x,), order=1)
    np.testing.assert_allclose(lax.cumsum(x), np.cumsum(x, 0))
    np.testing.assert_allclose(lax.cumprod(x, 1, reverse=True), np.cumprod(x[:, ::-1], 1)[:, ::-1])
    assert lax.full((2,), 3).dtype == np.int64 and lax.full((2,), 3.0, np.float32).dtype == np.float32
    np.testing.assert_array_equal(lax.index_take(x, (np.array([1, 0]),), (0,)), x[[1, 0]])
    assert bool(lax.reduce_xor(np.array([True, True, True]), (0,)))
    np.testing.assert_array_equal(lax.optimization_barrier(x), x)
    assert lax.reduce_precision(np.array([0.1]), 8, 23)[0] == np.float32(0.1)
    t, f = np.array([True, False]), np.array([True, True])
    np.testing.assert_array_equal(lax.bitwise_and(t, f), [True, False])


def test_lax_special_function_names():
    a, x = 2.5, np.array([0.5, 1.5, 3.0])
    np.testing.assert_allclose(lax.igamma(a, x), scipy.special.gammainc(a, x))
    np.testing.assert_allclose(lax.igammac(a, x), scipy.special.gammaincc(a, x))
    np.testing.assert_allclose(lax.betainc(2.0, 3.0, x / 4), scipy.special.betainc(2.0, 3.0, x / 4))
    np.testing.assert_allclose(lax.zeta(x + 1.5, 1.0), scipy.special.zeta(x + 1.5, 1.0))
    np.testing.assert_allclose(lax.bessel_i0e(x), scipy.special.i0e(x))
    np.testing.assert_allclose(lax.bessel_i1e(x), scipy.special.i1e(x))
    check_grads(lambda x: lax.igamma(a, x), (x,), order=1)
