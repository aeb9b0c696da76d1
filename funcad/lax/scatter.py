"""index_set: ``x[idx] = updates`` as a pure function (JAX's ``x.at[idx].set(updates)``).

Linear in ``(x, updates)`` jointly: the result is x with the indexed region zeroed plus the
updates scattered there. Its transpose sends the cotangent outside the region to ``x`` and
the region's cotangent to ``updates``; where advanced indices repeat a position, only the
update that NumPy's assignment keeps (the last) receives it. ``updates`` has exactly the
region's shape (funcad.numpy broadcasts first). The index template is the one of
:data:`funcad.lax.shapes.index_p`.
"""

from __future__ import annotations

import numpy as np

from .. import ad, batching
from ..ad import is_undefined, transpose_rules
from ..core import Primitive, ShapedArray, bind, get_aval
from ..errors import ShapeError
from . import elementwise as ew
from .shapes import (_batched_index_args, _build_index, _index_shape, _is_basic, _unbatched_aval,
                     broadcast_to, full, index_p, transpose)

index_set_p = Primitive("index_set")


def _index_set_impl(x, updates, *arrays, template):
    out = np.array(x, copy=True)
    out[_build_index(template, arrays)] = updates
    return out


def _index_set_abstract_eval(x, updates, *arrays, template):
    region = tuple(_index_shape(x.shape, template, arrays))
    if updates.shape != region:
        raise ShapeError(f"index_set: updates of shape {updates.shape} do not match the indexed "
                         f"region of shape {region}.")
    return ShapedArray(x.shape, x.dtype)


index_set_p.def_impl(_index_set_impl)
index_set_p.def_abstract_eval(_index_set_abstract_eval)


def index_set(x, updates, arrays, template):
    return bind(index_set_p, x, updates, *arrays, template=template)


def _index_set_jvp(primals, tangents, *, template):
    x, updates, *arrays = primals
    ans = index_set(x, updates, arrays, template)
    x_dot, u_dot = tangents[0], tangents[1]
    if type(x_dot) is ad.Zero and type(u_dot) is ad.Zero:
        return ans, ad.Zero(get_aval(ans))
    x_dot = ad.instantiate(x_dot, get_aval(x))
    u_dot = ad.instantiate(u_dot, get_aval(updates))
    return ans, index_set(x_dot, u_dot, arrays, template)


def _winners(x_aval, region, arrays, template):
    """True where an update is the one a repeated advanced index keeps (NumPy: the last)."""
    ids = np.arange(int(np.prod(region, dtype=np.int64)), dtype=np.int64).reshape(region)
    owner = index_set(full(x_aval.shape, -1, np.int64), ids, arrays, template)
    return ew.eq(bind(index_p, owner, *arrays, template=template), ids)


def _index_set_transpose(ct, x, updates, *arrays, template):
    u_aval = updates.aval if is_undefined(updates) else get_aval(updates)
    ct_x = ct_u = None
    if is_undefined(x):
        ct_x = index_set(ct, full(u_aval.shape, 0, u_aval.dtype), arrays, template)
    if is_undefined(updates):
        ct_u = bind(index_p, ct, *arrays, template=template)
        if not _is_basic(template):
            x_aval = x.aval if is_undefined(x) else get_aval(x)
            ct_u = ew.select(_winners(x_aval, u_aval.shape, arrays, template), ct_u,
                             full(u_aval.shape, 0, u_aval.dtype))
    return [ct_x, ct_u] + [None] * len(arrays)


ad.jvp_rules[index_set_p] = _index_set_jvp
transpose_rules[index_set_p] = _index_set_transpose



def _index_set_batch(axis_size, vals, dims, *, template):
    # As index_add's rule: x batched first, the updates laid out like the batched region.
    x, u, *arrays = vals
    dx, du, *darrs = dims
    x = batching.bdim_at_front(x, dx, axis_size)
    per_example = _index_shape(get_aval(x).shape[1:], template,
                               [_unbatched_aval(a, d) for a, d in zip(arrays, darrs)])
    x, arrays, tmpl, perm = _batched_index_args(axis_size, x, 0, arrays, darrs, template)
    # Batched updates of lower per-example rank broadcast per example: pad after the batch axis.
    u = u if du is None else batching.front_padded(u, du, len(per_example))
    u = broadcast_to(u, (axis_size,) + tuple(per_example))
    if perm is not None:
        u = transpose(u, np.argsort(perm))
    return bind(index_set_p, x, u, *arrays, template=tmpl), 0


batching.primitive_batchers[index_set_p] = _index_set_batch
