"""Many small dense solves under vmap: one primitive on the stacked array (eagerly one NumPy/LAPACK
call; under jit LAPACK per matrix, backend/table_linalg.py), right answers and NumPy's errors."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp


@pytest.fixture
def spd_stack(rng):
    M = rng.normal(size=(500, 3, 3))
    return M @ np.swapaxes(M, 1, 2) + 3 * np.eye(3), rng.normal(size=(500, 3))


@pytest.mark.parametrize("name", ["solve", "cholesky", "inv"])
def test_vmap_small_linalg_is_one_stacked_call(spd_stack, name):
    A, b = spd_stack
    f = {"solve": fnp.linalg.solve, "cholesky": fnp.linalg.cholesky, "inv": fnp.linalg.inv}[name]
    args = (A, b) if name == "solve" else (A,)
    jaxpr = fa.make_jaxpr(fa.vmap(f))(*args)
    linalg_eqns = [e for e in jaxpr.eqns if e.prim.name in ("solve", "cholesky")]
    assert len(linalg_eqns) == 1, jaxpr
    assert linalg_eqns[0].inputs[0].aval.shape == (500, 3, 3)  # the whole stack, one call
    out = fa.vmap(f)(*args)
    ref = np.stack([{"solve": lambda a, v: np.linalg.solve(a, v), "cholesky": np.linalg.cholesky,
                     "inv": np.linalg.inv}[name](*(x[i] for x in args)) for i in range(len(A))])
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


# --------------------------------------------------------------------------------------
# jit: batched solve/cholesky/inv call LAPACK per matrix (backend/table_linalg.py); small and
# larger n must agree with NumPy and raise where NumPy raises.

_OPS = {"solve": fnp.linalg.solve, "cholesky": fnp.linalg.cholesky, "inv": fnp.linalg.inv}


def _np_ref(name, A, b=None):
    if name == "solve":
        return np.linalg.solve(A, b[..., None])[..., 0]
    return {"cholesky": np.linalg.cholesky, "inv": np.linalg.inv}[name](A)


def _spd(rng, N, n, dtype):
    M = rng.normal(size=(N, n, n))
    return (M @ np.swapaxes(M, 1, 2) + n * np.eye(n)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["solve", "cholesky", "inv"])
def test_jit_vmap_small_linalg_matches_numpy(rng, name, dtype):
    f = fa.jit(fa.vmap(_OPS[name]))
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-5)
    for n in (1, 2, 3, 5, 8, 12, 13, 20):
        A = _spd(rng, 37, n, dtype)
        if name != "cholesky":  # not symmetric, pivoting needed
            A = A + rng.normal(size=A.shape).astype(dtype)
            if n > 1:
                A[:, 0, 0] = 0  # the first pivot must come from another row
            A = A + n * np.eye(n, dtype=dtype) * (np.arange(n) > 0)
        b = rng.normal(size=(37, n)).astype(dtype)
        args = (A, b) if name == "solve" else (A,)
        out = f(*args)
        assert out.dtype == dtype
        ref = _np_ref(name, *args)
        np.testing.assert_allclose(out, ref, **tol, err_msg=f"n = {n}")


def test_jit_vmap_solve_several_right_hand_sides(rng):
    A = _spd(rng, 20, 4, np.float64) + rng.normal(size=(20, 4, 4))
    B = rng.normal(size=(20, 4, 3))
    np.testing.assert_allclose(fa.jit(fa.vmap(fnp.linalg.solve))(A, B), np.linalg.solve(A, B),
                               rtol=1e-12, atol=1e-13)
    # One matrix for every right-hand side, and one right-hand side for every matrix.
    np.testing.assert_allclose(fa.jit(fa.vmap(fnp.linalg.solve, in_axes=(None, 0)))(A[0], B),
                               np.linalg.solve(A[0], B), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(fa.jit(fa.vmap(fnp.linalg.solve, in_axes=(0, None)))(A, B[0]),
                               np.linalg.solve(A, B[0]), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("n", [3, 20])
@pytest.mark.parametrize("name", ["solve", "inv"])
def test_jit_vmap_singular_matrix_raises_like_numpy(rng, name, n):
    A = _spd(rng, 10, n, np.float64)
    A[6, 1] = A[6, 0]  # two equal rows: an exactly zero pivot
    b = rng.normal(size=(10, n))
    args = (A, b) if name == "solve" else (A,)
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        _np_ref(name, *args)
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        fa.jit(fa.vmap(_OPS[name]))(*args)


@pytest.mark.parametrize("n", [3, 20])
def test_jit_vmap_cholesky_not_positive_definite_raises_like_numpy(rng, n):
    A = _spd(rng, 10, n, np.float64)
    A[4] = -A[4]
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        np.linalg.cholesky(A)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        fa.jit(fa.vmap(fnp.linalg.cholesky))(A)
    A[4] = -A[4]
    for pos in [(7, 2, 2), (8, 0, 0), (9, 1, 0)]:  # a NaN propagates (NumPy's OpenBLAS potrf)
        A[pos] = np.nan
    out, ref = fa.jit(fa.vmap(fnp.linalg.cholesky))(A), np.linalg.cholesky(A)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)


def test_jit_vmap_cholesky_reads_the_lower_triangle(rng):
    A = _spd(rng, 10, 3, np.float64)
    A[:, 0, 2] = 1e6  # junk above the diagonal, ignored as by NumPy
    np.testing.assert_allclose(fa.jit(fa.vmap(fnp.linalg.cholesky))(A), np.linalg.cholesky(A),
                               rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["solve", "cholesky", "inv"])
def test_jit_vmap_small_linalg_empty_batch(name):
    A, b = np.zeros((0, 3, 3)), np.zeros((0, 3))
    args = (A, b) if name == "solve" else (A,)
    out = fa.jit(fa.vmap(_OPS[name]))(*args)
    assert out.shape == _np_ref(name, *args).shape


@pytest.mark.parametrize("name", ["solve", "cholesky", "inv"])
def test_jit_grad_through_batched_small_linalg(rng, name):
    A = _spd(rng, 25, 3, np.float64)
    if name != "cholesky":
        A = A + 0.5 * rng.normal(size=A.shape)
    b, w = rng.normal(size=(25, 3)), rng.normal(size=(25, 3, 3))
    if name == "solve":
        def loss(A, b):
            return fnp.sum(fa.vmap(fnp.linalg.solve)(A, b) * w[:, 0])
        args, argnums = (A, b), (0, 1)
    else:
        def loss(A):
            return fnp.sum(fa.vmap(_OPS[name])(A) * w)
        args, argnums = (A,), 0
    eager = fa.grad(loss, argnums=argnums)(*args)
    jitted = fa.jit(fa.grad(loss, argnums=argnums))(*args)
    for e, j in zip(*(x if isinstance(x, tuple) else (x,) for x in (eager, jitted))):
        np.testing.assert_allclose(j, e, rtol=1e-11, atol=1e-12)
