"""jit equals eager equals NumPy on every integer, unsigned and boolean dtype, edge values
included (min, -1, 0, 1, max), or raises the error NumPy raises; argnums with repeated
positions; ndarray subclasses refused; the small API points of issue 15.

The differential test compiles ONE program per dtype holding every primitive (one
compilation each, not one per primitive and dtype), and compares each output with NumPy's
(values and dtype, exactly) and with eager funcad. NumPy is the independent reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import ArgumentError, ArraySubclassError, DTypeError, IntegerOutOfBoundsError

DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"]

UNARY = ["negative", "absolute", "sign", "square", "floor", "ceil", "trunc", "sqrt", "isnan",
         "isfinite", "logical_not"]
BINARY = ["add", "subtract", "multiply", "divide", "power", "remainder", "mod", "fmod",
          "floor_divide", "maximum", "minimum", "equal", "not_equal", "less", "greater_equal",
          "logical_and", "logical_or", "logical_xor"]


def edges(dt) -> np.ndarray:
    dt = np.dtype(dt)
    if dt.kind == "b":
        return np.array([False, True])
    i = np.iinfo(dt)
    vals = {i.min, i.min + 1, 0, 1, 2, 7, i.max - 1, i.max} | ({-1, -7} if dt.kind == "i" else set())
    return np.array(sorted(vals), dt)


def pairs(dt):
    x = edges(dt)
    X, Y = np.meshgrid(x, x)
    return X.ravel(), Y.ravel()


def numpy_or_error(name, *args):
    with np.errstate(all="ignore"):
        try:
            return getattr(np, name)(*args)
        except Exception as e:  # noqa: BLE001 - the reference's error class is the expectation
            return e


def _ok(name, dt, *args):
    """Whether NumPy computes ``name`` here (some are errors: tested separately)."""
    return not isinstance(numpy_or_error(name, *args), Exception)


def _operands(name, dt):
    x, y = pairs(dt)
    if name == "power" and dt != "bool" and np.dtype(dt).kind == "i":
        y = np.abs(np.where(y < 0, 3, y)) % 70  # negative exponents raise: tested below
    return x, y


def _assert_same(out, ref, what):
    out = np.asarray(out)
    assert out.dtype == ref.dtype, f"{what}: dtype {out.dtype}, NumPy {ref.dtype}"
    if ref.dtype.kind == "f":
        np.testing.assert_array_equal(np.signbit(out), np.signbit(ref), err_msg=what)
    np.testing.assert_array_equal(out, ref, err_msg=what)


@pytest.mark.parametrize("dt", DTYPES)
def test_every_primitive_under_jit_equals_eager_equals_numpy(dt):
    x1 = edges(dt)
    unary = [n for n in UNARY if _ok(n, dt, x1)]
    binary = [n for n in BINARY if _ok(n, dt, *_operands(n, dt))]
    args = [x1] + [a for n in binary for a in _operands(n, dt)]

    def program(x1, *xy):
        outs = [getattr(fnp, n)(x1) for n in unary]
        outs += [getattr(fnp, n)(xy[2 * k], xy[2 * k + 1]) for k, n in enumerate(binary)]
        return tuple(outs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        jitted, eager = fa.jit(program)(*args), program(*args)
    names = unary + binary
    assert len(jitted) == len(names) >= 12
    for name, j, e, k in zip(names, jitted, eager, range(len(names))):
        operands = (x1,) if k < len(unary) else args[1 + 2 * (k - len(unary)):][:2]
        ref = numpy_or_error(name, *operands)
        _assert_same(e, ref, f"eager {name} on {dt}")
        _assert_same(j, ref, f"jit {name} on {dt}")


@pytest.mark.parametrize("name", ["subtract", "negative", "sign"])
def test_what_numpy_refuses_on_booleans_is_refused_eagerly_and_under_jit(name):
    b = np.array([True, False])
    f = getattr(fnp, name)
    call = (lambda g: g(b, b)) if name == "subtract" else (lambda g: g(b))
    with pytest.raises(TypeError):
        call(getattr(np, name))
    with pytest.raises(DTypeError, match="booleans"):
        call(f)
    with pytest.raises(DTypeError, match="booleans"):
        call(fa.jit(f))


def test_boolean_arithmetic_promotes_as_numpy():
    b = np.array([True, False, True])
    i8 = np.array([3, -4, 5], np.int8)
    cases = [(fnp.add, b, b), (fnp.multiply, b, b), (fnp.power, b, b), (fnp.remainder, b, b | True),
             (fnp.fmod, b, b | True), (fnp.floor_divide, b, b | True), (fnp.multiply, b, i8),
             (fnp.add, b, i8), (fnp.maximum, b, b)]
    for f, x, y in cases:
        ref = getattr(np, f.__name__)(x, y)
        _assert_same(f(x, y), ref, f.__name__)
        _assert_same(fa.jit(f)(x, y), ref, f"jit {f.__name__}")
    _assert_same(fa.jit(fnp.square)(b), np.square(b), "square")


@pytest.mark.parametrize("const", [2**63, 2**70, -(2**63) - 1])
def test_a_python_integer_out_of_bounds_raises_overflow_error_as_numpy(const):
    x = np.array([1, 2], np.int64)
    with pytest.raises(OverflowError):
        x + const
    with pytest.raises(IntegerOutOfBoundsError, match="out of bounds for int64"):
        fnp.add(x, const)
    with pytest.raises(OverflowError, match="out of bounds"):  # not a wrap, not a TypingError
        fa.jit(lambda x: x + const)(x)


def test_small_integer_dtypes_and_unsigned_refuse_constants_that_do_not_fit():
    with pytest.raises(OverflowError):
        fa.jit(lambda x: x * 300)(np.array([1], np.int8))
    with pytest.raises(OverflowError):
        fa.jit(lambda x: x + (-1))(np.array([1], np.uint8))
    for x in (np.array([3], np.int8), np.array([3], np.uint8)):  # power by squarings too
        with pytest.raises(OverflowError):
            x ** 300
        with pytest.raises(IntegerOutOfBoundsError, match=f"300 is out of bounds for {x.dtype}"):
            fa.jit(lambda x: x ** 300)(x)
    np.testing.assert_array_equal(fa.jit(lambda x: x ** 127)(np.array([3], np.int8)),
                                  np.array([3], np.int8) ** 127)
    # comparisons with any Python integer are fine in NumPy 2, and here
    np.testing.assert_array_equal(fa.jit(lambda x: x < 300)(np.array([1], np.int8)), [True])


def test_negative_integer_exponents_raise_value_error_under_jit_too():
    x, y = np.array([2, 3]), np.array([2, -1])
    with pytest.raises(ValueError, match="negative integer powers"):
        np.power(x, y)
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(x, y)
    with pytest.raises(ValueError, match="negative integer powers"):
        fa.jit(fnp.power)(x, y)


def test_integer_remainders_of_the_issue():
    a, b = np.array([-7, 5]), np.array([2, -3])
    np.testing.assert_array_equal(fa.jit(fnp.fmod)(a, b), np.fmod(a, b))  # [-1, 2], was [1, 5]
    u = np.array([0, 1, 127, 128, 255], np.uint8)
    np.testing.assert_array_equal(fa.jit(fnp.sign)(u), np.sign(u))  # was 255 for >= 128


def test_remainder_of_min_int_by_minus_one_does_not_kill_the_process():
    """Was SIGFPE (x86's idiv traps on the overflow): run in a child process."""
    code = textwrap.dedent("""
        import numpy as np, funcad as fa, funcad.numpy as fnp
        m, k = np.array([-2**63, 7, -2**63]), np.array([-1, 0, 3])
        for f in (fnp.remainder, fnp.fmod, fnp.floor_divide):
            with np.errstate(all="ignore"):
                ref = getattr(np, f.__name__)(m, k)
            assert (fa.jit(f)(m, k) == ref).all(), f.__name__
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(fa.__file__).parent.parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, (r.returncode, r.stderr[-2000:])


def test_half_power_at_minus_inf_and_minus_zero_equals_numpy():
    x = np.array([-np.inf, -0.0, 0.0, 2.25, np.inf, -1.0])
    with np.errstate(invalid="ignore"):
        ref = x ** 0.5  # NumPy: sqrt for a scalar exponent 0.5 (C's pow gives inf and +0.0)
        for out in (fa.jit(lambda x: x ** 0.5)(x), x ** 0.5, fnp.power(x, 0.5)):
            _assert_same(out, ref, "x ** 0.5")
        _assert_same(fa.jit(lambda x: x ** 0.5)(x.astype(np.float32)), ref.astype(np.float32), "f32")
    assert fa.grad(lambda x: x ** 0.5)(4.0) == 0.25


# --------------------------------------------------------------------------------------
# argnums


def f3(x, y, z):
    return fnp.sum(fnp.sin(x) * y + z ** 2 * x)


def test_repeated_argnums_give_each_position_its_derivative():
    f = lambda x, y: x * y  # noqa: E731
    assert fa.grad(f, argnums=(0, 0))(2.0, 3.0) == (3.0, 3.0)  # was (0.0, 3.0)
    v, g = fa.value_and_grad(f, argnums=(0, 0))(2.0, 3.0)
    assert v == 6.0 and g == (3.0, 3.0)
    assert fa.jacfwd(f, argnums=(0, 0))(2.0, 3.0) == (3.0, 3.0)
    assert fa.jacrev(f, argnums=(0, 0))(2.0, 3.0) == (3.0, 3.0)
    h = fa.hessian(lambda x, y: x * x * y, argnums=(0, 0))(2.0, 3.0)
    assert np.array(h).tolist() == [[6.0, 6.0], [6.0, 6.0]]
    assert fa.grad(f, argnums=(1, 0, 1))(2.0, 3.0) == (2.0, 3.0, 2.0)
    assert fa.jit(fa.grad(f, argnums=(0, 0)))(2.0, 3.0) == (3.0, 3.0)
    g = fa.grad(lambda x: fnp.sum(x ** 2), argnums=(0, 0))(np.array([1.0, 2.0]))
    assert g[0] is not g[1]  # separate arrays
    np.testing.assert_array_equal(g[1], [2.0, 4.0])


def test_numpy_integer_argnums():
    f = lambda x, y: x * y  # noqa: E731
    assert fa.grad(f, argnums=np.int64(1))(2.0, 3.0) == 2.0
    assert fa.jacrev(f, argnums=np.int32(0))(2.0, 3.0) == 3.0
    assert fa.grad(f, argnums=(np.int64(1), 0))(2.0, 3.0) == (2.0, 3.0)
    assert fa.jit(lambda x, n: x * n, static_argnums=np.int64(1))(2.0, 3) == 6.0


def _fd(f, args, i, eps=1e-6):
    args = [np.array(a, float) for a in args]
    g = np.zeros_like(args[i])
    for k in np.ndindex(g.shape):
        up, dn = [a.copy() for a in args], [a.copy() for a in args]
        up[i][k] += eps
        dn[i][k] -= eps
        g[k] = (f(*up) - f(*dn)) / (2 * eps)
    return g


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.lists(st.integers(-3, 2), min_size=1, max_size=5),
       st.sampled_from(["grad", "value_and_grad", "jacrev", "jacfwd"]))
def test_random_argnums_with_repeats_against_finite_differences(nums, how):
    rng = np.random.default_rng(len(nums))
    args = (rng.normal(size=3), rng.normal(size=3), rng.normal(size=3))
    t = getattr(fa, how)(f3, argnums=tuple(nums))
    out = t(*args)
    g = out[1] if how == "value_and_grad" else out
    assert isinstance(g, tuple) and len(g) == len(nums)
    ref = lambda *a: float(np.sum(np.sin(a[0]) * a[1] + a[2] ** 2 * a[0]))  # noqa: E731
    for n, gi in zip(nums, g):
        np.testing.assert_allclose(gi, _fd(ref, args, n % 3), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------
# ndarray subclasses, static_argnames, has_aux, % and //


def test_masked_arrays_are_refused_as_jax_does():
    m = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    for t in (fa.jit(fnp.sum), fa.grad(fnp.sum), fa.vmap(fnp.sin), fa.jacrev(fnp.sin)):
        with pytest.raises(ArraySubclassError, match="masked array"):
            t(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        matrix = np.matrix([[1.0, 2.0]])
    with pytest.raises(ArraySubclassError, match="matrix"):
        fa.jit(fnp.sum)(matrix)
    assert fa.jit(fnp.sum)(m.filled(0.0)) == 4.0


def test_a_plain_ndarray_subclass_is_accepted(tmp_path):
    mm = np.memmap(tmp_path / "x", dtype=float, mode="w+", shape=(3,))
    mm[:] = [1.0, 2.0, 3.0]
    assert fa.jit(fnp.sum)(mm) == 6.0
    np.testing.assert_array_equal(fa.grad(fnp.sum)(mm), [1.0, 1.0, 1.0])


def test_static_argnames_naming_no_parameter_is_an_error():
    with pytest.raises(ArgumentError, match="'z'.*not a parameter"):
        fa.jit(lambda x, y: x * y, static_argnames="z")
    with pytest.raises(ArgumentError, match="not a parameter"):
        fa.jit(lambda x, y: x * y, static_argnames=("y", "w"))
    assert fa.jit(lambda x, **kw: x * kw["z"], static_argnames="z")(2.0, z=3.0) == 6.0


def test_has_aux_accepts_a_list_pair():
    g, aux = fa.grad(lambda x: [x ** 2, {"x": x}], has_aux=True)(3.0)
    assert g == 6.0 and aux["x"] == 3.0
    (v, aux), g = fa.value_and_grad(lambda x: [x ** 3, 1.0], has_aux=True)(2.0)
    assert (v, aux, g) == (8.0, 1.0, 12.0)
    j, aux = fa.jacrev(lambda x: [x * 2.0, x], has_aux=True)(np.ones(2))
    np.testing.assert_array_equal(j, 2.0 * np.eye(2))


def test_mod_and_floor_divide_of_traced_values_work_and_differentiate():
    from funcad.test_util import check_grads

    x, y = np.array([2.5, -1.25, 3.4]), np.array([0.7, 1.5, -2.0])
    np.testing.assert_allclose(fa.jit(lambda a: a % 1.0)(x), x % 1.0)
    np.testing.assert_array_equal(fa.jit(lambda a, b: a // b)(x, y), x // y)
    np.testing.assert_array_equal(fa.jit(lambda a: 7.0 // a)(y), 7.0 // y)
    np.testing.assert_array_equal(fa.jit(lambda a: 7 % a)(np.array([2, -3, 4])), 7 % np.array([2, -3, 4]))
    np.testing.assert_array_equal(fa.grad(lambda a: fnp.sum(a % 1.0))(x), np.ones(3))
    g = fa.grad(lambda a, b: fnp.sum(a // b), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(g[0], 0.0)
    check_grads(lambda a, b: fnp.sum((a * b) % 1.0 + a // b), (x, y), order=2)
    np.testing.assert_array_equal(fnp.floor_divide(np.array([1.0, 0.0, -1.0]), 0.0),
                                  np.array([np.inf, np.nan, -np.inf]))
