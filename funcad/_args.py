"""The names of a call's arguments and of their leaves, and what a transformation hands back:
helpers of the user-facing wrappers (api, vmap, jit), in a module below all of them."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence

import numpy as np

from .core import Tracer
from .tree_util import tree_flatten

_POSITIONAL_NAMES: dict = {}  # code object -> its positional parameter names


def _arg_names(fun: Callable, n: int) -> list[str]:
    inner = inspect.unwrap(fun) if hasattr(fun, "__wrapped__") else fun
    if type(inner) is types.FunctionType:  # the common case, cached: inspect.signature is slow
        code = inner.__code__
        names = _POSITIONAL_NAMES.get(code)
        if names is None:
            names = _POSITIONAL_NAMES[code] = code.co_varnames[: code.co_argcount]
    else:
        try:
            params = list(inspect.signature(fun).parameters.values())
        except (TypeError, ValueError):
            params = []
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"args[{i}]" for i in range(n)]


def _leaf_paths(args: tuple, names: Sequence[str]) -> list[str]:
    """Human-readable names of each leaf, such as ``params['w']`` or ``x``."""
    out: list[str] = []

    def walk(x, path):
        leaves, tree = tree_flatten(x)
        if tree.nodetype is None:
            out.append(path)
        elif isinstance(x, dict):
            for k in sorted(x):
                walk(x[k], f"{path}[{k!r}]")
        elif isinstance(x, (list, tuple)):
            for i, c in enumerate(x):
                walk(c, f"{path}[{i}]")
        else:
            for i in range(len(leaves)):
                out.append(f"{path}.<leaf {i}>")

    for a, n in zip(args, names):
        walk(a, n)
    return out


def _to_user(x):
    """What a transformation hands back: at top level a writeable numpy.ndarray."""
    if isinstance(x, Tracer):
        return x
    arr = np.asarray(x)
    if not arr.flags.writeable:
        arr = arr.copy()
    return arr
