"""Sparsity patterns of Jacobians and Hessians, read off the jaxpr.

An abstract interpreter runs the jaxpr on *index sets*: every variable carries a boolean
``scipy.sparse`` CSR matrix, one row per array element, one column per input element, with
a True where the element may depend on that input (SparseConnectivityTracer's gradient
tracer, with all elements of an array in one matrix: an elementwise operation is a row-wise
union, a sparse addition, whatever the array's size).

Each primitive's rule says how its operands' elements reach the output's elements, as one
:class:`Route` per operand: ``Identity`` (same shape, elementwise), ``Gather`` (out element
``e`` comes from in element ``src[e]``: broadcasts, reshapes, transposes, slices, gathers,
concatenation; found by running the primitive on the element ids), ``Matrix`` (a sparse
out-by-in dependency matrix: reductions, scatters, contractions) or ``Dense`` (every output
element from every input element: linear algebra, unknown index arrays, unknown primitives).
``None`` is no derivative at all (comparisons, ``floor``, ``stop_gradient``). A second
table says how a primitive is nonlinear, for Hessian patterns: linear primitives add nothing,
a bilinear one (``mul``, ``matmul``) pairs its operands' dependencies with each other, a
nonlinear one (``sin``) pairs every dependency of an output element with every other.
Those pairs are summed over the output elements the result actually depends on (a reverse
pass over the same routes), into one symmetric pattern.

Values go along where they are known: constants are folded, so an index array or a
``where`` mask computed from constants is exact in the global pattern; ``mode="local"``
makes the inputs known too, and the pattern holds at that point only (``where``, ``max`` and
``cond`` follow the branch taken; loops run their actual trips). Control flow: ``cond``
takes the union over branches whose index is unknown, ``while`` a fixed point when its
predicate is unknown, ``scan`` runs its steps (a fixed point over more than 256); ``jit``,
``custom_vjp`` and ``checkpoint`` are analysed through the function they wrap, ``custom_jvp``
through that and its JVP rule.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Sequence

import numpy as np

from . import api
from ._lazy import LazyModule
from .core import Primitive, get_aval
from .errors import ArgumentError
from .jaxpr import ClosedJaxpr, Jaxpr, Literal, trace_to_jaxpr

sp = LazyModule("scipy.sparse")

__all__ = ["jacobian_sparsity", "hessian_sparsity", "sparsity_rules", "hessian_kinds"]

# --------------------------------------------------------------------------------------
# Index-set matrices: CSR, rows = elements of a variable, columns = input elements. None is
# the empty set for every element (a constant).

_IDX = np.int32


def _csr(indptr, indices, n_rows, n):
    return sp.csr_matrix((np.ones(len(indices), bool), indices, indptr), shape=(n_rows, n), copy=False)


def _take(P, src):
    """Rows ``P[src]`` (``src == -1``: an empty row), without scipy's fancy-indexing cost."""
    lens = np.diff(P.indptr)
    lens = np.where(src >= 0, lens[src], 0)
    indptr = np.zeros(len(src) + 1, np.int64)
    np.cumsum(lens, out=indptr[1:])
    pos = np.repeat(P.indptr[src] - indptr[:-1], lens) + np.arange(indptr[-1])
    return _csr(indptr, P.indices[pos], len(src), P.shape[1])


def _union(a, b):
    if a is None or b is None:
        return b if a is None else a
    return a + b  # boolean sparse addition: a row-wise union


def _empty(n_rows, n):
    return sp.csr_matrix((n_rows, n), dtype=bool)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b or (a if b is None else b).nnz == 0
    return a.nnz == b.nnz and (a != b).nnz == 0


# --------------------------------------------------------------------------------------
# Routes: how one operand's elements reach the output's elements


class Identity:
    def forward(self, P, n_out):
        return P

    def backward(self, live, n_in):
        return live


class Gather:
    """Out element ``e`` depends on in element ``src[e]`` (``-1``: on none)."""

    def __init__(self, src):
        self.src = np.asarray(src, np.int64).ravel()

    def forward(self, P, n_out):
        return _take(P, self.src)

    def backward(self, live, n_in):
        m = np.zeros(n_in, bool)
        s = self.src[live]
        m[s[s >= 0]] = True
        return m


class Matrix:
    """Out element ``e`` depends on the in elements of row ``e`` of the sparse ``D``."""

    def __init__(self, rows, cols, n_out, n_in):
        self.D = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n_out, n_in))

    def forward(self, P, n_out):
        return self.D @ P

    def backward(self, live, n_in):
        return self.D.T @ live.astype(bool)


class Dense:
    """Every output element depends on every input element."""

    def forward(self, P, n_out):
        cols = np.unique(P.indices).astype(_IDX)
        indptr = np.arange(n_out + 1, dtype=np.int64) * len(cols)
        return _csr(indptr, np.tile(cols, n_out), n_out, P.shape[1])

    def backward(self, live, n_in):
        return np.full(n_in, bool(live.any()))


IDENTITY, DENSE = Identity(), Dense()


def _ids(shape):
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _broadcast(in_shape, out_shape):
    if tuple(in_shape) == tuple(out_shape):
        return IDENTITY
    return Gather(np.broadcast_to(_ids(in_shape), out_shape))


# --------------------------------------------------------------------------------------
# The rules. ``rule(avals, out_avals, vals, **params) -> routes``: one route (or None) per
# operand; for a primitive with several outputs, either that (the same for every output) or
# a list of those per output.
# ``vals`` holds each operand's value where known (constants; every value with mode="local").

sparsity_rules: dict[Primitive, Callable] = {}
# How a primitive is nonlinear: a function of the routed operand patterns (restricted to the
# live output elements) giving pairs (A, B), each adding A.T @ B + B.T @ A to the Hessian.
hessian_kinds: dict[Primitive, Callable] = {}


def _linear(rs, **params):
    return []


def _bilinear(rs, **params):
    rs = [r for r in rs if r is not None]
    return [(rs[i], rs[j]) for i in range(len(rs)) for j in range(i + 1, len(rs))]


def _nonlinear(rs, **params):
    s = functools.reduce(_union, rs, None)
    return [] if s is None else [(s, s)]


def _quotient(rs, **params):  # a / b: linear in a, nonlinear in b
    a, b = rs[0], rs[1]
    return [] if b is None else [(b, _union(a, b))]


def _solve(rs, **params):  # solve(a, b) = a^-1 b: nonlinear in a, linear in b
    a, b = rs[0], rs[1]
    return [] if a is None else [(a, _union(a, b))]


def _elementwise(avals, out_avals, vals, **params):
    return [_broadcast(a.shape, out_avals[0].shape) for a in avals]


def _zero(avals, out_avals, vals, **params):
    return [None] * len(avals)


def _dense(avals, out_avals, vals, **params):
    return [DENSE] * len(avals)


def _defrule(names, rule, kind):
    from .lax.elementwise import ELEMENTWISE

    for name in names.split():
        prim = ELEMENTWISE[name]
        sparsity_rules[prim], hessian_kinds[prim] = rule, kind


def _install_elementwise():
    from .lax.elementwise import ELEMENTWISE

    for prim in ELEMENTWISE.values():  # every other elementwise primitive: smooth, nonlinear
        sparsity_rules[prim], hessian_kinds[prim] = _elementwise, _nonlinear
    _defrule("add sub neg abs mod fmod", _elementwise, _linear)  # piecewise linear: H = 0
    _defrule("mul", _mul, _bilinear)
    _defrule("div", _elementwise, _quotient)
    _defrule("eq ne lt le gt ge and or xor not floor ceil round sign isnan isinf isfinite",
             _zero, _linear)
    _defrule("select", _select, _linear)
    _defrule("max", _minmax(np.greater_equal), _linear)
    _defrule("min", _minmax(np.less_equal), _linear)
    _defrule("convert_element_type", _convert, _linear)
    _defrule("integer_pow", lambda avals, out_avals, vals, *, y: [None] if y == 0 else [IDENTITY],
             lambda rs, *, y: [] if abs(y) < 2 else _nonlinear(rs))


def _convert(avals, out_avals, vals, *, new_dtype):
    return [IDENTITY if np.dtype(new_dtype).kind in "fc" else None]


def _masked(route, mask, out_shape):
    """``route`` restricted to the output elements where ``mask`` (known) is True."""
    keep = np.broadcast_to(mask, out_shape).ravel()
    src = route.src if isinstance(route, Gather) else np.arange(keep.size)
    return Gather(np.where(keep, src, -1))


def _select(avals, out_avals, vals, **params):
    shape = out_avals[0].shape
    routes = [None] + [_broadcast(a.shape, shape) for a in avals[1:]]
    if vals[0] is not None:  # the branch taken is known
        routes[1] = _masked(routes[1], vals[0], shape)
        routes[2] = _masked(routes[2], np.logical_not(vals[0]), shape)
    return routes


def _mul(avals, out_avals, vals):
    shape = out_avals[0].shape
    routes = [_broadcast(a.shape, shape) for a in avals]
    for k in (0, 1):  # times a known zero: no dependence there
        c = vals[1 - k]
        if c is not None and not np.all(c):
            routes[k] = _masked(routes[k], np.asarray(c) != 0, shape)
    return routes


def _minmax(wins):
    def rule(avals, out_avals, vals):
        shape = out_avals[0].shape
        routes = [_broadcast(a.shape, shape) for a in avals]
        if vals[0] is not None and vals[1] is not None:  # the winner is known (a tie: both)
            x, y = np.broadcast_arrays(vals[0], vals[1])
            first = wins(x, y)
            routes = [_masked(routes[0], first, shape), _masked(routes[1], (x == y) | ~first, shape)]
        return routes

    return rule


# -- reductions, cumulative operations, sorting ------------------------------------------


def _reduce(avals, out_avals, vals, *, axes):
    (a,) = avals
    keep = [i for i in range(a.ndim) if i not in axes]
    out_ids = _ids(tuple(a.shape[i] for i in keep))
    dst = np.broadcast_to(np.expand_dims(out_ids, tuple(axes)), a.shape).ravel()
    return [Matrix(dst, np.arange(dst.size), out_ids.size, dst.size)]


def _extreme(reducer):
    def rule(avals, out_avals, vals, *, axes):
        if vals[0] is None:
            return _reduce(avals, out_avals, vals, axes=axes)
        (a,), x = avals, vals[0]
        ext = reducer(x, axis=axes, keepdims=True)  # the extreme elements (ties: all)
        dst = np.broadcast_to(np.expand_dims(_ids(out_avals[0].shape), tuple(axes)), a.shape).ravel()
        hit = (x == ext).ravel()
        return [Matrix(dst[hit], np.flatnonzero(hit), out_avals[0].size, a.size)]

    return rule


def _along_axis(shape, axis, pairs):
    """A Matrix from (out position, in position) pairs along ``axis``, for every other index."""
    ids = np.moveaxis(_ids(shape), axis, -1).reshape(-1, shape[axis])
    k, j = pairs
    return Matrix(ids[:, k].ravel(), ids[:, j].ravel(), ids.size, ids.size)


def _prefix(avals, out_avals, vals, *, axis, reverse):
    n = avals[0].shape[axis]
    k, j = np.tril_indices(n) if not reverse else np.triu_indices(n)
    return [_along_axis(avals[0].shape, axis, (k, j))] * len(avals)


def _sort(avals, out_avals, vals, *, axis):
    if vals[0] is None:  # any element may land anywhere along the axis
        n = avals[0].shape[axis]
        return [_along_axis(avals[0].shape, axis, np.indices((n, n)).reshape(2, -1))]
    order = np.argsort(vals[0], axis=axis, kind="stable")
    return [Gather(np.take_along_axis(_ids(avals[0].shape), order, axis))]


# -- shapes and indexing ---------------------------------------------------------------


def _by_impl(prim):
    """A gather-like primitive's route: the primitive applied to its operand's element ids."""

    def rule(avals, out_avals, vals, **params):
        if any(v is None for v in vals[1:]):  # index arrays of unknown value
            return [DENSE] + [None] * (len(avals) - 1)
        return [Gather(prim.impl(_ids(avals[0].shape), *vals[1:], **params))] + [None] * (len(avals) - 1)

    return rule


def _concatenate(avals, out_avals, vals, *, axis):
    from .lax.shapes import concatenate_p

    def one(k):
        parts = [_ids(a.shape) if i == k else np.full(a.shape, -1) for i, a in enumerate(avals)]
        return Gather(concatenate_p.impl(*parts, axis=axis))

    return [one(k) for k in range(len(avals))]


def _index_add(avals, out_avals, vals, *, template):
    from .lax.shapes import _build_index

    if any(v is None for v in vals[2:]):
        return [IDENTITY, DENSE] + [None] * (len(avals) - 2)
    region = _ids(avals[0].shape)[_build_index(template, vals[2:])]
    upd = np.broadcast_to(_ids(avals[1].shape), region.shape)
    scatter = Matrix(region.ravel(), upd.ravel(), avals[0].size, avals[1].size)
    return [IDENTITY, scatter] + [None] * (len(avals) - 2)


def _index_set(avals, out_avals, vals, *, template):
    from .lax.shapes import _build_index

    if any(v is None for v in vals[2:]):
        return [IDENTITY, DENSE] + [None] * (len(avals) - 2)
    idx = _build_index(template, vals[2:])
    kept, owner = _ids(avals[0].shape).copy(), np.full(avals[0].shape, -1)
    kept[idx] = -1
    owner[idx] = _ids(avals[1].shape)  # NumPy's assignment: the last repeated index wins
    return [Gather(kept), Gather(owner)] + [None] * (len(avals) - 2)


# -- contractions and linear algebra ---------------------------------------------------


def _einsum_routes(specs, out_spec, shapes, vals):
    """One Matrix per operand: out element <- operand element, over the iteration space
    (without the points where another operand is a known zero)."""
    letters = sorted(set("".join(specs) + out_spec))
    size = {}
    for s, shape in zip(specs, shapes):
        for c, n in zip(s, shape):
            size[c] = max(size.get(c, 1), n)
    full = tuple(size[c] for c in letters)

    def spread(s, shape):  # the operand's ids over the iteration space
        uniq = "".join(dict.fromkeys(s))
        ids = np.einsum(f"{s}->{uniq}", _ids(shape)) if len(uniq) < len(s) else _ids(shape)
        order = sorted(range(len(uniq)), key=lambda i: letters.index(uniq[i]))
        ids = np.transpose(ids, order)
        present = sorted(uniq, key=letters.index)
        ids = ids.reshape([ids.shape[present.index(c)] if c in present else 1 for c in letters])
        return np.broadcast_to(ids, full).ravel()

    out_shape = tuple(size[c] for c in out_spec)
    out = spread(out_spec, out_shape)
    n_out = int(np.prod(out_shape, dtype=np.int64))
    ids = [spread(s, shape) for s, shape in zip(specs, shapes)]
    nonzero = [None if v is None else np.asarray(v).ravel()[i] != 0 for v, i in zip(vals, ids)]

    def route(k):
        others = [m for j, m in enumerate(nonzero) if j != k and m is not None]
        keep = functools.reduce(np.logical_and, others, np.ones(out.shape, bool))
        return Matrix(out[keep], ids[k][keep], n_out, int(np.prod(shapes[k], dtype=np.int64)))

    return [route(k) for k in range(len(specs))]


def _einsum(avals, out_avals, vals, *, spec):
    ins, out = spec.split("->")
    return _einsum_routes(ins.split(","), out, [a.shape for a in avals], vals)


def _matmul(avals, out_avals, vals):
    a, b = avals
    batch = string.ascii_lowercase[3:3 + len(out_avals[0].shape) - 2]
    sa, sb = batch[len(batch) - (a.ndim - 2):] + "ij", batch[len(batch) - (b.ndim - 2):] + "jk"
    return _einsum_routes([sa, sb], batch + "ik", [a.shape, b.shape], vals)


def _install():
    from .lax import cumulative, decompositions, linalg, reductions, scatter, shapes, sorting
    from .lax.elementwise import stop_gradient_p

    _install_elementwise()
    table = {
        stop_gradient_p: (_zero, _linear), shapes.full_p: (_zero, _linear),
        sorting.argsort_p: (_zero, _linear), sorting.argmax_p: (_zero, _linear),
        sorting.argmin_p: (_zero, _linear), sorting.sort_p: (_sort, _linear),
        reductions.reduce_sum_p: (_reduce, _linear), reductions.reduce_prod_p: (_reduce, _nonlinear),
        reductions.reduce_max_p: (_extreme(np.max), _linear),
        reductions.reduce_min_p: (_extreme(np.min), _linear),
        cumulative.cumsum_p: (_prefix, _linear), cumulative.cumprod_p: (_prefix, _nonlinear),
        cumulative.linear_recurrence_p: (_prefix, _bilinear),
        shapes.broadcast_to_p: (_by_impl(shapes.broadcast_to_p), _linear),
        shapes.reshape_p: (_by_impl(shapes.reshape_p), _linear),
        shapes.transpose_p: (_by_impl(shapes.transpose_p), _linear),
        shapes.index_p: (_by_impl(shapes.index_p), _linear),
        shapes.concatenate_p: (_concatenate, _linear),
        shapes.index_add_p: (_index_add, _linear), scatter.index_set_p: (_index_set, _linear),
        linalg.matmul_p: (_matmul, _bilinear), linalg.einsum_p: (_einsum, _bilinear),
        linalg.solve_p: (_dense, _solve), decompositions.triangular_solve_p: (_dense, _solve),
    }
    for prim in (decompositions.cholesky_p, decompositions.det_p, decompositions.pinv_p,
                 decompositions.eigh_p, decompositions.qr_p, decompositions.svd_p,
                 decompositions.slogdet_p):
        table[prim] = (_dense, _nonlinear)
    for prim, (rule, kind) in table.items():
        sparsity_rules[prim], hessian_kinds[prim] = rule, kind


# --------------------------------------------------------------------------------------
# The interpreter: a forward pass (patterns and known values), then for Hessians a reverse
# pass (which output elements the result depends on) and the pairs of each nonlinear step.


class _Step:
    __slots__ = ("eqn", "routes", "in_p", "in_v")

    def __init__(self, eqn, routes, in_p, in_v):
        self.eqn, self.routes, self.in_p, self.in_v = eqn, routes, in_p, in_v


def _analyze(jaxpr: Jaxpr, consts, in_p, in_v, n: int, live_out=None, acc=None):
    """Output patterns and known values of ``jaxpr``; with ``acc`` (a list), also append the
    Hessian pairs of the output elements marked in ``live_out``."""
    out_p, out_v, steps = _forward(jaxpr, consts, in_p, in_v, n)
    if acc is not None:
        _hessian(steps, _liveness(jaxpr, steps, live_out), n, acc)
    return out_p, out_v


def _forward(jaxpr, consts, in_p, in_v, n):
    pats, vals = {}, dict(zip(jaxpr.constvars, consts))
    pats.update(zip(jaxpr.invars, in_p))
    vals.update(zip(jaxpr.invars, in_v))

    def rp(a):
        return None if type(a) is Literal else pats.get(a)

    def rv(a):
        return a.val if type(a) is Literal else vals.get(a)

    steps = []
    for eqn in jaxpr.eqns:
        ins_p, ins_v = [rp(a) for a in eqn.inputs], [rv(a) for a in eqn.inputs]
        call = call_rules.get(eqn.prim)
        if call is not None:
            routes = None
            out_p, out_v = call(eqn, ins_p, ins_v, n, None, None)
        else:
            routes, out_p = _routed(eqn, ins_p, ins_v)
            out_v = _fold(eqn, ins_v)
        if routes is not None or call is not None:
            steps.append(_Step(eqn, routes, ins_p, ins_v))
        for v, p, x in zip(eqn.outputs, out_p, out_v):
            pats[v] = p if v.aval.dtype.kind in "fc" else None
            vals[v] = x
    return [rp(a) for a in jaxpr.outvars], [rv(a) for a in jaxpr.outvars], steps


def _routed(eqn, ins_p, ins_v):
    """The routes of ``eqn`` (None when no operand depends on the inputs) and its patterns."""
    n_out = len(eqn.outputs)
    if all(p is None for p in ins_p):
        return None, [None] * n_out
    rule = sparsity_rules.get(eqn.prim, _dense)
    if rule in _CONSTANTS_ONLY:  # may read the values of constant operands only (see _mul)
        ins_v = [v if p is None else None for v, p in zip(ins_v, ins_p)]
    routes = rule([get_aval(a.val) if type(a) is Literal else a.aval for a in eqn.inputs],
                  [v.aval for v in eqn.outputs], ins_v, **eqn.params)
    if not (eqn.prim.multiple_results and routes and isinstance(routes[0], list)):
        routes = [routes] * n_out  # one list of routes: the same for every output
    out_p = [functools.reduce(_union, [r.forward(p, v.aval.size) for r, p in zip(rs, ins_p)
                                       if r is not None and p is not None], None)
             for rs, v in zip(routes, eqn.outputs)]
    return routes, out_p


_CONSTANTS_ONLY = {_mul, _matmul, _einsum}
# Where a product is zero because a *variable* factor is zero at this point, the first
# derivative through the other factor vanishes but the mixed second derivative does not:
# so only constants may mask a product's routes (the Hessian pairs come from the routes).


def _fold(eqn, ins_v):
    """The outputs' values, where every operand's value is known (constant folding)."""
    if eqn.prim.impl is None or any(v is None for v in ins_v):
        return [None] * len(eqn.outputs)
    out = eqn.prim.impl(*ins_v, **eqn.params)
    return list(out) if eqn.prim.multiple_results else [out]


def _liveness(jaxpr, steps, live_out):
    """For each variable, the elements the outputs' derivatives depend on (a boolean mask)."""
    live: dict = {}

    def mark(v, m):
        if type(v) is not Literal and m is not None:
            live[v] = m if v not in live else (live[v] | m)

    for v, m in zip(jaxpr.outvars, live_out):
        mark(v, np.asarray(m, bool))
    for step in reversed(steps):
        outs = [live.get(v) for v in step.eqn.outputs]
        if not any(m is not None and m.any() for m in outs):
            continue
        for k, (a, p) in enumerate(zip(step.eqn.inputs, step.in_p)):
            if p is None:
                continue
            if step.routes is None:  # a nested program: all of an operand, conservatively
                mark(a, np.ones(a.aval.size, bool))
                continue
            for rs, m in zip(step.routes, outs):
                if rs[k] is not None and m is not None:
                    mark(a, rs[k].backward(m, a.aval.size))
    return live


def _hessian(steps, live, n, acc):
    for step in steps:
        eqn = step.eqn
        outs = [live.get(v) for v in eqn.outputs]
        if not any(m is not None and m.any() for m in outs):
            continue
        if step.routes is None:
            call_rules[eqn.prim](eqn, step.in_p, step.in_v, n, outs, acc)
            continue
        kind = hessian_kinds.get(eqn.prim, _nonlinear)
        if kind is _linear:
            continue
        for rs, m, v in zip(step.routes, outs, eqn.outputs):
            if m is None or not m.any():
                continue
            rows = None if m.all() else np.flatnonzero(m)
            R = [None if r is None or p is None else r.forward(p, v.aval.size)
                 for r, p in zip(rs, step.in_p)]
            R = [r if r is None or rows is None else _take(r, rows) for r in R]
            acc.extend(a.T @ b for a, b in kind(R, **eqn.params))


# --------------------------------------------------------------------------------------
# Programs inside programs. ``rule(eqn, in_p, in_v, n, live_out, acc) -> (out_p, out_v)``;
# with ``acc``, the nested program's Hessian pairs are appended to it too.

call_rules: dict[Primitive, Callable] = {}


def _all_live(avals):
    return [np.ones(a.size, bool) for a in avals]


def _closed(j):
    return (j.jaxpr, j.consts) if isinstance(j, ClosedJaxpr) else (j, [])


def _inline(param):
    def rule(eqn, in_p, in_v, n, live_out, acc):
        jaxpr, consts = _closed(eqn.params[param])
        return _analyze(jaxpr, consts, in_p, in_v, n, live_out, acc)

    return rule


def _custom_jvp(eqn, in_p, in_v, n, live_out, acc):
    """The wrapped function's patterns, united with those of its JVP rule's tangent outputs
    (the rule may differ from the function, e.g. a straight-through estimator); for Hessians,
    every pair within an output element's dependencies too (the rule's own second
    derivatives are not looked into)."""
    out_p, out_v = _inline("call_jaxpr")(eqn, in_p, in_v, n, live_out, acc)
    if all(p is None for p in in_p):  # (also ends the recursion of a rule calling the function)
        return out_p, out_v
    k, avals = len(eqn.inputs), [a.aval for a in eqn.inputs]
    rule = eqn.params["jvp"]
    jaxpr, consts = trace_to_jaxpr(lambda *xs: list(rule(list(xs[:k]), list(xs[k:]))[1]), avals + avals)
    t_p, _ = _analyze(jaxpr, consts, [None] * k + list(in_p), list(in_v) + [None] * k, n)
    out_p = [_union(a, b) for a, b in zip(out_p, t_p)]
    if acc is not None:
        for p, m in zip(out_p, live_out):
            if p is not None and m is not None and m.any():
                r = p if m.all() else _take(p, np.flatnonzero(m))
                acc.append(r.T @ r)
    return out_p, out_v


def _cond(eqn, in_p, in_v, n, live_out, acc):
    branches = eqn.params["branches"]
    index = in_v[0]
    taken = range(len(branches)) if index is None else [int(np.clip(index, 0, len(branches) - 1))]
    results = [_analyze(*_closed(branches[i]), in_p[1:], in_v[1:], n, live_out, acc) for i in taken]
    out_p = [functools.reduce(_union, ps, None) for ps in zip(*[r[0] for r in results])]
    return out_p, results[0][1] if len(results) == 1 else [None] * len(out_p)


def _while(eqn, in_p, in_v, n, live_out, acc):
    prm = eqn.params
    nc, nb = prm["cond_nconsts"], prm["body_nconsts"]
    cond, body = _closed(prm["cond_jaxpr"]), _closed(prm["body_jaxpr"])
    cc_v, b_p, b_v = in_v[:nc], in_p[nc:nc + nb], in_v[nc:nc + nb]
    carry_p, carry_v = in_p[nc + nb:], in_v[nc + nb:]
    live = _all_live(body[0].out_avals)
    while True:  # the trips whose predicate is known: exactly
        pred = _analyze(*cond, [None] * (nc + len(carry_v)), cc_v + carry_v, n)[1][0]
        if pred is None:
            break
        if not pred:
            return carry_p, carry_v
        carry_p, carry_v = _analyze(*body, b_p + carry_p, b_v + carry_v, n, live, acc)
    while True:  # then any number of trips: a fixed point
        new_p, _ = _analyze(*body, b_p + carry_p, b_v + [None] * len(carry_p), n, live, acc)
        new_p = [_union(a, b) for a, b in zip(carry_p, new_p)]
        if all(_same(a, b) for a, b in zip(carry_p, new_p)):
            return carry_p, [None] * len(carry_p)
        carry_p = new_p


def _scan(eqn, in_p, in_v, n, live_out, acc):
    prm = eqn.params
    nc, nk, length = prm["num_consts"], prm["num_carry"], prm["length"]
    body = _closed(prm["jaxpr"])
    c_p, c_v = in_p[:nc], in_v[:nc]
    carry_p, carry_v = in_p[nc:nc + nk], in_v[nc:nc + nk]
    xs_p, xs_v, xs_avals = in_p[nc + nk:], in_v[nc + nk:], [a.aval for a in eqn.inputs[nc + nk:]]
    y_avals = [v.aval for v in eqn.outputs[nk:]]
    live = _all_live(body[0].out_avals)
    if length > _SCAN_STEPS:
        return _scan_fixed_point(body, c_p, c_v, carry_p, xs_p, xs_avals, y_avals, length, n, live, acc)
    ys_p, ys_v = [[None] * length for _ in y_avals], [[None] * length for _ in y_avals]
    for i in (range(length - 1, -1, -1) if prm["reverse"] else range(length)):
        x_p = [None if p is None else p[i * (a.size // length):(i + 1) * (a.size // length)]
               for p, a in zip(xs_p, xs_avals)]
        x_v = [None if v is None else v[i] for v in xs_v]
        outs_p, outs_v = _analyze(*body, c_p + carry_p + x_p, c_v + carry_v + x_v, n, live, acc)
        carry_p, carry_v = outs_p[:nk], outs_v[:nk]
        for k in range(len(y_avals)):
            ys_p[k][i], ys_v[k][i] = outs_p[nk + k], outs_v[nk + k]
    out_p = [None if all(p is None for p in ps) else
             sp.vstack([_empty(a.size // length, n) if p is None else p for p in ps], format="csr")
             for ps, a in zip(ys_p, y_avals)]
    out_v = [None if any(v is None for v in vs) else np.stack(vs) for vs in ys_v]
    return carry_p + out_p, carry_v + out_v


_SCAN_STEPS = 256  # a longer scan: a fixed point over its steps, not each step


def _scan_fixed_point(body, c_p, c_v, carry_p, xs_p, xs_avals, y_avals, length, n, live, acc):
    """Any step of a long scan: its slices of ``xs`` united, the carry to a fixed point, and
    every step's ``ys`` given the union of all."""
    def fold(p, size):  # row r of the slice <- rows r, r + size, r + 2 size... of p
        ids = np.arange(size * length)
        return None if p is None else Matrix(ids % size, ids, size, size * length).forward(p, size)

    x_p = [fold(p, a.size // length) for p, a in zip(xs_p, xs_avals)]
    nk = len(carry_p)
    while True:
        outs_p, _ = _analyze(*body, c_p + carry_p + x_p, c_v + [None] * (nk + len(x_p)), n, live, acc)
        new = [_union(a, b) for a, b in zip(carry_p, outs_p[:nk])]
        if all(_same(a, b) for a, b in zip(carry_p, new)):
            break
        carry_p = new
    ys_p = [None if p is None else _take(p, np.tile(np.arange(a.size // length), length))
            for p, a in zip(outs_p[nk:], y_avals)]
    return carry_p + ys_p, [None] * (nk + len(ys_p))


def _install_calls():
    from . import custom_derivatives as cd
    from .jaxpr import jit_p
    from .lax import control

    call_rules.update({
        jit_p: _inline("jaxpr"), cd.custom_jvp_call_p: _custom_jvp,
        cd.custom_vjp_call_p: _inline("call_jaxpr"), cd.remat_p: _inline("jaxpr"),
        control.cond_p: _cond, control.while_p: _while, control.scan_p: _scan,
    })


_install()
_install_calls()


# --------------------------------------------------------------------------------------
# Public API


def _check_mode(mode, name):
    if mode not in ("global", "local"):
        raise ArgumentError(f"{name}: mode must be 'global' (valid at every input) or 'local' "
                            f"(valid at the given input), got {mode!r}.")


def _trace(fun, argnums, args, kwargs, name):
    """The jaxpr of ``fun`` over all of its arguments' leaves, which of them are differentiated,
    and the leaves. Non-differentiated integer and boolean leaves (index arrays, masks) count
    as known values; float ones as unknown (the pattern holds for any data)."""
    from .tree_util import tree_flatten, tree_unflatten

    nums = api._normalize_argnums(argnums, len(args), name)
    leaves, in_tree = tree_flatten(tuple(args))
    leaves = [np.asarray(x) if not hasattr(x, "shape") else x for x in leaves]
    diff = []  # per leaf: None, or its place among the differentiated leaves (argnums' order)
    for i, a in enumerate(args):
        n_leaves = len(tree_flatten(a)[0])
        diff += [(nums.index(i), j) if i in nums else None for j in range(n_leaves)]
    paths = api._leaf_paths(tuple(args[i] for i in nums), [f"argument {i}" for i in nums])
    order = sorted((d, k) for k, d in enumerate(diff) if d is not None)
    api._require_float([leaves[k] for _, k in order], paths, name)
    store = {}

    def flat(*ls):
        outs, store["out_tree"] = tree_flatten(fun(*tree_unflatten(in_tree, ls), **kwargs))
        return outs

    jaxpr, consts = trace_to_jaxpr(flat, [get_aval(x) for x in leaves])
    return jaxpr, consts, leaves, diff


def _inputs(leaves, diff, mode):
    """Each leaf's starting pattern (the identity on its columns, for differentiated ones)."""
    sizes = [get_aval(x).size for x in leaves]
    n = sum(size for size, d in zip(sizes, diff) if d is not None)
    start, offset = 0, {}
    for _, k in sorted((d, k) for k, d in enumerate(diff) if d is not None):
        offset[k], start = start, start + sizes[k]
    in_p, in_v = [], []
    for k, (x, d) in enumerate(zip(leaves, diff)):
        if d is not None:
            idx = np.arange(offset[k], offset[k] + sizes[k], dtype=_IDX)
            in_p.append(_csr(np.arange(sizes[k] + 1, dtype=np.int64), idx, sizes[k], n))
        else:
            in_p.append(None)
        known = mode == "local" or (d is None and get_aval(x).dtype.kind in "biu")
        in_v.append(np.asarray(x) if known else None)
    return in_p, in_v, n


def jacobian_sparsity(fun: Callable, argnums: int | Sequence[int] = 0, *, mode: str = "global"):
    """The sparsity pattern of the Jacobian of ``fun``, as a boolean ``scipy.sparse`` CSR matrix.

    Rows are the elements of the outputs (all leaves, flattened in order), columns those of
    the arguments in ``argnums``. ``mode="global"`` (default) gives a pattern valid at every
    input; ``mode="local"`` one valid at the given input only (e.g. only the branch of a
    ``where`` taken there), never smaller than the true one. No derivative is evaluated.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.jacobian_sparsity(lambda x: x[1:] * x[:-1])(fnp.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    _check_mode(mode, "jacobian_sparsity")

    @functools.wraps(fun)
    def sparsity_f(*args, **kwargs):
        jaxpr, consts, leaves, diff = _trace(fun, argnums, args, kwargs, "jacobian_sparsity")
        in_p, in_v, n = _inputs(leaves, diff, mode)
        out_p, _ = _analyze(jaxpr, consts, in_p, in_v, n)
        blocks = [_empty(v.aval.size if type(v) is not Literal else 1, n) if p is None else p
                  for p, v in zip(out_p, jaxpr.outvars)]
        return sp.vstack(blocks, format="csr") if len(blocks) != 1 else blocks[0].tocsr()

    return sparsity_f


def _hessian_pattern(jaxpr, consts, in_p, in_v, n):
    acc: list = []
    _analyze(jaxpr, consts, in_p, in_v, n, _all_live([v.aval for v in jaxpr.outvars]), acc)
    if not acc:
        return _empty(n, n)
    H = functools.reduce(lambda a, b: a + b, acc)
    return (H + H.T).tocsr().astype(bool)


def hessian_sparsity(fun: Callable, argnums: int | Sequence[int] = 0, *, mode: str = "global"):
    """The sparsity pattern of the Hessian of scalar ``fun``, a symmetric boolean CSR matrix.

    Found from first-order dependencies and the pairs of them that meet in a nonlinear
    operation (a product, a ``sin``), counted only where the output depends on that
    operation's result. For a non-scalar ``fun``: the union over its output elements.
    ``mode`` as in :func:`jacobian_sparsity`.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> f = lambda x: fnp.sum((x[1:] - x[:-1] ** 2) ** 2)
    >>> fa.hessian_sparsity(f)(fnp.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    _check_mode(mode, "hessian_sparsity")

    @functools.wraps(fun)
    def sparsity_f(*args, **kwargs):
        jaxpr, consts, leaves, diff = _trace(fun, argnums, args, kwargs, "hessian_sparsity")
        in_p, in_v, n = _inputs(leaves, diff, mode)
        return _hessian_pattern(jaxpr, consts, in_p, in_v, n)

    return sparsity_f
