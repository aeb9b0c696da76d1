"""JAX's pytree API: register_dataclass, register_pytree_node_class, register_static,
Partial, key paths (tree_flatten_with_path, tree_map_with_path, keystr), tree_reduce,
tree_all, tree_transpose, tree_leaves(is_leaf=), the funcad.tree namespace and
funcad.flatten_util.ravel_pytree; registered classes go through grad, jit and vmap."""

from __future__ import annotations

import dataclasses
import functools
from collections import OrderedDict, namedtuple
from typing import Any

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad import errors, tree_util
from funcad.flatten_util import ravel_pytree
from funcad.test_util import check_grads
from funcad.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey, keystr


@tree_util.register_dataclass
@dataclasses.dataclass
class Layer:
    w: Any
    b: Any
    act: str = dataclasses.field(default="tanh", metadata=dict(static=True))


@tree_util.register_pytree_node_class
class Affine:
    def __init__(self, scale, shift, name="aff"):
        self.scale, self.shift, self.name = scale, shift, name

    def tree_flatten(self):
        return (self.scale, self.shift), self.name

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, name=aux)

    def __call__(self, x):
        return self.scale * x + self.shift


@tree_util.register_static
class Settings:
    def __init__(self, power):
        self.power = power

    def __hash__(self):
        return hash(self.power)

    def __eq__(self, other):
        return isinstance(other, Settings) and other.power == self.power


def _layer_loss(layer, x):
    h = fnp.tanh(x @ layer.w + layer.b) if layer.act == "tanh" else x @ layer.w + layer.b
    return fnp.sum(h ** 2)


def test_register_dataclass_through_grad_jit_vmap():
    rng = np.random.default_rng(0)
    layer, x = Layer(rng.normal(size=(3, 2)), rng.normal(size=2)), rng.normal(size=(4, 3))
    assert tree_util.tree_leaves(layer) == [layer.w, layer.b]
    g = fa.grad(_layer_loss)(layer, x)
    assert isinstance(g, Layer) and g.act == "tanh" and g.w.shape == (3, 2)
    check_grads(lambda w, b: _layer_loss(Layer(w, b), x), (layer.w, layer.b), order=1)
    gj = fa.jit(fa.grad(_layer_loss))(layer, x)
    np.testing.assert_allclose(gj.w, g.w)
    lin = Layer(layer.w, layer.b, act="linear")
    assert not np.allclose(fa.grad(_layer_loss)(lin, x).w, g.w)  # the static field matters
    per_row = fa.vmap(_layer_loss, in_axes=(None, 0))(layer, x)
    np.testing.assert_allclose(per_row, [_layer_loss(layer, r[None]) for r in x])
    # explicit field lists, for a class that is not a dataclass
    class Pt:
        def __init__(self, x, y, tag):
            self.x, self.y, self.tag = x, y, tag
    tree_util.register_dataclass(Pt, data_fields=["x", "y"], meta_fields=["tag"])
    p = fa.grad(lambda p: p.x * p.y)(Pt(2.0, 3.0, "t"))
    assert (p.x, p.y, p.tag) == (3.0, 2.0, "t")


def test_register_pytree_node_class_and_static():
    aff = Affine(2.0, np.array([1.0, -1.0]))
    g = fa.grad(lambda a, x: fnp.sum(a(x) ** 2))(aff, np.array([0.5, 1.5]))
    assert isinstance(g, Affine) and g.name == "aff"
    np.testing.assert_allclose(g.scale, 2 * np.sum((2 * np.array([0.5, 1.5]) + [1, -1]) * [0.5, 1.5]))
    s = Settings(3)
    assert tree_util.tree_leaves((1.0, s)) == [1.0]
    f = fa.jit(lambda x, s: x ** s.power)
    assert f(2.0, s) == 8.0 and f(2.0, Settings(2)) == 4.0
    assert fa.grad(lambda x, s: x ** s.power)(2.0, s) == 12.0


def test_partial_is_a_pytree():
    p = tree_util.Partial(lambda a, x: a * x, np.array(3.0))
    assert tree_util.tree_leaves(p) == [np.array(3.0)]
    out = fa.jit(lambda p, x: p(x))(p, 2.0)
    assert out == 6.0
    g = fa.grad(lambda p: p(2.0))(p)  # the bound argument is differentiated
    assert isinstance(g, tree_util.Partial) and g.args[0] == 2.0
    nested = tree_util.Partial(functools.partial(lambda a, b, c: a + b + c, 1.0), 2.0)
    assert nested(3.0) == 6.0 and fa.Partial is tree_util.Partial
    returned = fa.jit(lambda a: tree_util.Partial(lambda c, x: c * x, a))(4.0)
    assert returned(2.0) == 8.0


def test_key_paths():
    Pair = namedtuple("Pair", "left right")
    tree = {"a": [1.0, (2.0, None)], "b": Pair(3.0, 4.0), "c": Layer(5.0, 6.0),
            "d": OrderedDict(z=7.0), "e": Affine(8.0, 9.0)}
    pairs, treedef = tree_util.tree_flatten_with_path(tree)
    assert [keystr(p) for p, _ in pairs] == [
        "['a'][0]", "['a'][1][0]", "['b'].left", "['b'].right", "['c'].w", "['c'].b",
        "['d']['z']", "['e'][<flat index 0>]", "['e'][<flat index 1>]"]
    assert [v for _, v in pairs] == tree_util.tree_leaves(tree)
    assert pairs[0][0] == (DictKey("a"), SequenceKey(0))
    assert pairs[4][0] == (DictKey("c"), GetAttrKey("w"))
    assert pairs[7][0][1] == FlattenedIndexKey(0)
    assert keystr(pairs[0][0], simple=True, separator="/") == "a/0"
    out = tree_util.tree_map_with_path(lambda p, x, y: (keystr(p), x + y), {"u": 1, "v": [2]},
                                       {"u": 10, "v": [20]})
    assert out == {"u": ("['u']", 11), "v": [("['v'][0]", 22)]}
    assert treedef == tree_util.tree_structure(tree)
    assert tree_util.tree_leaves_with_path([1, 2])[1] == ((SequenceKey(1),), 2)


def test_reduce_all_transpose_is_leaf():
    tree = {"a": np.arange(3.0), "b": (np.ones(2), 4.0)}
    total = tree_util.tree_reduce(lambda acc, x: acc + np.sum(x), tree, 0.0)
    assert total == 3.0 + 2.0 + 4.0
    assert tree_util.tree_reduce(max, [3, 7, 5]) == 7
    assert tree_util.tree_all([True, (1, 2.0)]) and not tree_util.tree_all({"a": True, "b": 0})
    outer, inner = tree_util.tree_structure([0, 0, 0]), tree_util.tree_structure({"x": 0, "y": 0})
    t = tree_util.tree_transpose(outer, inner, [{"x": i, "y": -i} for i in range(3)])
    assert t == {"x": [0, 1, 2], "y": [0, -1, -2]}
    assert tree_util.tree_transpose(outer, None, [{"x": i, "y": -i} for i in range(3)]) == t
    with pytest.raises(errors.TreeStructureError, match="tree_transpose"):
        tree_util.tree_transpose(outer, inner, [1, 2])
    leaves = tree_util.tree_leaves({"p": (1, 2), "q": [3]}, is_leaf=lambda n: isinstance(n, tuple))
    assert leaves == [(1, 2), 3]
    assert tree_util.tree_structure((1, {"a": 2})).num_nodes == 4


def test_funcad_tree_namespace():
    t = {"a": 1.0, "b": [2.0, 3.0]}
    assert fa.tree.map(lambda x: x * 2, t) == {"a": 2.0, "b": [4.0, 6.0]}
    leaves, td = fa.tree.flatten(t)
    assert fa.tree.unflatten(td, leaves) == t and fa.tree.leaves(t) == leaves
    assert fa.tree.structure(t) == td and fa.tree.reduce(lambda a, b: a + b, t) == 6.0
    assert fa.tree.all(t)
    assert fa.tree.map_with_path(lambda p, x: keystr(p), t) == {"a": "['a']", "b": ["['b'][0]", "['b'][1]"]}
    assert [keystr(p) for p, _ in fa.tree.flatten_with_path(t)[0]] == ["['a']", "['b'][0]", "['b'][1]"]
    assert fa.tree.leaves_with_path(t)[0][1] == 1.0
    assert fa.tree.transpose(fa.tree.structure([0, 0]), fa.tree.structure((0, 0)),
                             [(1, 2), (3, 4)]) == ([1, 3], [2, 4])


def test_ravel_pytree_roundtrip_and_grad():
    tree = {"w": np.arange(6.0).reshape(2, 3), "b": np.array([7.0]), "n": np.array(2, np.int32)}
    flat, unravel = ravel_pytree(tree)
    assert flat.shape == (8,)
    back = unravel(flat)
    for k in tree:
        np.testing.assert_array_equal(back[k], tree[k])

    def loss(flat_params):
        p = unravel(flat_params)
        return fnp.sum(fnp.sin(p["w"])) * p["b"][0]

    g = fa.grad(loss)(flat)
    np.testing.assert_allclose(unravel(g)["w"], np.cos(tree["w"]) * 7.0)
    check_grads(loss, (flat,), order=1)


@dataclasses.dataclass
class Unregistered:
    w: Any


def test_unregistered_dataclass_error_names_register_dataclass():
    for f in (fa.grad(lambda p: p.w), fa.jit(lambda p: p.w), fa.vmap(lambda p: p.w)):
        with pytest.raises((errors.DTypeError, errors.BatchingError), match="register_dataclass"):
            f(Unregistered(np.ones(2)))
