"""Black-box variational inference with the reparameterisation trick, by SGD, under jit.

The posterior of a Bayesian linear regression (prior w ~ N(0, I), noise sd 0.5) is
approximated by q(w) = N(mu, diag(sigma^2)) by stochastic gradient ascent on the ELBO,
estimated per step from fresh draws ``w = mu + sigma * eps`` with ``eps = random.normal(key)``:
a new key per step (``random.split``), the sampling inside the jitted step. The posterior is
Gaussian, so q's mean must reach the exact posterior mean (and sigma the mean-field optimum,
``1 / sqrt(diag(precision))``).
"""

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad import random

NOISE = 0.5
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
y = X @ np.array([1.0, -2.0, 0.5]) + NOISE * rng.normal(size=40)


def log_joint(w):
    return -0.5 * fnp.sum(w ** 2) - 0.5 * fnp.sum((y - X @ w) ** 2) / NOISE ** 2


def neg_elbo(params, key, samples=16):
    return neg_elbo_from_noise(params, random.normal(key, (samples, 3)))


def neg_elbo_from_noise(params, eps):
    mu, log_sigma = params
    w = mu + fnp.exp(log_sigma) * eps                       # reparameterised draws
    expected = fnp.mean(fa.vmap(log_joint)(w))
    entropy = fnp.sum(log_sigma)                             # of a diagonal Gaussian, + const
    return -(expected + entropy)


@fa.jit
def step(params, key, lr):
    g = fa.grad(neg_elbo)(params, key)
    return tuple(p - lr * gp for p, gp in zip(params, g))


def fit(steps=2000, seed=0):
    params = (np.zeros(3), np.full(3, -1.0))
    key = random.key(seed)
    for i in range(steps):
        key, sub = random.split(key)
        params = step(params, sub, 2e-3 if i < steps // 2 else 5e-4)
    return params


precision = np.eye(3) + X.T @ X / NOISE ** 2
exact_mean = np.linalg.solve(precision, X.T @ y / NOISE ** 2)
mean_field_sd = 1 / np.sqrt(np.diag(precision))

if __name__ == "__main__":
    mu, log_sigma = fit()
    print("q mean      ", np.round(mu, 4), " exact posterior mean", np.round(exact_mean, 4))
    print("q sd        ", np.round(np.exp(log_sigma), 4), " mean-field optimum  ",
          np.round(mean_field_sd, 4))
