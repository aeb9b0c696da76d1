"""Sparse Jacobians and Hessians: detect the pattern, colour it, evaluate compressed.

``sparse_jacobian(f)(x)`` finds the Jacobian's pattern from the jaxpr
(:func:`funcad.sparsity.jacobian_sparsity`), colours its columns and its rows
(:mod:`funcad.coloring`), and evaluates ``J @ S`` by one JVP per column colour (or ``S.T @ J``
by one VJP per row colour, whichever needs fewer), all colours in one pass batched with
:func:`funcad.vmap`; the nonzeros are then read off into a CSR matrix. ``sparse_hessian``
does the same with a star coloring of the symmetric pattern and one Hessian-vector product
per colour (forward over reverse: one linearization of the gradient, then a batched linear
pass). Pattern, coloring and seed matrix are computed once per input signature (shapes,
dtypes, and the values of integer/boolean arguments not differentiated) and kept on the
returned function (``.cache``); later calls only evaluate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from . import api, coloring, sparsity
from ._lazy import LazyModule
from .core import get_aval
from .errors import NonScalarObjectiveError
from .tree_util import tree_flatten, tree_unflatten

sp = LazyModule("scipy.sparse")

__all__ = ["sparse_jacobian", "sparse_hessian"]


class _Plan:
    """What is worked out once per signature: the pattern, the colours, the seed matrix."""

    __slots__ = ("pattern", "colors", "seed", "reverse", "seconds", "take")

    def __init__(self, pattern, colors, reverse, seconds):
        self.pattern, self.colors, self.reverse, self.seconds = pattern, colors, reverse, seconds
        self.seed = coloring.seed_matrix(colors)
        self.take = None if reverse is not None else coloring.symmetric_take(
            pattern, colors, self.seed.shape[1])

    num_colors = property(lambda self: self.seed.shape[1])

    def __repr__(self):
        m, n = self.pattern.shape
        how = "VJPs" if self.reverse else ("HVPs" if self.reverse is None else "JVPs")
        return (f"<{m}x{n} pattern, nnz={self.pattern.nnz}, {self.num_colors} colours "
                f"({self.num_colors} {how}), found in {self.seconds:.3g} s>")


def _split(fun, argnums, args, kwargs, name):
    """``(f_flat, x_flat, key)``: ``f_flat(v, args, kwargs)`` is ``fun`` with the arguments in
    argnums taken from the vector ``v``; ``key`` is the signature plans are cached by."""
    nums = api._normalize_argnums(argnums, len(args), name)
    leaves, tree = tree_flatten(tuple(args[i] for i in nums))
    leaves = [np.asarray(x) for x in leaves]
    paths = api._leaf_paths(tuple(args[i] for i in nums), [f"argument {i}" for i in nums])
    api._require_float(leaves, paths, name)
    shapes = [x.shape for x in leaves]
    x_flat = np.concatenate([x.ravel() for x in leaves]) if leaves else np.zeros(0)

    def f_flat(v, args, kwargs):
        from . import numpy as fnp

        parts, start = [], 0
        for shape in shapes:
            k = int(np.prod(shape, dtype=np.int64))
            parts.append(fnp.reshape(v[start:start + k], shape))
            start += k
        full = list(args)
        for i, a in zip(nums, tree_unflatten(tree, parts)):
            full[i] = a
        return fun(*full, **kwargs)

    other = [x for i, a in enumerate(args) if i not in nums for x in tree_flatten(a)[0]]
    other += tree_flatten(kwargs)[0]
    key = (tuple(get_aval(x) for x in leaves), tuple(get_aval(x) for x in other),
           tuple(np.asarray(x).tobytes() for x in other if get_aval(x).dtype.kind in "biu"),
           tuple(sorted(kwargs)), tuple(np.asarray(x).tobytes() for x in tree_flatten(kwargs)[0]))
    return f_flat, x_flat, key


def _ravel_out(f):
    from . import numpy as fnp

    def g(*args, **kwargs):
        outs = tree_flatten(f(*args, **kwargs))[0]
        return fnp.concatenate([fnp.ravel(o) for o in outs]) if len(outs) > 1 else fnp.ravel(outs[0])

    return g


def _cached_plan(cache, key, make):
    plan = cache.get(key)
    if plan is None:
        if len(cache) > 32:
            cache.clear()
        plan = cache[key] = make()
    return plan


def sparse_jacobian(fun: Callable, argnums: int | Sequence[int] = 0, *, jit: bool = False,
                    mode: str = "global", order: str = "largest_first"):
    """The Jacobian of ``fun`` as a ``scipy.sparse`` CSR matrix, by compressed evaluation.

    Rows are the outputs' elements (flattened, leaves in order), columns the elements of the
    arguments in ``argnums`` (flattened, in order). The pattern comes from the jaxpr
    (``mode`` as in :func:`funcad.jacobian_sparsity`; a ``"local"`` pattern is only valid near
    the first input it was found at), then one JVP per column colour or one VJP per row colour,
    whichever is fewer. ``jit=True`` compiles the compressed evaluation with :func:`funcad.jit`
    (worth it for repeated calls on large inputs). ``.cache`` holds the plan per signature.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> J = fa.sparse_jacobian(lambda x: x[1:] ** 2 - x[:-1])(fnp.arange(4.0))
    >>> J.toarray()
    array([[-1.,  2.,  0.,  0.],
           [ 0., -1.,  4.,  0.],
           [ 0.,  0., -1.,  6.]])
    """
    sparsity._check_mode(mode, "sparse_jacobian")
    cache: dict = {}

    @functools.wraps(fun)
    def sparse_jacobian_f(*args, **kwargs):
        f_flat, x, key = _split(fun, argnums, args, kwargs, "sparse_jacobian")
        g = _ravel_out(lambda v: f_flat(v, args, kwargs))

        def make():
            import time

            t = time.perf_counter()
            P = sparsity.jacobian_sparsity(_ravel_out(fun), argnums, mode=mode)(*args, **kwargs)
            cols, rows = coloring.color_columns(P, order), coloring.color_rows(P, order)
            reverse = rows.max(initial=-1) < cols.max(initial=-1)
            return _Plan(P, rows if reverse else cols, reverse, time.perf_counter() - t)

        plan = _cached_plan(cache, key, make)
        seeds = plan.seed.T.astype(x.dtype)
        if jit:
            ev = _evaluator(cache, ("jac", key), lambda: _jac_jitted(f_flat, plan.reverse))
            B = np.asarray(ev(x, seeds, args, kwargs))
        else:
            B = np.asarray(_jac_compressed(g, plan.reverse)(x, seeds))
        if plan.reverse:
            return coloring.decompress_rows(plan.pattern, plan.colors, B)
        return coloring.decompress_columns(plan.pattern, plan.colors, B.T)

    sparse_jacobian_f.cache = cache
    return sparse_jacobian_f


def _evaluator(cache, key, make):
    ev = cache.get(key)
    if ev is None:
        ev = cache[key] = make()
    return ev


def _jac_jitted(f_flat, reverse):
    from .jit import jit

    return jit(lambda x, seeds, args, kwargs: _jac_compressed(
        _ravel_out(lambda v: f_flat(v, args, kwargs)), reverse)(x, seeds))


def _jac_compressed(g, reverse):
    from .batching import vmap

    if reverse:
        def ev(x, seeds):  # seeds: (k, m)
            _, pull = api.vjp(g, x)
            return vmap(lambda s: pull(s)[0])(seeds)
    else:
        def ev(x, seeds):  # seeds: (k, n) -> (k, m)
            return vmap(lambda s: api.jvp(g, (x,), (s,))[1])(seeds)
    return ev


def sparse_hessian(fun: Callable, argnums: int | Sequence[int] = 0, *, jit: bool = False,
                   mode: str = "global", order: str = "natural"):
    """The Hessian of scalar ``fun`` as a symmetric ``scipy.sparse`` CSR matrix.

    Rows and columns are the elements of the arguments in ``argnums`` (flattened, in order).
    The pattern comes from the jaxpr (:func:`funcad.hessian_sparsity`), a star coloring of it
    (:func:`funcad.coloring.color_star`) gives one Hessian-vector product per colour, all
    in one batched pass after one linearization of the gradient, and each nonzero is read off
    directly. ``jit=True`` compiles that evaluation; ``.cache`` holds the plan per signature.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> rosen = lambda x: fnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    >>> H = fa.sparse_hessian(rosen)(fnp.ones(4))
    >>> H.toarray()
    array([[ 802., -400.,    0.,    0.],
           [-400., 1002., -400.,    0.],
           [   0., -400., 1002., -400.],
           [   0.,    0., -400.,  200.]])
    >>> sparse_hessian_f = fa.sparse_hessian(rosen); _ = sparse_hessian_f(fnp.ones(1000))
    >>> next(iter(sparse_hessian_f.cache.values())).num_colors
    3
    """
    sparsity._check_mode(mode, "sparse_hessian")
    cache: dict = {}

    @functools.wraps(fun)
    def sparse_hessian_f(*args, **kwargs):
        f_flat, x, key = _split(fun, argnums, args, kwargs, "sparse_hessian")
        scalar = _scalar(lambda v: f_flat(v, args, kwargs), "sparse_hessian", fun)
        plan = _cached_plan(cache, key, lambda: _hessian_plan(
            sparsity.hessian_sparsity(fun, argnums, mode=mode), args, kwargs, order))
        seeds = plan.seed.T.astype(x.dtype)
        if jit:
            ev = _evaluator(cache, ("hess", key), lambda: _hvps_jitted(f_flat, fun))
            B = np.asarray(ev(x, seeds, args, kwargs))
        else:
            B = np.asarray(_hvps_linearized(scalar, x, seeds))
        return coloring.decompress_symmetric(plan.pattern, plan.colors, B.T, plan.take)

    sparse_hessian_f.cache = cache
    return sparse_hessian_f


def _scalar(f, name, fun):
    def scalar(v):
        out = f(v)
        shape = get_aval(out).shape if not isinstance(out, (tuple, list, dict)) else "a pytree"
        if shape != ():
            raise NonScalarObjectiveError(
                f"{name}: {api._fun_name(fun)} must return a scalar, but it returned "
                f"{'shape ' + str(shape) if shape != 'a pytree' else shape}. Sum it, or take "
                "the sparse_jacobian of its gradient.")
        return out

    return scalar


def _hessian_plan(detect, args, kwargs, order):
    """The pattern (with its diagonal) and star coloring. ``detect`` runs on the arguments
    themselves: float arguments not differentiated count as unknown, so the plan holds for
    any of their values (the cache keys on their shapes only)."""
    import time

    t = time.perf_counter()
    P = detect(*args, **kwargs)
    P = (P + sp.identity(P.shape[0], dtype=bool, format="csr")).tocsr()  # keep the diagonal
    return _Plan(P, coloring.color_star(P, order), None, time.perf_counter() - t)


def _hvps_jitted(f_flat, fun):
    from .batching import vmap
    from .jit import jit

    def hvps(x, seeds, args, kwargs):  # forward over reverse, batched over the colours
        f = _scalar(lambda v: f_flat(v, args, kwargs), "sparse_hessian", fun)
        return vmap(lambda s: api.jvp(api.grad(f), (x,), (s,))[1])(seeds)

    return jit(hvps)


def _hvps_linearized(scalar, x, seeds):
    """``H(x) @ s`` for each row ``s`` of ``seeds``: the gradient linearized once, then one
    batched pass of the linear map."""
    from .batching import vmap
    from .jaxpr import eval_jaxpr
    from .second_order import _linearized_hvp_flat

    _, _, jaxpr, consts = _linearized_hvp_flat(scalar, x)
    return vmap(lambda s: eval_jaxpr(jaxpr, consts, s)[0])(seeds)


class _HessianEvaluator:
    """``x -> (value, gradient, sparse Hessian)`` of ``f(x, *args)`` for a flat ``x``, with the
    plan made at the first call (what :func:`funcad.optimize.newton` uses)."""

    def __init__(self, f, args, jit: bool):
        self.f, self.args, self.jit, self.plan, self._jitted = f, tuple(args), jit, None, None

    def __call__(self, x):
        def scalar(v):
            return self.f(v, *self.args)

        if self.plan is None:
            self.plan = _hessian_plan(sparsity.hessian_sparsity(scalar), (x,), {}, "natural")
        seeds = self.plan.seed.T.astype(x.dtype)
        if self.jit:
            if self._jitted is None:
                from .batching import vmap
                from .jit import jit

                def vgh(x, seeds, args):
                    def f(v):
                        return self.f(v, *args)

                    val, g = api.value_and_grad(f)(x)
                    return val, g, vmap(lambda s: api.jvp(api.grad(f), (x,), (s,))[1])(seeds)

                self._jitted = jit(vgh)
            val, g, B = self._jitted(x, seeds, self.args)
        else:
            from .batching import vmap
            from .jaxpr import eval_jaxpr
            from .second_order import _linearized_hvp_flat

            val, g, jaxpr, consts = _linearized_hvp_flat(scalar, x)
            B = vmap(lambda s: eval_jaxpr(jaxpr, consts, s)[0])(seeds)
        H = coloring.decompress_symmetric(self.plan.pattern, self.plan.colors, np.asarray(B).T,
                                          self.plan.take)
        return val, g, H
