"""The gradient of a loss through ``rfft`` of 2^20 points: funcad.jit vs jax.jit vs PyTorch, in one run.

    loss(x) = sum(irfft(rfft(x) * h, n) ** 2) + sum(w * |rfft(x)|^2)

(a filter applied in Fourier space, and a weighted power spectrum), float64 throughout
(JAX_ENABLE_X64=1). The gradient takes two forward transforms and three transposed ones. Each
library computes ``grad(loss)`` compiled where it compiles (funcad.jit, jax.jit; PyTorch's
autograd runs eagerly, its FFTs are pocketfft too). Prints the first call (compile + run) and
the best of ``--repeats`` later calls, wall and CPU time (all threads: JAX's and PyTorch's
use several), and the ratios to funcad. Run with
/work/venv-bench's python (it has jax and torch):

    PYTHONPATH=$PWD /work/venv-bench/bin/python -m benchmarks.fft_grad [--n 1048576] [--repeats 7]

``FUNCAD_MALLOC_TUNING=1`` in the environment (funcad/_malloc.py) keeps freed memory for reuse:
funcad's per-call time then drops by the page faults of its fresh 8 MB temporaries (docs/fft.md).
"""

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

import funcad as fa  # noqa: E402
import funcad.numpy as fnp  # noqa: E402


def problem(n, seed=0):
    rng = np.random.default_rng(seed)
    k = np.arange(n // 2 + 1)
    h = np.exp(-(k / (0.1 * n)) ** 2) * (1 + 0.5j)
    w = rng.random(n // 2 + 1) / n
    return rng.standard_normal(n), h, w


def timed(fn, repeats):
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return first, min(wall), min(cpu), out


def funcad_grad(x, h, w):
    n = x.shape[0]

    def loss(x):
        s = fnp.fft.rfft(x)
        return fnp.sum(fnp.fft.irfft(s * h, n) ** 2) + fnp.sum(w * fnp.abs(s) ** 2)

    return fa.jit(fa.grad(loss))


def jax_grad(x, h, w):
    import jax
    import jax.numpy as jnp

    n = x.shape[0]

    def loss(x):
        s = jnp.fft.rfft(x)
        return jnp.sum(jnp.fft.irfft(s * h, n) ** 2) + jnp.sum(w * jnp.abs(s) ** 2)

    g = jax.jit(jax.grad(loss))
    return lambda x: g(x).block_until_ready()


def torch_grad(x, h, w):
    import torch

    n = x.shape[0]
    ht, wt = torch.from_numpy(h), torch.from_numpy(w)

    def grad(x):
        xt = torch.from_numpy(x).requires_grad_(True)
        s = torch.fft.rfft(xt)
        loss = torch.sum(torch.fft.irfft(s * ht, n) ** 2) + torch.sum(wt * s.abs() ** 2)
        (g,) = torch.autograd.grad(loss, xt)
        return g.numpy()

    return grad


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2 ** 20)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    x, h, w = problem(args.n)
    rows, ref = [], None
    for name, make in (("funcad.jit(grad)", funcad_grad), ("jax.jit(jax.grad)", jax_grad),
                       ("torch autograd", torch_grad)):
        try:
            fn = make(x, h, w)
        except ImportError as e:
            print(f"{name}: not installed ({e})")
            continue
        first, per_call, cpu, g = timed(lambda fn=fn: fn(x), args.repeats)
        g = np.asarray(g)
        if ref is None:
            ref = g
        err = np.max(np.abs(g - ref)) / np.max(np.abs(ref))
        rows.append((name, first, per_call, cpu, err))
    base = rows[0][2]
    print(f"grad of a loss through rfft, n = {args.n} (float64), {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'':20s} {'first call':>11s} {'per call':>10s} {'vs funcad':>10s} {'cpu/call':>10s} "
          f"{'vs funcad':>10s} {'max rel diff':>13s}")
    for name, first, per_call, cpu, err in rows:
        print(f"{name:20s} {first * 1e3:9.1f}ms {per_call * 1e3:8.2f}ms {per_call / base:9.2f}x "
              f"{cpu * 1e3:8.2f}ms {cpu / rows[0][3]:9.2f}x {err:13.1e}")


if __name__ == "__main__":
    main()
