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


# --------------------------------------------------------------------------------------
# jit's table backend (funcad/backend/table.py): run a program and check that it took it


@pytest.fixture
def table_backend():
    """A test of table programs: dispatch's memo emptied before and after, so that
    :class:`OnTable` sees this test's programs only."""
    from funcad.backend import dispatch

    dispatch._executables.clear()
    yield
    dispatch._executables.clear()


class OnTable:
    """``on_table(f, *args)``: ``jit(f)(*args)``, checked to have run as table programs (not
    interpreted, no other executable); ``on_table.run(f, *args)``: ``(outputs, the program)``;
    ``on_table.parallel_kernels(program)``: how many of its distinct kernels run on threads."""

    def __call__(self, f, *args):
        return self.run(f, *args)[0]

    @staticmethod
    def run(f, *args):
        import funcad as fa
        from funcad.backend import dispatch, table

        dispatch._executables.clear()
        jitted = fa.jit(f)
        out = jitted(*args)
        programs = list(dispatch._executables.values())
        assert programs and all(type(p) is table.TableProgram for p in programs), programs
        entry, _ = jitted._entry(args, {})
        return out, dispatch._executables[entry.jaxpr]

    @staticmethod
    def parallel_kernels(program) -> int:
        from funcad.backend import table, table_parallel

        kernels = table.Plan(*program._plan_args).kernels
        return sum(type(k) is table.Loops and table_parallel.parallel_loop(k.body) is not None
                   for k in kernels)


@pytest.fixture
def on_table(table_backend):
    return OnTable()
