"""funcad.random against JAX's stored outputs (bit for bit), statistics, jit/vmap/scan/grad."""

import os
import warnings

import numpy as np
import pytest
import scipy.stats as st

import funcad
from funcad import lax
from funcad import random as r
from funcad.errors import ArgumentError, DTypeError
from funcad.lax.random import random_gamma_grad, xla_erf_inv_p, xla_erf_p, xla_exp_p
from funcad.test_util import check_grads

REF = np.load(os.path.join(os.path.dirname(__file__), "data", "jax_random_reference.npz"))

# The funcad counterpart of each case in tools/jax_random_reference.py.
CASES = {
    "key_0": lambda: r.PRNGKey(0),
    "key_neg1": lambda: r.PRNGKey(-1),
    "key_big": lambda: r.PRNGKey(2 ** 40 + 5),
    "split_3": lambda: r.split(r.PRNGKey(42), 3),
    "split_2x2": lambda: r.split(r.PRNGKey(1), (2, 2)),
    "fold_in_7": lambda: r.fold_in(r.PRNGKey(3), 7),
    "fold_in_big": lambda: r.fold_in(r.PRNGKey(3), np.int32(-5)),
    "bits_u64": lambda: r.bits(r.PRNGKey(5), (7,)),
    "bits_u32": lambda: r.bits(r.PRNGKey(5), (2, 3), np.uint32),
    "uniform_f64": lambda: r.uniform(r.PRNGKey(7), (11,)),
    "uniform_f32": lambda: r.uniform(r.PRNGKey(7), (3, 4), np.float32),
    "uniform_range": lambda: r.uniform(r.PRNGKey(8), (5,), minval=-2.0, maxval=3.0),
    "normal_f64": lambda: r.normal(r.PRNGKey(9), (13,)),
    "normal_f32": lambda: r.normal(r.PRNGKey(9), (2, 5), np.float32),
    "exponential": lambda: r.exponential(r.PRNGKey(10), (6,)),
    "laplace": lambda: r.laplace(r.PRNGKey(11), (6,)),
    "logistic": lambda: r.logistic(r.PRNGKey(12), (6,)),
    "gumbel": lambda: r.gumbel(r.PRNGKey(13), (6,)),
    "bernoulli": lambda: r.bernoulli(r.PRNGKey(14), 0.3, (20,)),
    "randint": lambda: r.randint(r.PRNGKey(15), (9,), -3, 17),
    "randint_i32": lambda: r.randint(r.PRNGKey(15), (2, 3), 0, 1000, np.int32),
    "categorical": lambda: r.categorical(r.PRNGKey(16), np.log([0.2, 0.3, 0.5]), shape=(12,)),
    "categorical_batch": lambda: r.categorical(
        r.PRNGKey(16), np.log([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]), axis=-1),
    "permutation_int": lambda: r.permutation(r.PRNGKey(17), 10),
    "permutation_rows": lambda: r.permutation(r.PRNGKey(17), np.arange(12).reshape(4, 3)),
    "choice_replace": lambda: r.choice(r.PRNGKey(18), 7, (5,)),
    "choice_noreplace": lambda: r.choice(r.PRNGKey(18), np.arange(8) * 10, (4,), replace=False),
    "choice_p": lambda: r.choice(r.PRNGKey(18), 5, (6,), p=np.array([.1, .2, .3, .2, .2])),
    "truncated_normal": lambda: r.truncated_normal(r.PRNGKey(19), -1.0, 2.0, (6,)),
    "multivariate_normal": lambda: r.multivariate_normal(
        r.PRNGKey(20), np.array([1.0, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), (3,)),
    "orthogonal": lambda: r.orthogonal(r.PRNGKey(21), 3),
    "exponential_f32": lambda: r.exponential(r.PRNGKey(10), (40,), np.float32),
    "normal_f32_log": lambda: r.normal(r.PRNGKey(9), (64,), np.float32),
    "t_df3": lambda: r.t(r.PRNGKey(22), 3.0, (16,)),
    "t_df_small": lambda: r.t(r.PRNGKey(23), np.array([0.7, 2.5, 30.0])),
    "uniform_range_f32": lambda: r.uniform(r.PRNGKey(8), (5,), np.float32, -2.0, 3.0),
    "laplace_f32": lambda: r.laplace(r.PRNGKey(11), (40,), np.float32),
    "logistic_f32": lambda: r.logistic(r.PRNGKey(12), (40,), np.float32),
    "gumbel_f32": lambda: r.gumbel(r.PRNGKey(13), (40,), np.float32),
    "loggamma": lambda: r.loggamma(r.PRNGKey(24), np.array([0.01, 0.5, 1.0, 3.0])),
    "beta": lambda: r.beta(r.PRNGKey(25), np.array([0.2, 1.0, 3.0]), 2.0, (4, 3)),
    "dirichlet": lambda: r.dirichlet(r.PRNGKey(26), np.array([0.3, 1.0, 2.5, 7.0]), (5,)),
    "truncated_normal_f32": lambda: r.truncated_normal(r.PRNGKey(19), -1.0, 2.0, (40,), np.float32),
    "truncated_normal_bounds": lambda: r.truncated_normal(  # inf bounds, lower > upper
        r.PRNGKey(27), np.array([-np.inf, 0.5, -3.0, 2.0, -1e-3]),
        np.array([1.0, np.inf, -2.5, 1.0, 1e-3]), (6, 5)),
    "multivariate_normal_eigh": lambda: r.multivariate_normal(
        r.PRNGKey(20), np.array([1.0, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), (3,), method="eigh"),
}
# Bit for bit: the draws with XLA's erf, erf_inv, log, log1p and float64 exp reimplemented
# (backend/table_random.py), uniform's bounds with XLA's fused multiply-add, truncated_normal,
# gamma, loggamma, beta, dirichlet and t (float64). multivariate_normal and orthogonal are JAX's bits when
# the LAPACK/BLAS results agree (they do with NumPy's OpenBLAS on x86-64, tested against live
# JAX); another BLAS may sum in another order, so the stored values are compared to ulps.
NOT_BITWISE = set()
LAPACK = {"multivariate_normal", "multivariate_normal_eigh", "orthogonal"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_jax_reference(name):
    got, want = np.asarray(CASES[name]()), REF[name]
    assert got.dtype == want.dtype and got.shape == want.shape
    if name in NOT_BITWISE | LAPACK:
        eps = np.finfo(want.dtype).eps
        np.testing.assert_allclose(got, want, rtol=64 * eps, atol=8 * eps)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["split_3", "fold_in_7", "bits_u64", "bits_u32", "uniform_f64",
                                  "uniform_f32", "normal_f64", "normal_f32", "normal_f32_log",
                                  "exponential", "exponential_f32", "t_df3", "bernoulli", "randint",
                                  "randint_i32", "categorical", "permutation_rows", "choice_noreplace",
                                  "choice_p", "uniform_range", "uniform_range_f32", "laplace",
                                  "logistic_f32", "gumbel_f32", "beta", "dirichlet",
                                  "truncated_normal", "truncated_normal_f32", "truncated_normal_bounds"])
def test_jit_matches_eager_bitwise(name):
    np.testing.assert_array_equal(funcad.jit(CASES[name])(), REF[name])


def test_live_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    k = jax.random.PRNGKey(123)
    for shape in [(), (1,), (5,), (3, 7)]:
        np.testing.assert_array_equal(r.bits(r.key(123), shape), jax.random.bits(k, shape))
        np.testing.assert_array_equal(r.uniform(r.key(123), shape), jax.random.uniform(k, shape))
    np.testing.assert_array_equal(r.split(r.key(123), 7), jax.random.split(k, 7))
    # normals and exponentials bit for bit over 10^5 draws (erf_inv's polynomials, log1p's
    # branches, XLA's float32 log)
    for dtype in (np.float64, np.float32):
        for fn, jfn in ((r.normal, jax.random.normal), (r.exponential, jax.random.exponential)):
            np.testing.assert_array_equal(fn(r.key(5), (100_000,), dtype),
                                          jfn(jax.random.PRNGKey(5), (100_000,), dtype))
    keys = r.split(r.key(6), 3)
    np.testing.assert_array_equal(funcad.jit(funcad.vmap(lambda k: r.normal(k, (4, 5))))(keys),
                                  jax.vmap(lambda k: jax.random.normal(k, (4, 5)))(keys))


def test_live_jax_transformed_draws():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    J, k = jax.random, jax.random.PRNGKey(31)
    # XLA's log, log1p (both dtypes) and uniform's fused multiply-add, over 10^4 draws
    for dtype in (np.float64, np.float32):
        for name in ("laplace", "logistic", "gumbel"):
            np.testing.assert_array_equal(getattr(r, name)(r.key(31), (10_000,), dtype),
                                          getattr(J, name)(k, (10_000,), dtype), err_msg=name)
        np.testing.assert_array_equal(r.uniform(r.key(31), (10_000,), dtype, -3.0, 0.7),
                                      J.uniform(k, (10_000,), dtype, -3.0, 0.7))
    # log-space gamma and XLA's float64 exp: loggamma, beta, dirichlet (k <= 13: XLA sums a
    # longer row in another order), eager, under jit and vmap
    a = np.array([0.02, 0.4, 1.0, 2.5, 9.0])
    np.testing.assert_array_equal(r.loggamma(r.key(31), a, (40, 5)), J.loggamma(k, a, (40, 5)))
    np.testing.assert_array_equal(funcad.jit(lambda kk: r.beta(kk, a, 1.5, (40, 5)))(r.key(31)),
                                  J.beta(k, a, 1.5, (40, 5)))
    np.testing.assert_array_equal(r.dirichlet(r.key(31), a, (60,)), J.dirichlet(k, a, (60,)))
    keys = r.split(r.key(32), 3)
    np.testing.assert_array_equal(funcad.vmap(lambda kk: r.dirichlet(kk, a[:3], (4,)))(keys),
                                  jax.vmap(lambda kk: J.dirichlet(kk, a[:3], (4,)))(keys))
    x = np.linspace(-750.0, 720.0, 20_001)  # XLA's exp itself, over its whole range
    np.testing.assert_array_equal(xla_exp_p.bind(x), jax.numpy.exp(x))
    # truncated_normal: XLA's erf of the bounds (float64 libm's, float32 Eigen's rational form),
    # erf_inv, the open interval; scalar and array bounds, infinite, reversed, eager/jit/vmap
    inf = np.inf
    for dtype in (np.float64, np.float32):
        for lo, hi in ((-1.0, 2.0), (-inf, inf), (0.3, inf), (-9.0, -5.0), (2.0, -1.0),
                       (np.array([-inf, -2.0, 0.0]), np.array([[0.1], [4.0]]))):
            lo, hi = np.asarray(lo, dtype), np.asarray(hi, dtype)
            shape = (500,) + np.broadcast_shapes(lo.shape, hi.shape)
            want = J.truncated_normal(k, lo, hi, shape, dtype)
            np.testing.assert_array_equal(r.truncated_normal(r.key(31), lo, hi, shape, dtype), want)
        np.testing.assert_array_equal(  # (one compile per dtype: the array bounds)
            funcad.jit(lambda kk, a, b: r.truncated_normal(kk, a, b, shape, dtype))(r.key(31), lo, hi), want)
        lows = np.linspace(-3.0, 1.0, 3).astype(dtype)
        np.testing.assert_array_equal(
            funcad.vmap(lambda kk, a: r.truncated_normal(kk, a, 1.5, (50,), dtype))(keys, lows),
            jax.vmap(lambda kk, a: J.truncated_normal(kk, a, 1.5, (50,), dtype))(keys, lows))
    # XLA's erf and erf_inv themselves, 10^5 points each, edges included (flush-to-zero too)
    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, 1.0, -1.0, 3.832506856900711, -3.832506856900711, 8.0, 27.0, inf, -inf,
             1e-300, 5e-324, 1e-40]
    x = np.concatenate([rng.normal(size=50_000) * 2, rng.uniform(-30, 30, 50_000), edges])
    u = np.concatenate([rng.uniform(-1, 1, 90_000), -1 + 10 ** -rng.uniform(0, 15, 10_000),
                        [0.0, 1.0, -1.0, np.nextafter(1.0, 0.0), 1e-320, 1e-40]])
    for dtype in (np.float64, np.float32):
        with np.errstate(over="ignore"):
            xd, ud = x.astype(dtype), u.astype(dtype)
        np.testing.assert_array_equal(xla_erf_p.bind(xd), jax.lax.erf(xd))
        np.testing.assert_array_equal(xla_erf_inv_p.bind(ud), jax.lax.erf_inv(ud))
    cov = np.array([[2.0, 0.6, 0.1], [0.6, 1.0, 0.2], [0.1, 0.2, 0.5]])
    for method in ("cholesky", "eigh", "svd"):
        np.testing.assert_array_equal(r.multivariate_normal(r.key(31), np.ones(3), cov, (50,), method=method),
                                      J.multivariate_normal(k, np.ones(3), cov, (50,), method=method))


def test_large_draws_do_not_depend_on_threads_or_mode():
    from funcad.backend import table_parallel, table_random_ir

    n = 2 * table_random_ir.PARALLEL_MIN_SIZE + 3  # parallel, with a partial last block
    a, lam = np.linspace(0.2, 5.0, 5000), np.linspace(0.5, 40.0, 5000)  # (gamma, poisson: past 4096)

    def draws(k):
        return (r.normal(k, (n,)), r.uniform(k, (n,)), r.bits(k, (n,), np.uint32), r.exponential(k, (n,)),
                r.normal(k, (n,), np.float32), r.gamma(k, a), r.poisson(k, lam))

    f = funcad.jit(draws)
    want = draws(r.key(4))
    before = table_parallel.set_threads(1)
    try:
        serial, serial_eager = f(r.key(4)), draws(r.key(4))
    finally:
        table_parallel.set_threads(before)
    for x, y, z, w in zip(f(r.key(4)), serial, serial_eager, want):
        for v in (x, y, z):
            np.testing.assert_array_equal(v, w)
    # JAX's partitionable counters are the flat indices: a (2, m) draw is the first 2m
    # numbers of a longer draw, reshaped
    np.testing.assert_array_equal(r.normal(r.key(4), (2, n // 2)).ravel(), want[0][:2 * (n // 2)])
    assert r.normal(r.key(4)).shape == ()
    assert funcad.jit(lambda k: r.normal(k))(r.key(4)) == r.normal(r.key(4))


def test_kernels_are_native_and_cached_without_numba(tmp_path):
    # table_random's kernels: compiled once into FUNCAD_CACHE_DIR/table (a second process
    # loads them), called eagerly and by jit's programs natively (no host step), no Numba.
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    script = textwrap.dedent("""
        import sys
        import numpy as np
        import funcad
        from funcad import random as r
        from funcad.backend import table_random
        k = r.key(3)
        f = lambda k: (r.normal(k, (5,)), r.gamma(k, np.array([0.5, 2.0])),
                       r.poisson(k, np.array([3.0, 30.0])))
        eager, jitted = f(k), funcad.jit(f)(k)
        assert all(np.array_equal(x, y) for x, y in zip(eager, jitted))
        print(eager[0].tolist(), table_random.stats["compiled"] > 0, table_random.stats["loaded"] > 0,
              "numba" in sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("FUNCAD_JIT_BACKEND",)}
    root = str(Path(funcad.__file__).parent.parent)
    env.update(FUNCAD_CACHE_DIR=str(tmp_path / "jit"),
               PYTHONPATH=os.pathsep.join([root, env.get("PYTHONPATH", "")]))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    assert all(p.returncode == 0 for p in runs), runs[-1].stderr
    want = str(r.normal(r.key(3), (5,)).tolist())
    assert [p.stdout for p in runs] == [f"{want} True False False\n", f"{want} False True False\n"]
    assert list((tmp_path / "jit" / "table").glob("random-*.o"))


def test_kernels_compile_once_not_per_shape():
    # eager draws and jit's programs call the same kernels, compiled (or loaded) once per
    # process; a new shape, key batch or dtype of the output values costs no kernel compile
    from funcad.backend import table_random

    a = np.array([[0.3, 1.0, 4.5], [2.0, 0.7, 9.0]], np.float32)
    draw = lambda k, a: (r.normal(k, (3, 2)), r.gamma(k, a), r.poisson(k, a * 5.0, dtype=np.uint8),  # noqa: E731
                         r.exponential(k, (4,), np.float32))
    draw(r.key(1), a)
    before = dict(table_random.stats)
    for shape in ((1, 1), (5, 4), (1000, 3)):
        aa = np.resize(a, shape)
        eager, jitted = draw(r.key(2), aa), funcad.jit(draw)(r.key(2), aa)
        for x, y in zip(eager, jitted):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)
    assert table_random.stats == before
    # under jit, draws are native kernels and XLA's exp, erf, erf_inv and fma are fused loops
    # (truncated_normal's, dirichlet's, uniform's bounds): no host step calls back into Python
    f = lambda k, a: (draw(k, a), r.truncated_normal(k, -1.0, 2.0, (3,)), r.split(k, 3),  # noqa: E731
                      r.fold_in(k, 7), r.dirichlet(k, np.array([1.0, 2.0])),
                      r.uniform(k, (2,), minval=1.0, maxval=a[0, :2]))
    source = funcad.jit(f).lower(r.key(2), a).source
    assert "host[" not in source and "funcad_random_poisson_uint8" in source
    for x, y in zip(funcad.tree_util.tree_leaves(funcad.jit(f)(r.key(2), a)),
                    funcad.tree_util.tree_leaves(f(r.key(2), a))):  # (threefry2x32: NumPy's eagerly)
        np.testing.assert_array_equal(x, y)
    assert "host[" in funcad.jit(lambda a: random_gamma_grad(a, a)).lower(a).source  # (what one looks like)
    # float32 shapes: computed in float64 and rounded, as JAX's; a batch of keys under jit
    g32 = funcad.jit(lambda k: r.gamma(k, a, dtype=np.float32))(r.key(5))
    assert g32.dtype == np.float32
    np.testing.assert_array_equal(g32, r.gamma(r.key(5), a.astype(np.float64)).astype(np.float32))
    np.testing.assert_array_equal(r.gamma(r.key(5), a, dtype=np.float32), g32)
    keys = r.split(r.key(6), 3)
    np.testing.assert_array_equal(funcad.jit(funcad.vmap(lambda k: draw(k, a)[1]))(keys),
                                  np.stack([r.gamma(k, a) for k in keys]))
    # empty draws, eagerly and under jit
    for f in (lambda k: r.normal(k, (0, 3)), lambda k: r.poisson(k, np.ones((2, 0))),
              lambda k: r.gamma(k, np.ones(0))):
        assert f(r.key(0)).size == 0 and funcad.jit(f)(r.key(0)).shape == f(r.key(0)).shape


def test_threefry_known_answer():
    # The Random123 known-answer vectors for Threefry-2x32 with 20 rounds (JAX's tests use them).
    y = r.threefry_2x32(0x13198A2E, 0x03707344, 0x243F6A88, 0x85A308D3)
    assert [int(v) for v in y] == [0xC4923A9C, 0x483DF7A0]
    y = r.threefry_2x32(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    assert [int(v) for v in y] == [0x1CB996FC, 0xBB002BE7]
    z = funcad.jit(lambda a: r.threefry_2x32(a[0], a[1], a[2], a[3]))(
        np.array([0x13198A2E, 0x03707344, 0x243F6A88, 0x85A308D3], np.uint32))
    assert [int(v) for v in z] == [0xC4923A9C, 0x483DF7A0]


N = 100_000


@pytest.mark.parametrize("fn, dist", [
    (r.uniform, st.uniform()), (r.normal, st.norm()), (r.exponential, st.expon()),
    (r.laplace, st.laplace()), (r.logistic, st.logistic()), (r.gumbel, st.gumbel_r()),
    (lambda k, s: r.gamma(k, 0.3, s), st.gamma(0.3)), (lambda k, s: r.gamma(k, 4.5, s), st.gamma(4.5)),
    (lambda k, s: r.beta(k, 0.5, 2.0, s), st.beta(0.5, 2.0)), (lambda k, s: r.t(k, 3.0, s), st.t(3.0)),
])
def test_kolmogorov_smirnov(fn, dist):
    x = funcad.jit(lambda k: fn(k, (N,)))(r.key(2024))
    assert st.kstest(x, dist.cdf).pvalue > 1e-3
    np.testing.assert_allclose(x.mean(), dist.mean(), atol=5 * dist.std() / np.sqrt(N))


def test_bernoulli_frequency():
    x = r.bernoulli(r.key(1), 0.3, (N,))
    assert x.dtype == bool and abs(x.mean() - 0.3) < 5 * np.sqrt(0.21 / N)


def test_keys_differ_and_split_is_independent():
    k1, k2 = r.split(r.key(0))
    a, b = r.normal(k1, (1000,)), r.normal(k2, (1000,))
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15
    assert not np.array_equal(r.fold_in(r.key(0), 1), r.fold_in(r.key(0), 2))


def test_vmap_over_keys_matches_loop():
    keys = r.split(r.key(7), 5)
    got = funcad.vmap(lambda k: r.normal(k, (3,)))(keys)
    np.testing.assert_array_equal(got, np.stack([r.normal(k, (3,)) for k in keys]))
    got = funcad.jit(funcad.vmap(lambda k: r.uniform(k, (2, 2))))(keys)
    np.testing.assert_array_equal(got, np.stack([r.uniform(k, (2, 2)) for k in keys]))
    np.testing.assert_array_equal(funcad.vmap(r.split)(keys), np.stack([r.split(k) for k in keys]))
    data = np.arange(5, dtype=np.int32)
    np.testing.assert_array_equal(funcad.vmap(r.fold_in)(keys, data),
                                  np.stack([r.fold_in(k, int(d)) for k, d in zip(keys, data)]))


def test_scan_and_while_loop():
    def step(k, _):
        k, sub = r.split(k)
        return k, r.normal(sub)

    def loop(k):
        out = []
        for _ in range(4):
            k, x = step(k, None)
            out.append(x)
        return np.array(out)

    _, xs = lax.scan(step, r.key(3), None, length=4)
    np.testing.assert_array_equal(xs, loop(r.key(3)))
    _, xs = funcad.jit(lambda k: lax.scan(step, k, None, length=4))(r.key(3))
    np.testing.assert_array_equal(xs, loop(r.key(3)))

    def body(c):
        k, n, total = c
        k, sub = r.split(k)
        return k, n + 1, total + r.uniform(sub)

    _, n, total = funcad.jit(lambda k: lax.while_loop(lambda c: c[1] < 10, body, (k, 0, 0.0)))(r.key(4))
    k, want = r.key(4), 0.0
    for _ in range(10):
        k, sub = r.split(k)
        want = want + r.uniform(sub)
    assert n == 10 and total == want


def test_reparameterised_gradients():
    k = r.key(11)
    eps = r.normal(k, (4,))

    def f(mu, sigma):
        return funcad.numpy.sum(funcad.numpy.sin(mu + sigma * r.normal(k, (4,))))

    check_grads(f, (0.3, 1.7), order=2)
    g = funcad.grad(f, argnums=(0, 1))(0.3, 1.7)
    np.testing.assert_allclose(g[0], np.sum(np.cos(0.3 + 1.7 * eps)))
    np.testing.assert_allclose(g[1], np.sum(np.cos(0.3 + 1.7 * eps) * eps))
    gj = funcad.jit(funcad.grad(f, argnums=(0, 1)))(0.3, 1.7)
    np.testing.assert_allclose(gj, g)
    # uniform's bounds are differentiable too
    check_grads(lambda a, b: funcad.numpy.sum(r.uniform(k, (3,), minval=a, maxval=b)), (-1.0, 2.0), order=1)


def test_bad_inputs():
    with pytest.raises(ArgumentError, match="key must be a uint32 array"):
        r.normal(np.array([1.0, 2.0]), (3,))
    with pytest.raises(ArgumentError, match="single key"):
        r.normal(r.split(r.key(0)), (3,))
    with pytest.raises(DTypeError, match="float32 or float64"):
        r.uniform(r.key(0), (2,), np.int32)
    with pytest.raises(ArgumentError, match="seed must be an integer"):
        r.key(1.5)
    with pytest.raises(ArgumentError, match=r"shape \(3,\) and df's shape \(4,\) do not broadcast"):
        r.t(r.key(0), np.ones(4), (3,))
    assert r.t(r.key(0), np.ones(4), (2, 4)).shape == (2, 4)


def test_fnp_random_points_to_funcad_random():
    from funcad.errors import UnsupportedFunctionError

    with pytest.raises(UnsupportedFunctionError, match="use funcad.random"):
        funcad.numpy.random.normal(size=3)


def test_discrete_distributions_statistics():
    k = r.key(99)
    x = funcad.jit(lambda k: r.randint(k, (N,), -2, 5))(k)
    assert x.min() == -2 and x.max() == 4
    assert st.chisquare(np.bincount(x + 2)).pvalue > 1e-3
    p = np.array([0.1, 0.2, 0.3, 0.4])
    c = funcad.jit(lambda k: r.categorical(k, np.log(p), shape=(N,)))(k)
    assert st.chisquare(np.bincount(c, minlength=4), N * p).pvalue > 1e-3
    c = r.choice(k, 4, (N,), p=p)
    assert st.chisquare(np.bincount(c, minlength=4), N * p).pvalue > 1e-3
    # permutations: each position uniform over the values
    perms = funcad.vmap(lambda k: r.permutation(k, 5))(r.split(k, 5000))
    assert all(sorted(q) == list(range(5)) for q in perms[:50])
    assert st.chisquare(np.bincount(perms[:, 0], minlength=5)).pvalue > 1e-3
    c = r.choice(k, 10, (7,), replace=False)
    assert len(set(c.tolist())) == 7


def test_continuous_distributions_statistics():
    k = r.key(5)
    x = funcad.jit(lambda k: r.truncated_normal(k, -1.0, 2.0, (N,)))(k)
    assert x.min() > -1 and x.max() < 2
    assert st.kstest(x, st.truncnorm(-1.0, 2.0).cdf).pvalue > 1e-3
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    y = r.multivariate_normal(k, np.array([1.0, -1.0]), cov, (N,))
    np.testing.assert_allclose(y.mean(0), [1.0, -1.0], atol=0.02)
    np.testing.assert_allclose(np.cov(y.T), cov, atol=0.03)
    for method in ("eigh", "svd"):
        z = r.multivariate_normal(k, np.zeros(2), cov, (N,), method=method)
        np.testing.assert_allclose(np.cov(z.T), cov, atol=0.03)
    q = r.orthogonal(k, 4, (200,))
    np.testing.assert_allclose(np.einsum("bij,bkj->bik", q, q), np.broadcast_to(np.eye(4), (200, 4, 4)),
                               atol=1e-12)
    # Haar: the (0, 0) entry of a random 4x4 orthogonal matrix has density ~ (1 - x^2)^(1/2),
    # i.e. (x + 1) / 2 ~ Beta(3/2, 3/2)
    assert st.kstest((q[:, 0, 0] + 1) / 2, st.beta(1.5, 1.5).cdf).pvalue > 1e-3


def test_gamma_family():
    k = r.key(8)
    d = funcad.jit(lambda k: r.dirichlet(k, np.array([1.0, 2.0, 3.0]), (N,)))(k)
    np.testing.assert_allclose(d.sum(-1), 1.0)
    np.testing.assert_allclose(d.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.005)
    assert st.kstest(d[:, 0], st.beta(1.0, 5.0).cdf).pvalue > 1e-3  # marginal Beta(a_i, sum - a_i)
    # poisson's statistics (chi-square at lam 0.7, 4, 50, 1e4): tests/test_random_poisson.py
    # vmap over keys and parameters matches a loop
    keys, a = r.split(k, 4), np.array([0.5, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(funcad.vmap(lambda k, a: r.gamma(k, a, (3,)))(keys, a),
                                  np.stack([r.gamma(kk, aa, (3,)) for kk, aa in zip(keys, a)]))
    # a scale parameter differentiates
    check_grads(lambda s: funcad.numpy.sum(s * r.gamma(k, 2.0, (3,))), (1.5,), order=1)


def test_gamma_family_differentiates_in_shape_parameters():
    import scipy.special as sc

    from funcad.lax.random import random_gamma_grad

    # Implicit reparameterisation: dx/da at a fixed CDF value u, against finite differences of
    # the inverse CDF (SciPy's gammaincinv), from deep in the left tail to the right tail
    a = np.array([0.05, 0.3, 1.0, 1.0, 2.5, 4.5, 10.0, 100.0, 1000.0, 0.3, 4.5, 50.0])
    u = np.array([0.5, 0.2, 0.63, 0.999, 0.9, 0.1, 0.5, 0.7, 0.3, 1e-6, 0.9999999, 1e-5])
    x, h = sc.gammaincinv(a, u), 1e-6 * a
    fd = (sc.gammaincinv(a + h, u) - sc.gammaincinv(a - h, u)) / (2 * h)
    np.testing.assert_allclose(random_gamma_grad(a, x), fd, rtol=1e-8)
    # a sample's derivative is random_gamma_grad at the sample, eagerly, under jit and vmap
    k = r.key(12)
    f = lambda a: funcad.numpy.sum(r.gamma(k, a, (5,)))  # noqa: E731
    np.testing.assert_allclose(funcad.grad(f)(2.0), np.sum(random_gamma_grad(2.0, r.gamma(k, 2.0, (5,)))),
                               rtol=1e-14)
    np.testing.assert_allclose(funcad.jit(funcad.grad(f))(2.0), funcad.grad(f)(2.0), rtol=1e-14)
    keys, a = r.split(k, 3), np.array([0.5, 2.0, 9.0])
    gv = funcad.vmap(funcad.grad(lambda k, a: funcad.numpy.sum(r.gamma(k, a, (2,))), argnums=1))(keys, a)
    np.testing.assert_allclose(gv, [funcad.grad(lambda a: funcad.numpy.sum(r.gamma(kk, a, (2,))))(aa)
                                    for kk, aa in zip(keys, a)], rtol=1e-14)
    # the pathwise estimators are unbiased: d E[x] / d theta from 20,000 draws
    n = 20_000
    d = funcad.grad(lambda a: funcad.numpy.mean(r.gamma(k, a, (n,))))(3.0)
    assert abs(d - 1.0) < 0.03  # E = a
    ga, gb = funcad.grad(lambda a, b: funcad.numpy.mean(r.beta(k, a, b, (n,))), argnums=(0, 1))(2.0, 3.0)
    np.testing.assert_allclose([ga, gb], [3 / 25, -2 / 25], atol=0.01)  # E = a / (a + b)
    gd = funcad.grad(lambda al: funcad.numpy.mean(r.dirichlet(k, al, (n,))[:, 0]))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(gd, [5 / 36, -1 / 36, -1 / 36], atol=0.01)  # E_0 = a_0 / sum(a)


def test_gamma_and_its_gradient_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from funcad.lax.random import random_gamma_grad

    # JAX's Marsaglia-Tsang sampler, bit for bit (the boosted a < 1 branch too), under jit and vmap
    for alpha in (0.05, 0.7, 1.0, 3.5, 250.0):
        want = jax.random.gamma(jax.random.PRNGKey(3), alpha, (500,))
        np.testing.assert_array_equal(r.gamma(r.key(3), alpha, (500,)), want)
    a = np.array([[0.5, 2.0, 9.0], [1.5, 0.2, 30.0]])
    np.testing.assert_array_equal(funcad.jit(lambda k: r.gamma(k, a))(r.key(4)),
                                  jax.random.gamma(jax.random.PRNGKey(4), a))
    keys = r.split(r.key(5), 4)
    np.testing.assert_array_equal(funcad.vmap(lambda k: r.gamma(k, 1.3, (6,)))(keys),
                                  jax.vmap(lambda k: jax.random.gamma(k, 1.3, (6,)))(keys))
    g = jax.grad(lambda a: jax.random.gamma(jax.random.PRNGKey(3), a, (7,)).sum())(2.5)
    np.testing.assert_allclose(funcad.grad(lambda a: funcad.numpy.sum(r.gamma(r.key(3), a, (7,))))(2.5), g,
                               rtol=1e-6)

    a = np.array([0.05, 0.3, 1.0, 1.0, 2.5, 4.5, 10.0, 100.0, 0.3, 4.5])
    x = np.array([1e-6, 3e-3, 0.99, 6.9, 4.6, 2.1, 9.7, 105.0, 1e-20, 25.0])
    np.testing.assert_allclose(random_gamma_grad(a, x), jax.lax.random_gamma_grad(a, x), rtol=1e-6)


def test_np_random_under_jit_warns_once():
    def f(x):
        return x + np.random.normal()

    g = funcad.jit(f)
    with pytest.warns(UserWarning, match="drew from numpy.random while being traced"):
        a = g(1.0)
    assert g(1.0) == a  # the sharp bit itself: frozen at trace time
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        funcad.jit(lambda x: x + r.normal(r.key(0)))(1.0)  # funcad.random: no warning
        g(np.ones(2))  # a retrace of the same function: warned once already



def test_np_random_under_jit_warns_for_each_wrapped_function():
    # jit(grad(f)) with autograd's grad: the warning names f's place, not the wrapper's; it
    # once keyed on the wrapper's place, so a second wrapped function drawing went unwarned
    import warnings

    from funcad.autograd import grad

    def f(x):
        return funcad.numpy.sum(x * np.random.rand(2))

    def h(x):
        return funcad.numpy.sum(x ** 2 * np.random.rand(2))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        funcad.jit(grad(f))(np.ones(2))
        funcad.jit(grad(h))(np.ones(2))
    messages = [str(w.message) for w in caught if "drew from numpy.random" in str(w.message)]
    assert len(messages) == 2
    assert "jit(f)" in messages[0] and "jit(h)" in messages[1]
    assert all(__file__ in m for m in messages)

def test_bbvi_example_reaches_the_exact_posterior():
    import runpy
    from pathlib import Path

    ex = runpy.run_path(str(Path(__file__).resolve().parent.parent / "examples" / "bbvi_random.py"))
    mu, log_sigma = ex["fit"]()
    np.testing.assert_allclose(mu, ex["exact_mean"], atol=0.01)
    np.testing.assert_allclose(np.exp(log_sigma), ex["mean_field_sd"], rtol=0.1)


def test_truncated_normal_bounds_and_gradient():
    # in the open interval even for reversed or nearly equal bounds; differentiable in the
    # bounds through erf, uniform's bounds and erf_inv (finite differences)
    k = r.key(3)
    x = r.truncated_normal(k, np.array([-1.0, 0.5, 1.0]), np.array([1.0, 0.5 + 1e-12, 4.0]), (200, 3))
    assert np.all(x > [-1.0, 0.5, 1.0]) and np.all(x < [1.0, 0.5 + 1e-12, 4.0])
    y = funcad.jit(lambda a, b: r.truncated_normal(k, a, b, (7,), np.float32))(
        np.float32(2.0), np.float32(-1.0))
    assert y.dtype == np.float32 and np.all(y == np.nextafter(np.float32(-1.0), np.float32(-np.inf)))
    check_grads(lambda a, b: r.truncated_normal(k, a, b, (4,)), (-0.7, 1.3), order=2)


def test_randint_over_the_whole_int32_range_is_quiet_and_jax_exact():
    # the span's square wraps in uint32 (as in JAX): no NumPy overflow warning, eagerly or jitted
    lo, hi = -2 ** 31, 2 ** 31 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = r.randint(r.PRNGKey(5), (4000,), lo, hi, np.int32)
        y = funcad.jit(lambda k: r.randint(k, (4000,), lo, hi, np.int32))(r.PRNGKey(5))
    np.testing.assert_array_equal(x, y)
    assert x.dtype == np.int32 and lo <= x.min() < -2 ** 30 and 2 ** 30 < x.max() < hi
    try:
        import jax
    except ImportError:
        return
    jax.config.update("jax_enable_x64", True)
    np.testing.assert_array_equal(x, jax.random.randint(jax.random.PRNGKey(5), (4000,), lo, hi, np.int32))
