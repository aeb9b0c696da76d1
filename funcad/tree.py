"""``funcad.tree``: the pytree functions under short names, as ``jax.tree``.

>>> import funcad as fa
>>> fa.tree.map(lambda x: x * 2, {"a": 1, "b": (2, 3)})
{'a': 2, 'b': (4, 6)}
>>> fa.tree.leaves({"a": 1, "b": (2, 3)})
[1, 2, 3]
"""

from __future__ import annotations

from .tree_util import (  # noqa: F401
    tree_all as all,
)
from .tree_util import (
    tree_flatten as flatten,
)
from .tree_util import (
    tree_flatten_with_path as flatten_with_path,
)
from .tree_util import (
    tree_leaves as leaves,
)
from .tree_util import (
    tree_leaves_with_path as leaves_with_path,
)
from .tree_util import (
    tree_map as map,
)
from .tree_util import (
    tree_map_with_path as map_with_path,
)
from .tree_util import (
    tree_reduce as reduce,
)
from .tree_util import (
    tree_structure as structure,
)
from .tree_util import (
    tree_transpose as _tree_transpose,
)
from .tree_util import (
    tree_unflatten as unflatten,
)

__all__ = ["all", "flatten", "flatten_with_path", "leaves", "leaves_with_path", "map",
           "map_with_path", "reduce", "structure", "transpose", "unflatten"]


def transpose(outer_treedef, inner_treedef, pytree_to_transpose):
    """``jax.tree.transpose``: a tree of structure ``outer(inner)`` as ``inner(outer)``."""
    return _tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose)
