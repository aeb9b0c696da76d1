"""funcad.random's speed, side by side in one run (run with /work/venv-bench's python for JAX;
JAX_ENABLE_X64=1 so that all draw float64):

1. 10^7 standard normals, float64 and float32: funcad.random.normal under jit (the table's
   threads, and one thread), numpy.random.Generator.normal (float32: standard_normal) and
   jax.random.normal under jax.jit. Best of REPS wall and CPU times after a warm-up call.
2. The variational-inference step of examples/bbvi_random.py under jit, sampling its noise per
   call (a key in), against the same step given pre-drawn noise: their ratio, calls alternated
   so that the machine's load falls on both alike.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=$PWD \
        python -m benchmarks.random_normals [--record]

``--record`` also writes the output to benchmarks/random_normals.txt (the figures docs quote).
"""

import os
import runpy
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np  # noqa: E402

import funcad  # noqa: E402
from funcad import random  # noqa: E402

N = 10 ** 7
REPS = 7
HERE = Path(__file__).resolve().parent


def best(fn, reps=REPS):
    """Best wall and best CPU time (this process, all its threads) of ``reps`` calls: on a
    loaded machine the wall time is mostly waiting for a core, the CPU time is the work."""
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def normals(out):
    from funcad.backend import table_parallel

    for dtype in (np.float64, np.float32):
        rows = []
        f = funcad.jit(lambda k: random.normal(k, (N,), dtype))
        threads = table_parallel.threads()
        rows.append((f"funcad jit, {threads} threads", best(lambda: f(random.key(1)))))
        table_parallel.set_threads(1)  # NumPy's Generator is single-threaded
        try:
            rows.append(("funcad jit, 1 thread", best(lambda: f(random.key(1)))))
        finally:
            table_parallel.set_threads(threads)
        g = np.random.default_rng(0)
        if dtype == np.float64:
            rows.append(("numpy Generator.normal", best(lambda: g.normal(size=N))))
        else:  # Generator.normal has no dtype; standard_normal draws float32 itself
            rows.append(("numpy standard_normal(f32)", best(lambda: g.standard_normal(N, np.float32))))
        base = rows[-1][1]
        try:
            import jax

            jf = jax.jit(lambda k: jax.random.normal(k, (N,), dtype))
            k = jax.random.PRNGKey(1)
            rows.append(("jax.random.normal, jax.jit", best(lambda: jf(k).block_until_ready())))
            z, zj = np.asarray(f(random.key(1))), np.asarray(jf(k))
            same = int(np.sum(z != zj))
        except ImportError:
            same = None
        out(f"10^7 {np.dtype(dtype).name} normals, best of {REPS}: wall, and CPU time of all the "
            "process's threads")
        for name, (t, c) in rows:
            out(f"  {name:28s} {t * 1e3:7.1f} ms wall {t / base[0]:5.2f}x numpy   "
                f"{c * 1e3:7.1f} ms CPU {c / base[1]:5.2f}x numpy")
        if same is not None:
            out(f"  funcad's numbers that differ from JAX's: {same} of {N}")


def vi_step(out, calls=400, rounds=REPS):
    ex = runpy.run_path(str(HERE.parent / "examples" / "bbvi_random.py"))
    step = ex["step"]  # grad of the ELBO with random.normal(key, (16, 3)) inside, under jit

    @funcad.jit
    def step_noise(params, eps, lr):
        g = funcad.grad(ex["neg_elbo_from_noise"])(params, eps)
        return tuple(p - lr * gp for p, gp in zip(params, g))

    params = (np.zeros(3), np.full(3, -1.0))
    keys = list(random.split(random.key(0), calls))
    noise = [random.normal(k, (16, 3)) for k in keys]
    np.testing.assert_array_equal(step(params, keys[0], 1e-3)[0], step_noise(params, noise[0], 1e-3)[0])

    def run(fn, args):
        t = time.process_time()  # CPU time: on a loaded machine the wall time is waiting
        for a in args:
            fn(params, a, 1e-3)
        return (time.process_time() - t) / calls

    run(step, keys), run(step_noise, noise)
    t_key, t_noise = [], []
    for _ in range(rounds):  # alternated: the load falls on both alike
        t_key.append(run(step, keys))
        t_noise.append(run(step_noise, noise))
    a, b = min(t_key), min(t_noise)
    out(f"VI step (examples/bbvi_random.py), jit, {calls} calls x {rounds} rounds, best CPU time per call:")
    out(f"  sampling per call (key in)       {a * 1e6:9.1f} us")
    out(f"  pre-drawn noise (eps in)         {b * 1e6:9.1f} us")
    out(f"  ratio                            {a / b:9.2f}x   (median of rounds: "
        f"{np.median(t_key) / np.median(t_noise):.2f}x)")


def main():
    lines = []

    def out(s):
        print(s, flush=True)
        lines.append(s)

    load0 = os.getloadavg()[0]
    normals(out)
    vi_step(out)
    out(f"load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs); "
        f"threads {__import__('funcad.backend.table_parallel').backend.table_parallel.threads()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if "--record" in sys.argv:
        (HERE / "random_normals.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
