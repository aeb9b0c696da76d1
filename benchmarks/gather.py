"""Advanced indexing per call: funcad.jit with gathers/scatter-adds as native table kernels
(backend/table_index.py) vs as host steps (NumPy's x[idx] and np.add.at called back from the
table, as before) vs jax.jit, in one run, float64 (JAX_ENABLE_X64=1):

* ``xent_grad``: the gradient of a softmax cross-entropy of a (256, 10) batch, integer labels
  (``logp[arange(n), labels]``: a gather; its gradient a scatter-add);
* ``embed``: an embedding lookup ``W[tokens]``, vocab 1000, dim 64, 512 tokens;
* ``embed_grad``: the gradient of ``sum(tanh(W[tokens]) * V)`` for W (a scatter-add of 512 rows).

Prints the best of ``--repeats`` calls, wall and CPU time. Run with /work/venv-bench's python
(it has jax): ``PYTHONPATH=$PWD /work/venv-bench/bin/python -m benchmarks.gather``.
"""

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

import funcad as fa  # noqa: E402
import funcad.numpy as fnp  # noqa: E402


def problems(seed=0):
    rng = np.random.default_rng(seed)
    z, y = rng.standard_normal((256, 10)), rng.integers(0, 10, 256)
    W, t, V = rng.standard_normal((1000, 64)), rng.integers(0, 1000, 512), rng.standard_normal((512, 64))
    return {"xent_grad": (z, y), "embed": (W, t), "embed_grad": (W, t, V)}


def programs(np_, grad, logsumexp):
    def xent(z, y):
        logp = z - logsumexp(z, axis=1, keepdims=True)
        return -np_.mean(logp[np_.arange(z.shape[0]), y])

    return {"xent_grad": grad(xent), "embed": lambda W, t: W[t],
            "embed_grad": grad(lambda W, t, V: np_.sum(np_.tanh(W[t]) * V))}


def best(fn, args, repeats):
    fn(*args)
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(100):
            fn(*args)
        wall.append((time.perf_counter() - t) / 100)
        cpu.append((time.process_time() - c) / 100)
    return min(wall), min(cpu)


def funcad_fns(native: bool):
    from funcad.backend import dispatch, table, table_index
    from funcad.lax.shapes import index_add_p, index_p

    rules = (table_index.index, table_index.index_add) if native else \
        (table_index._view_index, table_index._view_index_add)  # (advanced ones: host steps)
    table.SINGLE[index_p], table.SINGLE[index_add_p] = rules
    dispatch._executables.clear()
    return {k: fa.jit(f) for k, f in programs(fnp, fa.grad, fa.scipy.special.logsumexp).items()}


def jax_fns():
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    fns = programs(jnp, jax.grad, logsumexp)
    return {k: (lambda g: lambda *a: jax.block_until_ready(g(*a)))(jax.jit(f)) for k, f in fns.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    data = problems()
    rows = {}
    runs = (("funcad host steps", lambda: funcad_fns(False)), ("funcad native", lambda: funcad_fns(True)),
            ("jax.jit", jax_fns))
    for name, fns in runs:
        fns = fns()
        for k, f in fns.items():
            rows.setdefault(k, {})[name] = best(f, data[k], args.repeats)
        got = {k: np.asarray(fns[k](*data[k])) for k in fns}
        rows.setdefault("_values", []).append(got)
    ref, *others = rows.pop("_values")
    for o in others:
        for k in ref:
            np.testing.assert_allclose(o[k], ref[k], rtol=1e-12, atol=1e-12)
    print(f"{'program':<12}" + "".join(f"{n:>26}" for n in next(iter(rows.values()))))
    for k, r in rows.items():
        print(f"{k:<12}" + "".join(f"{w * 1e6:>11.1f} us ({c * 1e6:>6.1f} CPU)" for w, c in r.values()))


if __name__ == "__main__":
    main()
