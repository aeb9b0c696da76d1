"""Second-order derivatives: Hessian-vector products, and value, gradient and Hessian at once.

``hvp(f)(x, v)`` is forward-over-reverse by default: the JVP of the gradient, one forward
pass plus one reverse pass plus their tangents, measured faster than reverse-over-reverse
(see docs/architecture.md, "Second-order methods").

``value_grad_hessian(f)(x)`` linearizes the gradient once (forward-over-reverse, staged as a
linear jaxpr), then applies that linear map to every basis vector in one batched evaluation
(``vmap`` over the symbolic identity basis, ``batching.OneHot``, as ``jacfwd`` does: a
``matmul(A, e_k)`` is the column ``A[:, k]``, never ``X @ I``). Two things make it faster than
``jacfwd(jacrev(f))``:

* dead code elimination: the staged map keeps only the gradient's tangent;
* chains of elementwise scalings of the tangent are folded into one multiplication;
* eagerly, one d x d array at the peak (plus the O(n d) batched tangents): a diagonal term of
  the map (a regulariser's ``lam * w``) is added to the batched product in place, and the
  symmetrization below is done in place, block by block.

Eager ``fa.hessian`` takes the same route (:func:`_hessian_linearized`: the Jacobian linearized
once, its linear map batched over the basis, the diagonal term in place; one d x d array at
the peak), without the symmetrization, so its result is ``jacfwd(jacrev(f))``'s. It is traced
once per structure of the user's function and the program cached (funcad/eager_programs.py,
:func:`_hessian_eager`); ``f`` itself still runs on every call.

The Hessian is returned exactly symmetric: the batched map gives ``R`` with ``R[k] = H e_k``,
and the result is ``(R + R.T) / 2``. IEEE addition commutes, so ``fl(a + b) == fl(b + a)`` and
the symmetrized matrix equals its transpose bit for bit; the averaging moves each entry by
at most the rounding difference between the two orders of the product.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ad, api, eager_programs
from .core import Tracer, get_aval
from .jaxpr import Jaxpr, Var, eval_jaxpr
from .tree_util import tree_flatten, tree_leaves, tree_unflatten

__all__ = ["hessian", "hvp", "value_grad_hessian", "linearize_grad", "ravel_pytree"]


# --------------------------------------------------------------------------------------
# The Hessian


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False):
    """The Hessian, as ``jacfwd(jacrev(fun))``: shape ``in.shape + in.shape``. The forward
    pass over the input basis is batched (vmap), so the Hessian of ``x -> f(X @ x)`` costs a
    few matrix-matrix products, not one matrix-vector product per input element.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> fa.hessian(lambda x: fnp.sum(x ** 3))(fnp.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    jac = api.jacrev(fun, argnums, has_aux, holomorphic)
    dense = api.jacfwd(jac, argnums, has_aux, holomorphic)
    if holomorphic:
        return dense

    @functools.wraps(fun)
    def hessian_f(*args, **kwargs):
        # Eagerly, the Jacobian is linearized once and only its linear map is batched over
        # the basis (:func:`_hessian_linearized`); staged, jacfwd's program is the one
        # the simplifier is tuned for.
        if any(type(a) is not np.ndarray and any(isinstance(x, Tracer) for x in tree_leaves(a))
               for a in (*args, *kwargs.values())):
            return dense(*args, **kwargs)
        return _hessian_eager(fun, jac, argnums, has_aux, args, kwargs)

    return hessian_f


def _hessian_eager(fun, jac, argnums, has_aux: bool, args, kwargs):
    """:func:`_hessian_linearized` through the cache of transformed programs
    (funcad/eager_programs.py): ``fun`` runs and is recorded on every call, the Hessian's
    program is built once per structure of the recording."""
    in_leaves, in_tree, store, flat, paths = api._jacobian_setup(fun, argnums, has_aux, args,
                                                                 kwargs, "jacfwd")
    listed = api._normalize_argnums(argnums, len(args), "jacfwd")
    nums = tuple(dict.fromkeys(listed))

    def fun_of(flat_fn):  # the user-level function whose flat form is ``flat_fn``
        @functools.wraps(fun)
        def g(*full):
            outs = flat_fn(*tree_leaves(tuple(full[i] for i in nums)))
            main, aux = api._split_aux(outs, store, has_aux)
            out = tree_unflatten(store["out_tree"], main)
            return (out, aux) if has_aux else out

        return g

    def with_leaves(leaves):
        full = list(args)
        for i, a in zip(nums, tree_unflatten(in_tree, leaves), strict=True):
            full[i] = a
        return full

    def build(fn, leaves):
        h, diagonal = _hessian_linearized(api.jacrev(fun_of(fn), argnums, has_aux), argnums,
                                          has_aux, with_leaves(leaves), {}, split_diagonal=True)
        outs, tree = tree_flatten(h)
        return outs + ([] if diagonal is None else [diagonal]), (tree, diagonal is not None)

    def uncached(fn):
        if fn is flat:
            return _hessian_linearized(jac, argnums, has_aux, args, kwargs)
        return _hessian_linearized(api.jacrev(fun_of(fn), argnums, has_aux), argnums, has_aux,
                                   with_leaves(in_leaves), {})

    def kind():
        return ("hessian", listed, api._single(argnums), len(args), has_aux, in_tree,
                store["out_tree"], store.get("aux_tree"), api._DENSE_BASIS)

    def finish(outs, structure, inputs):
        tree, has_diagonal = structure
        outs = [api._to_user(o) for o in outs]
        if has_diagonal:  # ``rest + c * t`` (as in _hessian_linearized): c onto the diagonal
            c = outs.pop()
            r = outs[0]  # the single d x d block, first of the flattened (Hessian, aux)
            if r.flags.c_contiguous and _own(r, inputs):
                r.reshape(-1)[::r.shape[0] + 1] += c  # the diagonal, as a view
            else:
                outs[0] = r + np.diag(np.broadcast_to(c, r.shape[:1]))
        return tree_unflatten(tree, outs)

    return eager_programs.run_cached(kind, flat, in_leaves, paths, build, uncached, finish)


# --------------------------------------------------------------------------------------
# Pytrees of parameters as one flat vector


def ravel_pytree(tree) -> tuple[Any, Callable]:
    """Flatten a pytree of arrays into one 1-D vector; return ``(flat, unravel)``.

    ``unravel(flat)`` rebuilds the tree (each leaf with its shape and dtype). Works on traced
    values too, so it can sit inside a transformed function.

    >>> import numpy as np
    >>> flat, unravel = ravel_pytree({"w": np.ones((2, 2)), "b": np.zeros(1)})
    >>> flat
    array([0., 1., 1., 1., 1.])
    >>> unravel(flat)["w"].shape
    (2, 2)
    """
    from . import numpy as fnp

    leaves, treedef = tree_flatten(tree)
    avals = [get_aval(x) for x in leaves]
    shapes = [a.shape for a in avals]
    dtypes = [a.dtype for a in avals]
    sizes = [a.size for a in avals]
    bounds = np.cumsum([0] + sizes)
    flat_dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    if any(isinstance(x, Tracer) for x in leaves):
        flat = fnp.concatenate([fnp.ravel(fnp.asarray(x, flat_dtype)) for x in leaves])
    elif leaves:
        flat = np.concatenate([np.ravel(np.asarray(x, flat_dtype)) for x in leaves])
    else:
        flat = np.zeros(0, flat_dtype)

    def unravel(v):
        if isinstance(v, Tracer):
            if len(shapes) == 1:  # one leaf: no slicing, so the tangent program stays simple
                parts = [v if shapes[0] == get_aval(v).shape else fnp.reshape(v, shapes[0])]
            else:
                cuts = zip(bounds[:-1], bounds[1:], shapes, strict=True)
                parts = [fnp.reshape(v[s:e], sh) for s, e, sh in cuts]
            parts = [p if get_aval(p).dtype == dt else fnp.astype(p, dt)
                     for p, dt in zip(parts, dtypes, strict=True)]
        else:
            v = np.asarray(v)
            parts = [v[s:e].reshape(sh).astype(dt, copy=True) for s, e, sh, dt
                     in zip(bounds[:-1], bounds[1:], shapes, dtypes, strict=False)]
        return tree_unflatten(treedef, parts)

    return flat, unravel


# --------------------------------------------------------------------------------------
# Linear jaxprs: dead code elimination and the batched application to the identity


def _dce(jaxpr: Jaxpr, outvars) -> Jaxpr:
    live = {v for v in outvars if type(v) is Var}
    eqns = []
    for eqn in reversed(jaxpr.eqns):
        if any(o in live for o in eqn.outputs):
            eqns.append(eqn)
            live.update(a for a in eqn.inputs if type(a) is Var)
    eqns.reverse()
    return Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, outvars)


def _fold_scalings(jaxpr: Jaxpr, consts):
    """Fold chains of elementwise scalings of one tangent into one multiplication.

    In a linear jaxpr, ``mul``/``div`` by a constant, ``neg``, and ``add``/``sub`` of two
    scalings of the same variable keep the form ``coef * base``; the coefficient is computed
    on the small unbatched constants, and a single ``mul(base, coef)`` is emitted where the
    value is first needed. For a loss like the logistic one, five passes over the batched
    (d, n) tangent become one. Returns ``(jaxpr', consts')``.
    """
    from .core import result_dtype
    from .jaxpr import Eqn, Literal
    from .lax.elementwise import add_p, div_p, mul_p, neg_p, sub_p

    const_of = dict(zip(jaxpr.constvars, consts, strict=False))
    constvars, consts = list(jaxpr.constvars), list(consts)
    scaled: dict = {}  # var -> (coef, base): the var's value is coef * base
    eqns: list = []

    def is_const(a):
        return type(a) is Literal or a in const_of

    def value(a):
        return a.val if type(a) is Literal else const_of[a]

    def track(a):  # a coefficient of None stands for 1
        return scaled.get(a, (None, a))

    def materialize(v):
        coef, base = scaled.pop(v)
        coef = 1.0 if coef is None else coef
        if np.ndim(coef) == 0 and not isinstance(coef, Tracer):
            atom = Literal(np.asarray(coef, v.aval.dtype)[()])
        else:
            atom = Var(get_aval(coef))
            constvars.append(atom)
            consts.append(coef)
        eqns.append(Eqn(mul_p, [base, atom], {}, [v]))

    for eqn in jaxpr.eqns:
        p, x = eqn.prim, eqn.inputs
        new = None
        if p is neg_p and not is_const(x[0]):
            c, b = track(x[0])
            new = (-1.0 if c is None else -c, b)
        elif p in (mul_p, div_p) and is_const(x[1]) != is_const(x[0]):
            lin, cst = (x[0], x[1]) if is_const(x[1]) else (x[1], x[0])
            if p is mul_p or lin is x[0]:
                c, b = track(lin)
                k = value(cst)
                if p is mul_p:
                    new = (k if c is None else c * k, b)
                else:
                    new = (1.0 / k if c is None else c / k, b)
        elif p in (add_p, sub_p) and not is_const(x[0]) and not is_const(x[1]):
            (ca, ba), (cb, bb) = track(x[0]), track(x[1])
            if ba is bb:
                ca, cb = (1.0 if ca is None else ca), (1.0 if cb is None else cb)
                new = (ca + cb if p is add_p else ca - cb, ba)
        if new is not None:
            out, (c, b) = eqn.outputs[0], new
            ok = (type(b) is Var and b.aval.shape == out.aval.shape
                  and np.broadcast_shapes(np.shape(c), out.aval.shape) == out.aval.shape
                  and result_dtype(b.aval, get_aval(c)) == out.aval.dtype)
            if ok:
                scaled[out] = new
                continue
        for a in x:
            if type(a) is Var and a in scaled:
                materialize(a)
        eqns.append(eqn)
    for v in jaxpr.outvars:
        if type(v) is Var and v in scaled:
            materialize(v)
    return _dce(Jaxpr(constvars, jaxpr.invars, eqns, jaxpr.outvars), jaxpr.outvars), consts


def _apply_to_basis(jaxpr: Jaxpr, consts, d: int, dtype):
    """``R`` with ``R[k] = jaxpr(e_k)`` for the unit vectors ``e_k`` of length ``d``: one
    batched evaluation on the symbolic identity (``batching.OneHot``), so a product with the
    basis costs nothing (``A @ e_k`` is the column ``A[:, k]``)."""
    from . import numpy as fnp
    from .batching import OneHot, vmap_flat

    jaxpr, consts = _fold_scalings(jaxpr, consts)
    diagonal = _diagonal_term(jaxpr, consts, d, dtype)
    if diagonal is not None:  # ``rest + c * t``: the rest's d x d result takes c on its diagonal
        jaxpr = _dce(jaxpr, [diagonal[0]])
    (rows,) = vmap_flat(lambda t: eval_jaxpr(jaxpr, consts, t)[:1], [0], [OneHot(d, (d,), dtype)],
                        [0], d)
    if get_aval(rows).shape != (d, d):  # an output that does not depend on the tangent
        rows = fnp.broadcast_to(rows, (d, d))
    if diagonal is not None:
        if _own(rows, consts):
            rows[np.diag_indices(d)] += diagonal[1]
        else:
            rows = rows + fnp.diag(fnp.broadcast_to(diagonal[1], (d,)))
    return rows


def _diagonal_term(jaxpr: Jaxpr, consts, d: int, dtype, staged: bool = False):
    """``(rest_var, c)`` when the linear map's output is ``rest + c * t`` (or ``rest - c * t``),
    ``t`` its input and ``c`` a constant (a regulariser's ``lam * w`` in a gradient), else None.

    Eagerly, adding the diagonal of ``c`` to the batched ``rest`` through the one-hot basis
    copies the d x d matrix (the rule cannot know that ``rest`` is a temporary); here it is
    known to be, so the diagonal goes in in place and the Hessian costs one d x d array. The
    sum is the same IEEE addition, ``rest_kk + c_k``, either way. With ``staged`` the
    constants may be tracers (the program is being built for the cache of eager programs,
    which adds ``c`` in place after running it), and ``c`` is returned as it is."""
    from .jaxpr import Literal
    from .lax.elementwise import add_p, mul_p, sub_p

    if (d == 0 or not jaxpr.eqns or len(jaxpr.outvars) != 1
            or jaxpr.eqns[-1].outputs[0] is not jaxpr.outvars[0]
            or (not staged and any(isinstance(c, Tracer) for c in consts))):  # jit: select fuses
        return None
    out_eqn = jaxpr.eqns[-1]
    if out_eqn.prim not in (add_p, sub_p):
        return None
    const_of = dict(zip(jaxpr.constvars, consts, strict=False))
    producer = {e.outputs[0]: e for e in jaxpr.eqns if len(e.outputs) == 1}
    (t,) = jaxpr.invars
    sides = [0, 1] if out_eqn.prim is add_p else [1]  # rest - c * t; not c * t - rest
    for k in sides:
        term, rest = out_eqn.inputs[k], out_eqn.inputs[1 - k]
        e = producer.get(term)
        if e is None or e.prim is not mul_p or type(rest) is not Var or t not in e.inputs:
            continue
        c = e.inputs[1] if e.inputs[0] is t else e.inputs[0]
        if c is t or not (type(c) is Literal or c in const_of):
            continue
        c = c.val if type(c) is Literal else const_of[c]
        c = c if isinstance(c, Tracer) else np.asarray(c)
        aval = get_aval(c)
        if (aval.dtype != dtype or aval.shape not in ((), (d,)) or rest.aval.shape != (d,)
                or rest.aval.dtype != dtype):
            continue
        if any(term in eq.inputs for eq in jaxpr.eqns[:-1]):  # used elsewhere too
            continue
        return rest, (c if out_eqn.prim is add_p else -c)
    return None


def _own(a, consts) -> bool:
    """Is ``a`` a writeable array that shares no memory with the program's constants (the
    user's arrays among them), so that it may be changed in place?"""
    return (type(a) is np.ndarray and a.flags.writeable
            and not any(isinstance(c, np.ndarray) and np.may_share_memory(a, c) for c in consts))


def _symmetrize(r, consts=()):
    """``(r + r.T) / 2``; in place, a block of rows and its mirror at a time, when ``r`` is a
    temporary of our own (one d x d array at the peak, not two)."""
    if isinstance(r, Tracer):  # staged: jit writes it over ``r`` (lax/linalg.py)
        from .lax.linalg import symmetrize

        return symmetrize(r)
    if not (_own(r, consts) and r.ndim == 2 and r.shape[0] == r.shape[1]):
        r = np.asarray(r)
        return (r + r.T) * 0.5
    step = 256
    for i in range(0, r.shape[0], step):
        for j in range(i, r.shape[0], step):
            s = (r[i:i + step, j:j + step] + r[j:j + step, i:i + step].T) * 0.5
            r[i:i + step, j:j + step] = s
            r[j:j + step, i:i + step] = s.T
    return r


def _hessian_linearized(jac_fun: Callable, argnums, has_aux: bool, args, kwargs,
                        split_diagonal: bool = False):
    """``jacfwd(jac_fun, argnums, has_aux)(*args, **kwargs)`` with ``jac_fun = jacrev(f)``:
    the Hessian as ``fa.hessian`` returns it, from one linearization of the Jacobian.

    ``jacfwd`` pushes the whole basis through the JVP of ``jac_fun`` (the primal computation
    and every tangent rule batched, three trace levels per primitive); here ``jac_fun`` is
    linearized once (primal eagerly, tangents staged), its dead code dropped (the tangent of
    the loss value), its scalings folded, and only the staged linear map is batched over the
    symbolic basis. A diagonal term (``lam * w``) goes into the one d x d result in place.

    With ``split_diagonal`` (staged, for the cache of eager programs) returns ``(result, c)``:
    the Hessian without its diagonal term ``c`` (None when there is none), which the caller
    adds in place."""
    in_leaves, in_tree, store, flat, paths = api._jacobian_setup(jac_fun, argnums, has_aux, args,
                                                                 kwargs, "jacfwd")
    outs, jaxpr, consts = ad.linearize_flat(flat, in_leaves, aux_store=store, names=paths)
    n = store["out_tree"].num_leaves
    basis, total = api._std_basis(in_leaves)
    jaxpr, consts = _fold_scalings(_dce(jaxpr, _skip_relayouts(jaxpr, jaxpr.outvars[:n])), consts)
    diagonal = None
    if len(in_leaves) == 1 and n == 1 and get_aval(in_leaves[0]).ndim == 1:
        diagonal = _diagonal_term(jaxpr, consts, total, get_aval(in_leaves[0]).dtype,
                                  staged=split_diagonal)
    if diagonal is not None:  # ``rest + c * t``: the rest's d x d result takes c on its diagonal
        jaxpr = _dce(jaxpr, [diagonal[0]])
    rows = api._vmap_basis(lambda *t: eval_jaxpr(jaxpr, consts, *t), basis, total,
                           lambda m: [0] * m)
    rows = [r if get_aval(r).shape[:1] == (total,) and get_aval(r).ndim == 1 + get_aval(o).ndim
            else _broadcast_rows(r, total, o) for r, o in zip(rows, outs[:n], strict=True)]
    if diagonal is not None and not split_diagonal:
        (r,) = rows
        if _own(r, consts):
            r[np.diag_indices(total)] += diagonal[1]
        else:
            from . import numpy as fnp

            rows = [r + fnp.diag(fnp.broadcast_to(diagonal[1], (total,)))]
    main, aux = api._split_aux(outs, store, has_aux)
    jac = api._assemble_fwd(rows, main, in_leaves, store["out_tree"], in_tree, total,
                            api._repeats(args, argnums))
    jac = jac if not api._single(argnums) else api._unwrap_one(jac, store["out_tree"])
    jac = (jac, aux) if has_aux else jac
    return (jac, None if diagonal is None else diagonal[1]) if split_diagonal else jac


def _skip_relayouts(jaxpr: Jaxpr, outvars) -> list:
    """``outvars`` with trailing reshapes and full slices (which only relabel the data, as
    jacrev's assembly does for a scalar output) skipped back to a variable of the same shape,
    so that :func:`_diagonal_term` sees the map's last sum."""
    from .lax.shapes import index_p, reshape_p

    producer = {e.outputs[0]: e for e in jaxpr.eqns if len(e.outputs) == 1}
    out = []
    for v in outvars:
        u = v
        while type(u) is Var and u in producer:
            e = producer[u]
            src = e.inputs[0]
            if type(src) is not Var or src.aval.size != u.aval.size:
                break
            if e.prim is index_p:
                if len(e.inputs) != 1 or not all(
                        type(t) is tuple and len(t) == 4 and t[0] == "slice" and t[3] in (None, 1)
                        for t in e.params["template"]):
                    break
            elif e.prim is not reshape_p:
                break
            u = src
        ok = u is not v and u.aval.shape == v.aval.shape and u.aval.dtype == v.aval.dtype
        out.append(u if ok else v)
    return out


def _broadcast_rows(r, total, o):
    from . import numpy as fnp

    return fnp.broadcast_to(r, (total,) + get_aval(o).shape)


def _linearized_grad_flat(f_flat: Callable, x):
    """``(value, grad, jaxpr, consts)``: ``jaxpr`` maps a tangent ``v`` to ``H v`` at ``x``."""

    def value_then_grad(v):
        val, g = api.value_and_grad(f_flat)(v)
        return [g, val]

    (g, val), jaxpr, consts = ad.linearize_flat(value_then_grad, [x], aux_store={"num_aux": 1})
    return val, g, _dce(jaxpr, jaxpr.outvars), consts


def _linearized_hvp_flat(f_flat: Callable, x):
    """Like :func:`_linearized_grad_flat`, with the linear map's scalings folded (fewer passes)."""
    val, g, jaxpr, consts = _linearized_grad_flat(f_flat, x)
    jaxpr, consts = _fold_scalings(jaxpr, consts)
    return val, g, jaxpr, consts


def _value_grad_hessian_flat(f_flat: Callable, x):
    """Value, gradient and exactly symmetric Hessian of ``f_flat`` at the 1-D ``x``."""
    val, g, jaxpr, consts = _linearized_grad_flat(f_flat, x)
    d = get_aval(x).shape[0]
    rows = _apply_to_basis(jaxpr, consts, d, get_aval(x).dtype)
    return val, g, _symmetrize(rows, consts)


# --------------------------------------------------------------------------------------
# Public API


def _check_params(x, transform: str):
    leaves, _, paths = api._flatten_args((x,), ["x"])
    api._require_float(leaves, paths, transform)


def _partial_x(fun, args, kwargs, argnums):
    def f_of_x(x):
        full = list(args)
        full[argnums] = x
        return fun(*full, **kwargs)

    return f_of_x


def value_grad_hessian(fun: Callable, argnums: int = 0):
    """``fun``'s value, gradient and Hessian with respect to argument ``argnums``, in one program.

    The gradient is linearized once and its linear map applied to all basis vectors in one
    batched pass; the Hessian is exactly symmetric (``H == H.T`` bit for bit). The argument may
    be a pytree: the gradient then has its structure, and the Hessian is nested as
    ``fa.hessian`` nests it (``H[a][b]`` has shape ``a.shape + b.shape``).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> f = lambda x: fnp.sum(x ** 3) + x[0] * x[1]
    >>> v, g, H = fa.value_grad_hessian(f)(fnp.array([1.0, 2.0]))
    >>> float(v), g
    (11.0, array([ 5., 13.]))
    >>> H
    array([[ 6.,  1.],
           [ 1., 12.]])
    """
    if not isinstance(argnums, int):
        raise api.ArgumentError("value_grad_hessian: argnums must be one int (put several "
                                "parameters in one pytree).")

    @functools.wraps(fun)
    def vgh_f(*args, **kwargs):
        nums = api._normalize_argnums(argnums, len(args), "value_grad_hessian")
        x = args[nums[0]]
        _check_params(x, "value_grad_hessian")
        flat, unravel = ravel_pytree(x)
        f_of_x = _partial_x(fun, args, kwargs, nums[0])
        val, g, H = _value_grad_hessian_flat(lambda v: f_of_x(unravel(v)), flat)
        return api._to_user(val), _unravel_user(unravel, g), _unravel_hessian(H, x)

    return vgh_f


def _unravel_user(unravel, v):
    out = unravel(v)
    leaves, tree = tree_flatten(out)
    return tree_unflatten(tree, [api._to_user(x) for x in leaves])


def _unravel_hessian(H, x):
    """Split the flat Hessian into blocks nested like ``fa.hessian``'s result."""
    from . import numpy as fnp

    leaves, treedef = tree_flatten(x)
    avals = [get_aval(v) for v in leaves]
    if treedef.nodetype is None:  # a single array
        return api._to_user(fnp.reshape(H, avals[0].shape * 2))
    bounds = np.cumsum([0] + [a.size for a in avals])
    rows = []
    for i, ai in enumerate(avals):
        row = []
        for j, aj in enumerate(avals):
            block = H[bounds[i]:bounds[i + 1], bounds[j]:bounds[j + 1]]
            block = fnp.reshape(block, ai.shape + aj.shape)
            if get_aval(block).dtype != ai.dtype:
                block = fnp.astype(block, ai.dtype)
            row.append(api._to_user(block))
        rows.append(tree_unflatten(treedef, row))
    return tree_unflatten(treedef, rows)


def _tree_vdot(a, b):
    from . import numpy as fnp

    terms = [fnp.vdot(x, y) for x, y in zip(tree_leaves(a), tree_leaves(b), strict=False)]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


HVP_MODES = ("fwd_rev", "rev_rev", "rev_fwd")


def hvp(fun: Callable, mode: str = "fwd_rev"):
    """Hessian-vector product: ``hvp(f)(x, v, *args)`` is ``hessian(f)(x, *args) @ v``.

    ``x`` and ``v`` are pytrees of the same structure; extra arguments are passed on to ``f``
    (which is differentiated with respect to its first argument only). The Hessian is never
    formed. ``mode`` picks the composition: ``"fwd_rev"`` (default; the JVP of the gradient,
    measured fastest), ``"rev_rev"`` (the gradient of ``<grad f, v>``) or ``"rev_fwd"`` (the
    gradient of the JVP).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> f = lambda x: fnp.sum(x ** 3)
    >>> fa.hvp(f)(fnp.array([1.0, 2.0]), fnp.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    if mode not in HVP_MODES:
        raise api.ArgumentError(f"hvp: mode must be one of {HVP_MODES}, got {mode!r}.")

    @functools.wraps(fun)
    def hvp_f(x, v, *args, **kwargs):
        _check_params(x, "hvp")
        vx, tx = tree_flatten(x)[1], tree_flatten(v)[1]
        if vx != tx:
            raise api.TreeStructureError(f"hvp: v's structure {tx} does not match x's structure {vx}.")

        def f_of_x(p):
            return fun(p, *args, **kwargs)

        if mode == "fwd_rev":
            return api.jvp(api.grad(f_of_x), (x,), (v,))[1]
        if mode == "rev_rev":
            return api.grad(lambda p: _tree_vdot(api.grad(f_of_x)(p), v))(x)
        return api.grad(lambda p: api.jvp(f_of_x, (p,), (v,))[1])(x)

    return hvp_f


def linearize_grad(fun: Callable):
    """``linearize_grad(f)(x, *args) -> (value, grad, hvp_fn)`` with ``hvp_fn(v) = H(x) @ v``.

    For many products at one point (conjugate gradients): the gradient is linearized once,
    and each ``hvp_fn(v)`` then costs only the tangent arithmetic of the staged linear map.
    ``x`` and ``v`` are pytrees of the same structure.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> from funcad.second_order import linearize_grad
    >>> val, g, hvp_fn = linearize_grad(lambda x: fnp.sum(x ** 3))(fnp.array([1.0, 2.0]))
    >>> hvp_fn(fnp.array([1.0, 0.0]))
    array([6., 0.])
    """

    @functools.wraps(fun)
    def lin_f(x, *args, **kwargs):
        _check_params(x, "linearize_grad")
        flat, unravel = ravel_pytree(x)
        val, g, jaxpr, consts = _linearized_hvp_flat(lambda v: fun(unravel(v), *args, **kwargs), flat)

        def hvp_fn(v):
            v_flat, _ = ravel_pytree(v)
            return _unravel_user(unravel, eval_jaxpr(jaxpr, consts, v_flat)[0])

        return api._to_user(val), _unravel_user(unravel, g), hvp_fn

    return lin_f
