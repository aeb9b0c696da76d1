"""Custom derivative rules and rematerialisation: ``custom_jvp``, ``custom_vjp``, ``checkpoint``.

Each wraps the user's function as a primitive holding its closed jaxpr (so jit, vmap and
every other transformation see one equation) plus the user's rules:

* ``custom_jvp_call`` calls the user's JVP rule in place of differentiating the function;
  reverse mode follows, since the rule is written with funcad operations (linearize stages
  its tangent part and transposes it).
* ``custom_vjp_call`` runs ``fwd`` and emits a ``custom_lin`` equation, linear in the
  tangents, whose transpose calls ``bwd``. Evaluated forward (jvp, jacfwd, hessian) it is
  the JVP of the function itself: where no forward rule exists funcad differentiates the
  function rather than raising as JAX does.
* ``checkpoint`` stages its whole JVP into the linear program, so the backward pass
  recomputes the function's intermediate values instead of storing them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from . import ad, core
from .ad import Zero, is_undefined
from .core import Primitive, bind, get_aval
from .errors import ArgumentError, ShapeError, TreeStructureError
from .jaxpr import partial_eval_rules
from .lax.control import (
    _aval,
    _aval_of_atom,
    _eval,
    _leaf,
    _mask,
    _merge,
    _split,
    _to_front,
    _trace_user,
)
from .partial_eval import batch_jaxpr, jvp_jaxpr, partial_eval_jaxpr, transpose_jaxpr
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["custom_jvp", "custom_vjp", "checkpoint", "remat"]


def _out_avals(cj):
    return [_aval_of_atom(v) for v in cj.jaxpr.outvars]


def _split_static(fun, args, nondiff_argnums):
    """The dynamic arguments and ``fun`` with the non-differentiable ones bound."""
    dyn = [a for i, a in enumerate(args) if i not in nondiff_argnums]

    def partial(*dyn_args):
        it = iter(dyn_args)
        return fun(*[a if i in nondiff_argnums else next(it) for i, a in enumerate(args)])

    static = [args[i] for i in nondiff_argnums]
    return dyn, partial, static


def _vmapped(fun, dims, axis_size, n_out):
    """``fun(*flat) -> flat`` applied to arguments batched at ``dims``; outputs at axis 0."""
    from .batching import vmap_flat

    return lambda *args: vmap_flat(lambda *a: list(fun(*a)), dims, args, [0] * n_out, axis_size)


class _Rule:
    """A rule's closure whose repr names the user's function without its address: the
    repr shows in the comments of jit's generated program, whose text names its disk-cache
    entry, so an address there would recompile the program in every process."""

    __slots__ = ("fn", "name")

    def __init__(self, fn, named):
        self.fn = fn
        self.name = named.name if isinstance(named, _Rule) else (
            getattr(named, "__qualname__", None) or type(named).__name__)

    def __call__(self, *args):
        return self.fn(*args)

    def __repr__(self):
        return self.name


def _nothing_traced(leaves) -> bool:
    """Called outside any transformation: the function runs as it is (as in JAX)."""
    return core.is_top_level() and not any(isinstance(x, core.Tracer) for x in leaves)


def _concrete_values(leaves):
    """The arguments' values under eager transformations (grad, vmap of unbatched values),
    else None: the function is then traced on them, so Python control flow on them works."""
    values = [core.maybe_concrete(x) for x in leaves]
    return None if any(v is None for v in values) else values


def _check_tangents(name, outs, t_outs):
    for o, t in zip(outs, t_outs):
        if type(t) is not Zero and get_aval(t).shape != get_aval(o).shape:
            raise ShapeError(f"{name}: the rule returned a tangent of shape {get_aval(t).shape} for "
                             f"an output of shape {get_aval(o).shape}; they must match.")


# --------------------------------------------------------------------------------------
# custom_jvp

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.def_impl(lambda *args, call_jaxpr, jvp, num_consts: _eval(call_jaxpr, *args))
custom_jvp_call_p.def_abstract_eval(lambda *avals, call_jaxpr, jvp, num_consts: _out_avals(call_jaxpr))


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts):
    # Values the function closes over are constants to its rule (as in JAX).
    _, args = _split(primals, num_consts)
    t_args = [ad.instantiate(t, _aval(p)) for t, p in zip(tangents[num_consts:], args)]
    outs, t_outs = jvp(args, t_args)
    _check_tangents("custom_jvp", outs, t_outs)
    return outs, t_outs


def _custom_jvp_call_batch(axis_size, vals, dims, *, call_jaxpr, jvp, num_consts):
    vals = _to_front(vals, dims)
    in_b = [d is not None for d in dims]
    batched, _ = batch_jaxpr(call_jaxpr, axis_size, in_b, True)
    n_out, arg_dims = len(call_jaxpr.out_avals), [0 if b else None for b in in_b[num_consts:]]
    consts = vals[:num_consts]

    def batched_jvp(args, t_args):
        n = len(args)
        f = _vmapped(lambda *a: [_leaf(x) for x in _concat(jvp(list(a[:n]), list(a[n:])))],
                     arg_dims + arg_dims, axis_size, 2 * n_out)
        outs = f(*args, *[ad.instantiate(t) for t in t_args])
        return outs[:n_out], outs[n_out:]

    del consts
    outs = bind(custom_jvp_call_p, *vals, call_jaxpr=batched, jvp=_Rule(batched_jvp, jvp),
                num_consts=num_consts)
    return outs, [0] * n_out


def _concat(pair):
    outs, t_outs = pair
    return list(outs) + [ad.instantiate(t, _aval(o)) for o, t in zip(outs, t_outs)]


ad.jvp_rules[custom_jvp_call_p] = _custom_jvp_call_jvp


class custom_jvp:
    """A function with a custom JVP (forward-mode) rule, with JAX's semantics.

    Decorate ``f``, then define ``f_jvp(primals, tangents) -> (primal_out, tangent_out)``
    with ``@f.defjvp``. Reverse mode follows from the rule (it is linearized and
    transposed), so grad, hessian, jit and vmap all use it; higher derivatives
    differentiate the rule itself. Values the function closes over are treated as constants.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> @fa.custom_jvp
    ... def log1pexp(x):
    ...     return fnp.log(1.0 + fnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (x_dot,) = primals, tangents
    ...     return log1pexp(x), x_dot * (1.0 - 1.0 / (1.0 + fnp.exp(x)))
    >>> float(fa.grad(log1pexp)(1000.0))   # the naive derivative would be nan
    1.0
    """

    def __init__(self, fun: Callable, nondiff_argnums: tuple = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One rule per argument, ``rule(x_dot, primal_out, *primals) -> tangent term``."""

        def jvp(primals, tangents):
            ans = self(*primals)
            terms = [r(t, ans, *primals) for r, t in zip(jvps, tangents) if r is not None]
            out = terms[0]
            for t in terms[1:]:
                out = out + t
            return ans, out

        self.defjvp(jvp)

    def __call__(self, *args):
        if self.jvp is None:
            raise ArgumentError(f"custom_jvp {self.__name__}: no JVP rule defined; decorate one "
                                "with @f.defjvp before calling f.")
        dyn, fun, static = _split_static(self.fun, args, self.nondiff_argnums)
        leaves, in_tree = tree_flatten(tuple(dyn))
        leaves = [_leaf(x) for x in leaves]
        if _nothing_traced(leaves):
            return self.fun(*args)
        cj, consts, out_tree = _trace_user(fun, in_tree, [_aval(x) for x in leaves], "custom_jvp",
                                           _concrete_values(leaves))
        rule = self.jvp

        def flat_jvp(args, t_args):
            # JAX's convention: rule(*nondiff_args, primals, tangents), dynamic args only.
            out, t_out = rule(*static, tree_unflatten(in_tree, args), tree_unflatten(in_tree, t_args))
            out_leaves, tree_o = tree_flatten(out)
            t_leaves, tree_t = tree_flatten(t_out)
            if tree_o != out_tree or tree_t != out_tree:
                raise TreeStructureError(
                    f"custom_jvp {self.__name__}: the rule must return (primal_out, tangent_out) "
                    f"structured like the function's output {out_tree}, got {tree_o} and {tree_t}.")
            return [_leaf(o) for o in out_leaves], [_leaf(t) for t in t_leaves]

        outs = bind(custom_jvp_call_p, *consts, *leaves, call_jaxpr=cj, jvp=_Rule(flat_jvp, rule),
                    num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


def _merge_static(nondiff_argnums, static, dyn):
    it_s, it_d = iter(static), iter(dyn)
    total = len(static) + len(dyn)
    return [next(it_s) if i in nondiff_argnums else next(it_d) for i in range(total)]


# --------------------------------------------------------------------------------------
# custom_vjp

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.def_impl(lambda *args, call_jaxpr, fwd, bwd, num_consts: _eval(call_jaxpr, *args))
custom_vjp_call_p.def_abstract_eval(lambda *avals, call_jaxpr, fwd, bwd, num_consts: _out_avals(call_jaxpr))

# custom_lin(residuals, consts, args, tangents): linear in the tangents. Transposed it calls
# ``bwd``; evaluated forward it is the JVP of the function itself.
custom_lin_p = Primitive("custom_lin", multiple_results=True)


def _custom_lin_forward(*args, num_res, call_jaxpr, bwd, num_consts):
    _, primals, tangents = _split(args, num_res, len(call_jaxpr.in_avals))
    tangents = [Zero(_aval(p)) for p in primals[:num_consts]] + list(tangents)
    t_outs = ad.jvp_flat(lambda *xs: _eval(call_jaxpr, *xs), primals, tangents)[1]
    return [ad.instantiate(t, a) for t, a in zip(t_outs, _out_avals(call_jaxpr))]


custom_lin_p.def_impl(_custom_lin_forward)
custom_lin_p.def_abstract_eval(lambda *avals, num_res, call_jaxpr, bwd, num_consts: _out_avals(call_jaxpr))


def _custom_lin_jvp(primals, tangents, **params):
    return ad.jvp_flat(lambda *a: _custom_lin_forward(*a, **params), list(primals), list(tangents))


def _custom_lin_transpose(cts, *args, num_res, call_jaxpr, bwd, num_consts):
    res, primals, tangents = _split(args, num_res, len(call_jaxpr.in_avals))
    cts = [ad.instantiate(Zero(a)) if ct is None or type(ct) is Zero else ct
           for ct, a in zip(cts, _out_avals(call_jaxpr))]
    cts_in = bwd(res, cts)
    return ([None] * (num_res + len(primals))
            + [c if is_undefined(t) else None for c, t in zip(cts_in, tangents)])


def _custom_lin_batch(axis_size, vals, dims, **params):
    n_out = len(params["call_jaxpr"].out_avals)
    f = _vmapped(lambda *a: _custom_lin_forward(*a, **params), list(dims), axis_size, n_out)
    return f(*vals), [0] * n_out


ad.jvp_rules[custom_lin_p] = _custom_lin_jvp
ad.transpose_rules[custom_lin_p] = _custom_lin_transpose


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts):
    consts, args = _split(primals, num_consts)
    outs, res = fwd(args)
    t_args = [ad.instantiate(t, _aval(p)) for t, p in zip(tangents[num_consts:], args)]
    t_outs = bind(custom_lin_p, *res, *primals, *t_args, num_res=len(res), call_jaxpr=call_jaxpr,
                  bwd=bwd, num_consts=num_consts)
    return outs, t_outs


def _custom_vjp_call_batch(axis_size, vals, dims, *, call_jaxpr, fwd, bwd, num_consts):
    vals = _to_front(vals, dims)
    in_b = [d is not None for d in dims]
    batched, _ = batch_jaxpr(call_jaxpr, axis_size, in_b, True)
    n_out = len(call_jaxpr.out_avals)
    arg_dims = [0 if b else None for b in in_b[num_consts:]]
    box = {}

    def batched_fwd(args):
        def flat(*a):
            outs, res = fwd(list(a))
            box["n_res"] = len(res)
            return [_leaf(x) for x in list(outs) + list(res)]

        from .batching import vmap_flat

        outs = vmap_flat(flat, arg_dims, args, lambda n: [0] * n, axis_size)
        return outs[:n_out], outs[n_out:]

    def batched_bwd(res, cts):
        n_args = len(arg_dims)
        f = _vmapped(lambda *a: [_leaf(c) for c in bwd(list(a[:len(res)]), list(a[len(res):]))],
                     [0] * (len(res) + len(cts)), axis_size, n_args)
        outs = f(*res, *cts)
        # An unbatched argument's cotangent sums over the examples.
        from .lax.reductions import reduce_sum

        return [o if d is not None else reduce_sum(o, (0,)) for o, d in zip(outs, arg_dims)]

    outs = bind(custom_vjp_call_p, *vals, call_jaxpr=batched, fwd=_Rule(batched_fwd, fwd),
                bwd=_Rule(batched_bwd, bwd),
                num_consts=num_consts)
    return outs, [0] * n_out


ad.jvp_rules[custom_vjp_call_p] = _custom_vjp_call_jvp


class custom_vjp:
    """A function with a custom VJP (reverse-mode) rule, with JAX's semantics.

    Decorate ``f``, then call ``f.defvjp(fwd, bwd)`` with ``fwd(*args) -> (out, residuals)``
    and ``bwd(residuals, out_cotangent) -> tuple`` (one cotangent per argument, ``None`` for
    zero). grad, vjp, jacrev use ``bwd``; grad of grad differentiates ``bwd``.

    Unlike JAX, which raises there, forward mode (jvp, jacfwd, and so hessian =
    jacfwd(jacrev)) works too: where no forward rule is given funcad differentiates the
    function ``f`` itself. Values the function closes over are treated as constants.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> @fa.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (fnp.clip(g, -1.0, 1.0),))
    >>> float(fa.grad(lambda x: 3.0 * clip_gradient(x))(2.0))
    1.0
    """

    def __init__(self, fun: Callable, nondiff_argnums: tuple = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set ``fwd(*args) -> (out, residuals)`` and ``bwd(residuals, ct) -> cotangents``."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if self.fwd is None:
            raise ArgumentError(f"custom_vjp {self.__name__}: no rule defined; call "
                                "f.defvjp(fwd, bwd) before calling f.")
        dyn, fun, static = _split_static(self.fun, args, self.nondiff_argnums)
        leaves, in_tree = tree_flatten(tuple(dyn))
        leaves = [_leaf(x) for x in leaves]
        if _nothing_traced(leaves):
            return self.fun(*args)
        avals = [_aval(x) for x in leaves]
        cj, consts, out_tree = _trace_user(fun, in_tree, avals, "custom_vjp", _concrete_values(leaves))
        user_fwd, user_bwd, nondiff = self.fwd, self.bwd, self.nondiff_argnums
        name = self.__name__
        res_tree_box = {}

        def flat_fwd(flat_args):
            full = _merge_static(nondiff, static, list(tree_unflatten(in_tree, flat_args)))
            out = user_fwd(*full)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TreeStructureError(f"custom_vjp {name}: fwd must return a pair (output, residuals).")
            out_leaves, tree_o = tree_flatten(out[0])
            if tree_o != out_tree:
                raise TreeStructureError(f"custom_vjp {name}: fwd's output {tree_o} is not structured "
                                         f"like the function's output {out_tree}.")
            res_leaves, res_tree_box["tree"] = tree_flatten(out[1])
            return [_leaf(o) for o in out_leaves], [_leaf(r) for r in res_leaves]

        def flat_bwd(res, cts):
            ct = tree_unflatten(out_tree, cts)
            res_tree = tree_unflatten(res_tree_box["tree"], res)
            cts_in = user_bwd(*static, res_tree, ct) if nondiff else user_bwd(res_tree, ct)
            if not isinstance(cts_in, tuple) or len(cts_in) != len(dyn):
                got = f"a tuple of length {len(cts_in)}" if isinstance(cts_in, tuple) else type(cts_in).__name__
                raise TreeStructureError(f"custom_vjp {name}: bwd must return a tuple with one "
                                         f"cotangent per argument ({len(dyn)}), got {got}.")
            flat = []
            for c, a in zip(cts_in, dyn):
                a_leaves, a_tree = tree_flatten(a)
                if c is None:
                    flat.extend(ad.zeros_like_aval(_aval(_leaf(x))) for x in a_leaves)
                else:
                    c_leaves = tree_flatten(c)[0]
                    flat.extend(_leaf(x) for x in c_leaves)
            return flat

        outs = bind(custom_vjp_call_p, *consts, *leaves, call_jaxpr=cj, fwd=_Rule(flat_fwd, user_fwd),
                    bwd=_Rule(flat_bwd, user_bwd),
                    num_consts=len(consts))
        return tree_unflatten(out_tree, outs)


# --------------------------------------------------------------------------------------
# checkpoint (rematerialisation)

remat_p = Primitive("checkpoint", multiple_results=True)
remat_p.def_impl(lambda *args, jaxpr: _eval(jaxpr, *args))
remat_p.def_abstract_eval(lambda *avals, jaxpr: _out_avals(jaxpr))


def _remat_jvp(primals, tangents, *, jaxpr):
    nz = [type(t) is not Zero for t in tangents]
    jvp_j, out_nz = jvp_jaxpr(jaxpr, nz, False)
    outs = bind(remat_p, *primals, *_mask(tangents, nz), jaxpr=jvp_j)
    n = len(out_nz)
    return outs[:n], _merge(out_nz, outs[n:], [Zero(a) for a in _out_avals(jaxpr)])


def _remat_partial_eval(trace, args, *, jaxpr):
    # The known outputs are computed now, without residuals; the whole equation is staged,
    # so the linear program recomputes what the unknown outputs need.
    uk = [trace.is_staged(x) for x in args]
    known, _, out_uk, n_res = partial_eval_jaxpr(jaxpr, uk, False)
    from .jaxpr import ClosedJaxpr, Jaxpr

    kj = known.jaxpr
    known = ClosedJaxpr(Jaxpr(kj.constvars, kj.invars, kj.eqns, kj.outvars[:len(kj.outvars) - n_res]),
                        known.consts)
    with core.set_current_trace(trace.parent):
        known_outs = bind(remat_p, *_mask(args, uk, False), jaxpr=known)
    staged = trace.stage(remat_p, args, dict(jaxpr=jaxpr))
    return _merge(out_uk, _mask(staged, out_uk), known_outs)


def _remat_transpose(cts, *args, jaxpr):
    lin = [is_undefined(x) for x in args]
    cts = [ad.instantiate(Zero(a)) if ct is None or type(ct) is Zero else ct
           for ct, a in zip(cts, _out_avals(jaxpr))]
    t_j = transpose_jaxpr(jaxpr, lin)
    cts_lin = _eval(t_j, *_mask(args, lin, False), *cts)
    return _merge(lin, cts_lin, [None] * len(args))


def _remat_batch(axis_size, vals, dims, *, jaxpr):
    batched, out_b = batch_jaxpr(jaxpr, axis_size, [d is not None for d in dims], False)
    return bind(remat_p, *_to_front(vals, dims), jaxpr=batched), [0 if b else None for b in out_b]


ad.jvp_rules[remat_p] = _remat_jvp
ad.transpose_rules[remat_p] = _remat_transpose
partial_eval_rules[remat_p] = _remat_partial_eval


def checkpoint(fun: Callable | None = None, *, prevent_cse: bool = True, policy=None,
               static_argnums: int | Sequence[int] = ()) -> Callable:
    """``fun`` whose intermediate values reverse mode recomputes rather than stores.

    The backward pass reruns ``fun`` (rematerialisation): memory for compute, as JAX's
    ``jax.checkpoint``. ``static_argnums`` are passed through as Python values (not traced:
    ``fun`` may branch on them). ``prevent_cse`` and ``policy`` (the names of
    ``fa.checkpoint_policies``) are accepted for compatibility: whatever the policy, funcad
    recomputes everything inside, as ``nothing_saveable`` does; the values and derivatives
    are the same, only the memory/compute trade differs. Usable as a decorator with arguments.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> f = fa.checkpoint(lambda x: fnp.sin(fnp.sin(x)))
    >>> round(float(fa.grad(f)(1.0)), 6)
    0.360039
    >>> g = fa.checkpoint(lambda x, n: x ** n, static_argnums=(1,))
    >>> float(fa.grad(g)(2.0, 3))
    12.0
    """
    if fun is None:
        return lambda f: checkpoint(f, prevent_cse=prevent_cse, policy=policy,
                                    static_argnums=static_argnums)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def remat_f(*args):
        nums = {i % len(args) for i in static}
        dyn = [a for i, a in enumerate(args) if i not in nums]

        def partial(*dyn_args):
            it = iter(dyn_args)
            return fun(*[a if i in nums else next(it) for i, a in enumerate(args)])

        leaves, in_tree = tree_flatten(tuple(dyn))
        leaves = [_leaf(x) for x in leaves]
        cj, consts, out_tree = _trace_user(partial, in_tree, [_aval(x) for x in leaves], "checkpoint")
        outs = bind(remat_p, *consts, *leaves, jaxpr=cj)
        return tree_unflatten(out_tree, outs)

    return remat_f


def checkpoint_name(x, name: str):
    """Tag ``x`` with a name for a checkpoint policy (JAX's ``ad_checkpoint.checkpoint_name``);
    funcad's policies recompute everything, so this returns ``x``."""
    return x


class checkpoint_policies:
    """JAX's ``jax.checkpoint_policies`` names, accepted by :func:`checkpoint`'s ``policy=``.

    funcad recomputes everything inside a checkpoint whatever the policy (see
    :func:`checkpoint`); these exist so that code naming them runs unchanged.
    """

    @staticmethod
    def everything_saveable(*_, **__):
        return True

    @staticmethod
    def nothing_saveable(*_, **__):
        return False

    dots_saveable = checkpoint_dots = nothing_saveable
    dots_with_no_batch_dims_saveable = checkpoint_dots_with_no_batch_dims = nothing_saveable

    @staticmethod
    def save_only_these_names(*names):
        return checkpoint_policies.nothing_saveable

    @staticmethod
    def save_any_names_but_these(*names):
        return checkpoint_policies.nothing_saveable

    save_anything_except_these_names = save_any_names_but_these

    @staticmethod
    def save_from_both_policies(p1, p2):
        return checkpoint_policies.nothing_saveable

    @staticmethod
    def save_and_offload_only_these_names(*, names_which_can_be_saved=(),
                                          names_which_can_be_offloaded=(), offload_src=None,
                                          offload_dst=None):
        return checkpoint_policies.nothing_saveable


remat = checkpoint


def _register_batching_rules():
    from . import batching

    batching.primitive_batchers[custom_jvp_call_p] = _custom_jvp_call_batch
    batching.primitive_batchers[custom_vjp_call_p] = _custom_vjp_call_batch
    batching.primitive_batchers[custom_lin_p] = _custom_lin_batch
    batching.primitive_batchers[remat_p] = _remat_batch


_register_batching_rules()
del np
