"""The table backend as jit's default (FUNCAD_JIT_BACKEND unset): which backend runs a
program, its log, an unknown backend's error, the disk cache's accounting of object code, and
table programs under threads and inside a host callback of another program."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import cache, dispatch, table_engine
from funcad.errors import FuncadError, UnknownBackendError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """The default backend, a cache directory of the test's own, no memoized executables."""
    monkeypatch.delenv("FUNCAD_JIT_BACKEND", raising=False)
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(tmp_path))
    dispatch._executables.clear()
    yield tmp_path
    dispatch._executables.clear()


def _backends():
    return {type(e).__name__ for e in dispatch._executables.values()}


def _loss(w, x):
    return fnp.sum(fnp.tanh(x @ w) ** 2)


W, X = np.linspace(-1, 1, 6).reshape(3, 2), np.linspace(0, 2, 12).reshape(4, 3)


def test_default_backend_is_the_table(fresh):
    got = fa.jit(fa.grad(_loss))(W, X)
    assert _backends() == {"TableProgram"}
    np.testing.assert_allclose(got, fa.grad(_loss)(W, X), rtol=1e-13)


def test_the_table_backend_named_loosely(fresh, monkeypatch):
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", " Table ")  # spelled loosely: still the table
    np.testing.assert_allclose(fa.jit(lambda x: fnp.sin(x) * 2.0)(X), np.sin(X) * 2.0, rtol=1e-15)
    assert _backends() == {"TableProgram"}


@pytest.mark.parametrize("value", ["llvm", "tabel", "jax"])
def test_unknown_backend_is_a_clear_error(fresh, monkeypatch, value):
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", value)
    with pytest.raises(UnknownBackendError, match=rf"FUNCAD_JIT_BACKEND='{value}'.*'table'") as e:
        fa.jit(lambda x: x * 3.0)(np.ones(2))
    assert isinstance(e.value, FuncadError) and isinstance(e.value, ValueError)
    with pytest.raises(UnknownBackendError):  # whatever the program (float16: interpreted)
        fa.jit(lambda x: x * 3.0)(np.ones(2, np.float16))


def test_log_names_the_table_backend(fresh, monkeypatch, caplog):
    monkeypatch.setenv("FUNCAD_LOG_COMPILES", "1")
    f = fa.jit(lambda x: fnp.exp(x) * 3.5 - 0.25)
    with caplog.at_level(logging.WARNING, logger="funcad.jit"):
        f(np.ones(7))
    assert "<lambda>: table backend, 1 kernel" in caplog.text
    assert "compiled in" in caplog.text or "reusing compiled code in" in caplog.text
    assert "Numba" not in caplog.text


def test_compiles_are_quiet_without_logging(fresh, monkeypatch, caplog):
    monkeypatch.delenv("FUNCAD_LOG_COMPILES", raising=False)
    with caplog.at_level(logging.DEBUG, logger="funcad.jit"):
        np.testing.assert_allclose(fa.jit(_loss)(W, X), _loss(W, X), rtol=1e-14)
    assert _backends() == {"TableProgram"} and not caplog.records


def test_lower_shows_the_table_program(fresh):
    low = fa.jit(lambda x: fnp.sum(fnp.sin(x) * 2.0)).lower(np.ones(5))
    assert low.source.startswith("# table program funcad_table_")
    assert "np.sin" in low.source or "sin(" in low.source


def test_cache_info_clear_and_bound_count_object_code(fresh, monkeypatch):
    assert cache.info()["entries"] == 0
    table_engine._runtime.cache_clear()  # the runtime module's object code (in this cache directory too)
    fa.jit(lambda x: fnp.cos(x) * 1.5 + 2.0)(np.ones(9))
    (obj,) = _programs(fresh)
    info = cache.info()
    assert info["entries"] == 2 and info["bytes"] >= obj.stat().st_size > 0  # and the runtime's
    # the size bound: a second program's object code evicts the least recently used one
    monkeypatch.setenv("FUNCAD_CACHE_MAX_BYTES", str(info["bytes"] + obj.stat().st_size // 2))
    os.utime(obj, (1, 1))  # certainly the oldest
    fa.jit(lambda x: fnp.sin(x) * 0.5 - 1.0)(np.ones(9))
    objs = _programs(fresh)
    assert obj not in objs and len(objs) == 1 and not obj.with_suffix(".sums").exists()
    monkeypatch.delenv("FUNCAD_CACHE_MAX_BYTES")
    assert cache.clear() >= 1 and not list((fresh / "table").glob("*"))
    # the code stays in this process: memoized programs still run, new ones compile again
    assert np.allclose(fa.jit(lambda x: fnp.sin(x) * 0.5 - 1.0)(np.ones(9)), np.sin(1) * 0.5 - 1)


def test_cache_command_counts_object_code(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), FUNCAD_CACHE_DIR=str(tmp_path))
    env.pop("FUNCAD_JIT_BACKEND", None)
    code = "import funcad as fa, numpy as np; fa.jit(lambda x: x * 2.0 + 1.0)(np.ones(3))"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert len(_programs(tmp_path)) == 1

    def command(action):
        return subprocess.run([sys.executable, "-m", "funcad", "cache", action], env=env, timeout=120,
                              capture_output=True, text=True, check=True).stdout

    assert "entries:   2" in command("info")  # the program's object code and the runtime's
    assert "removed 2 entries" in command("clear") and not list((tmp_path / "table").glob("*.o"))


def _programs(cache_dir):
    """The programs' object files in the cache (not the runtime module's)."""
    return [o for o in (cache_dir / "table").glob("*.o") if not o.name.startswith("runtime-")]


def test_the_memo_bound_holds_table_programs(fresh, monkeypatch):
    monkeypatch.setenv("FUNCAD_JIT_CACHE_SIZE", "2")
    for k in range(6):
        fa.jit(lambda x, k=k: x * float(k + 2))(np.ones(3))
    assert len(dispatch._executables) <= 4 and _backends() == {"TableProgram"}


def test_two_threads_call_one_table_program(fresh):
    f = fa.jit(fa.value_and_grad(_loss))
    rng = np.random.default_rng(0)
    inputs = [(rng.normal(size=(3, 2)), rng.normal(size=(40, 3))) for _ in range(8)]
    want = [f(*a) for a in inputs]
    assert _backends() == {"TableProgram"}
    errors, barrier = [], threading.Barrier(2)

    def work(order):
        barrier.wait()
        for _ in range(50):
            for j in order:
                v, g = f(*inputs[j])
                if not (v == want[j][0] and np.array_equal(g, want[j][1])):
                    errors.append(j)

    threads = [threading.Thread(target=work, args=(o,)) for o in (range(8), range(7, -1, -1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_two_threads_compile_at_once(fresh):
    """The process has one LLVM engine: first calls in two threads compile one at a time."""
    results, barrier = {}, threading.Barrier(2)

    def work(k):
        barrier.wait()
        results[k] = fa.jit(lambda x: fnp.tanh(x) * float(k) + fnp.exp(-x))(np.linspace(0, 1, 11 + k))

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (1, 2):
        x = np.linspace(0, 1, 11 + k)
        np.testing.assert_allclose(results[k], np.tanh(x) * k + np.exp(-x), rtol=1e-14)
    assert _backends() == {"TableProgram"}


def test_table_program_inside_a_host_callback(fresh):
    """A callback of one compiled program calls another jitted function (on the table)."""
    inner = fa.jit(lambda v: fnp.sum(fnp.sin(v) ** 2))

    def host(v):
        return np.asarray(inner(np.asarray(v)))

    def outer(x):
        s = fa.pure_callback(host, np.zeros((), np.float64), x * 2.0)
        return s + fnp.sum(x)

    x = np.linspace(0, 1, 6)
    got = fa.jit(outer)(x)
    np.testing.assert_allclose(got, np.sum(np.sin(2 * x) ** 2) + np.sum(x), rtol=1e-14)
    assert "TableProgram" in _backends()


def test_an_integer_index_is_a_view_of_one_element(fresh):
    """``x[1]`` of a 1-D value is a 0-d region at the element's offset (indexing an array of
    its strides gave a NumPy scalar, not a view: a wild offset, read past the buffer)."""
    def f(x):
        return fnp.array([x[0] * x[1], x[1], 2.0]) + x[..., 2] + x[-1:][0]

    x = np.array([0.3, -0.7, 0.5])
    got = fa.jit(f)(x)
    assert _backends() == {"TableProgram"}
    np.testing.assert_array_equal(got, np.array([x[0] * x[1], x[1], 2.0]) + x[2] + x[2])


@pytest.mark.parametrize("index", [(1,), (1, 2), (1, 2, 3), (Ellipsis, 1), (0, Ellipsis, 1),
                                   (slice(None), None, 1), (slice(1, None), slice(None, None, -2))])
def test_basic_indexes_are_views_at_the_right_offsets(fresh, index):
    x = np.arange(24.0).reshape(2, 3, 4)

    def f(x):
        return fnp.concatenate([fnp.ravel(x[index] * 1.0), fnp.ravel(x[index])])

    got = fa.jit(f)(x)
    assert _backends() == {"TableProgram"}
    np.testing.assert_array_equal(got, np.concatenate([np.ravel(x[index])] * 2))


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 4)])
def test_empty_views_as_outputs(fresh, shape):
    """Outputs that are views of an empty input or value (a reversed one's offset lies past
    its buffer: read as NumPy reads it, not past the bytes)."""
    def f(e):
        return e, e.T, e[..., ::-1], e[::-1], (e * 2.0)[..., ::-1], e[1:1], e.reshape(-1)

    e = np.zeros(shape)
    got = fa.jit(f)(e)
    assert _backends() == {"TableProgram"}
    for a, b in zip(got, f(e), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype


def test_the_weighted_gram_is_exactly_symmetric(fresh):
    """``X.T @ (X * s[:, None])`` (a Hessian summed over rows) is exactly symmetric
    (tests/test_jit_gram.py): ?gemm's upper triangle, mirrored."""
    rng = np.random.default_rng(3)
    X, s = rng.standard_normal((50, 37)), rng.standard_normal(50)
    H = fa.jit(lambda X, s: X.T @ (X * s[:, None]))(X, s)
    assert _backends() == {"TableProgram"}
    assert np.array_equal(H, H.T)
    np.testing.assert_allclose(H, X.T @ (X * s[:, None]), rtol=1e-12, atol=1e-12 * 50)


_TWO_PROGRAMS = """
import numpy as np, funcad as fa, funcad.numpy as fnp
from funcad.backend import dispatch, table
x = np.linspace(-1.0, 1.0, 999)
a = fa.jit(lambda x: fnp.exp(x) + 1.0)(x)
b = fa.jit(lambda x: fnp.sum(fnp.exp(x) * fnp.tanh(x)))(x)
assert {type(e).__name__ for e in dispatch._executables.values()} == {"TableProgram"}
np.testing.assert_array_max_ulp(a, np.exp(x) + 1.0, 4)
np.testing.assert_allclose(b, np.sum(np.exp(x) * np.tanh(x)), rtol=1e-13)
print(table.stats["loaded"], table.stats["compiled"])
"""


def test_table_programs_call_vector_math_and_load_together_from_disk(tmp_path):
    """Two table programs calling the same vector function (each module its own copy of
    vecmath's wrapper) load into one process from the disk cache, link and run; their object
    code calls libmvec's vector routines where vector math is on."""
    from funcad.backend import vecmath

    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("FUNCAD_JIT_BACKEND", None)
    runs = [subprocess.run([sys.executable, "-c", _TWO_PROGRAMS], env=env, capture_output=True,
                           text=True, timeout=300) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert runs[0].stdout.split() == ["0", "2"] and runs[1].stdout.split() == ["2", "0"]
    if vecmath.ISA.startswith("libmvec"):
        objs = b"".join(o.read_bytes() for o in (tmp_path / "table").glob("*.o"))
        assert b"_ZGV" in objs and b"_exp" in objs
