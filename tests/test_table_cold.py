"""First calls on the table backend: a cold compile and a warm load in fresh processes import
neither Numba nor SciPy's heavy modules, and their results match eager funcad."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp

ROOT = Path(__file__).resolve().parent.parent


def _mlp(params, x, y):
    w1, b1, w2, b2 = params
    hidden = fa.nn.relu(x @ w1 + b1)
    return -fnp.sum(y * fa.nn.log_softmax(hidden @ w2 + b2)) / x.shape[0]


def _mlp_args():
    rng = np.random.default_rng(0)
    params = (rng.normal(0, 0.1, (12, 7)), rng.normal(0, 0.1, 7), rng.normal(0, 0.1, (7, 3)),
              np.zeros(3))
    return params, rng.normal(size=(5, 12)), np.eye(3)[rng.integers(0, 3, 5)]


_CHILD = """
import json, sys
import numpy as np
import funcad as fa
from funcad.backend import dispatch, table
sys.path.insert(0, {tests!r})
from test_table_cold import _mlp, _mlp_args
args = _mlp_args()
value, grads = fa.jit(fa.value_and_grad(_mlp))(*args)
programs = list(dispatch._executables.values())
print(json.dumps({{
    "value": float(value), "grads": [np.asarray(g).tolist() for g in grads],
    "table": all(isinstance(p, table.TableProgram) for p in programs) and len(programs) == 1,
    "stats": table.stats,
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("numba", "scipy")),
}}))
"""


def _child(cache_dir, code=_CHILD):
    env = {**os.environ, "FUNCAD_JIT_BACKEND": "table", "FUNCAD_CACHE_DIR": str(cache_dir),
           "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code.format(tests=str(ROOT / "tests"))], env=env,
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_cold_compile_and_a_warm_load_of_the_mlp_step_import_no_numba(tmp_path):
    value, grads = fa.value_and_grad(_mlp)(*_mlp_args())  # eager, here
    for run, stat in (("cold", "compiled"), ("warm", "loaded")):
        out = _child(tmp_path)
        assert out["table"], run
        assert out["stats"][stat] == 1 and sum(out["stats"].values()) == 1, (run, out["stats"])
        assert not [m for m in out["modules"] if m.startswith("numba")], (run, out["modules"])
        np.testing.assert_allclose(out["value"], value, rtol=1e-12)
        for g, w in zip(out["grads"], grads, strict=True):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", ["exp", "radd", "arctan2"])
def test_vecmath_makes_numbas_intrinsics_when_they_are_read(name):
    from funcad.backend import vecmath

    fn = getattr(vecmath, name)
    assert getattr(vecmath, name) is fn  # made once, then kept
    assert type(fn).__name__ == "_Intrinsic"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vecmath.nope  # noqa: B018


# -- allocations: loop IR nodes that both backends read ------------------------------------


def test_an_allocation_prints_as_the_numba_paths_line():
    from funcad.backend import loopir as ir

    f64 = np.dtype(np.float64)
    shape = (ir.Size(0, "n0"), ir.Const(1, ir.INT, bare=True))
    assert ir.lines(ir.Alloc(ir.Arr("v3", f64, 2), shape)) == ["v3 = _nb.empty((n0, 1), np.float64)"]
    full = ir.Alloc(ir.Arr("v4", f64, 1), shape[:1], ir.Const(-np.inf, f64, bare=True))
    assert ir.lines(full) == ["v4 = _nb.full((n0,), -np.inf, np.float64)"]
    assert ir.lines(ir.Alloc(ir.Arr("o", np.dtype(np.int64), 0), ())) == ["o = _nb.empty((), np.int64)"]
    assert not ir.direct(full)  # Python, not loop code


@pytest.fixture
def table_backend(monkeypatch):
    from funcad.backend import dispatch

    monkeypatch.setenv("FUNCAD_JIT_BACKEND", "table")
    dispatch._executables.clear()


def test_reductions_into_filled_arrays_run_on_the_table(table_backend):
    from funcad.backend import dispatch, table

    def f(x):  # leading-axis reductions accumulate into arrays filled with their identity
        return fnp.max(fnp.exp(x), axis=0), fnp.sum(x * x, axis=0), fnp.min(x, axis=0)

    x = np.random.default_rng(3).normal(size=(9, 4))
    x[2, 1] = np.nan
    src = fa.jit(f).lower(x).source
    got = fa.jit(f)(x)
    assert all(isinstance(e, table.TableProgram) for e in dispatch._executables.values())
    with fa.disable_jit():
        want = f(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-14, equal_nan=True)
    assert "# table program" in src
    assert np.isnan(got[0][1]) and np.isnan(got[2][1])
