"""jit's vector math (backend/vecmath.py) and its vectorizable reductions.

Each libmvec-backed function against NumPy (float32 and float64, random and special inputs),
the same result for an element wherever it sits in the array, whole-array reductions in
parallel chunks against NumPy and against themselves on one thread, and the loops really
being vectorized (the libmvec routine in the machine code) where vector math is on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch, loopir, table_engine, table_parallel, vecmath

ROOT = Path(__file__).resolve().parent.parent
ON = vecmath.ENABLED
DOMAIN = {"arcsin": (-1, 1), "arccos": (-1, 1), "arctanh": (-1, 1), "arccosh": (1, 50),
          "log": (0, 100), "log2": (0, 100), "log10": (0, 100), "log1p": (-1, 100),
          "power": (0, 10)}
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-310, 1e300, -1e300, 710.0, -750.0,
           1e22, -1e22, 1.0, -1.0, 0.5, -0.5, 2.0 ** 1000, 5e-324, 88.0, -104.0]


def _fn(name):
    return getattr(fnp, name)


def _program(name, nargs):
    f = _fn(name)
    return fa.jit(f if nargs == 1 else (lambda x, y: f(x, y)))


def _assert_close_ulp(actual, expected, maxulp, what):
    """Same NaNs, infs and signs of zero; finite values within ``maxulp``."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, what
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=what)
    finite = np.isfinite(expected)
    other = ~finite & ~np.isnan(expected)
    np.testing.assert_array_equal(actual[other], expected[other], err_msg=what)
    zeros = expected == 0
    np.testing.assert_array_equal(np.signbit(actual[zeros]), np.signbit(expected[zeros]), err_msg=what)
    np.testing.assert_array_max_ulp(actual[finite], expected[finite], maxulp=maxulp)


def test_the_loops_and_vecmath_agree_on_the_functions():
    assert loopir.VECTOR_MATH == frozenset(vecmath.FUNCTIONS)
    assert all(hasattr(np, n) and hasattr(fnp, n) for n in vecmath.FUNCTIONS)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(vecmath.FUNCTIONS))
def test_each_function_matches_numpy_within_4_ulp(name, dtype):
    nargs = vecmath.FUNCTIONS[name][1]
    rng = np.random.default_rng(sorted(vecmath.FUNCTIONS).index(name))
    lo, hi = DOMAIN.get(name, (-30, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # specials overflow float32
        special = np.array(SPECIAL).astype(dtype)
        xs = [np.concatenate([rng.uniform(lo, hi, 4001).astype(dtype), special])]
        if nargs == 2:
            y = np.concatenate([rng.uniform(-6, 6, 4001), rng.permutation(SPECIAL)]).astype(dtype)
            y[::7] = np.round(y[::7])  # integer exponents too (power of a negative base)
            xs.append(y)
        expected = getattr(np, name)(*xs)
        actual = _program(name, nargs)(*xs)
    _assert_close_ulp(actual, expected, 4, f"{name} {np.dtype(dtype).name}")


@pytest.mark.parametrize("name", ["exp", "tanh", "sin", "log1p"])
def test_an_element_gets_the_same_value_wherever_it_sits(name):
    """The vector loop's lanes and its scalar remainder call one routine: an element's value
    does not depend on the array's length or the element's position (bitwise)."""
    f = fa.jit(_fn(name))
    x = np.random.default_rng(0).uniform(-0.9, 3.0, 37)
    whole = np.asarray(f(x))
    for n in (1, 3, 8, 9, 17):
        for start in (0, 1, 5):
            np.testing.assert_array_equal(np.asarray(f(x[start:start + n])), whole[start:start + n])
    np.testing.assert_array_equal(np.asarray(f(x[7])), whole[7])  # a 0-d array: scalar code


def test_float16_and_mixed_operands_keep_numpys_own_functions():
    x16 = np.linspace(-3, 3, 11).astype(np.float16)
    np.testing.assert_array_equal(fa.jit(fnp.exp)(x16), np.exp(x16))  # NumPy's float16 exp, exactly
    src = fa.jit(lambda x: fnp.exp(x)).lower(np.ones(3)).source
    assert "_vm.exp(" in src


def _kernels_calls(asm: str) -> list:
    """The vector routines and funcad_vm_* wrappers a table module's kernels call (the bodies of
    funcad_vm_*, which call the vector routine too, left out)."""
    mine = [p for p in re.split(r"\n(?=\S+:\n)", asm) if not p.startswith("funcad_vm_")]
    return sorted(set(re.findall(r"_ZGV\w+|funcad_vm_\w+_v\d+", "\n".join(mine))))


@pytest.mark.skipif(not ON, reason=f"vector math is off here ({vecmath.ISA})")
def test_loops_with_math_and_a_sum_are_vectorized(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(tmp_path))  # compiled here (not loaded): its asm kept
    table_engine._setup()
    tm = table_engine._tm
    asm, emit = [], tm.emit_object  # (table_engine.compile_object's last step)
    monkeypatch.setattr(tm, "emit_object", lambda m: asm.append(tm.emit_assembly(m)) or emit(m))
    letter, lanes = ("e", 8) if vecmath.ISA == "libmvec-avx512" else ("d", 4)

    def f(x):
        return fnp.sum(fnp.exp(-x * x) * fnp.sin(x)), fnp.tanh(x)

    x = np.linspace(-2, 2, 1000)
    dispatch._executables.clear()
    value, t = fa.jit(f)(x)
    called = _kernels_calls("\n".join(asm))
    for fn in ("exp", "sin", "tanh"):
        assert f"_ZGV{letter}N{lanes}v_{fn}" in called, (fn, called)
    np.testing.assert_allclose(value, np.sum(np.exp(-x * x) * np.sin(x)), rtol=1e-13, atol=1e-13)
    np.testing.assert_array_max_ulp(t, np.tanh(x), maxulp=4)


_WIDTH_CHILD = """
import sys
import llvmlite.binding as ll
if sys.argv[1] != "auto":  # the vector factor a target's cost model might pick
    ll.set_option("", "-force-vector-width=" + sys.argv[1])
import numpy as np, funcad as fa, funcad.numpy as fnp
from funcad.backend import table, table_engine
from tests.test_vecmath import _kernels_calls
table_engine._setup()
asm, emit = [], table_engine._tm.emit_object
table_engine._tm.emit_object = lambda m: asm.append(table_engine._tm.emit_assembly(m)) or emit(m)
def chain(x):
    u = x * x
    return fnp.tanh(x) * fnp.exp(-u) + fnp.log(1.0 + u) * fnp.sin(x)
x = np.linspace(-2.0, 2.0, 1001)
out = fa.jit(chain)(x)
u = x * x
np.testing.assert_array_max_ulp(out, np.tanh(x) * np.exp(-u) + np.log(1.0 + u) * np.sin(x), maxulp=16)
print(" ".join(_kernels_calls("\\n".join(asm))))
"""


@pytest.mark.skipif(not ON, reason=f"vector math is off here ({vecmath.ISA})")
@pytest.mark.parametrize("width", ["auto", "2"])
def test_the_chain_vectorizes_at_every_width_the_vectorizer_may_choose(tmp_path, width):
    """The benchmarks' chain calls the vector routines from its loop, at the width LLVM picks
    on this CPU and at a narrower one forced (LLVM prefers 256-bit vectors on Intel's
    AVX-512 server cores: with only the widest variant declared, the loop stayed scalar)."""
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _WIDTH_CHILD, width], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    called = out.stdout.split()
    letter, lanes = ("e", 8) if vecmath.ISA == "libmvec-avx512" else ("d", 4)
    for fn in ("tanh", "exp", "log", "sin"):
        if width == "auto":
            assert any(c.startswith("_ZGV") and c.endswith(f"_{fn}") for c in called), (fn, called)
        else:
            assert f"funcad_vm_{fn}_f64_v2" in called or f"_ZGV{letter}N{lanes}v_{fn}" in called, (fn, called)


def _chain(x):
    u = x * x
    return fnp.sum(fnp.tanh(x) * fnp.exp(-u) + fnp.log(1.0 + u) * fnp.sin(x))


@pytest.mark.parametrize("shape", [(1 << 20,), (1030, 600)])
def test_parallel_whole_array_reductions_run_in_chunks_and_repeat_on_any_thread_count(shape, on_table):
    x = np.random.default_rng(1).uniform(-2.0, 2.0, shape)

    def f(x):
        return fnp.sum(x * x), fnp.prod(1.0 + x * 1e-7), _chain(x)

    got, program = on_table.run(f, x)
    assert on_table.parallel_kernels(program) >= 1
    assert "_vm.radd(" in program.source and "_vm.rmul(" in program.source
    np.testing.assert_allclose(got[0], np.sum(x * x), rtol=1e-12)
    np.testing.assert_allclose(got[1], np.prod(1.0 + x * 1e-7), rtol=1e-12)
    u = x * x
    np.testing.assert_allclose(got[2], np.sum(np.tanh(x) * np.exp(-u) + np.log(1.0 + u) * np.sin(x)),
                               rtol=1e-11)
    threads = table_parallel.set_threads(1)
    try:
        again = fa.jit(f)(x)
    finally:
        table_parallel.set_threads(threads)
    for a, b in zip(got, again):
        assert float(a) == float(b)  # the chunks depend on the size, not on the threads


def test_small_kernels_sum_with_reassociable_adds_against_numpy():
    x = np.random.default_rng(2).normal(size=(37, 11)).astype(np.float32)
    f = fa.jit(lambda x: (fnp.sum(x), fnp.sum(x, axis=1), fnp.sum(x, axis=0), fnp.prod(x[:5], axis=1)))
    source = f.lower(x).source
    assert "_vm.radd(" in source and "_vm.rmul(" in source
    got = f(x)
    np.testing.assert_allclose(got[0], np.sum(x, dtype=np.float64), rtol=1e-5)
    np.testing.assert_allclose(got[1], np.sum(x, axis=1, dtype=np.float64), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[2], np.sum(x, axis=0, dtype=np.float64), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[3], np.prod(x[:5], axis=1, dtype=np.float64), rtol=1e-5)
    i = np.arange(50, dtype=np.int64).reshape(5, 10)
    src = fa.jit(lambda i: fnp.sum(i, axis=1)).lower(i).source
    assert "_vm.radd" not in src  # integer sums stay plain: LLVM vectorizes them as they are
    np.testing.assert_array_equal(fa.jit(lambda i: fnp.sum(i, axis=1))(i), i.sum(axis=1))


def test_reductions_keep_nan_and_inf_as_numpy_does():
    x = np.ones(1000)
    x[[3, 700]] = [np.inf, -np.inf]
    assert np.isnan(fa.jit(fnp.sum)(x))
    x[700] = 5.0
    assert fa.jit(fnp.sum)(x) == np.inf
    x[10] = np.nan
    assert np.isnan(fa.jit(fnp.sum)(x)) and np.isnan(fa.jit(fnp.prod)(x))


_CHILD = """
import numpy as np, funcad as fa, funcad.numpy as fnp
from funcad.backend import vecmath
x = np.linspace(-3, 3, 101)
print(vecmath.ISA)
np.testing.assert_array_max_ulp(fa.jit(fnp.tanh)(x), np.tanh(x), maxulp=4)
np.testing.assert_array_max_ulp(fa.jit(lambda x: fnp.exp(x) * fnp.cos(x))(x), np.exp(x) * np.cos(x), maxulp=8)
"""


@pytest.mark.parametrize("choice, isa", [("0", "off"), ("avx2", None)])
def test_the_environment_variable_turns_it_off_or_picks_avx2(tmp_path, choice, isa):
    env = dict(os.environ, FUNCAD_VECTOR_MATH=choice, FUNCAD_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    expected = isa or ("libmvec-avx2" if vecmath.ISA != "off" else "off")
    assert out.stdout.split() == [expected]
