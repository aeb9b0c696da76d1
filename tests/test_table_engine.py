"""The table backend's engine (backend/table.py): the stop word, planning once per lowering,
the object cache's key, the release of compiled code."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, table, table_engine


def test_a_lapack_failure_stops_the_program_at_once(on_table):
    """A singular solve raises NumPy's error, and the host step after it never runs (before:
    the whole program ran on the NaN result, then the status word raised)."""
    seen = []

    def after(x):
        seen.append(np.array(x))
        return x

    def f(a, b):
        x = fnp.linalg.solve(a, b)
        return fa.pure_callback(after, fa.ShapeDtypeStruct(x.shape, x.dtype), x) * 2.0

    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
        on_table(f, np.ones((3, 3)), np.ones(3))
    assert seen == []
    a = np.eye(3) * 2.0
    np.testing.assert_allclose(on_table(f, a, np.ones(3)), np.linalg.solve(a, np.ones(3)) * 2.0)
    assert len(seen) == 1

    def g(a, b, shifts):  # stopped inside a scan (its step counter mid-way), then run again
        return fa.lax.scan(lambda x, s: (fnp.linalg.solve(a * (2.0 - s), x), x[0]), b, shifts)

    jitted, b, shifts = fa.jit(g), np.arange(1.0, 5.0), np.array([0.0, 0.5, 1.5])
    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
        jitted(np.eye(4), b, np.arange(3.0))  # zero at the third step
    for got, want in zip(jitted(np.eye(4), b, shifts), g(np.eye(4), b, shifts)):
        np.testing.assert_allclose(got, want)


def test_lower_plans_the_program_once(monkeypatch):
    """``jit(f).lower(x).source`` describes the plan the program was built from (before: built
    again for the text), and that text is the one a program planned afresh describes."""
    plans = []

    class Counted(table.Plan):
        def __init__(self, *args):
            plans.append(1)
            super().__init__(*args)

    def f(x, w):
        return fnp.tanh(x @ w).sum(0) + fa.lax.scan(lambda c, r: (c + r, c * r), x[0], x)[0]

    x, w = np.ones((4, 3)), np.ones((3, 3))
    monkeypatch.setattr(table, "Plan", Counted)
    source = fa.jit(f).lower(x, w).source
    assert len(plans) == 1
    program = table.build(fa.jit(f).lower(x, w).jaxpr)
    assert program.describe(["x", "w"]) == source and len(plans) == 4


def test_the_object_cache_key_is_the_text_compiled_into_object_code(monkeypatch):
    """A program's name (its object file's digest) changes with the text of a module that
    writes its IR, not with that of a module that plans or describes it."""
    def names(edited):
        real = table_engine._digest
        monkeypatch.setattr(table_engine, "_digest",
                            lambda p: real(p) + ("edited" if p.name == edited else ""))
        try:
            return [table.build(fa.jit(f).lower(np.eye(3)).jaxpr).name for f in (fnp.sin, fnp.linalg.inv)]
        finally:
            monkeypatch.setattr(table_engine, "_digest", real)

    plain, lapack = names(None)
    for text_only in ("table_source.py", "table_host.py", "table_arena.py", "table_control.py"):
        assert names(text_only) == [plain, lapack]
    new = names("table_linalg.py")  # LAPACK's kernels
    assert new[0] == plain and new[1] != lapack
    for writer in ("table.py", "table_engine.py", "table_runtime.py", "loopir.py"):  # every program's
        new = names(writer)
        assert new[0] != plain and new[1] != lapack


def test_a_programs_code_goes_with_the_last_program_running_it():
    """Each program's kernels are in an MCJIT engine of their own, shared by the programs of
    the same kernels and freed with the last of them; a later program loads them again."""
    def f(x):
        return fnp.tanh(x) * 3.0 + x.sum()

    def program():
        dispatch._executables.clear()
        g = fa.jit(f)
        np.testing.assert_allclose(g(x), want)
        return g, next(iter(dispatch._executables.values()))

    x = np.linspace(-1.0, 1.0, 7)
    want = np.tanh(x) * 3.0 + x.sum()
    (g, one), (h, two) = program(), program()
    assert one is not two and one._code is two._code is table._loaded[one.name]  # the same kernels
    code = weakref.ref(one._code)
    del g, h, one, two
    dispatch._executables.clear()
    gc.collect()
    assert code() is None
    loaded = table.stats["loaded"]
    np.testing.assert_allclose(fa.jit(f)(x), want)  # loaded again from the disk cache
    assert table.stats["loaded"] == loaded + 1
