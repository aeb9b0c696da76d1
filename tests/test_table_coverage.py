"""The table backend compiles every program (issue 16): what it has no native code for runs as
host steps inside the program (NumPy's implementation, logged with the reason), integers and
complex numbers to a traced power and FFTs natively. Each case is a TableProgram whose
results equal eager funcad's and NumPy's."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import funcad as fa
import funcad.lax as lax
import funcad.numpy as fnp
from funcad.backend import table, table_fft
from funcad.backend.simplify import simplify
from funcad.errors import UnsupportedPythonError
from funcad.jaxpr import Jaxpr
from funcad.lax.control import while_p
from funcad.tree_util import tree_leaves

RNG = np.random.default_rng(16)
X = RNG.standard_normal((4, 5))
Z = (RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3)))
IDX = np.array([3, 0, 3, 1])


def on_table(f, *args):
    """``jit(f)(*args)`` compiled afresh; asserts it ran as one table program, returns
    (results, the program)."""
    entry, leaves = fa.jit(f)._entry(args, {})
    program = table.build(simplify(entry.jaxpr))  # (what jit runs; float16 too, uncompiled by jit)
    assert isinstance(program, table.TableProgram)
    return program([*entry.consts, *leaves]), program


def same(got, want, exact=False):
    for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


CASES = {  # formerly Unsupported (the Numba path): host steps or native now
    "advanced index": (lambda x: x[IDX] * 2.0, X),
    "index_add at an advanced index": (lambda x: fa.grad(lambda x: fnp.sum(x[IDX] ** 2))(x), X),
    "index_add of a broadcast update": (lambda x: fnp.asarray(x).at[1:3].add(1.5), X),
    "matmul of integers": (lambda a: a @ a.T, np.arange(12).reshape(3, 4)),
    "complex matmul": (lambda z: z @ z.T, Z),
    "batched complex matmul": (lambda z: fnp.stack([z, 2 * z]) @ z, Z),
    "einsum of integers": (lambda a: fnp.einsum("ij,kj->ik", a, a), np.arange(12).reshape(3, 4)),
    "complex solve (LAPACK)": (lambda z: fnp.linalg.solve(z + 3 * np.eye(3), z), Z),
    "a complex while carry": (lambda z: lax.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * 1.5j, c[1] + 1),
                                                       (z, 0))[0], Z),
    "an int8 scan carry": (lambda a: lax.scan(lambda c, x: (c + x, c * x), np.int8(1), a),
                           np.arange(6, dtype=np.int8)),
    "a scan body with constants": (lambda x: lax.scan(lambda c, r: (c + r @ X.T, c), np.zeros(4), x)[0], X),
    "a cond with a constant": (lambda x: lax.cond(fnp.sum(x) > 0, lambda x: x * X, lambda x: x - X, x), X),
}


@pytest.mark.parametrize("name", CASES)
def test_formerly_unsupported_programs_compile_on_the_table_and_match_eager(name):
    f, x = CASES[name]
    got, _ = on_table(f, x)
    same(got, tree_leaves(f(x)))


def plan_of(f, *args) -> table.Plan:
    """The table's plan of ``jit(f)(*args)`` (as table.build makes it)."""
    j = simplify(fa.jit(f)._entry(args, {})[0].jaxpr)
    return table.Plan(*table.HOST.inline_calls(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars)))


def host_steps(f, *args) -> list:
    return [k.eqn.prim.name for k, _ in plan_of(f, *args).calls if type(k).__name__ == "HostStep"]


def test_float16_loops_are_host_steps_logged_with_the_reason(monkeypatch, caplog):
    monkeypatch.setenv("FUNCAD_LOG_COMPILES", "1")
    x = np.linspace(-1, 1, 7).astype(np.float16)
    with caplog.at_level(logging.WARNING, "funcad.jit"):
        (got,), program = on_table(lambda x: fnp.sin(x) * x + 1, x)
    same(got, np.sin(x) * x + np.float16(1), exact=True)
    assert program.host and "host step" in caplog.text and "float16" in caplog.text


@pytest.mark.parametrize("dt", [np.longdouble, np.clongdouble])
def test_long_doubles_are_host_steps_and_their_copies_and_fills_keep_every_bit(dt):
    x = (np.linspace(0, 1, 5) + 1 / 3).astype(dt)  # (they were once read as doubles: garbage)

    def f(x):
        return (fnp.sin(x) * 2 + x, fnp.full(3, 1 / 3, dt), fnp.concatenate([x, x])[::2],
                x.reshape(5, 1).T.reshape(5), lax.fori_loop(0, 3, lambda i, c: c * 2, x))

    got, _ = on_table(f, x)
    same(got, f(x), exact=True)


def test_control_flow_the_table_cannot_plan_is_one_host_step(monkeypatch):
    monkeypatch.setitem(table.SINGLE, while_p, lambda plan, e: (_ for _ in ()).throw(table.Unsupported("no")))

    def f(x):
        return lax.while_loop(lambda c: c[1] < 4, lambda c: (fnp.sin(c[0]) + c[0], c[1] + 1), (x, 0))

    got, _ = on_table(f, X)
    assert host_steps(f, X) == ["while"]
    same(got, tree_leaves(f(X)))


@pytest.mark.parametrize("dt", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64])
def test_integers_to_a_traced_power_are_native_and_wrap_as_numpy(dt):
    x = np.array([-3, -2, -1, 0, 1, 2, 3, 7, 100]).astype(dt)  # (unsigned: wrapped)
    y = np.array([0, 1, 2, 3, 5, 7, 9, 63, 64], dt)
    (got,), program = on_table(lambda x, y: x ** y + x, x, y)
    assert not program.host
    same(got, x ** y + x, exact=True)


def test_a_negative_integer_exponent_raises_numpys_error():
    with pytest.raises(ValueError) as numpy_error:
        np.power(np.arange(3), np.array([1, -1, 2]))
    f = fa.jit(lambda x, y: x ** y * 2)
    x = np.arange(3)
    np.testing.assert_array_equal(f(x, np.array([1, 3, 2])), x ** np.array([1, 3, 2]) * 2)
    with pytest.raises(ValueError) as e:
        f(x, np.array([1, -1, 2]))
    assert str(e.value) == str(numpy_error.value) == "Integers to negative integer powers are not allowed."
    np.testing.assert_array_equal(f(x, np.array([2, 0, 1])), x ** np.array([2, 0, 1]) * 2)  # (status reset)


def test_integer_powers_in_a_parallel_kernel_report_a_negative_exponent_from_any_thread():
    from funcad.backend import codegen

    n = 2 * codegen.PARALLEL_MIN_SIZE
    x, y = np.arange(n) % 7 - 3, np.arange(n) % 5
    f = fa.jit(lambda x, y: (fnp.sum(x ** y), x ** y))
    total, power = f(x, y)
    assert total == np.sum(x ** y) and np.array_equal(power, x ** y)
    y[-3] = -2
    with pytest.raises(ValueError, match="Integers to negative integer powers are not allowed"):
        f(x, y)


@pytest.mark.parametrize("dt", [np.complex128, np.complex64])
def test_complex_to_a_traced_power_is_native_with_numpys_bits(dt):
    vals = [0, 1, -1, 2, -2, 3, -3, 4, -5, 99, -99, 100, 0.5, 2.5, -1.5, 1j, 2 + 1j, 0.5 - 0.25j,
            np.inf, np.nan, -0.0]
    z, w = np.meshgrid(np.array(vals + [3 + 4j, -2 - 1j, complex(np.inf, 1)], dt), np.array(vals, dt))
    (got,), program = on_table(lambda z, w: z ** w, z, w)
    assert not program.host
    with np.errstate(all="ignore"):
        want = z ** w
    np.testing.assert_array_equal(got, want)  # (NaNs equal)
    (got,), _ = on_table(lambda z: z ** 2.5, z)  # a constant non-integer exponent: not z ** 2
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, z ** 2.5)


FFTS = [(kind, dt, shape, k) for kind in ("fft", "ifft", "rfft", "irfft") for dt in (np.float64, np.float32)
        for shape, k in (((8,), 1), ((5, 7), 1), ((3, 4, 6), 2), ((2, 3, 4, 5), 3))]


@pytest.mark.parametrize("kind,dt,shape,k", FFTS)
def test_ffts_are_native_kernels_with_numpys_bits(kind, dt, shape, k):
    lengths = shape[-k:]
    x = RNG.standard_normal(shape).astype(dt)
    if kind != "rfft":
        x = (x + 1j * RNG.standard_normal(shape)).astype(np.result_type(dt, np.complex64))
    if kind == "irfft":
        x = x[..., :lengths[-1] // 2 + 1]
    def f(x):
        return lax.fft(x, kind, lengths)

    (got,), program = on_table(f, x)
    assert not program.host and any(isinstance(k, table_fft.Pocketfft) for k in plan_of(f, x).kernels)
    same(got, f(x), exact=True)  # eager
    numpy = getattr(np.fft, kind + "n")(x, lengths, tuple(range(-k, 0)))
    np.testing.assert_array_equal(got, numpy.astype(got.dtype))


@pytest.mark.parametrize("n", [1, 2, 12, 97])
@pytest.mark.parametrize("rows", [1, 9])
@pytest.mark.parametrize("dt", [np.complex128, np.complex64])
def test_pocketfft_loops_as_the_table_calls_them_equal_numpy(n, rows, dt):
    z = (RNG.standard_normal((rows, n)) + 1j * RNG.standard_normal((rows, n))).astype(dt)
    x = z.real.copy()

    def f(z, x):
        spec = fnp.fft.rfft(x)
        return fnp.fft.fft(z), fnp.fft.ifft(z), spec, fnp.fft.irfft(spec, n=n)

    got, program = on_table(f, z, x)
    assert not program.host
    spec = np.fft.rfft(x)
    for g, w in zip(got, (np.fft.fft(z), np.fft.ifft(z), spec, np.fft.irfft(spec, n=n))):
        np.testing.assert_array_equal(g, w)


def test_fft_of_a_strided_view_and_through_grad():
    x = RNG.standard_normal((6, 8)) + 1j * RNG.standard_normal((6, 8))
    (got,), _ = on_table(lambda x: fnp.fft.fft(x.T[1:, ::2], axis=0), x)
    same(got, np.fft.fft(x.T[1:, ::2], axis=0))
    r = RNG.standard_normal(16)

    def loss(r):
        return fnp.sum(fnp.abs(fnp.fft.rfft(r)) ** 2)

    (g,), _ = on_table(fa.grad(loss), r)
    same(g, fa.grad(loss)(r))
    e = np.eye(16)[3] * 1e-6  # and NumPy's loss by central differences
    fd = (np.sum(np.abs(np.fft.rfft(r + e)) ** 2) - np.sum(np.abs(np.fft.rfft(r - e)) ** 2)) / 2e-6
    np.testing.assert_allclose(g[3], fd, rtol=1e-6)


def test_an_unsupported_python_build_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(table, "_OFFSETS", None)
    with pytest.raises(UnsupportedPythonError, match="free-threaded.*standard .GIL. CPython.*disable_jit"):
        on_table(lambda x: x * 2.0, X)
