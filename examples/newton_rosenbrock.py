"""Newton's method on the Rosenbrock function with funcad's hessian and a linear solve."""

import numpy as np

import funcad as fa
import funcad.numpy as fnp


def rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


x = np.array([-1.2, 1.0])
for step in range(10):
    error = np.linalg.norm(x - 1.0)
    print(f"step {step}: x = {x}, error {error:.2e}")
    if error < 1e-14:
        break
    x = x - np.linalg.solve(fa.hessian(rosenbrock)(x), fa.grad(rosenbrock)(x))
