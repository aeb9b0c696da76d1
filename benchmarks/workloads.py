"""The workloads: one table, each entry written once for every autodiff system plus its floors.

``program(S)`` builds the workload's function from a system adapter ``S`` (see systems.py); the
harness compiles it with ``S.jit`` (the identity for eager systems) and calls it on the
workload's inputs. ``floors`` are the hand-written versions (NumPy, and Numba where a fused
loop is the floor); the ``numpy`` floor is also the reference every system is checked against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------- shared math


def chain(xp: Any, x: Any) -> Any:
    """The elementwise chain of workloads 1 and 5: ten primitives, written once for all.

    f(x) = tanh(x) * exp(-x^2) + log(1 + x^2) * sin(x), with u = x*x computed once:
    mul, tanh, neg, exp, mul, add, log, sin, mul, add.
    """
    u = x * x
    return xp.tanh(x) * xp.exp(-u) + xp.log(1.0 + u) * xp.sin(x)


def chain_and_derivative(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand-written value and derivative of :func:`chain`."""
    u = x * x
    t, e, lg, s = np.tanh(x), np.exp(-u), np.log1p(u), np.sin(x)
    value = t * e + lg * s
    derivative = (1.0 - t * t - 2.0 * x * t) * e + 2.0 * x / (1.0 + u) * s + lg * np.cos(x)
    return value, derivative


# ----------------------------------------------------------------------------- 1. elementwise


def elementwise_inputs(n: int) -> tuple:
    return (np.random.default_rng(0).uniform(-2.0, 2.0, n),)


def elementwise_program(S):
    return S.value_and_grad(lambda x: S.np.sum(chain(S.np, x)))


def elementwise_numpy():
    def value_and_grad(x):
        value, derivative = chain_and_derivative(x)
        return value.sum(), derivative

    return value_and_grad


def elementwise_numba():
    """One parallel loop computing the sum and the derivative (the hand-fused floor)."""
    import numba

    @numba.njit(parallel=True, fastmath=False, cache=False)
    def fused(x):
        grad = np.empty_like(x)
        total = 0.0
        for i in numba.prange(x.shape[0]):
            xi = x[i]
            u = xi * xi
            t, e, lg, s = np.tanh(xi), np.exp(-u), np.log1p(u), np.sin(xi)
            total += t * e + lg * s
            grad[i] = (1.0 - t * t - 2.0 * xi * t) * e + 2.0 * xi / (1.0 + u) * s + lg * np.cos(xi)
        return total, grad

    return fused


# ----------------------------------------------------------------------------- 2. MLP


def mlp_inputs(batch: int) -> tuple:
    rng = np.random.default_rng(1)
    params = (
        rng.normal(0.0, 784**-0.5, (784, 256)),
        rng.normal(0.0, 0.01, 256),
        rng.normal(0.0, 256**-0.5, (256, 10)),
        rng.normal(0.0, 0.01, 10),
    )
    x = rng.uniform(0.0, 1.0, (batch, 784))
    y = np.eye(10)[rng.integers(0, 10, batch)]  # one-hot labels
    return params, x, y


def mlp_program(S):
    def loss(params, x, y):
        w1, b1, w2, b2 = params
        hidden = S.relu(x @ w1 + b1)
        return -S.np.sum(y * S.log_softmax(hidden @ w2 + b2)) / x.shape[0]

    return S.value_and_grad(loss)


def mlp_numpy():
    def value_and_grad(params, x, y):
        w1, b1, w2, b2 = params
        z1 = x @ w1 + b1
        hidden = np.maximum(z1, 0.0)
        z2 = hidden @ w2 + b2
        z2 = z2 - z2.max(axis=1, keepdims=True)
        log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))
        batch = x.shape[0]
        dz2 = (np.exp(log_p) - y) / batch  # each row of y sums to 1
        dz1 = (dz2 @ w2.T) * (z1 > 0.0)
        grads = (x.T @ dz1, dz1.sum(axis=0), hidden.T @ dz2, dz2.sum(axis=0))
        return -np.sum(y * log_p) / batch, grads

    return value_and_grad


# ----------------------------------------------------------------------------- 3. Newton step

NEWTON_N = 1000  # data points; the size parameter is the dimension d
NEWTON_L2 = 1e-2


def newton_inputs(d: int) -> tuple:
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, (NEWTON_N, d)) / np.sqrt(d)
    y = np.where(rng.uniform(size=NEWTON_N) < 0.5, -1.0, 1.0)
    w = rng.normal(0.0, 0.1, d)
    return w, x, y


def newton_program(S):
    def loss(w, x, y):
        return S.np.mean(S.softplus(-y * (x @ w))) + 0.5 * NEWTON_L2 * (w @ w)

    def newton_step(w, x, y):
        return w - S.solve(S.hessian(loss)(w, x, y), S.grad(loss)(w, x, y))

    return newton_step


def newton_numpy():
    def newton_step(w, x, y):
        p = 0.5 * (1.0 + np.tanh(0.5 * (-y * (x @ w))))  # sigmoid(-y x.w), overflow-free
        n, d = x.shape
        g = x.T @ (-y * p) / n + NEWTON_L2 * w
        h = (x.T * (p * (1.0 - p) / n)) @ x + NEWTON_L2 * np.eye(d)
        return w - np.linalg.solve(h, g)

    return newton_step


# ----------------------------------------------------------------------------- 4. tanh''''''

TANH_ORDER = 6


def tanh6_inputs(n: int) -> tuple:
    return (np.linspace(-3.0, 3.0, n),)


def tanh6_program(S):
    f = S.np.tanh
    for _ in range(TANH_ORDER):
        f = S.egrad(f)
    return f


def tanh6_numpy():
    """Closed form: d/dx P(tanh x) = P'(t) (1 - t^2), so each derivative is a polynomial in t."""
    poly = np.polynomial.Polynomial([0.0, 1.0])
    for _ in range(TANH_ORDER):
        poly = poly.deriv() * np.polynomial.Polynomial([1.0, 0.0, -1.0])
    return lambda x: poly(np.tanh(x))


# ----------------------------------------------------------------------------- 5. scalar grad


def scalar_inputs(_: int) -> tuple:
    return (np.asarray(0.7),)


def scalar_program(S):
    return S.grad(lambda x: chain(S.np, x))


def scalar_numpy():
    return lambda x: chain_and_derivative(x)[1]


# ----------------------------------------------------------------------------- 6. Jacobian

JACOBIAN_SEED = 3


def jacobian_inputs(n: int) -> tuple:
    rng = np.random.default_rng(JACOBIAN_SEED)
    return rng.normal(0.0, 1.0, n), rng.normal(0.0, n**-0.5, (n, n))


def _needs(S, *names):
    from .measure import NotApplicable

    for name in names:
        if getattr(S, name) is None:
            raise NotApplicable(f"the system has no {name}")


def jacobian_program(S):
    """The Jacobian of x -> tanh(a @ x) * x (n -> n) by reverse mode: n VJPs, batched."""
    _needs(S, "jacrev")
    return S.jacrev(lambda x, a: S.np.tanh(a @ x) * x)


def jacobian_fwd_program(S):
    """The same Jacobian by forward mode: n JVPs, batched."""
    _needs(S, "jacfwd")
    return S.jacfwd(lambda x, a: S.np.tanh(a @ x) * x)


def jacobian_numpy():
    def jacobian(x, a):
        t = np.tanh(a @ x)
        jac = ((1.0 - t * t) * x)[:, None] * a
        jac[np.diag_indices_from(jac)] += t
        return jac

    return jacobian


# ----------------------------------------------------------------------------- 7. per-example


def per_example_program(S):
    """Per-example gradients of the MLP loss of workload 2: vmap of grad over the batch."""
    _needs(S, "vmap")

    def loss(params, x, y):  # one example: x (784,), y (10,) one-hot
        w1, b1, w2, b2 = params
        hidden = S.relu(x @ w1 + b1)
        return -S.np.sum(y * S.log_softmax(hidden @ w2 + b2))

    return S.vmap(S.grad(loss), in_axes=(None, 0, 0))


def per_example_numpy():
    def per_example_grads(params, x, y):
        w1, b1, w2, b2 = params
        z1 = x @ w1 + b1
        hidden = np.maximum(z1, 0.0)
        z2 = hidden @ w2 + b2
        z2 = z2 - z2.max(axis=1, keepdims=True)
        p = np.exp(z2)
        p /= p.sum(axis=1, keepdims=True)
        dz2 = p - y  # each row of y sums to 1
        dz1 = (dz2 @ w2.T) * (z1 > 0.0)
        return (x[:, :, None] * dz1[:, None, :], dz1, hidden[:, :, None] * dz2[:, None, :], dz2)

    return per_example_grads


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Workload:
    """One row of the benchmark: inputs by size, the program, the floors, the sizes to run."""

    key: str
    title: str
    size_name: str  # what the size parameter is ("n", "batch", "d", "points")
    size: int  # the headline size
    make_inputs: Callable[[int], tuple]
    program: Callable  # program(S) -> function of the inputs
    floors: dict  # floor name -> factory returning the hand-written function
    scaling_quick: tuple = ()
    scaling_full: tuple = ()
    check_size: int = 0  # small size for --check (0: the headline size)

    def sizes(self, quick: bool) -> list[int]:
        """Headline size first (so its first call meets cold caches), then the series."""
        series = self.scaling_quick if quick else self.scaling_full
        return [self.size] + sorted(set(series) - {self.size})


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "elementwise",
        "value_and_grad of a 1e6-element elementwise chain",
        "n",
        10**6,
        elementwise_inputs,
        elementwise_program,
        {"numpy": elementwise_numpy, "numba": elementwise_numba},
        scaling_quick=(10**4, 10**5),
        scaling_full=(10**3, 10**4, 10**5, 10**7),
        check_size=1000,
    ),
    Workload(
        "mlp",
        "value_and_grad, MLP 784-256-10, batch 128",
        "batch",
        128,
        mlp_inputs,
        mlp_program,
        {"numpy": mlp_numpy},
        check_size=8,
    ),
    Workload(
        "newton",
        "Newton step (Hessian + solve), L2 logistic loss, n=1000",
        "d",
        200,
        newton_inputs,
        newton_program,
        {"numpy": newton_numpy},
        scaling_quick=(100,),
        scaling_full=(50, 100, 500, 1000),
        check_size=20,
    ),
    Workload(
        "tanh6",
        "6th derivative of tanh (nested elementwise grad)",
        "points",
        200,
        tanh6_inputs,
        tanh6_program,
        {"numpy": tanh6_numpy},
        check_size=20,
    ),
    Workload(
        "scalar",
        "grad of a 10-op scalar function, per call",
        "",
        1,
        scalar_inputs,
        scalar_program,
        {"numpy": scalar_numpy},
    ),
    Workload(
        "jacobian",
        "Jacobian of tanh(A x) * x, n -> n (jacrev)",
        "n",
        500,
        jacobian_inputs,
        jacobian_program,
        {"numpy": jacobian_numpy},
        scaling_quick=(100,),
        scaling_full=(100, 1000),
        check_size=20,
    ),
    Workload(
        "jacobian_fwd",
        "Jacobian of tanh(A x) * x, n -> n (jacfwd)",
        "n",
        500,
        jacobian_inputs,
        jacobian_fwd_program,
        {"numpy": jacobian_numpy},
        scaling_quick=(100,),
        scaling_full=(100, 1000),
        check_size=20,
    ),
    Workload(
        "per_example",
        "per-example gradients (vmap of grad), MLP 784-256-10",
        "batch",
        128,
        mlp_inputs,
        per_example_program,
        {"numpy": per_example_numpy},
        check_size=8,
    ),
)


def workload_by_key(key: str) -> Workload:
    """Look a workload up by its key (``elementwise``, ``mlp``, ...)."""
    for workload in WORKLOADS:
        if workload.key == key:
            return workload
    raise KeyError(f"unknown workload {key!r}; known: {', '.join(w.key for w in WORKLOADS)}")
