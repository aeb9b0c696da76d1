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
    env = {**os.environ, "FUNCAD_CACHE_DIR": str(cache_dir),
           "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-W", "always", "-c", code.format(tests=str(ROOT / "tests"))],
                       env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "stderr": r.stderr}


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
    # The interpreter every program calls through is one object file, checked as the others
    (runtime,) = (tmp_path / "table").glob("runtime-*.o")
    data = bytearray(runtime.read_bytes())
    data[len(data) // 2] ^= 0xFF
    runtime.write_bytes(bytes(data))
    out = _child(tmp_path)
    assert "digest differs" in out["stderr"] and out["stats"]["loaded"] == 1
    np.testing.assert_allclose(out["value"], value, rtol=1e-12)


def test_reductions_into_filled_arrays_run_on_the_table(on_table):
    def f(x):  # leading-axis reductions accumulate into arrays filled with their identity
        return fnp.max(fnp.exp(x), axis=0), fnp.sum(x * x, axis=0), fnp.min(x, axis=0)

    x = np.random.default_rng(3).normal(size=(9, 4))
    x[2, 1] = np.nan
    src = fa.jit(f).lower(x).source
    got = on_table(f, x)
    with fa.disable_jit():
        want = f(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-14, equal_nan=True)
    assert "# table program" in src
    assert np.isnan(got[0][1]) and np.isnan(got[2][1])


# -- jit's per-call path: one walk over the arguments keys the compiled program -------------


def _counted(fn):
    traces = []

    def f(*args, **kwargs):
        traces.append(1)
        return fn(*args, **kwargs)

    return f, traces


def test_weak_types_and_dtypes_retrace_exactly_when_numpy_would_type_them_apart(table_backend):
    f, traces = _counted(lambda x, y: x * y)
    g = fa.jit(f)
    x, x32 = np.arange(3.0), np.arange(3.0, dtype=np.float32)
    cases = [(x, 2.0, 1), (x, 3.0, 1), (x, 2, 2), (x, np.float64(2.0), 3), (x, np.float64(5.0), 3),
             (x32, 2.0, 4), (x32, 4.0, 4), (x32, np.float64(2.0), 5), (x32, True, 6), (x, 1j, 7)]
    for a, b, n in cases:
        out = g(a, b)
        want = a * b  # NumPy's promotion (NEP 50): a Python number is weakly typed
        assert out.dtype == want.dtype and len(traces) == n, (a.dtype, b, out.dtype, len(traces))
        np.testing.assert_array_equal(out, want)


def test_structures_shapes_and_leaf_kinds_key_the_cache(table_backend):
    f, traces = _counted(lambda p, s=None: (p[0] * 2.0 + p[1]) if s is None else p["a"] - p["b"])
    g = fa.jit(f)
    a, b = np.arange(3.0), np.ones(3)
    calls = [((a, b), 1), ((a, b), 1), ([a, b], 2), ([b, a], 2), ((a, 1.0), 3), ((a, np.ones(1)), 4),
             ((a, np.ones((1, 3))), 5), ((a[None], b), 6)]
    for p, n in calls:
        want = f(p)  # eagerly, here
        np.testing.assert_array_equal(g(p), want)
        traces.pop()
        assert len(traces) == n, (p, len(traces))
    g({"a": a, "b": b}, s=1)
    g({"b": b, "a": a}, s=1)  # the same dict: keys are sorted
    np.testing.assert_array_equal(g({"b": b, "a": 2 * a}, s=1), 2 * a - b)
    assert len(traces) == 7
    g({"a": a, "b": b}, s=2)  # (the same type)
    assert len(traces) == 7
    g({"a": a, "b": b}, s=2.0)  # a traced keyword argument of another type
    assert len(traces) == 8


def test_none_namedtuples_subclasses_and_tracers_take_their_paths(table_backend):
    from collections import namedtuple

    Pair = namedtuple("Pair", "x y")
    f, traces = _counted(lambda t: t[0] * 2.0 if t[1] is None else t.x * t.y)
    g = fa.jit(f)
    x = np.arange(4.0)
    for _ in range(2):
        np.testing.assert_array_equal(g((x, None)), 2 * x)
        np.testing.assert_array_equal(g(Pair(x, x)), x * x)
    assert len(traces) == 2

    class Sub(np.ndarray):
        pass

    np.testing.assert_array_equal(g((x.view(Sub), None)), 2 * x)
    h = fa.jit(lambda x: fnp.sum(fnp.sin(x) * x))
    h(x)  # compiled, then called under grad and vmap: traced, never the compiled call
    np.testing.assert_allclose(fa.grad(h)(x), np.sin(x) + x * np.cos(x), rtol=1e-14)
    np.testing.assert_allclose(fa.vmap(h)(np.stack([x, 2 * x])), [np.sum(np.sin(x) * x),
                               np.sum(np.sin(2 * x) * 2 * x)], rtol=1e-14)


def test_arguments_are_converted_for_the_program(table_backend):
    g = fa.jit(lambda x, y: x @ y + 1.0)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 8)), rng.normal(size=(4, 5))
    for x, y in [(a[:3, ::2], b), (np.asfortranarray(a[:3, :4]), b), (a[:3, :4].astype(">f8"), b),
                 (a[:3, :4], b[:, ::-1]), (a[:3, :4].astype(np.float32), b)]:
        np.testing.assert_allclose(g(x, y), np.asarray(x) @ np.asarray(y) + 1.0, rtol=1e-14)


def test_static_arguments_and_keywords_on_the_per_call_path(table_backend):
    f, traces = _counted(lambda x, n, **kw: x ** n * kw.get("scale", 1.0))
    g = fa.jit(f, static_argnums=1)
    x = np.arange(1.0, 4.0)
    for n, kw, count in [(2, {}, 1), (2, {}, 1), (3, {}, 2), (3.0, {}, 2), (3, {"scale": 2.0}, 3),
                         (3, {"scale": 5.0}, 3), (3, {"scale": np.ones(3)}, 4)]:
        np.testing.assert_allclose(g(x, n, **kw), x ** n * kw.get("scale", 1.0), rtol=1e-15)
        assert len(traces) == count, (n, kw)
    with pytest.raises(fa.errors.ArgumentError, match="not hashable"):
        g(x, [2])


def test_outputs_are_rebuilt_fresh_in_their_structure(table_backend):
    x = np.arange(3.0)
    for fn in [lambda x: x + 1.0, lambda x: (x + 1.0,), lambda x: (x, [x * 2.0, (x * 3.0,)], ()),
               lambda x: {"b": x * 2.0, "a": [x, None]}, lambda x: None, lambda x: []]:
        g = fa.jit(fn)
        first, again = g(x), g(x)
        with fa.disable_jit():
            want = fn(x)
        assert fa.tree_util.tree_structure(again) == fa.tree_util.tree_structure(want)
        for o, w in zip(fa.tree_util.tree_leaves(again), fa.tree_util.tree_leaves(want), strict=True):
            np.testing.assert_array_equal(o, w)
        if isinstance(want, tuple | list) and want:
            assert first is not again and first[0] is not again[0]


def test_debug_nans_and_disable_jit_still_apply_after_the_first_call(table_backend):
    g = fa.jit(lambda x: fnp.log(x))
    g(np.ones(2))
    g(np.ones(2))
    with fa.disable_jit():
        assert g(-1.0) != g(-1.0)  # eager: NaN, no error
    fa.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="log"):
            g(-np.ones(2))
    finally:
        fa.config.update("debug_nans", False)


# -- import funcad: SciPy's heavy modules come with their first use ------------------------


def test_import_funcad_imports_no_scipy_submodule_until_one_is_used():
    code = """
import sys, json
import numpy as np
import funcad as fa, funcad.numpy as fnp
before = sorted(m for m in sys.modules if m.startswith(("scipy", "numpy.f2py", "numpy.testing")))
x, a = np.array([-1.5, 0.25, 2.0]), np.tril(np.ones((3, 3))) + np.eye(3)
out = {"before": before, "expit": fa.nn.sigmoid(x).tolist(), "erf": fa.scipy.special.erf(x).tolist(),
       "gammainc": fa.scipy.special.gammainc(2.0, np.abs(x)).tolist(),
       "trisolve": fa.scipy.linalg.solve_triangular(a, x, lower=True).tolist(),
       "sparsity": fa.jacobian_sparsity(lambda v: v[1:] * v[:-1])(x).toarray().tolist()}
print(json.dumps(out))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["before"] == []
    import scipy.linalg
    import scipy.special

    x = np.array([-1.5, 0.25, 2.0])
    np.testing.assert_allclose(out["expit"], scipy.special.expit(x), rtol=1e-15)
    np.testing.assert_allclose(out["erf"], scipy.special.erf(x), rtol=1e-15)
    np.testing.assert_allclose(out["gammainc"], scipy.special.gammainc(2.0, np.abs(x)), rtol=1e-15)
    a = np.tril(np.ones((3, 3))) + np.eye(3)
    np.testing.assert_allclose(out["trisolve"], scipy.linalg.solve_triangular(a, x, lower=True), rtol=1e-15)
    assert out["sparsity"] == [[1, 1, 0], [0, 1, 1]]
