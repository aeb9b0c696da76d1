"""The Rosenbrock function in 100 dimensions, by newton (dense Hessian) and newton_cg (HVPs).

Both converge to the minimum x = (1, ..., 1) with a gradient norm below 1e-10.

    python examples/rosenbrock_100.py
"""

import numpy as np

import funcad.numpy as fnp
from funcad.optimize import newton, newton_cg


def rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


x0 = np.full(100, -1.2)
for method in (newton, newton_cg):
    res = method(rosenbrock, x0, maxiter=500, verbose=10)
    print(f"{method.__name__}: {res.message}; {res.nit} iterations, "
          f"max |x - 1| = {np.max(np.abs(res.x - 1)):.1e}\n")
