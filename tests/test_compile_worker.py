"""Compiling the kernels of a large program in parallel (backend/compile_worker.py).

A driven program's distinct kernels that are not in the disk cache are compiled before its
first call, this process taking them from the front and the compile worker from the back;
their Numba signatures come from a run of the driver with NumPy in place of each kernel.
Results are checked against the same function run eagerly.
"""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import cache, compile_worker, dispatch, driver, nbrt


@pytest.fixture(autouse=True)
def _numba_backend(monkeypatch):
    """Driven programs' kernels compiled by a worker process: the Numba path
    (FUNCAD_JIT_BACKEND=numba). The table backend compiles a program's kernels as one module,
    without a worker."""
    monkeypatch.setenv("FUNCAD_JIT_BACKEND", "numba")


def lstm_loss(steps, hidden=5):
    def loss(params, seq):
        Wx, Wh, Wy = params
        h, c, total = fnp.zeros(hidden), fnp.zeros(hidden), 0.0
        for t in range(steps - 1):
            z = Wx @ seq[t] + Wh @ h
            i, f, g = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:]
            c = fnp.tanh(f) * c + fnp.tanh(i) * fnp.tanh(g)
            h = fnp.tanh(c)
            logits = Wy @ h
            total = total - fnp.sum((logits - fnp.log(fnp.sum(fnp.exp(logits)))) * seq[t + 1])
        return total

    return loss


def _inputs(steps, hidden=5, vocab=4):
    rng = np.random.default_rng(7)
    params = (rng.normal(0, 0.3, (3 * hidden, vocab)), rng.normal(0, 0.3, (3 * hidden, hidden)),
              rng.normal(0, 0.3, (vocab, hidden)))
    return params, np.eye(vocab)[rng.integers(0, vocab, steps)]


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty disk cache and none in memory, parallel compiles on (even on one core),
    fresh counters."""
    for name in list(cache._loaded):
        cache.release(name)
    monkeypatch.setenv("FUNCAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compile_worker, "parallel", lambda: True)
    monkeypatch.setattr(compile_worker, "stats", dict(compile_worker.stats, local=0, remote=0, failed=0))


def _check(g, params, seq, steps):
    out = g(params, seq)
    expected = fa.grad(lstm_loss(steps))(params, seq)
    for a, b in zip(out, expected):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    entry, _ = g._entry((params, seq), {})
    exe = dispatch.executable_for(entry.jaxpr, entry.name)
    assert isinstance(exe, driver.Driven)
    return exe


def test_a_large_programs_kernels_compile_here_and_in_the_worker_at_once(fresh):
    steps = 8
    params, seq = _inputs(steps)
    g = fa.jit(fa.grad(lstm_loss(steps)))
    exe = _check(g, params, seq, steps)
    assert len(exe.kernels) >= compile_worker.PARALLEL_MIN
    assert compile_worker.stats["remote"] >= 1 and compile_worker.stats["failed"] == 0
    # each kernel compiled (or loaded) for exactly the signature it is called with: the
    # signatures found before the first call were right
    assert all(len(c.fn.signatures) == 1 for c in exe.kernels.values())
    # every kernel released from memory, twice: loaded again from disk, and the driver's
    # release callbacks stay one per kernel (they used to double at every release)
    for _ in range(2):
        for c in exe.kernels.values():
            cache.release(c.name)
        assert _check(g, params, seq, steps) is exe
    names = {c.name for c in exe.kernels.values()}
    assert sum(len(cache._on_release.get(n, ())) for n in names) <= 2 * len(names)


def test_a_wrong_signature_guess_only_costs_a_compile(fresh, monkeypatch):
    import numba

    def any_layout(self, args):  # every array guessed strided: not what the calls pass
        out = {}
        for n, (k, jaxpr, _) in self._sites.items():
            arrays = numba.types.Tuple([numba.types.Array(numba.from_dtype(v.aval.dtype), v.aval.ndim, "A")
                                        for v in jaxpr.invars])
            out.setdefault(k, [(arrays, numba.typeof(self._env[f"S{n}"]))])
        return out

    monkeypatch.setattr(driver.Driven, "_signatures", any_layout)
    steps = 7
    params, seq = _inputs(steps)
    exe = _check(fa.jit(fa.grad(lstm_loss(steps))), params, seq, steps)
    assert any(len(c.fn.signatures) == 2 for c in exe.kernels.values())


def test_a_failing_signature_run_leaves_the_kernels_to_their_first_calls(fresh, monkeypatch):
    monkeypatch.setattr(compile_worker, "compile_many", lambda jobs: pytest.fail("not reached"))
    monkeypatch.setattr(driver.Driven, "_signatures", lambda self, args: None)
    steps = 6
    params, seq = _inputs(steps)
    _check(fa.jit(fa.grad(lstm_loss(steps))), params, seq, steps)


def test_solve_compiles_once_whatever_its_operands_layouts(fresh):
    """nbrt's helpers take their operands as any layout (nbrt.any_layout): solving with K and
    with K.T (an F-ordered view) compiles ``solve`` once, not once per layout."""
    rng = np.random.default_rng(3)
    K = rng.normal(size=(6, 6)) + 6 * np.eye(6)
    y = rng.normal(size=(6, 2))
    f = fa.jit(lambda K, y: fnp.linalg.solve(K, y) + fnp.linalg.solve(K.T, y[:, ::-1]))
    np.testing.assert_allclose(f(K, y), np.linalg.solve(K, y) + np.linalg.solve(K.T, y[:, ::-1]),
                               rtol=1e-12)
    assert nbrt.solve.signatures
    assert all(t.layout == "A" for sig in nbrt.solve.signatures for t in sig)


def test_parallel_compiles_follow_the_setting_and_the_load(monkeypatch):
    monkeypatch.setattr(compile_worker.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(compile_worker.os, "getloadavg", lambda: (3.0, 3.0, 3.0), raising=False)
    monkeypatch.delenv("FUNCAD_JIT_LOCAL_COMPILES", raising=False)
    monkeypatch.delenv("FUNCAD_JIT_PARALLEL_COMPILE", raising=False)
    assert not compile_worker.parallel()  # both cores busy: the worker would only compete
    monkeypatch.setattr(compile_worker.os, "getloadavg", lambda: (0.7, 0.7, 0.7), raising=False)
    assert compile_worker.parallel()
    monkeypatch.setenv("FUNCAD_JIT_PARALLEL_COMPILE", "0")
    assert not compile_worker.parallel()
    monkeypatch.setenv("FUNCAD_JIT_PARALLEL_COMPILE", "1")
    monkeypatch.setattr(compile_worker.os, "getloadavg", lambda: (9.0, 9.0, 9.0), raising=False)
    assert compile_worker.parallel()
    monkeypatch.setattr(compile_worker.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not compile_worker.parallel()  # one core: nothing to share
    monkeypatch.setenv("FUNCAD_JIT_LOCAL_COMPILES", "-1")  # no worker at all
    monkeypatch.setattr(compile_worker.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert not compile_worker.parallel()
