"""Control flow: ``cond``/``switch``, ``while_loop``/``fori_loop``, ``scan``/``map``.

Three primitives hold closed jaxprs of the user's branches or loop body: ``cond``
(``switch`` is a cond with an index), ``while`` and ``scan`` (``fori_loop`` with a static
trip count is a scan; ``map`` is a scan without carry). The functions are traced once to
jaxprs, so the primitives never unroll: eagerly the impl runs the chosen branch or the loop
with :func:`eval_jaxpr`, and under jit the backend lowers them to native branches and loops.

Closed-over values (constants, and tracers of enclosing transformations) are lifted to
explicit operands ("closure conversion"), so each transformation sees every input.

Reverse mode (see docs/architecture.md, "Control flow"): the JVP rule binds the same
primitive on a JVP'd jaxpr; under linearize its operands mix known primals and unknown
tangents, and the primitive's *partial evaluation rule* splits the inner jaxpr into a known
part, run at once, and an unknown (linear) part, staged; the transpose rule transposes the
inner linear jaxpr. A while_loop has no static length, so its partial evaluation counts the
iterations of the known loop and continues as a scan of that length (JAX refuses this).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import ad, core
from .. import partial_eval as pe
from ..ad import Zero, is_undefined
from ..core import Primitive, ShapedArray, Tracer, bind, get_aval
from ..errors import BranchTypeError, CarryTypeError, NotCallableError
from ..jaxpr import (
    ClosedJaxpr,
    Jaxpr,
    Literal,
    Var,
    partial_eval_rules,
    trace_to_jaxpr,
)
from ..partial_eval import as_leaf as _leaf
from ..partial_eval import eval_closed as _eval
from ..partial_eval import plain_aval as _aval
from ..partial_eval import trace_closed as _trace
from ..tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]

# --------------------------------------------------------------------------------------
# Jaxpr helpers: trace and rearrange closed jaxprs (their JVP, partial evaluation,
# transposition and batching are funcad/partial_eval.py's).


def _trace_user(fun: Callable, args_tree, in_avals, what: str, values=None):
    """Trace a user function of pytrees; lift everything it closes over to operands.

    Returns ``(closed_jaxpr, consts, out_tree)``: the jaxpr takes ``consts + flat args``.
    ``values``: the arguments' concrete values, if the jaxpr is for them only (see
    jaxpr.ConcreteStagingTrace).
    """
    store = {}

    def flat(*leaves):
        out = fun(*tree_unflatten(args_tree, leaves))
        out_leaves, store["tree"] = tree_flatten(out)
        return [_leaf(o) for o in out_leaves]

    jaxpr, consts = trace_to_jaxpr(flat, list(in_avals), context=what, values=values)
    converted = Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.eqns, jaxpr.outvars)
    return ClosedJaxpr(converted, []), consts, store["tree"]


def _check_callable(f, name: str, what: str):
    if not callable(f):
        raise NotCallableError(f"{name}: {what} must be callable, but got {type(f).__name__} "
                               f"({core._short_repr(f)}).")


def _permute(cj: ClosedJaxpr, in_perm=None, out_perm=None) -> ClosedJaxpr:
    j = cj.jaxpr
    invars = j.invars if in_perm is None else [j.invars[i] for i in in_perm]
    outvars = j.outvars if out_perm is None else [j.outvars[i] for i in out_perm]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.eqns, outvars), cj.consts)


def _interleave(*groups):
    """Index permutation that orders the concatenation of ``groups`` (each a list of sizes
    per section) section by section: ``[(a1, a2), (b1, b2)] -> a1 b1 a2 b2``."""
    offsets, perm = [], []
    start = 0
    for g in groups:
        offs, s = [], start
        for n in g:
            offs.append(s)
            s += n
        offsets.append(offs)
        start = s
    for k in range(len(groups[0])):
        for g, offs in zip(groups, offsets):
            perm.extend(range(offs[k], offs[k] + g[k]))
    return perm


def _zeros(aval: ShapedArray):
    return ad.zeros_like_aval(aval)


def _ct_or_zeros(ct, aval: ShapedArray):
    return _zeros(aval) if ct is None or type(ct) is Zero else ct


def _aval_of_atom(a) -> ShapedArray:
    return ShapedArray(a.aval.shape, a.aval.dtype)


def _mask(xs, mask, keep=True):
    return [x for x, m in zip(xs, mask) if bool(m) == keep]


def _merge(mask, if_true, if_false):
    t, f = iter(if_true), iter(if_false)
    return [next(t) if m else next(f) for m in mask]


def _split(xs, *sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


# --------------------------------------------------------------------------------------
# cond and switch

cond_p = Primitive("cond", multiple_results=True)


def _cond_impl(index, *ops, branches):
    i = int(np.clip(index, 0, len(branches) - 1))
    return [np.asarray(o, a.dtype) for o, a in zip(_eval(branches[i], *ops), branches[i].out_avals)]


def _cond_abstract_eval(index, *ops, branches):
    if index.shape != () or index.dtype.kind not in "iub":
        raise TypeError(f"cond: the index must be an integer scalar, got {index.str_short()}")
    return [_aval_of_atom(v) for v in branches[0].jaxpr.outvars]


cond_p.def_impl(_cond_impl)
cond_p.def_abstract_eval(_cond_abstract_eval)


def _cond_jvp(primals, tangents, *, branches):
    index, *ops = primals
    nz = [type(t) is not Zero for t in tangents[1:]]
    out_nz = [False] * len(branches[0].out_avals)
    for b in branches:
        out_nz = [a or b for a, b in zip(out_nz, pe.jvp_jaxpr(b, nz, False)[1])]
    jvp_branches = tuple(pe.jvp_jaxpr(b, nz, out_nz)[0] for b in branches)
    outs = bind(cond_p, index, *ops, *_mask(tangents[1:], nz), branches=jvp_branches)
    n = len(out_nz)
    return outs[:n], _merge(out_nz, outs[n:], [Zero(_aval_of_atom(v)) for v in branches[0].jaxpr.outvars])


def _cond_partial_eval(trace, args, *, branches):
    index, *ops = args
    if trace.is_staged(index):
        return trace.stage(cond_p, args, dict(branches=branches))
    uk = [trace.is_staged(x) for x in ops]
    out_uk = [False] * len(branches[0].out_avals)
    for b in branches:
        out_uk = [a or b for a, b in zip(out_uk, pe.partial_eval_jaxpr(b, uk, False)[2])]
    splits = [pe.partial_eval_jaxpr(b, uk, out_uk) for b in branches]
    # Every known branch returns every branch's residuals (zeros for the others').
    nk = out_uk.count(False)
    res_avals = [k.out_avals[nk:] for k, _, _, _ in splits]
    all_res = [ShapedArray(a.shape, a.dtype) for r in res_avals for a in r]
    known_bs, unknown_bs, off = [], [], 0
    for k, u, _, n_res in splits:
        known_bs.append(_pad_known_branch(k, nk, all_res, off, n_res))
        unknown_bs.append(_pad_unknown_branch(u, all_res, off, n_res, _mask(ops, uk)))
        off += n_res
    with core.set_current_trace(trace.parent):
        outs = bind(cond_p, index, *_mask(ops, uk, False), branches=tuple(known_bs))
    known_outs, res = outs[:nk], outs[nk:]
    uk_outs = trace.stage(cond_p, [index, *res, *_mask(ops, uk)], dict(branches=tuple(unknown_bs)))
    return _merge(out_uk, uk_outs, known_outs)


def _pad_known_branch(k, nk, all_res, off, n_res):
    def f(*ins):
        outs = _eval(k, *ins)
        return (outs[:nk] + [_zeros(a) for a in all_res[:off]] + outs[nk:]
                + [_zeros(a) for a in all_res[off + n_res:]])

    return _trace(f, k.in_avals)


def _pad_unknown_branch(u, all_res, off, n_res, uk_ops):
    nr = len(all_res)

    def f(*ins):
        return _eval(u, *ins[off:off + n_res], *ins[nr:])

    return _trace(f, all_res + [_aval(x) for x in uk_ops])


def _cond_transpose(cts, index, *ops, branches):
    lin = [is_undefined(x) for x in ops]
    cts = [_ct_or_zeros(ct, _aval_of_atom(v)) for ct, v in zip(cts, branches[0].jaxpr.outvars)]
    t_branches = tuple(pe.transpose_jaxpr(b, lin) for b in branches)
    cts_lin = bind(cond_p, index, *_mask(ops, lin, False), *cts, branches=t_branches)
    return [None] + _merge(lin, cts_lin, [None] * len(ops))


ad.jvp_rules[cond_p] = _cond_jvp
ad.transpose_rules[cond_p] = _cond_transpose
partial_eval_rules[cond_p] = _cond_partial_eval


def _trace_branches(name: str, branches, operands, labels):
    """Trace each branch on the operands; check they agree; join their constants."""
    ops_leaves, ops_tree = tree_flatten(tuple(operands))
    ops_leaves = [_leaf(x) for x in ops_leaves]
    in_avals = [_aval(x) for x in ops_leaves]
    traced = [_trace_user(b, ops_tree, in_avals, name) for b in branches]
    order = range(len(branches)) if name == "switch" else range(len(branches) - 1, -1, -1)
    _check_branch_types(name, [branches[i] for i in order], [traced[i] for i in order],
                        [labels[i] for i in order])
    all_consts = [c for _, consts, _ in traced for c in consts]
    const_avals = [_aval(c) for c in all_consts]
    joined, off = [], 0
    for cj, consts, _ in traced:
        n = len(consts)
        j = cj.jaxpr
        pad = [Var(a) for a in const_avals]
        invars = pad[:off] + j.invars[:n] + pad[off + n:] + j.invars[n:]
        joined.append(ClosedJaxpr(Jaxpr([], invars, j.eqns, j.outvars), []))
        off += n
    return tuple(joined), all_consts + ops_leaves, traced[0][2]


def _check_branch_types(name, branches, traced, labels):
    first_tree = traced[0][2]
    first_avals = [_aval_of_atom(v) for v in traced[0][0].jaxpr.outvars]
    for i, (cj, _, tree) in enumerate(traced[1:], 1):
        avals = [_aval_of_atom(v) for v in cj.jaxpr.outvars]
        b0, bi = _branch_name(branches[0], labels[0]), _branch_name(branches[i], labels[i])
        if tree != first_tree:
            raise BranchTypeError(
                f"{name}: the branches must return the same structure, but {b0} returns "
                f"{first_tree} and {bi} returns {tree}.")
        for k, (a, b) in enumerate(zip(first_avals, avals)):
            if a != b:
                raise BranchTypeError(
                    f"{name}: the branches must return values of the same shape and dtype, but "
                    f"output {k} is {a.str_short()} in {b0} and {b.str_short()} in {bi}. Cast or "
                    "broadcast one of them (e.g. fnp.asarray(x, dtype) or fnp.broadcast_to).")


def _branch_name(f, label):
    return f"{label} ({getattr(f, '__name__', type(f).__name__)})"


def switch(index, branches: Sequence[Callable], *operands):
    """Apply ``branches[index](*operands)``; the index is clamped to the valid range.

    All branches must return the same structure of shapes and dtypes. Under vmap with a
    batched index, every branch runs and each element picks its own result.

    >>> import funcad as fa
    >>> float(fa.lax.switch(1, [lambda x: x + 1.0, lambda x: x * 10.0], 2.0))
    20.0
    """
    if not isinstance(branches, (list, tuple)) or not branches:
        raise NotCallableError("switch: branches must be a non-empty sequence of callables.")
    for i, b in enumerate(branches):
        _check_callable(b, "switch", f"branches[{i}]")
    from .elementwise import convert_element_type
    from .elementwise import max as _max
    from .elementwise import min as _min

    index = convert_element_type(_leaf(index), np.int64)
    if isinstance(index, np.ndarray):
        index = np.clip(index, 0, len(branches) - 1)
    else:
        index = _min(_max(index, np.int64(0)), np.int64(len(branches) - 1))
    joined, args, out_tree = _trace_branches("switch", branches, operands,
                                             [f"branches[{i}]" for i in range(len(branches))])
    outs = bind(cond_p, index, *args, branches=joined)
    return tree_unflatten(out_tree, list(outs))


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one primitive.

    Both functions are traced, so ``pred`` may be a traced value (under jit, or batched
    under vmap, where each element selects its own branch). Both must return the same
    structure of shapes and dtypes.

    >>> import funcad as fa
    >>> f = lambda x: fa.lax.cond(x > 0, lambda x: x ** 2, lambda x: -x, x)
    >>> float(f(3.0)), float(f(-2.0)), float(fa.grad(f)(3.0))
    (9.0, 2.0, 6.0)
    """
    _check_callable(true_fun, "cond", "true_fun")
    _check_callable(false_fun, "cond", "false_fun")
    a = get_aval(pred)
    if a.shape != ():
        raise TypeError(f"cond: the predicate must be a scalar, got shape {a.shape}. Use "
                        "funcad.numpy.where for an elementwise choice.")
    from .elementwise import convert_element_type, ne

    if a.dtype != np.bool_:
        pred = ne(pred, np.zeros((), a.dtype))
    index = convert_element_type(_leaf(pred), np.int64)
    joined, args, out_tree = _trace_branches("cond", [false_fun, true_fun], operands,
                                             ["false_fun", "true_fun"])
    outs = bind(cond_p, index, *args, branches=joined)
    return tree_unflatten(out_tree, list(outs))


# --------------------------------------------------------------------------------------
# scan and map

scan_p = Primitive("scan", multiple_results=True)


def _scan_impl(*args, jaxpr, num_consts, num_carry, length, reverse):
    consts, carry, xs = _split(args, num_consts, num_carry)
    carry_avals = jaxpr.in_avals[num_consts:num_consts + num_carry]
    y_avals = [_aval_of_atom(v) for v in jaxpr.jaxpr.outvars[num_carry:]]
    ys = [np.empty((length,) + a.shape, a.dtype) for a in y_avals]
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        outs = _eval(jaxpr, *consts, *carry, *[x[i] for x in xs])
        carry = [np.asarray(c, a.dtype) for c, a in zip(outs[:num_carry], carry_avals)]
        for y, o in zip(ys, outs[num_carry:]):
            y[i] = o
    return list(carry) + ys


def _scan_abstract_eval(*avals, jaxpr, num_consts, num_carry, length, reverse):
    y_avals = [_aval_of_atom(v) for v in jaxpr.jaxpr.outvars[num_carry:]]
    return (list(avals[num_consts:num_consts + num_carry])
            + [ShapedArray((length,) + a.shape, a.dtype) for a in y_avals])


scan_p.def_impl(_scan_impl)
scan_p.def_abstract_eval(_scan_abstract_eval)


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse):
    nz = [type(t) is not Zero for t in tangents]
    c_nz, carry_nz, x_nz = _split(nz, num_consts, num_carry)
    ny = len(jaxpr.jaxpr.outvars) - num_carry
    while True:  # a carry's tangent is nonzero if it is at the input or becomes so
        _, out_nz = pe.jvp_jaxpr(jaxpr, c_nz + carry_nz + x_nz, carry_nz + [False] * ny)
        new = [a or b for a, b in zip(carry_nz, out_nz[:num_carry])]
        if new == carry_nz:
            break
        carry_nz = new
    jvp_j, out_nz = pe.jvp_jaxpr(jaxpr, c_nz + carry_nz + x_nz, carry_nz + [False] * ny)
    n_in = [num_consts, num_carry, len(x_nz)]
    n_dot = [sum(c_nz), sum(carry_nz), sum(x_nz)]
    y_nz = out_nz[num_carry:]
    jvp_j = _permute(jvp_j, _interleave(n_in, n_dot),
                     _interleave([num_carry, ny], [sum(carry_nz), sum(y_nz)]))
    consts, carry, xs = _split(primals, num_consts, num_carry)
    t_c, t_carry, t_x = _split(tangents, num_consts, num_carry)
    t_carry = [ad.instantiate(t, _aval(p)) for t, p in zip(t_carry, carry)]
    outs = bind(scan_p, *consts, *_mask(t_c, c_nz), *carry, *_mask(t_carry, carry_nz),
                *xs, *_mask(t_x, x_nz), jaxpr=jvp_j, num_consts=num_consts + n_dot[0],
                num_carry=num_carry + n_dot[1], length=length, reverse=reverse)
    carry_out, carry_dot, ys, ys_dot = _split(outs, num_carry, n_dot[1], ny)
    avals = _scan_abstract_eval(*[_aval(p) for p in primals], jaxpr=jaxpr, num_consts=num_consts,
                                num_carry=num_carry, length=length, reverse=reverse)
    zeros = [Zero(a) for a in avals]
    return carry_out + ys, _merge(carry_nz + y_nz, carry_dot + ys_dot, zeros)


def _scan_partial_eval(trace, args, *, jaxpr, num_consts, num_carry, length, reverse):
    uk = [trace.is_staged(x) for x in args]
    c_uk, carry_uk, x_uk = _split(uk, num_consts, num_carry)
    ny = len(jaxpr.jaxpr.outvars) - num_carry
    while True:
        out_uk = pe.partial_eval_jaxpr(jaxpr, c_uk + carry_uk + x_uk, carry_uk + [False] * ny)[2]
        new = [a or b for a, b in zip(carry_uk, out_uk[:num_carry])]
        if new == carry_uk:
            break
        carry_uk = new
    uk = c_uk + carry_uk + x_uk
    known, unknown, out_uk, n_res = pe.partial_eval_jaxpr(jaxpr, uk, carry_uk + [False] * ny)
    consts, carry, xs = _split(args, num_consts, num_carry)
    k_consts = _mask(consts, c_uk, False)
    # Residuals that are loop-invariant (known constants) are passed once, not stacked.
    kj = known.jaxpr
    n_kout = len(kj.outvars) - n_res
    inv_vals, stacked_idx = [], []
    for r, atom in enumerate(kj.outvars[n_kout:]):
        if type(atom) is Literal:
            inv_vals.append((r, atom.val))
        elif atom in kj.invars[:len(k_consts)]:
            inv_vals.append((r, k_consts[kj.invars.index(atom)]))
        elif atom in kj.constvars:
            inv_vals.append((r, known.consts[kj.constvars.index(atom)]))
        else:
            stacked_idx.append(r)
    known_body = ClosedJaxpr(Jaxpr(kj.constvars, kj.invars, kj.eqns,
                                   kj.outvars[:n_kout] + [kj.outvars[n_kout + r] for r in stacked_idx]),
                             known.consts)
    n_kcarry = carry_uk.count(False)
    with core.set_current_trace(trace.parent):
        outs = bind(scan_p, *k_consts, *_mask(carry, carry_uk, False), *_mask(xs, x_uk, False),
                    jaxpr=known_body, num_consts=len(k_consts), num_carry=n_kcarry,
                    length=length, reverse=reverse)
    k_carry_out, k_ys, stacked = _split(outs, n_kcarry, n_kout - n_kcarry)
    # The unknown body takes (residuals, unknown consts, carry, xs): reorder the residuals.
    n_inv, n_uc, n_ucarry = len(inv_vals), c_uk.count(True), carry_uk.count(True)
    res_order = [r for r, _ in inv_vals] + stacked_idx
    n_lin = n_res + n_uc + n_ucarry
    in_perm = (res_order[:n_inv] + list(range(n_res, n_lin)) + res_order[n_inv:]
               + list(range(n_lin, len(unknown.in_avals))))
    unknown_body = _permute(unknown, in_perm)
    uk_outs = trace.stage(scan_p, [*[v for _, v in inv_vals], *_mask(consts, c_uk), *_mask(carry, carry_uk),
                                   *stacked, *_mask(xs, x_uk)],
                          dict(jaxpr=unknown_body, num_consts=n_inv + n_uc, num_carry=n_ucarry,
                               length=length, reverse=reverse))
    return _merge(out_uk, uk_outs, k_carry_out + k_ys)


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse):
    consts, carry, xs = _split(args, num_consts, num_carry)
    c_lin, x_lin = [is_undefined(c) for c in consts], [is_undefined(x) for x in xs]
    # Every carry of a linear scan is linear; a known one is a zero tangent that was folded.
    out_avals = [_aval_of_atom(v) for v in jaxpr.jaxpr.outvars]
    carry_avals = out_avals[:num_carry]
    ct_carry = [_ct_or_zeros(c, a) for c, a in zip(cts[:num_carry], carry_avals)]
    ct_ys = [_ct_or_zeros(c, ShapedArray((length,) + a.shape, a.dtype))
             for c, a in zip(cts[num_carry:], out_avals[num_carry:])]
    t_j = pe.transpose_jaxpr(jaxpr, c_lin + [True] * num_carry + x_lin)
    k_consts, k_xs = _mask(consts, c_lin, False), _mask(xs, x_lin, False)
    lin_c_avals = [c.aval for c in _mask(consts, c_lin)]
    nkc, nlc, nkx = len(k_consts), len(lin_c_avals), len(k_xs)

    def body(*a):
        kc, acc, ctc, kx, cty = _split(a, nkc, nlc, num_carry, nkx)
        d_c, d_carry, d_x = _split(_eval(t_j, *kc, *kx, *ctc, *cty), nlc, num_carry)
        from .elementwise import add
        return [add(s, d) for s, d in zip(acc, d_c)] + d_carry + d_x

    body_avals = ([_aval(c) for c in k_consts] + lin_c_avals + carry_avals
                  + [ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype) for x in k_xs]
                  + out_avals[num_carry:])
    outs = bind(scan_p, *k_consts, *[_zeros(a) for a in lin_c_avals], *ct_carry, *k_xs, *ct_ys,
                jaxpr=_trace(body, body_avals), num_consts=nkc, num_carry=nlc + num_carry,
                length=length, reverse=not reverse)
    ct_consts, ct_init, ct_xs = _split(outs, nlc, num_carry)
    ct_init = [ct if is_undefined(c) else None for ct, c in zip(ct_init, carry)]
    return (_merge(c_lin, ct_consts, [None] * num_consts) + ct_init
            + _merge(x_lin, ct_xs, [None] * len(xs)))


ad.jvp_rules[scan_p] = _scan_jvp
ad.transpose_rules[scan_p] = _scan_transpose
partial_eval_rules[scan_p] = _scan_partial_eval


def _check_carry(name: str, in_tree, in_avals, out_tree, out_avals, what="carry"):
    if in_tree != out_tree:
        raise CarryTypeError(
            f"{name}: the body must return a {what} with the same structure as its input, but "
            f"the input {what} is {in_tree} and the body returns {out_tree}.")
    for k, (a, b) in enumerate(zip(in_avals, out_avals)):
        if a != b:
            raise CarryTypeError(
                f"{name}: the {what} must keep its type across iterations, but leaf {k} enters as "
                f"{a.str_short()} and the body returns {b.str_short()}. Make the initial value "
                "match (e.g. fnp.asarray(init, dtype) or a float 0.0 rather than an int 0).")


def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1, _split_transpose: bool = False):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; stack the ``y``.

    JAX's signature: returns ``(final_carry, stacked_ys)``. ``carry``, ``xs`` and ``y`` may
    be pytrees; ``xs=None`` with ``length=n`` loops ``n`` times; ``reverse=True`` runs from
    the end (the ys stay in order). One primitive: never unrolled (``unroll`` is accepted for
    JAX compatibility; jit compiles the loop as a loop, so unrolling would only add code).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> total, partial_sums = fa.lax.scan(lambda c, x: (c + x, c + x), 0.0, fnp.arange(4.0))
    >>> float(total), partial_sums
    (6.0, array([0., 1., 3., 6.]))
    """
    _check_callable(f, "scan", "the body f")
    init_leaves, init_tree = tree_flatten(init)
    init_leaves = [_leaf(x) for x in init_leaves]
    xs_leaves, xs_tree = tree_flatten(xs)
    xs_leaves = [_leaf(x) for x in xs_leaves]
    lengths = {get_aval(x).shape[0] for x in xs_leaves if get_aval(x).shape}
    if any(not get_aval(x).shape for x in xs_leaves):
        raise TypeError("scan: every leaf of xs must have a leading axis to scan over.")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) != 1:
        raise ValueError(f"scan: xs leaves and length must agree on one length, got {sorted(lengths)}"
                         if lengths else "scan: pass xs or length.")
    n = lengths.pop()
    carry_avals = [_aval(x) for x in init_leaves]
    x_avals = [ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype) for x in xs_leaves]
    args_tree = tree_flatten((init, xs))[1]
    args_tree = tree_flatten((tree_unflatten(init_tree, init_leaves), tree_unflatten(xs_tree, xs_leaves)))[1]
    cj, consts, out_tree = _trace_user(f, args_tree, carry_avals + x_avals, "scan")
    out_leaves_tree = out_tree
    pair = tree_unflatten(out_leaves_tree, list(range(len(cj.jaxpr.outvars))))
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise CarryTypeError("scan: the body must return a pair (carry, y).")
    c_tree = tree_flatten(pair[0])[1]
    y_tree = tree_flatten(pair[1])[1]
    nc = len(init_leaves)
    out_avals = [_aval_of_atom(v) for v in cj.jaxpr.outvars]
    _check_carry("scan", init_tree, carry_avals, c_tree, out_avals[:len(tree_flatten(pair[0])[0])])
    outs = bind(scan_p, *consts, *init_leaves, *xs_leaves, jaxpr=cj, num_consts=len(consts),
                num_carry=nc, length=n, reverse=bool(reverse))
    return tree_unflatten(init_tree, outs[:nc]), tree_unflatten(y_tree, outs[nc:])


def map(f: Callable, xs, *, batch_size: int | None = None):
    """``stack([f(x) for x in xs])`` over the leading axis, as one scan (never unrolled).

    With ``batch_size=b`` (JAX's option) ``f`` is vmapped over chunks of ``b`` rows and the
    scan runs over the chunks; a remainder shorter than ``b`` is one more vmapped call.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.lax.map(lambda x: x ** 2, fnp.arange(3.0))
    array([0., 1., 4.])
    >>> fa.lax.map(lambda x: x ** 2, fnp.arange(5.0), batch_size=2)
    array([ 0.,  1.,  4.,  9., 16.])
    """
    _check_callable(f, "map", "f")
    if batch_size is None:
        _, ys = scan(lambda c, x: (c, f(x)), (), xs)
        return ys
    from ..batching import vmap
    from .shapes import concatenate, index, reshape

    leaves, tree = tree_flatten(xs)
    leaves = [_leaf(x) for x in leaves]
    n = get_aval(leaves[0]).shape[0] if leaves else 0
    b = int(batch_size)
    if b < 1:
        raise ValueError(f"lax.map: batch_size must be a positive integer, got {batch_size!r}.")
    nb, rem = divmod(n, b)
    vf = vmap(lambda x: f(tree_unflatten(tree, x)))
    parts = []
    if nb:
        chunks = [reshape(index(x, (slice(0, nb * b, None),)), (nb, b) + get_aval(x).shape[1:])
                  for x in leaves]
        _, ys = scan(lambda c, x: (c, vf(x)), (), chunks)
        parts.append(tree_map(lambda y: reshape(y, (nb * b,) + get_aval(y).shape[2:]), ys))
    if rem:
        parts.append(vf([index(x, (slice(nb * b, n, None),)) for x in leaves]))
    if len(parts) == 1:
        return parts[0]
    return tree_map(lambda a, c: concatenate([a, c], 0), parts[0], parts[1])


# --------------------------------------------------------------------------------------
# while_loop and fori_loop

while_p = Primitive("while", multiple_results=True)


def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    avals = body_jaxpr.out_avals
    while bool(_eval(cond_jaxpr, *cc, *carry)[0]):
        carry = [np.asarray(c, a.dtype) for c, a in zip(_eval(body_jaxpr, *bc, *carry), avals)]
    return list(carry)


while_p.def_impl(_while_impl)
while_p.def_abstract_eval(
    lambda *avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts:
    list(avals[cond_nconsts + body_nconsts:]))


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nz = [type(t) is not Zero for t in tangents]
    _, b_nz, carry_nz = _split(nz, cond_nconsts, body_nconsts)
    nc = len(carry_nz)
    while True:
        out_nz = pe.jvp_jaxpr(body_jaxpr, b_nz + carry_nz, carry_nz)[1]
        new = [a or b for a, b in zip(carry_nz, out_nz)]
        if new == carry_nz:
            break
        carry_nz = new
    body_jvp, _ = pe.jvp_jaxpr(body_jaxpr, b_nz + carry_nz, carry_nz)
    nb, nbd, ncd = body_nconsts, sum(b_nz), sum(carry_nz)
    body_jvp = _permute(body_jvp, _interleave([nb, nc], [nbd, ncd]))
    cond_aug = _append_ignored_inputs(cond_jaxpr, [a for a, z in zip(body_jaxpr.out_avals, carry_nz) if z])
    cc, bc, carry = _split(primals, cond_nconsts, body_nconsts)
    _, t_b, t_carry = _split(tangents, cond_nconsts, body_nconsts)
    t_carry = [ad.instantiate(t, _aval(p)) for t, p in zip(t_carry, carry)]
    outs = bind(while_p, *cc, *bc, *_mask(t_b, b_nz), *carry, *_mask(t_carry, carry_nz),
                cond_jaxpr=cond_aug, body_jaxpr=body_jvp, cond_nconsts=cond_nconsts,
                body_nconsts=nb + nbd)
    return outs[:nc], _merge(carry_nz, outs[nc:], [Zero(_aval(p)) for p in carry])


def _append_ignored_inputs(cj: ClosedJaxpr, avals) -> ClosedJaxpr:
    j = cj.jaxpr
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars + [Var(a) for a in avals], j.eqns, j.outvars), cj.consts)


def _while_partial_eval(trace, args, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                  body_nconsts=body_nconsts)
    uk = [trace.is_staged(x) for x in args]
    cc_uk, b_uk, carry_uk = _split(uk, cond_nconsts, body_nconsts)
    while True:
        out_uk = pe.partial_eval_jaxpr(body_jaxpr, b_uk + carry_uk, carry_uk)[2]
        new = [a or b for a, b in zip(carry_uk, out_uk)]
        if new == carry_uk:
            break
        carry_uk = new
    pred_uk = pe.partial_eval_jaxpr(cond_jaxpr, cc_uk + carry_uk, False)[2][0]
    if pred_uk or any(cc_uk):  # the trip count itself is unknown: nothing to split
        return trace.stage(while_p, args, params)
    # Run the known part of the loop now, counting its iterations.
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    n, *known_out = _count_known_iterations(cond_jaxpr, body_jaxpr, cc, bc, carry, b_uk, carry_uk,
                                            trace.parent)
    n_concrete = core.maybe_concrete(n)
    if n_concrete is None:
        # The trip count is abstract (under jit or vmap): stage the whole loop; its transpose
        # rule recomputes the primal carry of each iteration from the start.
        staged = trace.stage(while_p, args, params)
        return _merge(carry_uk, _mask(staged, carry_uk), known_out)
    # With the trip count known, the loop is a scan of that length: its partial evaluation
    # stacks the residuals of every iteration for the backward pass.
    return _scan_partial_eval(trace, [*bc, *carry], jaxpr=body_jaxpr, num_consts=body_nconsts,
                              num_carry=len(carry), length=int(n_concrete), reverse=False)


def _count_known_iterations(cond_jaxpr, body_jaxpr, cc, bc, carry, b_uk, carry_uk, parent):
    known_body = pe.partial_eval_jaxpr(body_jaxpr, b_uk + carry_uk, carry_uk)[0]
    known_cond = pe.partial_eval_jaxpr(cond_jaxpr, [False] * len(cc) + carry_uk, False)[0]
    nk = carry_uk.count(False)
    kj = known_body.jaxpr
    known_body = ClosedJaxpr(Jaxpr(kj.constvars, kj.invars, kj.eqns, kj.outvars[:nk]), known_body.consts)
    k_bc, k_carry = _mask(bc, b_uk, False), _mask(carry, carry_uk, False)
    from .elementwise import add

    def count_body(*a):
        return [add(a[len(k_bc)], np.int64(1))] + _eval(known_body, *a[:len(k_bc)], *a[len(k_bc) + 1:])

    def count_cond(*a):
        return _eval(known_cond, *a[:len(cc)], *a[len(cc) + 1:])

    i_aval = ShapedArray((), np.int64)
    k_avals = [_aval(x) for x in k_carry]
    body_cj = _trace(count_body, [_aval(x) for x in k_bc] + [i_aval] + k_avals)
    cond_cj = _trace(count_cond, [_aval(x) for x in cc] + [i_aval] + k_avals)
    with core.set_current_trace(parent):
        return bind(while_p, *cc, *k_bc, np.int64(0), *k_carry, cond_jaxpr=cond_cj,
                    body_jaxpr=body_cj, cond_nconsts=len(cc), body_nconsts=len(k_bc))


def _known_body(body_jaxpr, b_uk, carry_uk) -> ClosedJaxpr:
    """The part of a loop body that updates the known carry from the known constants."""
    known = pe.partial_eval_jaxpr(body_jaxpr, b_uk + carry_uk, carry_uk)[0]
    kj, nk = known.jaxpr, carry_uk.count(False)
    return ClosedJaxpr(Jaxpr(kj.constvars, kj.invars, kj.eqns, kj.outvars[:nk]), known.consts)


def _while_transpose(cts, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """Transpose a loop carrying primals (known) and tangents (linear) with an abstract
    trip count: iteration k of the backward pass recomputes the primal carry of iteration
    k from the initial one (O(n^2) body evaluations, O(1) memory)."""
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    b_lin = [is_undefined(x) for x in bc]
    c_lin = [is_undefined(x) for x in carry]
    while True:  # a known-zero tangent carry is linear too, as is whatever depends on one
        out_lin = pe.partial_eval_jaxpr(body_jaxpr, b_lin + c_lin, c_lin)[2]
        new = [a or b for a, b in zip(c_lin, out_lin)]
        if new == c_lin:
            break
        c_lin = new
    k_bc, k_carry = _mask(bc, b_lin, False), _mask(carry, c_lin, False)
    n = _count_known_iterations(cond_jaxpr, body_jaxpr, cc, bc, carry, b_lin, c_lin,
                                core.current_trace())[0]
    known_body = _known_body(body_jaxpr, b_lin, c_lin)
    t_body = pe.transpose_jaxpr(body_jaxpr, b_lin + c_lin)
    carry_avals = body_jaxpr.out_avals
    lin_b_avals = [x.aval for x in _mask(bc, b_lin)]
    ct_c = [_ct_or_zeros(ct, a) for ct, a, lin in zip(cts, carry_avals, c_lin) if lin]
    known_zeros = [_zeros(a) for a, lin in zip(carry_avals, c_lin) if not lin]
    from .elementwise import add, sub

    def backward_step(j, state):
        ct_b, ct_c = state
        k = sub(sub(n, j), np.int64(1))
        c_k = fori_loop(np.int64(0), k, lambda i, c: _eval(known_body, *k_bc, *c), list(k_carry))
        d = _eval(t_body, *k_bc, *c_k, *_merge(c_lin, ct_c, known_zeros))
        d_b, d_c = _split(d, len(lin_b_avals))
        return [add(a, b) for a, b in zip(ct_b, d_b)], d_c

    ct_b, ct_c = fori_loop(np.int64(0), n, backward_step, ([_zeros(a) for a in lin_b_avals], ct_c))
    ct_c = [ct if is_undefined(x) else None for ct, x in zip(_merge(c_lin, ct_c, known_zeros), carry)]
    return [None] * cond_nconsts + _merge(b_lin, ct_b, [None] * len(bc)) + ct_c


ad.jvp_rules[while_p] = _while_jvp
ad.transpose_rules[while_p] = _while_transpose
partial_eval_rules[while_p] = _while_partial_eval


def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """``while cond_fun(val): val = body_fun(val)``, as one primitive (never unrolled).

    ``val`` may be a pytree; ``body_fun`` must return one of the same structure, shapes and
    dtypes. Unlike JAX, funcad differentiates it in reverse mode too (grad, hessian): the
    forward pass counts the iterations and the backward pass runs that many, in reverse.
    Under vmap each element iterates only while it needs to.

    >>> import funcad as fa
    >>> sqrt2 = lambda a: fa.lax.while_loop(lambda x: abs(x * x - a) > 1e-12,
    ...                                     lambda x: 0.5 * (x + a / x), a)
    >>> round(float(sqrt2(2.0)), 12), round(float(fa.grad(sqrt2)(2.0)), 6)
    (1.414213562373, 0.353553)
    """
    _check_callable(cond_fun, "while_loop", "cond_fun")
    _check_callable(body_fun, "while_loop", "body_fun")
    leaves, tree = tree_flatten(init_val)
    leaves = [_leaf(x) for x in leaves]
    avals = [_aval(x) for x in leaves]
    args_tree = tree_flatten((tree_unflatten(tree, leaves),))[1]
    cond_cj, cond_consts, cond_tree = _trace_user(cond_fun, args_tree, avals, "while_loop")
    pred = [_aval_of_atom(v) for v in cond_cj.jaxpr.outvars]
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != np.bool_:
        shown = ", ".join(a.str_short() for a in pred)
        raise TypeError(f"while_loop: cond_fun must return a boolean scalar, got ({shown}).")
    body_cj, body_consts, body_tree = _trace_user(body_fun, args_tree, avals, "while_loop")
    _check_carry("while_loop", tree, avals, body_tree, [_aval_of_atom(v) for v in body_cj.jaxpr.outvars])
    outs = bind(while_p, *cond_consts, *body_consts, *leaves, cond_jaxpr=cond_cj, body_jaxpr=body_cj,
                cond_nconsts=len(cond_consts), body_nconsts=len(body_consts))
    return tree_unflatten(tree, outs)


def fori_loop(lower, upper, body_fun: Callable, init_val, *, unroll: int | bool | None = None):
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns the final ``val``.

    With concrete bounds (Python or NumPy integers) this is a scan of static length, so
    reverse mode stores one set of residuals per iteration; with traced bounds it is a
    while_loop (differentiable in reverse mode too, see :func:`while_loop`). ``unroll`` is
    accepted for JAX compatibility and ignored (see :func:`scan`).

    >>> import funcad as fa
    >>> float(fa.lax.fori_loop(0, 5, lambda i, x: x * 2.0, 1.0))
    32.0
    """
    _check_callable(body_fun, "fori_loop", "body_fun")
    lo, hi = core.maybe_concrete(lower), core.maybe_concrete(upper)
    static = not isinstance(lower, Tracer) and not isinstance(upper, Tracer)
    if static or (lo is not None and hi is not None and core.is_top_level()):
        lo, hi = int(lo), int(hi)

        def step(carry, _):
            i, val = carry
            return (i + 1, body_fun(i, val)), None

        (_, val), _ = scan(step, (np.int64(lo), init_val), None, length=max(hi - lo, 0))
        return val
    from .elementwise import add, convert_element_type, lt

    upper = convert_element_type(_leaf(upper), np.int64)
    _, _, val = while_loop(lambda c: lt(c[0], c[1]),
                           lambda c: (add(c[0], np.int64(1)), c[1], body_fun(c[0], c[2])),
                           (convert_element_type(_leaf(lower), np.int64), upper, init_val))
    return val


# --------------------------------------------------------------------------------------
# vmap: batching rules. Batched operands carry their batch axis first inside the jaxprs.


def _to_front(vals, dims):
    from ..batching import moveaxis

    return [v if d is None else moveaxis(v, d, 0) for v, d in zip(vals, dims)]


def _batched_pred_like(pred, x):
    """The per-example predicate (shape (B,)) broadcast against the batched ``x``."""
    from .shapes import broadcast_to, reshape

    shape = get_aval(x).shape
    return broadcast_to(reshape(pred, shape[:1] + (1,) * (len(shape) - 1)), shape)


def _cond_batch(axis_size, vals, dims, *, branches):
    from .elementwise import eq, select
    from .elementwise import max as _max
    from .elementwise import min as _min

    index, *ops = _to_front(vals, dims)
    op_b = [d is not None for d in dims[1:]]
    if dims[0] is None:
        out_b = [False] * len(branches[0].out_avals)
        for b in branches:
            out_b = [a or c for a, c in zip(out_b, pe.batch_jaxpr(b, axis_size, op_b, False)[1])]
        batched = tuple(pe.batch_jaxpr(b, axis_size, op_b, out_b)[0] for b in branches)
        outs = bind(cond_p, index, *ops, branches=batched)
        return outs, [0 if b else None for b in out_b]
    # A batched index: every branch runs on the whole batch; each example selects its own.
    index = _min(_max(index, np.int64(0)), np.int64(len(branches) - 1))
    results = [_eval(pe.batch_jaxpr(b, axis_size, op_b, True)[0], *ops) for b in branches]
    outs = results[0]
    for i, res in enumerate(results[1:], 1):
        pick = eq(index, np.int64(i))
        outs = [select(_batched_pred_like(pick, r), r, o) for r, o in zip(res, outs)]
    return outs, [0] * len(outs)


def _scan_batch(axis_size, vals, dims, *, jaxpr, num_consts, num_carry, length, reverse):
    from ..batching import matchaxis, moveaxis

    consts, carry, xs = _split(vals, num_consts, num_carry)
    c_d, carry_d, x_d = _split(dims, num_consts, num_carry)
    c_b, x_b = [d is not None for d in c_d], [d is not None for d in x_d]
    carry_b = [d is not None for d in carry_d]
    ny = len(jaxpr.jaxpr.outvars) - num_carry
    while True:
        out_b = pe.batch_jaxpr(jaxpr, axis_size, c_b + carry_b + x_b, carry_b + [False] * ny)[1]
        new = [a or b for a, b in zip(carry_b, out_b[:num_carry])]
        if new == carry_b:
            break
        carry_b = new
    body, out_b = pe.batch_jaxpr(jaxpr, axis_size, c_b + carry_b + x_b, carry_b + [False] * ny)
    consts = _to_front(consts, c_d)
    carry = [matchaxis(c, d, 0, axis_size) if b else c for c, d, b in zip(carry, carry_d, carry_b)]
    xs = [x if d is None else moveaxis(x, d, 1) for x, d in zip(xs, x_d)]
    outs = bind(scan_p, *consts, *carry, *xs, jaxpr=body, num_consts=num_consts,
                num_carry=num_carry, length=length, reverse=reverse)
    return outs, [0 if b else None for b in carry_b] + [1 if b else None for b in out_b[num_carry:]]


def _while_batch(axis_size, vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    from ..batching import matchaxis

    cc, bc, carry = _split(_to_front(vals, dims), cond_nconsts, body_nconsts)
    cc_d, bc_d, carry_d = _split(dims, cond_nconsts, body_nconsts)
    cc_b, bc_b = [d is not None for d in cc_d], [d is not None for d in bc_d]
    carry_b = [d is not None for d in carry_d]
    while True:
        out_b = pe.batch_jaxpr(body_jaxpr, axis_size, bc_b + carry_b, carry_b)[1]
        pred_b = pe.batch_jaxpr(cond_jaxpr, axis_size, cc_b + carry_b, False)[1][0]
        new = [a or b or pred_b for a, b in zip(carry_b, out_b)]
        if new == carry_b:
            break
        carry_b = new
    body, _ = pe.batch_jaxpr(body_jaxpr, axis_size, bc_b + carry_b, carry_b)
    cond_b, _ = pe.batch_jaxpr(cond_jaxpr, axis_size, cc_b + carry_b, False)
    carry = [matchaxis(c, d, 0, axis_size) if b and d is None else c
             for c, d, b in zip(carry, carry_d, carry_b)]
    out_dims = [0 if b else None for b in carry_b]
    if not pred_b:
        outs = bind(while_p, *cc, *bc, *carry, cond_jaxpr=cond_b, body_jaxpr=body,
                    cond_nconsts=cond_nconsts, body_nconsts=body_nconsts)
        return outs, out_dims
    # Each example has its own trip count: loop while any is active; freeze finished ones.
    from .elementwise import convert_element_type, gt, select
    from .reductions import reduce_max

    def any_active(*a):
        pred = _eval(cond_b, *a)[0]
        # (as 0.0/1.0: jit's table backend has float and bool loops, integer ones not yet)
        return [gt(reduce_max(convert_element_type(pred, np.float64), (0,)), np.float64(0))]

    def frozen_body(*a):
        c_consts, b_consts, c = _split(a, cond_nconsts, body_nconsts)
        pred = _eval(cond_b, *c_consts, *c)[0]
        new = _eval(body, *b_consts, *c)
        return [select(_batched_pred_like(pred, n), n, old) for n, old in zip(new, c)]

    c_avals = [_aval(x) for x in cc]
    all_avals = c_avals + [_aval(x) for x in bc] + [_aval(x) for x in carry]
    outs = bind(while_p, *cc, *cc, *bc, *carry,
                cond_jaxpr=_trace(any_active, c_avals + all_avals[len(cc) + len(bc):]),
                body_jaxpr=_trace(frozen_body, all_avals), cond_nconsts=cond_nconsts,
                body_nconsts=cond_nconsts + body_nconsts)
    return outs, out_dims


def _register_batching_rules():
    from .. import batching

    batching.primitive_batchers[cond_p] = _cond_batch
    batching.primitive_batchers[scan_p] = _scan_batch
    batching.primitive_batchers[while_p] = _while_batch


_register_batching_rules()
