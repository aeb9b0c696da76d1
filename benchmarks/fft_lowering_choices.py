"""How a jitted program should compute an FFT (docs/fft.md, "Under jit"): measured side by side.

* pocketfft's gufunc loop called from Numba (backend/pocketfft.py: what funcad does);
* numpy.fft called from Numba through ``numba.objmode`` (leaving compiled code per call);
* a plain iterative radix-2 FFT written in Numba (the "own FFT" option; power-of-two only);
* numpy.fft itself, from Python.

Complex transforms of 2^20 points and small ones (64 points, where the per-call cost shows),
best of ``--repeats``, wall and CPU time (the machine may be loaded: compare within a run).

    PYTHONPATH=$PWD python -m benchmarks.fft_lowering_choices
"""

import argparse
import time

import numba
import numpy as np

from funcad.backend import pocketfft as pf


@numba.njit(cache=False)
def radix2_fft(x):
    """Iterative Cooley-Tukey, bit reversal then butterflies; len(x) a power of two."""
    n = x.shape[0]
    a = x.copy()
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j ^= bit
        if i < j:
            a[i], a[j] = a[j], a[i]
    length = 2
    while length <= n:
        half = length // 2
        w = np.exp(-2j * np.pi * np.arange(half) / length)
        for start in range(0, n, length):
            for k in range(half):
                u = a[start + k]
                v = a[start + k + half] * w[k]
                a[start + k] = u + v
                a[start + k + half] = u - v
        length *= 2
    return a


@numba.njit(cache=False)
def via_pocketfft(x):
    out = np.empty_like(x)
    pf.fft_c128(x.reshape((1, x.shape[0])), out.reshape((1, x.shape[0])), 1.0, 1)
    return out


@numba.njit(cache=False)
def via_objmode(x):
    with numba.objmode(out="complex128[::1]"):
        out = np.fft.fft(x)
    return out


def best(fn, x, repeats):
    fn(x)
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn(x)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    for n, reps in ((2 ** 20, args.repeats), (64, 2000)):
        x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        ref = np.fft.fft(x)
        for name, fn in (("numpy.fft.fft (Python)", np.fft.fft), ("pocketfft loop from Numba", via_pocketfft),
                         ("objmode numpy.fft", via_objmode), ("Numba radix-2", radix2_fft)):
            err = np.max(np.abs(fn(x) - ref)) / np.max(np.abs(ref))
            wall, cpu = best(fn, x, reps)
            unit, scale = ("ms", 1e3) if n > 1000 else ("us", 1e6)
            print(f"n={n:8d}  {name:26s} wall {wall * scale:8.2f} {unit}  cpu {cpu * scale:8.2f} {unit}"
                  f"  rel err {err:.1e}")


if __name__ == "__main__":
    main()
