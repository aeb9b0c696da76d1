"""More ports of JAX's documentation and examples: the rest of the autodiff cookbook (pytree
jvp/vjp, Hessian-vector products, complex differentiation), the custom_jvp/custom_vjp
tutorial (x / (1 + sqrt x), pytree rules, nondiff_argnums, a fixed point by custom_vjp and
its second derivative), "Training a simple neural network" and examples/
mnist_classifier_fromscratch.py on synthetic data, the lax control-flow idioms (cumulative
sums, Newton iterations in while_loop, a scanned RNN with pytree carry), the pseudorandom
numbers tutorial (split, fold_in, categorical, choice), gradient checkpointing, per-example
gradients and examples/differentially_private_sgd.py's clipped per-example gradients,
examples/kernel_lsq.py and examples/gaussian_process_regression.py.

Our own code written from the documented behaviour, with the imports changed from ``jax``
to ``funcad`` and nothing else. Each program returns a dict of values; the tests hold them
against something independent (finite differences, NumPy closed forms, eager against jit,
vmap against a loop), and, when ``FUNCAD_JAX_PYTHON`` names a Python with JAX (opt-in: about
a minute of CPU), against JAX's own values, computed live by running this file with ``--jax``
(funcad never imports JAX). ``python tests/test_port_jax_more.py --time [--jax]``
prints first-call and per-call times of the bigger programs.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections import namedtuple
from functools import partial

import numpy as np

if __name__ == "__main__" and "--jax" in sys.argv:  # the reference run: JAX's imports
    import jax  # noqa: I001
    import jax.numpy as jnp
    import jax.scipy as jsp
    import jax.scipy.optimize  # noqa: F401
    from jax import custom_jvp, custom_vjp, grad, hessian, jacfwd, jacrev, jit, jvp, lax, random
    from jax import vjp, vmap
    from jax.example_libraries import optimizers
    from jax.tree_util import tree_flatten, tree_unflatten

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", os.path.join(tempfile.gettempdir(), "funcad-port-jax-xla"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
else:
    import funcad as jax  # noqa: I001
    import funcad.numpy as jnp
    import funcad.scipy as jsp
    from funcad import custom_jvp, custom_vjp, grad, hessian, jacfwd, jacrev, jit, jvp, lax, random
    from funcad import vjp, vmap
    from funcad.example_libraries import optimizers
    from funcad.tree_util import tree_flatten, tree_unflatten

    jax.config.update("jax_enable_x64", True)

# ======================================================================================
# The autodiff cookbook: pytrees, Hessian-vector products, complex numbers


def cookbook_more():
    out = {}
    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)
    X = rng.normal(size=(5, 3))
    params = {"W1": W1, "b1": b1, "W2": W2}

    def loss(p):
        h = jnp.tanh(X @ p["W1"] + p["b1"])
        return jnp.sum(jnp.log1p(jnp.exp(h @ p["W2"])))

    tangent = jax.tree.map(lambda x: 0.1 * jnp.ones_like(x), params)
    out["jvp_pytree"] = jvp(loss, (params,), (tangent,))[1]
    y, f_vjp = vjp(lambda p: jnp.tanh(X @ p["W1"] + p["b1"]), params)
    ct = f_vjp(jnp.ones_like(y))[0]
    out["vjp_pytree_W1"], out["vjp_pytree_b1"] = ct["W1"], ct["b1"]

    # the four Hessian-vector products of the cookbook, on a function of a vector
    def f(x):
        return jnp.sum(jnp.tanh(x) ** 2 * jnp.roll(x, 1)) + jnp.prod(jnp.cos(x[:3]))

    x, v = jnp.linspace(-1.0, 1.0, 6), jnp.arange(6.0) / 6

    def hvp_fwdrev(f, x, v):
        return jvp(grad(f), (x,), (v,))[1]

    def hvp_revrev(f, x, v):
        return grad(lambda x: jnp.vdot(grad(f)(x), v))(x)

    def hvp_revfwd(f, x, v):
        g = lambda x: jvp(f, (x,), (v,))[1]  # noqa: E731
        return grad(g)(x)

    out["hessian"] = hessian(f)(x)
    out["hvp_fwdrev"] = hvp_fwdrev(f, x, v)
    out["hvp_revrev"] = hvp_revrev(f, x, v)
    out["hvp_revfwd"] = hvp_revfwd(f, x, v)
    out["hvp_jit"] = jit(partial(hvp_fwdrev, f))(x, v)
    # batched: vmap over the directions (the cookbook's "Hessian-matrix products")
    out["hmp"] = vmap(partial(hvp_fwdrev, f, x))(jnp.eye(6))
    # Jacobians of a pytree-to-pytree function
    J = jacrev(lambda p: {"h": jnp.tanh(X @ p["W1"] + p["b1"])[0]})(params)
    out["jacrev_tree_W1"], out["jacrev_tree_b1"] = J["h"]["W1"], J["h"]["b1"]
    J = jacfwd(lambda p: {"h": jnp.tanh(X @ p["W1"] + p["b1"])[0]})(params)
    out["jacfwd_tree_W1"] = J["h"]["W1"]

    # complex numbers: grad of C -> R, holomorphic grad, jacfwd/jacrev of C -> C
    def fr(z):
        x, y = jnp.real(z), jnp.imag(z)
        return x ** 2 + y ** 2

    z = 3.0 + 4.0j
    out["grad_abs2"] = grad(fr)(z)
    out["grad_abs"] = grad(jnp.abs)(z)
    out["grad_holo_sin"] = grad(jnp.sin, holomorphic=True)(z)
    out["grad_holo_poly"] = grad(lambda z: z ** 3 - 2.0 * z, holomorphic=True)(1.0 + 2.0j)
    A = jnp.array([[5.0, 2.0 + 3.0j, 5.0j], [2.0 - 3.0j, 7.0, 1.0 + 7.0j], [-5.0j, 1.0 - 7.0j, 12.0]])
    out["grad_norm_sq"] = grad(lambda X: jnp.real(jnp.sum(X * jnp.conj(X))))(A)
    out["jacfwd_holo"] = jacfwd(lambda z: jnp.exp(z) * z, holomorphic=True)(jnp.array([1.0j, 0.5 + 0.5j]))
    out["jacrev_holo"] = jacrev(lambda z: jnp.exp(z) * z, holomorphic=True)(jnp.array([1.0j, 0.5 + 0.5j]))
    out["vjp_complex"] = vjp(jnp.sin, 1.0 + 1.0j)[1](1.0 + 0.0j)[0]
    out["jvp_complex"] = jvp(jnp.exp, (1.0 + 1.0j,), (2.0j,))[1]
    return out


# ======================================================================================
# Custom derivative rules for JAX-transformable Python functions


def custom_rules():
    out = {}

    # numerical stability at 0: f(x) = x / (1 + sqrt(x)), whose derivative is 1 at 0
    @custom_jvp
    def f(x):
        return x / (1 + jnp.sqrt(x))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        ans = f(x)
        ans_dot = ((jnp.sqrt(x) + 2) / (2 * (jnp.sqrt(x) + 1) ** 2)) * x_dot
        return ans, ans_dot

    out["f_grad0"] = grad(f)(0.0)
    out["f_grad"] = vmap(grad(f))(jnp.array([0.0, 0.5, 2.0]))
    out["f_jit_grad"] = jit(grad(f))(2.0)

    # defjvps, one rule per argument, and a second derivative through the rule
    @custom_jvp
    def g(x, y):
        return jnp.sin(x) * y

    g.defjvps(lambda x_dot, primal_out, x, y: jnp.cos(x) * x_dot * y,
              lambda y_dot, primal_out, x, y: jnp.sin(x) * y_dot)
    out["defjvps"] = jnp.array(grad(g, (0, 1))(2.0, 3.0))
    out["defjvps_hess"] = hessian(g, (0, 1))(2.0, 3.0)[0][0]

    # pytree inputs and outputs of a custom_jvp function
    Point = namedtuple("Point", ["x", "y"])

    @custom_jvp
    def h(pt):
        x, y = pt.x, pt.y
        return {"a": x ** 2, "b": (jnp.sin(x), jnp.cos(y))}

    @h.defjvp
    def h_jvp(primals, tangents):
        (pt,), (pt_dot,) = primals, tangents
        ans = h(pt)
        ans_dot = {"a": 2 * pt.x * pt_dot.x,
                   "b": (jnp.cos(pt.x) * pt_dot.x, -jnp.sin(pt.y) * pt_dot.y)}
        return ans, ans_dot

    def fun(pt):
        dct = h(pt)
        return dct["a"] + dct["b"][0] + dct["b"][1]

    gp = grad(fun)(Point(1.0, 2.0))
    out["pytree_rule"] = jnp.array([gp.x, gp.y])

    # nondiff_argnums: a function argument
    @partial(custom_jvp, nondiff_argnums=(0,))
    def app(fn, x):
        return fn(x)

    @app.defjvp
    def app_jvp(fn, primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return fn(x), 2.0 * x_dot

    out["nondiff_jvp"] = grad(lambda x: app(lambda y: y ** 2, x))(4.0)

    # custom_vjp with a backward pass that uses its residuals
    @custom_vjp
    def k(x, y):
        return jnp.sin(x) * y

    def k_fwd(x, y):
        return k(x, y), (jnp.cos(x), jnp.sin(x), y)

    def k_bwd(res, g):
        cos_x, sin_x, y = res
        return (cos_x * g * y, sin_x * g)

    k.defvjp(k_fwd, k_bwd)
    out["custom_vjp"] = jnp.array(grad(k, (0, 1))(2.0, 3.0))
    out["custom_vjp_vmap_jit"] = jit(vmap(grad(k)))(jnp.arange(3.0), jnp.ones(3))

    # a fixed point by custom_vjp: Newton's square root, its first and second derivatives
    @partial(custom_vjp, nondiff_argnums=(0,))
    def fixed_point(f, a, x_guess):
        def cond_fun(carry):
            x_prev, x = carry
            return jnp.abs(x_prev - x) > 1e-12

        def body_fun(carry):
            _, x = carry
            return x, f(a, x)

        _, x_star = lax.while_loop(cond_fun, body_fun, (x_guess, f(a, x_guess)))
        return x_star

    def fixed_point_fwd(f, a, x_init):
        x_star = fixed_point(f, a, x_init)
        return x_star, (a, x_star)

    def rev_iter(f, packed, u):
        a, x_star, x_star_bar = packed
        _, vjp_x = vjp(lambda x: f(a, x), x_star)
        return x_star_bar + vjp_x(u)[0]

    def fixed_point_rev(f, res, x_star_bar):
        a, x_star = res
        _, vjp_a = vjp(lambda a: f(a, x_star), a)
        (a_bar,) = vjp_a(fixed_point(partial(rev_iter, f), (a, x_star, x_star_bar), x_star_bar))
        return a_bar, jnp.zeros_like(x_star)

    fixed_point.defvjp(fixed_point_fwd, fixed_point_rev)

    def newton_sqrt(a):
        update = lambda a, x: 0.5 * (x + a / x)  # noqa: E731
        return fixed_point(update, a, a)

    out["sqrt"] = newton_sqrt(2.0)
    out["sqrt'"] = grad(newton_sqrt)(2.0)
    out["sqrt''"] = grad(grad(newton_sqrt))(2.0)
    out["sqrt'_jit_vmap"] = jit(vmap(grad(newton_sqrt)))(jnp.array([1.0, 4.0, 9.0]))

    # clip_gradient, the custom_jvp spelling, and a stop_gradient straight-through estimator
    @custom_jvp
    def clip_gradient(lo, hi, x):
        return x

    @clip_gradient.defjvp
    def clip_gradient_jvp(primals, tangents):
        lo, hi, x = primals
        _, _, x_dot = tangents
        return x, jnp.clip(x_dot, lo, hi)

    # (a rule nonlinear in its tangent has no transpose: forward mode only, as the tutorial says)
    clipped = lambda x: clip_gradient(-0.75, 0.75, jnp.sin(3 * x))  # noqa: E731
    out["clip_jvp"] = vmap(lambda x: jvp(clipped, (x,), (1.0,))[1])(jnp.linspace(0.0, 2.0, 5))
    straight_through = lambda x: x + lax.stop_gradient(jnp.round(x) - x)  # noqa: E731
    out["straight_through"] = jnp.array([straight_through(2.7), grad(straight_through)(2.7)])
    return out


# ======================================================================================
# jax.lax control flow idioms


def rnn_problem():
    """An Elman RNN's parameters (a pytree) and an input sequence."""
    rng = np.random.default_rng(1)
    p = {"Wh": rng.normal(size=(4, 4)) * 0.5, "Wx": rng.normal(size=(3, 4)), "b": np.zeros(4)}
    return p, rng.normal(size=(7, 3))


def rnn_loss(p, seq):
    """The RNN run by scan with a pytree carry: the sum of squared outputs and the last state."""
    def step(h, x):
        h = jnp.tanh(h @ p["Wh"] + x @ p["Wx"] + p["b"])
        return h, jnp.sum(h)

    h, outs = lax.scan(step, jnp.zeros(4), seq)
    return jnp.sum(outs ** 2) + jnp.sum(h)


def control_flow_more():
    out = {}
    xs = jnp.array([1.0, -2.0, 3.0, 0.5, 4.0])

    # cumulative sums and products by scan, forwards and in reverse
    out["cumsum"] = lax.scan(lambda c, x: (c + x, c + x), 0.0, xs)[1]
    out["cumsum_rev"] = lax.scan(lambda c, x: (c + x, c + x), 0.0, xs, reverse=True)[1]
    out["cumsum_grad"] = grad(lambda xs: jnp.sum(lax.scan(lambda c, x: (c * x, c * x), 1.0, xs)[1]))(xs)
    # scan over a pytree of sequences with a pytree carry, and length= without xs
    carry, ys = lax.scan(lambda c, x: ((c[0] + x["a"], c[1] * x["b"]), c[0] * c[1]),
                         (0.0, 1.0), {"a": xs, "b": xs[::-1]})
    out["scan_tree"] = jnp.concatenate([jnp.array(carry), ys])
    out["scan_length"] = lax.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=5)[1]

    # Newton's method for a cube root in a while_loop; its derivative by the implicit function
    def cbrt(a):
        def body(state):
            x, i = state
            return x - (x ** 3 - a) / (3 * x ** 2), i + 1

        return lax.while_loop(lambda s: (jnp.abs(s[0] ** 3 - a) > 1e-13) & (s[1] < 50), body, (a, 0))

    x_star, iters = jit(cbrt)(5.0)
    out["cbrt"], out["cbrt_iters"] = x_star, iters
    out["cbrt_fwd"] = jacfwd(lambda a: cbrt(a)[0])(5.0)
    out["cbrt_vmap"] = vmap(lambda a: cbrt(a)[0])(jnp.array([1.0, 8.0, 27.0]))

    # fori_loop: a power series and its derivative, under jit
    def exp_series(x, n):
        def body(i, state):
            term, acc = state
            term = term * x / i
            return term, acc + term

        return lax.fori_loop(1, n, body, (1.0, 1.0))[1]

    out["exp_series"] = jit(exp_series, static_argnums=1)(0.7, 20)
    out["exp_series'"] = jit(grad(exp_series), static_argnums=1)(0.7, 20)

    # an Elman RNN by scan with a pytree carry and parameters, its gradient under jit
    p, seq = rnn_problem()
    g = jit(grad(rnn_loss))(p, seq)
    out["rnn_loss"] = rnn_loss(p, seq)
    out["rnn_grad_Wh"], out["rnn_grad_Wx"] = g["Wh"], g["Wx"]
    # cond on a traced predicate, with a derivative in each branch
    piecewise = lambda x: lax.cond(x > 0, lambda x: jnp.sin(x), lambda x: x ** 3, x)  # noqa: E731
    out["cond_grad"] = vmap(grad(piecewise))(jnp.array([-1.0, 2.0]))
    return out


# ======================================================================================
# Pseudorandom numbers: keys, split, fold_in, categorical, choice


def random_tutorial():
    out = {}
    key = random.PRNGKey(42)
    out["normal"] = random.normal(key, (3,))
    out["normal_again"] = random.normal(key, (3,))
    key, subkey = random.split(key)
    out["key"], out["subkey"] = key, subkey
    out["split3"] = random.split(key, 3)
    out["fold_in"] = random.fold_in(key, 7)
    out["uniform"] = random.uniform(subkey, (4,), minval=-1.0, maxval=1.0)
    out["randint"] = random.randint(subkey, (6,), 0, 10)
    out["vmap_split_normal"] = vmap(lambda k: random.normal(k, (2,)))(random.split(key, 3))
    out["jit_normal"] = jit(lambda k: random.normal(k, (3,)))(subkey)
    logits = jnp.log(jnp.array([0.1, 0.2, 0.7]))
    out["categorical"] = random.categorical(subkey, logits, shape=(8,))
    out["choice"] = random.choice(subkey, 10, (5,), replace=False)
    out["choice_p"] = random.choice(subkey, jnp.arange(3), (6,), p=jnp.array([0.1, 0.2, 0.7]))
    out["permutation"] = random.permutation(subkey, 6)
    out["bernoulli"] = random.bernoulli(subkey, 0.3, (6,))
    new_style = random.key(1701)  # JAX's typed key; funcad's keys are its raw data
    out["key_data"] = random.key_data(new_style)
    out["wrapped_normal"] = random.normal(random.wrap_key_data(random.key_data(new_style)), (2,))
    return out


# ======================================================================================
# Gradient checkpointing


def checkpointing():
    out = {}
    rng = np.random.default_rng(2)
    Ws = [rng.normal(size=(5, 5)) * 0.5 for _ in range(3)]
    x = rng.normal(size=5)

    def g(W, x):
        y = jnp.dot(W, x)
        return jnp.sin(y)

    def f(W1, W2, W3, x):
        x = g(W1, x)
        x = g(W2, x)
        x = g(W3, x)
        return jnp.sum(x ** 2)

    def f2(W1, W2, W3, x):
        x = jax.checkpoint(g)(W1, x)
        x = jax.checkpoint(g)(W2, x)
        x = jax.checkpoint(g)(W3, x)
        return jnp.sum(x ** 2)

    out["plain"] = grad(f, (0, 1, 2, 3))(*Ws, x)[1]
    out["remat"] = grad(f2, (0, 1, 2, 3))(*Ws, x)[1]
    policy = jax.checkpoint_policies.dots_with_no_batch_dims_saveable
    f3 = jax.checkpoint(f, policy=policy)
    out["policy_jit"] = jit(grad(f3, (1, 3)))(*Ws, x)[0]

    # checkpointing a scan body: the memory trade of a long recurrence
    def run(W, x):
        body = jax.checkpoint(lambda c, _: (jnp.tanh(W @ c), None))
        return jnp.sum(lax.scan(body, x, None, length=8)[0])

    out["scan_remat"] = jit(grad(run))(Ws[0], x)
    return out


# ======================================================================================
# Per-example gradients and differentially private SGD (examples/differentially_private_sgd.py)


def dp_sgd():
    out = {}
    rng = np.random.default_rng(3)
    inputs, labels = rng.normal(size=(8, 6)), np.eye(3)[rng.integers(0, 3, size=8)]
    params = [(rng.normal(size=(6, 5)) * 0.3, np.zeros(5)), (rng.normal(size=(5, 3)) * 0.3, np.zeros(3))]

    def predict(params, x):
        (W1, b1), (W2, b2) = params
        h = jnp.tanh(x @ W1 + b1)
        logits = h @ W2 + b2
        return logits - jax.nn.logsumexp(logits, axis=-1, keepdims=True)

    def loss(params, batch):
        x, y = batch
        return -jnp.mean(jnp.sum(predict(params, x) * y, axis=-1))

    def clipped_grad(params, l2_norm_clip, single_example_batch):
        grads = grad(loss)(params, single_example_batch)
        nonempty_grads, tree_def = tree_flatten(grads)
        total_grad_norm = jnp.linalg.norm(jnp.array([jnp.linalg.norm(g.ravel()) for g in nonempty_grads]))
        divisor = jnp.maximum(total_grad_norm / l2_norm_clip, 1.0)
        return tree_unflatten(tree_def, [g / divisor for g in nonempty_grads])

    def private_grad(params, batch, rng, l2_norm_clip, noise_multiplier, batch_size):
        clipped = vmap(clipped_grad, (None, None, 0))(params, l2_norm_clip, batch)
        flat, treedef = tree_flatten(clipped)
        aggregated = [g.sum(0) for g in flat]
        rngs = random.split(rng, len(aggregated))
        noised = [g + l2_norm_clip * noise_multiplier * random.normal(r, g.shape)
                  for r, g in zip(rngs, aggregated)]
        return tree_unflatten(treedef, [g / batch_size for g in noised])

    batch = (inputs[:, None, :], labels[:, None, :])  # one example per "batch"
    key = random.PRNGKey(0)
    pg = jit(private_grad, static_argnums=(3, 4, 5))(params, batch, key, 1.0, 1.1, 8)
    out["private_W1"], out["private_b2"] = pg[0][0], pg[1][1]
    no_noise = jit(private_grad, static_argnums=(3, 4, 5))(params, batch, key, 0.5, 0.0, 8)
    out["clipped_W2"] = no_noise[1][0]
    pe = vmap(grad(loss), (None, 0))(params, batch)
    out["per_example_b1"] = pe[0][1]

    # SGD steps with the private gradient
    @partial(jit, static_argnums=3)
    def update(params, batch, key, batch_size):
        g = private_grad(params, batch, key, 1.0, 0.5, batch_size)
        return jax.tree.map(lambda p, g: p - 0.5 * g, params, g)

    for i in range(5):
        params = update(params, batch, random.fold_in(key, i), 8)
    out["trained_loss"] = loss(params, (inputs, labels))
    return out


# ======================================================================================
# Training a simple neural network, and examples/mnist_classifier_fromscratch.py


def synthetic_classes(n, d, k, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 2.0
    labels = rng.integers(0, k, size=n)
    return centers[labels] + rng.normal(size=(n, d)), labels


def simple_nn():
    out = {}

    def random_layer_params(m, n, key, scale=1e-1):
        w_key, b_key = random.split(key)
        return scale * random.normal(w_key, (n, m)), scale * random.normal(b_key, (n,))

    def init_network_params(sizes, key):
        keys = random.split(key, len(sizes))
        return [random_layer_params(m, n, k) for m, n, k in zip(sizes[:-1], sizes[1:], keys)]

    layer_sizes, step_size, batch_size, n_targets = [16, 32, 32, 4], 1.0, 32, 4
    params = init_network_params(layer_sizes, random.PRNGKey(0))

    def relu(x):
        return jnp.maximum(0, x)

    def predict(params, image):  # one example; vmap makes it batched
        activations = image
        for w, b in params[:-1]:
            activations = relu(jnp.dot(w, activations) + b)
        final_w, final_b = params[-1]
        logits = jnp.dot(final_w, activations) + final_b
        return logits - jax.scipy.special.logsumexp(logits)

    batched_predict = vmap(predict, in_axes=(None, 0))

    def one_hot(x, k, dtype=jnp.float64):
        return jnp.array(x[:, None] == jnp.arange(k), dtype)

    def accuracy(params, images, targets):
        target_class = jnp.argmax(targets, axis=1)
        predicted_class = jnp.argmax(batched_predict(params, images), axis=1)
        return jnp.mean(predicted_class == target_class)

    def loss(params, images, targets):
        preds = batched_predict(params, images)
        return -jnp.mean(preds * targets)

    @jit
    def update(params, x, y):
        grads = grad(loss)(params, x, y)
        return [(w - step_size * dw, b - step_size * db) for (w, b), (dw, db) in zip(params, grads)]

    images, labels = synthetic_classes(256, 16, n_targets, seed=4)
    targets = one_hot(jnp.asarray(labels), n_targets)
    out["one_hot_row"] = targets[0]
    out["batched_predict"] = batched_predict(params, images[:3])
    out["single_predict"] = predict(params, images[0])
    out["accuracy_before"] = accuracy(params, images, targets)
    for _ in range(3):
        for i in range(0, 256, batch_size):
            params = update(params, images[i:i + batch_size], targets[i:i + batch_size])
    out["loss_after"] = loss(params, images, targets)
    out["accuracy_after"] = accuracy(params, images, targets)
    out["w0_after"] = params[0][0][:2, :4]
    return out


def mnist_fromscratch():
    out = {}

    def init_random_params(scale, layer_sizes, rng=np.random.RandomState(0)):  # noqa: B008
        return [(scale * rng.randn(m, n), scale * rng.randn(n))
                for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]

    def predict(params, inputs):
        activations = inputs
        for w, b in params[:-1]:
            outputs = jnp.dot(activations, w) + b
            activations = jnp.tanh(outputs)
        final_w, final_b = params[-1]
        logits = jnp.dot(activations, final_w) + final_b
        return logits - jax.scipy.special.logsumexp(logits, axis=1, keepdims=True)

    def loss(params, batch):
        inputs, targets = batch
        preds = predict(params, inputs)
        return -jnp.mean(jnp.sum(preds * targets, axis=1))

    def accuracy(params, batch):
        inputs, targets = batch
        return jnp.mean(jnp.argmax(predict(params, inputs), axis=1) == jnp.argmax(targets, axis=1))

    step_size, momentum_mass, num_epochs = 0.05, 0.9, 3
    images, labels = synthetic_classes(200, 20, 5, seed=5)
    targets = np.eye(5)[labels]
    params = init_random_params(0.1, [20, 32, 16, 5])

    @jit
    def update(params, velocity, batch):
        grads = grad(loss)(params, batch)
        velocity = jax.tree.map(lambda v, g: momentum_mass * v + g, velocity, grads)
        return jax.tree.map(lambda p, v: p - step_size * v, params, velocity), velocity

    velocity = jax.tree.map(jnp.zeros_like, params)
    rng = np.random.RandomState(0)
    for _ in range(num_epochs):
        perm = rng.permutation(200)
        for start in range(0, 200, 25):
            idx = perm[start:start + 25]
            params, velocity = update(params, velocity, (images[idx], targets[idx]))
    out["loss"] = loss(params, (images, targets))
    out["accuracy"] = accuracy(params, (images, targets))
    out["b_last"] = params[-1][1]
    return out


# ======================================================================================
# examples/kernel_lsq.py and examples/gaussian_process_regression.py


def kernel_lsq():
    out = {}

    def gram(kernel, xs):
        return vmap(lambda x: vmap(lambda y: kernel(x, y))(xs))(xs)

    def minimize(f, x, num_steps=300, step_size=1e-3, mass=0.9):
        opt_init, opt_update, get_params = optimizers.momentum(step_size, mass)

        @jit
        def update(i, opt_state):
            x = get_params(opt_state)
            return opt_update(i, grad(f)(x), opt_state)

        opt_state = opt_init(x)
        for i in range(num_steps):
            opt_state = update(i, opt_state)
        return get_params(opt_state)

    def train(kernel, xs, ys, regularization=0.01):
        gram_mat = jit(partial(gram, kernel))(xs)

        def objective(v):
            risk = 0.5 * jnp.sum((jnp.dot(gram_mat, v) - ys) ** 2.0)
            reg = regularization * jnp.sum(v ** 2.0)
            return risk + reg

        v = minimize(objective, jnp.zeros(xs.shape[0]))

        def predict(x):
            prods = vmap(lambda x_: kernel(x, x_))(xs)
            return jnp.sum(v * prods)

        return jit(vmap(predict)), v, gram_mat

    rng = np.random.RandomState(0)
    xs = rng.normal(size=(20, 4))
    truth = rng.normal(size=4)
    ys = xs @ truth + 0.1 * rng.normal(size=20)
    predict, v, gram_mat = train(jnp.dot, xs, ys)
    out["gram"] = gram_mat
    out["v"] = v
    out["predict"] = predict(xs[:5])
    rbf = lambda x, y: jnp.exp(-0.5 * jnp.sum((x - y) ** 2))  # noqa: E731
    out["gram_rbf"] = jit(partial(gram, rbf))(xs[:6])
    return out


def gaussian_process():
    out = {}
    numpts = 7
    key = random.PRNGKey(0)
    eye = jnp.eye(numpts)

    def cov_map(cov_func, xs, xs2=None):
        if xs2 is None:
            return vmap(lambda x: vmap(lambda y: cov_func(x, y))(xs))(xs)
        return vmap(lambda x: vmap(lambda y: cov_func(x, y))(xs))(xs2).T

    def softplus(x):
        return jnp.logaddexp(x, 0.0)

    def exp_quadratic(x1, x2):
        return jnp.exp(-jnp.sum((x1 - x2) ** 2))

    def gp(params, x, y, xtest=None, compute_marginal_likelihood=False):
        noise = softplus(params["noise"])
        amp = softplus(params["amplitude"])
        ls = softplus(params["lengthscale"])
        ymean = jnp.mean(y)
        y = y - ymean
        x = x / ls
        train_cov = amp * cov_map(exp_quadratic, x) + eye * (noise + 1e-6)
        chol = jsp.linalg.cholesky(train_cov, lower=True)
        kinvy = jsp.linalg.solve_triangular(chol.T, jsp.linalg.solve_triangular(chol, y, lower=True))
        if compute_marginal_likelihood:
            log2pi = jnp.log(2.0 * 3.1415)
            ml = jnp.sum(-0.5 * jnp.dot(y.T, kinvy) - jnp.sum(jnp.log(jnp.diag(chol)))
                         - (numpts / 2.0) * log2pi)
            ml -= jnp.sum(-0.5 * jnp.log(2 * 3.1415) - jnp.log(amp) ** 2)  # lognormal prior
            return -ml
        xtest = xtest / ls
        cross_cov = amp * cov_map(exp_quadratic, x, xtest)
        mu = jnp.dot(cross_cov.T, kinvy) + ymean
        v = jsp.linalg.solve_triangular(chol, cross_cov, lower=True)
        var = amp * cov_map(exp_quadratic, xtest) - jnp.dot(v.T, v)
        return mu, var

    marginal_likelihood = partial(gp, compute_marginal_likelihood=True)
    grad_fun = jit(grad(marginal_likelihood))
    params = {"amplitude": jnp.zeros((1, 1)), "noise": jnp.zeros((1, 1)) - 5.0,
              "lengthscale": jnp.zeros((1, 1))}
    momentums = {k: p * 0.0 for k, p in params.items()}
    scales = {k: p * 0.0 + 1.0 for k, p in params.items()}
    lr = 0.01

    def train_step(params, momentums, scales, x, y):
        grads = grad_fun(params, x, y)
        for k in params:
            momentums[k] = 0.9 * momentums[k] + 0.1 * grads[k][0]
            scales[k] = 0.9 * scales[k] + 0.1 * grads[k][0] ** 2
            params[k] = params[k] - lr * momentums[k] / jnp.sqrt(scales[k] + 1e-5)
        return params, momentums, scales

    x = (random.uniform(key, shape=(numpts, 1)) * 4.0) + 1
    y = jnp.sin(x) + 0.1 * random.normal(key, shape=(x.shape[0], 1))
    xtest = jnp.linspace(0, 6.0, 25)[:, None]
    out["nll_before"] = marginal_likelihood(params, x, y)
    out["grad_before"] = jnp.concatenate([g.ravel() for g in jax.tree.leaves(grad_fun(params, x, y))])
    for _ in range(60):
        params, momentums, scales = train_step(params, momentums, scales, x, y)
    out["params"] = jnp.concatenate([p.ravel() for p in jax.tree.leaves(params)])
    out["nll_after"] = marginal_likelihood(params, x, y)
    mu, var = jit(gp)(params, x, y, xtest)
    out["mu"], out["var_diag"] = mu.ravel(), jnp.diag(var)
    return out


# ======================================================================================
# Generalized convolutions


def convolutions():
    out = {}
    # basic N-dimensional convolution: smoothing a noisy image with a Gaussian kernel
    rng = np.random.default_rng(6)
    image = np.add.outer(np.sin(np.linspace(0, 3, 24)), np.cos(np.linspace(0, 2, 20)))
    noisy = image + 0.3 * rng.normal(size=image.shape)
    x = jnp.linspace(-3, 3, 7)
    window = jsp.stats.norm.pdf(x) * jsp.stats.norm.pdf(x[:, None])
    out["smooth"] = jsp.signal.convolve(noisy, window, mode="same")

    # general convolutions: an edge-detector kernel over three "images" of coloured squares
    kernel = jnp.zeros((3, 3, 3, 3), dtype=jnp.float64)
    kernel += jnp.array([[1, 1, 0], [1, 0, -1], [0, -1, -1]])[:, :, jnp.newaxis, jnp.newaxis]
    img = jnp.zeros((1, 40, 38, 3), dtype=jnp.float64)
    for k in range(3):
        x0, y0 = 6 + 11 * k, 4 + 11 * k
        img = img.at[0, x0:x0 + 6, y0:y0 + 6, k].set(1.0)
    out["conv_nchw"] = lax.conv(jnp.transpose(img, [0, 3, 1, 2]), jnp.transpose(kernel, [3, 2, 0, 1]),
                                (1, 1), "SAME")
    out["general_padding"] = lax.conv_with_general_padding(
        jnp.transpose(img, [0, 3, 1, 2]), jnp.transpose(kernel, [2, 3, 0, 1]), (1, 1), ((2, 2), (2, 2)),
        (1, 1), (1, 1))
    dn = lax.conv_dimension_numbers(img.shape, kernel.shape, ("NHWC", "HWIO", "NHWC"))
    out["dn"] = jnp.array(dn.lhs_spec + dn.rhs_spec + dn.out_spec)
    out["nhwc_same"] = lax.conv_general_dilated(img, kernel, (1, 1), "SAME", (1, 1), (1, 1), dn)
    out["nhwc_valid_strided"] = lax.conv_general_dilated(img, kernel, (2, 2), "VALID", (1, 1), (1, 1), dn)
    out["atrous"] = lax.conv_general_dilated(img, kernel, (1, 1), "VALID", (1, 1), (4, 4), dn)
    out["transposed"] = lax.conv_general_dilated(img, kernel, (1, 1), ((0, 0), (0, 0)), (2, 2), (1, 1), dn)
    out["transposed_padded"] = lax.conv_general_dilated(img, kernel, (1, 1), ((1, 1), (1, 1)), (2, 2),
                                                        (1, 1), dn)
    out["conv_transpose"] = lax.conv_transpose(img, kernel, (2, 2), "SAME")
    # 1-d and 3-d
    kernel1 = jnp.array([1, 0, -1], dtype=jnp.float64)[:, jnp.newaxis, jnp.newaxis]
    data1 = jnp.zeros((1, 30, 1), dtype=jnp.float64).at[0, 10:20, 0].set(1.0)
    dn1 = lax.conv_dimension_numbers(data1.shape, kernel1.shape, ("NWC", "WIO", "NWC"))
    out["conv_1d"] = lax.conv_general_dilated(data1, kernel1, (1,), "SAME", (1,), (1,), dn1)
    xs = jnp.linspace(-1, 1, 5)
    kernel3 = (jnp.exp(-xs[:, None, None] ** 2 - xs[None, :, None] ** 2 - xs[None, None, :] ** 2)
               [:, :, :, jnp.newaxis, jnp.newaxis])
    data3 = jnp.zeros((1, 8, 8, 8, 1), dtype=jnp.float64).at[0, 3:5, 2:6, 4, 0].set(1.0)
    dn3 = lax.conv_dimension_numbers(data3.shape, kernel3.shape, ("NHWDC", "HWDIO", "NHWDC"))
    out["conv_3d"] = lax.conv_general_dilated(data3, kernel3, (1, 1, 1), "SAME", (1, 1, 1), (1, 1, 1), dn3)

    # a small convolutional network: grad under jit, and vmap over examples
    def cnn_loss(params, images, labels):
        h = lax.conv_general_dilated(images, params["k1"], (2, 2), "SAME", dimension_numbers=dn)
        h = jax.nn.relu(h)
        h = lax.conv_general_dilated(h, params["k2"], (1, 1), "VALID", feature_group_count=2,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        logits = jnp.mean(h, axis=(1, 2))
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * labels, axis=-1))

    params = {"k1": 0.3 * random.normal(random.PRNGKey(1), (3, 3, 3, 4)),
              "k2": 0.3 * random.normal(random.PRNGKey(2), (3, 3, 2, 2))}
    images = random.normal(random.PRNGKey(3), (4, 12, 10, 3))
    labels = jax.nn.one_hot(jnp.array([0, 1, 1, 0]), 2)
    g = jit(grad(cnn_loss))(params, images, labels)
    out["cnn_loss"] = cnn_loss(params, images, labels)
    out["cnn_grad_k1"], out["cnn_grad_k2"] = g["k1"], g["k2"]
    out["cnn_per_example"] = vmap(lambda im, lb: cnn_loss(params, im[None], lb[None]))(images, labels)
    return out


# ======================================================================================
# jax.scipy.optimize.minimize (BFGS)


def rosen(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def logistic_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=50) > 0) * 1.0
    return X, y


def scipy_minimize():
    out = {}
    x0 = jnp.array([-1.2, 1.0, -0.5, 0.8])
    res = jsp.optimize.minimize(rosen, x0, method="BFGS")
    out["rosen_x"], out["rosen_fun"], out["rosen_success"] = res.x, res.fun, res.success
    res = jit(lambda x0: jsp.optimize.minimize(rosen, x0, method="BFGS"))(x0)
    out["rosen_jit_x"] = res.x
    X, y = logistic_data()

    def nll(w, X, y):
        z = X @ w
        return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + 0.01 * jnp.sum(w ** 2)

    res = jsp.optimize.minimize(nll, jnp.zeros(3), args=(X, y), method="BFGS", tol=1e-8)
    out["logreg_x"], out["logreg_status"] = res.x, res.status
    return out


# ======================================================================================
# jax.example_libraries.optimizers on a pytree of parameters, with schedules


def example_optimizers():
    out = {}
    rng = np.random.default_rng(8)
    A, b = rng.normal(size=(6, 3)), rng.normal(size=6)
    params0 = {"w": np.zeros(3), "c": (np.ones(2), 0.5)}

    def loss(p):
        r = A @ p["w"] - b + p["c"][1]
        return jnp.sum(r ** 2) + jnp.sum((p["c"][0] - 2.0) ** 2) + 0.1 * optimizers.l2_norm(p) ** 2

    schedules = {"sgd": optimizers.sgd(optimizers.exponential_decay(0.02, 10, 0.5)),
                 "momentum": optimizers.momentum(0.01, 0.9),
                 "nesterov": optimizers.nesterov(optimizers.inverse_time_decay(0.01, 5, 0.5, staircase=True),
                                                 0.9),
                 "adagrad": optimizers.adagrad(0.1),
                 "rmsprop": optimizers.rmsprop(optimizers.polynomial_decay(0.05, 20, 0.001)),
                 "rmsprop_momentum": optimizers.rmsprop_momentum(0.01),
                 "adam": optimizers.adam(optimizers.piecewise_constant([10, 20], [0.1, 0.05, 0.01])),
                 "adamax": optimizers.adamax(0.1)}
    for name, (opt_init, opt_update, get_params) in schedules.items():
        @jit
        def step(i, state):
            g = optimizers.clip_grads(grad(loss)(get_params(state)), 5.0)
            return opt_update(i, g, state)

        state = opt_init(params0)
        for i in range(30):
            state = step(i, state)
        p = get_params(state)
        out[name] = jnp.concatenate([p["w"], p["c"][0], jnp.atleast_1d(p["c"][1])])
    return out


PROGRAMS = {"cookbook_more": cookbook_more, "custom_rules": custom_rules,
            "control_flow_more": control_flow_more, "random_tutorial": random_tutorial,
            "checkpointing": checkpointing, "dp_sgd": dp_sgd, "simple_nn": simple_nn,
            "mnist_fromscratch": mnist_fromscratch, "kernel_lsq": kernel_lsq,
            "gaussian_process": gaussian_process, "convolutions": convolutions,
            "scipy_minimize": scipy_minimize, "example_optimizers": example_optimizers}


def _encode(v):
    a = np.asarray(v)
    return {"dtype": a.dtype.name, "re": a.real.tolist(), "im": a.imag.tolist() if a.dtype.kind == "c" else 0}


def _decode(d):
    re = np.asarray(d["re"])
    return (re + 1j * np.asarray(d["im"]) if np.dtype(d["dtype"]).kind == "c" else re).astype(d["dtype"])



# ======================================================================================
# The tests

import hashlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402

from funcad.test_util import check_grads  # noqa: E402

_RAN: dict = {}


def ran(name):
    """A program's values, computed once per test session."""
    if name not in _RAN:
        _RAN[name] = PROGRAMS[name]()
    return _RAN[name]


def close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _jax_python():
    exe = os.environ.get("FUNCAD_JAX_PYTHON", "")
    if not exe or not os.path.exists(exe):
        return None
    probe = subprocess.run([exe, "-c", "import jax"], capture_output=True)
    return exe if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def jax_values():
    """JAX's values of every program: this file run with ``--jax`` by a Python with JAX (about
    a minute of CPU: JAX compiles each eager operation), kept in the temporary directory by the
    file's hash so that later runs of an unchanged file read them back."""
    exe = _jax_python()
    if exe is None:
        pytest.skip("no Python with JAX named by FUNCAD_JAX_PYTHON")
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read() + exe.encode()).hexdigest()[:16]
    kept = os.path.join(tempfile.gettempdir(), f"funcad-port-jax-more-{os.getuid()}-{digest}.json")
    if os.path.exists(kept):
        with open(kept) as f:
            return json.load(f)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    res = subprocess.run([exe, __file__, "--jax"], capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    with open(kept + ".tmp", "w") as f:
        f.write(res.stdout)
    os.replace(kept + ".tmp", kept)
    return json.loads(res.stdout)


# JAX's mean of a boolean array is float32 (even with x64); funcad's, as NumPy's, is float64
_FLOAT32_IN_JAX = {"accuracy", "accuracy_before", "accuracy_after"}
# BFGS's line searches differ (JAX: zoom, funcad: backtracking), and JAX stops on a gradient
# of 3e-6 where tol=1e-8 asks for less: the same minimum, to these tolerances
_LOOSE = {("scipy_minimize", "rosen_x"): 1e-7, ("scipy_minimize", "rosen_jit_x"): 1e-7,
          ("scipy_minimize", "rosen_fun"): 1e-12, ("scipy_minimize", "logreg_x"): 1e-4}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_values_match_jax_live(name, jax_values):
    got, want = ran(name), jax_values[name]
    assert sorted(got) == sorted(want)
    for key, enc in want.items():
        w, g = _decode(enc), np.asarray(got[key])
        assert g.shape == w.shape, key
        if key in _FLOAT32_IN_JAX:
            assert (w.dtype, g.dtype) == (np.float32, np.float64), key
            np.testing.assert_allclose(g, w, rtol=1e-7, err_msg=key)
            continue
        assert g.dtype == w.dtype, (key, g.dtype, w.dtype)
        if g.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=key)
        elif (name, key) in _LOOSE:
            np.testing.assert_allclose(g, w, atol=_LOOSE[name, key], err_msg=key)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11, err_msg=key)


def test_cookbook_more_against_closed_forms():
    out = ran("cookbook_more")
    H = out["hessian"]
    v = np.arange(6.0) / 6
    for k in ("hvp_fwdrev", "hvp_revrev", "hvp_revfwd", "hvp_jit"):
        close(out[k], H @ v)
    close(out["hmp"], H)
    close(H, H.T)
    close(out["jacrev_tree_W1"], out["jacfwd_tree_W1"])
    z = 3.0 + 4.0j
    close(out["grad_abs2"], 2 * np.conj(z))  # JAX's convention: the conjugate of df/dx + i df/dy
    close(out["grad_abs"], np.conj(z) / abs(z))
    close(out["grad_holo_sin"], np.cos(z))
    close(out["grad_holo_poly"], 3 * (1.0 + 2.0j) ** 2 - 2)
    A = np.array([[5.0, 2.0 + 3.0j, 5.0j], [2.0 - 3.0j, 7.0, 1.0 + 7.0j], [-5.0j, 1.0 - 7.0j, 12.0]])
    close(out["grad_norm_sq"], 2 * np.conj(A))
    zz = np.array([1.0j, 0.5 + 0.5j])
    close(out["jacfwd_holo"], np.diag(np.exp(zz) * (1 + zz)))
    close(out["jacrev_holo"], out["jacfwd_holo"])
    close(out["vjp_complex"], np.cos(1.0 + 1.0j))
    close(out["jvp_complex"], np.exp(1.0 + 1.0j) * 2.0j)


def test_cookbook_more_against_finite_differences():
    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4)
    X = rng.normal(size=(5, 3))
    loss = lambda p: jnp.sum(jnp.log1p(jnp.exp(jnp.tanh(X @ p["W1"] + p["b1"]) @ p["W2"])))  # noqa: E731
    check_grads(loss, ({"W1": W1, "b1": b1, "W2": W2},), order=2)
    out = ran("cookbook_more")
    fd = (loss({"W1": W1 + 1e-6 * 0.1, "b1": b1 + 1e-6 * 0.1, "W2": W2 + 1e-6 * 0.1})
          - loss({"W1": W1 - 1e-6 * 0.1, "b1": b1 - 1e-6 * 0.1, "W2": W2 - 1e-6 * 0.1})) / 2e-6
    close(out["jvp_pytree"], fd, rtol=1e-6)


def test_custom_rules_against_closed_forms():
    out = ran("custom_rules")
    assert out["f_grad0"] == 1.0  # differentiating the formula would give nan at 0
    x = np.array([0.5, 2.0])
    close(out["f_grad"][1:], (np.sqrt(x) + 2) / (2 * (np.sqrt(x) + 1) ** 2))
    close(out["f_jit_grad"], out["f_grad"][2])
    close(out["defjvps"], [np.cos(2.0) * 3.0, np.sin(2.0)])
    close(out["defjvps_hess"], -np.sin(2.0) * 3.0)
    close(out["pytree_rule"], [2.0 + np.cos(1.0), -np.sin(2.0)])
    assert out["nondiff_jvp"] == 2.0
    close(out["custom_vjp"], [np.cos(2.0) * 3.0, np.sin(2.0)])
    close(out["custom_vjp_vmap_jit"], np.cos(np.arange(3.0)))
    close(out["sqrt"], np.sqrt(2.0))
    close(out["sqrt'"], 0.5 / np.sqrt(2.0))
    close(out["sqrt''"], -0.25 * 2.0 ** -1.5, rtol=1e-9)
    close(out["sqrt'_jit_vmap"], 0.5 / np.sqrt([1.0, 4.0, 9.0]))
    xs = np.linspace(0.0, 2.0, 5)
    close(out["clip_jvp"], np.clip(3 * np.cos(3 * xs), -0.75, 0.75))
    close(out["straight_through"], [3.0, 1.0])


def test_custom_jvp_rule_not_linear_in_tangents_has_no_reverse_mode():
    @custom_jvp
    def clip_gradient(lo, hi, x):
        return x

    @clip_gradient.defjvp
    def clip_gradient_jvp(primals, tangents):
        return primals[2], jnp.clip(tangents[2], primals[0], primals[1])

    f = lambda x: clip_gradient(-0.75, 0.75, jnp.sin(3 * x))  # noqa: E731
    close(jvp(f, (0.1,), (1.0,))[1], 0.75)
    close(jacfwd(f)(1.0), np.clip(3 * np.cos(3.0), -0.75, 0.75))
    with pytest.raises(jax.errors.NonlinearTangentError, match="custom_vjp"):
        grad(f)(0.1)  # JAX: NotImplementedError, "Transpose rule ... for 'min' not implemented"
    with pytest.raises(jax.errors.NonlinearTangentError):
        jit(grad(f))(0.1)


def test_control_flow_more_against_loops():
    out = ran("control_flow_more")
    xs = np.array([1.0, -2.0, 3.0, 0.5, 4.0])
    close(out["cumsum"], np.cumsum(xs))
    close(out["cumsum_rev"], np.cumsum(xs[::-1])[::-1])
    check_grads(lambda xs: jnp.sum(lax.scan(lambda c, x: (c * x, c * x), 1.0, xs)[1]), (xs,), order=1)
    close(out["cumsum_grad"], grad(lambda xs: jnp.sum(jnp.cumprod(xs)))(xs))
    a, b, ys = 0.0, 1.0, []
    for xa, xb in zip(xs, xs[::-1]):
        ys.append(a * b)
        a, b = a + xa, b * xb
    close(out["scan_tree"], [a, b, *ys])
    close(out["scan_length"], [1.0, 2.0, 4.0, 8.0, 16.0])
    close(out["cbrt"], 5.0 ** (1 / 3), rtol=1e-13)
    assert 3 <= out["cbrt_iters"] < 50
    close(out["cbrt_fwd"], 1 / (3 * 5.0 ** (2 / 3)), rtol=1e-10)
    close(out["cbrt_vmap"], [1.0, 2.0, 3.0], rtol=1e-13)
    terms = [0.7 ** k / np.prod(np.arange(1.0, k + 1)) for k in range(20)]
    close(out["exp_series"], sum(terms))
    close(out["exp_series'"], sum(terms[:-1]))
    close(out["cond_grad"], [3.0, np.cos(2.0)])


def test_rnn_scan_gradient_against_finite_differences_and_eager():
    p, seq = rnn_problem()
    check_grads(rnn_loss, (p, seq), order=1)
    out = ran("control_flow_more")
    g = grad(rnn_loss)(p, seq)
    close(out["rnn_grad_Wh"], g["Wh"])
    close(out["rnn_grad_Wx"], g["Wx"])


def test_random_tutorial_properties():
    out = ran("random_tutorial")
    np.testing.assert_array_equal(out["normal"], out["normal_again"])  # same key, same numbers
    assert out["key"].dtype == np.uint32 and out["split3"].shape == (3, 2)
    assert not np.array_equal(out["key"], out["subkey"])
    np.testing.assert_array_equal(out["jit_normal"], random.normal(out["subkey"], (3,)))
    np.testing.assert_array_equal(out["vmap_split_normal"],
                                  [random.normal(k, (2,)) for k in out["split3"]])
    assert np.all(np.abs(out["uniform"]) < 1.0) and set(out["randint"]) <= set(range(10))
    assert set(out["categorical"]) <= {0, 1, 2}
    assert len(set(out["choice"].tolist())) == 5 and set(out["choice"]) <= set(range(10))
    assert sorted(out["permutation"].tolist()) == list(range(6))
    assert out["bernoulli"].dtype == np.bool_
    np.testing.assert_array_equal(random.fold_in(out["key"], 7), out["fold_in"])
    np.testing.assert_array_equal(out["key_data"], [0, 1701])
    np.testing.assert_array_equal(out["wrapped_normal"], random.normal(random.PRNGKey(1701), (2,)))
    assert not np.array_equal(random.fold_in(out["key"], 8), out["fold_in"])
    # the draws follow their distributions
    k = random.PRNGKey(3)
    p = np.array([0.1, 0.2, 0.7])
    counts = np.bincount(random.categorical(k, np.log(p), shape=(20000,)), minlength=3) / 20000
    close(counts, p, atol=0.015)
    counts = np.bincount(random.choice(k, 3, (20000,), p=p), minlength=3) / 20000
    close(counts, p, atol=0.015)
    x = jit(lambda k: random.normal(k, (20000,)))(k)
    assert abs(x.mean()) < 0.03 and abs(x.std() - 1) < 0.03


def test_checkpointing_changes_no_value():
    out = ran("checkpointing")
    close(out["remat"], out["plain"])
    close(out["policy_jit"], out["plain"])
    rng = np.random.default_rng(2)
    W, x = rng.normal(size=(5, 5)) * 0.5, None
    Ws = [W] + [rng.normal(size=(5, 5)) * 0.5 for _ in range(2)]
    x = rng.normal(size=5)

    def run(W, x):
        return jnp.sum(lax.scan(lambda c, _: (jnp.tanh(W @ c), None), x, None, length=8)[0])

    close(out["scan_remat"], grad(run)(Ws[0], x))
    check_grads(run, (Ws[0], x), order=1)


def test_dp_sgd_clipped_gradients_against_a_loop():
    rng = np.random.default_rng(3)
    inputs, labels = rng.normal(size=(8, 6)), np.eye(3)[rng.integers(0, 3, size=8)]
    (W1, b1), (W2, b2) = [(rng.normal(size=(6, 5)) * 0.3, np.zeros(5)), (rng.normal(size=(5, 3)) * 0.3,
                                                                         np.zeros(3))]

    def np_grads(x, y):  # the per-example gradient by hand: softmax cross-entropy of a tanh layer
        h = np.tanh(x @ W1 + b1)
        logits = h @ W2 + b2
        p = np.exp(logits - logits.max())
        p /= p.sum()
        d = p - y
        dh = (W2 @ d) * (1 - h ** 2)
        return [np.outer(x, dh), dh, np.outer(h, d), d]

    per = [np_grads(x, y) for x, y in zip(inputs, labels)]
    out = ran("dp_sgd")
    close(out["per_example_b1"], np.array([g[1] for g in per]), rtol=1e-9)
    clipped = []
    for g in per:
        norm = np.sqrt(sum(np.sum(gi ** 2) for gi in g))
        clipped.append([gi / max(norm / 0.5, 1.0) for gi in g])
    close(out["clipped_W2"], sum(c[2] for c in clipped) / 8, rtol=1e-9)
    rngs = random.split(random.PRNGKey(0), 4)
    clipped1 = []
    for g in per:
        norm = np.sqrt(sum(np.sum(gi ** 2) for gi in g))
        clipped1.append([gi / max(norm, 1.0) for gi in g])
    W1_noise = 1.1 * random.normal(rngs[0], (6, 5))
    close(out["private_W1"], (sum(c[0] for c in clipped1) + W1_noise) / 8, rtol=1e-9)
    assert out["trained_loss"] < -np.mean(np.sum(np.log(np.full((8, 3), 1 / 3)) * labels, 1))


def test_simple_nn_and_mnist_fromscratch_train():
    out = ran("simple_nn")
    np.testing.assert_array_equal(out["one_hot_row"].sum(), 1.0)
    close(out["batched_predict"][0], out["single_predict"])
    close(np.exp(out["batched_predict"]).sum(1), np.ones(3))
    assert out["accuracy_after"] > 0.9 > out["accuracy_before"]
    assert ran("mnist_fromscratch")["accuracy"] > 0.8


def test_kernel_lsq_against_numpy():
    out = ran("kernel_lsq")
    rng = np.random.RandomState(0)
    xs = rng.normal(size=(20, 4))
    truth = rng.normal(size=4)
    ys = xs @ truth + 0.1 * rng.normal(size=20)
    G = xs @ xs.T
    close(out["gram"], G)
    v, vel = np.zeros(20), np.zeros(20)
    for _ in range(300):  # the same momentum loop, with the gradient by hand
        vel = 0.9 * vel + G.T @ (G @ v - ys) + 0.02 * v
        v = v - 1e-3 * vel
    close(out["v"], v, rtol=1e-8, atol=1e-10)
    close(out["predict"], xs[:5] @ xs.T @ v, rtol=1e-9)
    d = ((xs[:6, None] - xs[None, :6]) ** 2).sum(-1)
    close(out["gram_rbf"], np.exp(-0.5 * d))


def test_gaussian_process_against_numpy_and_finite_differences():
    out = ran("gaussian_process")
    key = random.PRNGKey(0)
    x = random.uniform(key, shape=(7, 1)) * 4.0 + 1
    y = np.sin(x) + 0.1 * random.normal(key, shape=(7, 1))
    amp, ls, noise = np.logaddexp(out["params"], 0.0)  # the leaves in key order
    xt = np.linspace(0, 6.0, 25)[:, None]
    k = lambda a, b: amp * np.exp(-((a / ls) - (b / ls).T) ** 2)  # noqa: E731
    K = k(x, x) + np.eye(7) * (noise + 1e-6)
    ym = y.mean()
    mu = k(x, xt).T @ np.linalg.solve(K, y - ym) + ym
    var = k(xt, xt) - k(x, xt).T @ np.linalg.solve(K, k(x, xt))
    close(out["mu"], mu.ravel(), rtol=1e-8, atol=1e-10)
    close(out["var_diag"], np.diag(var), rtol=1e-6, atol=1e-9)
    assert out["nll_after"] < out["nll_before"]

    def nll(a, s, n):  # the leaves' order: amplitude, lengthscale, noise
        amp, noise, ls = np.logaddexp(a, 0), np.logaddexp(n, 0), np.logaddexp(s, 0)
        K = amp * np.exp(-((x / ls) - (x / ls).T) ** 2) + np.eye(7) * (noise + 1e-6)
        yc = y - y.mean()
        return (0.5 * yc.T @ np.linalg.solve(K, yc) + 0.5 * np.linalg.slogdet(K)[1]
                + 3.5 * np.log(2 * 3.1415) - 0.5 * np.log(2 * 3.1415) - np.log(amp) ** 2).item()

    eps, p0 = 1e-6, np.array([0.0, 0.0, -5.0])
    fd = [(nll(*(p0 + eps * e)) - nll(*(p0 - eps * e))) / (2 * eps) for e in np.eye(3)]
    close(out["grad_before"], fd, rtol=1e-5, atol=1e-7)


def test_convolutions_against_scipy():
    import scipy.signal

    out = ran("convolutions")
    rng = np.random.default_rng(6)
    image = np.add.outer(np.sin(np.linspace(0, 3, 24)), np.cos(np.linspace(0, 2, 20)))
    noisy = image + 0.3 * rng.normal(size=image.shape)
    x = np.linspace(-3, 3, 7)
    g1 = np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)
    close(out["smooth"], scipy.signal.convolve(noisy, np.outer(g1, g1), mode="same"))
    k2 = np.array([[1.0, 1, 0], [1, 0, -1], [0, -1, -1]])
    img = np.zeros((1, 40, 38, 3))
    for k in range(3):
        img[0, 6 + 11 * k:12 + 11 * k, 4 + 11 * k:10 + 11 * k, k] = 1.0
    plane = sum(img[0, :, :, c] for c in range(3))  # every (in, out) pair has the same 3x3 kernel

    def corr(a, mode, pad=0):
        return scipy.signal.correlate(np.pad(a, pad), k2, mode=mode)

    same = corr(plane, "same")
    for c in range(3):
        close(out["nhwc_same"][0, :, :, c], same)
        close(out["conv_nchw"][0, c], same)
        close(out["general_padding"][0, c], corr(plane, "valid", 2))
        close(out["nhwc_valid_strided"][0, :, :, c], corr(plane, "valid")[::2, ::2])
    close(out["dn"], [0, 3, 1, 2, 3, 2, 0, 1, 0, 3, 1, 2])
    dilated = np.zeros((79, 75))
    dilated[::2, ::2] = plane
    close(out["transposed"][0, :, :, 0], scipy.signal.correlate(dilated, k2, mode="valid"))
    close(out["transposed_padded"][0, :, :, 0], scipy.signal.correlate(np.pad(dilated, 1), k2, mode="valid"))
    k_atrous = np.zeros((9, 9))
    k_atrous[::4, ::4] = k2
    close(out["atrous"][0, :, :, 1], scipy.signal.correlate(plane, k_atrous, mode="valid"))
    edges = np.zeros(30)
    edges[10:20] = 1.0
    close(out["conv_1d"][0, :, 0], scipy.signal.correlate(edges, [1.0, 0, -1], mode="same"))
    xs = np.linspace(-1, 1, 5)
    k3 = np.exp(-xs[:, None, None] ** 2 - xs[None, :, None] ** 2 - xs[None, None, :] ** 2)
    d3 = np.zeros((8, 8, 8))
    d3[3:5, 2:6, 4] = 1.0
    close(out["conv_3d"][0, ..., 0], scipy.signal.correlate(d3, k3, mode="same"))


def test_convolution_network_derivatives_batching_and_jit():
    out = ran("convolutions")
    dn = ("NHWC", "HWIO", "NHWC")

    def cnn_loss(params, images, labels):
        h = jax.nn.relu(lax.conv_general_dilated(images, params["k1"], (2, 2), "SAME", dimension_numbers=dn))
        h = lax.conv_general_dilated(h, params["k2"], (1, 1), "VALID", feature_group_count=2,
                                     dimension_numbers=dn)
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(jnp.mean(h, axis=(1, 2))) * labels, axis=-1))

    params = {"k1": 0.3 * random.normal(random.PRNGKey(1), (3, 3, 3, 4)),
              "k2": 0.3 * random.normal(random.PRNGKey(2), (3, 3, 2, 2))}
    images = random.normal(random.PRNGKey(3), (4, 12, 10, 3))
    labels = np.eye(2)[[0, 1, 1, 0]]
    check_grads(cnn_loss, (params, images, labels), order=1)
    g = grad(cnn_loss)(params, images, labels)
    close(out["cnn_grad_k1"], g["k1"])
    close(out["cnn_grad_k2"], g["k2"])
    close(out["cnn_per_example"], [cnn_loss(params, images[i:i + 1], labels[i:i + 1]) for i in range(4)])
    close(np.mean(out["cnn_per_example"]), out["cnn_loss"])
    # every option together, second order: strides, both dilations, SAME_LOWER, groups, odd layouts
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(5, 2, 4, 4)), rng.normal(size=(2, 4, 3, 2))

    def f(x, w):
        return jnp.sum(jnp.tanh(lax.conv_general_dilated(
            x, w, (2, 1), "SAME_LOWER", rhs_dilation=(1, 2), feature_group_count=2,
            dimension_numbers=("WNHC", "HOWI", "CNHW"))))

    check_grads(f, (x, w), order=2)
    close(jit(f)(x, w), f(x, w))
    fT = lambda x, w: jnp.sum(lax.conv_general_dilated(x, w, (1, 1), ((1, -1), (0, 2)), (2, 3)) ** 2)  # noqa: E731
    check_grads(fT, (rng.normal(size=(1, 2, 3, 3)), rng.normal(size=(2, 2, 2, 2))), order=2)
    xb, wb = rng.normal(size=(4, 3, 5, 5)), rng.normal(size=(6, 3, 2, 2))
    yb = lax.conv_general_dilated(xb, wb, (1, 1), "VALID", batch_group_count=2)
    close(yb[:, :3], lax.conv(xb[:2], wb[:3], (1, 1), "VALID"))  # batch group 0 with output features 0..2
    close(yb[:, 3:], lax.conv(xb[2:], wb[3:], (1, 1), "VALID"))


def test_convolution_bad_arguments_raise_clear_errors():
    x, w = np.ones((1, 4, 5, 5)), np.ones((2, 3, 3, 3))
    with pytest.raises(jax.errors.ShapeError, match="4 features"):
        lax.conv(x, w, (1, 1), "SAME")
    with pytest.raises(jax.errors.ArgumentError, match="padding must be"):
        lax.conv(x, np.ones((2, 4, 3, 3)), (1, 1), "FULL")
    with pytest.raises(jax.errors.ArgumentError, match="window_strides"):
        lax.conv(x, np.ones((2, 4, 3, 3)), (1,), "SAME")
    with pytest.raises(jax.errors.ArgumentError, match="'N' and 'C' once"):
        lax.conv_general_dilated(x, np.ones((2, 4, 3, 3)), (1, 1), "SAME",
                                 dimension_numbers=("NHWW", "OIHW", "NCHW"))
    with pytest.raises(jax.errors.ArgumentError, match="lhs_dilation"):
        lax.conv_general_dilated(x, np.ones((2, 4, 3, 3)), (1, 1), "SAME", lhs_dilation=(2, 2))
    with pytest.raises(jax.errors.ShapeError, match="larger than the padded input"):
        lax.conv(x, np.ones((2, 4, 7, 3)), (1, 1), "VALID")


def test_bfgs_minimize_against_scipy_jit_and_vmap():
    import scipy.optimize

    out = ran("scipy_minimize")
    close(out["rosen_x"], np.ones(4), atol=1e-6)
    assert out["rosen_success"] and out["rosen_fun"] < 1e-12
    close(out["rosen_jit_x"], out["rosen_x"])
    X, y = logistic_data()
    f = lambda w: np.mean(np.logaddexp(0, X @ w) - y * (X @ w)) + 0.01 * np.sum(w ** 2)  # noqa: E731
    g = lambda w: X.T @ (1 / (1 + np.exp(-X @ w)) - y) / 50 + 0.02 * w  # noqa: E731
    ref = scipy.optimize.minimize(f, np.zeros(3), jac=g, method="BFGS", tol=1e-12).x
    close(out["logreg_x"], ref, atol=1e-7)
    assert out["logreg_status"] == 0
    # vmap over starting points equals a loop (one converges to the other stationary point)
    x0s = np.array([[-1.2, 1.0, -0.5, 0.8], [1.2, -1.0, 0.5, -0.8], [0.3, 0.2, 0.1, 0.0]])
    batched = vmap(lambda x0: jsp.optimize.minimize(rosen, x0, method="BFGS"))(x0s)
    for i, x0 in enumerate(x0s):
        one = jsp.optimize.minimize(rosen, x0, method="BFGS")
        close(batched.x[i], one.x)
        assert batched.nit[i] == one.nit and batched.success[i] == one.success
    # options: an iteration limit gives status 1, not success
    res = jsp.optimize.minimize(rosen, x0s[0], method="BFGS", options={"maxiter": 3})
    assert res.nit == 3 and res.status == 1 and not res.success
    assert res.hess_inv.shape == (4, 4) and res.njev == res.nfev >= 4


def test_bfgs_minimize_bad_arguments():
    with pytest.raises(jax.errors.ArgumentError, match="BFGS"):
        jsp.optimize.minimize(rosen, np.zeros(2), method="Nelder-Mead")
    with pytest.raises(jax.errors.ShapeError, match="1-dimensional"):
        jsp.optimize.minimize(rosen, np.zeros((2, 2)), method="BFGS")
    with pytest.raises(jax.errors.ArgumentError, match="unknown options"):
        jsp.optimize.minimize(rosen, np.zeros(2), method="BFGS", options={"disp": True})


def test_example_optimizers_against_numpy():
    out = ran("example_optimizers")
    rng = np.random.default_rng(8)
    A, b = rng.normal(size=(6, 3)), rng.normal(size=6)

    def grads(x):  # x = [w (3), c0 (2), c1]: the loss's gradient by hand, clipped to norm 5
        r = A @ x[:3] - b + x[5]
        g = np.concatenate([2 * A.T @ r, 2 * (x[3:5] - 2.0), [2 * r.sum()]]) + 0.2 * x
        n = np.linalg.norm(g)
        return g if n < 5.0 else g * 5.0 / n

    x, m, v = np.array([0, 0, 0, 1, 1, 0.5]), np.zeros(6), np.zeros(6)
    for i in range(30):  # Adam with the piecewise-constant schedule
        g = grads(x)
        m, v = 0.1 * g + 0.9 * m, 0.001 * g ** 2 + 0.999 * v
        lr = 0.1 if i <= 10 else 0.05 if i <= 20 else 0.01
        x = x - lr * (m / (1 - 0.9 ** (i + 1))) / (np.sqrt(v / (1 - 0.999 ** (i + 1))) + 1e-8)
    close(out["adam"], x, rtol=1e-9)
    x, vel = np.array([0, 0, 0, 1, 1, 0.5]), np.zeros(6)
    for i in range(30):  # Nesterov with the staircase inverse-time decay
        vel = 0.9 * vel + grads(x)
        x = x - 0.01 / (1 + 0.5 * np.floor(i / 5)) * (0.9 * vel + grads(x))
    close(out["nesterov"], x, rtol=1e-9)
    x = np.array([0, 0, 0, 1, 1, 0.5])
    for i in range(30):
        x = x - 0.02 * 0.5 ** (i / 10) * grads(x)
    close(out["sgd"], x, rtol=1e-9)
    with pytest.raises(jax.errors.TreeStructureError, match="structure"):
        opt_init, opt_update, _ = optimizers.sgd(0.1)
        opt_update(0, [np.ones(2)], opt_init((np.ones(2),)))
    with pytest.raises(jax.errors.ArgumentError, match="one longer"):
        optimizers.piecewise_constant([1, 2], [0.1, 0.2])


def test_pytree_with_unhashable_aux_data_as_jax_accepts():
    class Tagged:  # aux data a list and a dict, as user code often has (JAX accepts them)
        def __init__(self, x, meta):
            self.x, self.meta = x, meta

    jax.tree_util.register_pytree_node(Tagged, lambda t: ((t.x,), t.meta), lambda m, c: Tagged(c[0], m))
    f = jit(lambda t: t.x * t.meta[1])
    close(f(Tagged(np.ones(2), [1, 2])), [2.0, 2.0])
    close(f(Tagged(np.ones(2), [1, 3])), [3.0, 3.0])  # other aux data: traced again, not reused
    g = grad(lambda t: jnp.sum(t.x ** 2))(Tagged(np.arange(2.0), {"units": ["m"]}))
    close(g.x, [0.0, 2.0])
    assert g.meta == {"units": ["m"]}
    close(vmap(lambda t: t.x * t.meta[0])(Tagged(np.ones((3, 2)), [4.0])), 4 * np.ones((3, 2)))


if __name__ == "__main__":
    import json
    import time

    if "--time" in sys.argv:  # first call (trace + compile) and a later call of each program
        for name, fn in PROGRAMS.items():
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            fn()
            t2 = time.perf_counter()
            print(f"{name:20s} first {t1 - t0:7.3f} s   again {t2 - t1:7.3f} s")
    else:  # the reference values, as JSON
        print(json.dumps({name: {k: _encode(v) for k, v in fn().items()} for name, fn in PROGRAMS.items()}))
    sys.exit(0)
