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

from ..core import Tracer
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

        return _IndexUpdateHelper(self.view(_np.ndarray))

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
        "JAX's (an update in place would lose the derivative, or is impossible under jit). Write "
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


def tracer_setitem(self, idx, value):
    """``tracer[idx] = value``: the same error, whatever the mode."""
    raise _setitem_error(self, idx, value)


def as_array(x):
    """``x`` as an :class:`Array` if it is a NumPy array (a view), else unchanged."""
    return x.view(Array) if type(x) is _np.ndarray else x
