"""Regenerate tests/data/jax_random_reference.npz from JAX (run with /work/venv-bench's python,
JAX_ENABLE_X64=1; JAX's default jax_threefry_partitionable=True)."""

import os

os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import numpy as np  # noqa: E402

CASES = {
    "key_0": lambda: jax.random.PRNGKey(0),
    "key_neg1": lambda: jax.random.PRNGKey(-1),
    "key_big": lambda: jax.random.PRNGKey(2 ** 40 + 5),
    "split_3": lambda: jax.random.split(jax.random.PRNGKey(42), 3),
    "split_2x2": lambda: jax.random.split(jax.random.PRNGKey(1), (2, 2)),
    "fold_in_7": lambda: jax.random.fold_in(jax.random.PRNGKey(3), 7),
    "fold_in_big": lambda: jax.random.fold_in(jax.random.PRNGKey(3), np.int32(-5)),
    "bits_u64": lambda: jax.random.bits(jax.random.PRNGKey(5), (7,)),
    "bits_u32": lambda: jax.random.bits(jax.random.PRNGKey(5), (2, 3), np.uint32),
    "uniform_f64": lambda: jax.random.uniform(jax.random.PRNGKey(7), (11,)),
    "uniform_f32": lambda: jax.random.uniform(jax.random.PRNGKey(7), (3, 4), np.float32),
    "uniform_range": lambda: jax.random.uniform(jax.random.PRNGKey(8), (5,), minval=-2.0, maxval=3.0),
    "normal_f64": lambda: jax.random.normal(jax.random.PRNGKey(9), (13,)),
    "normal_f32": lambda: jax.random.normal(jax.random.PRNGKey(9), (2, 5), np.float32),
    "exponential": lambda: jax.random.exponential(jax.random.PRNGKey(10), (6,)),
    "laplace": lambda: jax.random.laplace(jax.random.PRNGKey(11), (6,)),
    "logistic": lambda: jax.random.logistic(jax.random.PRNGKey(12), (6,)),
    "gumbel": lambda: jax.random.gumbel(jax.random.PRNGKey(13), (6,)),
    "bernoulli": lambda: jax.random.bernoulli(jax.random.PRNGKey(14), 0.3, (20,)),
}

if __name__ == "__main__":
    assert jax.config.jax_threefry_partitionable
    out = {k: np.asarray(f()) for k, f in CASES.items()}
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jax_random_reference.npz")
    np.savez(path, **out)
    print(f"wrote {len(out)} arrays to {path} (jax {jax.__version__})")
