"""funcad.numpy.linalg and funcad.scipy.linalg: values equal NumPy/SciPy's (batched too),
derivatives pass check_grads to second order, and Newton's method on a log-determinant
has the exact Hessian."""

import numpy as np
import pytest
import scipy.linalg as sla

import funcad as fa
import funcad.numpy as fnp
import funcad.scipy.linalg as fsl
from funcad import errors
from funcad.test_util import check_grads, check_vmap

L = fnp.linalg
rng = np.random.default_rng(3)
A = rng.standard_normal((3, 3)) + 3 * np.eye(3)
AB = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
TALL = rng.standard_normal((4, 3))
WIDE = TALL.T.copy()
SPD = A @ A.T + np.eye(3)


def assert_same(actual, expected, rtol=1e-11):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-12)


def sym(x):
    return x + np.swapaxes(x, -1, -2) if isinstance(x, np.ndarray) else x + fnp.swapaxes(x, -1, -2)


VALUES = {
    "inv": (lambda m, x: m.linalg.inv(x), [A, AB]),
    "det": (lambda m, x: m.linalg.det(x), [A, AB]),
    "slogdet": (lambda m, x: tuple(m.linalg.slogdet(x)), [A, AB, -A]),
    "cholesky": (lambda m, x: m.linalg.cholesky(x), [SPD, AB @ np.swapaxes(AB, -1, -2)]),
    "cholesky_upper": (lambda m, x: m.linalg.cholesky(x, upper=True), [SPD]),
    "eigvalsh": (lambda m, x: m.linalg.eigvalsh(x), [SPD, sym(AB)]),
    "eigvalsh_U": (lambda m, x: m.linalg.eigvalsh(x, "U"), [A]),
    "qr": (lambda m, x: tuple(m.linalg.qr(x)), [A, TALL, WIDE, AB]),
    "qr_r": (lambda m, x: m.linalg.qr(x, mode="r"), [TALL, WIDE]),
    "qr_complete": (lambda m, x: tuple(m.linalg.qr(x, mode="complete")), [WIDE, A]),
    "svd": (lambda m, x: tuple(m.linalg.svd(x, full_matrices=False)), [A, TALL, WIDE, AB]),
    "svdvals": (lambda m, x: m.linalg.svd(x, compute_uv=False), [A, TALL, WIDE, AB]),
    "pinv": (lambda m, x: m.linalg.pinv(x), [A, TALL, WIDE, AB, np.outer(TALL[:, 0], WIDE[0])]),
    "matrix_power": (lambda m, x: [m.linalg.matrix_power(x, n) for n in (-3, -1, 0, 1, 2, 3, 5, 8)], [A, AB]),
    "solve": (lambda m, x: m.linalg.solve(x, np.arange(3.0)), [A]),
    "multi_dot": (lambda m, x: m.linalg.multi_dot([x, x.T, x]), [A, TALL]),
    "matrix_rank": (lambda m, x: m.linalg.matrix_rank(x), [A, np.outer(TALL[:, 0], WIDE[0])]),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_match_numpy(name):
    f, inputs = VALUES[name]
    for x in inputs:
        got, want = f(fnp, x), f(np, x)
        if isinstance(want, (tuple, list)):
            for g, w in zip(got, want):
                assert_same(g, w)
        else:
            assert_same(got, want)


def test_eigh_and_full_svd_values():
    w, v = L.eigh(SPD)
    ew, ev = np.linalg.eigh(SPD)
    assert_same(w, ew)
    assert_same(np.abs(v), np.abs(ev))  # columns are defined up to sign
    for x in (TALL, WIDE):
        for g, e in zip(L.svd(x), np.linalg.svd(x)):
            assert_same(g, e)
    with pytest.raises(errors.ShapeError, match="full_matrices=False"):
        fa.grad(lambda x: fnp.sum(L.svd(x)[0]))(TALL)


ORDS_VEC = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1]
ORDS_MAT = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", ORDS_VEC)
def test_vector_norms(ord):
    x = TALL[:, 0]
    assert_same(L.norm(x, ord), np.linalg.norm(x, ord))
    assert_same(L.norm(TALL, ord, axis=0, keepdims=True), np.linalg.norm(TALL, ord, axis=0, keepdims=True))
    assert_same(L.norm(AB, ord, axis=-1), np.linalg.norm(AB, ord, axis=-1))
    if ord != 0:
        check_grads(lambda x: L.norm(x, ord, axis=1), (TALL,), order=2)


@pytest.mark.parametrize("ord", ORDS_MAT)
def test_matrix_norms(ord):
    assert_same(L.norm(TALL, ord), np.linalg.norm(TALL, ord))
    assert_same(L.norm(AB, ord, axis=(2, 0), keepdims=True), np.linalg.norm(AB, ord, axis=(2, 0), keepdims=True))
    check_grads(lambda x: L.norm(x, ord, axis=(-2, -1)), (AB,), order=2)


def test_norm_edge_cases_and_subgradient_at_zero():
    assert_same(L.norm(AB), np.linalg.norm(AB))
    assert_same(L.norm(AB, keepdims=True), np.linalg.norm(AB, keepdims=True))
    assert_same(L.norm(np.zeros((0,))), np.linalg.norm(np.zeros((0,))))
    assert_same(L.vector_norm(AB, axis=(0, 2), ord=3), np.linalg.vector_norm(AB, axis=(0, 2), ord=3))
    assert_same(L.matrix_norm(AB, ord="nuc"), np.linalg.matrix_norm(AB, ord="nuc"))
    np.testing.assert_array_equal(fa.grad(L.norm)(np.zeros(3)), np.zeros(3))
    np.testing.assert_array_equal(fa.grad(lambda x: L.norm(x, 3))(np.zeros(3)), np.zeros(3))
    np.testing.assert_allclose(fa.grad(lambda x: L.norm(x, np.inf))(np.array([1.0, -3.0, 3.0])), [0, -0.5, 0.5])
    with pytest.raises(ValueError):
        L.norm(AB, 2)


DERIVS = {
    "inv": (L.inv, [A, AB]),
    "det": (L.det, [A, AB]),
    "slogdet": (lambda x: L.slogdet(x)[1], [A, -A, AB]),
    "cholesky": (lambda x: L.cholesky(sym(x) + 8 * np.eye(3)), [A, AB]),
    "eigh": (lambda x: tuple(L.eigh(sym(x))), [A, AB]),
    "qr": (lambda x: tuple(L.qr(x)), [A, TALL, WIDE, AB]),
    "svd": (lambda x: tuple(L.svd(x, full_matrices=False)), [A, TALL, WIDE, AB]),
    "pinv": (L.pinv, [A, TALL, WIDE]),
    "matrix_power": (lambda x: (L.matrix_power(x, 3), L.matrix_power(x, -2), L.matrix_power(x, 6)), [A]),
    "lstsq": (lambda x: L.lstsq(x, np.arange(4.0))[:2], [TALL]),
    "lstsq_b": (lambda b: L.lstsq(TALL, b)[:2], [np.arange(8.0).reshape(4, 2)]),
    "solve": (lambda x: L.solve(x, x[:, ::-1]), [A]),
}


@pytest.mark.parametrize("name", sorted(DERIVS))
def test_derivatives(name):
    f, inputs = DERIVS[name]
    for x in inputs:
        check_grads(f, (x,), order=2)


def test_lstsq_values():
    b = np.arange(4.0)
    for got, want in zip(L.lstsq(TALL, b), np.linalg.lstsq(TALL, b)):
        assert_same(got, want)
    b2 = np.arange(8.0).reshape(4, 2)
    for got, want in zip(L.lstsq(TALL, b2), np.linalg.lstsq(TALL, b2)):
        assert_same(got, want)
    deficient = np.outer(TALL[:, 0], WIDE[0])
    for got, want in zip(L.lstsq(deficient, b), np.linalg.lstsq(deficient, b)):
        assert_same(got, want)
    for got, want in zip(L.lstsq(WIDE, b[:3]), np.linalg.lstsq(WIDE, b[:3])):
        assert_same(got, want)


def test_newton_on_log_determinant():
    # f(X) = -logdet(X) + tr(S X) is minimised at X = S^{-1}; its Hessian is X^-1 (.) X^-1.
    S = SPD / 10
    f = lambda x: -L.slogdet(x)[1] + fnp.sum(S * x)  # noqa: E731
    x = A @ A.T / 10
    H = fa.hessian(f)(x)
    xinv = np.linalg.inv(x)
    np.testing.assert_allclose(H, np.einsum("li,jk->ijkl", xinv, xinv), rtol=1e-10, atol=1e-12)
    x = np.eye(3) / np.linalg.eigvalsh(S).max()  # inside Newton's region of convergence
    for _ in range(12):
        g = fa.grad(f)(x)
        H = fa.hessian(f)(x).reshape(9, 9)
        x = x - np.linalg.solve(H, g.ravel()).reshape(3, 3)
    np.testing.assert_allclose(x, np.linalg.inv(S), rtol=1e-9)


def test_det_gradient_is_cofactor():
    np.testing.assert_allclose(fa.grad(L.det)(A), np.linalg.det(A) * np.linalg.inv(A).T, rtol=1e-12)


def test_eigenvector_coupling_at_repeated_eigenvalues_is_zero():
    # At the identity every eigenvalue is repeated: the documented convention is
    # w_dot = diag(V^T dA V) for NumPy's V (here I) and finite eigenvector derivatives.
    t = rng.standard_normal((3, 3))
    w_dot = fa.jvp(lambda x: L.eigh(x)[0], (np.eye(3),), (sym(t),))[1]
    np.testing.assert_allclose(w_dot, np.diag(sym(t)), atol=1e-12)
    v_dot = fa.jvp(lambda x: L.eigh(x)[1], (np.eye(3),), (sym(t),))[1]
    assert np.all(np.isfinite(v_dot))


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh", "qr", "svd", "pinv"])
def test_vmap_matches_loop(name):
    f, inputs = DERIVS[name]
    check_vmap(f, (AB,), in_axes=0)
    check_vmap(fa.grad(lambda x: fnp.sum(fa.tree_util.tree_flatten(f(x))[0][0])), (AB,))


def test_errors():
    with pytest.raises(L.LinAlgError):
        L.inv(TALL)
    with pytest.raises(L.LinAlgError):
        L.det(np.ones(3))
    with pytest.raises(np.linalg.LinAlgError):
        L.cholesky(-SPD)
    with pytest.raises(errors.DTypeError, match="complex"):
        fa.grad(lambda x: L.det(x))(A.astype(complex))


# --------------------------------------------------------------------------------------
# funcad.scipy.linalg


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, "T"])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(lower, trans, unit):
    a = np.tril(A) if lower else np.triu(A)
    a_noise = a + (np.triu(TALL[:3], 1) if lower else np.tril(TALL[:3], -1))  # other triangle ignored
    for b in (TALL[:3, 0], TALL[:3, :2]):
        want = sla.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
        assert_same(fsl.solve_triangular(a_noise, b, trans=trans, lower=lower, unit_diagonal=unit), want)
    check_grads(lambda a, b: fsl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit),
                (a_noise, TALL[:3, :2]), order=2)


@pytest.mark.parametrize("lower", [True, False])
def test_cho_solve_and_factor(lower):
    c, low = fsl.cho_factor(SPD, lower=lower)
    b = TALL[:3]
    assert_same(fsl.cho_solve((c, low), b), sla.cho_solve(sla.cho_factor(SPD, lower=lower), b))
    assert_same(fsl.cho_solve((c, low), b[:, 0]), np.linalg.solve(SPD, b[:, 0]))
    assert_same(fsl.cholesky(SPD, lower=lower), sla.cholesky(SPD, lower=lower))
    check_grads(lambda c, b: fsl.cho_solve((c, lower), b), (np.asarray(c), b), order=2)
    check_grads(lambda x, b: fsl.cho_solve(fsl.cho_factor(sym(x) + 8 * np.eye(3), lower=lower), b), (A, b), order=2)
