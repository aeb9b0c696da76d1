"""Finite differences against automatic differentiation, for d/dx [sin(x) e^x] at x = 1."""

import numpy as np

import funcad as fa
import funcad.numpy as fnp

x = 1.0
exact = (np.cos(x) + np.sin(x)) * np.exp(x)
f = lambda t: np.sin(t) * np.exp(t)  # noqa: E731
print(f"{'h':>8} {'forward error':>14} {'central error':>14}")
for h in np.logspace(-1, -13, 7):
    fwd = (f(x + h) - f(x)) / h
    central = (f(x + h) - f(x - h)) / (2 * h)
    print(f"{h:>8.0e} {abs(fwd - exact):>14.2e} {abs(central - exact):>14.2e}")
ad = fa.grad(lambda t: fnp.sin(t) * fnp.exp(t))(x)
print(f"autodiff error: {abs(ad - exact):.1e}")
