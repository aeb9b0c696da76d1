"""Many small dense solves under vmap: one NumPy/LAPACK call on the stacked array, right answers."""

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
