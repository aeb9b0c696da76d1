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

import dataclasses
import functools
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterable, NamedTuple

import numpy as np

from .errors import TreeStructureError

__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_dataclass",
    "register_static",
    "Partial",
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
    "tree_leaves",
    "tree_structure",
    "tree_reduce",
    "tree_all",
    "tree_transpose",
    "tree_flatten_with_path",
    "tree_leaves_with_path",
    "tree_map_with_path",
    "keystr",
    "SequenceKey",
    "DictKey",
    "GetAttrKey",
    "FlattenedIndexKey",
    "all_leaves",
    "treedef_is_leaf",
    "treedef_children",
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
        try:
            self._hash = hash((nodetype, aux, children))
        except TypeError:  # unhashable aux data (a list, a dict), as JAX accepts: == still compares it
            self._hash = hash((nodetype, type(aux), children))

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
    """Flatten ``tree`` into ``(leaves, treedef)``; dict keys are visited in sorted order.

    ``is_leaf(node)`` returning True stops the descent there: the node is one leaf.
    """
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
    """Whether ``treedef`` is the structure of a single leaf."""
    return treedef.nodetype is None


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The child structures of ``treedef``'s root node."""
    return list(treedef.children)


def all_leaves(iterable, is_leaf=None) -> bool:
    """Whether every element of ``iterable`` is a leaf (JAX's ``tree_util.all_leaves``)."""
    return all(treedef_is_leaf(tree_structure(x, is_leaf)) for x in iterable)


# --------------------------------------------------------------------------------------
# Reductions over leaves


_NO_INIT = object()


def tree_reduce(function: Callable, tree, initializer=_NO_INIT, is_leaf=None):
    """``functools.reduce(function, tree_leaves(tree), initializer)``.

    >>> tree_reduce(lambda a, b: a + b, {"a": 1, "b": (2, 3)})
    6
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INIT:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree, *, is_leaf=None) -> bool:
    """Whether every leaf is true (``all(tree_leaves(tree))``).

    >>> tree_all({"a": True, "b": (1, 0)})
    False
    """
    return all(tree_leaves(tree, is_leaf))


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose):
    """Turn a tree of structure ``outer(inner)`` into ``inner(outer)``; ``inner_treedef``
    None infers it from the first outer leaf.

    >>> tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3, 4)])
    ([1, 3], [2, 4])
    """
    if inner_treedef is None:
        outer_children = outer_treedef.flatten_up_to(pytree_to_transpose)
        inner_treedef = tree_structure(outer_children[0]) if outer_children else LEAF
    flat = tree_leaves(pytree_to_transpose)
    n_in, n_out = inner_treedef.num_leaves, outer_treedef.num_leaves
    if len(flat) != n_in * n_out:
        raise TreeStructureError(
            f"tree_transpose: the tree has {len(flat)} leaves, but the outer structure "
            f"{outer_treedef} ({n_out} leaves) of inner structures {inner_treedef} ({n_in} leaves) "
            f"needs {n_in * n_out}.")
    groups = [flat[i * n_in:(i + 1) * n_in] for i in range(n_out)]
    return tree_unflatten(inner_treedef, [tree_unflatten(outer_treedef, list(col))
                                          for col in zip(*groups)])


def _flatten_up_to(self: PyTreeDef, tree) -> list:
    """The subtrees of ``tree`` at the leaves of this structure (a prefix of the tree's)."""
    out: list = []

    def walk(td, x):
        if td.nodetype is None:
            out.append(x)
            return
        kids, aux = _node_children(x)
        if type(x) is not td.nodetype and not (td.nodetype is tuple and _is_namedtuple(x)):
            raise TreeStructureError(f"flatten_up_to: expected a {td.nodetype.__name__} node, "
                                     f"got {type(x).__name__} in {tree!r:.80}.")
        if len(kids) != len(td.children):
            raise TreeStructureError(f"flatten_up_to: a {td.nodetype.__name__} node with "
                                     f"{len(kids)} children where {len(td.children)} were expected.")
        for c, k in zip(td.children, kids):
            walk(c, k)

    walk(self, tree)
    return out


PyTreeDef.flatten_up_to = _flatten_up_to
PyTreeDef.num_nodes = property(lambda self: 1 + sum(c.num_nodes for c in self.children))
PyTreeDef.node_data = lambda self: None if self.nodetype is None else (self.nodetype, self.aux)


def _node_children(x):
    entry = _registry.get(type(x))
    if entry is not None:
        kids, aux = entry[0](x)
        return list(kids), aux
    if _is_namedtuple(x):
        return list(x), None
    return [], None


# --------------------------------------------------------------------------------------
# Registering classes


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: register ``cls`` with its ``tree_flatten(self) -> (children, aux)``
    method and ``tree_unflatten(cls, aux, children)`` classmethod (JAX's protocol).

    >>> @register_pytree_node_class
    ... class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    ...     def tree_flatten(self): return (self.a, self.b), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children): return cls(*children)
    >>> tree_leaves(Pair(1.0, (2.0, 3.0)))
    [1.0, 2.0, 3.0]
    """
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable, unflatten_func: Callable,
                              flatten_func: Callable | None = None) -> None:
    """Register ``nodetype`` with ``flatten_with_keys(x) -> ([(key, child), ...], aux)``, so that
    :func:`tree_flatten_with_path` names its children by ``key``."""

    def flatten(x):
        pairs, aux = flatten_with_keys(x)
        return [c for _, c in pairs], aux

    register_pytree_node(nodetype, flatten_func or flatten, unflatten_func)
    _key_registry[nodetype] = lambda x: [k for k, _ in flatten_with_keys(x)[0]]


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: as :func:`register_pytree_node_class`, with ``tree_flatten_with_keys``."""
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              getattr(cls, "tree_flatten", None))
    return cls


def register_dataclass(nodetype: type | None = None, data_fields: Iterable[str] | None = None,
                       meta_fields: Iterable[str] | None = None, drop_fields: Iterable[str] = ()):
    """Register a dataclass: ``data_fields`` are children (arrays, traced), ``meta_fields``
    are static (part of the structure: hashable). Without the lists, a dataclass's fields are
    data except those declared ``field(metadata=dict(static=True))``. A decorator too.

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Params:
    ...     w: Any
    ...     b: Any
    ...     name: str = dataclasses.field(default="layer", metadata=dict(static=True))
    >>> tree_leaves(Params(1.0, 2.0))
    [1.0, 2.0]
    """
    if nodetype is None:
        return lambda cls: register_dataclass(cls, data_fields, meta_fields, drop_fields)
    if data_fields is None or meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"register_dataclass: {nodetype.__name__} is not a dataclass; pass "
                            "data_fields= and meta_fields= to register another class.")
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        if meta_fields is None:
            meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        if data_fields is None:
            data_fields = [f.name for f in fields if f.name not in set(meta_fields)]
    data, meta = tuple(data_fields), tuple(meta_fields)

    def flatten(x):
        return [getattr(x, n) for n in data], tuple(getattr(x, n) for n in meta)

    def unflatten(aux, children):
        obj = object.__new__(nodetype)  # as JAX: no __init__ (nor __post_init__) rerun
        for n, v in zip(data, children):
            object.__setattr__(obj, n, v)
        for n, v in zip(meta, aux):
            object.__setattr__(obj, n, v)
        return obj

    register_pytree_node(nodetype, flatten, unflatten)
    _key_registry[nodetype] = lambda x: [GetAttrKey(n) for n in data]
    return nodetype


def register_static(cls: type) -> type:
    """Register ``cls`` as a node with no children: its instances (hashable) are part of the
    structure, as static values, never traced.

    >>> @register_static
    ... class Settings:
    ...     def __init__(self, n): self.n = n
    ...     def __hash__(self): return hash(self.n)
    ...     def __eq__(self, o): return isinstance(o, Settings) and o.n == self.n
    >>> tree_leaves((1.0, Settings(3)))
    [1.0]
    """
    register_pytree_node(cls, lambda x: ((), x), lambda aux, _: aux)
    return cls


class Partial(functools.partial):
    """``functools.partial`` that is a pytree: the bound arguments are its children (traced,
    differentiated), the function is static. Pass it to and from transformed functions.

    >>> add = Partial(lambda x, y: x + y, 1.0)
    >>> tree_leaves(add), add(2.0)
    ([1.0], 3.0)
    """

    def __new__(cls, func, *args, **kw):
        if isinstance(func, functools.partial):  # as JAX: flatten nested partials
            args, kw = func.args + args, {**func.keywords, **kw}
            func = func.func
        return super().__new__(cls, func, *args, **kw)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, ch: Partial(func, *ch[0], **ch[1]),
)


def unregistered_hint(x) -> str:
    """A sentence telling how to make ``x``'s class a pytree, if it looks like a container."""
    name = type(x).__name__
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (f" {name} is a dataclass that is not registered as a pytree: decorate it with "
                "@funcad.tree_util.register_dataclass (fields holding arrays are traced; mark "
                "settings with dataclasses.field(metadata=dict(static=True))).")
    if hasattr(x, "__dict__") and not callable(x):
        return (f" To pass a {name}, register its class as a pytree: "
                "funcad.tree_util.register_pytree_node_class, register_dataclass or "
                "register_pytree_node.")
    return ""


# --------------------------------------------------------------------------------------
# Key paths

_key_registry: dict[type, Callable[[Any], list]] = {}


class SequenceKey(NamedTuple):
    """The ``idx``-th element of a list or tuple."""

    idx: int

    def __str__(self):
        return f"[{self.idx!r}]"


class DictKey(NamedTuple):
    """The entry of a dict under ``key``."""

    key: Hashable

    def __str__(self):
        return f"[{self.key!r}]"


class GetAttrKey(NamedTuple):
    """The attribute ``name`` (a namedtuple's or a registered dataclass's field)."""

    name: str

    def __str__(self):
        return f".{self.name}"


class FlattenedIndexKey(NamedTuple):
    """The ``key``-th child of a node registered without keys."""

    key: int

    def __str__(self):
        return f"[<flat index {self.key}>]"


def keystr(keys: tuple, *, simple: bool = False, separator: str = "") -> str:
    """A key path as a string, as JAX: ``keystr((DictKey('w'), SequenceKey(0)))`` is ``"['w'][0]"``.

    >>> keystr((DictKey("w"), SequenceKey(0)))
    "['w'][0]"
    """
    if not simple:
        return separator.join(str(k) for k in keys)
    return separator.join(str(getattr(k, k._fields[0])) if hasattr(k, "_fields") else str(k)
                          for k in keys)


def _child_keys(x, n: int) -> list:
    t = type(x)
    if t in _key_registry:
        return _key_registry[t](x)
    if t is dict:
        return [DictKey(k) for k in sorted(x)]
    if t is OrderedDict:
        return [DictKey(k) for k in x]
    if t is list or t is tuple:
        return [SequenceKey(i) for i in range(n)]
    if _is_namedtuple(x):
        return [GetAttrKey(f) for f in t._fields]
    return [FlattenedIndexKey(i) for i in range(n)]


def tree_flatten_with_path(tree, is_leaf=None) -> tuple[list[tuple[tuple, Any]], PyTreeDef]:
    """``([(key_path, leaf), ...], treedef)``: each leaf with the keys leading to it.

    >>> paths, _ = tree_flatten_with_path({"w": [1.0, 2.0]})
    >>> [(keystr(p), v) for p, v in paths]
    [("['w'][0]", 1.0), ("['w'][1]", 2.0)]
    """
    out: list = []

    def walk(x, path):
        if is_leaf is not None and is_leaf(x):
            out.append((path, x))
            return
        kids, _ = _node_children(x)
        if type(x) not in _registry and not _is_namedtuple(x):
            out.append((path, x))
            return
        for k, c in zip(_child_keys(x, len(kids)), kids):
            walk(c, path + (k,))

    walk(tree, ())
    return out, tree_structure(tree, is_leaf)


def tree_leaves_with_path(tree, is_leaf=None) -> list[tuple[tuple, Any]]:
    """The ``(key_path, leaf)`` pairs of :func:`tree_flatten_with_path`."""
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable, tree, *rest, is_leaf=None):
    """``f(key_path, leaf, *others)`` leafwise, as :func:`tree_map` with each leaf's path.

    >>> tree_map_with_path(lambda p, x: keystr(p) if x is None else x * 2, {"a": 1, "b": [3]})
    {'a': 2, 'b': [6]}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf)
    others = [treedef.flatten_up_to(r) for r in rest]
    return tree_unflatten(treedef, [f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])
