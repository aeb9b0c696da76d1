"""Reverse accumulation on f(x1, x2) = x1 x2 + sin(x1): the graph, and the adjoints."""

import numpy as np

import funcad as fa
import funcad.numpy as fnp


def f(x1, x2):
    return x1 * x2 + fnp.sin(x1)


print("The computation graph (jaxpr):")
print(fa.make_jaxpr(f)(2.0, 5.0))

x1, x2 = 2.0, 5.0
# by hand: v3 = x1 x2, v4 = sin x1, v5 = v3 + v4; adjoints from v5_bar = 1 backwards
v3_bar = v4_bar = 1.0
x2_bar = v3_bar * x1
x1_bar = v3_bar * x2 + v4_bar * np.cos(x1)
print(f"by hand:  df/dx1 = {x1_bar:.6f}, df/dx2 = {x2_bar:.6f}")

g1, g2 = fa.grad(f, argnums=(0, 1))(x1, x2)
print(f"by grad:  df/dx1 = {g1:.6f}, df/dx2 = {g2:.6f}")
print("The gradient program:")
print(fa.make_jaxpr(fa.grad(f, argnums=(0, 1)))(x1, x2))
