"""Shared test configuration.

``transform`` runs a test's function eagerly; once jit lands it also runs it under jit, so
the whole suite checks that eager and compiled results agree.
"""

import numpy as np
import pytest


@pytest.fixture(params=["eager", "jit"])
def transform(request):
    """Wrap a function the way the parametrisation asks (eager: unchanged; jit: fa.jit)."""
    if request.param == "jit":
        import funcad as fa

        return fa.jit
    return lambda f: f


@pytest.fixture
def rng():
    return np.random.default_rng(0)
