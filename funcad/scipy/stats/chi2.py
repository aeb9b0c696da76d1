"""``scipy.stats.chi2``: the chi-squared distribution, a gamma(df / 2, scale 2)."""

from __future__ import annotations

from ... import numpy as fnp
from . import gamma as _gamma

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def logpdf(x, df, loc=0.0, scale=1.0):
    """log density: gamma.logpdf(x, df / 2, loc, 2 scale)."""
    return _gamma.logpdf(x, fnp.divide(df, 2.0), loc, fnp.multiply(2.0, scale))


def pdf(x, df, loc=0.0, scale=1.0):
    """density: exp(logpdf)."""
    return fnp.exp(logpdf(x, df, loc, scale))


def cdf(x, df, loc=0.0, scale=1.0):
    """CDF: gammainc(df / 2, y / 2); differentiable in x, loc, scale (not df)."""
    return _gamma.cdf(x, fnp.divide(df, 2.0), loc, fnp.multiply(2.0, scale))


def logcdf(x, df, loc=0.0, scale=1.0):
    """log CDF."""
    return fnp.log(cdf(x, df, loc, scale))


def sf(x, df, loc=0.0, scale=1.0):
    """Survival function: gammaincc(df / 2, y / 2)."""
    return _gamma.sf(x, fnp.divide(df, 2.0), loc, fnp.multiply(2.0, scale))


def logsf(x, df, loc=0.0, scale=1.0):
    """log survival function."""
    return fnp.log(sf(x, df, loc, scale))
