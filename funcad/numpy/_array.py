"""``funcad.numpy.Array``: the NumPy array funcad.numpy's constructors return, with JAX's
functional updates, so one line means the same eagerly, under grad, vmap and jit.

Traced values have ``.at`` and indexing by traced indices; a NumPy array made by
``fnp.zeros``, ``fnp.asarray``, ``fnp.arange``... is an ``Array`` (a view, no copy) with the
same two: ``fnp.zeros(3).at[0].set(x)`` works in every mode, and
``fnp.asarray(onp.arange(5.0))[i]`` with a traced ``i`` is funcad's indexing. Assigning a
traced value into it (``y[0] = x``) raises the error that shows the ``.at`` form, as under
jit: NumPy would keep the value and drop its derivative. Results of NumPy operations on an
``Array`` are plain ``numpy.ndarray``; everything else is NumPy's.
"""

from __future__ import annotations

import numpy as _np

from ..core import Tracer, set_current_trace
from ..errors import ConcretizationError

__all__ = ["Array"]


def _has_tracer(idx) -> bool:
    return any(isinstance(i, Tracer) or (isinstance(i, slice) and any(
        isinstance(v, Tracer) for v in (i.start, i.stop, i.step)))
        for i in (idx if isinstance(idx, tuple) else (idx,)))  # x[i:i + k]: a slice alone too


class Array(_np.ndarray):
    """A ``numpy.ndarray`` with ``.at[idx]`` updates (JAX's), indexable by traced indices.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.grad(lambda x: fnp.sum(fnp.zeros(3).at[0].set(x) ** 2))(3.0)
    array(6.)
    """

    @property
    def at(self):
        from ._shape_ops import _IndexUpdateHelper

        # an eager update's result keeps .at, so JAX's ``x = x.at[i].set(v)`` loops run eagerly
        return _IndexUpdateHelper(self.view(_np.ndarray), as_array)

    def __getitem__(self, idx):
        if _has_tracer(idx):
            from . import _getitem

            return _getitem(self.view(_np.ndarray), idx)
        return super().__getitem__(idx)

    def __setitem__(self, idx, value):
        if isinstance(value, Tracer) or _has_tracer(idx):
            raise _setitem_error(self, idx, value)
        super().__setitem__(idx, value)

    def __repr__(self):
        return repr(self.view(_np.ndarray))

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        # NumPy operations return plain arrays (funcad's fast paths test for them)
        out = obj.view(_np.ndarray) if type(obj) is Array else obj
        return out[()] if return_scalar and isinstance(out, _np.ndarray) else out


def _setitem_error(x, idx, value) -> ConcretizationError:
    return ConcretizationError(
        f"y[{_index_text(idx)}] = value, where the array y ({x.dtype}{list(x.shape)}), the index "
        "or the value is traced: funcad's arrays are immutable inside transformations, as "
        "JAX's (an update in place would lose the derivative, or is impossible under jit; an "
        "array made inside a jitted function without its arguments, such as fnp.zeros(n), is "
        "updated in place as in NumPy until a view of it, a slice or a reshape, is taken). Write "
        f"y = y.at[{_index_text(idx)}].set(value) (or .add, .multiply, ...): it returns the "
        "updated array.")


def _index_text(idx) -> str:
    def one(i):
        if isinstance(i, slice):
            return ":".join("" if v is None else ("i" if isinstance(v, Tracer) else str(v))
                            for v in (i.start, i.stop) + ((i.step,) if i.step is not None else ()))
        if i is Ellipsis:
            return "..."
        return "i" if isinstance(i, Tracer) else ("None" if i is None else str(i))

    return ", ".join(map(one, idx)) if isinstance(idx, tuple) else one(idx)


def tracer_setitem(self, idx, value, views_since=None):
    """``tracer[idx] = value``: NumPy's in-place update where the array is a constant of the
    program (``y = fnp.zeros(2); y[0] = 1.0`` under jit, as eagerly); else the error.
    ``views_since``: views recorded from that equation on are the caller's own, not the user's."""
    from ..jaxpr import StagingTracer

    if isinstance(self, StagingTracer) and _is_constant(self._trace, self, idx, value, views_since):
        from ._shape_ops import _IndexUpdateHelper

        with set_current_trace(self._trace):
            new = _IndexUpdateHelper(self)[idx].set(value)
        if isinstance(new, StagingTracer) and new._trace is self._trace and new.aval == self.aval:
            self._var = new._var  # every reference to this array sees the update, as in NumPy
            return
    raise _setitem_error(self, idx, value)


# Primitives whose NumPy counterpart returns a view: after one has read the array, updating it
# in place would have to change the view too, which a staged program cannot do.
_VIEW_PRIMS = frozenset({"index", "reshape", "transpose", "broadcast_to", "broadcast_in_dim",
                         "squeeze", "expand_dims", "rev", "diagonal", "swapaxes", "moveaxis"})


def _is_constant(trace, y, idx, value, views_since=None) -> bool:
    """Whether ``y`` (a tracer of the staging ``trace``), the index and the value are known
    without the program's inputs, with no view of ``y`` taken yet: under jit these are
    the arrays that are concrete NumPy arrays in eager mode."""
    parts = [y] + _leaves(value) + [i for i in (idx if isinstance(idx, tuple) else (idx,))]
    parts += [v for i in parts if isinstance(i, slice) for v in (i.start, i.stop, i.step)]
    parts += [v for i in parts if isinstance(i, list | tuple) for v in _leaves(i)]
    tracers = [t for t in parts if isinstance(t, Tracer)]
    if any(getattr(t, "_trace", None) is not trace for t in tracers):
        return False
    const_of = dict(zip(trace.constvar_of.values(), trace.consts))
    produced = {o for e in trace.eqns for o in e.outputs}
    for t in tracers:
        for v in trace.dependencies(t._var):
            if v not in produced and (v not in const_of or isinstance(const_of[v], Tracer)):
                return False  # an input of the program, or a value of an enclosing transformation
    return not any(y._var in e.inputs and _is_view(e) for e in trace.eqns[:views_since])


def _leaves(x) -> list:
    """``x`` and, for (nested) lists and tuples, their elements: where a tracer may hide."""
    return [x] + [v for e in x for v in _leaves(e)] if isinstance(x, list | tuple) else [x]


def _is_view(eqn) -> bool:
    if eqn.prim.name != "index":
        return eqn.prim.name in _VIEW_PRIMS
    # basic indexing is a view; y[i] of a scalar (as in y[i] += v) and fancy indexing copy
    return eqn.outputs[0].aval.ndim > 0 and not any(
        isinstance(t, tuple) and t[0] == "array" for t in eqn.params.get("template", ()))


def fresh(x):
    """``x``, as a distinct tracer object when it is a staged one: what NumPy's copies
    (``copy``, ``astype``, ``flatten``...) return, so the in-place rule above, which updates
    every reference to the array, never reaches a copy made before the update."""
    from ..jaxpr import StagingTracer

    return StagingTracer(x._trace, x._var) if type(x) is StagingTracer else x


def as_array(x):
    """``x`` as an :class:`Array` if it is a NumPy array (a view), else unchanged."""
    return x.view(Array) if type(x) is _np.ndarray else x
