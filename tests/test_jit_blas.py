"""jit's direct BLAS/LAPACK calls (the table backend's ?gemm and LAPACK kernels): matmul
through ?gemm with explicit layouts, solve through ?gesv. Every operand layout the generated code can meet -
C and F order, transposed views, strided and reversed slices, broadcast views, unit and empty
dimensions, float32 - must give the eager result; a singular solve raises as NumPy does.
"""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp


def _close(a, b, dtype):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    rtol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-6
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_every_layout(dtype):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 5)).astype(dtype)
    b = rng.normal(size=(5, 6)).astype(dtype)
    c = rng.normal(size=(12, 10)).astype(dtype)
    d = rng.normal(size=(6, 5)).astype(dtype)

    def program(a, b, c, d):
        return (
            a @ b,                      # C x C
            a @ d.T,                    # C x F
            d.T.T @ a.T,                # C x F (transpose of a transpose simplified away)
            b.T @ a.T,                  # F x F
            b.T @ d.T,                  # F x F
            c[::2, ::2][:, :5] @ b,     # strided slice (copied by matmul_into)
            c[::-1, :5][:7] @ b,        # reversed rows
            a[:, :1] @ b[:1, :],        # unit inner dimension
            a[:1, :] @ b,               # one row
            a @ b[:, :1],               # one column
            fnp.broadcast_to(b[:1, :], (5, 6)) @ b.T,  # a broadcast (stride 0) operand
        )

    got = fa.jit(program)(a, b, c, d)
    want = program(a, b, c, d)
    for g, w in zip(got, want):
        _close(g, w, dtype)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_matmul_input_layouts(layout):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(9, 4))
    w = rng.normal(size=(4, 3))
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = rng.normal(size=(18, 8))[::2, ::2]
    f = lambda x, w: fnp.tanh(x @ w).sum()
    _close(fa.jit(f)(x, w), f(x, w), np.float64)
    g = fa.grad(f, argnums=(0, 1))
    for u, v in zip(fa.jit(g)(x, w), g(x, w)):
        _close(u, v, np.float64)


def test_matmul_empty_and_batched():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4, 5))
    b = rng.normal(size=(5, 2))
    f = lambda a, b: (a @ b, fnp.swapaxes(a, 1, 2) @ a, a[:, :0, :] @ b, a[:, :, :0] @ b[:0, :])
    for g, w in zip(fa.jit(f)(a, b), f(a, b)):
        _close(g, w, np.float64)
    # an F-ordered 3-D input: its per-batch matrices have no unit stride
    af = np.asfortranarray(a)
    for g, w in zip(fa.jit(f)(af, b), f(af, b)):
        _close(g, w, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_solve(dtype):
    rng = np.random.default_rng(3)
    m = (rng.normal(size=(6, 6)) + 6 * np.eye(6)).astype(dtype)
    b = rng.normal(size=(6, 3)).astype(dtype)
    f = lambda m, b: (fnp.linalg.solve(m, b), fnp.linalg.solve(m.T, b[:, :1]),
                      fnp.linalg.solve(m[::-1, ::-1], b))
    for g, w in zip(fa.jit(f)(m, b), f(m, b)):
        _close(g, w, dtype)


def test_solve_singular_raises_like_numpy():
    f = fa.jit(lambda m, b: fnp.linalg.solve(m, b))
    with pytest.raises(np.linalg.LinAlgError):
        f(np.zeros((3, 3)), np.ones((3, 2)))


def test_products_and_solves_call_blas_and_lapack_not_numpy(on_table):
    x, w = np.ones((4, 3)), np.ones((3, 2))
    f = lambda x, w: (x @ w, fnp.linalg.solve(w.T @ w + fnp.eye(2), w.T))  # noqa: E731
    got, program = on_table.run(f, x, w)
    for g, e in zip(got, f(x, w), strict=True):
        _close(g, e, np.float64)
    src = program.source
    assert "host[" not in src  # no step calls back into NumPy
    assert src.count("(?gemm, float64)") == 2 and "?gesv()" in src


def test_compile_time_rewrites_keep_results():
    """simplify's rewrites that spare the backend work: an outer product (inner size 1) is a
    broadcast multiply, a transpose of a unit-axis reshape a reshape/2-D transpose, a
    full-slice index the identity. Results equal eager; the program has no rank-3 transpose."""
    from funcad.backend.dispatch import lower_jaxpr
    from funcad.lax import linalg as la
    from funcad.lax import shapes as sh

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 1)), rng.normal(size=(1, 4))
    m = rng.normal(size=(3, 4))

    def f(x, y, m):
        t = fnp.transpose(fnp.reshape(m, (3, 1, 4)), (2, 1, 0))   # (4, 1, 3)
        u = fnp.transpose(fnp.reshape(m, (3, 4, 1)), (0, 2, 1))   # (3, 1, 4)
        return x @ y, t, u, m[:, 0:4], fnp.reshape(t, (4, 3)) @ m

    for g, w in zip(fa.jit(f)(x, y, m), f(x, y, m)):
        _close(g, w, np.float64)
    jaxpr = fa.make_jaxpr(f)(x, y, m).jaxpr
    simplified, _ = lower_jaxpr(jaxpr)
    prims = [e.prim for e in simplified.eqns]
    assert sum(p is la.matmul_p for p in prims) == 1
    assert sh.index_p not in prims
    assert all(e.inputs[0].aval.ndim == 2 for e in simplified.eqns if e.prim is sh.transpose_p)
    # hessian programs: the Newton step has no rank-3 transposes left
    def loss(w, x, y):
        return fnp.mean(fa.nn.softplus(-y * (x @ w))) + 0.5e-2 * (w @ w)

    w, X, Y = rng.normal(size=4), rng.normal(size=(10, 4)), np.sign(rng.normal(size=10))
    step = lambda w, x, y: w - fnp.linalg.solve(fa.hessian(loss)(w, x, y), fa.grad(loss)(w, x, y))
    _close(fa.jit(step)(w, X, Y), step(w, X, Y), np.float64)
    simplified, _ = lower_jaxpr(fa.make_jaxpr(step)(w, X, Y).jaxpr)
    assert all(e.inputs[0].aval.ndim == 2 for e in simplified.eqns if e.prim is sh.transpose_p)


@pytest.mark.parametrize("shape", [(7, 5), (1, 5), (7, 1), (4, 3, 2), (0, 3)])
def test_row_groups_equal_eager(shape):
    """codegen's row groups (consecutive kernels sharing their outer loop): row-local reads
    join a group; reads of a reduction over the rows (column sums, totals) must not."""
    rng = np.random.default_rng(5)
    z = rng.normal(size=shape)

    def f(z):
        m = fnp.max(z, axis=-1, keepdims=True)
        e = fnp.exp(z - m)
        p = e / fnp.sum(e, axis=-1, keepdims=True)
        c = fnp.sum(p, axis=0)              # over the rows
        t = fnp.sum(z)                      # over everything
        q = fnp.log(p + 1.0) * c - z / (t + 100.0)
        return p, c, q, fnp.sum(q * q, axis=-1), fa.nn.logsumexp(q, axis=-1)

    for g, w in zip(fa.jit(f)(z), f(z)):
        _close(g, w, np.float64)
    g = fa.value_and_grad(lambda z: fnp.sum(f(z)[2] ** 2))
    for u, v in zip(fa.jit(g)(z), g(z)):
        _close(u, v, np.float64)


def test_row_group_values_one_per_row_stay_scalars(on_table):
    """A row group's per-row values that nothing after the group reads (the softmax's row max
    and row sum, log-sum-exp) are locals of the group's loop, not arrays; what later code reads
    (the outputs) is still stored. Results equal eager."""
    from funcad.backend import table

    rng = np.random.default_rng(6)
    z, y = rng.normal(size=(6, 4)), np.eye(4)[rng.integers(0, 4, 6)]

    def f(z, y):
        return -fnp.sum(y * fa.nn.log_softmax(z, axis=-1)) / 6.0

    g = fa.value_and_grad(f)
    got, program = on_table.run(g, z, y)
    for u, v in zip(got, g(z, y), strict=True):
        _close(u, v, np.float64)
    shapes = [b[1] for b in table.Plan(*program._plan_args).buffers if isinstance(b, tuple)]
    assert (6, 4) in shapes and not [s for s in shapes if s in ((6,), (6, 1))], shapes

    # a per-row value read after the group (an output) is stored
    h = lambda z: (fa.nn.logsumexp(z, axis=-1), fnp.exp(z - fnp.max(z, axis=-1, keepdims=True)))
    for u, v in zip(fa.jit(h)(z), h(z)):
        _close(u, v, np.float64)


@pytest.mark.parametrize("shape", [(2**31, 2**31), (2**61, 4), (2**40, 2**20), (2**20, 2**20)])
def test_an_allocation_too_large_raises_as_numpy_does(shape):
    """A result (or intermediate) whose byte size overflows or that the allocator refuses
    raises NumPy's error for it (MemoryError, or ValueError "too big"), as eagerly: never a
    short buffer."""
    f = lambda x: x * fnp.ones(shape)  # noqa: E731
    with pytest.raises((MemoryError, ValueError)) as eager:
        f(np.float64(2.0))
    with pytest.raises(type(eager.value)):
        fa.jit(f)(np.float64(2.0))


_BLAS_CHILD = """
import json, numpy as np, funcad as fa, funcad.numpy as fnp
from funcad.backend import table, table_engine
rng = np.random.default_rng(7)
a, b = rng.normal(size=(6, 5)), rng.normal(size=(5, 4))
s = a.T @ a + np.eye(5)
f = fa.jit(lambda a, b, s: (a @ b, fnp.linalg.solve(s, b), fnp.linalg.cholesky(s)))
got = f(a, b, s)
want = (a @ b, np.linalg.solve(s, b), np.linalg.cholesky(s))
print(json.dumps({"bits": table_engine._BLAS_INT_BITS, "key": table_engine._host(),
                  "close": all(bool(np.allclose(g, w, rtol=1e-12, atol=1e-12)) for g, w in zip(got, want))}))
"""


def _blas_child(tmp_path, **env):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "FUNCAD_CACHE_DIR": str(tmp_path / "cache"), **env}
    out = subprocess.run([sys.executable, "-c", _BLAS_CHILD], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_blas_library_choice(tmp_path):
    """jit calls NumPy's own BLAS/LAPACK (one thread pool with NumPy's products) when NumPy is
    the wheel with scipy-openblas64 (ILP64), SciPy's otherwise or with FUNCAD_BLAS=scipy. Both
    give NumPy's results; the choice is part of the disk cache's key (the integer width is
    compiled into programs), so one never loads the other's programs."""
    default = _blas_child(tmp_path)
    scipy_blas = _blas_child(tmp_path, FUNCAD_BLAS="scipy")
    assert default["close"] and scipy_blas["close"]
    assert scipy_blas["bits"] == 32 and default["key"] != scipy_blas["key"]
    blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
    if blas.get("name") == "scipy-openblas" and "USE64BITINT" in str(blas.get("openblas configuration")):
        assert default["bits"] == 64


def test_results_around_4_mib_equal_eager():
    """Results allocated by NumPy (which madvises arrays of 4 MiB or more for huge pages):
    equal to eager at that size and around it, aligned or not."""
    rng = np.random.default_rng(8)
    f = lambda x, d: x[:, :, None] * d[:, None, :]
    for n in (2047, 2048, 2049, 4096 + 3):  # 8 * 256 * n bytes: below, at and above 4 MiB
        x, d = rng.normal(size=(2, n)), rng.normal(size=(2, 128))
        np.testing.assert_array_equal(fa.jit(f)(x, d), f(x, d))


def test_batched_outer_products_are_broadcast_multiplies():
    """A matmul with inner size 1, batched (per-example gradients are batches of outer
    products), is a broadcast multiply after simplify, batch axes broadcast as matmul's do;
    results equal eager exactly (one product per element either way)."""
    from funcad.backend.dispatch import lower_jaxpr
    from funcad.lax import linalg as la

    rng = np.random.default_rng(9)
    cases = [((4, 5, 1), (4, 1, 3)), ((5, 1), (4, 1, 3)), ((2, 1, 5, 1), (3, 1, 2)), ((4, 5, 1), (1, 3))]
    for sa, sb in cases:
        a, b = rng.normal(size=sa), rng.normal(size=sb)
        f = lambda a, b: a @ b
        np.testing.assert_array_equal(fa.jit(f)(a, b), np.matmul(a, b))
        simplified, _ = lower_jaxpr(fa.make_jaxpr(f)(a, b).jaxpr)
        assert all(e.prim is not la.matmul_p for e in simplified.eqns), (sa, sb)


def test_reduction_shaped_products_restore_the_blas_thread_count():
    """X.T @ Y over many rows into a small result runs on one OpenBLAS thread (its threads'
    per-block barrier costs 10-30x on a loaded machine); the count is restored after, and
    the product equals NumPy's."""
    import ctypes

    from funcad.backend import table_engine

    addresses, _ = table_engine._blas_addresses()
    if "blas_get_threads" not in addresses:
        pytest.skip("NumPy's OpenBLAS is not the BLAS in use")
    threads = ctypes.CFUNCTYPE(ctypes.c_int)(addresses["blas_get_threads"])
    before = threads()
    rng = np.random.default_rng(10)
    X, w = rng.normal(size=(4000, 8)), rng.random(4000)
    f = fa.jit(lambda X, w: X.T @ (X * w[:, None]))
    np.testing.assert_allclose(f(X, w), X.T @ (X * w[:, None]), rtol=1e-12)
    assert threads() == before
