"""The core: abstract values, primitives, ``bind`` and the trace machinery.

Every operation in funcad is a :class:`Primitive`; applying one goes through
:func:`bind`, the single interception point. ``bind`` hands the primitive to the
*current trace* (a thread-local), which decides what applying it means:

* :class:`EvalTrace` (the root) runs the primitive's NumPy implementation;
* ``JVPTrace`` (ad.py) carries primal/tangent pairs;
* ``BatchTrace`` (batching.py) carries values with a batch axis;
* ``StagingTrace`` (jaxpr.py) records an equation into a jaxpr.

Each trace knows its parent; a transformation runs its rules with the current trace set
to its parent, so rules are written with ``bind`` again and transformations compose.
A value that is not a tracer of the current trace is a constant to it (this is how a
function closes over values of an enclosing transformation). This is the "current
interpreter" design of JAX's Autodidax and of JAX itself since 0.4.36.
"""

from __future__ import annotations

import math
import operator
import threading
from typing import Any, Callable

import numpy as np

from .errors import (
    ConcretizationError,
    DTypeError,
    TracerArrayConversionError,
    UnexpectedTracerError,
)

# --------------------------------------------------------------------------------------
# Abstract values


_SHORT_DTYPE = {
    "float64": "f64", "float32": "f32", "float16": "f16",
    "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8",
    "uint64": "u64", "uint32": "u32", "uint16": "u16", "uint8": "u8",
    "bool": "bool", "complex128": "c128", "complex64": "c64",
}


def short_dtype(dtype) -> str:
    return _SHORT_DTYPE.get(np.dtype(dtype).name, np.dtype(dtype).name)


class ShapedArray:
    """The abstract value of an array: its shape and dtype (what jaxprs are typed by)."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = shape if type(shape) is tuple else tuple(shape)
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        # A Python scalar: it takes the dtype of the array it meets (NumPy 2, NEP 50).
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))

    def __eq__(self, other):
        return (
            isinstance(other, ShapedArray)
            and self.shape == other.shape
            and self.dtype == other.dtype
        )

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def str_short(self) -> str:
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"

    __repr__ = str_short


def is_float_dtype(dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


_PY_SCALAR_DTYPES = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float64),
                     complex: np.dtype(np.complex128)}
_PY_SCALAR_AVALS = {t: ShapedArray((), dt, weak_type=True) for t, dt in _PY_SCALAR_DTYPES.items()}


def get_aval(x) -> ShapedArray:
    """The abstract value of a tracer, array or Python/NumPy scalar."""
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, _ARRAY_TYPES):
        aval = _AVALS.get((x.shape, x.dtype))
        return shaped_array(x.shape, x.dtype) if aval is None else aval
    aval = _PY_SCALAR_AVALS.get(type(x))
    if aval is not None:
        return aval
    return _aval_of_other(x)


_ARRAY_TYPES = (np.ndarray, np.generic)


def check_array_type(x, where: str) -> None:
    """Refuse an ndarray subclass whose meaning funcad would drop (as JAX does): a masked
    array (funcad would compute with the masked values), ``numpy.matrix`` (``*`` is a matrix
    product there), or any subclass with its own ``__array_ufunc__``/``__array_function__``
    (units, lazy arrays...). Plain views such as ``numpy.memmap`` are fine."""
    t = type(x)
    if t is np.ndarray or not isinstance(x, np.ndarray):
        return
    if isinstance(x, np.ma.MaskedArray):
        how = "a masked array: funcad would compute with the masked values. Use x.filled(value) " \
              "or x.compressed(), or pass the mask as an array and use funcad.numpy.where"
    elif isinstance(x, np.matrix):
        how = "a numpy.matrix, whose * is a matrix product. Pass np.asarray(x) and use @"
    elif (t.__array_ufunc__ is not np.ndarray.__array_ufunc__
          or t.__array_function__ is not np.ndarray.__array_function__):
        how = (f"an ndarray subclass ({t.__module__}.{t.__name__}) with its own NumPy overrides, "
               "whose meaning funcad would drop. Pass np.asarray(x) (its plain values)")
    else:
        return
    from .errors import ArraySubclassError

    raise ArraySubclassError(f"{where} is {how}.")
_AVALS: dict[tuple, ShapedArray] = {}


def shaped_array(shape: tuple, dtype: np.dtype) -> ShapedArray:
    """The (strongly typed) ShapedArray of ``shape`` and ``dtype``, one shared instance per
    pair: eager transformations ask for avals of every intermediate value, and building one
    costs more than the lookup. Avals are never mutated."""
    key = (shape, dtype)
    aval = _AVALS.get(key)
    if aval is None:
        if len(_AVALS) > 4096:  # a program sweeping over many shapes: start again
            _AVALS.clear()
        aval = _AVALS[key] = ShapedArray(shape, dtype)
    return aval


_WEAK_STANDIN = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def result_dtype(*avals: ShapedArray) -> np.dtype:
    """NumPy's result dtype, with Python scalars (weak types) taking the arrays' dtype."""
    key = tuple((a.dtype, a.weak_type) for a in avals)
    dt = _RESULT_DTYPE_CACHE.get(key)
    if dt is None:  # np.result_type costs microseconds: cache it (eager calls add up)
        dt = _RESULT_DTYPE_CACHE[key] = np.result_type(
            *(_WEAK_STANDIN[a.dtype.kind] if a.weak_type else a.dtype for a in avals))
    return dt


_RESULT_DTYPE_CACHE: dict[tuple, np.dtype] = {}


ABSTRACT_TYPES: tuple = ()  # funcad.api.ShapeDtypeStruct: a shape and dtype standing for an array


def _aval_of_other(x) -> ShapedArray:
    if isinstance(x, ABSTRACT_TYPES):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    if isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if arr.dtype != object:
            return ShapedArray(arr.shape, arr.dtype)
    raise DTypeError(
        f"funcad cannot use a value of type {type(x).__name__} ({_short_repr(x)}) as an array. "
        "Pass NumPy arrays, Python numbers or funcad arrays; use funcad.numpy.asarray for lists."
    )


def _short_repr(x) -> str:
    r = repr(x)
    return r if len(r) < 60 else r[:57] + "..."


def is_valid_array(x) -> bool:
    return isinstance(x, Tracer | np.ndarray | np.generic | bool | int | float | complex)


# --------------------------------------------------------------------------------------
# Primitives


class Primitive:
    """A named operation. Its rules live in per-transformation tables keyed by it.

    ``impl`` computes it on NumPy arrays, ``abstract_eval`` on :class:`ShapedArray` (the
    shape and dtype rule). JVP, transpose and batching rules are registered in ad.py and
    batching.py; how jit compiles it in backend/ (a fused loop's rule in lowering.py, or a
    table rule, or a host step calling ``impl``).
    """

    __slots__ = ("name", "impl", "abstract_eval", "multiple_results", "__weakref__")

    def __init__(self, name: str, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable | None = None
        self.abstract_eval: Callable | None = None

    def __repr__(self):
        return self.name

    def bind(self, *args, **params):
        return bind(self, *args, **params)

    def def_impl(self, impl):
        self.impl = impl
        return impl

    def def_abstract_eval(self, rule):
        self.abstract_eval = rule
        return rule


# Primitives with a side effect (funcad.debug.print): a compiled program runs them where they
# stand, so the simplifier never drops (DCE), merges (CSE) or folds them.
EFFECTFUL: set = set()


def bind(prim: Primitive, *args, **params):
    """Apply ``prim`` to ``args`` as the current trace sees fit."""
    return _state.trace.process_primitive(prim, args, params)


# --------------------------------------------------------------------------------------
# Traces and tracers


class Trace:
    """How primitives are applied inside one transformation. Each trace has a parent."""

    def __init__(self, parent: Trace | None):
        self.parent = parent
        self.alive = True

    def process_primitive(self, prim: Primitive, args, params):
        raise NotImplementedError  # every concrete trace overrides this

    def pure(self, x) -> Tracer:
        """Wrap a value from an enclosing trace (a constant here) as a tracer of this one."""
        raise NotImplementedError  # every concrete trace overrides this

    def lift(self, x):
        if isinstance(x, Tracer):
            if x._trace is self:
                return x
            if not x._trace.alive:
                raise escaped_tracer_error(x)
        return self.pure(x)

    def concrete_value(self, tracer: Tracer, why: str, scalar: bool = False):
        """The concrete value of ``tracer``, or a ConcretizationError saying ``why`` it was
        needed. ``scalar``: for a conversion to a Python scalar, which carries no derivative
        (a differentiating trace refuses it; ``bool`` for control flow is not one)."""
        raise ConcretizationError(
            f"{why}: the value {tracer.aval.str_short()} is abstract inside "
            f"{type(self).__name__}."
        )

    def __repr__(self):
        return f"{type(self).__name__}"


def escaped_tracer_error(x: Tracer) -> UnexpectedTracerError:
    return UnexpectedTracerError(
        f"A traced value ({x.aval.str_short()}, from {type(x._trace).__name__}) was used "
        "after the transformation that created it had finished. This happens when a function "
        "being transformed stores an intermediate value outside itself (in a global, a list "
        "or an attribute) and the value is used later. Return the value from the function "
        "instead (use has_aux=True to return extra values alongside a gradient)."
    )


class _DebugHooks:
    """Set by funcad.config (debug_nans); None when off, so the hot paths pay one test."""

    eval: Callable | None = None  # eval(prim, args, params, out): a primitive ran eagerly
    stage: Callable | None = None  # stage(eqn): an equation was recorded into a jaxpr


debug_hooks = _DebugHooks()


class EvalTrace(Trace):
    """The root trace: primitives run their NumPy implementations."""

    def process_primitive(self, prim, args, params):
        for x in args:
            if type(x) not in _PLAIN_TYPES and isinstance(x, Tracer):  # (the type test is faster)
                raise escaped_tracer_error(x)
        try:
            out = prim.impl(*args, **params)
        except (ValueError, TypeError, IndexError) as e:
            # Re-run the shape/dtype rule: it raises funcad's own, clearer error.
            if prim.abstract_eval is not None:
                prim.abstract_eval(*map(get_aval, args), **params)
            raise e
        if debug_hooks.eval is not None:  # funcad.config's debug_nans
            debug_hooks.eval(prim, args, params, out)
        if args and type(args[0]) in _WEAK_TYPES:
            return _weak_result(out, args)
        return out

    def pure(self, x):
        return x


_WEAK_TYPES = (bool, int, float, complex)
_PLAIN_TYPES = frozenset({np.ndarray, np.float64, np.float32, float, int, bool})


def _weak_result(out, args):
    """Python scalars in, a Python scalar out: the result of an operation on weakly typed
    values stays weak (NEP 50), so ``y - 1.0`` inside a rule cannot promote float32 to float64."""
    for a in args:
        if type(a) not in _WEAK_TYPES:
            return out
    if isinstance(out, _ARRAY_TYPES) and out.ndim == 0:
        return out.item()
    return out


class _State(threading.local):
    def __init__(self):
        self.trace: Trace = EvalTrace(None)


_state = _State()


def current_trace() -> Trace:
    return _state.trace


class set_current_trace:
    """``with set_current_trace(trace):`` runs the block with ``trace`` current.

    Classes rather than generator-based context managers: every eager transformation
    opens a few of these per call, and a generator costs three times as much.
    """

    __slots__ = ("trace", "prev")

    def __init__(self, trace: Trace):
        self.trace = trace

    def __enter__(self) -> Trace:
        self.prev, _state.trace = _state.trace, self.trace
        return self.trace

    def __exit__(self, *exc) -> None:
        _state.trace = self.prev


class new_trace(set_current_trace):
    """Open a new trace whose parent is the current one; it dies when the block ends."""

    __slots__ = ()

    def __init__(self, trace_type: type, *args, **kwargs):
        self.trace = trace_type(_state.trace, *args, **kwargs)

    def __exit__(self, *exc) -> None:
        _state.trace = self.prev
        self.trace.alive = False


def is_top_level() -> bool:
    return isinstance(_state.trace, EvalTrace)


class Tracer:
    """A value inside a transformation. Behaves like an array through funcad.numpy."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError  # every concrete tracer overrides this

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of a 0-d array")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{self._trace!r}>"

    # Concrete values: ``bool`` (an ``if`` on a value) works under eager jvp/grad/vmap, as in
    # JAX's and autograd's eager modes: a branch condition has no derivative. A conversion to
    # a Python number (float, int, complex, .item(), math.*, np.float64(x), y[i] = x into a
    # NumPy array) would drop the derivative, so it is refused on a differentiated value as
    # under jit. Everything is refused under jit/make_jaxpr, where values are abstract.
    def _concrete(self, why, scalar=False):
        if not self._trace.alive:
            raise escaped_tracer_error(self)
        return self._trace.concrete_value(self, why, scalar)

    def __bool__(self):
        return bool(self._concrete("bool() of a traced value (an `if` or `while` on it)"))

    def __float__(self):
        return float(self._concrete(
            "float() of a traced value (math.* functions, np.float64(x) and y[i] = x into a "
            "NumPy array call it)", True))

    def __int__(self):
        return int(self._concrete("int() of a traced value", True))

    def __complex__(self):
        return complex(self._concrete("complex() of a traced value", True))

    def __index__(self):
        return operator.index(self._concrete(
            "use of a traced value as an index (operator.index)", True))

    def item(self, *args):
        return self._concrete(".item() of a traced value", True).item(*args)

    def block_until_ready(self):
        """JAX's method; funcad computes synchronously, so this returns the value itself."""
        return self

    def __array__(self, dtype=None, copy=None):
        # np.asarray(x), np.float64(x), np.array(x, float): one entry point, so one message
        # covering each conversion (NumPy does not say which one called).
        raise TracerArrayConversionError(
            f"A traced value ({self.aval.str_short()}{_origin_of(self)}) was converted to a NumPy "
            "array or scalar (by np.asarray(x), np.array(x), np.float64(x), or a NumPy function "
            "funcad does not intercept). NumPy cannot see through funcad's transformations, so "
            "the derivative would be lost or the value is not known yet (under jit). Use "
            "funcad.numpy (import funcad.numpy as fnp) instead of numpy inside transformed "
            "functions: fnp.asarray(x), x.astype(fnp.float64) instead of np.float64(x); wrap it "
            "in funcad.lax.stop_gradient(x) if it is meant as a constant. A NumPy array indexed "
            "by a traced index (onp_array[i], e.g. a table closed over by a scan body) needs "
            "fnp.asarray(onp_array)[i]."
        )

    def __hash__(self):
        raise TypeError(f"unhashable type: traced array {self.aval.str_short()}")

    # NumPy interoperability: np.sin(tracer) and np.sum(tracer) go to funcad.numpy.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _numpy_dispatch.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _numpy_dispatch.function(func, args, kwargs)


def _origin_of(x) -> str:
    """Which arguments of the transformed function a tracer depends on (for messages)."""
    while isinstance(x, Tracer):
        trace = x._trace
        if hasattr(x, "tangent") and hasattr(trace, "_origin") and type(x.tangent).__name__ != "Zero":
            return f", differentiated{trace._origin(x.tangent)}"
        if hasattr(x, "_var") and hasattr(trace, "_input_names"):
            names = trace._input_names(x._var)
            return f", computed from the argument{'s' if len(names) > 1 else ''} " \
                f"{', '.join(names)}" if names else ""
        if getattr(x, "bdim", None) is not None:
            return ", batched by vmap"
        x = getattr(x, "primal", getattr(x, "val", None))
    return ""


class _NumpyDispatch:
    """Filled in by funcad.numpy, which owns operators and NumPy interoperability."""

    ufunc: Callable
    function: Callable


_numpy_dispatch = _NumpyDispatch()


def maybe_concrete(x) -> Any:
    """The concrete NumPy value of ``x`` if it has one, else None."""
    if not isinstance(x, Tracer):
        return x
    try:
        return x._trace.concrete_value(x, "", False)
    except ConcretizationError:
        return None
