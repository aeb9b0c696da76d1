"""Large arrays on the table backend: parallel loops on threads (backend/table_parallel.py)
against eager funcad and closed forms, the single-threaded BLAS switch for tall
products, and the arena's bytes shared by liveness (backend/table_arena.py)."""

from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import blas, codegen, dispatch, table, table_arena, table_engine, table_parallel
from funcad.tree_util import tree_leaves


@pytest.fixture
def small_parallel(monkeypatch, table_backend):
    """Kernels of 4,096 elements or more are parallel: small test programs."""
    monkeypatch.setattr(codegen, "PARALLEL_MIN_SIZE", 4096)


def _leaves(x):
    return [np.asarray(v) for v in tree_leaves(x)]


RNG = np.random.default_rng(0)
X = RNG.normal(size=(128, 96))   # rows of 96: parallel over 128 rows
Z = RNG.normal(size=(96, 130))
Y = RNG.uniform(-2, 2, 5000)
W = RNG.normal(size=(40, 30, 20))


def _forward(x, z, y, w):
    return (fnp.sin(x) * fnp.exp(-x * x) + 1.0,     # elementwise
            fnp.sum(fnp.tanh(x), axis=1),             # per-row sums (parallel rows)
            fnp.sum(fnp.tanh(z), axis=0),             # over the rows: serial (codegen)
            fnp.sum(fnp.sin(y) ** 2),                 # over every axis: chunked partial sums
            fnp.max(fnp.cos(y)),                      # max over every axis: serial
            fa.nn.log_softmax(x, axis=-1),            # max, exp-sum per row
            fnp.sum(w * w, axis=1))                   # a middle axis


def _loss(x, y):
    return fnp.mean(fnp.log1p(x * x)) + fnp.sum(fa.nn.softmax(x, axis=-1) * x) + fnp.sum(fnp.tanh(y))


def test_parallel_kernels_against_eager(small_parallel, on_table):
    def f(x, z, y, w):  # (one program: Numba's parallel compile takes seconds)
        return _forward(x, z, y, w), fa.value_and_grad(_loss, (0, 1))(x, y)

    args = (X, Z, Y, W)
    got, exe = on_table.run(f, *args)
    assert on_table.parallel_kernels(exe) >= 3  # (what runs on threads)
    eager = f(*args)
    for g, e in zip(_leaves(got), _leaves(eager), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(e).max()))


def test_results_do_not_depend_on_the_threads(small_parallel, on_table):
    y32 = Y.astype(np.float32)
    f = fa.value_and_grad(lambda y: fnp.sum(fnp.exp(y) * y))
    before = table_parallel.set_threads(1)
    try:
        want, _ = on_table.run(f, y32)
        for n in (2, 3, 7):
            table_parallel.set_threads(n)
            got = fa.jit(f)(y32)
            for g, w in zip(_leaves(got), _leaves(want), strict=True):
                np.testing.assert_array_equal(g, w)
    finally:
        table_parallel.set_threads(before)
    np.testing.assert_allclose(want[0], np.sum(np.exp(Y) * Y), rtol=1e-5)


def test_the_chain_at_the_real_threshold(on_table):
    """The workloads' elementwise chain at PARALLEL_MIN_SIZE elements: one chunked kernel."""
    x = np.random.default_rng(1).uniform(-2, 2, codegen.PARALLEL_MIN_SIZE)

    def chain(x):
        u = x * x
        return fnp.tanh(x) * fnp.exp(-u) + fnp.log(1.0 + u) * fnp.sin(x)

    (value, grad), exe = on_table.run(fa.value_and_grad(lambda x: fnp.sum(chain(x))), x)
    assert on_table.parallel_kernels(exe) >= 1
    t, e, lg, s = np.tanh(x), np.exp(-x * x), np.log1p(x * x), np.sin(x)
    np.testing.assert_allclose(value, np.sum(t * e + lg * s), rtol=1e-13)
    want = (1 - t * t - 2 * x * t) * e + 2 * x / (1 + x * x) * s + lg * np.cos(x)
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-13)


def test_thread_count_from_funcad_num_threads_then_numbas(monkeypatch):
    monkeypatch.delenv("FUNCAD_NUM_THREADS", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    assert table_parallel.threads() == 3
    monkeypatch.setenv("FUNCAD_NUM_THREADS", "5")
    assert table_parallel.threads() == 5
    monkeypatch.delenv("FUNCAD_NUM_THREADS")
    monkeypatch.delenv("NUMBA_NUM_THREADS")
    assert table_parallel.threads() == len(__import__("os").sched_getaffinity(0))


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_a_bad_funcad_num_threads_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv("FUNCAD_NUM_THREADS", bad)
    want = f"FUNCAD_NUM_THREADS='{re.escape(bad)}'.*positive integer"
    with pytest.raises(fa.errors.ArgumentError, match=want):
        table_parallel.threads()


# -- tall products on one OpenBLAS thread -------------------------------------------------


def test_tall_product_on_one_blas_thread(on_table):
    x, y = RNG.normal(size=(2000, 20)), RNG.normal(size=(2000, 30))
    got, exe = on_table.run(lambda x, y: x.T @ y, x, y)
    np.testing.assert_allclose(got, x.T @ y, rtol=1e-12)
    table_engine._setup()
    tall = table.Gemm(np.dtype(np.float64), 20, 30, 2000, False, 30, True, 20)
    square = table.Gemm(np.dtype(np.float64), 200, 200, 200, False, 200, False, 200)
    assert blas.tall_product(20, 30, 2000) and not blas.tall_product(200, 200, 200)
    if table_engine._THREAD_CONTROL:  # NumPy's OpenBLAS: its thread count set around the call
        assert "funcad_table_blas_set_threads" in str(table_engine.build_module("t", [tall]))
        assert "funcad_table_blas_set_threads" not in str(table_engine.build_module("s", [square]))
        get = ctypes.CFUNCTYPE(ctypes.c_int)(table_engine._blas_addresses()[0]["blas_get_threads"])
        before = get()
        fa.jit(lambda x, y: x.T @ y)(x, y)
        assert get() == before  # restored


def test_matrix_vector_products_through_gemv(on_table):
    a, b, c, bt = RNG.normal(size=(7, 5)), RNG.normal(size=5), RNG.normal(size=7), RNG.normal(size=(5, 7))
    cases = [(lambda a, b: a @ b, (a, b)), (lambda c, a: c @ a, (c, a)), (lambda a, b: a.T @ b, (bt, b)),
             (lambda c, a: c @ a.T, (c, bt)), (lambda a, b: a[::2, ::2] @ b[::2], (a, b)),
             (lambda a, b: a.T[:1] @ b, (bt, RNG.normal(size=(5, 3)))),
             (lambda a, b: a.astype(np.float32) @ b.astype(np.float32), (a, b))]
    for f, args in cases:
        got, exe = on_table.run(f, *args)
        assert "?gemv" in exe.source
        rtol = 1e-6 if got.dtype == np.float32 else 1e-14
        np.testing.assert_allclose(got, f(*[np.asarray(x) for x in args]), rtol=rtol, atol=1e-14)


# -- the arena ----------------------------------------------------------------------------


def _rnn(w, h):
    for _ in range(12):
        h = fnp.tanh(w @ h + 0.5 * h)
    return fnp.sum(h * h)


def test_intermediates_share_the_arena(on_table):
    w, h = RNG.normal(0, 0.3, (24, 24)), RNG.normal(size=24)
    f = fa.value_and_grad(_rnn, (0, 1))
    got, exe = on_table.run(f, w, h)
    assert exe.arena_bytes < exe.intermediate_bytes / 2
    offsets = [off for slot, off in exe.layout.values() if slot == exe.n_slots - 1]
    assert len(set(offsets)) < len(offsets)  # buffers at the same bytes
    for g, e in zip(_leaves(got), _leaves(f(w, h)), strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12 * np.abs(e).max())
    again = fa.jit(f)(2 * w, h)  # the kept arena, other values
    for g, e in zip(_leaves(again), _leaves(f(2 * w, h)), strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-12 * np.abs(e).max())
    assert len(exe._arenas) == 1


def test_outputs_read_from_the_arena_are_copies(table_backend):
    f = fa.jit(lambda x: ((fnp.sin(x) * 2.0).T, fnp.cos(x)[1:]))
    a = f(X)
    (exe,) = dispatch._executables.values()
    assert isinstance(exe, table.TableProgram)
    b = f(X + 1.0)
    np.testing.assert_allclose(a[0], (np.sin(X) * 2).T, rtol=1e-15)
    np.testing.assert_allclose(b[0], (np.sin(X + 1) * 2).T, rtol=1e-15)
    np.testing.assert_allclose(a[1], np.cos(X)[1:], rtol=1e-15)


def test_threads_calling_one_program_at_once(small_parallel, on_table):
    """Each concurrent call takes its own arena; parallel loops run inside each."""
    from concurrent.futures import ThreadPoolExecutor

    f = fa.value_and_grad(lambda x, y: fnp.sum(fnp.tanh(x) * 2.0) + fnp.sum(fnp.sin(y) ** 2), (0, 1))
    dispatch._executables.clear()
    jitted = fa.jit(f)
    jitted(X, Y)
    (exe,) = dispatch._executables.values()
    assert isinstance(exe, table.TableProgram) and on_table.parallel_kernels(exe) >= 1
    inputs = [(X * (1 + j / 10), Y - j / 10) for j in range(8)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda a: jitted(*a), inputs * 3))
    for (x, y), got in zip(inputs * 3, outs, strict=True):
        want = f(x, y)
        for g, w in zip(_leaves(got), _leaves(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    assert 1 <= len(exe._arenas) <= 4


class _R:
    def __init__(self, buffer):
        self.buffer = buffer


def test_live_ranges_grow_over_loops():
    calls = [(0, [_R(1)]), (0, [_R(1), _R(2)]), (0, [_R(2), _R(3)]), (0, [_R(3), _R(4)]),
             (0, [_R(4)]), (0, [_R(5)])]
    assert table_arena.live_ranges(calls, [1, 2, 3, 4, 5, 6], to_end=[4]) == {
        1: [0, 1], 2: [1, 2], 3: [2, 3], 4: [3, 6], 5: [5, 5]}
    # a loop over calls 2-3 inside one over 1-4: buffer 1 meets neither; 2 meets the inner
    # loop, grows over it and so over the outer one
    ranges = table_arena.live_ranges(calls, [1, 2, 3, 5], spans=[(2, 3), (1, 4)])
    assert ranges == {1: [0, 4], 2: [1, 4], 3: [1, 4], 5: [5, 5]}
    ranges = table_arena.live_ranges(calls, [1, 5], spans=[(2, 3)])
    assert ranges == {1: [0, 1], 5: [5, 5]}


def test_packing_never_overlaps_live_buffers():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        sizes = {b: int(rng.integers(0, 5000)) for b in range(n)}
        ranges = {}
        for b in range(n):
            lo = int(rng.integers(0, 30))
            ranges[b] = [lo, lo + int(rng.integers(0, 10))]
        offsets, top = table_arena.pack(sizes, ranges)
        assert top <= table_arena.total(sizes.values())
        for a in range(n):
            assert offsets[a] % table_arena.ALIGN == 0 and offsets[a] + sizes[a] <= top
            for b in range(a):
                live = ranges[a][0] <= ranges[b][1] and ranges[b][0] <= ranges[a][1]
                apart = offsets[a] + sizes[a] <= offsets[b] or offsets[b] + sizes[b] <= offsets[a]
                assert not live or apart or 0 in (sizes[a], sizes[b])
