"""Minimal pytrees (tuples, lists, dicts, leaves) for moving results between systems.

The harness cannot use funcad's own tree utilities (funcad may be absent or broken while it
runs), and the peers each have their own, so it carries these twenty lines instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def tree_flatten(tree: Any) -> tuple[list, Any]:
    """Return the leaves of ``tree`` in order and a description of its structure."""
    if isinstance(tree, (tuple, list)):
        leaves, defs = [], []
        for child in tree:
            child_leaves, child_def = tree_flatten(child)
            leaves += child_leaves
            defs.append((len(child_leaves), child_def))
        return leaves, (type(tree), defs)
    if isinstance(tree, dict):
        keys = sorted(tree)
        leaves, treedef = tree_flatten([tree[k] for k in keys])
        return leaves, (dict, keys, treedef)
    return [tree], None


def tree_unflatten(treedef: Any, leaves: list) -> Any:
    """Inverse of :func:`tree_flatten`."""
    if treedef is None:
        return leaves[0]
    if treedef[0] is dict:
        _, keys, inner = treedef
        return dict(zip(keys, tree_unflatten(inner, leaves), strict=True))
    kind, defs = treedef
    children, start = [], 0
    for count, child_def in defs:
        children.append(tree_unflatten(child_def, leaves[start : start + count]))
        start += count
    return kind(children)


def tree_map(fn: Callable, tree: Any) -> Any:
    """Apply ``fn`` to every leaf of ``tree``."""
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [fn(leaf) for leaf in leaves])
