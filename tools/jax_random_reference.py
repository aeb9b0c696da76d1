"""Regenerate tests/data/jax_random_reference.npz from JAX (run with /work/venv-bench's python,
JAX_ENABLE_X64=1; JAX's default jax_threefry_partitionable=True)."""

import os

os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import numpy as np  # noqa: E402

K = jax.random.PRNGKey

CASES = {
    "key_0": lambda: K(0),
    "key_neg1": lambda: K(-1),
    "key_big": lambda: K(2 ** 40 + 5),
    "split_3": lambda: jax.random.split(K(42), 3),
    "split_2x2": lambda: jax.random.split(K(1), (2, 2)),
    "fold_in_7": lambda: jax.random.fold_in(K(3), 7),
    "fold_in_big": lambda: jax.random.fold_in(K(3), np.int32(-5)),
    "bits_u64": lambda: jax.random.bits(K(5), (7,)),
    "bits_u32": lambda: jax.random.bits(K(5), (2, 3), np.uint32),
    "uniform_f64": lambda: jax.random.uniform(K(7), (11,)),
    "uniform_f32": lambda: jax.random.uniform(K(7), (3, 4), np.float32),
    "uniform_range": lambda: jax.random.uniform(K(8), (5,), minval=-2.0, maxval=3.0),
    "normal_f64": lambda: jax.random.normal(K(9), (13,)),
    "normal_f32": lambda: jax.random.normal(K(9), (2, 5), np.float32),
    "exponential": lambda: jax.random.exponential(K(10), (6,)),
    "laplace": lambda: jax.random.laplace(K(11), (6,)),
    "logistic": lambda: jax.random.logistic(K(12), (6,)),
    "gumbel": lambda: jax.random.gumbel(K(13), (6,)),
    "bernoulli": lambda: jax.random.bernoulli(K(14), 0.3, (20,)),
    "randint": lambda: jax.random.randint(K(15), (9,), -3, 17),
    "randint_i32": lambda: jax.random.randint(K(15), (2, 3), 0, 1000, np.int32),
    "categorical": lambda: jax.random.categorical(K(16), np.log([0.2, 0.3, 0.5]), shape=(12,)),
    "categorical_batch": lambda: jax.random.categorical(
        K(16), np.log([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]), axis=-1),
    "permutation_int": lambda: jax.random.permutation(K(17), 10),
    "permutation_rows": lambda: jax.random.permutation(K(17), np.arange(12).reshape(4, 3)),
    "choice_replace": lambda: jax.random.choice(K(18), 7, (5,)),
    "choice_noreplace": lambda: jax.random.choice(K(18), np.arange(8) * 10, (4,), replace=False),
    "choice_p": lambda: jax.random.choice(K(18), 5, (6,), p=np.array([.1, .2, .3, .2, .2])),
    "truncated_normal": lambda: jax.random.truncated_normal(K(19), -1.0, 2.0, (6,)),
    "multivariate_normal": lambda: jax.random.multivariate_normal(
        K(20), np.array([1.0, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), (3,)),
    "orthogonal": lambda: jax.random.orthogonal(K(21), 3),
    "exponential_f32": lambda: jax.random.exponential(K(10), (40,), np.float32),
    "normal_f32_log": lambda: jax.random.normal(K(9), (64,), np.float32),
    "t_df3": lambda: jax.random.t(K(22), 3.0, (16,)),
    "t_df_small": lambda: jax.random.t(K(23), np.array([0.7, 2.5, 30.0])),
    "uniform_range_f32": lambda: jax.random.uniform(K(8), (5,), np.float32, -2.0, 3.0),
    "laplace_f32": lambda: jax.random.laplace(K(11), (40,), np.float32),
    "logistic_f32": lambda: jax.random.logistic(K(12), (40,), np.float32),
    "gumbel_f32": lambda: jax.random.gumbel(K(13), (40,), np.float32),
    "loggamma": lambda: jax.random.loggamma(K(24), np.array([0.01, 0.5, 1.0, 3.0])),
    "beta": lambda: jax.random.beta(K(25), np.array([0.2, 1.0, 3.0]), 2.0, (4, 3)),
    "dirichlet": lambda: jax.random.dirichlet(K(26), np.array([0.3, 1.0, 2.5, 7.0]), (5,)),
    "truncated_normal_f32": lambda: jax.random.truncated_normal(K(19), -1.0, 2.0, (40,), np.float32),
    "truncated_normal_bounds": lambda: jax.random.truncated_normal(  # inf bounds, lower > upper
        K(27), np.array([-np.inf, 0.5, -3.0, 2.0, -1e-3]),
        np.array([1.0, np.inf, -2.5, 1.0, 1e-3]), (6, 5)),
    "multivariate_normal_eigh": lambda: jax.random.multivariate_normal(
        K(20), np.array([1.0, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), (3,), method="eigh"),
}

if __name__ == "__main__":
    assert jax.config.jax_threefry_partitionable
    out = {k: np.asarray(f()) for k, f in CASES.items()}
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jax_random_reference.npz")
    np.savez(path, **out)
    print(f"wrote {len(out)} arrays to {path} (jax {jax.__version__})")
