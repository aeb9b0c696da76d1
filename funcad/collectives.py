"""Collectives over a named vmap axis, as JAX's: ``psum``, ``pmean``, ``pmax``, ``pmin``,
``all_gather``, ``axis_index``.

Inside ``vmap(f, axis_name="i")``, ``psum(x, "i")`` is the sum of ``x`` over the examples,
the same value for every example. The BatchTrace whose axis carries the name reduces over its
batch axis (batching.collective_batchers); any other trace passes the collective through
(JVP: each is linear, or a selection for pmax/pmin; vmap over another axis: per example).
Outside a vmap naming the axis, the name is unbound: a clear error. The primitives never
reach a compiled program (the BatchTrace turns them into reductions before jit stages
anything), so they live here rather than in funcad.lax, whose primitives all compile;
funcad.lax re-exports the functions under JAX's names.

>>> import funcad as fa, funcad.numpy as fnp
>>> fa.vmap(lambda x: x / fa.lax.psum(x, "i"), axis_name="i")(fnp.array([1.0, 3.0]))
array([0.25, 0.75])
"""

from __future__ import annotations

import numpy as np

from . import ad, batching, core
from .core import Primitive, ShapedArray, bind, get_aval
from .errors import BatchingError

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "axis_index"]


def _unbound(name, what):
    return BatchingError(
        f"lax.{what}: the axis name {name!r} is not bound: call it inside vmap(f, "
        f"axis_name={name!r}) (inside jit inside that vmap too, not in a jit the vmap maps over).")


def _axis_size(name, what) -> int:
    t = core.current_trace()
    while t is not None:
        if isinstance(t, batching.BatchTrace) and t.axis_name == name:
            return t.axis_size
        t = t.parent
    raise _unbound(name, what)


def _unbound_impl(what):
    def impl(*args, axis_name, **params):
        raise _unbound(axis_name, what)

    return impl


def _collective(name: str, reduce, nonbatched):
    """A collective primitive: ``reduce(val, bdim, size)`` over the named axis (the result
    unbatched); ``nonbatched(x, size)`` for a value the same for every example."""
    p = Primitive(name)
    p.def_impl(_unbound_impl(name))
    p.def_abstract_eval(lambda x, *, axis_name: ShapedArray(x.shape, x.dtype))

    def named_rule(trace, vals, dims, *, axis_name):
        (x,), (d,) = vals, dims
        return (nonbatched(x, trace.axis_size) if d is None else reduce(x, d, trace.axis_size)), None

    batching.collective_batchers[p] = named_rule
    # vmap over another axis: the collective applies to each example
    batching.primitive_batchers[p] = lambda size, vals, dims, **params: (bind(p, *vals, **params), dims[0])
    return p


def _sum(x, d, n):
    from .lax.reductions import reduce_sum

    return reduce_sum(x, (d,))


def _times(x, n):
    from .lax.elementwise import mul

    return mul(x, np.asarray(n, get_aval(x).dtype))


psum_p = _collective("psum", _sum, _times)
ad.deflinear(psum_p, lambda ct, x, *, axis_name: [psum(ct, axis_name)])


def _mean(x, d, n):
    from .lax.elementwise import div

    return div(_sum(x, d, n), np.asarray(n, get_aval(x).dtype))


pmean_p = _collective("pmean", _mean, lambda x, n: x)
ad.deflinear(pmean_p, lambda ct, x, *, axis_name: [pmean(ct, axis_name)])


def _max(x, d, n):
    from .lax.reductions import reduce_max

    return reduce_max(x, (d,))


def _min(x, d, n):
    from .lax.reductions import reduce_min

    return reduce_min(x, (d,))


pmax_p = _collective("pmax", _max, lambda x, n: x)
pmin_p = _collective("pmin", _min, lambda x, n: x)


def _extremum_jvp(prim):
    def jvp(primals, tangents, *, axis_name):
        from .lax import elementwise as ew

        (x,), (t,) = primals, tangents
        m = bind(prim, x, axis_name=axis_name)
        if type(t) is ad.Zero:
            return m, ad.Zero(get_aval(m))
        dt = get_aval(x).dtype
        hit = ew.convert_element_type(ew.eq(x, m), dt)  # the examples at the extremum share it
        return m, ew.div(bind(psum_p, ew.mul(t, hit), axis_name=axis_name),
                         bind(psum_p, hit, axis_name=axis_name))

    ad.jvp_rules[prim] = jvp


_extremum_jvp(pmax_p)
_extremum_jvp(pmin_p)

axis_index_p = Primitive("axis_index")
axis_index_p.def_impl(_unbound_impl("axis_index"))
axis_index_p.def_abstract_eval(lambda *, axis_name: ShapedArray((), np.dtype(np.int32)))
batching.collective_batchers[axis_index_p] = lambda trace, vals, dims, *, axis_name: (
    np.arange(trace.axis_size, dtype=np.int32), 0)
batching.primitive_batchers[axis_index_p] = lambda size, vals, dims, **params: (
    bind(axis_index_p, **params), None)
ad.defjvp_zero(axis_index_p)

all_gather_p = Primitive("all_gather")


def _all_gather_abstract_eval(x, *, axis_name, axis, tiled):
    n = _axis_size(axis_name, "all_gather")
    if tiled:
        return ShapedArray(x.shape[:axis] + (x.shape[axis] * n,) + x.shape[axis + 1:], x.dtype)
    return ShapedArray(x.shape[:axis] + (n,) + x.shape[axis:], x.dtype)


all_gather_p.def_impl(_unbound_impl("all_gather"))
all_gather_p.def_abstract_eval(_all_gather_abstract_eval)


def _all_gather_named(trace, vals, dims, *, axis_name, axis, tiled):
    from .lax.shapes import broadcast_to, reshape

    (x,), (d,) = vals, dims
    n = trace.axis_size
    if d is None:  # the same value in every example: n copies
        shape = get_aval(x).shape
        x = broadcast_to(reshape(x, shape[:axis] + (1,) + shape[axis:]), shape[:axis] + (n,) + shape[axis:])
    else:
        x = batching.moveaxis(x, d, axis)
    if tiled:
        shape = get_aval(x).shape
        x = reshape(x, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2:])
    return x, None


batching.collective_batchers[all_gather_p] = _all_gather_named
batching.primitive_batchers[all_gather_p] = lambda size, vals, dims, **params: (
    bind(all_gather_p, batching.moveaxis(vals[0], dims[0], 0), **params), 0)


def _all_gather_transpose(ct, x, *, axis_name, axis, tiled):
    # each example's x lands in slot axis_index of every example's output: sum the cotangents
    # over the examples (psum), then take this example's slot
    from .lax.jax_api import dynamic_index_in_dim, dynamic_slice_in_dim

    total = psum(ct, axis_name)
    i = axis_index(axis_name)
    if tiled:
        k = x.aval.shape[axis]
        return [dynamic_slice_in_dim(total, i * k, k, axis)]
    return [dynamic_index_in_dim(total, i, axis, keepdims=False)]


ad.deflinear(all_gather_p, _all_gather_transpose)


# --------------------------------------------------------------------------------------
# The functions


def _check_name(axis_name, what):
    if isinstance(axis_name, (tuple, list)):
        if len(axis_name) != 1:
            raise BatchingError(f"lax.{what}: funcad reduces over one named axis at a time, got "
                                f"{tuple(axis_name)}; nest the calls instead.")
        axis_name = axis_name[0]
    return axis_name


def _tree(prim, what):
    def f(x, axis_name, *, axis_index_groups=None):
        from .tree_util import tree_map

        if axis_index_groups is not None:
            raise BatchingError(f"lax.{what}: axis_index_groups is not supported by funcad.")
        name = _check_name(axis_name, what)
        return tree_map(lambda v: bind(prim, _arr(v), axis_name=name), x)

    f.__name__ = f.__qualname__ = what
    return f


def _arr(v):
    return v if isinstance(v, core.Tracer) else np.asarray(v)


psum = _tree(psum_p, "psum")
psum.__doc__ = """The sum of ``x`` (a pytree) over the examples of ``vmap(..., axis_name=axis_name)``,
the same for every example (an unmapped value counts once per example)."""
pmean = _tree(pmean_p, "pmean")
pmean.__doc__ = "The mean of ``x`` over the examples of the named vmap axis."
pmax = _tree(pmax_p, "pmax")
pmax.__doc__ = "The maximum of ``x`` over the examples of the named vmap axis."
pmin = _tree(pmin_p, "pmin")
pmin.__doc__ = "The minimum of ``x`` over the examples of the named vmap axis."


def axis_index(axis_name):
    """The index of the current example along the named vmap axis (int32)."""
    return bind(axis_index_p, axis_name=_check_name(axis_name, "axis_index"))


def all_gather(x, axis_name, *, axis: int = 0, tiled: bool = False, axis_index_groups=None):
    """Every example's ``x`` stacked along a new axis ``axis`` (concatenated with ``tiled``),
    the same for every example of the named vmap axis."""
    from .tree_util import tree_map

    if axis_index_groups is not None:
        raise BatchingError("lax.all_gather: axis_index_groups is not supported by funcad.")
    name = _check_name(axis_name, "all_gather")
    return tree_map(lambda v: bind(all_gather_p, _arr(v), axis_name=name, axis=int(axis),
                                   tiled=bool(tiled)), x)
