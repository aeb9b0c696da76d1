"""Pytrees: nested tuples, lists, dicts, None, namedtuples and registered classes.

A pytree is flattened into a list of leaves and a hashable :class:`PyTreeDef` that can
rebuild it. funcad writes its own (about 150 lines) rather than depend on optree: the
flatten on the dispatch path is special-cased for the common flat tuple of arrays, where
it is as fast as optree's C++ call; for nested trees optree is 2-4x faster, but by 1-3 us,
which does not justify a dependency (figures in docs/architecture.md).

>>> leaves, tree = tree_flatten({"w": 1.0, "b": (2.0, None)})
>>> leaves
[2.0, 1.0]
>>> tree_unflatten(tree, [20.0, 10.0])
{'b': (20.0, None), 'w': 10.0}
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterable

import numpy as np

from .errors import TreeStructureError

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
    "tree_leaves",
    "tree_structure",
]

# type -> (flatten(x) -> (children, aux), unflatten(aux, children) -> x)
_registry: dict[type, tuple[Callable, Callable]] = {}


def register_pytree_node(
    nodetype: type,
    flatten_func: Callable[[Any], tuple[Iterable, Hashable]],
    unflatten_func: Callable[[Hashable, Iterable], Any],
) -> None:
    """Teach funcad's transformations to look inside instances of ``nodetype``.

    ``flatten_func(x)`` returns ``(children, aux_data)``; ``unflatten_func(aux_data,
    children)`` rebuilds the node. ``aux_data`` must be hashable: it is part of the
    tree structure (and so of jit's cache key).

    >>> class Point:
    ...     def __init__(self, x, y): self.x, self.y = x, y
    >>> register_pytree_node(Point, lambda p: ((p.x, p.y), None),
    ...                      lambda aux, ch: Point(*ch))
    """
    _registry[nodetype] = (flatten_func, unflatten_func)


register_pytree_node(tuple, lambda t: (t, None), lambda _, ch: tuple(ch))
register_pytree_node(list, lambda t: (t, None), lambda _, ch: list(ch))
register_pytree_node(type(None), lambda t: ((), None), lambda _, ch: None)


def _dict_flatten(d):
    keys = sorted(d)
    return [d[k] for k in keys], tuple(keys)


register_pytree_node(dict, _dict_flatten, lambda keys, ch: dict(zip(keys, ch)))
register_pytree_node(
    OrderedDict,
    lambda d: (list(d.values()), tuple(d)),
    lambda keys, ch: OrderedDict(zip(keys, ch)),
)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


class PyTreeDef:
    """The structure of a pytree: a node type, its aux data and child structures."""

    __slots__ = ("nodetype", "aux", "children", "num_leaves", "_hash")

    def __init__(self, nodetype, aux, children: tuple[PyTreeDef, ...]):
        self.nodetype = nodetype  # None marks a leaf
        self.aux = aux
        self.children = children
        self.num_leaves = 1 if nodetype is None else sum(c.num_leaves for c in children)
        self._hash = hash((nodetype, aux, children))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return (
            isinstance(other, PyTreeDef)
            and self._hash == other._hash
            and self.nodetype is other.nodetype
            and self.aux == other.aux
            and self.children == other.children
        )

    def __repr__(self):
        return f"PyTreeDef({self._describe()})"

    def _describe(self) -> str:
        if self.nodetype is None:
            return "*"
        inner = ", ".join(c._describe() for c in self.children)
        if self.nodetype is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.nodetype is list:
            return f"[{inner}]"
        if self.nodetype is dict:
            return "{" + ", ".join(f"{k!r}: {c._describe()}" for k, c in zip(self.aux, self.children)) + "}"
        if self.nodetype is type(None):
            return "None"
        return f"{self.nodetype.__name__}({inner})"

    def unflatten(self, leaves):
        return tree_unflatten(self, leaves)


LEAF = PyTreeDef(None, None, ())


def _flatten(x, leaves: list, is_leaf) -> PyTreeDef:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return LEAF
    nodetype = type(x)
    entry = _registry.get(nodetype)
    if entry is None:
        if _is_namedtuple(x):
            children = tuple(_flatten(c, leaves, is_leaf) for c in x)
            return PyTreeDef(nodetype, None, children)
        leaves.append(x)
        return LEAF
    kids, aux = entry[0](x)
    children = tuple(_flatten(c, leaves, is_leaf) for c in kids)
    return PyTreeDef(nodetype, aux, children)


def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """Flatten ``tree`` into ``(leaves, treedef)``; dict keys are visited in sorted order."""
    if type(tree) is tuple and is_leaf is None:  # fast path: a flat tuple of arrays (arguments)
        for x in tree:
            if type(x) is not np.ndarray:
                break
        else:
            return list(tree), _flat_tuple_def(len(tree))
    leaves: list = []
    return leaves, _flatten(tree, leaves, is_leaf)


_FLAT_TUPLE_DEFS: dict[int, PyTreeDef] = {}


def _flat_tuple_def(n: int) -> PyTreeDef:
    treedef = _FLAT_TUPLE_DEFS.get(n)
    if treedef is None:
        treedef = _FLAT_TUPLE_DEFS[n] = PyTreeDef(tuple, None, (LEAF,) * n)
    return treedef


def _unflatten(treedef: PyTreeDef, it):
    if treedef.nodetype is None:
        return next(it)
    children = [_unflatten(c, it) for c in treedef.children]
    if treedef.nodetype in _registry:
        return _registry[treedef.nodetype][1](treedef.aux, children)
    return treedef.nodetype(*children)  # namedtuple


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable):
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    leaves = list(leaves)
    if treedef.nodetype is tuple and len(leaves) == len(treedef.children) and \
            treedef is _FLAT_TUPLE_DEFS.get(len(leaves)):
        return tuple(leaves)
    if len(leaves) != treedef.num_leaves:
        raise TreeStructureError(
            f"tree_unflatten: the structure {treedef} has {treedef.num_leaves} leaves, "
            f"but {len(leaves)} were given."
        )
    return _unflatten(treedef, iter(leaves))


def tree_leaves(tree, is_leaf=None) -> list:
    """The leaves of ``tree``, in flattening order."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None) -> PyTreeDef:
    """The :class:`PyTreeDef` of ``tree``."""
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf=None):
    """Apply ``f`` leafwise to ``tree`` (and to the matching leaves of ``rest``).

    >>> tree_map(lambda x, y: x + y, (1, [2]), (10, [20]))
    (11, [22])
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = []
    for r in rest:
        r_leaves, r_def = tree_flatten(r, is_leaf)
        if r_def != treedef:
            raise TreeStructureError(
                f"tree_map: the trees have different structures: {treedef} and {r_def}."
            )
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    return treedef.nodetype is None
