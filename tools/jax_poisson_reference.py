"""Regenerate tests/data/jax_poisson_reference.npz: jax.random.poisson's numbers (run with
/work/venv-bench's python, JAX_ENABLE_X64=1; JAX's default jax_threefry_partitionable=True).
tests/test_random_poisson.py holds the funcad counterpart of each case."""

import os

os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

K = jax.random.PRNGKey
LAMS = (0.0, 1e-3, 0.5, 3.0, 9.99, 10.0, 10.01, 50.0, 1e4)
MIXED = np.concatenate([np.linspace(0.0, 20.0, 41), np.geomspace(1e-3, 1e6, 19)])  # 60 rates
EDGES = np.array([0.0, -1.0, np.nan, np.inf, -np.inf, 3.0, 20.0, 200.0, 3e9, 1e30])

CASES = {f"lam_{lam}_key{s}": (lambda lam=lam, s=s: jax.random.poisson(K(s), lam, (100,)))
         for s in range(3) for lam in LAMS}
CASES.update({
    "knuth_f32_i32": lambda: jax.random.poisson(K(3), np.float32(4.5), (50,), jnp.int32),
    "rejection_f32_i32": lambda: jax.random.poisson(K(3), np.float32(37.25), (50,), jnp.int32),
    "mixed": lambda: jax.random.poisson(K(4), MIXED),
    "mixed_2d": lambda: jax.random.poisson(K(4), MIXED.reshape(6, 10)),
    "broadcast": lambda: jax.random.poisson(K(5), np.array([0.5, 12.0, 300.0]), (20, 3)),
    "scalar": lambda: jax.random.poisson(K(10), 25.0),
    "edges_i64": lambda: jax.random.poisson(K(6), EDGES),
    "edges_i8": lambda: jax.random.poisson(K(6), EDGES, dtype=jnp.int8),
    "edges_u8": lambda: jax.random.poisson(K(6), EDGES, dtype=jnp.uint8),
    "edges_i32": lambda: jax.random.poisson(K(6), EDGES, dtype=jnp.int32),
    "edges_u64": lambda: jax.random.poisson(K(6), EDGES, dtype=jnp.uint64),
    "vmap_keys": lambda: jax.vmap(lambda k: jax.random.poisson(k, np.array([2.0, 15.0, 80.0]), (5, 3)))(
        jax.random.split(K(8), 4)),
    "vmap_lam": lambda: jax.vmap(lambda lam: jax.random.poisson(K(9), lam, (8,)))(
        jnp.array([0.3, 9.5, 10.5, 70.0, 2e3])),
})

if __name__ == "__main__":
    assert jax.config.jax_threefry_partitionable
    out = {k: np.asarray(f()) for k, f in CASES.items()}
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jax_poisson_reference.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} (jax {jax.__version__})")
