"""Tour section: differentiating through control flow (lax.cond, scan, while_loop).

A fixed-point iteration run by ``lax.while_loop`` stops when it has converged, so how many
steps it takes depends on the input. JAX refuses reverse mode through it; funcad records
the trip count in the forward pass and runs the backward pass for that many steps, so
grad, hessian, jit and vmap of a convergence loop all work. Each result is checked against
its closed form.
"""

from __future__ import annotations

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad import lax

from .tour import section


def babylonian_sqrt(a):
    """sqrt(a) by Newton's (Babylonian) iteration x <- (x + a/x)/2, until |x^2 - a| is tiny."""
    return lax.while_loop(lambda x: fnp.abs(x * x - a) > 1e-14 * a,
                          lambda x: 0.5 * (x + a / x), a)


def fixed_point_cos(p):
    """The x with x = cos(p x) (for |p| < ~1.5), by the iteration x <- cos(p x)."""
    return lax.while_loop(lambda c: fnp.abs(c[1] - c[0]) > 1e-15,
                          lambda c: (c[1], fnp.cos(p * c[1])), (2.0, 1.0))[1]


def fixed_point_derivative(p, x):
    """dx/dp from implicit differentiation of x = cos(p x): -x sin(px) / (1 + p sin(px))."""
    return -x * np.sin(p * x) / (1.0 + p * np.sin(p * x))


@section("Control flow: derivatives through a convergence loop")
def control_flow_section() -> None:
    print("sqrt(a) by Babylonian iteration in lax.while_loop; derivatives by reverse mode")
    print(f"{'a':>8} {'sqrt(a)':>20} {'grad':>20} {'1/(2 sqrt a)':>20} {'hessian':>12} {'closed':>12}")
    for a in (2.0, 10.0, 1e4):
        v, g, h = babylonian_sqrt(a), fa.grad(babylonian_sqrt)(a), fa.hessian(babylonian_sqrt)(a)
        print(f"{a:8g} {float(v):20.15f} {float(g):20.15f} {0.5 / np.sqrt(a):20.15f} "
              f"{float(h):12.4e} {-0.25 * a ** -1.5:12.4e}")
    a = np.array([2.0, 10.0, 1e4])
    print("\nvmap: each element iterates only as long as it needs; jit compiles the loop")
    print("  vmap(grad):", fa.vmap(fa.grad(babylonian_sqrt))(a))
    print("  jit(grad): ", fa.jit(fa.vmap(fa.grad(babylonian_sqrt)))(a))
    print("  closed:    ", 0.5 / np.sqrt(a))

    print("\nThe fixed point x = cos(p x) and its derivative dx/dp (implicit function theorem)")
    for p in (0.5, 1.0):
        x = float(fixed_point_cos(p))
        print(f"  p={p}: x={x:.15f}  grad={float(fa.grad(fixed_point_cos)(p)):.15f}  "
              f"closed={fixed_point_derivative(p, x):.15f}")

    print("\nlax.cond and lax.scan are single primitives: the jaxpr holds the branches and the body")
    relu_sq = lambda x: lax.cond(x > 0, lambda x: x * x, lambda x: 0.0 * x, x)
    print(fa.make_jaxpr(relu_sq)(1.0))
    cumsum = lambda xs: lax.scan(lambda c, x: (c + x, c + x), 0.0, xs)[1]
    print("scan cumulative sum:", cumsum(np.arange(5.0)), " grad of its sum:",
          fa.grad(lambda xs: fnp.sum(cumsum(xs)))(np.arange(5.0)))
