"""funcad.scipy.stats: distributions as ``jax.scipy.stats`` has them, one module each
(``from funcad.scipy.stats import norm``; ``import funcad.scipy.stats.multivariate_normal``).

Every density is written with funcad's primitives, so it differentiates in its data and its
parameters (CDFs through the incomplete gamma and beta functions differentiate in x, loc and
scale, not in the shape parameters: asking for that raises UnsupportedFunctionError).
Outside the support a log-density is -inf, as in SciPy.

>>> from funcad.scipy.stats import norm
>>> float(norm.cdf(0.0))
0.5
"""

from . import (  # noqa: F401
               bernoulli,
               beta,
               binom,
               cauchy,
               chi2,
               dirichlet,
               expon,
               gamma,
               geom,
               laplace,
               logistic,
               multinomial,
               multivariate_normal,
               nbinom,
               norm,
               pareto,
               poisson,
               t,
               uniform,
)

__all__ = ["bernoulli", "beta", "binom", "cauchy", "chi2", "dirichlet", "expon", "gamma", "geom",
           "laplace", "logistic", "multinomial", "multivariate_normal", "nbinom", "norm", "pareto",
           "poisson", "t", "uniform"]
