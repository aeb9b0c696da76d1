"""Examples from JAX's documentation (our own code, written from their documented
behaviour), run with only the imports changed: ``import funcad as jax``,
``import funcad.numpy as jnp``, ``from funcad import lax``."""

from __future__ import annotations

from collections import namedtuple
from functools import partial

import numpy as np

import funcad as jax
import funcad.numpy as jnp
from funcad import lax


def test_pytrees_tutorial_custom_container_and_key_paths():
    class MyContainer:
        """A named container."""

        def __init__(self, name: str, a: int, b: int, c: int):
            self.name, self.a, self.b, self.c = name, a, b, c

    def flatten_my_container(container):
        return [container.a, container.b, container.c], container.name

    def unflatten_my_container(aux_data, flat_contents):
        return MyContainer(aux_data, *flat_contents)

    jax.tree_util.register_pytree_node(MyContainer, flatten_my_container, unflatten_my_container)
    trees = [MyContainer("Alice", 1, 2, 3), MyContainer("Bob", 4, 5, 6)]
    assert jax.tree.leaves(trees) == [1, 2, 3, 4, 5, 6]
    mapped = jax.tree.map(lambda x: x + 1, trees)
    assert [m.name for m in mapped] == ["Alice", "Bob"] and mapped[1].c == 7

    ATuple = namedtuple("ATuple", ("name",))
    tree = [1, {"k1": 2, "k2": (3, 4)}, ATuple("foo")]
    flattened, _ = jax.tree_util.tree_flatten_with_path(tree)
    lines = [f"Value of tree{jax.tree_util.keystr(key_path)}: {value}" for key_path, value in flattened]
    assert lines == ["Value of tree[0]: 1", "Value of tree[1]['k1']: 2", "Value of tree[1]['k2'][0]: 3",
                     "Value of tree[1]['k2'][1]: 4", "Value of tree[2].name: foo"]


def test_jax101_linear_regression_with_pytree_params():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(100, 1))
    ys = 3 * xs + 2 + 0.01 * rng.normal(size=(100, 1))

    def model(params, x):
        return x @ params["w"] + params["b"]

    def loss_fn(params, x, y):
        return jnp.mean((model(params, x) - y) ** 2)

    @jax.jit
    def update(params, x, y, lr=0.1):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return loss, jax.tree.map(lambda p, g: p - lr * g, params, grads)

    params = {"w": np.zeros((1, 1)), "b": np.zeros(1)}
    for _ in range(200):
        loss, params = update(params, xs, ys)
    np.testing.assert_allclose(params["w"], [[3.0]], atol=0.01)
    np.testing.assert_allclose(params["b"], [2.0], atol=0.01)
    assert jax.block_until_ready(loss) < 1e-3


def test_debug_print_docs_example(capfd):
    @jax.jit
    def f(x):
        jax.debug.print("🤯 {x} 🤯", x=x)
        y = jnp.sin(x)
        jax.debug.print("🤯 {y} 🤯", y=y)
        return y

    y = f(2.0)  # (the compiled sin may differ from NumPy's in the last bit: print what it computed)
    assert capfd.readouterr().out == f"🤯 2.0 🤯\n🤯 {np.asarray(y)} 🤯\n"
    np.testing.assert_allclose(y, np.sin(2.0), rtol=1e-15)


def test_lax_docs_examples():
    np.testing.assert_array_equal(lax.associative_scan(jnp.add, jnp.arange(0, 4)), [0, 1, 3, 6])
    x = jnp.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(lax.dynamic_slice(x, (1, 1), (2, 3)), [[5, 6, 7], [9, 10, 11]])
    np.testing.assert_array_equal(lax.dynamic_slice(x, (1, 3), (2, 2)), [[6, 7], [10, 11]])  # clamped
    x = jnp.zeros(6)
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, jnp.ones(2), (2,)), [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(lax.dynamic_update_slice(x, jnp.ones(2), (5,)), [0, 0, 0, 0, 1, 1])


def test_linear_transpose_and_eval_shape_docs_examples():
    f = lambda x, y: 0.5 * x - 0.5 * y  # noqa: E731
    scalar = jax.ShapeDtypeStruct(shape=(), dtype=np.dtype(np.float32))
    f_transpose = jax.linear_transpose(f, scalar, scalar)
    assert f_transpose(np.float32(1.0)) == (0.5, -0.5)

    g = lambda A, x: jnp.tanh(jnp.dot(A, x))  # noqa: E731
    A = jax.ShapeDtypeStruct((2000, 3000), jnp.float32)
    x = jax.ShapeDtypeStruct((3000, 1000), jnp.float32)
    out = jax.eval_shape(g, A, x)
    assert (out.shape, out.dtype) == ((2000, 1000), np.float32)


def test_checkpoint_docs_example_with_static_argnums():
    @partial(jax.checkpoint, static_argnums=(1,))
    def foo(x, is_training):
        if is_training:
            return jnp.sin(x) * 2.0
        return jnp.sin(x)

    assert jax.grad(foo)(0.5, True) == 2 * np.cos(0.5)
    assert jax.grad(foo)(0.5, False) == np.cos(0.5)


def test_vmap_with_axis_size_and_has_aux_docs_usage():
    def f(x):
        return jnp.sin(x), {"cos": jnp.cos(x)}

    primal, tangent, aux = jax.jvp(f, (0.3,), (1.0,), has_aux=True)
    assert tangent == np.cos(0.3) and aux["cos"] == np.cos(0.3)
    ones = jax.vmap(lambda: jnp.ones(3), axis_size=2)()
    np.testing.assert_array_equal(ones, np.ones((2, 3)))
