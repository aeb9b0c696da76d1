"""The rest of what NumPy users commonly reach for: dtype utilities, comparisons, set and
search functions, polynomials, convolutions, statistics (cov, corrcoef, gradient) and
index helpers.

Three kinds of function live here:

* compositions of funcad's primitives (``interp``, ``convolve``, ``cov``, ``gradient``,
  ``select``, ``block``...): differentiable, traceable under jit and vmap;
* functions whose result's *shape* depends on the values (``unique``, ``nonzero``,
  ``argwhere``, ``bincount``): they run on concrete values (outside jit; under eager grad
  on the primal, the values still carrying their derivative through a gather), and take
  JAX's ``size=``/``fill_value=`` (``length=`` for ``bincount``) to become traceable;
* dtype and printing utilities, constants and index tables (``finfo``, ``result_type``,
  ``triu_indices``, windows...): NumPy's own, passed through.

Functions with no derivative and no traceable form (``gcd``, ``histogram``, ``roots``...)
run NumPy on concrete values and raise :class:`~funcad.errors.UnsupportedFunctionError` on a
traced float value, never dropping a derivative silently.
"""

from __future__ import annotations

import builtins
import collections
import re

import numpy as _np
from numpy import (  # noqa: F401  NumPy's dtype utilities and scalar types, passed through  # noqa: F401  constants and index helpers, passed through
    False_,
    ScalarType,
    True_,
    array2string,
    array_repr,
    array_str,
    bartlett,
    base_repr,
    binary_repr,
    blackman,
    bool,
    bool_,
    broadcast,
    broadcast_shapes,
    byte,
    bytes_,
    cdouble,
    character,
    clongdouble,
    complex64,
    complex128,
    complexfloating,
    csingle,
    diag_indices,
    double,
    einsum_path,
    errstate,
    finfo,
    flexible,
    float16,
    float32,
    float64,
    floating,
    format_float_positional,
    format_float_scientific,
    frombuffer,
    fromfile,
    fromfunction,
    fromiter,
    fromregex,
    fromstring,
    generic,
    genfromtxt,
    get_include,
    get_printoptions,
    getbufsize,
    geterr,
    geterrcall,
    half,
    hamming,
    hanning,
    iinfo,
    index_exp,
    indices,
    inexact,
    info,
    int_,
    intc,
    integer,
    intp,
    isdtype,
    isfortran,
    issubdtype,
    iterable,
    kaiser,
    little_endian,
    load,
    loadtxt,
    long,
    longdouble,
    longlong,
    mask_indices,
    may_share_memory,
    mgrid,
    mintypecode,
    ndenumerate,
    ndindex,
    number,
    object_,
    ogrid,
    printoptions,
    promote_types,
    s_,
    save,
    savetxt,
    savez,
    savez_compressed,
    sctypeDict,
    set_printoptions,
    setbufsize,
    seterr,
    seterrcall,
    shares_memory,
    short,
    show_config,
    signedinteger,
    single,
    str_,
    tri,
    tril_indices,
    triu_indices,
    typecodes,
    typename,
    ubyte,
    uint,
    uint16,
    uint32,
    uint64,
    uintc,
    uintp,
    ulong,
    ulonglong,
    unsignedinteger,
    ushort,
    void,
)

from .. import core
from ..core import Tracer, get_aval
from ..errors import ArgumentError, DTypeError, UnsupportedFunctionError
from ..lax import elementwise as _ew
from ..lax import special as _sp
from . import (
    _arr,
    _as_nd,
    _bool_operands,
    _integer_operands,
    _no_out,
    _promote,
    _promote_float,
    _real_floats,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    astype,
    broadcast_to,
    concatenate,
    divide,
    equal,
    expand_dims,
    isfinite,
    isinf,
    isnan,
    logical_and,
    logical_not,
    logical_or,
    matmul,
    maximum,
    minimum,
    moveaxis,
    multiply,
    power,
    ravel,
    reshape,
    sqrt,
    stack,
    subtract,
    transpose,
    vstack,
    where,
    zeros_like,
)
from . import abs as _abs
from . import logical_xor as _logical_xor
from . import sum as _sum
from ._array import fresh
from ._elementwise_extra import floor_divide
from ._shape_ops import diag, diagonal, flip, take
from ._stats import all as _all
from ._stats import any as _any
from ._stats import argmax, argmin, argsort, cumprod, cumsum, sort
from ._unsupported import numpy_only as _numpy_only

# --------------------------------------------------------------------------------------
# Helpers


def _nd(x):
    return _as_nd(_arr(x))


def _is_traced(*xs) -> builtins.bool:
    return builtins.any(isinstance(x, Tracer) for x in xs)


def _concrete(x, name: str, fix: str):
    """The concrete value of ``x``, or a ConcretizationError naming ``name`` and the fix."""
    value = core.maybe_concrete(x)
    if value is None:
        aval = get_aval(x)
        raise core.ConcretizationError(
            f"funcad.numpy.{name}: the shape of the result depends on the values of its "
            f"argument (shape {aval.shape}, dtype {aval.dtype}), which are abstract here "
            f"(under jit or vmap). {fix}")
    return _np.asarray(value)


def _dtype_of(x):
    if isinstance(x, Tracer):
        return x.aval.dtype
    return x


def _pad_to(x, size, fill, axis=0):
    """``x`` (1-D along axis 0) truncated or padded with ``fill`` to length ``size``."""
    n = get_aval(x).shape[0]
    if n >= size:
        return x[:size]
    pad = broadcast_to(_np.asarray(fill, get_aval(x).dtype) if not isinstance(fill, Tracer)
                       else astype(fill, get_aval(x).dtype), (size - n,) + get_aval(x).shape[1:])
    return concatenate([x, pad], 0)


# --------------------------------------------------------------------------------------
# Dtypes


def result_type(*arrays_and_dtypes):
    """``numpy.result_type``; traced values count by their dtype.

    >>> import funcad.numpy as fnp
    >>> fnp.result_type(fnp.float32, 1.0)
    dtype('float32')
    """
    return _np.result_type(*(_dtype_of(x) for x in arrays_and_dtypes))


def can_cast(from_, to, casting="safe"):
    """``numpy.can_cast``; a traced value counts by its dtype."""
    return _np.can_cast(_dtype_of(from_), to, casting)


def iscomplexobj(x):
    """``numpy.iscomplexobj``: whether ``x`` has a complex dtype."""
    return _np.dtype(get_aval(_arr(x)).dtype).kind == "c" if _is_traced(x) else _np.iscomplexobj(x)


def isrealobj(x):
    """``numpy.isrealobj``: not iscomplexobj."""
    return not iscomplexobj(x)


def isscalar(element):
    """``numpy.isscalar``; a traced value is never a scalar (it is an array, as in NumPy)."""
    return False if isinstance(element, Tracer) else _np.isscalar(element)


def common_type(*arrays):
    """``numpy.common_type``: the float type all of ``arrays`` convert to."""
    return _np.common_type(*(_np.empty(0, _dtype_of(get_aval(_arr(a)).dtype)) for a in arrays))


def min_scalar_type(a):
    """``numpy.min_scalar_type`` of a concrete value (a traced value gives its dtype)."""
    return get_aval(a).dtype if isinstance(a, Tracer) else _np.min_scalar_type(a)


# --------------------------------------------------------------------------------------
# NumPy 2 names and simple aliases

acos, acosh, asin, asinh, atan, atanh, atan2 = arccos, arccosh, arcsin, arcsinh, arctan, arctanh, arctan2
pow = power
concat = concatenate
row_stack = vstack


def permute_dims(a, /, axes):
    """``numpy.permute_dims`` (array API): ``transpose`` with required axes."""
    return transpose(a, axes)


def matrix_transpose(x, /):
    """``numpy.matrix_transpose``: swap the last two axes."""
    x = _nd(x)
    if get_aval(x).ndim < 2:
        raise ValueError(f"matrix_transpose: input must be at least 2-D, got shape {get_aval(x).shape}")
    return moveaxis(x, -1, -2)


def positive(x):
    """``numpy.positive``: +x (a copy)."""
    return fresh(_nd(x)) if isinstance(x, Tracer) else _np.positive(x)


def copy(a, order="K"):
    """``numpy.copy``. A traced value is returned as a new tracer of the same value (no
    copy is needed, funcad's traced arrays being immutable; a distinct object, so that an
    in-place update of the original under jit does not reach the copy)."""
    return fresh(a) if isinstance(a, Tracer) else _np.array(a, copy=True)


def asanyarray(a, dtype=None):
    """``numpy.asanyarray``: ``asarray`` (funcad has no ndarray subclasses)."""
    from . import asarray

    return asarray(a, dtype)


ascontiguousarray = asfortranarray = asanyarray


def require(a, dtype=None, requirements=None, *, like=None):
    """``numpy.require``: ``asarray(a, dtype)`` (memory-layout requirements do not apply)."""
    return asanyarray(a, dtype)


def i0(x):
    """``numpy.i0``: the modified Bessel function of order 0 (as funcad.scipy.special.i0),
    exp(|x|) i0e(x)."""
    (x,), _ = _real_floats("i0", x, min_float=float64)  # not a ufunc: ints -> float64
    return _ew.mul(_ew.exp(_ew.abs(x)), _sp.i0e(x))


def asarray_chkfinite(a, dtype=None):
    """``numpy.asarray_chkfinite``: asarray, raising ValueError on inf or NaN (concrete
    values; a traced value cannot be checked and is returned as it is)."""
    from . import asarray

    a = asarray(a, dtype)
    v = core.maybe_concrete(a)
    if v is not None and _np.asarray(v).dtype.kind in "fc" and not _np.isfinite(v).all():
        raise ValueError("array must not contain infs or NaNs")
    return a


def empty_like(prototype, dtype=None, shape=None):
    """``numpy.empty_like``: zeros (funcad never hands out uninitialised memory)."""
    from . import zeros

    aval = get_aval(_arr(prototype))
    return zeros(aval.shape if shape is None else shape, dtype or aval.dtype)


def conj(x):
    """``numpy.conj``: the complex conjugate (a real array is its own).

    >>> import funcad.numpy as fnp
    >>> fnp.conj(fnp.array([1 + 2j]))
    array([1.-2.j])
    """
    x = _nd(x)
    kind = get_aval(x).dtype.kind
    return _ew.conj(x) if kind == "c" else astype(x, _np.int8) if kind == "b" else x  # NumPy's loop


conjugate = conj


def real(val):
    """``numpy.real``: the real part (a real array itself); differentiable."""
    val = _nd(val)
    return _ew.real(val) if get_aval(val).dtype.kind == "c" else val


def imag(val):
    """``numpy.imag``: the imaginary part (zeros for a real array); differentiable."""
    val = _nd(val)
    return _ew.imag(val) if get_aval(val).dtype.kind == "c" else zeros_like(val)


def angle(z, deg=False):
    """``numpy.angle``: the argument ``arctan2(z.imag, z.real)`` (for real values 0 for
    x >= 0, pi for x < 0, with derivative 0); in degrees with ``deg=True``."""
    z = _nd(z)
    if get_aval(z).dtype.kind == "c":
        out = arctan2(_ew.imag(z), _ew.real(z))
    else:
        (z,), dt = _promote_float(z)
        out = arctan2(_np.zeros((), dt), z)
    return multiply(out, 180.0 / _np.pi) if deg else out


def iscomplex(x):
    """``numpy.iscomplex``: elementwise, whether the imaginary part is nonzero."""
    x = _nd(x)
    if get_aval(x).dtype.kind == "c":
        return _ew.ne(_ew.imag(x), 0.0)
    return _ew.ne(zeros_like(x, _np.bool_), 0) if isinstance(x, Tracer) else _np.iscomplex(x)


def isreal(x):
    """``numpy.isreal``: elementwise, True for real arrays."""
    return logical_not(iscomplex(x))


# --------------------------------------------------------------------------------------
# Elementwise


def _nan_ignoring(extremum, x1, x2):
    m = extremum(x1, x2)  # NumPy's dtype and checks (a Python int that does not fit raises)
    dt = get_aval(m).dtype
    if dt.kind not in "fc":
        return m
    x, y = astype(x1, dt), astype(x2, dt)
    return where(isnan(y), x, where(isnan(x), y, m))


def fmax(x1, x2):
    """``numpy.fmax``: the maximum, ignoring a NaN in either operand (NaN only if both are)."""
    return _nan_ignoring(maximum, x1, x2)


def fmin(x1, x2):
    """``numpy.fmin``: the minimum, ignoring a NaN in either operand."""
    return _nan_ignoring(minimum, x1, x2)


def divmod(x1, x2):
    """``numpy.divmod``: ``(x1 // x2, x1 % x2)``."""
    from ._elementwise_extra import mod

    return floor_divide(x1, x2), mod(x1, x2)


def signbit(x):
    """``numpy.signbit``: True where the sign bit is set (also -0.0)."""
    (x,), dt = _promote(x)
    x = _as_nd(x)
    if dt.kind == "c":
        _real_floats("signbit", x)  # raises, as NumPy
    if dt.kind in "iub":
        return _ew.lt(x, 0)
    zero = _ew.eq(x, 0)
    neg_zero = logical_and(zero, _ew.lt(divide(1.0, where(zero, x, _np.ones((), dt))), 0))
    return logical_or(_ew.lt(x, 0), neg_zero)


def copysign(x1, x2):
    """``numpy.copysign``: |x1| with the sign of x2; d/dx1 = +-1, d/dx2 = 0."""
    (x, y), dt = _real_floats("copysign", x1, x2)
    return where(signbit(y), _ew.neg(_abs(x)), _abs(x))


def isposinf(x):
    """``numpy.isposinf``."""
    _real_floats("isposinf", x)  # complex raises, as NumPy
    return equal(x, _np.inf)


def isneginf(x):
    """``numpy.isneginf``."""
    _real_floats("isneginf", x)
    return equal(x, -_np.inf)


def float_power(x1, x2):
    """``numpy.float_power``: ``x1 ** x2`` in float64 (complex128 for complex operands)."""
    x1 = _nd(x1)
    cplx = get_aval(x1).dtype.kind == "c" or isinstance(x2, complex) or (
        not isinstance(x2, int | float) and get_aval(_nd(x2)).dtype.kind == "c")
    dt = complex128 if cplx else float64
    return power(astype(x1, dt), astype(x2, dt) if not isinstance(x2, int | float | complex) else x2)


def ldexp(x1, x2):
    """``numpy.ldexp``: ``x1 * 2**x2`` (integer ``x2``); linear in x1."""
    (x1,), dt = _real_floats("ldexp", x1)
    if get_aval(_nd(x2)).dtype.kind not in "iub":
        raise DTypeError(f"funcad.numpy.ldexp: the exponent x2 must be integers, as in NumPy; got "
                         f"dtype {get_aval(_nd(x2)).dtype}. Round it first: x2.astype(int).")
    return multiply(x1, astype(power(2.0, astype(x2, dt)), dt))


def modf(x):
    """``numpy.modf``: (fractional part, integral part), both with x's sign; the fractional
    part has derivative 1, the integral part 0."""
    from ._elementwise_extra import trunc

    (x,), _ = _real_floats("modf", x)
    t = trunc(x)
    return copysign(where(isinf(x), 0.0, subtract(x, t)), x), t  # modf(-inf) = (-0.0, -inf)


def nextafter(x1, x2):
    """``numpy.nextafter``: the next representable float after ``x1`` towards ``x2``,
    elementwise with broadcasting; its derivative is zero, as JAX's.

    >>> float(nextafter(1.0, 2.0)) - 1.0 == 2.0 ** -52
    True
    """
    from ..lax.random import nextafter_p

    (x, y), dt = _promote_float(x1, x2)
    if dt.kind == "c":
        raise UnsupportedFunctionError(
            f"funcad.numpy.nextafter: operands of dtype {dt} have no next float (NumPy's "
            "nextafter takes real floats only); pass the real and imaginary parts separately.")
    return core.bind(nextafter_p, astype(x, dt), astype(y, dt))


gcd = _numpy_only(_np.gcd)
lcm = _numpy_only(_np.lcm)
frexp = _numpy_only(_np.frexp)
spacing = _numpy_only(_np.spacing)
_np_invert = _numpy_only(_np.invert)


def invert(x):
    """``numpy.invert`` (``~x``): ``not`` of booleans, the bitwise not of integers (two's
    complement: ``-x - 1``), traceable; floats are refused as in NumPy.

    >>> import numpy as np
    >>> invert(np.array([0, 5], np.int8)), invert(np.array([0, 5], np.uint8))
    (array([-1, -6], dtype=int8), array([255, 250], dtype=uint8))
    """
    x = _nd(x)
    dt = get_aval(x).dtype
    if dt.kind == "b":
        return logical_not(x)
    if dt.kind == "i":
        return _ew.sub(_ew.neg(x), _np.ones((), dt))
    if dt.kind == "u":
        return _ew.sub(_np.asarray(_np.iinfo(dt).max, dt), x)
    return _np_invert(x)


bitwise_not = bitwise_invert = invert


def _integer_ufunc(name, op, logical=None):
    """NumPy's ``name`` of integers, traceable (as in JAX): ``&``, ``|``, ``^`` are ``logical``
    on booleans, the shifts (``logical`` None) shift booleans as int8 (NumPy's loop; a count
    outside 0..bits-1 shifts every bit out, as in NumPy); floats are a DTypeError, as NumPy's
    TypeError."""
    def f(x1, x2):
        (x, y), dt = _promote(x1, x2)
        if dt.kind == "b" and logical is not None:
            return logical(x, y)
        if dt.kind not in "biu":
            dts = " and ".join(str(get_aval(_nd(v)).dtype) for v in (x1, x2))
            raise DTypeError(f"funcad.numpy.{name}: operands of dtype {dts}; NumPy's {name} takes "
                             "integers or booleans only. Cast them first (x.astype(np.int64)).")
        if dt.kind == "b":
            (x, y), dt = _bool_operands(name, x, y), _np.dtype(_np.int8)
        x, y = _integer_operands(name, dt, x, y)
        return op(*(_np.asarray(v, dt) if type(v) in (int, _np.int8) else v for v in (x, y)))

    f.__name__ = name
    f.__doc__ = (f"Elementwise ``numpy.{name}`` of integers{', logical on booleans' if logical else ''} "
                 "(no derivative: integers have none).")
    return f


bitwise_and = _and_operator = _integer_ufunc("bitwise_and", _ew.bitwise_and, logical_and)
bitwise_or = _or_operator = _integer_ufunc("bitwise_or", _ew.bitwise_or, logical_or)
bitwise_xor = _xor_operator = _integer_ufunc("bitwise_xor", _ew.bitwise_xor, _logical_xor)
left_shift = bitwise_left_shift = _integer_ufunc("left_shift", _ew.left_shift)
right_shift = bitwise_right_shift = _integer_ufunc("right_shift", _ew.right_shift)
bitwise_count = _numpy_only(_np.bitwise_count)
packbits = _numpy_only(_np.packbits)
unpackbits = _numpy_only(_np.unpackbits)


# --------------------------------------------------------------------------------------
# Comparisons


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.isclose``: ``|a - b| <= atol + rtol |b|`` elementwise (infinities equal only
    to themselves; NaNs equal each other with ``equal_nan``)."""
    (a, b), dt = _promote(a, b)
    a, b = _as_nd(a), _as_nd(b)
    if dt.kind not in "fc":
        a, b = astype(a, float64), astype(b, float64)
    close = _ew.le(_abs(subtract(a, b)), add(atol, multiply(rtol, _abs(b))))
    out = logical_or(logical_and(close, logical_and(isfinite(a), isfinite(b))), equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``numpy.allclose``: ``all(isclose(a, b, ...))``."""
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    """``numpy.array_equal``: same shape and the same elements."""
    a1, a2 = _nd(a1), _nd(a2)
    if get_aval(a1).shape != get_aval(a2).shape:
        return _np.False_
    eq = equal(a1, a2)
    if equal_nan and get_aval(a1).dtype.kind in "fc":
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return _all(eq)


def array_equiv(a1, a2):
    """``numpy.array_equiv``: equal after broadcasting (False if the shapes do not broadcast)."""
    a1, a2 = _nd(a1), _nd(a2)
    try:
        _np.broadcast_shapes(get_aval(a1).shape, get_aval(a2).shape)
    except ValueError:
        return _np.False_
    return _all(equal(a1, a2))


# --------------------------------------------------------------------------------------
# Building arrays


def append(arr, values, axis=None):
    """``numpy.append``: concatenate (flattened when ``axis`` is None)."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis)


def select(condlist, choicelist, default=0):
    """``numpy.select``: from ``choicelist[i]`` where ``condlist[i]`` first holds, else
    ``default``. Differentiable in the choices and the default."""
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("select with an empty condition list is not possible")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        c = _nd(cond)
        if get_aval(c).dtype != _np.bool_:
            raise TypeError(f"invalid entry in condlist: should be boolean ndarray, got {get_aval(c).dtype}")
        out = where(c, choice, out)
    shape = _np.broadcast_shapes(*(get_aval(_nd(x)).shape for x in [*condlist, *choicelist, default]))
    return broadcast_to(_nd(out), shape)


def _block_depth(x):
    return 1 + _block_depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)


def _block_leaves(x):
    return [y for e in x for y in _block_leaves(e)] if isinstance(x, list) else [x]


def block(arrays):
    """``numpy.block``: assemble an array from nested lists of blocks (the innermost lists
    join along the last axis, the next along the one before...).

    >>> import funcad.numpy as fnp
    >>> fnp.block([[fnp.eye(2), fnp.zeros((2, 1))], [fnp.ones((1, 2)), fnp.ones((1, 1))]]).shape
    (3, 3)
    """
    if isinstance(arrays, tuple):
        raise TypeError("block: arrays is a tuple; only lists can be used to arrange blocks")
    depth = _block_depth(arrays)
    ndim = builtins.max([depth] + [get_aval(_nd(x)).ndim for x in _block_leaves(arrays)])

    def rec(x, level):
        if isinstance(x, list):
            if not x:
                raise ValueError("block: lists cannot be empty")
            return concatenate([rec(y, level + 1) for y in x], axis=-(depth - level))
        x = _nd(x)
        nd = get_aval(x).ndim
        return reshape(x, (1,) * (ndim - nd) + get_aval(x).shape) if nd < ndim else x

    return rec(arrays, 0) if isinstance(arrays, list) else _nd(arrays)


class _AxisConcatenator:
    """``numpy.r_`` and ``numpy.c_``: slices become ranges, scalars 1-element arrays; a
    leading string ``'axis'`` or ``'axis,ndmin'`` (or ``'axis,ndmin,trans1d'``) as in NumPy."""

    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        from . import arange, linspace

        key = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if key and isinstance(key[0], str):
            spec, key = key[0], key[1:]
            if spec in ("r", "c"):
                raise UnsupportedFunctionError("r_/c_ with 'r' or 'c' makes a numpy.matrix, which "
                                               "funcad does not support; use a plain 2-D array.")
            parts = [int(p) for p in spec.split(",")]
            axis, ndmin, trans1d = (parts + [ndmin, trans1d][len(parts) - 1:])[:3]
        items = []
        for k in key:
            if isinstance(k, slice):
                step = 1 if k.step is None else k.step
                if isinstance(step, complex):
                    x = linspace(0 if k.start is None else k.start, k.stop, int(abs(step)))
                else:
                    x = arange(0 if k.start is None else k.start, k.stop, step)
            else:
                x = _nd(k)
            nd = get_aval(x).ndim
            if nd < ndmin:
                shape = get_aval(x).shape
                new = [1] * ndmin
                if shape:
                    pos = trans1d % ndmin if trans1d != -1 else ndmin - nd
                    new[pos:pos + nd] = shape
                x = reshape(x, tuple(new))
            elif nd == 0:
                x = reshape(x, (1,))
            items.append(x)
        return concatenate(items, axis) if items else _np.array([])

    def __len__(self):
        return 0


r_ = _AxisConcatenator(0, 1, -1)
c_ = _AxisConcatenator(-1, 2, 0)


def diagflat(v, k=0):
    """``numpy.diagflat``: a matrix with the flattened ``v`` on diagonal ``k``."""
    return diag(ravel(v), k)


def vander(x, N=None, increasing=False):
    """``numpy.vander``: columns of powers of ``x`` (decreasing by default); differentiable."""
    x = _nd(x)
    n = get_aval(x).shape[0] if N is None else int(N)
    cols = [_ew.integer_pow(x, p) if get_aval(x).dtype.kind in "fc" else power(x, p)
            for p in range(n)]
    if not increasing:
        cols = cols[::-1]
    return stack(cols, axis=1) if cols else reshape(x, (-1, 0))[:, :0]


def _from(fn):
    def f(arr, k=0):
        shape = get_aval(_arr(arr)).shape
        if len(shape) != 2:
            raise ValueError(f"input array must be 2-d, got shape {shape}")
        return fn(shape[-2], k=k, m=shape[-1])

    f.__name__ = fn.__name__ + "_from"
    f.__doc__ = f"``numpy.{f.__name__}``: ``{fn.__name__}`` for the shape of ``arr``."
    return f


tril_indices_from, triu_indices_from = _from(_np.tril_indices), _from(_np.triu_indices)


def diag_indices_from(arr):
    """``numpy.diag_indices_from``: the indices of the main diagonal of ``arr``."""
    shape = get_aval(_arr(arr)).shape
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError(f"All dimensions of input must be of equal length, got shape {shape}")
    return _np.diag_indices(shape[0], len(shape))


def ix_(*args):
    """``numpy.ix_`` of concrete index arrays."""
    return _np.ix_(*(_concrete(_nd(a), "ix_", "Use concrete indices.") for a in args))


def rollaxis(a, axis, start=0):
    """``numpy.rollaxis`` (prefer moveaxis)."""
    a = _nd(a)
    n = get_aval(a).ndim
    axis, start = axis % n, start + n if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start) if axis != start else a


def resize(a, new_shape):
    """``numpy.resize``: the flattened ``a`` repeated (cyclically) to fill ``new_shape``."""
    a = ravel(a)
    shape = (int(new_shape),) if isinstance(new_shape, int | _np.integer) else tuple(new_shape)
    n, total = get_aval(a).shape[0], int(_np.prod(shape, dtype=_np.int64))
    if n == 0:
        return broadcast_to(_np.zeros((), get_aval(a).dtype), shape)
    return reshape(take(a, _np.arange(total) % n), shape)


def ediff1d(ary, to_end=None, to_begin=None):
    """``numpy.ediff1d``: differences of the flattened array, with optional ends."""
    from ._stats import diff

    parts = [ravel(to_begin)] if to_begin is not None else []
    parts.append(diff(ravel(ary)))
    if to_end is not None:
        parts.append(ravel(to_end))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def delete(arr, obj, axis=None):
    """``numpy.delete`` with concrete indices ``obj`` (the result's shape depends on them)."""
    arr = _nd(arr)
    if axis is None:
        arr, axis = ravel(arr), 0
    n = get_aval(arr).shape[axis]
    if not isinstance(obj, slice):
        obj = _concrete(_nd(obj), "delete", "Give the indices as concrete values.")
    return take(arr, _np.delete(_np.arange(n), obj), axis=axis)


def insert(arr, obj, values, axis=None):
    """``numpy.insert`` with concrete positions ``obj``; differentiable in arr and values."""
    arr, vals = _nd(arr), _nd(values)
    if not isinstance(obj, slice):
        obj = _concrete(_nd(obj), "insert", "Give the positions as concrete values.")
    shape, vshape = get_aval(arr).shape, get_aval(vals).shape
    n, nv = int(_np.prod(shape, dtype=_np.int64)), int(_np.prod(vshape, dtype=_np.int64))
    # NumPy's own insert, on tags (positions in arr, then in values), says what goes where.
    tags = _np.insert(_np.arange(n).reshape(shape), obj, _np.arange(n, n + nv).reshape(vshape), axis=axis)
    both = concatenate([ravel(arr), astype(ravel(vals), get_aval(arr).dtype)])
    return take(both, tags)


def trim_zeros(filt, trim="fb"):
    """``numpy.trim_zeros`` with a concrete pattern of zeros; differentiable in the kept values."""
    f = _nd(filt)
    c = _concrete(f, "trim_zeros", "Trim with concrete values, or use where().")
    nz = _np.flatnonzero(c)
    if nz.size == 0:
        return f[:0]
    lo = nz[0] if "f" in trim.lower() else 0
    hi = nz[-1] + 1 if "b" in trim.lower() else c.shape[0]
    return f[int(lo):int(hi)]


def choose(a, choices, out=None, mode="raise"):
    """``numpy.choose``: ``choices[a[i]][i]``; differentiable in the choices."""
    _no_out(out, "choose")
    a = _nd(a)
    n = len(choices)
    ac = core.maybe_concrete(a)
    if mode == "raise" and ac is not None and ((_np.asarray(ac) < 0) | (_np.asarray(ac) >= n)).any():
        raise ValueError("invalid entry in choice array")
    if mode == "wrap":
        from ._elementwise_extra import mod

        a = mod(a, n)
    elif mode == "clip":
        a = _ew.min(_ew.max(a, 0), n - 1)
    out = choices[n - 1]
    for i in range(n - 2, -1, -1):
        out = where(equal(a, i), choices[i], out)
    shape = _np.broadcast_shapes(get_aval(a).shape, *(get_aval(_nd(c)).shape for c in choices))
    return broadcast_to(_nd(out), shape)


def compress(condition, a, axis=None):
    """``numpy.compress`` with a concrete condition."""
    cond = _concrete(_nd(condition), "compress", "Use a concrete condition, or where().")
    if axis is None:
        a, axis = ravel(a), 0
    return take(a, _np.flatnonzero(cond), axis=axis)


def extract(condition, arr):
    """``numpy.extract`` with a concrete condition: ``ravel(arr)[ravel(condition) != 0]``."""
    cond = _concrete(_nd(condition), "extract", "Use a concrete condition, or where().")
    return take(ravel(arr), _np.flatnonzero(cond))


def piecewise(x, condlist, funclist, *args, **kw):
    """``numpy.piecewise``: each function applied everywhere, selected by its condition
    (the last function, if there is one more than conditions, is the default)."""
    x = _nd(x)
    if isinstance(condlist, Tracer | _np.ndarray) and get_aval(condlist).ndim == get_aval(x).ndim:
        condlist = [condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    default = funclist[n] if len(funclist) == n + 1 else 0

    def value(f):
        return f(x, *args, **kw) if callable(f) else f

    out = broadcast_to(_nd(value(default)), get_aval(x).shape)
    out = astype(out, get_aval(x).dtype) if get_aval(out).dtype != get_aval(x).dtype else out
    for cond, f in zip(condlist, funclist[:n]):
        out = where(cond, value(f), out)
    return out


# --------------------------------------------------------------------------------------
# Searching, sets and counting


def _less_nan_last(a, v, or_equal):
    """``a < v`` (``a <= v``) in the order NumPy sorts: NaN after everything."""
    cmp = _ew.le(a, v) if or_equal else _ew.lt(a, v)
    if get_aval(a).dtype.kind not in "fc" and get_aval(v).dtype.kind not in "fc":
        return cmp
    v_nan, a_nan = isnan(v), isnan(a)
    return logical_or(logical_and(cmp, logical_not(a_nan)),
                      logical_and(v_nan, logical_or(logical_not(a_nan), or_equal)))


def searchsorted(a, v, side="left", sorter=None, *, method=None):
    """``numpy.searchsorted``: where ``v`` would go in the sorted 1-D ``a``. Traceable (it
    compares every pair: O(len(a) len(v)), as JAX's ``method='compare_all'``)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    a = _nd(a)
    if get_aval(a).ndim != 1:
        raise ValueError(f"searchsorted: a must be 1-D, got shape {get_aval(a).shape}")
    if sorter is not None:
        a = take(a, sorter)
    (a, v), _ = _promote(a, v)
    a, v = _as_nd(a), _as_nd(v)
    less = _less_nan_last(a, expand_dims(v, -1), side == "right")
    return _sum(astype(less, _np.int64), axis=-1)


def digitize(x, bins, right=False):
    """``numpy.digitize``: the bin of each x (bins increasing or decreasing)."""
    bins = _nd(bins)
    b = core.maybe_concrete(bins)
    decreasing = b is not None and _np.asarray(b).size > 1 and _np.asarray(b)[0] > _np.asarray(b)[-1]
    if b is not None and not decreasing and _np.any(_np.diff(_np.asarray(b)) < 0):
        raise ValueError("bins must be monotonically increasing or decreasing")
    side = "left" if right else "right"
    if decreasing:
        n = get_aval(bins).shape[0]
        return subtract(n, searchsorted(flip(bins), x, side="right" if right else "left"))
    return searchsorted(bins, x, side=side)


def isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    """``numpy.isin``: whether each element occurs in ``test_elements`` (traceable)."""
    e = _nd(element)
    t = ravel(test_elements)
    hit = _any(equal(expand_dims(e, -1), t), axis=-1)
    return logical_not(hit) if invert else hit


def bincount(x, weights=None, minlength=0, *, length=None):
    """``numpy.bincount``: counts (or summed ``weights``) of each non-negative integer.

    The output's length is ``max(x) + 1`` (at least ``minlength``), so ``x`` must be
    concrete unless ``length=`` fixes it (JAX's argument; larger values are dropped).
    Differentiable in ``weights``.
    """
    x = _nd(x)
    if get_aval(x).dtype.kind not in "iub":
        raise TypeError(f"bincount: x must hold integers, got dtype {get_aval(x).dtype}")
    if get_aval(x).ndim != 1:
        raise ValueError(f"bincount: x must be 1-D, got shape {get_aval(x).shape}")
    if length is None:
        c = _concrete(x, "bincount", "Pass length= (as in JAX) to fix the output's length.")
        if c.size and c.min() < 0:
            raise ValueError("'list' argument must have no negative elements")
        length = builtins.max(int(c.max()) + 1 if c.size else 0, int(minlength))
    hit = equal(expand_dims(x, -1), _np.arange(int(length)))
    if weights is None:
        return _sum(astype(hit, _np.int64), axis=0)
    (w,), _ = _promote_float(weights, min_float=float64)
    w = astype(_nd(w), float64) if get_aval(_nd(w)).dtype.kind != "c" else w
    return _sum(where(hit, expand_dims(w, -1), _np.zeros((), float64)), axis=0)


def _first_flags(k, rank, flags):
    """(size, n) booleans: entry i is the k-th flagged one."""
    return logical_and(expand_dims(flags, 0), equal(expand_dims(rank, 0), expand_dims(k, -1)))


_UNIQUE_INVERSE_KEEPS_SHAPE = _np.unique(_np.zeros((2, 2)), return_inverse=True)[1].shape == (2, 2)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, size=None, fill_value=None, sorted=True):
    """``numpy.unique``: the sorted distinct values (and first indices, inverse, counts).

    The number of distinct values depends on the data, so under jit or vmap ``size=`` must fix
    it (JAX's argument): the result is truncated or padded with ``fill_value`` (default: the
    smallest value). The values are a gather from ``ar``, so they carry its derivative.

    >>> import funcad.numpy as fnp
    >>> fnp.unique(fnp.array([3.0, 1.0, 3.0]))
    array([1., 3.])
    """
    a = _nd(ar)
    value = core.maybe_concrete(a)
    extra = (return_index, return_inverse, return_counts)
    if value is not None:
        value = _np.asarray(value)
        if axis is not None:
            vals, idx, inv, cnt = _np.unique(value, True, True, True, axis=axis, equal_nan=equal_nan)
            out = [take(a, idx, axis=axis), idx, inv, cnt]
            return _select_outputs(out, extra)
        flat = ravel(a)
        vals, idx, inv, cnt = _np.unique(value, True, True, True, equal_nan=equal_nan)
        out = [take(flat, idx), idx, inv, cnt]
        if size is not None:
            fill = vals[0] if fill_value is None and vals.size else (0 if fill_value is None else fill_value)
            pad = builtins.max(size - idx.size, 0)
            out = [_pad_to(out[0], size, fill), _np.concatenate([idx, _np.zeros(pad, idx.dtype)])[:size],
                   inv, _np.concatenate([cnt, _np.zeros(pad, cnt.dtype)])[:size]]
        return _select_outputs(out, extra)
    if size is None:
        _concrete(a, "unique", "Pass size= (and fill_value=) to fix the number of values, as in JAX.")
    if axis is not None:
        raise UnsupportedFunctionError("funcad.numpy.unique: axis= with size= on a traced value is "
                                       "not supported; flatten, or call it on concrete values.")
    flat = ravel(a)
    n = get_aval(flat).shape[0]
    perm = argsort(flat)
    s = take(flat, perm)
    if n == 0:
        raise ValueError("unique with size= needs a non-empty array (there is no fill value)")
    new = _ew.ne(s[1:], s[:-1])
    if equal_nan and get_aval(s).dtype.kind in "fc":
        new = logical_and(new, logical_not(logical_and(isnan(s[1:]), isnan(s[:-1]))))
    flags = concatenate([_np.ones(1, _np.bool_), new])
    rank = subtract(cumsum(astype(flags, _np.int64)), 1)
    k = _np.arange(int(size))
    m = _first_flags(k, rank, flags)
    has = _any(m, axis=1)
    fill = s[0] if fill_value is None else fill_value
    dt = get_aval(s).dtype
    fill = astype(fill, dt) if isinstance(fill, Tracer) else _np.asarray(fill, dt)
    vals = where(has, _sum(where(m, expand_dims(s, 0), _np.zeros((), dt)), axis=1), fill)
    idx = _sum(where(m, expand_dims(perm, 0), _np.zeros((), _np.int64)), axis=1)
    counts = _sum(astype(equal(expand_dims(rank, 0), expand_dims(k, -1)), _np.int64), axis=1)
    inv = take(rank, argsort(perm))
    if _UNIQUE_INVERSE_KEEPS_SHAPE:
        inv = reshape(inv, get_aval(a).shape)
    return _select_outputs([vals, idx, inv, counts], extra)


def _select_outputs(out, extra):
    picked = [out[0]] + [o for o, want in zip(out[1:], extra) if want]
    return picked[0] if len(picked) == 1 else tuple(picked)


UniqueAllResult = collections.namedtuple("UniqueAllResult", "values indices inverse_indices counts")
UniqueCountsResult = collections.namedtuple("UniqueCountsResult", "values counts")
UniqueInverseResult = collections.namedtuple("UniqueInverseResult", "values inverse_indices")


def unique_values(x, /, *, size=None, fill_value=None):
    """``numpy.unique_values`` (array API): ``unique(x)``, NaNs distinct."""
    return unique(x, size=size, fill_value=fill_value, equal_nan=False)


def unique_counts(x, /, *, size=None, fill_value=None):
    """``numpy.unique_counts`` (array API): (values, counts)."""
    return UniqueCountsResult(*unique(x, return_counts=True, size=size, fill_value=fill_value,
                                     equal_nan=False))


def unique_inverse(x, /, *, size=None, fill_value=None):
    """``numpy.unique_inverse`` (array API): (values, inverse_indices shaped like x)."""
    v, inv = unique(x, return_inverse=True, size=size, fill_value=fill_value, equal_nan=False)
    return UniqueInverseResult(v, reshape(inv, get_aval(_nd(x)).shape))


def unique_all(x, /, *, size=None, fill_value=None):
    """``numpy.unique_all`` (array API): (values, indices, inverse_indices, counts)."""
    v, i, inv, c = unique(x, True, True, True, size=size, fill_value=fill_value, equal_nan=False)
    return UniqueAllResult(v, i, reshape(inv, get_aval(_nd(x)).shape), c)


def union1d(ar1, ar2):
    """``numpy.union1d``: the sorted distinct values of both (concrete, or gathered)."""
    return unique(concatenate([ravel(ar1), ravel(ar2)]))


def _set_op(np_fn):
    def f(ar1, ar2, *args, **kwargs):
        a, b = ravel(ar1), ravel(ar2)
        ca = _concrete(a, np_fn.__name__, "Call it on concrete values.")
        cb = _concrete(b, np_fn.__name__, "Call it on concrete values.")
        vals = np_fn(ca, cb, *args, **kwargs)
        if not _is_traced(a, b):
            return vals
        # gather the kept values from the (differentiable) inputs
        both = concatenate([a, b])
        flat = _np.concatenate([ca, cb])
        where_ = _np.array([_np.flatnonzero(flat == v)[0] for v in _np.atleast_1d(vals)], _np.int64)
        return take(both, where_) if where_.size else both[:0]

    f.__name__ = np_fn.__name__
    f.__doc__ = (f"``numpy.{np_fn.__name__}`` of concrete values (traced values are gathered, "
                 "keeping their derivative).")
    return f


intersect1d = _set_op(_np.intersect1d)
setdiff1d = _set_op(_np.setdiff1d)
setxor1d = _set_op(_np.setxor1d)


def nonzero(a, *, size=None, fill_value=None):
    """``numpy.nonzero``: a tuple of index arrays, one per axis.

    The count depends on the values, so under jit or vmap pass ``size=`` (JAX's argument):
    the indices are truncated or padded with ``fill_value`` (default 0).

    >>> import funcad.numpy as fnp
    >>> fnp.nonzero(fnp.array([0.0, 2.0, 3.0]))
    (array([1, 2]),)
    """
    a = _nd(a)
    shape = get_aval(a).shape
    if not shape:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "np.atleast_1d(scalar).nonzero() instead.")
    value = core.maybe_concrete(a)
    if value is not None:
        idx = _np.nonzero(_np.asarray(value))
        if size is None:
            return idx
        fills = fill_value if isinstance(fill_value, tuple) else (fill_value or 0,) * len(shape)
        return tuple(_np.concatenate([i, _np.full(builtins.max(size - i.size, 0), f, i.dtype)])[:size]
                     for i, f in zip(idx, fills))
    if size is None:
        _concrete(a, "nonzero", "Pass size= (and fill_value=), as in JAX, or use "
                  "where(condition, x, y), which keeps the shape.")
    flags = _ew.ne(ravel(a), 0)
    rank = subtract(cumsum(astype(flags, _np.int64)), 1)
    m = _first_flags(_np.arange(int(size)), rank, flags)
    has = _any(m, axis=1)
    n = get_aval(flags).shape[0]
    flat = _sum(where(m, _np.arange(n), _np.zeros((), _np.int64)), axis=1)
    fills = fill_value if isinstance(fill_value, tuple) else (fill_value or 0,) * len(shape)
    out, stride = [], 1
    strides = []
    for d in reversed(shape):
        strides.append(stride)
        stride *= d
    for d, st, f in zip(shape, reversed(strides), fills):
        from ._elementwise_extra import mod

        i = mod(floor_divide(flat, st), d)
        out.append(where(has, i, _np.asarray(f, _np.int64)))
    return tuple(out)


def flatnonzero(a, *, size=None, fill_value=None):
    """``numpy.flatnonzero``: indices of the non-zero entries of the flattened array."""
    return nonzero(ravel(a), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """``numpy.argwhere``: one row of indices per non-zero entry (``size=`` as in nonzero)."""
    a = _nd(a)
    if get_aval(a).ndim == 0:
        return _np.argwhere(_concrete(a, "argwhere", "Pass a 1-D or larger array."))
    return stack(nonzero(a, size=size, fill_value=fill_value), axis=-1)


def unravel_index(indices, shape):  # noqa: F811  (NumPy's argument name)
    """``numpy.unravel_index``: flat indices to a tuple of coordinates (traceable)."""
    from ._elementwise_extra import mod

    shape = (int(shape),) if isinstance(shape, int | _np.integer) else tuple(shape)
    if not _is_traced(indices):
        return _np.unravel_index(indices, shape)
    out, stride = [], int(_np.prod(shape, dtype=_np.int64))
    for d in shape:
        stride //= d
        out.append(mod(floor_divide(indices, stride), d))
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """``numpy.ravel_multi_index`` (C order; traceable with mode 'wrap' or 'clip')."""
    if not _is_traced(*multi_index):
        return _np.ravel_multi_index(multi_index, dims, mode=mode, order=order)
    if order != "C":
        raise ValueError("ravel_multi_index: funcad supports order='C' only")
    from ._elementwise_extra import mod

    out = 0
    for i, d in zip(multi_index, dims):
        if mode == "wrap":
            i = mod(i, d)
        elif mode == "clip":
            i = _ew.min(_ew.max(_nd(i), 0), d - 1)
        out = add(multiply(out, d), i)
    return out


def lexsort(keys, axis=-1):
    """``numpy.lexsort``: indices sorting by the last key, then the one before... (stable)."""
    keys = list(keys) if not isinstance(keys, Tracer | _np.ndarray) or get_aval(keys).ndim > 1 else [keys]
    idx = argsort(keys[0], axis=axis)
    from ._shape_ops import take_along_axis

    for k in keys[1:]:
        idx = take_along_axis(idx, argsort(take_along_axis(_nd(k), idx, axis), axis=axis), axis)
    return idx


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.partition``: here a full sort, which is one valid partition."""
    return sort(a, axis=axis)


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """``numpy.argpartition``: here a full argsort, which is one valid partition."""
    return argsort(a, axis=axis)


def nanargmax(a, axis=None, out=None, keepdims=False):
    """``numpy.nanargmax``: argmax ignoring NaNs."""
    _no_out(out, "nanargmax")
    a = _nd(a)
    a = where(isnan(a), -_np.inf, a) if get_aval(a).dtype.kind == "f" else a
    return argmax(a, axis, keepdims=keepdims)


def nanargmin(a, axis=None, out=None, keepdims=False):
    """``numpy.nanargmin``: argmin ignoring NaNs."""
    _no_out(out, "nanargmin")
    a = _nd(a)
    a = where(isnan(a), _np.inf, a) if get_aval(a).dtype.kind == "f" else a
    return argmin(a, axis, keepdims=keepdims)


def nancumsum(a, axis=None, dtype=None):
    """``numpy.nancumsum``: cumsum with NaNs as zero."""
    a = _nd(a)
    return cumsum(where(isnan(a), 0.0, a) if get_aval(a).dtype.kind in "fc" else a, axis, dtype)


def nancumprod(a, axis=None, dtype=None):
    """``numpy.nancumprod``: cumprod with NaNs as one."""
    a = _nd(a)
    return cumprod(where(isnan(a), 1.0, a) if get_aval(a).dtype.kind in "fc" else a, axis, dtype)


histogram = _numpy_only(_np.histogram, "its bins depend on the values")
histogram2d = _numpy_only(_np.histogram2d, "its bins depend on the values")
histogramdd = _numpy_only(_np.histogramdd, "its bins depend on the values")
histogram_bin_edges = _numpy_only(_np.histogram_bin_edges, "its bins depend on the values")
def sort_complex(a):
    """``numpy.sort_complex``: sorted along the last axis in lexicographic order, as complex."""
    a = _nd(a)
    dt = get_aval(a).dtype
    return sort(astype(a, dt if dt.kind == "c" else _np.result_type(dt, complex64)), axis=-1)
real_if_close = _numpy_only(_np.real_if_close)


# --------------------------------------------------------------------------------------
# Interpolation, polynomials, convolution


def interp(x, xp, fp, left=None, right=None, period=None):
    """``numpy.interp``: piecewise-linear interpolation; differentiable in x, xp and fp.

    >>> import funcad.numpy as fnp
    >>> float(fnp.interp(2.5, fnp.array([1.0, 2.0, 3.0]), fnp.array([3.0, 2.0, 0.0])))
    1.0
    """
    (x, xp, fp), dt = _promote_float(x, xp, fp)
    x, xp, fp = _as_nd(x), _as_nd(xp), _as_nd(fp)
    if get_aval(xp).ndim != 1 or get_aval(fp).shape != get_aval(xp).shape:
        raise ValueError(f"interp: xp and fp must be 1-D of the same length, got shapes "
                         f"{get_aval(xp).shape} and {get_aval(fp).shape}")
    if get_aval(xp).shape[0] == 0:
        raise ValueError("array of sample points is empty")
    if period is not None:
        from ._elementwise_extra import mod

        if period == 0:
            raise ValueError("period must be a non-zero value")
        period = _abs(period)
        x, xp = mod(x, period), mod(xp, period)
        order = argsort(xp)
        xp, fp = take(xp, order), take(fp, order)
        xp = concatenate([subtract(xp[-1:], period), xp, add(xp[0:1], period)])
        fp = concatenate([fp[-1:], fp, fp[0:1]])
        left = right = None
    n = get_aval(xp).shape[0]
    if n == 1:
        out = broadcast_to(fp[0], get_aval(x).shape)
    else:
        i = _ew.min(_ew.max(searchsorted(xp, x, side="right"), 1), n - 1)
        x0, x1, f0, f1 = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
        dx = subtract(x1, x0)
        safe = where(_ew.eq(dx, 0), _np.ones((), dt), dx)
        out = add(f0, multiply(divide(subtract(x, x0), safe), subtract(f1, f0)))
        out = where(_ew.eq(dx, 0), f1, out)
    if period is None:
        out = where(_ew.lt(x, xp[0]), fp[0] if left is None else left, out)
        out = where(_ew.gt(x, xp[-1]), fp[-1] if right is None else right, out)
        out = where(_ew.eq(x, xp[-1]), fp[-1], out)
    return out


def polyval(p, x):
    """``numpy.polyval``: ``p[0] x^(n-1) + ... + p[n-1]`` by Horner's rule; differentiable."""
    if isinstance(p, list | tuple):
        coeffs = list(p)
    else:
        p = _nd(p)
        coeffs = [p[i] for i in range(get_aval(p).shape[0])]
    x = _nd(x)
    out = zeros_like(x) if not coeffs else None
    for c in coeffs:
        out = c if out is None else add(multiply(out, x), c)
    return add(multiply(x, 0), out) if coeffs else out


def polyadd(a1, a2):
    """``numpy.polyadd`` (coefficient arrays, highest power first)."""
    a1, a2 = _nd(a1), _nd(a2)
    n1, n2 = get_aval(a1).shape[0], get_aval(a2).shape[0]
    from ._shape_ops import pad

    if n1 < n2:
        a1 = pad(a1, (n2 - n1, 0))
    elif n2 < n1:
        a2 = pad(a2, (n1 - n2, 0))
    return add(a1, a2)


def polysub(a1, a2):
    """``numpy.polysub``."""
    from . import negative

    return polyadd(a1, negative(a2))


def polymul(a1, a2):
    """``numpy.polymul``: the convolution of the coefficients."""
    return convolve(a1, a2)


def polyder(p, m=1):
    """``numpy.polyder``: the m-th derivative's coefficients."""
    p = _nd(p)
    for _ in range(m):
        n = get_aval(p).shape[0]
        p = multiply(p[:-1], _np.arange(n - 1, 0, -1)) if n > 1 else zeros_like(p[:1])
    return p


def polyint(p, m=1, k=None):
    """``numpy.polyint``: the m-th antiderivative (integration constants ``k``, default 0)."""
    p = _nd(p)
    ks = _np.zeros(m) if k is None else _np.atleast_1d(k) if not isinstance(k, Tracer) else k
    for i in range(m):
        n = get_aval(p).shape[0]
        k_i = reshape(astype(ks[i] if _np.ndim(ks) else ks, float64), (1,))
        p = concatenate([divide(p, _np.arange(n, 0, -1)), k_i])
    return p


def poly(seq_of_zeros):
    """``numpy.poly``: coefficients of the monic polynomial with these (real) roots."""
    z = _nd(seq_of_zeros)
    if get_aval(z).ndim == 2:
        from .linalg import eigvals

        z = eigvals(z)
    out = _np.ones(1)
    for i in range(get_aval(z).shape[0]):
        out = convolve(out, stack([_np.ones(()), _ew.neg(z[i])]))
    return out


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """``numpy.polyfit``: least-squares coefficients (highest power first); differentiable
    in x, y and w. ``full``/``cov`` outputs are not computed (use linalg.lstsq)."""
    if full or cov:
        raise UnsupportedFunctionError("polyfit: full=True and cov=True are not supported by "
                                       "funcad; compute them with funcad.numpy.linalg.lstsq.")
    from .linalg import lstsq

    (x, y), _ = _promote_float(x, y)
    a = vander(_nd(x), int(deg) + 1)
    y = _nd(y)
    if w is not None:
        a = multiply(a, expand_dims(w, -1))
        y = multiply(y, w if get_aval(y).ndim == 1 else expand_dims(w, -1))
    return lstsq(a, y, rcond)[0]


roots = _numpy_only(_np.roots, "its roots are complex in general")
polydiv = _numpy_only(_np.polydiv)


def _conv_full(a, v):
    """The full discrete convolution of 1-D a (n) and v (m), n >= m, as windows @ flip(v)."""
    from ._shape_ops import pad

    n, m = get_aval(a).shape[0], get_aval(v).shape[0]
    ap = pad(a, (m - 1, m - 1))
    windows = _np.arange(n + m - 1)[:, None] + _np.arange(m)[None, :]
    return matmul(take(ap, windows), flip(v))


def _convolve_mode(a, v, mode, name):
    (a, v), _ = _promote(a, v)
    a, v = _as_nd(a), _as_nd(v)
    if get_aval(a).ndim != 1 or get_aval(v).ndim != 1:
        raise ValueError(f"{name}: a and v must be 1-D, got shapes {get_aval(a).shape} and "
                         f"{get_aval(v).shape}")
    n, m = get_aval(a).shape[0], get_aval(v).shape[0]
    if n == 0 or m == 0:
        raise ValueError(f"{name}: inputs cannot be empty")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    return a, v, n, m


def _crop(full, n, m, mode):
    if mode == "full":
        return full
    if mode == "same":
        start = (builtins.min(n, m) - 1) // 2
        return full[start:start + builtins.max(n, m)]
    return full[builtins.min(n, m) - 1:builtins.max(n, m)]


def convolve(a, v, mode="full"):
    """``numpy.convolve`` of 1-D arrays, modes 'full', 'same', 'valid'; differentiable in
    both (a gather of windows and a matrix product).

    >>> import funcad.numpy as fnp
    >>> fnp.convolve(fnp.array([1.0, 2.0, 3.0]), fnp.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    a, v, n, m = _convolve_mode(a, v, mode, "convolve")
    full = _conv_full(a, v) if n >= m else _conv_full(v, a)
    return _crop(full, n, m, mode)


def correlate(a, v, mode="valid"):
    """``numpy.correlate`` of 1-D arrays: ``c[k] = sum_n a[n + k] conj(v[n])``, modes
    'valid' (default), 'same', 'full'; differentiable in both."""
    a, v, n, m = _convolve_mode(a, v, mode, "correlate")
    v = conj(v)
    if n >= m:
        return _crop(_conv_full(a, flip(v)), n, m, mode)
    return flip(_crop(_conv_full(v, flip(a)), n, m, mode))


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``numpy.trapezoid``: the integral of y by the trapezoidal rule; differentiable."""
    from ._stats import diff

    y = _nd(y)
    nd = get_aval(y).ndim
    axis = axis % nd
    lo = tuple(slice(None, -1) if i == axis else slice(None) for i in range(nd))
    hi = tuple(slice(1, None) if i == axis else slice(None) for i in range(nd))
    avg = divide(add(y[hi], y[lo]), 2.0)
    if x is None:
        return multiply(_sum(avg, axis=axis), dx)
    x = _nd(x)
    d = diff(x, axis=-1 if get_aval(x).ndim == 1 else axis)
    if get_aval(x).ndim == 1:
        d = reshape(d, tuple(-1 if i == axis else 1 for i in range(nd)))
    return _sum(multiply(d, avg), axis=axis)


# --------------------------------------------------------------------------------------
# Statistics


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """``numpy.cov``: the covariance matrix of the variables (rows, or columns with
    ``rowvar=False``), with frequency and analytic weights; differentiable.

    >>> import funcad.numpy as fnp
    >>> fnp.cov(fnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    x = _nd(m)
    if get_aval(x).ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    dt = _np.result_type(get_aval(x).dtype, float64) if dtype is None else _np.dtype(dtype)
    x = astype(x, dt)
    x = reshape(x, (1, -1)) if get_aval(x).ndim < 2 else x
    if not rowvar and get_aval(x).shape[0] != 1:
        x = transpose(x)
    if y is not None:
        yy = astype(_nd(y), dt)
        yy = reshape(yy, (1, -1)) if get_aval(yy).ndim < 2 else yy
        if not rowvar and get_aval(yy).shape[0] != 1:
            yy = transpose(yy)
        x = concatenate([x, yy], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = astype(_nd(fweights), dt)
    if aweights is not None:
        aw = astype(_nd(aweights), dt)
        w = aw if w is None else multiply(w, aw)
    if w is None:
        n = get_aval(x).shape[1]
        avg = divide(_sum(x, axis=1), n)
        fact = n - ddof
        xc = subtract(x, expand_dims(avg, 1))
        c = divide(matmul(xc, conj(transpose(xc))), builtins.max(fact, 0) if fact > 0 else _np.asarray(0.0))
    else:
        w_sum = _sum(w)
        avg = divide(_sum(multiply(x, w), axis=1), w_sum)
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = subtract(w_sum, ddof)
        else:
            aw_sum = _sum(multiply(w, astype(_nd(aweights), dt)))
            fact = subtract(w_sum, divide(multiply(ddof, aw_sum), w_sum))
        xc = subtract(x, expand_dims(avg, 1))
        c = divide(matmul(multiply(xc, w), conj(transpose(xc))), fact)
    return reshape(c, ()) if get_aval(c).shape == (1, 1) else c


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """``numpy.corrcoef``: the correlation matrix, clipped to [-1, 1]; differentiable."""
    c = cov(x, y, rowvar, dtype=dtype)
    if get_aval(c).ndim == 0:
        return divide(c, c)
    d = sqrt(real(diagonal(c)))
    c = divide(divide(c, expand_dims(d, 1)), expand_dims(d, 0))
    if get_aval(c).dtype.kind == "c":  # NumPy clips the real and imaginary parts
        return _ew.make_complex(_ew.min(_ew.max(_ew.real(c), -1.0), 1.0),
                                _ew.min(_ew.max(_ew.imag(c), -1.0), 1.0))
    return _ew.min(_ew.max(c, -1.0), 1.0)


def gradient(f, *varargs, axis=None, edge_order=1):
    """``numpy.gradient``: central differences inside, one-sided (order ``edge_order``) at
    the ends; spacing a scalar or coordinates per axis. Linear in ``f``.

    >>> import funcad.numpy as fnp
    >>> fnp.gradient(fnp.array([1.0, 2.0, 4.0, 7.0]))
    array([1. , 1.5, 2.5, 3. ])
    """
    f = _nd(f)
    nd = get_aval(f).ndim
    axes = list(range(nd)) if axis is None else [a % nd for a in ((axis,) if isinstance(axis, int) else axis)]
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and _np.ndim(varargs[0]) == 0:
        spacing = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    (f,), dt = _promote_float(f, min_float=float64)
    out = [_gradient_axis(f, ax, h, edge_order, dt) for ax, h in zip(axes, spacing)]
    return out[0] if len(out) == 1 else out


def _gradient_axis(f, ax, h, edge_order, dt):
    n = get_aval(f).shape[ax]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                         "(edge_order + 1) elements are required.")
    nd = get_aval(f).ndim

    def sl(s):
        return tuple(s if i == ax else slice(None) for i in range(nd))

    def along(v):
        return reshape(v, tuple(-1 if i == ax else 1 for i in range(nd)))

    uniform = _np.ndim(h) == 0
    if uniform:
        interior = divide(subtract(f[sl(slice(2, None))], f[sl(slice(None, -2))]), multiply(2.0, h))
        if edge_order == 1:
            first = divide(subtract(f[sl(slice(1, 2))], f[sl(slice(0, 1))]), h)
            last = divide(subtract(f[sl(slice(-1, None))], f[sl(slice(-2, -1))]), h)
        else:
            first = divide(add(add(multiply(-1.5, f[sl(slice(0, 1))]), multiply(2.0, f[sl(slice(1, 2))])),
                               multiply(-0.5, f[sl(slice(2, 3))])), h)
            last = divide(add(add(multiply(0.5, f[sl(slice(-3, -2))]), multiply(-2.0, f[sl(slice(-2, -1))])),
                              multiply(1.5, f[sl(slice(-1, None))])), h)
        return concatenate([first, interior, last], ax) if n > 2 else concatenate([first, last], ax)
    x = astype(_nd(h), dt)
    if get_aval(x).shape != (n,):
        raise ValueError("when 1d, distances must match the length of the corresponding dimension")
    from ._stats import diff

    dx = diff(x)
    dx1, dx2 = dx[:-1], dx[1:]
    a = divide(_ew.neg(dx2), multiply(dx1, add(dx1, dx2)))
    b = divide(subtract(dx2, dx1), multiply(dx1, dx2))
    c = divide(dx1, multiply(dx2, add(dx1, dx2)))
    interior = add(add(multiply(along(a), f[sl(slice(None, -2))]), multiply(along(b), f[sl(slice(1, -1))])),
                   multiply(along(c), f[sl(slice(2, None))]))
    if edge_order == 1:
        first = divide(subtract(f[sl(slice(1, 2))], f[sl(slice(0, 1))]), dx[0])
        last = divide(subtract(f[sl(slice(-1, None))], f[sl(slice(-2, -1))]), dx[-1])
    else:
        d1, d2 = dx[0], dx[1]
        a0 = divide(_ew.neg(add(multiply(2.0, d1), d2)), multiply(d1, add(d1, d2)))
        b0 = divide(add(d1, d2), multiply(d1, d2))
        c0 = divide(_ew.neg(d1), multiply(d2, add(d1, d2)))
        first = add(add(multiply(a0, f[sl(slice(0, 1))]), multiply(b0, f[sl(slice(1, 2))])),
                    multiply(c0, f[sl(slice(2, 3))]))
        d1, d2 = dx[-2], dx[-1]
        a0 = divide(d2, multiply(d1, add(d1, d2)))
        b0 = divide(_ew.neg(add(d2, d1)), multiply(d1, d2))
        c0 = divide(add(multiply(2.0, d2), d1), multiply(d2, add(d1, d2)))
        last = add(add(multiply(a0, f[sl(slice(-3, -2))]), multiply(b0, f[sl(slice(-2, -1))])),
                   multiply(c0, f[sl(slice(-1, None))]))
    return concatenate([first, interior, last], ax) if n > 2 else concatenate([first, last], ax)


# --------------------------------------------------------------------------------------
# Products of the NumPy 2 array API


def vecdot(x1, x2, /, *, axis=-1):
    """``numpy.vecdot``: the dot product along ``axis``, ``x1`` conjugated."""
    return _sum(multiply(conj(x1), x2), axis=axis)


def matvec(x1, x2, /):
    """``numpy.matvec``: matrix-vector products over the last axes, batch axes broadcast."""
    return matmul(x1, expand_dims(x2, -1))[..., 0]


def vecmat(x1, x2, /):
    """``numpy.vecmat``: vector-matrix products over the last axes."""
    return matmul(expand_dims(x1, -2), x2)[..., 0, :]


def unstack(x, /, *, axis=0):
    """``numpy.unstack``: the slices along ``axis``, as a tuple."""
    x = _nd(x)
    x = moveaxis(x, axis, 0)
    return tuple(x[i] for i in range(get_aval(x).shape[0]))


# --------------------------------------------------------------------------------------
# Vectorising Python functions (through funcad.vmap)


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``numpy.apply_along_axis``, through ``funcad.vmap`` over the other axes, so
    ``func1d`` must be traceable (written with funcad.numpy)."""
    from ..batching import vmap

    arr = _nd(arr)
    nd = get_aval(arr).ndim
    axis = axis % nd
    moved = moveaxis(arr, axis, -1)
    batch = get_aval(moved).shape[:-1]
    flat = reshape(moved, (-1, get_aval(moved).shape[-1]))
    out = vmap(lambda row: _nd(func1d(row, *args, **kwargs)))(flat)
    core_shape = get_aval(out).shape[1:]
    out = reshape(out, batch + core_shape)
    return moveaxis(out, tuple(range(len(batch), len(batch) + len(core_shape))),
                    tuple(range(axis, axis + len(core_shape)))) if core_shape else out


def apply_over_axes(func, a, axes):
    """``numpy.apply_over_axes``: ``func(a, axis)`` for each axis, keeping dimensions."""
    a = _nd(a)
    for ax in (axes,) if isinstance(axes, int) else axes:
        res = _nd(func(a, ax))
        a = res if get_aval(res).ndim == get_aval(a).ndim else expand_dims(res, ax)
    return a


_DIMS = re.compile(r"\(([^()]*)\)")


class vectorize:
    """``numpy.vectorize`` through ``funcad.vmap``: ``pyfunc`` is applied to every element
    (or, with ``signature='(n),(n)->()'``, every core slice) of the broadcast inputs, so it
    must be traceable; the result differentiates and compiles. ``excluded`` arguments (positions
    or names) are passed through unchanged, as in NumPy and JAX.

    >>> import funcad.numpy as fnp
    >>> vectorize(lambda a, b: a if a > b else b)  # doctest: +ELLIPSIS
    <funcad.numpy._more.vectorize object at ...>
    """

    def __init__(self, pyfunc, otypes=None, doc=None, excluded=None, cache=False, signature=None):
        self.pyfunc, self.excluded, self.signature = pyfunc, set(excluded or ()), signature
        self.__doc__ = doc or getattr(pyfunc, "__doc__", None)

    def __call__(self, *args, **kwargs):
        from ..batching import vmap

        fixed = {i: a for i, a in enumerate(args) if i in self.excluded}
        fixed_kw = {k: v for k, v in kwargs.items() if k in self.excluded}
        mapped_kw = {k: v for k, v in kwargs.items() if k not in self.excluded}
        mapped = [_nd(a) for i, a in enumerate(args) if i not in self.excluded]
        mapped += [_nd(v) for v in mapped_kw.values()]
        n_pos = len(mapped) - len(mapped_kw)
        if self.signature is None:
            in_core = [()] * len(mapped)
        else:
            ins, _, _outs = self.signature.replace(" ", "").partition("->")
            in_core = [tuple(d for d in s.split(",") if d) for s in _DIMS.findall(ins)]
            if len(in_core) != len(mapped):
                raise ArgumentError(f"vectorize: the signature {self.signature!r} names {len(in_core)} "
                                    f"inputs, but {len(mapped)} were given")
        batch = _np.broadcast_shapes(*(get_aval(a).shape[:get_aval(a).ndim - len(c)]
                                       for a, c in zip(mapped, in_core)))
        flat = []
        for a, c in zip(mapped, in_core):
            core_shape = get_aval(a).shape[get_aval(a).ndim - len(c):]
            flat.append(reshape(broadcast_to(a, batch + core_shape), (-1,) + core_shape))

        def call(*xs):
            pos = list(xs[:n_pos])
            full = [fixed[i] if i in fixed else pos.pop(0) for i in range(len(args))]
            return self.pyfunc(*full, **fixed_kw, **dict(zip(mapped_kw, xs[n_pos:])))

        out = vmap(call)(*flat)
        if isinstance(out, tuple):
            return tuple(reshape(o, batch + get_aval(o).shape[1:]) for o in out)
        return reshape(_nd(out), batch + get_aval(_nd(out)).shape[1:])


# Only what this module defines or passes through from NumPy (never a funcad.numpy function
# it imported, which a later module may have replaced).
_EXPORTED_ALIASES = {"acos", "acosh", "asin", "asinh", "atan", "atanh", "atan2", "pow", "concat",
                     "row_stack", "little_endian", "typecodes", "sctypeDict", "ScalarType", "False_",
                     "True_"}
__all__ = sorted(n for n, v in list(globals().items())
                 if not n.startswith("_") and not isinstance(v, type(_np))
                 and ((getattr(v, "__module__", None) or "").startswith(("numpy", __name__))
                      or getattr(v, "_funcad_numpy_only", False) or n in _EXPORTED_ALIASES))
