"""Complex linear algebra: values against NumPy, derivatives against finite differences
(check_grads, forward and reverse, second order), gradients against values computed with
JAX 0.10.2 (x64; stored here), vmap against a loop, jit against eager.

Eigenvectors and singular vectors are defined up to a phase per vector: derivatives are
checked through functions that do not depend on it (|v|^2, v diag(w) v^H, u diag(s) v^H).
cholesky and eigh read the lower triangle (as NumPy; JAX symmetrises its input), so their
gradients are compared with JAX's along Hermitian directions, where both are defined.
"""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.test_util import check_grads, check_vmap

rng = np.random.default_rng(1)


def crandn(*shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


M = crandn(3, 3)
H = M @ M.conj().T + 3 * np.eye(3)  # Hermitian positive definite
W = crandn(4, 3)


def _recon_eigh(m, a):
    w, v = m.linalg.eigh(a)
    return (v * w) @ v.conj().T


def _recon_svd(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    return (u * s) @ vh


CASES = {
    "solve": (lambda m, a, b: m.linalg.solve(a, b), (M, W[:3])),
    "solve_vector": (lambda m, a, b: m.linalg.solve(a, b), (M, W[0])),
    "inv": (lambda m, a: m.linalg.inv(a), (M,)),
    "det": (lambda m, a: m.linalg.det(a), (M,)),
    "slogdet_sign": (lambda m, a: m.linalg.slogdet(a)[0], (M,)),
    "slogdet_logabsdet": (lambda m, a: m.linalg.slogdet(a)[1], (M,)),
    "eigvalsh": (lambda m, a: m.linalg.eigvalsh(a), (H,)),
    "eigh_vector_moduli": (lambda m, a: m.abs(m.linalg.eigh(a)[1]) ** 2, (H,)),
    "eigh_reconstruction": (_recon_eigh, (H,)),
    "svdvals": (lambda m, a: m.linalg.svd(a, compute_uv=False), (W,)),
    "svd_vector_moduli": (lambda m, a: m.abs(m.linalg.svd(a, full_matrices=False)[0]) ** 2, (W,)),
    "svd_reconstruction": (_recon_svd, (W,)),
    "svd_wide_rank_one": (lambda m, a: (lambda u, s, vh: u[:, :1] @ vh[:1])(
        *m.linalg.svd(a, full_matrices=False)), (W.T,)),
    "qr_q": (lambda m, a: m.linalg.qr(a)[0], (W,)),
    "qr_r": (lambda m, a: m.linalg.qr(a)[1], (W,)),
    "cholesky": (lambda m, a: m.linalg.cholesky(a), (H,)),
    "pinv": (lambda m, a: m.linalg.pinv(a), (W,)),
    "norm_nuc": (lambda m, a: m.linalg.norm(a, ord="nuc"), (W,)),
    "norm_2": (lambda m, a: m.linalg.norm(a, ord=2), (W,)),
    "norm_fro": (lambda m, a: m.linalg.norm(a, ord="fro"), (W,)),
    "matrix_power": (lambda m, a: m.linalg.matrix_power(a, 3), (M,)),
    "lstsq": (lambda m, a, b: m.linalg.lstsq(a, b, rcond=None)[0], (W, W[:, 0])),
    "multi_dot": (lambda m, a: m.linalg.multi_dot([a, a.T, a]), (W,)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_values_match_numpy_and_derivatives_finite_differences(name):
    f, args = CASES[name]
    out, expected = f(fnp, *args), f(np, *args)
    assert np.asarray(out).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    check_grads(lambda *a: f(fnp, *a), args, order=2)


@pytest.mark.parametrize("name", ["solve", "inv", "slogdet_sign", "eigh_reconstruction", "svdvals",
                                  "qr_r", "cholesky", "norm_nuc"])
def test_vmap_equals_a_loop(name):
    f, args = CASES[name]
    check_vmap(lambda *a: f(fnp, *a), tuple(np.stack([a, 2 * a, a.conj()]) for a in args))


def test_jit_equals_eager_values_and_gradients():
    def loss(a, h, w):
        outs = [fnp.linalg.solve(a, w[:3]), fnp.linalg.slogdet(a)[1], _recon_eigh(fnp, h),
                fnp.linalg.svd(w, compute_uv=False), fnp.linalg.cholesky(h), a @ w.T]
        return sum(fnp.sum(fnp.abs(o) ** 2) for o in outs)

    args = (M, H, W)
    vg = fa.value_and_grad(loss, argnums=(0, 1, 2))
    (v, g), (v_jit, g_jit) = vg(*args), fa.jit(vg)(*args)
    np.testing.assert_allclose(v_jit, v, rtol=1e-12)
    for x, y in zip(g_jit, g):
        np.testing.assert_allclose(x, y, rtol=1e-10)


def test_complex64_linear_algebra_keeps_its_dtypes():
    a = M.astype(np.complex64)
    w, v = fnp.linalg.eigh((a @ a.conj().T).astype(np.complex64))
    assert w.dtype == np.float32 and v.dtype == np.complex64
    assert fnp.linalg.svd(a, compute_uv=False).dtype == np.float32
    assert fnp.linalg.slogdet(a)[1].dtype == np.float32
    assert fa.grad(lambda a: fnp.linalg.norm(a, "nuc"))(a).dtype == np.complex64


# --------------------------------------------------------------------------------------
# JAX's values (jax 0.10.2, x64), at A below

A = np.array([[2 + 1j, 0.5 - 0.3j], [0.1 + 0.2j, 1.5 - 0.7j]])
HA = A @ A.conj().T + np.eye(2)


def test_gradients_equal_jaxs():
    np.testing.assert_allclose(fa.grad(lambda a: fnp.abs(fnp.linalg.det(a)) ** 2)(A),
                               [[10.728 - 5.116j, -0.73 - 1.43j], [-3.572 + 2.184j, 14.42 + 7.06j]])
    np.testing.assert_allclose(
        fa.grad(lambda a: fnp.real(fnp.trace(fnp.linalg.inv(a))))(A),
        [[-0.14243259 + 0.1599013j, 0.02344318 + 0.05625352j],
         [0.14157051 - 0.07220298j, -0.2465345 - 0.3116966j]], rtol=1e-7)
    svd_grad = [[0.8929845845864802 - 0.4376651338437267j, 0.10180153070412032 + 0.02577228462441827j],
                [-0.10158261663350321 + 0.02662206427673686j, 0.8966106479446945 + 0.4301878469735422j]]
    np.testing.assert_allclose(fa.grad(lambda a: fnp.sum(fnp.linalg.svd(a, compute_uv=False)))(A), svd_grad)
    np.testing.assert_allclose(fa.grad(lambda a: fnp.linalg.norm(a, "nuc"))(A), svd_grad)
    np.testing.assert_allclose(
        fa.grad(lambda a: fnp.linalg.slogdet(a)[1])(A),
        [[0.41616882613080913 - 0.198463806346497j, -0.02831872139033284 - 0.05547365970983009j],
         [-0.13856777096749165 + 0.0847234075568314j, 0.5593917293816432 + 0.2738769493366436j]])
    np.testing.assert_allclose(
        fa.grad(lambda a: fnp.real(fnp.linalg.slogdet(a)[0] * (1 - 2j)))(A),
        [[-0.39525534030671483 - 0.8288309794391002j, -0.1104798937917518 + 0.05639882690068449j],
         [0.16873292870013 + 0.27596795847841776j, 0.5454461889299075 - 1.1140699779559866j]])
    np.testing.assert_allclose(
        fa.grad(lambda a: fnp.sum(fnp.abs(fnp.linalg.qr(a)[1]) ** 2 * np.array([[1.0, 2.0], [3.0, 4.0]])))(A),
        [[4.205501421429269 - 2.0045328889324576j, 1.7108910891089102 + 0.6336633663366323j],
         [-1.4168140378394274 + 0.8692716400352908j, 11.710891089108912 + 5.596039603960397j]])
    ga, gb = fa.grad(lambda a, b: fnp.abs(fnp.linalg.solve(a, b)[0]) ** 2, argnums=(0, 1))(
        A, np.array([1 + 1j, 2 - 0.5j]))
    np.testing.assert_allclose(ga, [[-0.29350412208309845 + 0.1399671037077863j,
                                     -0.2709739174925809 + 0.6559279670077085j],
                                    [0.09772527256532695 - 0.05975139845539588j,
                                     0.07100078981463748 - 0.23970373725425478j]])
    np.testing.assert_allclose(gb, [0.1349988362169292 - 0.5306850803010319j,
                                    -0.02793079370005431 + 0.19086042361703776j])


def test_holomorphic_determinant_and_inverse_equal_jaxs():
    np.testing.assert_allclose(fa.grad(fnp.linalg.det, holomorphic=True)(A),
                               [[1.5 - 0.7j, -0.1 - 0.2j], [-0.5 + 0.3j, 2.0 + 1.0j]])
    np.testing.assert_allclose(
        fa.jacrev(lambda a: fnp.linalg.inv(a)[0, 1], holomorphic=True)(A),
        [[0.04085305663272949 - 0.06275992833188666j, -0.2871560611999588 - 0.00296003665788758j],
         [-0.01202297136285826 + 0.02347986746784092j, 0.10071745343713472 - 0.00944305508336634j]])
    np.testing.assert_allclose(fa.jacfwd(lambda a: fnp.linalg.inv(a)[0, 1], holomorphic=True)(A),
                               fa.jacrev(lambda a: fnp.linalg.inv(a)[0, 1], holomorphic=True)(A))


def _along_hermitian(g, directions):
    """The directional derivatives Re(sum(g * d)) of a gradient g along Hermitian d."""
    return [np.real(np.sum(g * d)) for d in directions]


@pytest.mark.parametrize("fun, jax_grad", [
    (lambda h: fnp.sum(fnp.linalg.eigh(h)[0] * np.array([1.0, 2.0])),
     [[1.83436017 + 0j, 0.35665085 + 0.10489731j], [0.35665085 - 0.10489731j, 1.16563983 + 0j]]),
    (lambda h: fnp.sum(fnp.abs(fnp.linalg.eigh(h)[1]) ** 4),
     [[0.1938908051062342, -0.1673002866511791 - 0.0492059666621115j],
      [-0.1673002866511791 + 0.0492059666621115j, -0.19389080510623544]]),
    (lambda h: fnp.real(fnp.sum(fnp.linalg.cholesky(h) * np.array([[1.0, 0], [2 - 1j, 3.0]]))),
     [[0.14109468320357027, 0.22449272074803403 + 0.14779359868363887j],
      [0.22449272074803403 - 0.14779359868363887j, 0.8048910388678665]]),
])
def test_hermitian_gradients_agree_with_jax_along_hermitian_directions(fun, jax_grad):
    directions = [d + d.conj().T for d in (crandn(2, 2) for _ in range(4))]
    g = fa.grad(fun)(HA)
    np.testing.assert_allclose(_along_hermitian(g, directions),
                               _along_hermitian(np.asarray(jax_grad), directions), rtol=1e-7, atol=1e-9)
