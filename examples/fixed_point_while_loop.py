"""Differentiate through a fixed-point iteration run by lax.while_loop.

The iteration stops when it has converged, so its trip count depends on the input; funcad
still differentiates it in reverse mode (JAX refuses), by recording the trip count in the
forward pass. Checked against the closed forms:

* sqrt(a) by Babylonian iteration: d/da = 1 / (2 sqrt a), d2/da2 = -1 / (4 a^1.5);
* x(p) with x = cos(p x): dx/dp = -x sin(px) / (1 + p sin(px)) (implicit function theorem).

Run: python examples/fixed_point_while_loop.py
"""

import numpy as np

import funcad as fa
from funcad_tour.control import babylonian_sqrt, fixed_point_cos, fixed_point_derivative


def main():
    for a in (0.5, 2.0, 123.0):
        g = fa.grad(babylonian_sqrt)(a)
        h = fa.hessian(babylonian_sqrt)(a)
        assert np.isclose(g, 0.5 / np.sqrt(a), rtol=1e-12), (g, 0.5 / np.sqrt(a))
        assert np.isclose(h, -0.25 * a ** -1.5, rtol=1e-9), (h, -0.25 * a ** -1.5)
        print(f"a={a:7g}  sqrt'={float(g):.15f}  (closed {0.5 / np.sqrt(a):.15f})  "
              f"sqrt''={float(h):.6e}  (closed {-0.25 * a ** -1.5:.6e})")
    for p in (0.3, 0.9, 1.2):
        x = float(fixed_point_cos(p))
        g = float(fa.jit(fa.grad(fixed_point_cos))(p))
        assert np.isclose(g, fixed_point_derivative(p, x), rtol=1e-10)
        print(f"p={p}  x={x:.15f}  dx/dp={g:.15f}  (closed {fixed_point_derivative(p, x):.15f})")
    ps = np.array([0.3, 0.9, 1.2])
    print("vmap(grad) over p:", fa.vmap(fa.grad(fixed_point_cos))(ps))


if __name__ == "__main__":
    main()
