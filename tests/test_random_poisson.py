"""funcad.random.poisson against jax.random.poisson's stored numbers (bit for bit: Knuth's loop
below lam 10, the transformed rejection from 10 on, in float32 with XLA's log, log1p and
lgamma), its statistics, and eager == jit == vmap."""

import os

import numpy as np
import pytest
import scipy.stats as st

import funcad
from funcad import lax
from funcad import random as r
from funcad.errors import ArgumentError, DTypeError

REF = np.load(os.path.join(os.path.dirname(__file__), "data", "jax_poisson_reference.npz"))

# The funcad counterpart of each case in tools/jax_poisson_reference.py.
LAMS = (0.0, 1e-3, 0.5, 3.0, 9.99, 10.0, 10.01, 50.0, 1e4)
MIXED = np.concatenate([np.linspace(0.0, 20.0, 41), np.geomspace(1e-3, 1e6, 19)])
EDGES = np.array([0.0, -1.0, np.nan, np.inf, -np.inf, 3.0, 20.0, 200.0, 3e9, 1e30])
CASES = {f"lam_{lam}_key{s}": (lambda lam=lam, s=s: r.poisson(r.key(s), lam, (100,)))
         for s in range(3) for lam in LAMS}
CASES.update({
    "knuth_f32_i32": lambda: r.poisson(r.key(3), np.float32(4.5), (50,), np.int32),
    "rejection_f32_i32": lambda: r.poisson(r.key(3), np.float32(37.25), (50,), np.int32),
    "mixed": lambda: r.poisson(r.key(4), MIXED),
    "mixed_2d": lambda: r.poisson(r.key(4), MIXED.reshape(6, 10)),
    "broadcast": lambda: r.poisson(r.key(5), np.array([0.5, 12.0, 300.0]), (20, 3)),
    "scalar": lambda: r.poisson(r.key(10), 25.0),
    "edges_i64": lambda: r.poisson(r.key(6), EDGES),
    "edges_i8": lambda: r.poisson(r.key(6), EDGES, dtype=np.int8),
    "edges_u8": lambda: r.poisson(r.key(6), EDGES, dtype=np.uint8),
    "edges_i32": lambda: r.poisson(r.key(6), EDGES, dtype=np.int32),
    "edges_u64": lambda: r.poisson(r.key(6), EDGES, dtype=np.uint64),
    "vmap_keys": lambda: funcad.vmap(lambda k: r.poisson(k, np.array([2.0, 15.0, 80.0]), (5, 3)))(
        r.split(r.key(8), 4)),
    "vmap_lam": lambda: funcad.vmap(lambda lam: r.poisson(r.key(9), lam, (8,)))(
        np.array([0.3, 9.5, 10.5, 70.0, 2e3])),
})
N = 100_000


def test_cases_are_the_tools():
    assert sorted(CASES) == sorted(REF.files)


def test_matches_jax_reference():
    for name in CASES:  # one test: 40 small cases, a few ms each once the kernel is loaded
        got, want = np.asarray(CASES[name]()), REF[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_jit_matches_jax_reference():
    names = ["broadcast", "vmap_keys", "edges_u8"]  # one program: a jit compile costs seconds
    for name, got in zip(names, funcad.jit(lambda: [CASES[n]() for n in names])()):
        np.testing.assert_array_equal(got, REF[name], err_msg=name)


def test_live_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    lam = np.concatenate([rng.uniform(0, 20, 50_000), 10 ** rng.uniform(-3, 6, 50_000)])
    np.testing.assert_array_equal(r.poisson(r.key(1), lam), jax.random.poisson(jax.random.PRNGKey(1), lam))
    for v in (0.7, 9.99, 10.0, 123.4):
        np.testing.assert_array_equal(
            r.poisson(r.key(2), np.float32(v), (20_000,), np.int32),
            jax.random.poisson(jax.random.PRNGKey(2), np.float32(v), (20_000,), np.int32))
    keys = r.split(r.key(3), 3)
    np.testing.assert_array_equal(
        funcad.jit(funcad.vmap(lambda k: r.poisson(k, lam[:500])))(keys),
        jax.vmap(lambda k: jax.random.poisson(k, lam[:500]))(keys))


@pytest.mark.parametrize("lam", [0.7, 4.0, 50.0, 1e4])
def test_statistics(lam):
    x = r.poisson(r.key(11), lam, (N,))
    assert x.dtype == np.int64 and x.min() >= 0
    # mean and variance both lam: within 5 standard errors (var(s^2) ~ 2 lam^2 / N + lam / N)
    assert abs(x.mean() - lam) < 5 * np.sqrt(lam / N)
    assert abs(x.var() - lam) < 5 * np.sqrt((2 * lam ** 2 + lam) / N)
    ks = np.arange(x.max() + 1)
    counts = np.bincount(x, minlength=ks.size)
    expected = N * st.poisson(lam).pmf(ks)
    keep = expected > 20
    obs = np.append(counts[keep], counts[~keep].sum())  # the sparse tails pooled into one bin
    exp = np.append(expected[keep], N - expected[keep].sum())
    assert st.chisquare(obs, exp).pvalue > 1e-3


def test_eager_jit_vmap_agree():
    lam = np.array([0.0, 0.2, 3.0, 9.999, 10.0, 60.0, 5e3])
    keys = r.split(r.key(12), 5)
    eager = np.stack([r.poisson(k, lam, (3, 7)) for k in keys])
    np.testing.assert_array_equal(funcad.jit(funcad.vmap(lambda k: r.poisson(k, lam, (3, 7))))(keys), eager)
    # over lam: each example is its own call (its own rejection rounds), as in JAX
    np.testing.assert_array_equal(funcad.vmap(lambda v: r.poisson(keys[0], v, (4,)))(lam),
                                  np.stack([r.poisson(keys[0], v, (4,)) for v in lam]))
    np.testing.assert_array_equal(funcad.vmap(r.poisson)(keys, lam[:5]),
                                  np.stack([r.poisson(k, v) for k, v in zip(keys, lam[:5])]))

    def body(k, v):
        k, sub = r.split(k)
        return k, r.poisson(sub, v, (2,))

    _, ys = lax.scan(body, keys[1], lam)
    k, want = keys[1], []
    for v in lam:
        k, sub = r.split(k)
        want.append(r.poisson(sub, v, (2,)))
    np.testing.assert_array_equal(ys, np.stack(want))


def test_large_draws_do_not_depend_on_threads():
    from funcad.backend import table_parallel

    lam = np.tile([2.5, 40.0], 5000)  # parallel above 4096 elements
    want = r.poisson(r.key(13), lam)
    threads = table_parallel.set_threads(1)
    try:
        serial, serial_jit = r.poisson(r.key(13), lam), funcad.jit(r.poisson)(r.key(13), lam)
    finally:
        table_parallel.set_threads(threads)
    np.testing.assert_array_equal(serial, want)
    np.testing.assert_array_equal(serial_jit, want)
    # the rejection loop runs over the whole draw: a rejection element's number depends on the
    # draw's slowest element (as in JAX), so a prefix of a draw is not the smaller draw
    np.testing.assert_array_equal(r.poisson(r.key(13), lam)[:10], want[:10])


def test_sampling_is_not_differentiated():
    g = funcad.grad(lambda v: funcad.numpy.sum(r.poisson(r.key(0), v, (5,)) * v))(30.0)
    np.testing.assert_allclose(g, r.poisson(r.key(0), 30.0, (5,)).sum())


def test_bad_inputs():
    with pytest.raises(ArgumentError, match=r"lam of shape \(3,\) does not broadcast to shape \(2,\)"):
        r.poisson(r.key(0), np.ones(3), (2,))
    with pytest.raises(ArgumentError, match="lam of shape"):
        r.poisson(r.key(0), np.ones((2, 3)), (3,))
    with pytest.raises(DTypeError, match="integer type, got float32"):
        r.poisson(r.key(0), 1.0, (2,), np.float32)
    with pytest.raises(ArgumentError, match="single key"):
        r.poisson(r.split(r.key(0), 2), 1.0)
