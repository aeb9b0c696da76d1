"""``pure_callback``: call Python code funcad cannot trace (SciPy, a C library, a simulator).

The callback is one primitive, ``pure_callback``, holding the user's function and the
shapes and dtypes it returns (its abstract evaluation). Eagerly it calls the function on
NumPy arrays; under jit the compiled program calls back into Python (a host step:
backend/table_host.py); under vmap the function is called as
``vmap_method`` says (JAX's values); it has no derivative of its own: wrap the function that
calls it in ``custom_jvp`` or ``custom_vjp`` and give one (JAX's recipe, the same code).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import ad, batching, core
from .core import Primitive, ShapedArray, Tracer
from .errors import ArgumentError, BatchingError, CallbackDerivativeError, CallbackResultError
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["pure_callback"]

VMAP_METHODS = ("sequential", "expand_dims", "broadcast_all", "legacy_vectorized")

pure_callback_p = Primitive("pure_callback", multiple_results=True)


class _Callback:
    """The user's function on flat NumPy arguments, returning flat NumPy results checked
    against ``result_avals``. Compared by identity (a primitive parameter). Its repr names
    the compiled program's call (see :func:`_stable_key`): the same in every process for the
    same program, so the compiled program is found in the disk cache, and never shared by two
    different functions within a process."""

    def __init__(self, fun: Callable, in_tree, out_tree, result_avals, name: str, key: str = ""):
        self.fun, self.in_tree, self.out_tree = fun, in_tree, out_tree
        self.result_avals, self.name = tuple(result_avals), name
        self.key = key or f"{id(self):#x}"

    def __repr__(self):
        return f"<callback {self.name} {self.key}>"

    def __call__(self, *flat_args):
        out = self.fun(*tree_unflatten(self.in_tree, list(flat_args)))
        leaves, tree = tree_flatten(out)
        if tree != self.out_tree:
            raise CallbackResultError(
                f"pure_callback: {self.name} returned {tree}, but result_shape_dtypes says "
                f"{self.out_tree}. Return results structured like result_shape_dtypes.")
        return [_check_result(x, a, self.name, i) for i, (x, a) in enumerate(zip(leaves, self.result_avals))]


# Why a stable key is safe: the compiled program does not contain the callback; its host
# step calls the equation traced in this very process. So a program loaded from the disk
# cache calls the function traced now; what must never happen
# is two different functions under one key in one process, which the numbering below rules
# out (it holds every numbered function, so an ``id`` is never reused).
_NUMBERED: dict[str, list] = {}


def _stable_key(callback: Callable, in_tree, out_tree, result_avals) -> str:
    """``module.qualname`` of the user's callback, a hash of its code (when it has one) and
    of the call's structure, and its number among the distinct functions with that text
    traced so far in this process (0 for the first)."""
    import hashlib

    code = getattr(callback, "__code__", None)
    text = repr((getattr(callback, "__module__", None) or type(callback).__module__,
                 getattr(callback, "__qualname__", None) or getattr(callback, "__name__", None)
                 or type(callback).__qualname__,
                 hashlib.sha1(code.co_code + repr(code.co_consts).encode()).hexdigest()[:12]
                 if code is not None else "", repr(in_tree), repr(out_tree),
                 [a.str_short() for a in result_avals]))
    text = hashlib.sha1(text.encode()).hexdigest()[:16]
    seen = _NUMBERED.setdefault(text, [])
    for n, f in enumerate(seen):
        if f is callback:
            return f"{text}#{n}"
    seen.append(callback)
    return f"{text}#{len(seen) - 1}"


def _check_result(x, aval: ShapedArray, name: str, i: int):
    arr = np.asarray(x)
    if arr.shape != aval.shape:
        raise CallbackResultError(
            f"pure_callback: result {i} of {name} has shape {arr.shape}, but result_shape_dtypes "
            f"gives {aval.shape} (dtype {aval.dtype}). The callback must return exactly the shapes "
            "it declares; under vmap, check the vmap_method (a batched callback returns the batch "
            "axis first).")
    if arr.dtype != aval.dtype:
        if not np.can_cast(arr.dtype, aval.dtype, "same_kind"):
            raise CallbackResultError(
                f"pure_callback: result {i} of {name} has dtype {arr.dtype}, which does not "
                f"convert safely to the declared {aval.dtype}. Declare {arr.dtype} or cast "
                "inside the callback.")
        arr = arr.astype(aval.dtype)
    return arr


pure_callback_p.def_impl(lambda *args, callback, vmap_method: callback(*args))
pure_callback_p.def_abstract_eval(lambda *avals, callback, vmap_method: list(callback.result_avals))


def _no_jvp(primals, tangents, *, callback, vmap_method):
    raise CallbackDerivativeError(
        f"pure_callback: funcad cannot differentiate {callback.name}, which runs outside funcad. "
        "Give the function that calls it a derivative with funcad.custom_jvp or "
        "funcad.custom_vjp (its rule may call pure_callback again, e.g. for a derivative SciPy "
        "computes), or wrap the argument in funcad.lax.stop_gradient if none is needed.")


ad.jvp_rules[pure_callback_p] = _no_jvp


def _batch(axis_size, vals, dims, *, callback, vmap_method):
    if vmap_method is None:
        raise BatchingError(
            f"pure_callback: vmap of {callback.name} needs to know how to call it on a batch: "
            "pass vmap_method='sequential' (one call per example), 'expand_dims' (one call; "
            "unbatched arguments get a leading axis of size 1), 'broadcast_all' (one call; every "
            "argument broadcast to the batch) or 'legacy_vectorized'.")
    vals = [batching.moveaxis(v, d, 0) if d is not None else v for v, d in zip(vals, dims)]
    batched = [d is not None for d in dims]
    if vmap_method == "expand_dims":
        vals = [v if b else _lax().reshape(v, (1,) + core.get_aval(v).shape) for v, b in zip(vals, batched)]
    elif vmap_method == "broadcast_all":
        vals = [v if b else batching.bdim_at_front(v, None, axis_size) for v, b in zip(vals, batched)]
    out_avals = [core.shaped_array((axis_size,) + a.shape, a.dtype) for a in callback.result_avals]
    if vmap_method == "sequential":
        fun = _sequential(callback, batched, axis_size)
    else:  # the user's function, called once on the batch
        fun = lambda *flat: callback.fun(*tree_unflatten(callback.in_tree, list(flat)))  # noqa: E731
    how = f"vmap:{vmap_method}:{axis_size}:{''.join('b' if b else '-' for b in batched)}"
    new = _Callback(fun, tree_flatten(tuple(vals))[1], callback.out_tree, out_avals, callback.name,
                    f"{callback.key}/{how}")
    return core.bind(pure_callback_p, *vals, callback=new, vmap_method=vmap_method), [0] * len(out_avals)


def _sequential(callback, batched, axis_size):
    def loop(*vals):
        rows = [callback(*[v[i] if b else v for v, b in zip(vals, batched)]) for i in range(axis_size)]
        return tree_unflatten(callback.out_tree, [
            np.stack([r[k] for r in rows]) if rows else np.zeros((0,) + a.shape, a.dtype)
            for k, a in enumerate(callback.result_avals)])

    return loop


batching.primitive_batchers[pure_callback_p] = _batch

# jit: a host step (backend/table_host.py) calls the callback (holding the GIL).


def _lax():
    from . import lax

    return lax


def _result_aval(s, i: int) -> ShapedArray:
    shape, dtype = getattr(s, "shape", None), getattr(s, "dtype", None)
    if shape is None or dtype is None:
        raise ArgumentError(
            f"pure_callback: result_shape_dtypes leaf {i} is a {type(s).__name__} "
            f"({core._short_repr(s)}), not a shape and dtype. Give "
            "funcad.ShapeDtypeStruct(shape, dtype) objects or arrays shaped like the results "
            "(np.zeros((3,)), np.float64(0))." )
    return core.shaped_array(tuple(shape), np.dtype(dtype))


def pure_callback(callback: Callable, result_shape_dtypes: Any, *args, sharding=None,
                  vmap_method: str | None = None, **kwargs):
    """Call ``callback(*args, **kwargs)``, a Python function funcad cannot trace, from any
    funcad code, as JAX's ``jax.pure_callback``.

    ``result_shape_dtypes`` is a pytree of objects with ``.shape`` and ``.dtype`` (arrays,
    ``ShapeDtypeStruct``) describing what ``callback`` returns. The callback receives NumPy
    arrays and must be pure (no side effects funcad must keep: it may be called once per
    example, or not at all if its result is unused). It works eagerly, under jit (the
    compiled program calls back into Python, holding the GIL), and under vmap as
    ``vmap_method`` says: ``"sequential"`` calls it once per example; ``"expand_dims"`` once,
    with the batch as a leading axis of the batched arguments and a size-1 axis on the others;
    ``"broadcast_all"`` once, with every argument broadcast to the batch. It has no derivative:
    wrap its caller in ``custom_jvp``/``custom_vjp``. ``sharding`` is accepted and ignored.

    >>> import numpy as np, scipy.special, funcad as fa
    >>> def j0(x):  # scipy's Bessel function, inside jit
    ...     return fa.pure_callback(scipy.special.j0, np.zeros_like(x), x, vmap_method="expand_dims")
    >>> fa.jit(j0)(np.array([0.0, 1.0]))
    array([1.        , 0.76519769])
    """
    if not callable(callback):
        raise ArgumentError(f"pure_callback: callback must be callable, got {type(callback).__name__}.")
    if vmap_method is not None and vmap_method not in VMAP_METHODS:
        raise ArgumentError(f"pure_callback: vmap_method must be one of {VMAP_METHODS} or None, "
                            f"got {vmap_method!r}.")
    res_leaves, out_tree = tree_flatten(result_shape_dtypes)
    result_avals = [_result_aval(s, i) for i, s in enumerate(res_leaves)]
    flat_args, in_tree = tree_flatten(tuple(args))
    flat_args = [x if isinstance(x, Tracer | np.ndarray) else np.asarray(x) for x in flat_args]
    fun = (lambda *a: callback(*a, **kwargs)) if kwargs else callback
    name = getattr(callback, "__qualname__", None) or getattr(callback, "__name__", None) or repr(callback)
    # a function made here for the keywords is new at every call: numbered by identity, its
    # key would not be stable, so it keeps a per-object key (compiled once per process)
    key = "" if kwargs else _stable_key(callback, in_tree, out_tree, result_avals)
    cb = _Callback(fun, in_tree, out_tree, result_avals, name, key)
    outs = core.bind(pure_callback_p, *flat_args, callback=cb, vmap_method=vmap_method)
    return tree_unflatten(out_tree, outs)
