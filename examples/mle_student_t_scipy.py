"""A maximum-likelihood fit through scipy.optimize.minimize with funcad's exact derivatives.

A Student-t location-scale model (4 degrees of freedom, known) on synthetic data; the
parameters are a dict, and SciPy's trust-exact gets funcad's gradient and Hessian (Newton-CG
would get Hessian-vector products). Checked against scipy.stats.t.fit.

    python examples/mle_student_t_scipy.py
"""

import numpy as np
import scipy.stats

import funcad.numpy as fnp
from funcad.optimize import minimize

rng = np.random.default_rng(42)
df = 4.0
data = 3.0 + 2.0 * rng.standard_t(df, size=2000)


def nll(params, data):
    scale = fnp.exp(params["log_scale"])  # unconstrained: scale > 0 by construction
    r = (data - params["loc"]) / scale
    return fnp.sum(params["log_scale"] + 0.5 * (df + 1.0) * fnp.log1p(r * r / df))


for method in ("trust-exact", "Newton-CG"):
    res = minimize(nll, {"loc": float(np.median(data)), "log_scale": 0.0}, (data,), method=method,
                   verbose=True)
    print(f"{method}: {res.message} loc = {float(res.x['loc']):.6f}, "
          f"scale = {float(np.exp(res.x['log_scale'])):.6f}\n")
_, loc, scale = scipy.stats.t.fit(data, fdf=df)
print(f"scipy.stats.t.fit: loc = {loc:.6f}, scale = {scale:.6f}")
