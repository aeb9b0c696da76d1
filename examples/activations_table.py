"""f, f', f'' for softplus and sigmoid, and logsumexp's gradient (softmax) and Hessian."""

import numpy as np

import funcad as fa

x = np.array([-1000.0, -2.0, 0.0, 2.0, 1000.0])
for name, f in [("softplus", fa.nn.softplus), ("sigmoid", fa.nn.sigmoid)]:
    d1 = fa.elementwise_grad(f)
    d2 = fa.elementwise_grad(d1)
    print(f"{name:>8}   f: {np.round(f(x), 4)}\n{'':>8}  f': {np.round(d1(x), 4)}\n{'':>8} f'': {np.round(d2(x), 4)}")

z = np.array([1.0, 2.0, 3.0])
s = fa.nn.softmax(z)
print("grad logsumexp   :", fa.grad(fa.nn.logsumexp)(z))
print("softmax          :", s)
print("hessian logsumexp:\n", fa.hessian(fa.nn.logsumexp)(z))
print("diag(s) - s s^T  :\n", np.diag(s) - np.outer(s, s))
