"""``funcad.autograd.test_util``: autograd's ``check_grads(fun, modes, order)(*args)``, its
``check_vjp``/``check_jvp`` and ``combo_check``, on funcad.test_util's finite differences.

>>> import funcad.autograd.numpy as np
>>> from funcad.autograd.test_util import check_grads
>>> check_grads(np.tanh, modes=["fwd", "rev"], order=2)(0.5)
"""

from __future__ import annotations

import itertools

from ..test_util import check_grads as _check_grads

__all__ = ["check_grads", "check_vjp", "check_jvp", "combo_check"]


def check_grads(f, x=None, modes=("fwd", "rev"), order=2):
    """``check_grads(f, modes, order)(*args)`` (autograd's form), or ``check_grads(f, x)``
    for one argument; raises AssertionError where a derivative disagrees with finite
    differences."""
    def check(*args):
        _check_grads(f, args, order=order, modes=tuple(modes))

    if x is not None:
        return check(x)
    return check


def check_vjp(f, x):
    """Reverse mode of ``f`` at ``x`` against finite differences."""
    _check_grads(f, (x,), order=1, modes=("rev",))


def check_jvp(f, x):
    """Forward mode of ``f`` at ``x`` against finite differences."""
    _check_grads(f, (x,), order=1, modes=("fwd",))


def combo_check(fun, *check_args, **check_kwargs):
    """``combo_check(fun, modes=..., order=...)(xs0, xs1, ..., kw=[...])``: check_grads of
    ``fun`` at every combination of the listed positional values (differentiated) and
    keyword values (held fixed)."""
    def _combo_check(*arg_lists, **kwarg_lists):
        kw_items = [[(k, v) for v in vs] for k, vs in kwarg_lists.items()]
        for args in itertools.product(*arg_lists):
            for kws in itertools.product(*kw_items):
                kw = dict(kws)
                check_grads(lambda *a, _kw=kw: fun(*a, **_kw), *check_args, **check_kwargs)(*args)

    return _combo_check
