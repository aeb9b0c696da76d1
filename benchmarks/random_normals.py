"""Drawing 10^7 standard normals: funcad.random under jit vs numpy.random.Generator.normal vs
jax.random.normal under jax.jit (run with /work/venv-bench's python for JAX; JAX_ENABLE_X64=1
so that all three draw float64). Prints best-of-5 wall times after a warm-up call."""

import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

import funcad  # noqa: E402
from funcad import random  # noqa: E402

N = 10 ** 7


def best(fn, reps=5):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    rows = []
    f = funcad.jit(lambda k: random.normal(k, (N,)))
    rows.append(("funcad.random.normal, jit", best(lambda: f(random.key(1)))))
    g = np.random.default_rng(0)
    rows.append(("numpy Generator.normal", best(lambda: g.normal(size=N))))
    try:
        import jax

        jf = jax.jit(lambda k: jax.random.normal(k, (N,)))
        k = jax.random.PRNGKey(1)
        rows.append(("jax.random.normal, jax.jit", best(lambda: jf(k).block_until_ready())))
    except ImportError:
        pass
    base = rows[1][1]
    for name, t in rows:
        print(f"{name:32s} {t * 1e3:9.1f} ms   {t / base:5.2f}x numpy")


if __name__ == "__main__":
    main()
