"""LAPACK in the table backend (backend/table_linalg.py): solve, cholesky, triangular_solve and
symmetrize, single and stacked, float32 and float64, against NumPy/SciPy, eager funcad and
finite differences, and NumPy's errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, table
from funcad.lax import decompositions as dec
from funcad.lax import linalg as la
from funcad.lax.linalg import symmetrize
from funcad.test_util import check_grads

RNG = np.random.default_rng(7)
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _close(got, want, dtype):
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype) and got.shape == np.shape(want)
    want = np.asarray(want)
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=0.0)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def _matrices(shape, dtype, spd=False):
    a = RNG.normal(size=shape)
    n = shape[-1]
    a = a @ np.swapaxes(a, -1, -2) + n * np.eye(n) if spd else a + n ** 0.5 * np.eye(n)
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sa, sb", [((5, 5), (5,)), ((5, 5), (5, 3)), ((4, 5, 5), (4, 5, 2)),
                                    ((5, 5), (4, 5, 1)), ((4, 5, 5), (5, 2)),
                                    ((2, 1, 3, 3), (3, 3, 2)), ((1, 1), (1, 1)),
                                    ((3, 14, 14), (3, 14, 2)), ((2, 14, 14), (14, 1))])
def test_solve(on_table, dtype, sa, sb):
    a, b = _matrices(sa, dtype), RNG.normal(size=sb).astype(dtype)
    got = on_table(fnp.linalg.solve, a, b)
    _close(got, np.linalg.solve(a, b), dtype)
    _close(got, fnp.linalg.solve(a, b), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_solve_of_a_transposed_view_and_inv(on_table, dtype):
    a, b = _matrices((4, 6, 6), dtype), RNG.normal(size=(4, 6, 3)).astype(dtype)
    got = on_table(lambda a, b: fnp.linalg.solve(fnp.swapaxes(a, -1, -2)[::2], b[::2] * 2), a, b)
    _close(got, np.linalg.solve(np.swapaxes(a, -1, -2)[::2], b[::2] * 2), dtype)
    got = on_table(lambda a, b: fnp.linalg.solve(a[::-1, ::-1], b[::-1]), a, b)
    _close(got, np.linalg.solve(a[::-1, ::-1], b[::-1]), dtype)
    _close(on_table(fnp.linalg.inv, a), np.linalg.inv(a), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(6, 6), (3, 6, 6), (2, 2, 4, 4), (1, 1), (3, 10, 10)])
def test_cholesky(on_table, dtype, shape):
    a = _matrices(shape, dtype, spd=True)
    got = on_table(dec.cholesky, a)
    _close(got, np.linalg.cholesky(a), dtype)
    assert not np.triu(got, 1).any()  # zeros above the diagonal, as NumPy's
    _close(on_table(lambda a: fnp.linalg.cholesky(a * 2)[..., ::-1, :], a),
           np.linalg.cholesky(a * 2)[..., ::-1, :], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_triangular_solve(on_table, dtype):
    """Every (lower, transpose_a, unit_diagonal), A C-ordered and column-major: one program."""
    low = np.linalg.cholesky(_matrices((5, 5), np.float64, spd=True))
    b = RNG.normal(size=(5, 3)).astype(dtype)
    flags = [(lo, tr, ud) for lo in (True, False) for tr in (True, False) for ud in (True, False)]

    def f(low, b):
        out = []
        for lo, tr, ud in flags:
            a = low if lo else low.T  # (a transposed view: column-major)
            a_c = a * 2.0  # C-ordered
            out += [dec.triangular_solve(a_c, b, lo, tr, ud), dec.triangular_solve(a, b[:, :1], lo, tr, ud)]
        return out

    got = on_table(f, low.astype(dtype), b)
    for (lo, tr, ud), x, y in zip(flags, got[::2], got[1::2]):
        a = (low if lo else low.T).astype(dtype)
        ref = scipy.linalg.solve_triangular(a, b[:, :1], lower=lo, trans=int(tr), unit_diagonal=ud)
        _close(x, scipy.linalg.solve_triangular(a * 2, b, lower=lo, trans=int(tr), unit_diagonal=ud), dtype)
        _close(y, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_triangular_solve_stacked(on_table, dtype):
    a = np.linalg.cholesky(_matrices((3, 4, 4), np.float64, spd=True)).astype(dtype)
    b = RNG.normal(size=(4, 2)).astype(dtype)
    got = on_table(lambda a, b: dec.triangular_solve(a, b, lower=True, transpose_a=True), a, b)
    _close(got, np.stack([scipy.linalg.solve_triangular(m, b, lower=True, trans=1) for m in a]), dtype)
    _close(got, dec.triangular_solve(a, b, lower=True, transpose_a=True), dtype)
    # reversed views: a stack backwards, and each matrix reversed on both axes (upper triangular)
    got = on_table(lambda a, b: dec.triangular_solve(a[::-1, ::-1, ::-1], b, lower=False), a, b)
    want = np.stack([scipy.linalg.solve_triangular(m[::-1, ::-1], b, lower=False) for m in a[::-1]])
    _close(got, want, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4), (2, 3, 1, 1), (0, 0), (2, 0, 0), (4, 14, 14)])
def test_det_and_slogdet(on_table, dtype, shape):
    a = RNG.normal(size=shape).astype(dtype)
    if shape == (4, 14, 14):
        a[1] = np.ones((14, 14))  # singular: 0 and -inf, no error
    d = on_table(fnp.linalg.det, a)
    sign, logdet = on_table(fnp.linalg.slogdet, a)
    want = np.linalg.slogdet(a)  # (NumPy computes float32 in float64)
    assert np.array_equal(sign, want[0])
    _close(logdet, want[1], dtype)
    _close(d, np.linalg.det(a), dtype)
    if dtype == np.float64:  # NumPy's arithmetic exactly (umath_linalg's order)
        assert np.array_equal(logdet, want[1]) and np.array_equal(d, np.linalg.det(a))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_symmetrize(on_table, dtype):
    x = RNG.normal(size=(7, 7)).astype(dtype)
    xs = RNG.normal(size=(2, 3, 5, 5)).astype(dtype)
    sym = (x + x.T) * dtype(0.5)
    x0 = x.copy()
    got = on_table(symmetrize, x)  # an input: never written over
    assert np.array_equal(got, sym) and np.array_equal(got, got.T) and np.array_equal(x, x0)
    assert np.array_equal(on_table(symmetrize, xs), (xs + np.swapaxes(xs, -1, -2)) * dtype(0.5))
    # over its operand (a temporary read by nothing else), and not (read again afterwards)
    h = x * 2
    assert np.array_equal(on_table(lambda x: symmetrize(x * 2), x), (h + h.T) * dtype(0.5))
    assert np.array_equal(on_table(lambda x: symmetrize(x * 2) + x * 2, x), (h + h.T) * dtype(0.5) + h)
    lowered = fa.jit(lambda x: symmetrize(x * 2)).lower(x).source
    assert lowered.count("\nk") == 2  # the product's loop and the pairs' loop: no copy


def test_in_place_symmetrize_keeps_values_read_later(on_table):
    x = RNG.normal(size=(6, 6))

    def f(x):
        h = x * 3.0
        s = symmetrize(h)
        return s, h.T[0]  # a view of h, read after symmetrize

    s, row = on_table(f, x)
    assert np.array_equal(row, (x * 3.0).T[0])
    assert np.array_equal(s, symmetrize(x * 3.0))


def test_mixed_dtypes(on_table):
    a, b = _matrices((4, 4), np.float32), RNG.normal(size=(4, 2))
    want = np.linalg.solve(a.astype(np.float64), b)
    _close(on_table(fnp.linalg.solve, a, b), want, np.float64)  # fnp casts a first: on the table
    dispatch._executables.clear()
    got = fa.jit(la.solve)(a, b)  # the primitive on mixed operands: a host step (table_host.py)
    assert {type(e) for e in dispatch._executables.values()} == {table.TableProgram}
    assert "host[solve]" in fa.jit(la.solve).lower(a, b).source
    _close(got, want, np.float64)


def test_zero_sized(on_table):
    got = on_table(fnp.linalg.solve, np.zeros((3, 0, 0)), np.zeros((3, 0, 2)))
    assert got.shape == (3, 0, 2)
    assert on_table(dec.cholesky, np.zeros((2, 0, 0))).shape == (2, 0, 0)


# -- errors: today's jit's (NumPy's and SciPy's LinAlgError and messages)


def test_singular_solve_raises_and_the_program_runs_again(on_table):
    f = fa.jit(fnp.linalg.solve)
    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
        f(np.ones((3, 3)), np.ones(3))
    assert {type(e) for e in dispatch._executables.values()} == {table.TableProgram}
    a = _matrices((3, 3), np.float64)
    _close(f(a, np.ones(3)), np.linalg.solve(a, np.ones(3)), np.float64)  # the status is per call
    for n in (3, 14):  # loops, LAPACK
        stack = np.stack([np.eye(n), np.ones((n, n)), np.eye(n)])
        with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
            on_table(fnp.linalg.solve, stack, np.ones((3, n, 1)))
    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
        on_table(fnp.linalg.inv, np.zeros((2, 2), np.float32))


def test_not_positive_definite(on_table):
    for a in (-np.eye(3), np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]), -np.stack([np.eye(10)] * 2)):
        with pytest.raises(np.linalg.LinAlgError, match="^Matrix is not positive definite$"):
            on_table(dec.cholesky, a)
    # NaN passes through OpenBLAS's ?potrf (NumPy's and today's jit's result): no error
    for shape in ((2, 2), (3, 2, 2), (2, 10, 10)):
        got = on_table(dec.cholesky, np.full(shape, np.nan))
        assert np.isnan(got[..., 0, 0]).all() and (got[..., 0, 1] == 0).all()


def test_singular_triangular_solve(on_table):
    a = np.tril(np.ones((3, 3)))
    a[1, 1] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match=r"^singular matrix: resolution failed at diagonal 1$"):
        on_table(lambda a, b: dec.triangular_solve(a, b, lower=True), a, np.ones((3, 1)))
    with pytest.raises(np.linalg.LinAlgError, match="resolution failed at diagonal 1"):  # eager
        dec.triangular_solve(a, np.ones((3, 1)), lower=True)
    # a unit diagonal is not read
    got = on_table(lambda a, b: dec.triangular_solve(a, b, lower=True, unit_diagonal=True), a,
                   np.ones((3, 1)))
    np.testing.assert_allclose(got, scipy.linalg.solve_triangular(a, np.ones((3, 1)), lower=True,
                                                                  unit_diagonal=True))


def test_a_failure_stops_the_program_and_raises_numpys_error(on_table):
    def f(a, b):
        x = fnp.linalg.solve(a, b)  # singular: the program stops here (cholesky never runs)
        return dec.cholesky(fnp.outer(x, x) + fnp.eye(2))

    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
        on_table(f, np.ones((2, 2)), np.ones(2))


# -- programs: derivatives, and today's jit


def test_gp_marginal_likelihood_gradient(on_table):
    from benchmarks.compile_programs import adapter, gp

    build, inputs = gp(30)
    S = adapter("funcad")
    S.grad = S.value_and_grad  # the value too: slogdet
    f, args = build(S), inputs()
    got = on_table(f, *args)
    for g, e in zip(got, f(*args), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10)


def test_newton_step_with_cholesky(on_table):
    """A damped Newton step on an L2 logistic loss (value_grad_hessian, symmetrize, solve)
    and the same step through cholesky and two triangular solves."""
    x = RNG.normal(size=(40, 6))
    y = np.where(RNG.uniform(size=40) < 0.5, -1.0, 1.0)
    w = RNG.normal(size=6) * 0.1

    def loss(w):
        return fnp.mean(fa.nn.softplus(-y * (x @ w))) + 0.05 * (w @ w)

    def step(w):
        _, g, h = fa.value_grad_hessian(loss)(w)
        chol = dec.cholesky(h)
        z = dec.triangular_solve(chol, g[:, None], lower=True)
        x = dec.triangular_solve(chol, z, lower=True, transpose_a=True)[:, 0]
        return w - fnp.linalg.solve(h, g), w - x

    got = on_table(step, w)
    for a, b in zip(got, step(w), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got[0], got[1], rtol=1e-12)


def test_gradients_through_the_rules(on_table):
    a = _matrices((4, 4), np.float64, spd=True)
    b = RNG.normal(size=(4, 2))

    def f(a, b):
        chol = dec.cholesky(symmetrize(a))
        x = dec.triangular_solve(chol, b, lower=True)
        return fnp.sum(fnp.linalg.solve(a, b) ** 2) + fnp.sum(fnp.sin(x))

    got = on_table(fa.grad(f, argnums=(0, 1)), a, b)
    want = fa.grad(f, argnums=(0, 1))(a, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10)
    check_grads(f, (a, b), order=1, modes=("rev",))


def test_source_names_the_lapack_calls():
    source = fa.jit(lambda a, b: dec.cholesky(a) @ fnp.linalg.solve(a, b)).lower(np.eye(3), np.eye(3)).source
    assert "?potrf(U) on 1 matrices, n = 3" in source and "?gesv() on 1 matrices, n = 3, k = 3" in source


def test_in_loops(on_table):
    """Inside a scan's body (table_control.py): a value from outside the body is never
    written over (the next iteration reads it), and a failure in an iteration raises."""
    a = _matrices((4, 4), np.float64, spd=True)

    def f(a, b, shifts):
        h = a * 2.0

        def body(x, s):
            return fnp.linalg.solve(symmetrize(h) + s, x) + dec.cholesky(h)[:, 0], x[0]

        return fa.lax.scan(body, b, shifts)

    b, shifts = RNG.normal(size=4), np.arange(3.0)
    got, want = on_table(f, a, b, shifts), f(a, b, shifts)
    for g, w in zip(got, want):
        _close(g, w, np.float64)

    def g(a, b, shifts):
        return fa.lax.scan(lambda x, s: (fnp.linalg.solve(a * (2.0 - s), x), x[0]), b, shifts)

    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
        on_table(g, np.eye(4), b, shifts)  # zero at the third step
