"""``funcad.debug.print``: print values from inside transformed and compiled code.

Eagerly it prints at once. Under ``jit`` the compiled program prints when it runs (every
call, with that call's values), through a ``debug_print`` equation that the simplifier
keeps and the compiled program calls back into Python (a host step). Under ``grad`` it prints the primal
values (once, in the forward pass); under ``vmap`` once per example, in order.

>>> import funcad as fa, funcad.numpy as fnp
>>> def f(x):
...     fa.debug.print("x = {}, y = {y}", x, y=x * 2)
...     return x + 1
>>> _ = f(1.0)
x = 1.0, y = 2.0
>>> _ = fa.jit(f)(3.0)
x = 3.0, y = 6.0
"""

from __future__ import annotations

import numpy as np

from . import ad, batching, core
from .core import Primitive, bind, get_aval
from .tree_util import tree_flatten, tree_unflatten

__all__ = ["print", "callback"]

_builtin_print = print

debug_print_p = Primitive("debug_print", multiple_results=True)
core.EFFECTFUL.add(debug_print_p)


def _format(leaves, *, fmt, in_tree):
    args, kwargs = tree_unflatten(in_tree, [np.asarray(x) for x in leaves])
    return fmt.format(*args, **kwargs)


def _debug_print_impl(*leaves, fmt, in_tree):
    _builtin_print(_format(leaves, fmt=fmt, in_tree=in_tree), flush=True)
    return []


debug_print_p.def_impl(_debug_print_impl)
debug_print_p.def_abstract_eval(lambda *avals, fmt, in_tree: [])


def _debug_print_jvp(primals, tangents, **params):
    bind(debug_print_p, *primals, **params)  # the primal values, once
    return [], []


def _debug_print_batch(axis_size, vals, dims, **params):
    from .lax.shapes import index

    for i in range(axis_size):  # one print per example, in order (as JAX's callbacks)
        bind(debug_print_p, *[v if d is None else index(v, (slice(None),) * d + (i,))
                               for v, d in zip(vals, dims)], **params)
    return [], []


ad.jvp_rules[debug_print_p] = _debug_print_jvp
ad.transpose_rules[debug_print_p] = lambda cts, *args, **params: [None] * len(args)
batching.primitive_batchers[debug_print_p] = _debug_print_batch


def print(fmt: str, *args, ordered: bool = False, **kwargs) -> None:  # noqa: A001
    """``print(fmt.format(*args, **kwargs))`` with the values the program computes at run
    time (``jax.debug.print``); arguments are pytrees of arrays. ``ordered`` is accepted:
    funcad runs a program's prints in program order anyway.

    >>> import funcad as fa
    >>> fa.debug.print("{a} and {b}", a=1.0, b=[2.0])
    1.0 and [array(2.)]
    """
    leaves, in_tree = tree_flatten((args, kwargs))
    leaves = [x if isinstance(x, core.Tracer) else np.asarray(x) for x in leaves]
    for x in leaves:
        get_aval(x)  # a clear error for a value that is not an array
    bind(debug_print_p, *leaves, fmt=str(fmt), in_tree=in_tree)


def callback(fn, *args, **kwargs) -> None:
    """``fn(*args, **kwargs)`` on concrete values, eagerly; under a transformation use
    :func:`print` (funcad's compiled programs call back only to print)."""
    if any(isinstance(x, core.Tracer) for x in tree_flatten((args, kwargs))[0]):
        from .errors import ConcretizationError

        raise ConcretizationError(
            "funcad.debug.callback with traced arguments: funcad runs arbitrary callbacks only "
            "on concrete values. Use funcad.debug.print(fmt, *args) to show traced values.")
    fn(*args, **kwargs)
