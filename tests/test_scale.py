"""Scale and concurrency: a 100,000-operation program traces and differentiates without
RecursionError and jit stops it with a clear size error; a jitted function called from 8
threads at once is correct and tracing in one thread never sees another's trace; repeated
calls and calls at many shapes keep memory bounded."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ProgramTooLargeError

N_OPS = 100_000


def chain(x):
    for _ in range(N_OPS // 2):  # two operations per iteration
        x = x * 0.99999 + 0.00001
    return x


def test_a_100k_operation_program_traces_differentiates_and_jit_refuses_clearly():
    jaxpr = fa.make_jaxpr(chain)(0.5)
    assert len(jaxpr.eqns) == N_OPS
    # x_{k+1} = a x_k + b: d x_n / d x_0 = a ** n, and x_n has a closed form
    a, b, n = 0.99999, 0.00001, N_OPS // 2
    value, g = fa.value_and_grad(chain)(0.5)
    np.testing.assert_allclose(g, a ** n, rtol=1e-9)
    np.testing.assert_allclose(value, 1.0 + (0.5 - 1.0) * a ** n, rtol=1e-9)
    with pytest.raises(ProgramTooLargeError, match=r"100000 operations.*fori_loop"):
        fa.jit(chain)(0.5)
    # the same computation written as a loop compiles and agrees
    loop = fa.jit(lambda x: fa.lax.fori_loop(0, n, lambda i, x: x * a + b, x))
    np.testing.assert_allclose(loop(0.5), value, rtol=1e-9)


def test_a_jitted_function_called_from_8_threads_at_once():
    f = fa.jit(lambda w, x: fnp.sum(fnp.tanh(x @ w) ** 2, axis=-1))
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3))
    xs = [rng.standard_normal((40, 5)) * (i + 1) for i in range(8)]
    f(w, xs[0])  # compiled once before the race; the race is on calls (and traces below)
    barrier, results, errors = threading.Barrier(8), [None] * 8, []

    def work(i):
        try:
            barrier.wait()
            for _ in range(50):
                results[i] = f(w, xs[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(8):
        np.testing.assert_allclose(results[i], np.sum(np.tanh(xs[i] @ w) ** 2, axis=-1), rtol=1e-12)


def test_8_threads_racing_on_the_first_call_trace_and_compile_correctly():
    f = fa.jit(lambda x: fnp.sum(fnp.cos(x * 2.5) ** 2, axis=-1))
    xs = [np.random.default_rng(i).standard_normal((10, 4)) for i in range(8)]
    barrier, results, errors = threading.Barrier(8), [None] * 8, []

    def work(i):
        try:
            barrier.wait()
            results[i] = f(xs[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(8):
        np.testing.assert_allclose(results[i], np.sum(np.cos(xs[i] * 2.5) ** 2, axis=-1), rtol=1e-12)


def test_tracing_in_one_thread_never_sees_another_threads_trace():
    """8 threads trace, differentiate and jit different functions at the same moment; each
    jaxpr holds only its own operations and each gradient is its own."""
    barrier, out, errors = threading.Barrier(8), {}, []

    def work(i):
        try:
            def f(x):
                for _ in range(i + 1):
                    x = fnp.sin(x) * float(i + 1)
                return fnp.sum(x)

            barrier.wait()
            for _ in range(5):
                jaxpr = fa.make_jaxpr(f)(np.ones(3))
                g = fa.grad(f)(np.full(3, 0.1))
                j = fa.jit(fa.grad(f))(np.full((2,), 0.1))
            out[i] = (jaxpr, g, j)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, (jaxpr, g, j) in out.items():
        names = [e.prim.name for e in jaxpr.eqns]
        assert names.count("sin") == i + 1 and names.count("mul") == i + 1, (i, names)
        x, d = 0.1, 1.0  # the chain rule by hand
        for _ in range(i + 1):
            d *= np.cos(x) * (i + 1)
            x = np.sin(x) * (i + 1)
        np.testing.assert_allclose(g, np.full(3, d), rtol=1e-12)
        # jit's sin and cos are libmvec's (within 4 ulp, backend/vecmath.py), and 8 nested
        # sin(x) * 8 amplify their rounding: a looser bound than eager's.
        np.testing.assert_allclose(j, np.full(2, d), rtol=1e-10)


def _traced_bytes(fn, repeat) -> int:
    """Python heap growth (tracemalloc) over ``repeat`` calls of ``fn``, after a warm-up."""
    fn(0)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k in range(repeat):
            fn(k)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_10000_repeated_calls_keep_memory_bounded():
    f = fa.jit(lambda x: fnp.sum(fnp.exp(-x * x)))
    x = np.linspace(-1.0, 1.0, 64)
    grown = _traced_bytes(lambda k: f(x), 10_000)
    print(f"\n10,000 jitted calls: {grown} bytes retained")
    assert grown < 200_000, f"{grown} bytes after 10,000 jitted calls"
    g = fa.grad(lambda x: fnp.sum(fnp.exp(-x * x)))
    grown = _traced_bytes(lambda k: g(x), 2_000)
    print(f"2,000 eager grad calls: {grown} bytes retained")
    assert grown < 200_000, f"{grown} bytes after 2,000 eager grad calls"


def test_table_programs_at_100_shapes_keep_memory_bounded(monkeypatch):
    """The table backend compiles a program per shape (sizes are constants in its kernels, as
    XLA's): past dispatch's memo (2 x FUNCAD_JIT_CACHE_SIZE = 32 here) the old programs go,
    and the Python heap does not grow with the shapes seen."""
    from funcad.backend import dispatch, table

    monkeypatch.setenv("FUNCAD_JIT_CACHE_SIZE", "16")
    f = fa.jit(lambda x: fnp.cos(fnp.sum(fnp.sin(x) * 3.0)))
    f(np.ones(2))
    assert {type(e) for e in dispatch._executables.values() if e is not None} >= {table.TableProgram}
    grown = _traced_bytes(lambda k: f(np.ones(k + 3)), 100)
    per_shape = grown / 100
    print(f"\n100 table shapes: {grown} bytes retained ({per_shape:.0f} per shape)")
    assert per_shape < 30_000, f"{per_shape:.0f} bytes kept per shape"
    np.testing.assert_allclose(f(np.ones(500)), np.cos(500 * 3.0 * np.sin(1.0)))
