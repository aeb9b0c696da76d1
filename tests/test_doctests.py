"""The docstring examples of the foundation's modules, run as doctests.

Run here on the already-imported modules rather than by adding funcad/ to pytest's
testpaths: --import-mode=importlib would execute a module a second time (a second pytree
registry, a second set of primitives), which breaks the tests that follow.
"""

import doctest
import importlib

import pytest

MODULES = ["funcad", "funcad.core", "funcad.jaxpr", "funcad.ad", "funcad.api", "funcad.numpy",
           "funcad.numpy.linalg", "funcad.nn", "funcad.tree_util", "funcad.test_util",
           "funcad.partial_eval", "funcad.random",
           "funcad_tour.examples", "funcad.datasets", "funcad.lax.elementwise", "funcad.tree",
           "funcad.flatten_util", "funcad.config", "funcad.custom_derivatives", "funcad.lax.control",
           "funcad.numpy._more", "funcad.scipy.special", "funcad.scipy.linalg", "funcad.scipy.signal",
           "funcad.scipy.stats", "funcad.scipy.stats.norm", "funcad.scipy.stats.multivariate_normal",
           "funcad.scipy.stats.t", "funcad.scipy.stats.gamma", "funcad.scipy.stats.beta",
           "funcad.scipy.stats.poisson", "funcad.scipy.stats.bernoulli", "funcad.scipy.stats.logistic",
           "funcad.scipy.stats.dirichlet",
           "funcad.lax.jax_api", "funcad.debug", "funcad.autograd", "funcad.autograd.extend",
           "funcad.autograd.numpy", "funcad.autograd.misc.flatten", "funcad.autograd.misc.optimizers",
           "funcad.autograd.misc.fixed_points", "funcad.autograd.test_util",
           "funcad.autograd.tracer", "funcad.callback",
           "funcad.numpy._array", "funcad.numpy._ranges", "funcad.scipy.integrate", "funcad.collectives",
           "funcad.scipy.optimize",
           "funcad.sparsity", "funcad.coloring", "funcad.sparse_ad", "funcad.optimize", "funcad.dask",
           "funcad.numpy.fft", "funcad.lax.fft"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "funcad.dask":  # its examples run a cluster: only with the dask extra installed
        pytest.importorskip("distributed")
    module = importlib.import_module(name)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    failures, tried = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failures == 0, f"{failures} of {tried} docstring examples failed in {name}"
