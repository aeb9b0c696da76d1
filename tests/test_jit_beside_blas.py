"""Large kernels next to BLAS, and the memory of large Hessians (backend/table.py).

A program that calls a threaded BLAS keeps its kernels serial below
``PARALLEL_MIN_SIZE_BESIDE_BLAS`` (two thread pools on the machine's cores made the jitted
Jacobian of tanh(A x) * x at n = 1000 9.5x hand NumPy, and slower than eager); the Hessian of
a d = 2,000 logistic loss holds one d x d array at its peak per call, not two. Results checked
against NumPy closed forms and eager funcad.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import lax
from funcad.backend import codegen, dispatch, table

RNG = np.random.default_rng(1018)


def tanh_ax_x(x, a):
    return fnp.tanh(a @ x) * x


def tanh_ax_x_jacobian(x, a):
    """Closed form: diag(tanh(a x)) + diag((1 - tanh^2(a x)) x) a."""
    t = np.tanh(a @ x)
    return np.diag(t) + ((1.0 - t * t) * x)[:, None] * a


def _program(f, *args):
    """The simplified jaxpr and table program of ``jit(f)(*args)`` (compiled, not run)."""
    jaxpr = fa.make_jaxpr(f)(*args).jaxpr
    simplified, program = dispatch.lower_jaxpr(jaxpr, "test")
    assert isinstance(program, table.TableProgram)
    return simplified, program


def _kernels(program) -> list:
    return table.Plan(*program._plan_args).kernels


@pytest.mark.parametrize("jac", [fa.jacrev, fa.jacfwd])
def test_jacobian_of_tanh_ax_times_x_at_n_1000_is_serial_and_right(jac, on_table):
    n = 1000
    x, a = RNG.normal(size=n), RNG.normal(0.0, n**-0.5, (n, n))
    got, program = on_table.run(jac(tanh_ax_x), x, a)
    # the gemv and the 1000 x 1000 kernels: serial, as hand NumPy's elementwise work is
    assert any(type(k) is table.Gemm for k in _kernels(program))
    assert on_table.parallel_kernels(program) == 0
    np.testing.assert_allclose(got, tanh_ax_x_jacobian(x, a), rtol=1e-13, atol=1e-15)


def test_parallel_kernels_stay_where_no_threaded_blas_runs(on_table):
    x = np.linspace(-1.0, 1.0, 1 << 20)
    parallel = lambda f, *args: on_table.parallel_kernels(_program(f, *args)[1])  # noqa: E731
    assert parallel(lambda x: fnp.sum(fnp.tanh(x) * x), x)  # no BLAS at all
    # a 3 x 3 product runs on one OpenBLAS thread
    assert parallel(lambda x, m: fnp.sum(fnp.sin(x) * fnp.sum(m @ m)), x, np.eye(3))
    big = np.ones((128, 128))
    # 2^20 elements beside a threaded gemm
    assert not parallel(lambda x, m: fnp.sum(fnp.sin(x) * fnp.sum(m @ m)), x, big)
    # past PARALLEL_MIN_SIZE_BESIDE_BLAS
    assert parallel(lambda x, m: fnp.sum(fnp.sin(x) * fnp.sum(m @ m)), np.ones(1 << 22), big)


def test_a_matmul_inside_a_loop_body_counts_as_beside_blas():
    a = np.ones((128, 128))

    def f(a):
        return lax.fori_loop(0, 2, lambda i, m: m @ a / 128.0, a)

    assert codegen.calls_threaded_blas(fa.make_jaxpr(f)(a).jaxpr)
    assert not codegen.calls_threaded_blas(fa.make_jaxpr(f)(np.ones((4, 4))).jaxpr)
    assert not codegen.calls_threaded_blas(fa.make_jaxpr(lambda a: fnp.sin(a) @ fnp.ones(4))(a[:4, :4]).jaxpr)


def _logistic_loss(w, X, y):
    return fnp.mean(fa.nn.softplus(-y * (X @ w))) + 0.5e-2 * (w @ w)


def _logistic_hessian(w, X, y):
    n, d = X.shape
    p = 0.5 * (1.0 + np.tanh(0.5 * (-y * (X @ w))))
    return (X.T * (p * (1.0 - p) / n)) @ X + 1e-2 * np.eye(d)


def _logistic_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    return rng.normal(0.0, 0.1, d), X, np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)


def _d_by_d_arrays(program, d) -> float:
    """How many d x d arrays a call holds: its arena's bytes and its results' over d^2 doubles."""
    out = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize for shape, dtype in program.out_buffers)
    return (program.arena_bytes + out) / (8 * d * d)


@pytest.mark.parametrize("in_place", [False, True])
def test_hessian_and_value_grad_hessian_against_closed_forms(in_place, monkeypatch):
    if in_place:  # (table.INPLACE_MIN_BYTES: 0 writes these small Hessians as the d = 2000 one)
        monkeypatch.setattr(table, "INPLACE_MIN_BYTES", 0)
    w, X, y = _logistic_data(30, 12)
    H = fa.jit(fa.hessian(_logistic_loss))(w, X, y)
    np.testing.assert_allclose(H, _logistic_hessian(w, X, y), rtol=1e-12, atol=1e-15)
    v, g, H = fa.jit(fa.value_grad_hessian(_logistic_loss))(w, X, y)
    ve, ge, He = fa.value_grad_hessian(_logistic_loss)(w, X, y)
    np.testing.assert_array_equal(H, H.T)  # exactly symmetric, as eager
    np.testing.assert_allclose(H, _logistic_hessian(w, X, y), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, He, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(g, ge, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(v, ve, rtol=1e-14)


@pytest.mark.parametrize("hess", [fa.hessian, fa.value_grad_hessian])
def test_the_hessian_of_a_d_2000_loss_holds_one_d_by_d_array(hess):
    """The Gauss-Newton product's ?gemm writes the result's buffer: the regulariser is added
    over it (and symmetrize pairs it there), as the former Numba path did: one d x d, not 2.05."""
    n, d = 100, 2000  # the size; compiled only
    w, X, y = _logistic_data(n, d)
    simplified, program = _program(hess(_logistic_loss), w, X, y)
    assert all(v.aval.size < d * d * d for e in simplified.eqns for v in e.outputs)  # no d^3 value
    products = [e for e in simplified.eqns if e.prim.name == "matmul" and e.outputs[0].aval.shape == (d, d)]
    assert len(products) == 1
    assert _d_by_d_arrays(program, d) < 1.5, _d_by_d_arrays(program, d)


def test_symmetrize_written_over_only_what_nothing_else_reads():
    from funcad.lax.linalg import symmetrize

    def kept(x):  # m is read again after: a new array
        m = x @ x.T + 1.0
        return symmetrize(m), m

    def transposed(x):  # symmetrize(m.T) is symmetrize(m): no transposed copy read
        m = x @ (x * 2.0).T
        return symmetrize(fnp.transpose(m))

    def grouped(x, v):  # a row loop over m's rows that also reads m elsewhere: not in place
        m = x @ x.T
        return symmetrize(m * 3.0 + fnp.sum(m, axis=1)[:, None]), v * 2.0

    x, v = RNG.normal(size=(7, 4)), RNG.normal(size=7)
    for f, args in ((kept, (x,)), (transposed, (x,)), (grouped, (x, v))):
        expect, got = f(*args), fa.jit(f)(*args)
        for g_, e_ in zip(fa.tree_util.tree_leaves(got), fa.tree_util.tree_leaves(expect)):
            np.testing.assert_allclose(g_, e_, rtol=1e-13, atol=1e-14, err_msg=f.__name__)
        sym = fa.tree_util.tree_leaves(got)[0]
        np.testing.assert_array_equal(sym, sym.T)
    m = x @ x.T + 1.0
    np.testing.assert_allclose(kept(x)[0], (m + m.T) / 2, rtol=1e-15)


@pytest.fixture
def in_place_always(monkeypatch):
    """Outputs of every size written over dying operands (table.INPLACE_MIN_BYTES = 0)."""
    monkeypatch.setattr(table, "INPLACE_MIN_BYTES", 0)


def _written_over(f, *args) -> int:
    return fa.jit(f).lower(*args).source.count("(written over")


def test_in_place_results_equal_eager(in_place_always):
    x, y, z = RNG.normal(size=(6, 5)), RNG.normal(size=(5, 7)), RNG.normal(size=(6, 7))

    def read_after(x, y, z):  # sin(z) is written before m's last read: not over m
        m = x @ y
        s = fnp.sin(z)
        return s, s * m + m

    def transposed(x):  # m is also read through a view: never overwritten
        m = x @ x.T
        return fnp.exp(m) + m.T

    def twice(x, y):  # two results, one operand
        m = x @ y
        return fnp.sin(m), fnp.cos(m) * 2.0

    def in_loop(x, y):
        def body(i, c):
            m = c @ y.T
            return fnp.tanh(m @ y) + c * 0.5
        return lax.fori_loop(0, 3, body, x @ y)

    def reversed_rows(x, y):  # m read through a reversed view in the same kernel
        m = x @ y
        return fnp.exp(m) + m[::-1]

    def centred(x, y):  # a row loop reads m for its sums, then again: written over m or not, right
        m = x @ y
        return fnp.exp(m - fnp.max(m, axis=1, keepdims=True)) - fnp.sum(m, axis=0)

    def shifted(x, y):  # m read at another element than the one written
        m = x @ y
        return fnp.sin(m[:, 1:]) * m[:, :-1]

    def scanned(x, y):  # a loop body's carry is never written over (the next iteration reads it)
        return lax.scan(lambda c, r: (fnp.tanh(c @ y[:, :5]) * 2.0, fnp.sum(c)), x[:, :5], None, length=3)

    cases = ((read_after, (x, y, z)), (transposed, (x,)), (twice, (x, y)), (in_loop, (x[:, :5], y[:, :5])),
             (reversed_rows, (x, y)), (centred, (x, y)), (shifted, (x, y)), (scanned, (x, y)))
    for f, args in cases:
        expect = f(*args)
        got = fa.jit(f)(*args)
        for g_, e_ in zip(fa.tree_util.tree_leaves(got), fa.tree_util.tree_leaves(expect)):
            np.testing.assert_allclose(g_, e_, rtol=1e-13, atol=1e-14, err_msg=f.__name__)
    assert _written_over(twice, x, y) == 1 and _written_over(in_loop, x[:, :5], y[:, :5]) >= 1
    assert _written_over(transposed, x) == _written_over(reversed_rows, x, y) == 0


def test_only_large_outputs_are_written_over_an_operand():
    """Below table.INPLACE_MIN_BYTES the arena's reuse is left to do it; above, the result of
    the kernel after a large ?gemm is the ?gemm's own buffer (1.0 of it, not 2: arena + result)."""
    f = lambda x: fnp.sin(x @ x.T) * 2.0  # noqa: E731
    small, big = RNG.normal(size=(8, 3)), RNG.normal(size=(200, 3))
    assert _written_over(f, small) == 0 and _written_over(f, big) == 1
    program = _program(f, big)[1]
    assert program.arena_bytes < 200 * 200 * 8 // 4
    np.testing.assert_allclose(fa.jit(f)(big), np.sin(big @ big.T) * 2.0, rtol=1e-14, atol=1e-15)


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    import funcad as fa, funcad.numpy as fnp

    def rss_mb(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0

    n, d = int(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    w = rng.normal(0.0, 0.1, d)

    def loss(w, X, y):
        return fnp.mean(fa.nn.softplus(-y * (X @ w))) + 0.5e-2 * (w @ w)

    out = {}
    for mode, h in (("eager", fa.hessian(loss)), ("jit", fa.jit(fa.hessian(loss))),
                    ("vgh jit", fa.jit(fa.value_grad_hessian(loss)))):
        H = h(w, X, y)  # compiles
        del H
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM)
        base = rss_mb("VmRSS")
        H = h(w, X, y)
        out[mode] = rss_mb("VmHWM") - base
        del H
    print(json.dumps(out))
""")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_hessian_of_d_2000_logistic_loss_peak_memory_is_one_d_by_d_plus_order_n_d(tmp_path):
    """Peak resident memory of one call, eager and jit (and value_grad_hessian under jit), in
    a child process: one d x d result plus O(n d) (two d x d arrays, the copy in-place
    writing avoids, would be 61 MB)."""
    n, d = 100, 2000
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(fa.__file__).parent.parent), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    peaks = json.loads(r.stdout.strip().splitlines()[-1])
    dd, nd = 8 * d * d / 2**20, 8 * n * d / 2**20
    for mode, peak in peaks.items():
        assert peak < 1.5 * dd + 3 * nd, (mode, peak, dd)
