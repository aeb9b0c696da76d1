"""tanh and its first six derivatives by nesting elementwise_grad, against the closed form.

d^k/dx^k tanh(x) is a polynomial in t = tanh(x): P_0 = t, P_{k+1}(t) = P_k'(t) (1 - t^2).
"""

import numpy as np

import funcad as fa
import funcad.numpy as fnp

x = np.linspace(-3, 3, 200)
t = np.tanh(x)
P = np.polynomial.Polynomial([0.0, 1.0])  # P_0(t) = t
f = fnp.tanh
for k in range(7):
    err = np.max(np.abs(f(x) - P(t)))
    print(f"order {k}: max |autodiff - closed form| = {err:.1e}")
    f = fa.elementwise_grad(f)
    P = P.deriv() * np.polynomial.Polynomial([1.0, 0.0, -1.0])
