"""Pytrees: the tree utilities, and every transformation taking and returning pytrees."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import TreeStructureError
from funcad.test_util import check_grads
from funcad.tree_util import (
    register_pytree_node, tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten)

Params = namedtuple("Params", ["w", "b"])


class Affine:
    """A user class registered as a pytree node."""

    def __init__(self, scale, shift, name="affine"):
        self.scale, self.shift, self.name = scale, shift, name


register_pytree_node(Affine, lambda a: ((a.scale, a.shift), a.name),
                     lambda name, ch: Affine(*ch, name=name))

TREES = [
    1.0,
    (1.0, 2.0, 3.0),
    [1.0, (2.0, [3.0])],
    {"b": 1.0, "a": (2.0, None), "c": {"d": 3.0}},
    None,
    (),
    Params(w=1.0, b=[2.0, 3.0]),
    OrderedDict([("z", 1.0), ("a", 2.0)]),
    Affine(1.0, (2.0, 3.0)),
]


def _same(a, b):
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    return ta == tb and la == lb and type(a) is type(b)


@pytest.mark.parametrize("tree", TREES, ids=lambda t: type(t).__name__)
def test_flatten_unflatten_roundtrip(tree):
    leaves, treedef = tree_flatten(tree)
    assert all(isinstance(x, float) for x in leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert _same(rebuilt, tree)
    assert tree_structure(rebuilt) == treedef and hash(tree_structure(rebuilt)) == hash(treedef)
    doubled = tree_map(lambda x: 2 * x, tree)
    assert tree_leaves(doubled) == [2 * x for x in leaves]
    assert tree_structure(doubled) == treedef


def test_flatten_orders_and_structures():
    leaves, tree = tree_flatten({"b": 1, "a": 2})
    assert leaves == [2, 1]  # sorted keys, as JAX
    assert tree_flatten(None)[0] == [] and tree_flatten(None)[1].num_leaves == 0
    assert tree_structure((1, 2)) != tree_structure([1, 2])
    assert tree_structure({"a": 1}) != tree_structure({"b": 1})
    assert tree_structure(Affine(1, 2, "x")) != tree_structure(Affine(1, 2, "y"))  # aux data counts
    assert tree_structure(Params(1, 2)) != tree_structure((1, 2))
    assert tree_leaves([1, (2, 3)], is_leaf=lambda x: isinstance(x, tuple)) == [1, (2, 3)]
    assert repr(tree_structure({"a": (1, None)})) == "PyTreeDef({'a': (*, None)})"


def test_tree_errors_name_the_structures():
    with pytest.raises(TreeStructureError, match="2 leaves, but 3"):
        tree_unflatten(tree_structure((1, 2)), [1, 2, 3])
    with pytest.raises(TreeStructureError, match="different structures"):
        tree_map(lambda x, y: x + y, (1, 2), [1, 2])


def _loss(params, x):
    h = fnp.tanh(x @ params["layers"][0].w + params["layers"][0].b)
    out = h @ params["layers"][1].w + params["layers"][1].b
    return fnp.sum(out ** 2) * params["scale"].scale + params["scale"].shift


def _params(rng):
    return {
        "layers": [Params(rng.standard_normal((3, 4)), rng.standard_normal(4)),
                   Params(rng.standard_normal((4, 2)), rng.standard_normal(2))],
        "scale": Affine(np.array(0.5), np.array(0.1)),
        "unused": None,
    }


def test_grad_of_nested_pytree_matches_finite_differences(rng, transform):
    params, x = _params(rng), rng.standard_normal((5, 3))
    g = transform(fa.grad(_loss))(params, x)
    assert tree_structure(g) == tree_structure(params)
    assert isinstance(g["scale"], Affine) and isinstance(g["layers"][0], Params)
    assert g["layers"][0].w.shape == (3, 4) and g["unused"] is None
    # the gradient against a central difference, leaf by leaf
    leaves, treedef = tree_flatten(params)
    g_leaves = tree_leaves(g)
    eps = 1e-6
    for i, leaf in enumerate(leaves):
        flat = np.asarray(leaf, float).ravel()
        for j in range(0, flat.size, 3):
            def at(d):
                bumped = list(leaves)
                v = flat.copy()
                v[j] += d
                bumped[i] = v.reshape(np.shape(leaf))
                return float(_loss(tree_unflatten(treedef, bumped), x))
            fd = (at(eps) - at(-eps)) / (2 * eps)
            np.testing.assert_allclose(np.ravel(g_leaves[i])[j], fd, rtol=1e-6, atol=1e-6)
    check_grads(_loss, (params, x), order=2)


def test_jvp_vjp_linearize_with_pytrees(rng):
    params, x = _params(rng), rng.standard_normal((5, 3))
    tangent = tree_map(lambda p: np.ones_like(p), params)
    y, y_dot = fa.jvp(lambda p: _loss(p, x), (params,), (tangent,))
    g = fa.grad(_loss)(params, x)
    expected = sum(float(np.sum(a)) for a in tree_leaves(g))
    np.testing.assert_allclose(y_dot, expected, rtol=1e-10)
    y2, f_jvp = fa.linearize(lambda p: _loss(p, x), params)
    np.testing.assert_allclose(f_jvp(tangent), y_dot, rtol=1e-12)
    np.testing.assert_allclose(y2, y)
    out, vjp_fn = fa.vjp(lambda p: {"loss": _loss(p, x), "pair": (p["scale"].shift, None)}, params)
    (ct,) = vjp_fn({"loss": 1.0, "pair": (2.0, None)})
    np.testing.assert_allclose(ct["scale"].shift, g["scale"].shift + 2.0)


def test_outputs_are_pytrees(rng):
    def f(x):
        return {"sq": x ** 2, "pair": [fnp.sin(x), (fnp.sum(x), None)]}

    x = rng.standard_normal(3)
    jac = fa.jacrev(f)(x)
    np.testing.assert_allclose(jac["sq"], np.diag(2 * x))
    np.testing.assert_allclose(jac["pair"][1][0], np.ones(3))
    jac_f = fa.jacfwd(f)(x)
    np.testing.assert_allclose(jac_f["pair"][0], np.diag(np.cos(x)))
    check_grads(f, (x,), order=2)


def test_hessian_of_a_function_of_a_dict(rng, transform):
    A = rng.standard_normal((3, 3))
    A = A @ A.T

    def f(p):
        return 0.5 * p["x"] @ A @ p["x"] + p["x"] @ p["y"] * 2.0 + fnp.sum(p["y"] ** 3)

    p = {"x": rng.standard_normal(3), "y": rng.standard_normal(3)}
    H = transform(fa.hessian(f))(p)
    np.testing.assert_allclose(H["x"]["x"], A, rtol=1e-12)
    np.testing.assert_allclose(H["x"]["y"], 2 * np.eye(3))
    np.testing.assert_allclose(H["y"]["x"], 2 * np.eye(3))
    np.testing.assert_allclose(H["y"]["y"], np.diag(6 * p["y"]), rtol=1e-12)
