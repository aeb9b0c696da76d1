"""Integer, bool and complex loops and the remaining scalar functions on the table backend
(backend/loopir.py's LLVM printer): each program must take the table and give NumPy's
results (eager funcad), exactly for integers, bools and casts, to a few ulps for floats and
complex values; random small elementwise programs (hypothesis) against eager funcad."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funcad as fa
import funcad.numpy as fnp
import funcad.scipy.special as fsp

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def eager(f, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return f(*args)


def same(got, want, ulps=0):
    """Equal dtypes and values (NaN where NaN, the sign of zeros), within ``ulps`` for floats."""
    got, want = (x if isinstance(x, tuple | list) else [x] for x in (got, want))
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, w.dtype, g.shape, w.shape)
        if w.dtype.kind in "fc" and ulps:  # (complex: ulps of |w|, NumPy's SIMD loops use fma)
            scale = np.where(np.isfinite(w), np.abs(w), 0)
            for p, q in ((g.real, w.real), (g.imag, w.imag)) if w.dtype.kind == "c" else ((g, w),):
                np.testing.assert_array_equal(np.isnan(p), np.isnan(q), err_msg=f"output {k}")
                p, q = np.where(np.isnan(q), 0, p), np.where(np.isnan(q), 0, q)
                tol = ulps * np.spacing(np.maximum(scale, np.finfo(q.dtype).tiny / np.finfo(q.dtype).eps))
                with np.errstate(invalid="ignore"):
                    assert np.all((p == q) | (np.abs(p - q) <= tol)), (k, p, q)
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
            if w.dtype.kind == "f":
                np.testing.assert_array_equal(np.signbit(g), np.signbit(w), err_msg=f"output {k}")


def edges(dt):
    dt = np.dtype(dt)
    if dt.kind == "b":
        return np.array([False, True, True, False])
    if dt.kind in "iu":
        i = np.iinfo(dt)
        vals = [i.min, i.min + 1, 0, 1, 2, 7, i.max - 1, i.max] + ([-1, -7] if dt.kind == "i" else [3, 5])
        return np.array(vals, dt)
    vals = [0.0, -0.0, 1.5, -2.5, 7.0, -7.0, 0.1, float(np.finfo(dt).max) / 3, np.inf, -np.inf, np.nan, 3.0]
    if dt.kind == "c":
        return np.array([complex(a, b) for a, b in zip(vals, vals[3:] + vals[:3])], dt)
    return np.array(vals, dt)


@pytest.mark.parametrize("dt", INTS + ["bool"])
def test_integer_and_bool_arithmetic_as_numpy(on_table, dt):
    x = edges(dt)
    X, Y = np.meshgrid(x, x)
    X, Y = X.ravel(), Y.ravel()

    def f(x, y):
        out = [x + y, x * y, fnp.maximum(x, y), fnp.minimum(x, y), x == y, x < y, x >= y,
               fnp.logical_and(x, y), fnp.logical_xor(x, y), fnp.sum(x), fnp.max(x), fnp.min(y)]
        if dt != "bool":
            out += [x - y, x // y, x % y, fnp.fmod(x, y), -x, fnp.abs(x), fnp.sign(x), x ** 5,
                    x * 3 + 1, fnp.sum(x.reshape(10, -1), axis=0)]
        return out

    same(on_table(f, X, Y), eager(f, X, Y))


@pytest.mark.parametrize("dt", INTS)
def test_integer_powers_by_large_and_traced_exponents_as_numpy(on_table, dt):
    """Powers by squaring, wrapping as NumPy's: a constant exponent with the dtype's top bit
    set or as large as it holds (its multiplications written out at compile time, never a
    chain of n products), and traced exponents (a loop over their bits)."""
    x = np.arange(-7, 9).astype(dt)
    bits = np.iinfo(dt).bits
    y = (np.arange(16) * 5 % 23).astype(dt)
    big = 2 ** (bits - 1) - 1 if dt.startswith("int") else 2 ** (bits - 1) + 3
    for n in (big, 201 % 2 ** (bits - 1)):
        same(on_table(lambda x: x ** n, x), np.power(x, np.array(n, dtype=dt)))
    same(on_table(lambda x, y: x ** y, x, y), np.power(x, y))


@pytest.mark.parametrize("src", ["float32", "float64"])
def test_float_to_integer_casts_as_numpy(on_table, src):
    """Truncation toward zero; NaN, infinities and values out of range as NumPy's casts on
    x86-64 (the integer indefinite, narrowed; unsigned 32/64 bits past 2**(n-1))."""
    x = np.array([np.nan, np.inf, -np.inf, 1e10, -1e10, 300.7, -300.7, 3e19, -1.5, 2.0 ** 63, 2.0 ** 31,
                  -2.0 ** 31, 2.0 ** 64, 0.5, -0.0, 255.9, 65535.5, 4294967295.0, -129.0], src)

    def f(x):
        return [x.astype(dt) for dt in INTS + ["bool"]]

    same(on_table(f, x), eager(f, x))


def test_integer_casts_wrap_and_convert_as_numpy(on_table):
    x = edges("int64")
    u = edges("uint64")

    def f(x, u):
        return [x.astype(dt) for dt in INTS + ["float32", "float64", "complex64", "bool"]] + \
            [u.astype(dt) for dt in INTS + ["float32", "float64"]] + [x.astype(bool).astype(np.int16)]

    same(on_table(f, x, u), eager(f, x, u))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_float_division_modulo_and_nan_rules(on_table, dt):
    x = edges(dt)
    X, Y = (a.ravel() for a in np.meshgrid(x, x))

    def f(x, y):
        return [x // y, x % y, fnp.fmod(x, y), fnp.maximum(x, y), fnp.minimum(x, y), fnp.sign(x),
                fnp.rint(x * 2.5), fnp.isnan(x), fnp.isinf(x), fnp.isfinite(x), x != y, x < y,
                fnp.nextafter(x, y), fnp.max(x), fnp.min(x)]

    same(on_table(f, X, Y), eager(f, X, Y))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_special_functions(on_table, dt):
    x = np.linspace(-4, 4, 41).astype(dt)

    def f(x):
        return [fsp.erf(x), fsp.erfc(x), fsp.gammaln(fnp.abs(x) + 0.1), fnp.logaddexp(x, x[::-1]),
                fnp.logaddexp(x, x), fnp.hypot(x, 1.5), fnp.arctan2(x, -x[::-1]), fa.nn.sigmoid(x)]

    tol = 1e-13 if dt == "float64" else 2e-6  # (libm's erfc and lgamma, SciPy's eagerly)
    for g, w in zip(on_table(f, x), eager(f, x), strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("dt", ["complex64", "complex128"])
def test_complex_arithmetic_and_functions(on_table, dt):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=24) + 1j * rng.normal(size=24)).astype(dt)
    z[:4] = [0, 1j, -2.0, 3 + 0j]
    w = z[::-1] * 2 + (1 - 1j)
    w[5] = 0  # complex division by zero: NumPy's inf/nan

    def f(z, w):
        return [z + w, z * w, z / w, -z, fnp.conj(z), fnp.real(z), fnp.imag(w), fnp.abs(z), z == w,
                z != w, fnp.exp(z), fnp.log(w), fnp.sqrt(z), fnp.sin(z), fnp.tanh(z), fnp.arcsin(z / 4),
                fnp.log10(w), fnp.log1p(z), fnp.expm1(z), fnp.exp2(z), fnp.sign(z), z ** 5, fnp.sum(z),
                fnp.maximum(z, w), z.astype(np.complex128), z.real.astype(np.int32),
                fa.lax.complex(z.real, w.imag), fnp.isfinite(w / z)]

    same(on_table(f, z, w), eager(f, z, w), ulps=4)


def test_literal_operands_and_mixed_dtypes(on_table):
    x = np.arange(-5, 5, dtype=np.int32)
    y = np.linspace(-1, 1, 10).astype(np.float32)
    b = x > 0

    def f(x, y, b):
        return [x + 2, x * y, y + 1, b + b, b * b, fnp.where(b, x, -1), x / 2, b.astype(np.float64) + y,
                fnp.square(x), x.astype(np.uint8) + np.uint8(250), fnp.sum(b)]

    same(on_table(f, x, y, b), eager(f, x, y, b), ulps=1)


def test_jit_of_grad_through_integer_steps(on_table):
    """An integer index computed in the program (floor of a float) mixed with floats."""
    def f(x):
        k = fnp.floor(x * 3).astype(np.int32)
        return fnp.sum(fnp.sin(x) * (k % 3))

    x = np.linspace(0.1, 2.0, 12)
    same(on_table(fa.grad(f), x), eager(fa.grad(f), x), ulps=2)
    same(on_table(f, x), eager(f, x), ulps=2)


UNARY = {"neg": lambda x: -x, "abs": fnp.abs, "sign": fnp.sign, "square": fnp.square,
         "floor": fnp.floor, "not": fnp.logical_not, "isnan": fnp.isnan, "half": lambda x: x // 2,
         "exp": fnp.exp, "to_i16": lambda x: x.astype(np.int16), "to_f32": lambda x: x.astype(np.float32),
         "to_u8": lambda x: x.astype(np.uint8), "to_c": lambda x: x.astype(np.complex128)}
BINARY = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y, "floordiv": lambda x, y: x // y, "mod": lambda x, y: x % y,
          "max": fnp.maximum, "min": fnp.minimum, "lt": lambda x, y: x < y, "eq": lambda x, y: x == y,
          "where": lambda x, y: fnp.where(x > y, x, y), "and": fnp.logical_and}
DTYPES = INTS + ["bool", "float32", "float64", "complex64", "complex128"]


def _ok(name, dt):
    """NumPy (and funcad) refuse: negative, sign and subtract of bools, ordering or flooring complex."""
    k = np.dtype(dt).kind
    return not (k == "b" and name in ("neg", "sub", "floordiv", "mod", "half", "sign") or
                k == "c" and name in ("floor", "floordiv", "mod", "half", "lt", "where", "sign")
                or name == "exp" and k != "f")


@st.composite
def programs(draw):
    dt = draw(st.sampled_from(DTYPES))
    step = st.tuples(st.booleans(), st.sampled_from(sorted(UNARY)), st.sampled_from(sorted(BINARY)),
                     st.integers(0, 3))
    steps = draw(st.lists(step, min_size=1, max_size=4))
    return dt, steps


@settings(max_examples=25, deadline=None,  # (on_table keeps no state between examples)
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(programs(), st.integers(0, 2 ** 32 - 1))
def test_random_elementwise_programs_match_eager(on_table, program, seed):
    dt, steps = program
    rng = np.random.default_rng(seed)
    pool = edges(dt)
    x, y = rng.choice(pool, 12), rng.choice(pool, 12)

    def f(x, y):
        vals = [x, y]
        for unary, u, bname, k in steps:
            a, c = vals[k % len(vals)], vals[(k + 1) % len(vals)]
            dts = {np.dtype(a.dtype).kind, np.dtype(c.dtype).kind}
            if unary and _ok(u, a.dtype):
                vals.append(UNARY[u](a))
            elif not unary and all(_ok(bname, d) for d in (a.dtype, c.dtype)) and not (
                    "c" in dts and bname in ("max", "min")) and not ("b" in dts and bname in ("sub",)):
                vals.append(BINARY[bname](a, c))
        return vals[2:] or [x + y if dt != "bool" else x & y]

    want = eager(f, x, y)
    got = on_table(f, x, y)
    same(got, want, ulps=4)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_xla_erf_erf_inv_and_exp_bit_for_bit_eager(on_table, dt):
    """lax.erf, lax.erf_inv and XLA's exp (random's truncated_normal, beta, dirichlet) in table
    loops: the bits of eager funcad (whose kernels tests/test_random*.py check against JAX)."""
    from funcad.core import bind
    from funcad.lax import random as lr

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=300) * 2, [0.0, -0.0, 1e-310, 5.0, -5.0, np.inf, np.nan]]).astype(dt)

    u = np.tanh(x)

    def f(x, u):
        return [bind(lr.xla_erf_p, x * 1), bind(lr.xla_erf_inv_p, u * 1),
                bind(lr.xla_exp_p, x.astype(np.float64) * 30)]

    same(on_table(f, x, u), eager(f, x, u))
