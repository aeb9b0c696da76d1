"""autograd programs run after changing only their imports (``autograd`` ->
``funcad.autograd``): ports (our own code, from autograd's documented behaviour) of its
README's tanh and logistic regression examples, the neural network trained by adam with a
callback, the fixed-point example, the ``primitive``/``defvjp`` logsumexp tutorial, and the
differential operators. Values against closed forms and finite differences."""

from __future__ import annotations

import numpy as onp
import pytest

# --- the imports an autograd program has, with the package name changed -----------------
import funcad.autograd.numpy as np
import funcad.autograd.numpy.random as npr
import funcad.autograd.scipy.stats.multivariate_normal as mvn
import funcad.autograd.scipy.stats.norm as norm
from funcad import errors
from funcad.autograd import (
    elementwise_grad,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    jacobian,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    value_and_grad,
)
from funcad.autograd.extend import defjvp, defvjp, defvjp_argnum, primitive
from funcad.autograd.misc import flatten
from funcad.autograd.misc.fixed_points import fixed_point
from funcad.autograd.misc.optimizers import adam, rmsprop, sgd
from funcad.autograd.scipy.special import logsumexp
from funcad.autograd.test_util import check_grads, combo_check


def _fd(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_readme_tanh_derivatives():
    def tanh(x):
        y = np.exp(-2.0 * x)
        return (1.0 - y) / (1.0 + y)

    grad_tanh = grad(tanh)
    assert abs(grad_tanh(1.0) - _fd(tanh, 1.0)) < 1e-8
    x = np.linspace(-7, 7, 50)
    d1 = elementwise_grad(tanh)
    d2 = elementwise_grad(d1)
    d3 = elementwise_grad(d2)
    t = onp.tanh(x)
    onp.testing.assert_allclose(d1(x), 1 - t ** 2, atol=1e-12)
    onp.testing.assert_allclose(d2(x), -2 * t * (1 - t ** 2), atol=1e-12)
    onp.testing.assert_allclose(d3(x), -2 * (1 - t ** 2) * (1 - 3 * t ** 2), atol=1e-10)
    d6 = elementwise_grad(elementwise_grad(elementwise_grad(d3)))
    assert d6(x).shape == x.shape and onp.all(onp.isfinite(d6(x)))
    assert type(grad_tanh(1.0)) is onp.float64  # a scalar's gradient is a scalar


def test_readme_logistic_regression():
    def sigmoid(x):
        return 0.5 * (np.tanh(x / 2.0) + 1)

    def logistic_predictions(weights, inputs):
        return sigmoid(np.dot(inputs, weights))

    inputs = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30],
                       [0.74, -2.49, 1.39]])
    targets = np.array([True, True, False, True])

    def training_loss(weights):
        preds = logistic_predictions(weights, inputs)
        label_probabilities = preds * targets + (1 - preds) * (1 - targets)
        return -np.sum(np.log(label_probabilities))

    training_gradient_fun = grad(training_loss)
    weights = np.array([0.0, 0.0, 0.0])
    initial = training_loss(weights)
    g0 = training_gradient_fun(weights)
    # closed form: d/dw of the negative log-likelihood is X^T (p - y)
    onp.testing.assert_allclose(g0, inputs.T @ (0.5 - targets), atol=1e-12)
    for _ in range(100):
        weights -= training_gradient_fun(weights) * 0.01
    assert training_loss(weights) < initial - 1.0
    check_grads(training_loss, modes=["fwd", "rev"], order=2)(npr.RandomState(1).randn(3))


def test_neural_net_with_adam_and_callback():
    def init_random_params(scale, layer_sizes, rs=npr.RandomState(0)):  # noqa: B008 (autograd's code)
        return [(scale * rs.randn(m, n), scale * rs.randn(n))
                for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]

    def neural_net_predict(params, inputs):
        for W, b in params:
            outputs = np.dot(inputs, W) + b
            inputs = np.tanh(outputs)
        return outputs - logsumexp(outputs, axis=1, keepdims=True)

    def l2_norm(params):
        flattened, _ = flatten(params)
        return np.dot(flattened, flattened)

    def log_posterior(params, inputs, targets, L2_reg):
        log_prior = -L2_reg * l2_norm(params)
        log_lik = np.sum(neural_net_predict(params, inputs) * targets)
        return log_prior + log_lik

    def accuracy(params, inputs, targets):
        target_class = np.argmax(targets, axis=1)
        return np.mean(np.argmax(neural_net_predict(params, inputs), axis=1) == target_class)

    rs = npr.RandomState(2)
    centers = rs.randn(3, 4) * 3
    labels = rs.randint(0, 3, size=120)
    train_images = centers[labels] + rs.randn(120, 4)
    train_labels = onp.eye(3)[labels]
    init_params = init_random_params(0.1, [4, 8, 3])
    batch_size, num_batches = 40, 3

    def batch_indices(iter):
        idx = iter % num_batches
        return slice(idx * batch_size, (idx + 1) * batch_size)

    def objective(params, iter):
        idx = batch_indices(iter)
        return -log_posterior(params, train_images[idx], train_labels[idx], 1e-3)

    objective_grad = grad(objective)
    seen = []

    def print_perf(params, iter, gradient):
        assert isinstance(params, list) and isinstance(params[0], tuple)  # the user's structure
        assert gradient[0][0].shape == (4, 8)
        if iter % 10 == 0:
            seen.append((iter, accuracy(params, train_images, train_labels)))

    optimized = adam(objective_grad, init_params, step_size=0.05, num_iters=60, callback=print_perf)
    assert [i for i, _ in seen] == [0, 10, 20, 30, 40, 50]
    assert accuracy(optimized, train_images, train_labels) > 0.9 > seen[0][1]
    # the gradient of the structured parameters against finite differences
    flat, unflatten = flatten(init_params)
    check_grads(lambda f: objective(unflatten(f), 0), modes=["rev"], order=1)(flat)


def test_sgd_and_rmsprop_minimise_a_quadratic():
    target = {"a": np.array([1.0, -2.0]), "b": 3.0}
    loss = lambda p, i: np.sum((p["a"] - target["a"]) ** 2) + (p["b"] - target["b"]) ** 2  # noqa: E731
    for opt, kw in ((sgd, dict(num_iters=400, step_size=0.1)),
                    (rmsprop, dict(num_iters=400, step_size=0.05))):
        p = opt(grad(loss), {"a": np.zeros(2), "b": 0.0}, **kw)
        onp.testing.assert_allclose(p["a"], target["a"], atol=0.06)
        onp.testing.assert_allclose(p["b"], target["b"], atol=0.06)


def test_fixed_point_example():
    def newton_sqrt_iter(a):
        return lambda x: 0.5 * (x + a / x)

    def grad_descent_sqrt_iter(a):
        return lambda x: x - 0.05 * (x ** 2 - a)

    def sqrt(a, guess=10.0):
        return fixed_point(newton_sqrt_iter, a, guess, distance, 1e-4)

    def distance(x, y):
        return np.abs(x - y)

    onp.testing.assert_allclose(sqrt(2.0), onp.sqrt(2.0), rtol=1e-8)
    onp.testing.assert_allclose(grad(sqrt)(2.0), 0.5 / onp.sqrt(2.0), rtol=1e-6)
    gd = lambda a: fixed_point(grad_descent_sqrt_iter, a, 1.0, distance, 1e-12)  # noqa: E731
    onp.testing.assert_allclose(grad(gd)(2.0), 0.5 / onp.sqrt(2.0), rtol=1e-6)
    onp.testing.assert_allclose(grad(grad(sqrt))(2.0), -0.25 * 2.0 ** -1.5, rtol=1e-4)


def test_primitive_defvjp_logsumexp_tutorial():
    @primitive
    def logsumexp(x):
        """Numerically stable log(sum(exp(x)))"""
        max_x = np.max(x)
        return max_x + np.log(np.sum(np.exp(x - max_x)))

    def logsumexp_vjp(ans, x):
        x_shape = x.shape
        return lambda g: np.full(x_shape, g) * np.exp(x - np.full(x_shape, ans))

    defvjp(logsumexp, logsumexp_vjp)

    def example_func(y):
        z = y ** 2
        lse = logsumexp(z)
        return np.sum(lse)

    grad_of_example = grad(example_func)
    y = npr.RandomState(3).randn(10)
    z = y ** 2
    onp.testing.assert_allclose(grad_of_example(y), 2 * y * onp.exp(z) / onp.exp(z).sum())
    check_grads(example_func, modes=["rev"])(y)
    check_grads(example_func, modes=["fwd"], order=1)(y)  # the Jacobian built from the VJP
    assert logsumexp(onp.array([0.0, 0.0])) == onp.log(2)  # untraced: the body as it is


def test_primitive_defjvp_and_argnum_forms():
    @primitive
    def scaled_sin(x, s):
        return onp.sin(x) * s  # plain NumPy: the body never sees a traced value

    defjvp(scaled_sin, lambda g, ans, x, s: g * np.cos(x) * s, lambda g, ans, x, s: g * np.sin(x))
    x = np.array([0.3, 1.1])
    onp.testing.assert_allclose(elementwise_grad(scaled_sin)(x, 2.0), 2 * onp.cos(x))
    onp.testing.assert_allclose(grad(lambda s: np.sum(scaled_sin(x, s)))(2.0), onp.sin(x).sum())
    check_grads(lambda x: scaled_sin(x, 2.0), modes=["fwd", "rev"], order=2)(x)

    @primitive
    def mul(a, b):
        return onp.multiply(a, b)

    defvjp_argnum(mul, lambda argnum, ans, args, kwargs: (
        lambda g: g * args[1 - argnum]))
    onp.testing.assert_allclose(grad(mul, argnum=(0, 1))(3.0, 4.0), (4.0, 3.0))

    @primitive
    def no_rule(x):
        return x * 2

    with pytest.raises(errors.UnsupportedFunctionError, match="defvjp|defjvp"):
        grad(no_rule)(1.0)


def test_differential_operators():
    f = lambda x, y: np.sum(np.sin(x) * y ** 2)  # noqa: E731
    x, y = np.array([0.1, 0.7]), np.array([1.5, -0.5])
    onp.testing.assert_allclose(grad(f)(x, y), onp.cos(x) * y ** 2)
    onp.testing.assert_allclose(grad(f, 1)(x, y), 2 * onp.sin(x) * y)
    gx, gy = grad(f, argnum=(0, 1))(x, y)
    onp.testing.assert_allclose(gy, 2 * onp.sin(x) * y)
    onp.testing.assert_allclose(grad_named(f, "y")(x, y), gy)
    v, g = value_and_grad(f)(x, y)
    assert v == f(x, y)
    onp.testing.assert_allclose(jacobian(np.sin)(x), onp.diag(onp.cos(x)))
    h = hessian(lambda x: np.sum(x ** 3))(x)
    onp.testing.assert_allclose(h, onp.diag(6 * x))
    vec = np.array([1.0, 2.0])
    onp.testing.assert_allclose(hessian_tensor_product(lambda x: np.sum(x ** 3))(x, vec), 6 * x * vec)
    onp.testing.assert_allclose(hessian_vector_product(lambda x: np.sum(x ** 3))(x, vec), 6 * x * vec)
    hvp, gx = make_hvp(lambda x: np.sum(x ** 3))(x)
    onp.testing.assert_allclose(hvp(vec), 6 * x * vec)
    onp.testing.assert_allclose(gx, 3 * x ** 2)
    vjp, ans = make_vjp(np.sin)(x)
    onp.testing.assert_allclose(vjp(vec), onp.cos(x) * vec)
    onp.testing.assert_allclose(ans, onp.sin(x))
    ans, tangent = make_jvp(np.sin)(x)(vec)
    onp.testing.assert_allclose(tangent, onp.cos(x) * vec)
    onp.testing.assert_allclose(tensor_jacobian_product(np.sin)(x, vec), onp.cos(x) * vec)
    g, aux = grad_and_aux(lambda x: (np.sum(x ** 2), np.sum(x)))(x)
    assert aux == onp.sum(x)
    onp.testing.assert_allclose(g, 2 * x)
    d = multigrad_dict(lambda a, b=2.0: a * b)(3.0)
    assert list(d) == ["a", "b"] and d["a"] == 2.0 and d["b"] == 3.0
    ggn = make_ggnvp(lambda w: np.tanh(w) * 2.0)(x)
    j = onp.diag(2 * (1 - onp.tanh(x) ** 2))
    onp.testing.assert_allclose(ggn(vec), j.T @ j @ vec)  # g = |y|^2 / 2 has Hessian I


def test_grad_accepts_a_size_one_output():
    onp.testing.assert_allclose(grad(lambda x: np.dot(x, x).reshape(1))(np.array([1.0, 2.0])), [2.0, 4.0])
    onp.testing.assert_allclose(grad(lambda x: (x[None, :] @ x[:, None]))(np.array([3.0])), [6.0])
    with pytest.raises(errors.NonScalarOutputError, match="size 1"):
        grad(lambda x: x * 2)(np.array([1.0, 2.0]))


def test_scipy_stats_modules():
    x = np.array([0.3, -1.0])
    onp.testing.assert_allclose(grad(lambda m: np.sum(norm.logpdf(x, m, 1.0)))(0.5), np.sum(x - 0.5))
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    g = grad(lambda m: mvn.logpdf(x, m, cov))(np.zeros(2))
    onp.testing.assert_allclose(g, onp.linalg.solve(cov, x))


def test_test_util_forms():
    check_grads(np.tanh, modes=["fwd", "rev"], order=2)(0.5)
    check_grads(lambda x, y: x * np.sin(y))(1.5, np.array([0.1, 0.4]))
    combo_check(lambda x, axis=None: np.sum(x ** 2, axis=axis), modes=["rev"])(
        [np.ones((2, 3))], axis=[None, 0, 1])
    with pytest.raises(AssertionError):
        @primitive
        def wrong(x):
            return onp.sin(x)

        defvjp(wrong, lambda ans, x: lambda g: g * 2.0)
        check_grads(wrong, modes=["rev"], order=1)(0.3)


def test_primitive_under_jacobian_hessian_and_vmap():
    import funcad as fa

    @primitive
    def cube(x):
        return onp.power(x, 3)

    defvjp(cube, lambda ans, x: lambda g: g * 3 * x ** 2)
    x = np.array([1.0, 2.0])
    onp.testing.assert_allclose(jacobian(cube)(x), onp.diag(3 * x ** 2))
    onp.testing.assert_allclose(hessian(lambda x: np.sum(cube(x)))(x), onp.diag(6 * x))
    onp.testing.assert_allclose(fa.hessian(lambda x: np.sum(cube(x)))(x), onp.diag(6 * x))
    xs = np.array([[1.0, 2.0], [3.0, 4.0]])
    onp.testing.assert_allclose(fa.vmap(cube)(xs), xs ** 3)
    onp.testing.assert_allclose(fa.vmap(fa.grad(lambda x: np.sum(cube(x))))(xs), 3 * xs ** 2)
    onp.testing.assert_allclose(fa.jit(cube)(x), x ** 3)


def test_primitive_under_jit_jit_of_grad_and_vmap():
    """A primitive calling SciPy (its body is opaque), with a VJP made of other primitives:
    jit equals eager, jit(grad) equals grad, vmap and jit(vmap) equal a loop, jit(jacfwd)
    uses the Jacobian built from the VJP."""
    import scipy.special

    import funcad as fa

    @primitive
    def j0(x):
        return scipy.special.j0(x)

    @primitive
    def j1(x):
        return scipy.special.j1(x)

    defvjp(j0, lambda ans, x: lambda g: -g * j1(x))
    f = lambda x: logsumexp(x) * 2.0 + np.sum(j0(x) ** 2)  # noqa: E731
    x = np.array([0.5, -1.0, 2.0])
    onp.testing.assert_allclose(fa.jit(f)(x), f(x))
    expected = 2 * onp.exp(x - f_lse(x)) - 2 * scipy.special.j0(x) * scipy.special.j1(x)
    onp.testing.assert_allclose(grad(f)(x), expected)
    onp.testing.assert_allclose(fa.jit(grad(f))(x), expected)
    xs = np.stack([x, x + 1.0])
    onp.testing.assert_allclose(fa.vmap(f)(xs), [f(r) for r in xs])
    onp.testing.assert_allclose(fa.jit(fa.vmap(f))(xs), [f(r) for r in xs])
    onp.testing.assert_allclose(fa.jit(fa.jacfwd(j0))(x), onp.diag(-scipy.special.j1(x)))
    with pytest.raises(errors.PrimitiveShapeError, match="pure_callback"):
        fa.jit(primitive(lambda a: onp.linalg.cholesky(a - 1.0)))(2.0 * onp.eye(2))


def f_lse(x):
    return onp.log(onp.sum(onp.exp(x)))


def test_autograd_builtins_are_pythons():
    import funcad.autograd as ag
    from funcad.autograd.builtins import tuple as atuple

    assert ag.tuple is tuple and atuple((1, 2)) == (1, 2) and ag.isinstance(1.0, float)


def test_scipy_integrate_signal_and_more_distributions():
    import scipy.stats

    import funcad.autograd.scipy.stats.t as t
    from funcad.autograd.scipy.integrate import odeint
    from funcad.autograd.scipy.signal import convolve

    decay = lambda a: odeint(lambda y, s, a: -a * y, 1.0, np.array([0.0, 1.0]), a)[-1]  # noqa: E731
    onp.testing.assert_allclose(decay(0.5), onp.exp(-0.5), rtol=1e-6)
    onp.testing.assert_allclose(grad(decay)(0.5), -onp.exp(-0.5), rtol=1e-6)
    onp.testing.assert_allclose(convolve(np.ones(3), np.array([1.0, 2.0])), [1, 3, 3, 2])
    onp.testing.assert_allclose(t.logpdf(0.3, 3.0), scipy.stats.t.logpdf(0.3, 3.0))
