"""The course's examples, as tour sections (``python -m funcad``) and as functions the tests call.

Each ``*_demo`` function computes an example and returns its numbers; the ``@section``
functions print them. The same examples, as standalone scripts, are in ``examples/``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.special as sc

from funcad import ad, api, nn, second_order
from funcad import numpy as fnp
from funcad.datasets import load_breast_cancer, load_digits

from .tour import section

# --------------------------------------------------------------------------------------
# tanh and its six derivatives


def tanh_derivative_polynomials(n: int) -> list[np.polynomial.Polynomial]:
    """P_k with d^k/dx^k tanh(x) = P_k(tanh x): P_0 = t, P_{k+1} = P_k'(t) (1 - t^2).

    >>> [p.coef.tolist() for p in tanh_derivative_polynomials(2)]
    [[0.0, 1.0], [1.0, 0.0, -1.0], [0.0, -2.0, 0.0, 2.0]]
    """
    polys = [np.polynomial.Polynomial([0.0, 1.0])]
    one_minus_t2 = np.polynomial.Polynomial([1.0, 0.0, -1.0])
    for _ in range(n):
        polys.append(polys[-1].deriv() * one_minus_t2)
    return polys


def tanh_derivatives_demo(x: np.ndarray, order: int = 6):
    """The k-th derivatives of tanh at ``x`` by nesting ``elementwise_grad`` k times, and the
    closed form P_k(tanh x); returns ``(by_autodiff, closed_form)``, lists of arrays."""
    f, by_ad = fnp.tanh, []
    for _ in range(order + 1):
        by_ad.append(np.asarray(f(x)))
        f = api.elementwise_grad(f)
    t = np.tanh(x)
    return by_ad, [p(t) for p in tanh_derivative_polynomials(order)]


@section("tanh and its six derivatives, by nested elementwise_grad")
def _tanh_section():
    x = np.linspace(-3, 3, 200)
    start = time.perf_counter()
    by_ad, closed = tanh_derivatives_demo(x)
    took = time.perf_counter() - start
    print("d^k/dx^k tanh(x) = P_k(tanh x), P_0 = t, P_{k+1}(t) = P_k'(t) (1 - t^2).")
    print("egrad = elementwise_grad, nested k times, on 200 points in [-3, 3]:\n")
    print(f"  {'k':>2}  {'max |egrad^k - P_k(tanh)|':>26}  {'value at x=0.5':>15}  P_k(t)")
    i = int(np.argmin(np.abs(x - 0.5)))
    for k, (a, c) in enumerate(zip(by_ad, closed)):
        poly = tanh_derivative_polynomials(k)[-1]
        terms = " ".join(f"{c:+g}t^{j}" for j, c in enumerate(poly.coef) if c)
        print(f"  {k:>2}  {np.max(np.abs(a - c)):>26.2e}  {a[i]:>15.6f}  {terms}")
    print(f"\n(all seven orders in {took * 1e3:.0f} ms, eager)")


# --------------------------------------------------------------------------------------
# Reverse accumulation, by hand and by funcad


def reverse_accumulation_demo(x1: float = 2.0, x2: float = 5.0) -> dict:
    """f(x1, x2) = x1 x2 + sin(x1): the forward values, the adjoints by hand, and funcad's gradient."""
    v1, v2 = x1, x2
    v3, v4 = v1 * v2, np.sin(v1)
    v5 = v3 + v4
    # adjoints v_bar = d f / d v, from the output backwards
    v5_bar = 1.0
    v3_bar = v4_bar = v5_bar
    v2_bar = v3_bar * v1
    v1_bar = v3_bar * v2 + v4_bar * np.cos(v1)
    g = api.grad(lambda a, b: a * b + fnp.sin(a), argnums=(0, 1))(x1, x2)
    return {"forward": {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5},
            "adjoints": {"v5": v5_bar, "v4": v4_bar, "v3": v3_bar, "v2": v2_bar, "v1": v1_bar},
            "grad": (float(g[0]), float(g[1]))}


@section("Reverse accumulation: f(x1, x2) = x1 x2 + sin(x1)")
def _reverse_section():
    def f(x1, x2):
        return x1 * x2 + fnp.sin(x1)

    d = reverse_accumulation_demo(2.0, 5.0)
    print("The computation graph, as funcad records it (a jaxpr: one line per node):\n")
    print(api.make_jaxpr(f)(2.0, 5.0))
    print("\nForward sweep at (x1, x2) = (2, 5):  v1 = x1, v2 = x2, v3 = v1 v2, v4 = sin v1, v5 = v3 + v4")
    print("   " + "   ".join(f"{k} = {v:.6f}" for k, v in d["forward"].items()))
    print("Reverse sweep, adjoints v_bar = df/dv:")
    print("   v5_bar = 1;  v4_bar = v5_bar = 1;  v3_bar = v5_bar = 1")
    print(f"   v2_bar = v3_bar v1 = {d['adjoints']['v2']:.6f}")
    print(f"   v1_bar = v3_bar v2 + v4_bar cos v1 = {d['adjoints']['v1']:.6f}")
    print(f"funcad's grad: (df/dx1, df/dx2) = ({d['grad'][0]:.6f}, {d['grad'][1]:.6f})")
    print("\nHow funcad gets there: the JVP, partially evaluated, leaves this linear program")
    print("(tangents in, tangent out), which reverse mode transposes line by line:\n")
    _, lin, _ = ad.linearize_flat(lambda a, b: [f(a, b)], [np.float64(2.0), np.float64(5.0)])
    print(lin)
    print("\nand the gradient program, staged end to end:\n")
    print(api.make_jaxpr(api.grad(f, argnums=(0, 1)))(2.0, 5.0))


# --------------------------------------------------------------------------------------
# Tables of f, f', f''


def activation_table_demo(x: np.ndarray) -> dict:
    """softplus, sigmoid and their first two derivatives by autodiff at ``x``."""
    out = {}
    for name, f in (("softplus", nn.softplus), ("sigmoid", nn.sigmoid)):
        d1 = api.elementwise_grad(f)
        out[name] = (np.asarray(f(x)), d1(x), api.elementwise_grad(d1)(x))
    return out


def logsumexp_demo(z: np.ndarray) -> dict:
    """logsumexp(z), its gradient (softmax) and Hessian (diag(s) - s s^T) by autodiff."""
    return {"value": float(nn.logsumexp(z)), "grad": api.grad(nn.logsumexp)(z),
            "hessian": second_order.hessian(nn.logsumexp)(z), "softmax": np.asarray(nn.softmax(z))}


@section("f, f', f'': softplus and sigmoid; logsumexp and softmax")
def _tables_section():
    x = np.array([-1000.0, -4.0, -1.0, 0.0, 1.0, 4.0, 1000.0])
    t = activation_table_demo(x)
    print("softplus(x) = log(1 + e^x) (computed as logaddexp(0, x)); softplus' = sigmoid,")
    print("sigmoid' = sigmoid (1 - sigmoid). By elementwise_grad, stable at |x| = 1000:\n")
    print(f"  {'x':>7} | {'softplus':>10} {'softplus_':>10} {'softplus__':>10} | "
          f"{'sigmoid':>10} {'sigmoid_':>10} {'sigmoid__':>11}")
    for i, xi in enumerate(x):
        sp, sg = [c[i] for c in t["softplus"]], [c[i] for c in t["sigmoid"]]
        print(f"  {xi:>7g} | {sp[0]:>10.4g} {sp[1]:>10.4g} {sp[2]:>10.4g} | "
              f"{sg[0]:>10.4g} {sg[1]:>10.4g} {sg[2]:>11.4g}")
    print("  (_ marks a derivative; softplus_ equals sigmoid, softplus__ equals sigmoid_)")
    z = np.array([1.0, 2.0, 3.0])
    d = logsumexp_demo(z)
    s = d["softmax"]
    print(f"\nlogsumexp(z) at z = {z}: {d['value']:.6f}")
    print(f"  grad     = {np.array2string(d['grad'], precision=6)}   (softmax(z) = "
          f"{np.array2string(s, precision=6)})")
    print("  hessian  =", np.array2string(d["hessian"], precision=6, prefix=" " * 13))
    err = np.max(np.abs(d["hessian"] - (np.diag(s) - np.outer(s, s))))
    print(f"  max |hessian - (diag(s) - s s^T)| = {err:.1e}")


# --------------------------------------------------------------------------------------
# The softmax classifier's gradient


def softmax_cross_entropy(z, y):
    """Mean cross-entropy of logits ``z`` (n, k) against integer labels ``y`` (n,)."""
    return -fnp.mean(fnp.sum(nn.log_softmax(z) * nn.one_hot(y, z.shape[-1]), axis=-1))


def softmax_gradient_demo(z: np.ndarray, y: np.ndarray):
    """``(dL/dz by autodiff, (softmax(z) - onehot(y)) / n)`` for the mean cross-entropy."""
    g = api.grad(softmax_cross_entropy)(z, y)
    return g, (sc.softmax(z, axis=-1) - np.eye(z.shape[-1])[y]) / len(y)


@section("The softmax classifier's gradient: dL/dz = softmax(z) - onehot(y)")
def _softmax_grad_section():
    z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    y = np.array([0, 2])
    g, closed = softmax_gradient_demo(z, y)
    print("L(z) = -mean_i log softmax(z_i)[y_i], logits z =\n", z, "\nlabels y =", y)
    print("\ngrad(L)(z) by funcad:\n", np.array2string(g, precision=6))
    print("(softmax(z) - onehot(y)) / n:\n", np.array2string(closed, precision=6))
    print(f"max difference: {np.max(np.abs(g - closed)):.1e}")


# --------------------------------------------------------------------------------------
# Numerical vs automatic differentiation


def numerical_vs_automatic_demo(x: float = 1.0, steps=None):
    """Errors of forward and central differences of sin(x) e^x over step sizes h, and of autodiff."""
    steps = np.logspace(-1, -13, 13) if steps is None else steps
    exact = (np.cos(x) + np.sin(x)) * np.exp(x)
    f = lambda t: np.sin(t) * np.exp(t)  # noqa: E731
    fwd = [abs((f(x + h) - f(x)) / h - exact) for h in steps]
    central = [abs((f(x + h) - f(x - h)) / (2 * h) - exact) for h in steps]
    ad_err = abs(float(api.grad(lambda t: fnp.sin(t) * fnp.exp(t))(x)) - exact)
    return steps, np.array(fwd), np.array(central), ad_err


@section("Numerical vs automatic differentiation")
def _numerical_section():
    steps, fwd, central, ad_err = numerical_vs_automatic_demo()
    print("d/dx [sin(x) e^x] at x = 1. Finite differences trade truncation error (h, h^2) against")
    print("rounding error (eps/h); automatic differentiation has neither:\n")
    print(f"  {'h':>8}  {'forward (f(x+h)-f(x))/h':>24}  {'central (f(x+h)-f(x-h))/2h':>27}")
    for h, a, b in zip(steps, fwd, central):
        print(f"  {h:>8.0e}  {a:>24.2e}  {b:>27.2e}")
    print(f"\n  best forward {fwd.min():.1e} (h = {steps[fwd.argmin()]:.0e}), best central "
          f"{central.min():.1e} (h = {steps[central.argmin()]:.0e}), funcad.grad {ad_err:.1e}")


# --------------------------------------------------------------------------------------
# Minibatch SGD: logistic regression, and a softmax classifier on the digits


def _standardize(X_train, X_test):
    mu, sd = X_train.mean(0), X_train.std(0) + 1e-8
    return (X_train - mu) / sd, (X_test - mu) / sd


def _split(n, test_fraction, rng):
    perm = rng.permutation(n)
    n_test = int(n * test_fraction)
    return perm[n_test:], perm[:n_test]


def logistic_loss(w, b, X, y):
    """Mean logistic loss, labels in {0, 1}: mean softplus(-s z) with s = 2y - 1, z = X w + b."""
    return fnp.mean(nn.softplus(-(2 * y - 1) * (X @ w + b)))


def sgd_logistic_demo(epochs: int = 15, batch: int = 32, lr: float = 0.1, seed: int = 0) -> dict:
    """Minibatch SGD on the breast-cancer data; returns the full-data loss per epoch and accuracies."""
    X, y = load_breast_cancer()
    rng = np.random.default_rng(seed)
    tr, te = _split(len(y), 0.25, rng)
    Xtr, Xte = _standardize(X[tr], X[te])
    ytr, yte = y[tr].astype(float), y[te].astype(float)
    w, b = np.zeros(X.shape[1]), 0.0
    grad_fn = api.grad(logistic_loss, argnums=(0, 1))
    losses = [float(logistic_loss(w, b, Xtr, ytr))]
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(ytr)), max(1, len(ytr) // batch)):
            gw, gb = grad_fn(w, b, Xtr[idx], ytr[idx])
            w, b = w - lr * gw, b - lr * gb
        losses.append(float(logistic_loss(w, b, Xtr, ytr)))
    acc = lambda X_, y_: float(np.mean(((X_ @ w + b) > 0) == (y_ > 0.5)))  # noqa: E731
    return {"losses": losses, "train_accuracy": acc(Xtr, ytr), "test_accuracy": acc(Xte, yte)}


def sgd_softmax_digits_demo(epochs: int = 20, batch: int = 64, lr: float = 0.5, seed: int = 0) -> dict:
    """A softmax classifier (linear logits) trained by minibatch SGD on the digits data."""
    X, y = load_digits()
    rng = np.random.default_rng(seed)
    tr, te = _split(len(y), 0.25, rng)
    Xtr, Xte = _standardize(X[tr], X[te])
    params = {"W": np.zeros((X.shape[1], 10)), "b": np.zeros(10)}

    def loss(params, X, y):
        return softmax_cross_entropy(X @ params["W"] + params["b"], y)

    value_and_grad = api.value_and_grad(loss)
    losses = []
    for _ in range(epochs):
        total, batches = 0.0, np.array_split(rng.permutation(len(tr)), max(1, len(tr) // batch))
        for idx in batches:
            value, g = value_and_grad(params, Xtr[idx], y[tr][idx])
            params = {k: params[k] - lr * g[k] for k in params}
            total += float(value)
        losses.append(total / len(batches))
    predict = lambda X_: np.argmax(X_ @ params["W"] + params["b"], axis=1)  # noqa: E731
    return {"losses": losses, "train_accuracy": float(np.mean(predict(Xtr) == y[tr])),
            "test_accuracy": float(np.mean(predict(Xte) == y[te])), "n_train": len(tr), "n_test": len(te)}


@section("Minibatch SGD: a logistic-regression loss, and a softmax classifier on the digits")
def _sgd_section():
    start = time.perf_counter()
    d = sgd_logistic_demo()
    print("Logistic regression on the breast-cancer data (569 x 30, standardized), minibatches of 32,")
    print("step 0.1, gradient by funcad.grad. Training loss after each epoch:")
    print("  " + "  ".join(f"{v:.4f}" for v in d["losses"]))
    print(f"  train accuracy {d['train_accuracy']:.3f}, test accuracy {d['test_accuracy']:.3f}"
          f"  ({time.perf_counter() - start:.2f} s)")
    start = time.perf_counter()
    d = sgd_softmax_digits_demo()
    print(f"\nSoftmax classifier on the digits (8x8 images, 10 classes; {d['n_train']} train, "
          f"{d['n_test']} test), minibatches of 64,")
    print("step 0.5, value_and_grad of the mean cross-entropy w.r.t. {'W': (64, 10), 'b': (10,)}.")
    print("Mean minibatch loss per epoch:")
    print("  " + "  ".join(f"{v:.3f}" for v in d["losses"]))
    print(f"  train accuracy {d['train_accuracy']:.3f}, TEST ACCURACY {d['test_accuracy']:.3f}"
          f"  ({time.perf_counter() - start:.2f} s)")


# --------------------------------------------------------------------------------------
# Newton's method on Rosenbrock


def rosenbrock(x):
    """The Rosenbrock function, minimum 0 at (1, 1, ..., 1)."""
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def newton_rosenbrock_demo(x0=(-1.2, 1.0), steps: int = 12, tol: float = 1e-14):
    """Pure Newton steps x <- x - H(x)^{-1} g(x) with funcad's grad and hessian.

    Returns the iterates and the error ||x - 1|| at each (stops once the error is below tol).
    """
    x = np.asarray(x0, dtype=float)
    grad, hess = api.grad(rosenbrock), second_order.hessian(rosenbrock)
    xs, errors = [x], [float(np.linalg.norm(x - 1.0))]
    for _ in range(steps):
        x = x - fnp.linalg.solve(hess(x), grad(x))
        xs.append(x)
        errors.append(float(np.linalg.norm(x - 1.0)))
        if errors[-1] < tol:
            break
    return xs, errors


@section("Newton's method on the Rosenbrock function: hessian + linear solve")
def _newton_section():
    xs, errors = newton_rosenbrock_demo()
    print("x <- x - solve(hessian(f)(x), grad(f)(x)), from (-1.2, 1). Error ||x - (1, 1)|| per step;")
    print("near the minimum the number of correct digits doubles each step (quadratic convergence):\n")
    print(f"  {'step':>4}  {'x1':>12} {'x2':>12}  {'error':>9}  {'error / previous^2':>18}")
    for k, (x, e) in enumerate(zip(xs, errors)):
        ratio = f"{e / errors[k - 1] ** 2:>18.3f}" if k and errors[k - 1] < 0.5 and e > 0 else " " * 18
        print(f"  {k:>4}  {x[0]:>12.8f} {x[1]:>12.8f}  {e:>9.2e}  {ratio}")
