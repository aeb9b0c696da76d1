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
vmap against a loop), and, where a Python with JAX is at hand (``FUNCAD_JAX_PYTHON``, or
/work/venv-bench), against JAX's own values, computed live by running this file with
``--jax`` (funcad never imports JAX). ``python tests/test_port_jax_more.py --time [--jax]``
prints first-call and per-call times of the bigger programs.
"""

from __future__ import annotations

import sys
from collections import namedtuple
from functools import partial

import numpy as np

if __name__ == "__main__" and "--jax" in sys.argv:  # the reference run: JAX's imports
    import jax  # noqa: I001
    import jax.numpy as jnp
    import jax.scipy as jsp
    from jax import custom_jvp, custom_vjp, grad, hessian, jacfwd, jacrev, jit, jvp, lax, random
    from jax import vjp, vmap
    from jax.tree_util import tree_flatten, tree_unflatten

    jax.config.update("jax_enable_x64", True)
else:
    import funcad as jax  # noqa: I001
    import funcad.numpy as jnp
    import funcad.scipy as jsp
    from funcad import custom_jvp, custom_vjp, grad, hessian, jacfwd, jacrev, jit, jvp, lax, random
    from funcad import vjp, vmap
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
    out["clip_jvp"] = vmap(lambda x: jvp(lambda x: clip_gradient(-0.75, 0.75, jnp.sin(3 * x)), (x,), (1.0,))[1])(
        jnp.linspace(0.0, 2.0, 5))
    straight_through = lambda x: x + lax.stop_gradient(jnp.round(x) - x)  # noqa: E731
    out["straight_through"] = jnp.array([straight_through(2.7), grad(straight_through)(2.7)])
    return out


# ======================================================================================
# jax.lax control flow idioms


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
    rng = np.random.default_rng(1)
    p = {"Wh": rng.normal(size=(4, 4)) * 0.5, "Wx": rng.normal(size=(3, 4)), "b": np.zeros(4)}
    seq = rng.normal(size=(7, 3))

    def rnn_loss(p, seq):
        def step(h, x):
            h = jnp.tanh(h @ p["Wh"] + x @ p["Wx"] + p["b"])
            return h, jnp.sum(h)

        h, outs = lax.scan(step, jnp.zeros(4), seq)
        return jnp.sum(outs ** 2) + jnp.sum(h)

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
    out["policy_jit"] = jit(grad(f3, (0, 3)))(*Ws, x)[1]

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

    layer_sizes, step_size, batch_size, n_targets = [16, 32, 32, 4], 0.05, 32, 4
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
    for epoch in range(3):
        for i in range(0, 256, batch_size):
            params = update(params, images[i:i + batch_size], targets[i:i + batch_size])
    out["loss_after"] = loss(params, images, targets)
    out["accuracy_after"] = accuracy(params, images, targets)
    out["w0_after"] = params[0][0][:2, :4]
    return out


def mnist_fromscratch():
    out = {}

    def init_random_params(scale, layer_sizes, rng=np.random.RandomState(0)):
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

    step_size, momentum_mass = 0.01, 0.9
    images, labels = synthetic_classes(200, 20, 5, seed=5)
    targets = np.eye(5)[labels]
    params = init_random_params(0.1, [20, 32, 16, 5])

    @jit
    def update(params, velocity, batch):
        grads = grad(loss)(params, batch)
        velocity = jax.tree.map(lambda v, g: momentum_mass * v + g, velocity, grads)
        return jax.tree.map(lambda p, v: p - step_size * v, params, velocity), velocity

    velocity = jax.tree.map(jnp.zeros_like, params)
    perm = np.random.RandomState(0).permutation(200)
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
        @jit
        def update(x, velocity):
            velocity = mass * velocity + grad(f)(x)
            return x - step_size * velocity, velocity

        velocity = jnp.zeros_like(x)
        for _ in range(num_steps):
            x, velocity = update(x, velocity)
        return x

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


PROGRAMS = {"cookbook_more": cookbook_more, "custom_rules": custom_rules,
            "control_flow_more": control_flow_more, "random_tutorial": random_tutorial,
            "checkpointing": checkpointing, "dp_sgd": dp_sgd, "simple_nn": simple_nn,
            "mnist_fromscratch": mnist_fromscratch, "kernel_lsq": kernel_lsq,
            "gaussian_process": gaussian_process}


def _encode(v):
    a = np.asarray(v)
    return {"dtype": a.dtype.name, "re": a.real.tolist(), "im": a.imag.tolist() if a.dtype.kind == "c" else 0}


def _decode(d):
    return (np.asarray(d["re"]) + 1j * np.asarray(d["im"])).astype(d["dtype"])


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
