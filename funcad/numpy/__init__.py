"""funcad.numpy: NumPy's API over funcad's primitives.

Write numerical code against ``funcad.numpy`` (conventionally ``fnp``) and every funcad
transformation sees through it. Functions follow NumPy's broadcasting, dtype promotion
(NumPy 2 rules: Python scalars take the array's dtype) and argument conventions; outside
any transformation they return plain ``numpy.ndarray``.

>>> import funcad.numpy as fnp
>>> fnp.sum(fnp.tanh(fnp.arange(3.0)))  # doctest: +ELLIPSIS
np.float64(1.7256...)
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Sequence

import numpy as _np
from numpy import (  # noqa: F401  dtypes and constants, as in NumPy
    bool_, e, euler_gamma, float16, float32, float64, inf, int8, int16, int32, int64, nan,
    newaxis, pi, uint8, dtype, ndarray, integer, floating, number,
)

from .. import core
from .. import lax as _lax
from ..core import Tracer, get_aval, result_dtype
from ..errors import DTypeError, IntegerOutOfBoundsError, ShapeError, UnsupportedFunctionError
from ..lax import elementwise as _ew

# --------------------------------------------------------------------------------------
# Conversion and promotion


def _is_array(x) -> bool:
    return isinstance(x, _OPERAND_TYPES)


def asarray(a, dtype=None):
    """Like ``numpy.asarray``; lists may hold traced values (they are stacked)."""
    if isinstance(a, Tracer):
        return a if dtype is None else astype(a, dtype)
    if isinstance(a, (list, tuple)) and _contains_tracer(a):
        out = stack([asarray(x) for x in a])
        return out if dtype is None else astype(out, dtype)
    if isinstance(a, complex) or (isinstance(a, _np.ndarray) and a.dtype.kind == "c"):
        return _np.asarray(a, dtype)
    out = _np.asarray(a, dtype)
    if out.dtype == object:
        raise DTypeError(f"funcad.numpy.asarray: cannot make an array of {type(a).__name__} "
                         f"values ({core._short_repr(a)}); expected numbers or arrays.")
    return out


def array(a, dtype=None, copy=True):
    """Like ``numpy.array``: a copy of a NumPy array unless ``copy=False`` (an assignment into
    the result never changes ``a``); traced values are values (never copied)."""
    out = asarray(a, dtype)
    if copy and isinstance(a, _np.ndarray) and isinstance(out, _np.ndarray) and _np.may_share_memory(out, a):
        out = out.copy()
    if copy and out is a:  # a traced value: a distinct object (see _array.fresh)
        from ._array import fresh

        out = fresh(out)
    return out


def _contains_tracer(a) -> bool:
    return builtins.any(isinstance(x, Tracer) or (isinstance(x, (list, tuple)) and _contains_tracer(x)) for x in a)


_OPERAND_TYPES = (Tracer, _np.ndarray, _np.generic, bool, int, float, complex)  # a tuple:
# isinstance against it is several times faster than against a union (every fnp call)
_WEAK = (bool, int, float)  # Python scalars: weakly typed. Written out as builtins.bool in the
# functions below: ``from ._more import *`` binds this module's ``bool`` to numpy.bool (fnp.bool)


def _arr(x):
    """An operand as something funcad's primitives accept."""
    if isinstance(x, _OPERAND_TYPES):
        return x
    return asarray(x)


def _promote(*args):
    """Cast operands to their NumPy result dtype (Python scalars stay weak)."""
    args = [_arr(x) for x in args]
    avals = [get_aval(x) for x in args]
    dt = result_dtype(*avals)
    return [x if a.weak_type or a.dtype == dt else _ew.convert_element_type(x, dt)
            for x, a in zip(args, avals)], dt


def _promote_float(*args, min_float=float16):
    """Like _promote, but integers and booleans become floats as in NumPy's ufuncs: the
    smallest float that holds each of them (int8 -> float16, int32 -> float64), Python ints
    float64. ``divide`` passes ``min_float=float64`` (NumPy's true_divide of ints)."""
    raw = [_arr(x) for x in args]
    args, dt = _promote(*raw)
    if dt.kind not in "fc":
        avals = [get_aval(x) for x in raw]
        # each strong input counts alone (uint8 with int8 -> float16); weak ones as promoted
        dts = [a.dtype for a in avals if not a.weak_type] + [dt] * builtins.any(a.weak_type for a in avals)
        fdt = _np.result_type(min_float, *dts)
        return [astype(x, fdt) if not isinstance(x, _WEAK) else float(x) for x in args], fdt
    return args, dt


def _real_floats(name: str, *args, min_float=float16):
    """The operands of a float-only ufunc without complex loops (``copysign``, ``deg2rad``,
    ``fabs``...) as arrays of their common float dtype, Python scalars included (a weak
    ``2.0`` takes a float32 operand's dtype); complex operands raise, as in NumPy."""
    raw, dt = _promote_float(*args, min_float=min_float)
    if dt.kind == "c":
        raise DTypeError(f"funcad.numpy.{name}: NumPy's {name} takes real numbers; got an operand "
                         f"of dtype {dt}. Pass its real and imaginary parts (x.real, x.imag) "
                         "separately, or the magnitude fnp.abs(x).")
    return [astype(x, dt) for x in raw], dt


def astype(x, dtype):
    """``x.astype(dtype)`` (``numpy.astype``); between floats the derivative passes through,
    to integers it is zero."""
    x = _arr(x)
    if isinstance(x, _WEAK):
        x = _np.asarray(x)
    return _ew.convert_element_type(x, _np.dtype(dtype))


def _is_float_array(x) -> bool:
    """A float array or tracer: needs no promotion (the fast path of every elementwise call)."""
    return _float_dtype(x) is not None


def _float_dtype(x):
    """The dtype of a float array or tracer, else None."""
    if type(x) is _np.ndarray:
        dt = x.dtype
    elif isinstance(x, Tracer):
        dt = x.aval.dtype
    elif type(x) is Array:  # funcad.numpy.Array (defined below)
        dt = x.dtype
    else:
        return None
    return dt if dt.kind == "f" else None


_NOT_FLOAT = _np.dtype(object)


def _unary(prim_fn, float_only=True, name=""):
    def f(x):
        # fast path: a float array or tracer (``_float_dtype`` inlined: one call fewer per op)
        # (an ``Array``, what fnp.zeros... return, is an ndarray: it takes the fast path too)
        if (x.dtype if type(x) is _np.ndarray else x.aval.dtype if isinstance(x, Tracer)
                else x.dtype if type(x) is Array else _NOT_FLOAT).kind == "f":
            return prim_fn(x)
        (x,), dt = (_promote_float if float_only else _promote)(x)
        if type(x) in _WEAK:
            x = _np.asarray(x)
        if dt.kind == "b":
            (x,) = _bool_operands(f.__name__, x)
        return prim_fn(x)

    f.__name__ = name or prim_fn.__name__
    f.__doc__ = f"Elementwise ``numpy.{f.__name__}``, differentiable."
    return f


def _binary(prim_fn, float_only=False, name=""):
    def f(x, y):
        # fast path: float arrays of one dtype, or a float array and a Python scalar (weak)
        # (``_float_dtype`` inlined for x: one call fewer per operation)
        dx = x.dtype if type(x) is _np.ndarray else x.aval.dtype if isinstance(x, Tracer) \
            else x.dtype if type(x) is Array else None
        if dx is not None and dx.kind == "f":
            if type(y) in _WEAK:
                return prim_fn(x, y)
            dy = _float_dtype(y)
            if dy is dx or (dy is not None and dy == dx):
                return prim_fn(x, y)
        elif type(x) in _WEAK and _float_dtype(y) is not None:
            return prim_fn(x, y)
        (x, y), dt = (_promote_float if float_only else _promote)(x, y)
        if type(x) in _WEAK and type(y) in _WEAK:
            x = _np.asarray(x)
        if dt.kind in "iub":
            x, y = _integer_operands(f.__name__, dt, x, y)
        return prim_fn(x, y)

    f.__name__ = name or prim_fn.__name__
    f.__doc__ = f"Elementwise ``numpy.{f.__name__}`` with broadcasting, differentiable."
    return f


_BOOL_LOOPS: dict = {}
_COMPARISONS = frozenset(("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"))


def _bool_operands(name: str, *args):
    """Boolean operands as NumPy's ufunc ``name`` computes them: as they are (``add``: logical
    or), as int8 (``power``, ``remainder``, ``square``...), or a DTypeError where NumPy has no
    boolean loop (``subtract``, ``negative``, ``sign``), eagerly and under jit alike."""
    loop = _BOOL_LOOPS.get((name, len(args)), 0)
    if loop == 0:
        try:
            loop = _np.dtype(getattr(_np, name).resolve_dtypes((_np.dtype(bool),) * len(args) + (None,))[0])
        except (TypeError, AttributeError):
            loop = None
        _BOOL_LOOPS[(name, len(args))] = loop
    if loop is None:
        raise DTypeError(f"funcad.numpy.{name}: NumPy has no {name} of booleans (operands of dtype "
                         f"bool); cast them (x.astype(int)) or use the logical functions "
                         "(logical_xor for -, logical_not for negation).")
    if loop.kind == "b":
        return args
    return [_ew.convert_element_type(x, loop) if not isinstance(x, _WEAK)
            else loop.type(x) for x in args]


def _integer_operands(name: str, dt, *args):
    """Integer or boolean operands of ``name``, checked as NumPy does: a Python integer must
    fit the dtype it meets (``int8_array + 300`` raises OverflowError; under jit it would wrap
    silently), and booleans follow NumPy's loop (:func:`_bool_operands`)."""
    if dt.kind in "iu" and name not in _COMPARISONS:
        info = _np.iinfo(dt)
        for x in args:
            if type(x) is int and not info.min <= x <= info.max:
                raise IntegerOutOfBoundsError(
                    f"funcad.numpy.{name}: the Python integer {x} is out of bounds for {dt} (the "
                    f"dtype of the other operand: {info.min} to {info.max}), as in NumPy. Make "
                    f"the array wider first (x.astype(np.float64), or a wider integer dtype), or "
                    "use a constant that fits.")
    if dt.kind == "b":
        return _bool_operands(name, *args)
    return args


# --------------------------------------------------------------------------------------
# Elementwise functions

add = _binary(_ew.add, name="add")
subtract = _binary(_ew.sub, name="subtract")
multiply = _binary(_ew.mul, name="multiply")


def divide(x, y):
    """Elementwise ``numpy.divide`` (true division; integers give float64), differentiable."""
    (x, y), _ = _promote_float(x, y, min_float=float64)
    if type(x) in _WEAK and type(y) in _WEAK:
        x = _np.asarray(x)
    return _ew.div(x, y)


true_divide = divide
arctan2 = _binary(_ew.arctan2, float_only=True, name="arctan2")
logaddexp = _binary(_ew.logaddexp, float_only=True, name="logaddexp")
hypot = _binary(_ew.hypot, float_only=True, name="hypot")
maximum = _binary(_ew.max, name="maximum")
minimum = _binary(_ew.min, name="minimum")
equal = _binary(_ew.eq, name="equal")
not_equal = _binary(_ew.ne, name="not_equal")
less = _binary(_ew.lt, name="less")
less_equal = _binary(_ew.le, name="less_equal")
greater = _binary(_ew.gt, name="greater")
greater_equal = _binary(_ew.ge, name="greater_equal")


def _logical(prim_fn, name):
    def f(x, y):
        return prim_fn(_to_bool(x), _to_bool(y))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``numpy.{name}``."
    return f


def _to_bool(x):
    x = _arr(x)
    if isinstance(x, _WEAK):
        return _np.asarray(builtins.bool(x))
    return x if get_aval(x).dtype == bool_ else _ew.ne(x, 0)


logical_and = _logical(_ew.logical_and, "logical_and")
logical_or = _logical(_ew.logical_or, "logical_or")
logical_xor = _logical(_ew.logical_xor, "logical_xor")


def logical_not(x):
    """Elementwise ``numpy.logical_not``."""
    return _ew.logical_not(_to_bool(x))


negative = _unary(_ew.neg, float_only=False, name="negative")
exp = _unary(_ew.exp, name="exp")
exp2 = _unary(_ew.exp2, name="exp2")
expm1 = _unary(_ew.expm1, name="expm1")
log = _unary(_ew.log, name="log")
log2 = _unary(_ew.log2, name="log2")
log10 = _unary(_ew.log10, name="log10")
log1p = _unary(_ew.log1p, name="log1p")
sqrt = _unary(_ew.sqrt, name="sqrt")
cbrt = _unary(_ew.cbrt, name="cbrt")
sin = _unary(_ew.sin, name="sin")
cos = _unary(_ew.cos, name="cos")
tan = _unary(_ew.tan, name="tan")
arcsin = _unary(_ew.arcsin, name="arcsin")
arccos = _unary(_ew.arccos, name="arccos")
arctan = _unary(_ew.arctan, name="arctan")
sinh = _unary(_ew.sinh, name="sinh")
cosh = _unary(_ew.cosh, name="cosh")
tanh = _unary(_ew.tanh, name="tanh")
arcsinh = _unary(_ew.arcsinh, name="arcsinh")
arccosh = _unary(_ew.arccosh, name="arccosh")
arctanh = _unary(_ew.arctanh, name="arctanh")
absolute = abs = _unary(_ew.abs, float_only=False, name="absolute")
sign = _unary(_ew.sign, float_only=False, name="sign")
floor = _unary(_ew.floor, float_only=False, name="floor")
ceil = _unary(_ew.ceil, float_only=False, name="ceil")
isnan = _unary(lambda x: core.bind(_ew.isnan_p, x), float_only=False, name="isnan")
isinf = _unary(lambda x: core.bind(_ew.isinf_p, x), float_only=False, name="isinf")
isfinite = _unary(lambda x: core.bind(_ew.isfinite_p, x), float_only=False, name="isfinite")


def power(x, y):
    """Elementwise ``x ** y``; a Python int exponent is exact (``integer_pow``). A scalar
    exponent 0.5 is ``sqrt``, as in NumPy (so ``-inf ** 0.5`` is nan and ``-0.0 ** 0.5`` is
    -0.0, where C's ``pow`` gives inf and 0.0)."""
    if type(y) is int and not isinstance(x, _WEAK):
        x = _arr(x)
        dt = get_aval(x).dtype
        if dt.kind in "fc" or (y >= 0 and dt.kind != "b"):
            _integer_operands("power", dt, y)  # int8_array ** 200 raises, as in NumPy
            return _ew.integer_pow(x, y)
    (x, y), dt = _promote(x, y)
    if type(y) in (float, _np.float64, _np.float32) and y == 0.5 and dt.kind == "f" and not isinstance(x, float):
        return sqrt(x)
    if type(x) in _WEAK and type(y) in _WEAK:
        x = _np.asarray(x)
    if dt.kind in "iub":
        x, y = _integer_operands("power", dt, x, y)
        if isinstance(y, int | _np.ndarray | _np.generic) and _np.any(_np.asarray(y) < 0) and math.prod(
                _np.broadcast_shapes(get_aval(x).shape, _np.shape(y))):  # an empty result raises nothing
            raise ValueError("Integers to negative integer powers are not allowed.")
    return _ew.pow(x, y)


def square(x):
    """Elementwise ``x ** 2`` (booleans are squared as int8, as in NumPy)."""
    x = _arr(x)
    if get_aval(x).dtype.kind == "b":
        (x,) = _bool_operands("square", _np.asarray(x) if type(x) is builtins.bool else x)
    return _ew.integer_pow(x, 2)


def reciprocal(x):
    """Elementwise ``1 / x``."""
    return divide(1.0 if get_aval(_arr(x)).dtype.kind not in "iub" else 1, x)


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    """``numpy.clip``: ``minimum(maximum(a, a_min), a_max)``; either bound may be None.

    ``min=``/``max=`` are NumPy 2's (and JAX's) names for the bounds.
    """
    if min is not None:
        if a_min is not None:
            raise TypeError("clip: give a_min or min, not both")
        a_min = min
    if max is not None:
        if a_max is not None:
            raise TypeError("clip: give a_max or max, not both")
        a_max = max
    if a_min is None and a_max is None:
        raise ValueError("clip: one of a_min and a_max must be given")
    out = a
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def where(condition, x=None, y=None, *, size=None, fill_value=None):
    """``numpy.where(condition, x, y)``: x where condition holds, else y. With one argument,
    ``nonzero(condition)`` (``size=``/``fill_value=`` as JAX's, to make it traceable)."""
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise TypeError("where: give both x and y, or neither")
    (x, y), _ = _promote(x, y)
    if type(x) in _WEAK and type(y) in _WEAK:
        x = _np.asarray(x)
    return _ew.select(_to_bool(condition), x, y)


# --------------------------------------------------------------------------------------
# Reductions


def _normalize_axes(axis, ndim, name="axis"):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | _np.integer) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise _np.exceptions.AxisError(f"{name} {a} is out of bounds for array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


def _axis_list(axes, ndim, name="axis"):
    """Axes in the order given, made non-negative; out of range raises AxisError and a
    repeat ValueError, as in NumPy (``moveaxis``, ``transpose``, ``expand_dims``)."""
    axes = [axes] if isinstance(axes, int | _np.integer) else list(axes)
    out = [operator.index(a) for a in axes]
    for a in out:
        if not -ndim <= a < ndim:
            raise _np.exceptions.AxisError(f"{name}: axis {a} is out of bounds for array of dimension {ndim}")
    out = [a % ndim for a in out]
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in `{name}` argument: {tuple(axes)}")
    return out


def _reduce(prim_fn, a, axis, keepdims, name):
    a = _arr(a)
    aval = get_aval(a)
    if aval.ndim == 0:
        _normalize_axes(axis, 1) if axis is not None else None
        out = a if isinstance(a, Tracer) else _np.asarray(a)
        return out
    axes = _normalize_axes(axis, aval.ndim)
    out = prim_fn(a, axes) if axes else a
    if keepdims:
        out = _lax.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(aval.shape)))
    return out


def _no_out(out, name):
    if out is not None:
        raise TypeError(f"{name}: out= is not supported (funcad arrays are immutable); use the "
                        "returned value")


def _masked(a, where_, fill, name):
    """``a`` with ``fill`` where ``where_`` is False (NumPy's ``where=`` of reductions)."""
    if where_ is None or where_ is True:
        return _arr(a)
    a = _as_nd(_arr(a))
    w = _to_bool(where_)
    shape = _ew.broadcast_shapes(get_aval(a).shape, get_aval(w).shape, op=name)
    return broadcast_to(_ew.select(w, a, _np.asarray(fill, get_aval(a).dtype)), shape)


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.sum`` over ``axis`` (None: all axes); ``where=`` masks entries out, ``initial=``
    is added."""
    _no_out(out, "sum")
    a = _arr(a)
    if dtype is None and where is None and initial is None and _float_dtype(a) is not None:
        return _reduce(_lax.reduce_sum, a, axis, keepdims, "sum")  # the common case, directly
    dt = _np.dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    res = _reduce(_lax.reduce_sum, _masked(astype(a, dt), where, 0, "sum"), axis, keepdims, "sum")
    return res if initial is None else add(res, _initial(initial, dt))


def _initial(v, dt):
    return astype(v, dt) if isinstance(v, Tracer) else _np.asarray(v, dt)


def _sum_dtype(dt):
    if dt.kind == "b" or (dt.kind == "i" and dt.itemsize < 8):
        return _np.dtype(int64)
    if dt.kind == "u" and dt.itemsize < 8:
        return _np.dtype(_np.uint64)
    return dt


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.prod`` over ``axis``; its derivative is exact at zeros. ``where=`` masks
    entries out (as ones), ``initial=`` multiplies."""
    _no_out(out, "prod")
    a = _arr(a)
    dt = _np.dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    res = _reduce(_lax.reduce_prod, _masked(astype(a, dt), where, 1, "prod"), axis, keepdims, "prod")
    return res if initial is None else multiply(res, _initial(initial, dt))


def _extremum(prim_fn, pick, a, axis, out, keepdims, initial, where_, name):
    _no_out(out, name)
    masked = where_ is not None and where_ is not True
    if masked and initial is None:
        raise ValueError(f"reduction operation '{'maximum' if name == 'max' else 'minimum'}' does "
                         "not have an identity, so to use a where mask one has to specify 'initial'")
    if initial is None:
        return _reduce(prim_fn, a, axis, keepdims, name)
    a = _as_nd(_arr(a))
    if masked:
        a = _masked(a, where_, initial, name)
    aval = get_aval(a)
    if aval.size == 0:  # NumPy: an empty reduction gives the initial value
        axes = _normalize_axes(axis, aval.ndim)
        shape = [1 if i in axes else n for i, n in enumerate(aval.shape)] if keepdims else \
            [n for i, n in enumerate(aval.shape) if i not in axes]
        return broadcast_to(_initial(initial, aval.dtype), tuple(shape))
    return pick(_reduce(prim_fn, a, axis, keepdims, name), _initial(initial, aval.dtype))


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.max``; at ties the derivative is shared equally among the maxima. ``where=``
    (with ``initial=``) masks entries out; ``initial=`` is a lower bound."""
    return _extremum(_lax.reduce_max, maximum, a, axis, out, keepdims, initial, where, "max")


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    """``numpy.min``; at ties the derivative is shared equally among the minima. ``where=``
    (with ``initial=``) masks entries out; ``initial=`` is an upper bound."""
    return _extremum(_lax.reduce_min, minimum, a, axis, out, keepdims, initial, where, "min")


amax, amin = max, min


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """``numpy.mean`` (integers average to float64); ``where=`` averages the selected entries."""
    _no_out(out, "mean")
    a = _arr(a)
    aval = get_aval(a)
    dt = _np.dtype(dtype) if dtype is not None else (aval.dtype if aval.dtype.kind in "fc" else _np.dtype(float64))
    if dt.kind in "iu":  # NumPy's mean(x, dtype=int32): the sum in int32, divided, truncated to int32
        count = sum(ones_like(a, int64), axis, keepdims=keepdims, where=where)
        return astype(divide(sum(a, axis, dt, keepdims=keepdims, where=where), count), dt)
    if where is not None and where is not True:
        shape = _ew.broadcast_shapes(aval.shape, get_aval(_arr(where)).shape, op="mean")
        count = sum(broadcast_to(_to_bool(where), shape), axis, dtype=dt, keepdims=keepdims)
        return divide(sum(astype(a, dt), axis, keepdims=keepdims, where=where), count)
    axes = _normalize_axes(axis, aval.ndim) if aval.ndim else ()
    n = math.prod([aval.shape[i] for i in axes])
    total = sum(astype(a, dt), axis, keepdims=keepdims)
    if n and dt.kind == "f":  # divide's promotion, known: a float by a Python int
        return _ew.div(total, n)
    return divide(total, n) if n else divide(total, _np.asarray(float("nan"), dt))


# --------------------------------------------------------------------------------------
# Products


def matmul(a, b):
    """``a @ b`` with NumPy's rules: vectors are promoted to matrices and back, batch axes broadcast."""
    dt = _float_dtype(a)
    if dt is None or _float_dtype(b) != dt:  # (two float operands of one dtype: as they are)
        (a, b), dt = _promote(a, b)
        a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if not sa or not sb:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {sa} and {sb}; "
                         "use * for scalars.")
    if len(sa) == 1 and len(sb) == 1 and sa == sb and dt.kind == "f":
        # The inner product of two vectors: sum(a * b) is two operations where the matmul
        # primitive (on matrices) needs three reshapes around it, in every derivative.
        return _lax.reduce_sum(_ew.mul(a, b), (0,))
    a2 = _lax.reshape(a, (1,) + sa) if len(sa) == 1 else a
    b2 = _lax.reshape(b, sb + (1,)) if len(sb) == 1 else b
    out = _lax.matmul(a2, b2)
    shape = get_aval(out).shape
    if len(sa) == 1 and len(sb) == 1:
        return _lax.reshape(out, shape[:-2])
    if len(sa) == 1:
        return _lax.reshape(out, shape[:-2] + shape[-1:])
    if len(sb) == 1:
        return _lax.reshape(out, shape[:-1])
    return out


def _as_nd(x):
    return _np.asarray(x) if isinstance(x, _WEAK + (complex,)) else x


def dot(a, b):
    """``numpy.dot``: scalars multiply, 1-D and 2-D as matmul, N-D sums over a's last and b's second-to-last axis."""
    (a, b), _ = _promote(a, b)
    a, b = _as_nd(a), _as_nd(b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if na == 0 or nb == 0:
        return multiply(a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([na - 1], [builtins.max(nb - 2, 0)]))


def vdot(a, b):
    """``numpy.vdot``: the dot product of the flattened arrays, ``a`` conjugated."""
    a = _as_nd(_arr(a))
    if get_aval(a).dtype.kind == "c":
        a = _ew.conj(a)
    return dot(ravel(a), ravel(b))


def inner(a, b):
    """``numpy.inner``: sum over the last axes."""
    (a, b), _ = _promote(a, b)
    a, b = _as_nd(a), _as_nd(b)
    if get_aval(a).ndim == 0 or get_aval(b).ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def outer(a, b):
    """``numpy.outer`` of the flattened inputs."""
    return multiply(ravel(a)[:, None], ravel(b)[None, :])


def tensordot(a, b, axes=2):
    """``numpy.tensordot``, through one matrix product."""
    (a, b), _ = _promote(a, b)
    a, b = _as_nd(a), _as_nd(b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if isinstance(axes, int | _np.integer):
        ax_a, ax_b = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int | _np.integer) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int | _np.integer) else list(ax_b)
    ax_a = [x % len(sa) for x in ax_a]
    ax_b = [x % len(sb) for x in ax_b]
    if len(ax_a) != len(ax_b) or builtins.any(sa[i] != sb[j] for i, j in zip(ax_a, ax_b)):
        raise ShapeError(f"tensordot: shape-mismatch for sum: axes {ax_a} of shape {sa} and "
                         f"axes {ax_b} of shape {sb}.")
    free_a = [i for i in range(len(sa)) if i not in ax_a]
    free_b = [i for i in range(len(sb)) if i not in ax_b]
    k = int(_np.prod([sa[i] for i in ax_a], dtype=_np.int64))
    a2 = _lax.reshape(_lax.transpose(a, free_a + ax_a), (-1 if False else int(_np.prod([sa[i] for i in free_a], dtype=_np.int64)), k))
    b2 = _lax.reshape(_lax.transpose(b, ax_b + free_b), (k, int(_np.prod([sb[i] for i in free_b], dtype=_np.int64))))
    return _lax.reshape(_lax.matmul(a2, b2), [sa[i] for i in free_a] + [sb[i] for i in free_b])


def einsum(subscripts: str, *operands, optimize=None):
    """``numpy.einsum`` (explicit or implicit output; ``...`` for leading axes)."""
    operands, _ = _promote(*operands)
    operands = [_as_nd(x) for x in operands]
    spec = _normalize_einsum(subscripts.replace(" ", ""), [get_aval(x).ndim for x in operands])
    return _lax.einsum(spec, *_broadcast_size_one(spec, operands))


def _broadcast_size_one(spec, operands):
    """NumPy's einsum broadcasts an axis of size 1 against the same label's size n in another
    operand (under ``...`` and for named labels alike); the einsum primitive needs equal sizes
    (its derivative rules rely on them), so broadcast those operands first."""
    ins = spec.split("->")[0].split(",")
    sizes: dict = {}
    for sub, x in zip(ins, operands):
        for c, n in zip(sub, get_aval(x).shape):
            sizes[c] = builtins.max(sizes.get(c, 1), n)
    out = []
    for sub, x in zip(ins, operands):
        shape = get_aval(x).shape
        want = tuple(sizes.get(c, n) if n == 1 else n for c, n in zip(sub, shape))
        out.append(x if want == shape else broadcast_to(x, want))
    return out


def _normalize_einsum(subscripts, ndims):
    ins, arrow, out = subscripts.partition("->")
    ins = ins.split(",")
    if len(ins) != len(ndims):
        raise ValueError(f"einsum: '{subscripts}' names {len(ins)} operands but {len(ndims)} were given")
    if "..." in subscripts:
        used = set(subscripts) - set(".,->")
        spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
        n_ell = builtins.max(n - (len(s) - 3) for s, n in zip(ins, ndims) if "..." in s)
        ell = "".join(spare[:n_ell])
        ins = [s.replace("...", ell[n_ell - (n - (len(s) - 3)):]) if "..." in s else s
               for s, n in zip(ins, ndims)]
        out = out.replace("...", ell) if arrow else None
    if not arrow or out is None:
        letters = "".join(ins)
        once = sorted(c for c in set(letters) if letters.count(c) == 1 and c.islower())
        upper = sorted(c for c in set(letters) if c.isupper())
        out = "".join(upper) + "".join(once)
    return ",".join(ins) + "->" + out


# --------------------------------------------------------------------------------------
# Shapes


def shape(a):
    """``numpy.shape``: the shape of an array, list or traced value (always concrete)."""
    return get_aval(_arr(a)).shape


def ndim(a):
    """``numpy.ndim``: the number of axes (always concrete)."""
    return get_aval(_arr(a)).ndim


def size(a, axis=None):
    """``numpy.size``: the number of elements, or the length of ``axis`` (always concrete)."""
    aval = get_aval(_arr(a))
    return aval.size if axis is None else aval.shape[_axis_list(axis, aval.ndim)[0]]


def reshape(a, newshape=None, order="C", *, shape=None):
    """``numpy.reshape`` (C order; one entry may be -1); ``shape=`` as NumPy 2.1 names it."""
    if (newshape is None) == (shape is None):
        raise TypeError("reshape: give the new shape once, as shape= (or newshape=, its old name)")
    newshape = shape if newshape is None else newshape
    if order != "C":
        raise ValueError("funcad.numpy.reshape supports order='C' only")
    a = _as_nd(_arr(a))
    aval = get_aval(a)
    newshape = (newshape,) if isinstance(newshape, int | _np.integer) else tuple(newshape)
    if builtins.sum(1 for n in newshape if n == -1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in newshape:
        known = int(_np.prod([n for n in newshape if n != -1], dtype=_np.int64))
        if known == 0 or aval.size % known:
            raise ShapeError(f"reshape: cannot reshape array of size {aval.size} into shape {newshape}")
        newshape = tuple(aval.size // known if n == -1 else n for n in newshape)
    return _lax.reshape(a, newshape)


def ravel(a):
    """``numpy.ravel``."""
    return reshape(a, (-1,))


def transpose(a, axes=None):
    """``numpy.transpose`` (reverse the axes by default)."""
    a = _as_nd(_arr(a))
    nd = get_aval(a).ndim
    if axes is not None and len(axes) != nd:
        raise ValueError(f"transpose: axes {tuple(axes)} don't match an array of dimension {nd}")
    axes = tuple(reversed(range(nd))) if axes is None else tuple(_axis_list(axes, nd, "axes"))
    return _lax.transpose(a, axes)


def moveaxis(a, source, destination):
    """``numpy.moveaxis``."""
    a = _as_nd(_arr(a))
    nd = get_aval(a).ndim
    src, dst = _axis_list(source, nd, "source"), _axis_list(destination, nd, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _lax.transpose(a, order)


def swapaxes(a, axis1, axis2):
    """``numpy.swapaxes``."""
    a = _as_nd(_arr(a))
    nd = get_aval(a).ndim
    order = list(range(nd))
    (axis1,), (axis2,) = _axis_list(axis1, nd, "axis1"), _axis_list(axis2, nd, "axis2")
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return _lax.transpose(a, order)


def expand_dims(a, axis):
    """``numpy.expand_dims``."""
    a = _as_nd(_arr(a))
    shp = get_aval(a).shape
    nd = len(shp) + (1 if isinstance(axis, int | _np.integer) else len(axis))
    axes = sorted(_axis_list(axis, nd))
    out = list(shp)
    for ax in axes:
        out.insert(ax, 1)
    return _lax.reshape(a, out)


def squeeze(a, axis=None):
    """``numpy.squeeze``."""
    a = _as_nd(_arr(a))
    shp = get_aval(a).shape
    if axis is None:
        axes = [i for i, n in enumerate(shp) if n == 1]
    else:
        axes = _normalize_axes(axis, len(shp))
        bad = [i for i in axes if shp[i] != 1]
        if bad:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to one "
                             f"(axis {bad[0]} of shape {shp})")
    return _lax.reshape(a, [n for i, n in enumerate(shp) if i not in axes])


def broadcast_to(array, shape):
    """``numpy.broadcast_to``."""
    a = _as_nd(_arr(array))
    shape = (shape,) if isinstance(shape, int | _np.integer) else tuple(shape)
    return _lax.broadcast_to(a, shape)


def broadcast_arrays(*args):
    """``numpy.broadcast_arrays``: the arguments broadcast to one shape (a list)."""
    shp = _ew.broadcast_shapes(*(get_aval(_arr(a)).shape for a in args), op="broadcast_arrays")
    return [broadcast_to(a, shp) for a in args]


def atleast_1d(x):
    x = _as_nd(_arr(x))
    return reshape(x, (1,)) if get_aval(x).ndim == 0 else x


def concatenate(arrays, axis=0, out=None, *, dtype=None):
    """``numpy.concatenate``; ``axis=None`` flattens first; ``dtype=`` casts the operands."""
    _no_out(out, "concatenate")
    arrays = [_as_nd(_arr(x)) if dtype is None else astype(x, dtype) for x in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays, axis = [ravel(x) for x in arrays], 0
    arrays, _ = _promote(*arrays)
    arrays = [_as_nd(x) for x in arrays]
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = _normalize_axes(axis, nd)[0]
    if len(arrays) == 1:
        return arrays[0]
    return _lax.concatenate(arrays, axis)


def stack(arrays, axis=0, out=None, *, dtype=None):
    """``numpy.stack``: join along a new axis."""
    _no_out(out, "stack")
    arrays = [_as_nd(_arr(x)) if dtype is None else astype(x, dtype) for x in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {get_aval(x).shape for x in arrays}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all input arrays must have the same shape, got {sorted(shapes)}")
    (axis,) = _axis_list(axis, get_aval(arrays[0]).ndim + 1)
    return concatenate([expand_dims(x, axis) for x in arrays], axis)


def hstack(tup):
    """``numpy.hstack``."""
    arrays = [atleast_1d(x) for x in tup]
    return concatenate(arrays, 0 if get_aval(arrays[0]).ndim == 1 else 1)


def vstack(tup):
    """``numpy.vstack``."""
    arrays = [atleast_1d(x) for x in tup]
    arrays = [reshape(x, (1, -1)) if get_aval(x).ndim == 1 else x for x in arrays]
    return concatenate(arrays, 0)


# --------------------------------------------------------------------------------------
# Creation (constants: nothing to differentiate)


def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, int | _np.integer) else tuple(int(n) for n in shape)


def full(shape, fill_value, dtype=None):
    """``numpy.full``."""
    if isinstance(fill_value, Tracer) or _np.ndim(fill_value) != 0:
        return broadcast_to(asarray(fill_value, dtype), _shape_tuple(shape))
    dt = _np.dtype(dtype) if dtype is not None else _np.asarray(fill_value).dtype
    return _lax.full(_shape_tuple(shape), fill_value, dt)


def zeros(shape, dtype=float64):
    """``numpy.zeros``."""
    return _lax.full(_shape_tuple(shape), 0, _np.dtype(dtype or float64))


def ones(shape, dtype=float64):
    """``numpy.ones``."""
    return _lax.full(_shape_tuple(shape), 1, _np.dtype(dtype or float64))


def zeros_like(a, dtype=None):
    """``numpy.zeros_like``: zeros of ``a``'s shape and dtype (a constant)."""
    aval = get_aval(_arr(a))
    return _lax.full(aval.shape, 0, dtype or aval.dtype)


def ones_like(a, dtype=None):
    """``numpy.ones_like``: ones of ``a``'s shape and dtype (a constant)."""
    aval = get_aval(_arr(a))
    return _lax.full(aval.shape, 1, dtype or aval.dtype)


def full_like(a, fill_value, dtype=None):
    """``numpy.full_like``: ``fill_value`` in ``a``'s shape (differentiable in a traced
    ``fill_value``)."""
    aval = get_aval(_arr(a))
    return full(aval.shape, fill_value, dtype or aval.dtype)


def empty(shape, dtype=float64):
    """``numpy.empty``: zeros here (funcad never hands out uninitialised memory)."""
    return zeros(shape, dtype)


def eye(N, M=None, k=0, dtype=float64):
    """``numpy.eye`` (a constant)."""
    return _np.eye(N, M, k, dtype=dtype)


def identity(n, dtype=float64):
    """``numpy.identity``: the ``n`` x ``n`` identity matrix."""
    return eye(n, dtype=dtype)


# --------------------------------------------------------------------------------------
# Indexing


def _getitem(x, idx):
    x = _as_nd(_arr(x))
    if not isinstance(idx, tuple):
        idx = (idx,)
    if builtins.any(_traced_slice(t) for t in idx):
        x, idx = _dynamic_slices(x, idx)
    template, arrays = [], []
    for t in idx:
        if t is None or t is Ellipsis or isinstance(t, slice):
            if isinstance(t, slice) and builtins.any(isinstance(v, Tracer) for v in (t.start, t.stop, t.step)):
                t = slice(*(operator.index(v) if v is not None else None for v in (t.start, t.stop, t.step)))
            template.append(t)
        elif isinstance(t, int | _np.integer) and not isinstance(t, builtins.bool):
            template.append(int(t))
        else:
            arr = t if isinstance(t, Tracer) else _np.asarray(t)
            aval = get_aval(arr)
            if aval.dtype == bool_:
                concrete = core.maybe_concrete(arr)
                if concrete is None:
                    raise core.ConcretizationError(
                        "boolean-mask indexing under jit: the result's size depends on the mask's "
                        "values. Use funcad.numpy.where(mask, x, 0) instead.")
                template.extend(("array", len(arrays) + j) for j in range(aval.ndim))
                arrays.extend(_np.nonzero(_np.asarray(concrete)))
                continue
            if aval.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, "
                                 f"got {aval.dtype}")
            template.append(("array", len(arrays)))
            arrays.append(arr)
    return _lax.index(x, tuple(template), arrays)


def _traced_slice(t) -> bool:
    return isinstance(t, slice) and builtins.any(isinstance(v, Tracer) for v in (t.start, t.stop, t.step))


def _dynamic_slices(x, idx):
    """``x[i:i + k]`` with a traced ``i`` (under jit, or batched under vmap): a dynamic slice of
    static size ``k`` (funcad.lax.dynamic_slice_in_dim) on that axis, then the rest of ``idx``."""
    from ..lax import jax_api

    idx = list(idx)
    for pos, t in enumerate(idx):
        if not _traced_slice(t):
            continue
        try:  # concrete bounds (eager grad...): an ordinary slice
            idx[pos] = slice(*(None if v is None else operator.index(v) for v in (t.start, t.stop, t.step)))
            continue
        except core.ConcretizationError:
            pass
        if t.step is not None and core.maybe_concrete(t.step) != 1:
            raise core.ConcretizationError(
                "x[i:j:step] with traced bounds: funcad slices dynamically only with step 1 "
                "(x[i:i + k]); gather with an index array, x[i + step * fnp.arange(k)], instead.")
        ndim = get_aval(x).ndim
        axis = _axis_of_entry(idx, pos, ndim)
        k = jax_api.traced_slice_size(t.stop, t.start, get_aval(x).shape[axis])
        x = jax_api.dynamic_slice_in_dim(x, t.start, k, axis)
        idx[pos] = slice(None)
    return x, tuple(idx)


def _axis_of_entry(idx, pos, ndim):
    """The axis of ``x`` that the index entry ``idx[pos]`` (a slice) applies to."""
    def consumed(t):
        if t is None or t is Ellipsis:
            return 0
        if isinstance(t, slice | int | _np.integer):
            return 1
        a = get_aval(t if isinstance(t, Tracer) else _np.asarray(t))
        return a.ndim if a.dtype == bool_ else 1

    if builtins.any(t is Ellipsis for t in idx[:pos]):
        return ndim - builtins.sum(consumed(t) for t in idx[pos:])
    return builtins.sum(consumed(t) for t in idx[:pos])


# --------------------------------------------------------------------------------------
# Tracer methods and operators, and NumPy's dispatch protocols


def _rev(f):
    return lambda x, y: f(y, x)


_OPERATORS = {
    "__add__": add, "__radd__": _rev(add), "__sub__": subtract, "__rsub__": _rev(subtract),
    "__mul__": multiply, "__rmul__": _rev(multiply), "__truediv__": divide,
    "__rtruediv__": _rev(divide), "__pow__": power, "__rpow__": _rev(power),
    "__matmul__": matmul, "__rmatmul__": _rev(matmul), "__neg__": negative,
    "__pos__": lambda x: x, "__abs__": absolute, "__eq__": equal, "__ne__": not_equal,
    "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
    "__getitem__": _getitem,  # (& | ^ ~: logical or bitwise by dtype, bound after ._more below)
    "__mod__": lambda x, y: mod(x, y), "__rmod__": lambda x, y: mod(y, x),
    "__floordiv__": lambda x, y: floor_divide(x, y), "__rfloordiv__": lambda x, y: floor_divide(y, x),
}

_METHODS = {
    "sum": sum, "mean": mean, "prod": prod, "max": max, "min": min, "reshape": None,
    "ravel": ravel, "flatten": ravel, "squeeze": squeeze, "astype": astype, "dot": dot,
    "swapaxes": swapaxes, "clip": clip, "transpose": None,
}


def _method_reshape(self, *shape, order="C"):
    return reshape(self, shape[0] if len(shape) == 1 else shape, order)


def _method_transpose(self, *axes):
    return transpose(self, axes[0] if len(axes) == 1 else (axes or None))


for _name, _fn in _OPERATORS.items():
    setattr(Tracer, _name, _fn)
for _name, _fn in _METHODS.items():
    if _fn is not None:
        setattr(Tracer, _name, _fn)
Tracer.reshape = _method_reshape
Tracer.transpose = _method_transpose
Tracer.T = property(lambda self: transpose(self))
Tracer.mT = property(lambda self: swapaxes(self, -1, -2))
Tracer.__hash__ = core.Tracer.__hash__


def _ufunc_dispatch(ufunc, method, inputs, kwargs):
    fn = globals().get(ufunc.__name__) if method == "__call__" and not kwargs else None
    if fn is None or not callable(fn):
        raise UnsupportedFunctionError(
            f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} was called on "
            f"a traced value, and funcad.numpy has no equivalent{' for these keyword arguments' if kwargs else ''}. "
            "Use a funcad.numpy function, or compose it from supported ones.")
    return fn(*inputs)


def _function_dispatch(func, args, kwargs):
    # numpy.linalg.solve -> funcad.numpy.linalg.solve: look the function up by its module path.
    module = getattr(func, "__module__", None) or "numpy"
    sub = [] if module == "numpy" or module.startswith("numpy._") else module.split(".")[1:]
    namespace, full_name = _np_namespace(sub), ".".join(["numpy", *sub, func.__name__])
    fn = getattr(namespace, func.__name__, None) if namespace is not None else None
    if fn is None or not callable(fn) or func.__name__.startswith("_"):
        raise UnsupportedFunctionError(
            f"{full_name} was called on a traced value (inside grad, jvp, vmap, jit...), and "
            f"funcad does not support it{' yet' if sub else ''}: NumPy cannot compute its "
            "derivative. Use funcad.numpy's functions inside transformed functions (see "
            "funcad.numpy.__all__ for what is supported), or compose it from supported ones.")
    return fn(*args, **kwargs)


def _np_namespace(sub):
    """The funcad.numpy (sub)module that mirrors ``numpy.<sub>``, or None."""
    import importlib

    try:
        return importlib.import_module(".".join([__name__, *sub]))
    except ImportError:
        return None


core._numpy_dispatch.ufunc = _ufunc_dispatch
core._numpy_dispatch.function = _function_dispatch

from ._elementwise_extra import *  # noqa: E402,F401,F403
from ._shape_ops import *  # noqa: E402,F401,F403
from ._stats import *  # noqa: E402,F401,F403
from ._ranges import *  # noqa: E402,F401,F403
from ._more import *  # noqa: E402,F401,F403
from ._more import nonzero  # noqa: E402,F401  (where(condition) with one argument)
from . import _methods  # noqa: E402,F401  (the ndarray methods of traced values)
from ._more import _and_operator, _or_operator, _xor_operator, left_shift, right_shift  # noqa: E402
from ._more import invert as _invert  # noqa: E402
from ._array import Array, as_array as _as_array, tracer_setitem as _tracer_setitem  # noqa: E402

# & | ^ ~ << >> of traced values: logical on booleans, bitwise on integers, as NumPy
for _name, _fn in {"__and__": _and_operator, "__rand__": _rev(_and_operator), "__or__": _or_operator,
                   "__ror__": _rev(_or_operator), "__xor__": _xor_operator, "__rxor__": _rev(_xor_operator),
                   "__invert__": _invert, "__lshift__": left_shift, "__rlshift__": _rev(left_shift),
                   "__rshift__": right_shift, "__rrshift__": _rev(right_shift)}.items():
    setattr(Tracer, _name, _fn)


def _returns_array(fn):
    """``fn`` whose NumPy-array result is an :class:`Array` (with ``.at``); internal callers
    keep the plain function."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        return tuple(map(_as_array, out)) if type(out) is tuple else _as_array(out)

    return wrapper


for _name in ["asarray", "array", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
              "full_like", "eye", "identity", "arange", "linspace", "logspace", "geomspace"]:
    globals()[_name] = _returns_array(globals()[_name])

Tracer.__setitem__ = _tracer_setitem
from ._unsupported import make_getattr as _make_getattr  # noqa: E402

__getattr__ = _make_getattr(__name__, _np)
from . import linalg  # noqa: E402,F401
from . import fft  # noqa: E402,F401
from ._ports import *  # noqa: E402,F401,F403  (nanquantile..., put, fill_diagonal, place)

__all__ = sorted(
    n for n, v in globals().items()
    if not n.startswith("_") and n not in {"annotations", "builtins", "math", "operator", "core",
                                           "Sequence", "Tracer", "get_aval", "result_dtype",
                                           "DTypeError", "ShapeError", "UnsupportedFunctionError"}
)
