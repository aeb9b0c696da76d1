"""The transformations: grad, value_and_grad, jvp, vjp, linearize, jacfwd, jacrev,
hessian, elementwise_grad, make_jaxpr.

Each takes and returns pytrees of arrays, and composes with every other to any depth.
"""

from __future__ import annotations

import abc
import functools
from typing import Callable, Sequence

import numpy as np

from . import ad, core, eager_programs
from ._args import _arg_names, _leaf_paths, _to_user  # noqa: F401  (viz and the rules use them)
from .core import Tracer, get_aval
from .errors import (
    ArgumentError,
    DTypeError,
    HolomorphicError,
    NonlinearTangentError,
    NonScalarOutputError,
    ShapeError,
    TreeStructureError,
)
from .jaxpr import ClosedJaxpr, eval_jaxpr, trace_to_jaxpr
from .tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten, unregistered_hint

# --------------------------------------------------------------------------------------
# Argument handling


def _as_leaf(x, where: str):
    """A pytree leaf as an array funcad can transform; a clear error otherwise."""
    if isinstance(x, Tracer | np.ndarray):
        if isinstance(x, np.ndarray):
            if type(x) is not np.ndarray:
                core.check_array_type(x, where)
            if x.dtype.kind not in "biufc":
                raise _bad_dtype(x.dtype, where)
        return x
    if isinstance(x, bool | int | float | complex | np.generic):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biufc":
            raise _bad_dtype(arr.dtype, where)
        return arr
    raise DTypeError(
        f"{where} is a {type(x).__name__} ({core._short_repr(x)}), which funcad cannot transform. "
        "Pass NumPy arrays or Python numbers (in tuples, lists and dicts as you like)."
        + unregistered_hint(x)
    )


def _bad_dtype(dtype, where):
    return DTypeError(f"{where} has dtype {dtype}, which funcad cannot transform; "
                      "pass float, complex, integer or boolean arrays.")


def _flatten_args(args: Sequence, names: Sequence[str] | Callable[[], Sequence[str]]):
    """``(leaves, treedef, paths)``; the leaves' names (``paths``) are worked out only if used,
    and ``names`` (the arguments' names) may be a function that computes them then."""
    flat, in_tree = tree_flatten(tuple(args))
    paths = _LazyPaths(tuple(args), names)
    leaves = [x if (type(x) is np.ndarray and x.dtype.kind in "biufc") or isinstance(x, Tracer)
              else _as_leaf(x, paths[i]) for i, x in enumerate(flat)]
    return leaves, in_tree, paths


class _LazyPaths(Sequence):
    """The leaf names of :func:`_leaf_paths`, computed on first use (error messages, mostly)."""

    def __init__(self, args, names):
        self._args, self._names, self._paths = args, names, None

    def _get(self):
        if self._paths is None:
            names = self._names() if callable(self._names) else self._names
            self._paths = _leaf_paths(self._args, names)
        return self._paths

    def __getitem__(self, i):
        return self._get()[i]

    def __len__(self):
        return len(self._get())


def _require_float(leaves, paths, transform: str, holomorphic: bool = False,
                   allow_complex: bool = True):
    """Inputs to differentiate with respect to: floats, or complex where ``transform`` takes
    them (``allow_complex``: grad and jacrev; jacfwd only with ``holomorphic``), and complex
    only with ``holomorphic=True`` (JAX's rules)."""
    for i, x in enumerate(leaves):
        aval = get_aval(x)
        dt = aval.dtype
        if dt.kind == "f" and not holomorphic or dt.kind == "c" and (holomorphic or allow_complex):
            continue
        p = paths[i]
        if holomorphic:
            raise HolomorphicError(
                f"{transform} with holomorphic=True requires complex inputs, but {p} has dtype "
                f"{dt} (shape {aval.shape}). Pass a complex array ({p}.astype(complex)), or drop "
                "holomorphic=True for a real input.")
        if dt.kind == "c":
            raise HolomorphicError(
                f"{transform} requires real-valued inputs, but {p} has dtype {dt} (shape "
                f"{aval.shape}). For a holomorphic function pass holomorphic=True; for a "
                "non-holomorphic function of complex inputs use jacrev, or jvp on the real and "
                "imaginary directions (as JAX).")
        raise DTypeError(
            f"{transform} requires real floating-point or complex inputs, but {p} has dtype {dt} "
            f"(shape {aval.shape}). Differentiate with respect to a float array (e.g. "
            f"{p}.astype(float), or 3.0 rather than 3 for a Python number), or move the "
            "integer argument out of argnums."
        )


def _check_outputs(outs, transform: str, fun, holomorphic: bool) -> None:
    """Outputs of grad/jacrev: real, or complex with ``holomorphic=True`` (only then)."""
    for o in outs:
        dt = get_aval(o).dtype
        if holomorphic and dt.kind != "c":
            raise HolomorphicError(
                f"{transform} with holomorphic=True requires complex outputs, but {_fun_name(fun)} "
                f"returned dtype {dt}. Drop holomorphic=True for a real-valued function.")
        if not holomorphic and dt.kind == "c":
            raise HolomorphicError(
                f"{transform} requires real-valued outputs, but {_fun_name(fun)} returned dtype "
                f"{dt}. For a holomorphic function pass holomorphic=True; otherwise differentiate "
                "a real function of it (fnp.abs(y) ** 2, y.real), or use vjp directly (as JAX).")


def _hold_integers(leaves, paths):
    """``allow_int``: the float leaves (and their names) to differentiate, and a wrapper of the
    flat function that puts the integer and boolean leaves, held fixed, back in place."""
    keep = [i for i, x in enumerate(leaves) if get_aval(x).dtype.kind not in "biu"]
    fixed_leaves = list(leaves)

    def fixed(flat):
        def flat_with_ints(*diff):
            full = list(fixed_leaves)
            for i, d in zip(keep, diff):
                full[i] = d
            return flat(*full)

        return flat_with_ints

    return [leaves[i] for i in keep], [paths[i] for i in keep], fixed


def _check_reduce_axes(reduce_axes, name: str) -> None:
    if tuple(reduce_axes):
        raise ArgumentError(
            f"{name}(..., reduce_axes={tuple(reduce_axes)!r}): reduce_axes is not supported, as in "
            "JAX 0.10, which removed it. Sum over a vmap axis explicitly instead: "
            "funcad.lax.psum(x, axis_name) inside the function, or a sum of the result.")


def _single(argnums) -> bool:
    """Whether ``argnums`` names one argument (an int, NumPy's integers included)."""
    return isinstance(argnums, (int, np.integer)) and not isinstance(argnums, (bool, np.bool_))


def _normalize_argnums(argnums, nargs: int, fun_name: str) -> tuple[int, ...]:
    """The argument positions ``argnums`` names, in order (a position may repeat: as in JAX,
    each listed position gets its derivative; see :func:`_repeat`)."""
    if type(argnums) is int and 0 <= argnums < nargs:  # the common case
        return (argnums,)
    try:
        nums = (argnums,) if _single(argnums) else tuple(argnums)
    except TypeError:
        nums = (argnums,)
    for a in nums:
        if not _single(a) or not -nargs <= a < nargs:
            raise ArgumentError(
                f"{fun_name}: argnums={argnums!r} is out of range for a call with {nargs} "
                "positional argument(s)."
            )
    return tuple(int(a) % nargs for a in nums)


def _repeat(block: tuple, nums: tuple, distinct: tuple) -> tuple:
    """``block`` (one entry per position of ``distinct``) as one entry per position of
    ``nums``: a position listed twice gets its derivative twice (copies, not one object)."""
    seen, out = set(), []
    for n in nums:
        b = block[distinct.index(n)]
        out.append(tree_map(lambda x: x.copy() if isinstance(x, np.ndarray) else x, b) if n in seen else b)
        seen.add(n)
    return tuple(out)


def _zeros_like_leaf(x):
    from .lax.shapes import full

    aval = get_aval(x)
    return full(aval.shape, 0, aval.dtype)


def _fun_name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _flat_fun(fun: Callable, in_tree, store: dict, has_aux: bool = False):
    """``fun`` as a function of flat leaves returning flat leaves; output trees go in ``store``."""

    def flat(*leaves):
        out = fun(*tree_unflatten(in_tree, leaves))
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise ArgumentError(f"{_fun_name(fun)} was transformed with has_aux=True, so it must "
                                    "return a pair (output, aux).")
            out, aux = out
            aux_leaves, store["aux_tree"] = tree_flatten(aux)
            store["num_aux"] = len(aux_leaves)
        else:
            aux_leaves = []
        out_leaves, store["out_tree"] = tree_flatten(out)
        return [o if isinstance(o, Tracer) else _as_leaf(o, f"the output of {_fun_name(fun)}")
                for o in out_leaves] + aux_leaves

    return flat


def _split_aux(outs, store, has_aux):
    if not has_aux:
        return outs, None
    n = store["num_aux"]
    main, aux = (outs[: len(outs) - n], outs[len(outs) - n:]) if n else (outs, [])
    return main, tree_unflatten(store["aux_tree"], [_to_user(a) for a in aux])


# --------------------------------------------------------------------------------------
# jvp and linearize


def jvp(fun: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False):
    """Forward mode: ``(fun(*primals), J @ tangents)`` (and ``aux`` third with ``has_aux``).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> y, y_dot = fa.jvp(fnp.sin, (0.0,), (1.0,))
    >>> float(y), float(y_dot)
    (0.0, 1.0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise ArgumentError("jvp: primals and tangents must be tuples (or lists) of arguments, "
                            "e.g. fa.jvp(f, (x,), (v,)).")
    names = _arg_names(fun, len(primals))
    p_leaves, in_tree, paths = _flatten_args(primals, names)
    t_leaves, t_tree = tree_flatten(tuple(tangents))
    if t_tree != in_tree:
        raise TreeStructureError(f"jvp: the tangents' structure {t_tree} does not match the "
                                 f"primals' structure {in_tree}.")
    t_leaves = [_as_leaf(t, f"tangent of {p}") for t, p in zip(t_leaves, paths)]
    for p, t, path in zip(p_leaves, t_leaves, paths):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise ShapeError(f"jvp: the tangent for {path} has shape {ta.shape}, but the primal "
                             f"has shape {pa.shape}.")
    store: dict = {}
    outs, t_outs = ad.jvp_flat(_flat_fun(fun, in_tree, store, has_aux), p_leaves, t_leaves, paths)
    outs, aux = _split_aux(outs, store, has_aux)
    out_tree = store["out_tree"]
    t_outs = [_to_user(ad.instantiate(t)) for t in t_outs[:len(outs)]]
    res = (tree_unflatten(out_tree, [_to_user(o) for o in outs]), tree_unflatten(out_tree, t_outs))
    return res + (aux,) if has_aux else res


def linearize(fun: Callable, *primals, has_aux: bool = False):
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` applies the Jacobian at primals
    (``(out, f_jvp, aux)`` with ``has_aux=True``, as JAX).

    The linear map is a staged jaxpr: calling it costs only the tangent arithmetic.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> y, f_jvp = fa.linearize(fnp.sin, 0.0)
    >>> float(f_jvp(2.0))
    2.0
    """
    names = _arg_names(fun, len(primals))
    p_leaves, in_tree, paths = _flatten_args(primals, names)
    store: dict = {}
    outs, jaxpr, consts = ad.linearize_flat(_flat_fun(fun, in_tree, store, has_aux), p_leaves,
                                            aux_store=store, names=paths)
    outs, aux = _split_aux(outs, store, has_aux)
    out_tree = store["out_tree"]

    def f_jvp(*tangents):
        t_leaves, t_tree = tree_flatten(tuple(tangents))
        if t_tree != in_tree:
            raise TreeStructureError(f"linearize: f_jvp expects tangents structured like the "
                                     f"primals, {in_tree}, got {t_tree}.")
        t_outs = eval_jaxpr(jaxpr, consts, *t_leaves)
        return tree_unflatten(out_tree, [_to_user(t) for t in t_outs])

    out = tree_unflatten(out_tree, [_to_user(o) for o in outs])
    return (out, f_jvp, aux) if has_aux else (out, f_jvp)


# --------------------------------------------------------------------------------------
# vjp


def vjp(fun: Callable, *primals, has_aux: bool = False, reduce_axes=()):
    """Reverse mode: ``(fun(*primals), vjp_fn)``; ``vjp_fn(ct)`` returns one cotangent per primal.
    ``reduce_axes`` must be empty, as in JAX 0.10.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> y, vjp_fn = fa.vjp(lambda x: x * x, 3.0)
    >>> vjp_fn(1.0)
    (array(6.),)
    """
    _check_reduce_axes(reduce_axes, "vjp")
    names = _arg_names(fun, len(primals))
    p_leaves, in_tree, paths = _flatten_args(primals, names)
    store: dict = {}
    flat = _flat_fun(fun, in_tree, store, has_aux)
    outs, jaxpr, consts = ad.linearize_flat(flat, p_leaves, aux_store=store, names=paths)
    outs, aux = _split_aux(outs, store, has_aux)
    out_tree = store["out_tree"]
    out_avals = [get_aval(o) for o in outs]

    def vjp_fn(ct):
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TreeStructureError(
                f"vjp_fn: the cotangent's structure {ct_tree} does not match the output's "
                f"structure {out_tree}; pass one cotangent per output, shaped like it.")
        ct_leaves = [_as_leaf(c, "the cotangent") for c in ct_leaves]
        for c, a in zip(ct_leaves, out_avals):
            if get_aval(c).shape != a.shape:
                raise ShapeError(f"vjp_fn: a cotangent has shape {get_aval(c).shape}, but the "
                                 f"matching output has shape {a.shape}.")
        cts = ad.backward_pass(jaxpr, consts, ct_leaves)
        cts = [_to_user(_zeros_like_leaf(p) if c is None else c) for c, p in zip(cts, p_leaves)]
        return tree_unflatten(in_tree, cts)

    primals_out = tree_unflatten(out_tree, [_to_user(o) for o in outs])
    return (primals_out, vjp_fn, aux) if has_aux else (primals_out, vjp_fn)


# --------------------------------------------------------------------------------------
# grad and value_and_grad


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False, reduce_axes: Sequence = ()):
    """``fun`` and its gradient in one pass: returns ``(value, grad)`` (or ``((value, aux), grad)``).

    ``allow_int=True`` accepts integer and boolean inputs, held fixed: their gradient is zeros
    of the input's dtype (JAX's is its ``float0`` dtype, which NumPy and jit cannot carry).
    ``reduce_axes`` is accepted empty only, as in JAX 0.10, which removed it.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> v, g = fa.value_and_grad(lambda x: fnp.sum(x ** 2))(fnp.arange(3.0))
    >>> float(v), g
    (5.0, array([0., 2., 4.]))
    """
    _check_reduce_axes(reduce_axes, "value_and_grad")
    return _value_and_grad(fun, argnums, has_aux, holomorphic, allow_int, True)


def _value_and_grad(fun, argnums, has_aux, holomorphic, allow_int, keep_value: bool):
    """value_and_grad's function; with ``keep_value=False`` (grad) the value comes back as
    None from the cache of programs, whose program then does not compute it."""

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        listed = _normalize_argnums(argnums, len(args), "value_and_grad")
        nums = tuple(dict.fromkeys(listed))
        every = len(nums) == len(args) and nums == tuple(range(len(args)))
        dyn = args if every else [args[i] for i in nums]
        leaves, in_tree, paths = _flatten_args(
            dyn, lambda: [_arg_names(fun, len(args))[i] for i in nums])
        all_leaves, fixed = leaves, None
        if allow_int:
            leaves, paths, fixed = _hold_integers(leaves, paths)
        _require_float(leaves, paths, "grad", holomorphic)

        partial = fun if every and not kwargs else _partial_fun(fun, args, kwargs, nums)
        store: dict = {}
        flat = _flat_fun(partial, in_tree, store, has_aux)
        if fixed is not None:
            flat = fixed(flat)
            return _value_and_grad_flat(flat, leaves, all_leaves, fixed, in_tree, store, paths,
                                        nums, listed)

        def at(flat_fn, xs):
            return _value_and_grad_flat(flat_fn, xs, xs, None, in_tree, store, paths, nums, listed)

        def build(flat_fn, xs):  # traced once per structure of the recording
            value, g = at(flat_fn, xs)
            if not keep_value:  # grad: the value is dropped, and its equations with it
                value = (None, value[1]) if has_aux else None
            return tree_flatten((value, g))

        def finish(outs, tree, inputs):
            return tree_unflatten(tree, [_to_user(o) for o in outs])

        def kind():
            return ("value_and_grad", keep_value, listed, _single(argnums), len(args), has_aux,
                    holomorphic, in_tree, store["out_tree"], store.get("aux_tree"))

        return eager_programs.run_cached(kind, flat, leaves, paths, build,
                                         lambda flat_fn: at(flat_fn, leaves), finish)

    def _value_and_grad_flat(flat, leaves, all_leaves, fixed, in_tree, store, paths, nums, listed):
        # vjp, inlined: eager grad is called in loops, and every microsecond shows
        outs, jaxpr, consts = ad.linearize_flat(flat, leaves, aux_store=store, names=paths)
        outs, aux = _split_aux(outs, store, has_aux)
        v_leaves = outs
        out_aval = get_aval(v_leaves[0]) if len(v_leaves) == 1 else None
        if out_aval is None or out_aval.shape != ():
            shapes = [get_aval(v).shape for v in v_leaves]
            raise NonScalarOutputError(
                f"grad requires a function with a scalar output, but {_fun_name(fun)} returned "
                f"{'shape ' + str(shapes[0]) if len(shapes) == 1 else f'{len(shapes)} arrays, shapes {shapes}'}. "
                "Reduce it to a scalar (e.g. fnp.sum(...)), or use jacrev/jacobian for the full "
                "Jacobian, or elementwise_grad for a function applied elementwise.")
        _check_outputs(v_leaves, "grad", fun, holomorphic)
        if out_aval.dtype.kind not in "fc":
            raise DTypeError(f"grad requires a real floating-point output, but {_fun_name(fun)} "
                             f"returned dtype {out_aval.dtype}.")
        cts = ad.backward_pass(jaxpr, consts, [np.array(1.0, out_aval.dtype)])
        cts = [_to_user(_zeros_like_leaf(p) if c is None else c) for c, p in zip(cts, leaves)]
        if fixed is not None:
            it = iter(cts)
            cts = [np.zeros(get_aval(x).shape, get_aval(x).dtype) if get_aval(x).dtype.kind in "biu"
                   else next(it) for x in all_leaves]
        g = tree_unflatten(in_tree, cts)
        value = tree_unflatten(store["out_tree"], [_to_user(o) for o in outs])
        g = g[0] if _single(argnums) else g if nums == listed else _repeat(g, listed, nums)
        return ((value, aux), g) if has_aux else (value, g)

    return value_and_grad_f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False, reduce_axes: Sequence = ()):
    """The gradient of a scalar-valued ``fun`` with respect to argument(s) ``argnums``.

    ``allow_int=True``: integer and boolean inputs are accepted and held fixed (their gradient
    is zeros of the input's dtype; JAX's is ``float0``); ``reduce_axes`` must be empty (JAX
    0.10 removed it).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> float(fa.grad(fnp.tanh)(0.0))
    1.0
    >>> float(fa.grad(fa.grad(lambda x: x ** 3))(2.0))
    12.0
    """
    _check_reduce_axes(reduce_axes, "grad")
    vg = _value_and_grad(fun, argnums, has_aux, holomorphic, allow_int, False)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


def elementwise_grad(fun: Callable, argnums: int | Sequence[int] = 0):
    """autograd's ``egrad``: the vector-Jacobian product with a cotangent of ones.

    For a function applied elementwise this is the derivative at every point, so it nests:
    ``elementwise_grad(elementwise_grad(fnp.tanh))(x)`` is tanh'' at each x.
    """

    @functools.wraps(fun)
    def egrad_f(*args, **kwargs):
        nums = _normalize_argnums(argnums, len(args), "elementwise_grad")

        partial = _partial_fun(fun, args, kwargs, nums)
        out, vjp_fn = vjp(partial, *[args[i] for i in nums])
        g = vjp_fn(tree_map(lambda o: np.ones(get_aval(o).shape, get_aval(o).dtype), out))
        return g[0] if _single(argnums) else g

    return egrad_f


# --------------------------------------------------------------------------------------
# Jacobians and Hessians


# Push the dense identity through Jacobians instead of the symbolic one (for comparisons).
_DENSE_BASIS = False


def _std_basis(leaves):
    """Rows of the identity over the flattened leaves, one leaf-shaped block per leaf: each
    a symbolic ``batching.OneHot`` (rules use the structure: a product with it is the other
    operand), or with ``_DENSE_BASIS`` (or one row, which needs no batch trace) the arrays."""
    from .batching import OneHot, materialize

    sizes = [get_aval(x).size for x in leaves]
    total = sum(sizes)
    out, start = [], 0
    for x, n in zip(leaves, sizes):
        aval = get_aval(x)
        b = OneHot(total, aval.shape, aval.dtype, start)
        out.append(materialize(b) if _DENSE_BASIS or total <= 1 else b)
        start += n
    return out, total


def _partial_fun(fun, args, kwargs, nums):
    def partial(*dyn_args):
        full = list(args)
        for i, a in zip(nums, dyn_args):
            full[i] = a
        return fun(*full, **kwargs)

    partial.__name__ = _fun_name(fun)  # error messages name the user's function
    return partial


def _jacobian_setup(fun, argnums, has_aux, args, kwargs, name: str, holomorphic: bool = False,
                    allow_int: bool = False):
    """``(input leaves, input treedef, store, flat function)`` for a Jacobian of ``fun`` with
    respect to ``argnums``: the inputs flattened and checked (floats), the others closed over.
    With ``allow_int`` the integer leaves are held fixed: see :func:`_hold_integers`."""
    nums = tuple(dict.fromkeys(_normalize_argnums(argnums, len(args), name)))
    in_leaves, in_tree, paths = _flatten_args(
        tuple(args[i] for i in nums), lambda: [_arg_names(fun, len(args))[i] for i in nums])
    all_leaves, fixed = in_leaves, None
    if allow_int:
        in_leaves, paths, fixed = _hold_integers(in_leaves, paths)
    _require_float(in_leaves, paths, name, holomorphic, allow_complex=name != "jacfwd")
    store: dict = {}
    flat = _flat_fun(_partial_fun(fun, args, kwargs, nums), in_tree, store, has_aux)
    if fixed is not None:
        store["all_leaves"] = all_leaves
        flat = fixed(flat)
    return in_leaves, in_tree, store, flat, paths


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False):
    """The Jacobian by forward mode: the JVP vmapped over the input basis, one batched pass
    (best for wide outputs). The primal is computed once; the tangents carry the batch.

    The result has shape ``out.shape + in.shape`` (nested as output tree, then input tree).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.jacfwd(lambda x: fnp.sin(x[:2]) * x[2])(fnp.array([0.0, 0.0, 2.0]))
    array([[2., 0., 0.],
           [0., 2., 0.]])
    """

    @functools.wraps(fun)
    def jacfwd_f(*args, **kwargs):
        in_leaves, in_tree, store, flat, paths = _jacobian_setup(
            fun, argnums, has_aux, args, kwargs, "jacfwd", holomorphic)
        basis, total = _std_basis(in_leaves)

        def push(*t):
            primals_out, tangents_out = ad.jvp_flat(flat, in_leaves, t, paths)
            n = store["out_tree"].num_leaves
            return list(primals_out) + [ad.instantiate(t) for t in tangents_out[:n]]

        def out_dims(k):  # the primal outputs and aux are the same for every basis vector
            n = store["out_tree"].num_leaves
            return [None] * (k - n) + [0] * n

        res = _vmap_basis(push, basis, total, out_dims)
        n = store["out_tree"].num_leaves
        outs, t_outs = _split_aux(res[: len(res) - n], store, has_aux), res[len(res) - n:]
        outs, aux = outs
        if holomorphic:
            _check_outputs(outs, "jacfwd", fun, holomorphic)
        jac = _assemble_fwd(t_outs, outs, in_leaves, store["out_tree"], in_tree, total,
                            _repeats(args, argnums))
        jac = jac if not _single(argnums) else _unwrap_one(jac, store["out_tree"])
        return (jac, aux) if has_aux else jac

    return jacfwd_f


def _vmap_basis(f, basis, total, out_dims):
    """``vmap(f)`` over the rows of ``basis``: outputs with out dim 0 are stacked over rows,
    those with None are the same for every row. One row needs no batch trace."""
    from .batching import vmap_flat
    from .lax.shapes import full, reshape

    if total > 1:
        return vmap_flat(f, [0] * len(basis), basis, out_dims, total)
    outs = f(*[b[0] if total else np.zeros(b.shape[1:], b.dtype) for b in basis])
    dims = out_dims(len(outs))
    if total == 0:
        return [o if d is None else full((0,) + get_aval(o).shape, 0, get_aval(o).dtype)
                for o, d in zip(outs, dims)]
    return [o if d is None else reshape(o, (1,) + get_aval(o).shape) for o, d in zip(outs, dims)]


def _assemble_fwd(t_outs, outs, in_leaves, out_tree, in_tree, total, fix=None):
    from . import numpy as fnp

    blocks = []
    for t, o in zip(t_outs, outs):
        so = get_aval(o).shape
        stacked = fnp.reshape(t, (total,) + so)  # (in_total, *so)
        stacked = fnp.moveaxis(stacked, 0, -1) if so else stacked  # (*so, in_total)
        row, start = [], 0
        for x in in_leaves:
            sx = get_aval(x).shape
            n = get_aval(x).size
            part = stacked[..., start:start + n]
            row.append(_to_user(fnp.reshape(part, so + sx)))
            start += n
        block = tree_unflatten(in_tree, row)
        blocks.append(fix(block) if fix else block)
    return tree_unflatten(out_tree, blocks)


def _repeats(args, argnums):
    """The function :func:`_assemble_fwd`/``_rev`` apply to each output's block (a tuple over
    the distinct positions of ``argnums``) to give one entry per listed position."""
    listed = _normalize_argnums(argnums, len(args), "jacobian")
    nums = tuple(dict.fromkeys(listed))
    return None if nums == listed or _single(argnums) else (lambda b: _repeat(b, listed, nums))


def _unwrap_one(jac, out_tree):
    blocks, _ = tree_flatten(jac, is_leaf=lambda b: isinstance(b, tuple) and len(b) == 1)
    return tree_unflatten(out_tree, [b[0] for b in blocks])


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False):
    """The Jacobian by reverse mode: the backward pass vmapped over the output basis, one
    batched pass after a single linearization (best for wide inputs).

    ``allow_int=True`` accepts integer and boolean inputs, held fixed: their block is zeros
    of the input's dtype, as in JAX.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.jacrev(lambda x: x ** 2)(fnp.arange(3.0))
    array([[0., 0., 0.],
           [0., 2., 0.],
           [0., 0., 4.]])
    """

    @functools.wraps(fun)
    def jacrev_f(*args, **kwargs):
        in_leaves, in_tree, store, flat, paths = _jacobian_setup(
            fun, argnums, has_aux, args, kwargs, "jacrev", holomorphic, allow_int)
        outs, jaxpr, consts = ad.linearize_flat(flat, in_leaves, aux_store=store, names=paths)
        outs, aux = _split_aux(outs, store, has_aux)
        _check_outputs(outs, "jacrev", fun, holomorphic)
        basis, total = _std_basis(outs)

        def pull(*ct):
            cts = ad.backward_pass(jaxpr, consts, list(ct))
            return [_zeros_like_leaf(x) if c is None else c for c, x in zip(cts, in_leaves)]

        scalar = total == 1 and not get_aval(outs[0]).shape  # the gradient: no rows to stack
        cts = pull(*[b[0] for b in basis]) if scalar else _vmap_basis(pull, basis, total, lambda k: [0] * k)
        if "all_leaves" in store:  # allow_int: zeros for the integer leaves
            it, in_leaves = iter(cts), store["all_leaves"]
            rows = () if scalar else (total,)
            cts = [np.zeros(rows + get_aval(x).shape, get_aval(x).dtype)
                   if get_aval(x).dtype.kind in "biu" else next(it) for x in in_leaves]
        jac = _assemble_rev(cts, outs, in_leaves, store["out_tree"], in_tree, total,
                            _repeats(args, argnums), stacked=not scalar)
        jac = jac if not _single(argnums) else _unwrap_one(jac, store["out_tree"])
        return (jac, aux) if has_aux else jac

    return jacrev_f


def _assemble_rev(cts, outs, in_leaves, out_tree, in_tree, total, fix=None, stacked=True):
    from . import numpy as fnp

    blocks, start = [], 0
    for o in outs:
        so, n = get_aval(o).shape, get_aval(o).size
        row = []
        for c, x in zip(cts, in_leaves):
            sx = get_aval(x).shape
            row.append(_to_user(fnp.reshape(c[start:start + n], so + sx) if stacked else c))
        block = tree_unflatten(in_tree, row)
        blocks.append(fix(block) if fix else block)
        start += n
    return tree_unflatten(out_tree, blocks)


jacobian = jacrev


# --------------------------------------------------------------------------------------
# eval_shape, ShapeDtypeStruct, linear_transpose


class Array(metaclass=abc.ABCMeta):  # noqa: B024 (a virtual base: registered types only)
    """What ``jax.Array`` names: ``isinstance(x, fa.Array)`` holds for NumPy arrays and
    scalars (funcad's results) and for traced values inside transformations; usable in type
    annotations.

    >>> import funcad as fa, numpy as np
    >>> isinstance(np.ones(2), fa.Array), isinstance([1.0], fa.Array)
    (True, False)
    """


Array.register(np.ndarray)
Array.register(np.generic)
Array.register(Tracer)


class ShapeDtypeStruct:
    """A shape and a dtype standing for an array (``jax.ShapeDtypeStruct``): what
    :func:`eval_shape` returns, and an argument :func:`make_jaxpr` and :func:`eval_shape`
    accept in place of an array.

    >>> ShapeDtypeStruct((2, 3), "float64")
    ShapeDtypeStruct(shape=(2, 3), dtype=float64)
    """

    __slots__ = ("shape", "dtype", "sharding", "weak_type")

    def __init__(self, shape, dtype, sharding=None, weak_type: bool = False):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.sharding, self.weak_type = sharding, weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __eq__(self, other):
        return (isinstance(other, ShapeDtypeStruct) and other.shape == self.shape
                and other.dtype == self.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"


core.ABSTRACT_TYPES = (ShapeDtypeStruct,)


def eval_shape(fun: Callable, *args, **kwargs):
    """The shapes and dtypes of ``fun(*args, **kwargs)`` without computing it: ``fun`` is traced
    on the arguments' shapes and dtypes (arrays or :class:`ShapeDtypeStruct`), and the result
    is the output's pytree of :class:`ShapeDtypeStruct`.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.eval_shape(lambda x, w: fnp.tanh(x @ w), fa.ShapeDtypeStruct((5, 3), "float64"),
    ...               fnp.ones((3, 2)))
    ShapeDtypeStruct(shape=(5, 2), dtype=float64)
    """
    leaves, in_tree = tree_flatten((args, kwargs))
    avals = [core.ShapedArray(get_aval(x).shape, get_aval(x).dtype, type(x) in (bool, int, float))
             for x in leaves]
    store: dict = {}

    def flat(*xs):
        a, k = tree_unflatten(in_tree, xs)
        out_leaves, store["tree"] = tree_flatten(fun(*a, **k))
        return [o if isinstance(o, Tracer) else np.asarray(o) for o in out_leaves]

    jaxpr, _ = trace_to_jaxpr(flat, avals)
    outs = [ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in jaxpr.outvars]
    return tree_unflatten(store["tree"], outs)


def linear_transpose(fun: Callable, *primals, reduce_axes=()):
    """The transpose of the linear function ``fun`` (``jax.linear_transpose``): ``primals``
    give the input shapes and dtypes (their values are not used); the result maps an output
    cotangent to the tuple of input cotangents.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> a = fnp.array([[1.0, 2.0], [3.0, 4.0]])
    >>> f_t = fa.linear_transpose(lambda x: a @ x, fnp.zeros(2))
    >>> f_t(fnp.array([1.0, 0.0]))
    (array([1., 2.]),)
    """
    primals = tree_map(lambda x: np.zeros(x.shape, x.dtype) if isinstance(x, ShapeDtypeStruct) else x,
                       primals)  # only the shapes and dtypes are used
    names = _arg_names(fun, len(primals))
    p_leaves, in_tree, paths = _flatten_args(primals, names)
    store: dict = {}
    avals = [core.ShapedArray(get_aval(x).shape, get_aval(x).dtype) for x in p_leaves]
    jaxpr, consts = trace_to_jaxpr(_flat_fun(fun, in_tree, store), avals, paths, fold=True)
    out_tree = store["out_tree"]
    out_avals = [a.aval for a in jaxpr.outvars]
    at_zero = eval_jaxpr(jaxpr, consts, *[np.zeros(a.shape, a.dtype) for a in avals])
    if any(not isinstance(v, Tracer) and np.any(np.asarray(v) != 0) for v in at_zero):
        raise ArgumentError(f"linear_transpose: {_fun_name(fun)} is not linear: it is not zero at "
                            "zero (an affine term, such as x + 1.0). Transpose its linear part.")

    def transposed(ct):
        ct_leaves, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TreeStructureError(f"linear_transpose: the cotangent's structure {ct_tree} does "
                                     f"not match the output's structure {out_tree}.")
        ct_leaves = [_as_leaf(c, "the cotangent") for c in ct_leaves]
        for c, a in zip(ct_leaves, out_avals):
            if get_aval(c).shape != a.shape:
                raise ShapeError(f"linear_transpose: a cotangent has shape {get_aval(c).shape}, "
                                 f"but the matching output has shape {a.shape}.")
        try:
            cts = ad.backward_pass(jaxpr, consts, ct_leaves)
        except (ValueError, NonlinearTangentError) as e:  # a non-linear operation of the inputs
            raise ArgumentError(f"linear_transpose: {_fun_name(fun)} is not linear in its inputs "
                                f"({e}); transpose a linear function, e.g. the one jvp or "
                                "linearize gives.") from e
        cts = [_to_user(_zeros_like_leaf(p) if c is None else c) for c, p in zip(cts, p_leaves)]
        return tree_unflatten(in_tree, cts)

    return transposed


# --------------------------------------------------------------------------------------
# block_until_ready


def block_until_ready(x):
    """Return ``x`` (a pytree): funcad computes synchronously, so results are ready when a
    function returns. For JAX scripts' timing lines, ``jax.block_until_ready(f(x))``.

    >>> import funcad as fa
    >>> fa.block_until_ready((1.0, [2.0]))
    (1.0, [2.0])
    """
    return x


# --------------------------------------------------------------------------------------
# Devices: funcad runs on the CPU, in NumPy arrays


class CpuDevice:
    """The one device funcad computes on (``fa.devices()[0]``)."""

    id, platform, device_kind = 0, "cpu", "cpu"

    def __repr__(self):
        return "CpuDevice(id=0)"


_CPU = CpuDevice()


def devices(backend: str | None = None) -> list:
    """``[CpuDevice(id=0)]``: funcad computes on the CPU (JAX's ``jax.devices()``)."""
    if backend not in (None, "cpu"):
        raise ArgumentError(f"devices: funcad runs on the CPU only, not {backend!r}.")
    return [_CPU]


local_devices = devices


def device_count(backend: str | None = None) -> int:
    """1: the CPU."""
    return len(devices(backend))


local_device_count = device_count


def default_backend() -> str:
    """``"cpu"``."""
    return "cpu"


def device_put(x, device=None, *, src=None, donate=False, may_alias=None):
    """``x`` with its leaves as NumPy arrays (there is no device memory to copy to).

    >>> import funcad as fa
    >>> fa.device_put({"a": 1.0})
    {'a': array(1.)}
    """
    return tree_map(lambda v: v if isinstance(v, Tracer) else np.asarray(v), x)


def device_get(x):
    """``x`` with its leaves as NumPy arrays (``jax.device_get``)."""
    return device_put(x)


# --------------------------------------------------------------------------------------
# make_jaxpr


def make_jaxpr(fun: Callable, static_argnums: int | Sequence[int] = ()):
    """A function that traces ``fun`` on its arguments' shapes and dtypes and returns the jaxpr.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> print(fa.make_jaxpr(fnp.sin)(fnp.zeros(3)))
    { lambda ; a:f64[3]. let b:f64[3] = sin a in (b,) }
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def make_jaxpr_f(*args, **kwargs):
        args = tree_map(lambda x: np.zeros(x.shape, x.dtype) if isinstance(x, ShapeDtypeStruct) else x,
                        args)  # only the shapes and dtypes are used
        nums = [i for i in range(len(args)) if i not in static]
        names = _arg_names(fun, len(args))
        leaves, in_tree, paths = _flatten_args([args[i] for i in nums], [names[i] for i in nums])
        partial = _partial_fun(fun, args, kwargs, nums)
        store: dict = {}
        # Python scalars are traced weakly typed, as they behave in the function itself.
        weak = [type(x) in (bool, int, float) for x in tree_flatten(tuple(args[i] for i in nums))[0]]
        in_avals = [core.ShapedArray(get_aval(x).shape, get_aval(x).dtype, w) for x, w in zip(leaves, weak)]
        jaxpr, consts = trace_to_jaxpr(_flat_fun(partial, in_tree, store), in_avals, paths)
        return ClosedJaxpr(jaxpr, consts, in_tree, store["out_tree"])

    return make_jaxpr_f
