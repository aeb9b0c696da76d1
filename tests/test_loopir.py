"""Loop nests compiled straight to LLVM IR (backend/loopir.py) against the same loops
compiled by Numba (``codegen.DIRECT_LOOPS`` off), and which runs the subset takes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import codegen, loopir


def _softmax_loss(w, x, y):
    z = x @ w
    return -fnp.sum(y * fa.nn.log_softmax(z)) / x.shape[0]


def _chain(x):
    u = x * x
    return fnp.sum(fnp.tanh(x) * fnp.exp(-u) + fnp.log(1.0 + u) * fnp.sin(x))


def _tanh6(x):
    f = fnp.tanh
    for _ in range(6):
        f = fa.elementwise_grad(f)
    return f(x)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(7, 5))
W = RNG.normal(size=(5, 3))
Y = np.eye(3)[RNG.integers(0, 3, 7)]
NAN = np.array([[1.0, np.nan, -2.0], [np.inf, 0.5, -np.inf]])

CASES = {
    "softmax loss and gradient": (fa.value_and_grad(_softmax_loss), (W, X, Y)),
    "chain gradient, float32": (fa.grad(_chain), (X.astype(np.float32),)),
    "relu and its mask": (lambda x: (fa.nn.relu(x), x > 0.0, fnp.where(x > 0, x, -x)), (X,)),
    "max and min with NaN and inf": (lambda a: (fnp.max(a, axis=1), fnp.min(a, axis=0), fnp.max(a)), (NAN,)),
    "predicates": (lambda a: (fnp.isfinite(a), fnp.isnan(a), fnp.isinf(a)), (NAN,)),
    "transposed and strided inputs": (lambda a, b: fnp.sum(fnp.sqrt(fnp.abs(a)) * b, axis=0),
                                      (X.T, np.asfortranarray(X[:, ::-1]).T)),
    "broadcasting, 0-d and size-1 axes": (lambda a, b, c: a[:, None] * b + c,
                                          (X[:, 0], X[0], np.float64(2.0))),
    "mixed float32 and float64": (lambda a, b: fnp.exp(a) + b, (X.astype(np.float32), X)),
    "products and floor/ceil": (lambda a: (fnp.prod(a, axis=1), fnp.floor(a) + fnp.ceil(a)), (X,)),
    "sixth derivative of tanh": (_tanh6, (np.linspace(-3, 3, 50),)),
}


def _run(f, args, direct):
    """The Numba path's source and result (FUNCAD_JIT_BACKEND=numba: its loop runs)."""
    saved, backend = codegen.DIRECT_LOOPS, os.environ.get("FUNCAD_JIT_BACKEND")
    os.environ["FUNCAD_JIT_BACKEND"] = "numba"
    codegen.DIRECT_LOOPS = direct
    try:
        g = fa.jit(f)
        return g.lower(*args).source, g(*args)
    finally:
        codegen.DIRECT_LOOPS = saved
        if backend is None:
            del os.environ["FUNCAD_JIT_BACKEND"]
        else:
            os.environ["FUNCAD_JIT_BACKEND"] = backend


@pytest.mark.parametrize("name", list(CASES))
def test_direct_loops_equal_numbas_loops(name):
    f, args = CASES[name]
    src_direct, direct = _run(f, args, True)
    src_numba, numba = _run(f, args, False)
    assert "_nb.loops(" not in src_numba
    flat_d = [np.asarray(v) for v in fa.tree_util.tree_leaves(direct)]
    flat_n = [np.asarray(v) for v in fa.tree_util.tree_leaves(numba)]
    eager = [np.asarray(v) for v in fa.tree_util.tree_leaves(f(*args))]
    assert len(flat_d) == len(flat_n) == len(eager)
    for d, n, e in zip(flat_d, flat_n, eager):
        assert d.dtype == n.dtype == e.dtype and d.shape == n.shape == e.shape
        if d.dtype == bool:
            np.testing.assert_array_equal(d, n)
            np.testing.assert_array_equal(d, e)
        else:
            np.testing.assert_allclose(d, n, rtol=1e-12 if d.dtype == np.float64 else 1e-5, atol=1e-300)
            single = any(np.asarray(a).dtype == np.float32 for a in args)
            np.testing.assert_allclose(d, e, rtol=1e-5 if single else 1e-10, atol=1e-12)


def test_typical_programs_take_the_direct_path():
    src, _ = _run(fa.value_and_grad(_softmax_loss), (W, X, Y), True)
    assert src.count("_nb.loops(") >= 1
    assert "for i" in src  # the loops' text stays in the module, inside the call


F64, I64, BOOL = np.dtype(np.float64), np.dtype(np.int64), np.dtype(bool)


def _sum_loop(dtype, *after):
    """``acc0 = 0; for i0 in range(n0): x0 = v1[i0]; acc0 = acc0 + x0``, ``v2[()] = acc0``."""
    i, x, acc = loopir.Local("i0", I64), loopir.Local("x0", dtype), loopir.Local("acc0", dtype)
    v1, v2 = loopir.Arr("v1", dtype, 1), loopir.Arr("v2", dtype, 0)
    loop = loopir.Loop(i, loopir.Size(0, "n0"), [loopir.Assign(x, loopir.Load(v1, (i,))),
                                                  loopir.Assign(acc, loopir.Bin("+", acc, x))])
    return [(1, s) for s in [loopir.Assign(acc, loopir.Const(0, dtype)), loopir.Comment("v2 = sum v1"),
                             loop, loopir.Store(v2, (), acc)]] + list(after)


def test_what_the_subset_does_not_hold_stays_with_numba():
    i = np.arange(12, dtype=np.int64).reshape(3, 4)
    src, out = _run(lambda i: fnp.sum(i * 3, axis=1), (i,), True)
    assert "_nb.loops(" not in src  # integer arithmetic: Numba's
    np.testing.assert_array_equal(out, (i * 3).sum(axis=1))
    body = _sum_loop(I64)
    assert codegen._runs(body) == body  # an integer sum
    body = _sum_loop(F64, (1, loopir.Line("print()")),
                     (1, loopir.Assign(loopir.Local("s0", F64), loopir.Local("acc0", F64))))
    assert codegen._runs(body) == body  # acc0 read after the run
    body = _sum_loop(F64)
    assert [type(s) for _, s in codegen._runs(body)] == [loopir.Comment, loopir.Run]


def test_a_run_is_one_call_with_the_comments_kept():
    i, x = loopir.Local("i0", I64), loopir.Local("x0", F64)
    v1, v2 = loopir.Arr("v1", F64, 1), loopir.Arr("v2", F64, 1)
    loop = loopir.Loop(i, loopir.Size(0, "n0"), [
        loopir.Assign(x, loopir.Load(v1, (i,))),
        loopir.Store(v2, (i,), loopir.Call("_vm.sin", [x], F64))])
    body = [(1, loopir.Comment("v2 = sin v1")), (1, loop), (1, loopir.Comment("v3 = matmul v2 v2")),
            (1, loopir.Line("v3 = _nb.empty((), np.float64)"))]
    out = codegen._runs(body)
    assert out[0] == body[0] and out[2:] == body[2:]
    run = out[1][1]
    assert type(run) is loopir.Run and [a.name for a in run.arrays] == ["v1", "v2"]
    text = loopir.lines(run)
    assert text[0] == "_nb.loops((v1, v2), S, \'\'\'" and text[-1] == "\'\'\')"
    assert text[1:-1] == ["for i0 in range(n0):", "    x0 = v1[i0]", "    v2[i0] = _vm.sin(x0)"]
    # the intrinsic finds the run by its text and its arrays' dtypes, nothing parsed
    key = ("\n" + "\n".join(text[1:-1]) + "\n", (("float64", 1), ("float64", 1)))
    assert loopir.RUNS[key] is run


def test_bool_operands_compared_with_zero():
    """``(b != 0)``, as the code generator writes a cast to bool, on bool arrays."""
    i, x, s = loopir.Local("i0", I64), loopir.Local("x0", BOOL), loopir.Local("s0", BOOL)
    v1, v2, v3 = loopir.Arr("v1", BOOL, 1), loopir.Arr("v2", BOOL, 1), loopir.Arr("v3", F64, 1)
    loop = loopir.Loop(i, loopir.Size(0, "n0"), [
        loopir.Assign(x, loopir.Load(v1, (i,))),
        loopir.Assign(s, loopir.Cmp("!=", x, loopir.Const(0, BOOL, bare=True))),
        loopir.Store(v2, (i,), s), loopir.Store(v3, (i,), loopir.cast(s, F64))])
    out = codegen._runs([(1, loop)])
    assert type(out[0][1]) is loopir.Run
    source = "\n".join(["import numba", "import numpy as np", "from funcad.backend import nbrt as _nb",
                         "@numba.njit", "def k(v1, v2, v3, S):"]
                        + ["    " + line for line in loopir.lines(out[0][1])])
    ns: dict = {}
    exec(source, ns)
    b, out_b, out_f = np.array([True, False, True]), np.zeros(3, bool), np.zeros(3)
    ns["k"](b, out_b, out_f, np.array([3], dtype=np.int64))
    np.testing.assert_array_equal(out_b, b)
    np.testing.assert_array_equal(out_f, b.astype(float))
    x = np.array([True, False, True])
    src, got = _run(lambda b: (fnp.logical_and(b, b), fnp.where(b, 1.5, -0.5)), (x,), True)
    np.testing.assert_array_equal(got[0], x)
    np.testing.assert_array_equal(got[1], np.where(x, 1.5, -0.5))


def test_only_float_and_bool_dtypes_are_written_as_llvm():
    """The subset is checked on every node's dtype: a loop over complex (or integer) values is
    printed for Numba, never written as LLVM IR."""
    i = loopir.Local("i0", I64)
    for dt in (np.dtype(np.complex128), np.dtype(np.int32), np.dtype(np.float16)):
        x = loopir.Local("x0", dt)
        v1, v2 = loopir.Arr("v1", dt, 1), loopir.Arr("v2", dt, 1)
        loop = loopir.Loop(i, loopir.Size(0, "n0"), [loopir.Assign(x, loopir.Load(v1, (i,))),
                                                      loopir.Store(v2, (i,), loopir.Bin("*", x, x))])
        assert not loopir.direct(loop)
        assert codegen._runs([(1, loop)]) == [(1, loop)]
    x = loopir.Local("x0", F64)
    v1, v2 = loopir.Arr("v1", F64, 1), loopir.Arr("v2", F64, 1)
    assert loopir.direct(loopir.Loop(i, loopir.Size(0, "n0"), [
        loopir.Assign(x, loopir.Load(v1, (i,))), loopir.Store(v2, (i,), loopir.Bin("*", x, x))]))
