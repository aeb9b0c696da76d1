"""The table backend's engine (backend/table.py): the stop word, planning once per lowering,
the object cache's key, the release of compiled code."""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, table


def _table(f, *args):
    """``jit(f)(*args)``, asserting that the table backend ran it."""
    dispatch._executables.clear()
    out = fa.jit(f)(*args)
    assert {type(e) for e in dispatch._executables.values()} == {table.TableProgram}
    return out


def test_a_lapack_failure_stops_the_program_at_once():
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
        _table(f, np.ones((3, 3)), np.ones(3))
    assert seen == []
    a = np.eye(3) * 2.0
    np.testing.assert_allclose(_table(f, a, np.ones(3)), np.linalg.solve(a, np.ones(3)) * 2.0)
    assert len(seen) == 1
