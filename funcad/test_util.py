"""Testing helpers: ``check_grads`` checks derivatives against finite differences.

In autograd's sense (and with JAX's signature): for random directions, forward mode
(``jvp``) must match a central finite difference, and reverse mode (``vjp``) must satisfy
``<vjp(ct), v> == <ct, J v>`` with ``J v`` from finite differences. For ``order > 1`` the
check recurses on the derivative functions themselves, ``(x, v) -> jvp(f, x, v)`` and
``(x, ct) -> vjp(f, x)(ct)``, so second-order rules (the derivatives of the rules) are
checked too.

Complex inputs and outputs are checked as autograd and JAX check them: directions perturb
the real and imaginary parts together (``v`` has random real and imaginary parts) and the
reverse check uses the real pairing ``Re(sum(a * b))`` of funcad's (JAX's) convention, under
which the transpose of a linear map is linear, not conjugate-linear.

>>> import funcad.numpy as fnp
>>> check_grads(fnp.sin, (0.5,), order=2)
>>> check_grads(lambda d: fnp.sum(d["w"] * d["b"]), ({"w": fnp.ones(3), "b": fnp.arange(3.0)},))
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import api
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["check_grads", "check_jvp", "check_vjp", "check_vmap", "numerical_jvp"]

# (eps, atol, rtol) by dtype, as in JAX's check_grads.
_DEFAULTS = {np.dtype(np.float64): (1e-6, 1e-5, 1e-5), np.dtype(np.float32): (1e-3, 2e-2, 2e-2),
             np.dtype(np.float16): (1e-2, 1e-1, 1e-1)}


def _flat_float_fun(f: Callable, args: Sequence):
    """``f`` as a function of the float and complex leaves of ``args`` only, returning its
    flat outputs.

    Other leaves (integer indices, flags) are held fixed; they have no derivative.
    """
    leaves, tree = tree_flatten(tuple(args))
    leaves = [np.asarray(x) if not hasattr(x, "aval") else x for x in leaves]
    is_float = [np.asarray(x).dtype.kind in "fc" if not hasattr(x, "aval") else x.dtype.kind in "fc"
                for x in leaves]
    x0 = [x for x, fl in zip(leaves, is_float) if fl]
    out_tree_box = []

    def flat(*xs):
        it = iter(xs)
        full = [next(it) if fl else x for x, fl in zip(leaves, is_float)]
        out = f(*tree_unflatten(tree, full))
        out_leaves, out_tree = tree_flatten(out)
        if not out_tree_box:
            out_tree_box.append(out_tree)
        return tuple(out_leaves)

    return flat, x0


def _dtype_defaults(xs, eps, atol, rtol):
    dts = [np.finfo(np.asarray(x).dtype).dtype for x in xs] or [np.dtype(np.float64)]
    worst = min(dts, key=lambda d: d.itemsize)
    d_eps, d_atol, d_rtol = _DEFAULTS.get(worst, _DEFAULTS[np.dtype(np.float64)])
    return (d_eps if eps is None else eps, d_atol if atol is None else atol,
            d_rtol if rtol is None else rtol)


def _randn_like(rng, xs):
    """Random directions shaped like ``xs``: complex ones move real and imaginary parts."""
    out = []
    for x in xs:
        dt = np.asarray(x).dtype
        v = rng.standard_normal(np.shape(x))
        if dt.kind == "c":
            v = v + 1j * rng.standard_normal(np.shape(x))
        out.append(v.astype(dt))
    return tuple(out)


def _axpy(a, xs, ys):
    return tuple(np.asarray(x + a * y, dtype=np.asarray(x).dtype) for x, y in zip(xs, ys))


def _wide(x):
    """``x`` as float64, or complex128 if it is complex."""
    x = np.asarray(x)
    return x.astype(np.complex128 if x.dtype.kind == "c" else np.float64)


def _inner(xs, ys) -> float:
    """The real pairing ``Re(sum(x * y))`` (no conjugate) that transposes are adjoints for."""
    return float(sum(np.real(np.sum(_wide(x) * _wide(y))) for x, y in zip(xs, ys)))


def numerical_jvp(flat: Callable, xs: tuple, vs: tuple, eps: float) -> tuple:
    """The central difference ``(f(x + eps v) - f(x - eps v)) / (2 eps)`` for each output."""
    plus = flat(*_axpy(eps, xs, vs))
    minus = flat(*_axpy(-eps, xs, vs))
    return tuple((_wide(p) - _wide(m)) / (2 * eps) for p, m in zip(plus, minus))


def _assert_close(actual, expected, atol, rtol, what):
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(_wide(a), _wide(e), atol=atol, rtol=rtol,
                                   err_msg=f"{what}, output {i}")


def check_jvp(flat: Callable, xs: tuple, rng, eps: float, atol: float, rtol: float, name="f"):
    """Forward mode of the flat function ``flat`` against a finite difference, at ``xs``."""
    vs = _randn_like(rng, xs)
    _, out_dot = api.jvp(flat, xs, vs)
    expected = numerical_jvp(flat, xs, vs, eps)
    _assert_close(out_dot, expected, atol, rtol, f"check_grads: jvp of {name} disagrees with "
                  "finite differences")


def check_vjp(flat: Callable, xs: tuple, rng, eps: float, atol: float, rtol: float, name="f"):
    """Reverse mode: ``<vjp(ct), v>`` against ``<ct, finite-difference J v>``, at ``xs``."""
    vs = _randn_like(rng, xs)
    out, vjp_fn = api.vjp(flat, *xs)
    cts = _randn_like(rng, out)
    ct_in = vjp_fn(tuple(cts))
    jv = numerical_jvp(flat, xs, vs, eps)
    lhs, rhs = _inner(ct_in, vs), _inner(cts, jv)
    scale = max(1.0, abs(rhs))
    if not abs(lhs - rhs) <= atol * scale + rtol * abs(rhs):
        raise AssertionError(
            f"check_grads: vjp of {name} disagrees with finite differences: <vjp(ct), v> = {lhs!r} "
            f"but <ct, J v> = {rhs!r} (difference {abs(lhs - rhs):.3g})")


def _check_flat(flat, xs, order, modes, rng, eps, atol, rtol, name):
    if "fwd" in modes:
        check_jvp(flat, xs, rng, eps, atol, rtol, name)
        if order > 1:
            n = len(xs)

            def jvp_f(*xv):
                return tuple(api.jvp(flat, xv[:n], xv[n:])[1])

            _check_flat(jvp_f, xs + _randn_like(rng, xs), order - 1, modes, rng, eps, atol, rtol,
                        f"jvp({name})")
    if "rev" in modes:
        check_vjp(flat, xs, rng, eps, atol, rtol, name)
        if order > 1:
            n = len(xs)
            cts = _randn_like(rng, flat(*xs))

            def vjp_f(*xc):
                return tuple(api.vjp(flat, *xc[:n])[1](tuple(xc[n:])))

            _check_flat(vjp_f, xs + cts, order - 1, modes, rng, eps, atol, rtol, f"vjp({name})")


def check_grads(f: Callable, args: Sequence, order: int = 2, modes: Sequence[str] = ("fwd", "rev"),
                eps: float | None = None, atol: float | None = None, rtol: float | None = None,
                seed: int = 0) -> None:
    """Check ``f``'s derivatives at ``args`` against finite differences; raise AssertionError if wrong.

    ``args`` is a tuple of arguments (pytrees of arrays); derivatives are taken with respect to
    every floating-point and complex leaf (integer leaves are held fixed; complex leaves are
    perturbed in their real and imaginary parts). ``order`` is how many times to
    differentiate, ``modes`` which of forward ("fwd", via jvp) and reverse ("rev", via vjp) to
    check, recursively. ``eps`` is the finite-difference step; ``atol``/``rtol`` the tolerance
    (defaults by dtype: 1e-6 and 1e-5 for float64).

    >>> import funcad.numpy as fnp
    >>> check_grads(lambda x, y: x * fnp.exp(y), (2.0, fnp.ones(3)), order=2)
    """
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'")
    if not isinstance(args, (tuple, list)):
        raise TypeError("check_grads: args must be a tuple of arguments, e.g. check_grads(f, (x,))")
    flat, xs = _flat_float_fun(f, args)
    eps, atol, rtol = _dtype_defaults(xs, eps, atol, rtol)
    name = getattr(f, "__name__", "f")
    _check_flat(flat, tuple(xs), order, tuple(modes), np.random.default_rng(seed), eps, atol, rtol, name)


# --------------------------------------------------------------------------------------
# check_vmap: vmap against a Python loop over slices


def check_vmap(f: Callable, args: Sequence, in_axes=0, out_axes=0, atol: float | None = None,
               rtol: float | None = None) -> None:
    """Check ``vmap(f, in_axes, out_axes)(*args)`` against a Python loop over the slices.

    The loop calls ``f`` (eagerly) on each slice of the mapped arguments, taken along their
    ``in_axes``, and stacks the results along ``out_axes``; shapes, dtypes and values must
    match (tolerances by dtype: 1e-12 for float64, 1e-5 for float32, relative and absolute).

    >>> import funcad.numpy as fnp
    >>> check_vmap(fnp.dot, (fnp.ones((4, 3)), fnp.arange(3.0)), in_axes=(0, None))
    """
    from .batching import broadcast_prefix
    from .batching import vmap as _vmap

    args = tuple(args)
    batched = _vmap(f, in_axes, out_axes)(*args)
    leaves, tree = tree_flatten(args)
    dims = broadcast_prefix(in_axes if isinstance(in_axes, tuple | list) else (in_axes,) * len(args),
                            args, "in_axes", "arguments")
    size = next(np.shape(x)[d] for x, d in zip(leaves, dims) if d is not None)
    rows = []
    for i in range(size):
        sliced = [x if d is None else np.take(np.asarray(x), i, axis=d) for x, d in zip(leaves, dims)]
        rows.append(f(*tree_unflatten(tree, sliced)))
    out_leaves, out_tree = tree_flatten(batched)
    row_leaves = [tree_flatten(r)[0] for r in rows]
    if any(tree_flatten(r)[1] != out_tree for r in rows):
        raise AssertionError(f"check_vmap: vmap's output structure {out_tree} differs from f's "
                             f"{tree_flatten(rows[0])[1]}")
    o_dims = broadcast_prefix(out_axes, batched, "out_axes", "output")
    for k, (b, od) in enumerate(zip(out_leaves, o_dims)):
        expected = np.asarray(row_leaves[0][k]) if od is None else \
            np.stack([np.asarray(r[k]) for r in row_leaves], axis=od)
        b = np.asarray(b)
        if b.shape != expected.shape or b.dtype != expected.dtype:
            raise AssertionError(f"check_vmap: output {k} has shape {b.shape} and dtype {b.dtype} "
                                 f"under vmap, but {expected.shape} and {expected.dtype} by the loop")
        tol = 1e-5 if b.dtype in (np.float32, np.float16) else 1e-12
        np.testing.assert_allclose(b, expected, rtol=tol if rtol is None else rtol,
                                   atol=tol if atol is None else atol,
                                   err_msg=f"check_vmap: output {k} of vmap differs from the loop")
