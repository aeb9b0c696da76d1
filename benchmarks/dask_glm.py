"""funcad.dask's Newton against dask-glm's ``newton`` on the same LocalCluster and data.

    python -m benchmarks.dask_glm                       # the issue's size: 4,000,000 x 100
    python -m benchmarks.dask_glm --rows 400000 --cols 50 --chunk-rows 50000

Logistic regression; the data are generated chunk by chunk on the workers from a seed and
persisted there, chunk ``i`` on worker ``i mod 2`` (:func:`funcad.dask.persist_evenly`).
dask-glm's ``newton`` has no penalty, so ``--lam`` (an L2 penalty ``lam/2 |w|^2`` added to
the summed loss) is 0 by default, which is what makes the answers comparable; with
``--lam > 0`` dask-glm is left out. funcad's workers compile (or load from
their disk cache) their programs on a two-chunk warm-up first. Then, once each (``--repeats``):
funcad.dask.newton to a gradient norm of 1e-8, dask-glm's newton (tolerance 1e-10 on the
coefficients), and, after the cluster is closed, the in-memory funcad Newton (jit) on the same
rows generated in this process. Reports the times, the iterations and passes over the data
(funcad: evaluations of the chunked loss; dask-glm: its ``compute`` calls, one per iteration
plus one for the column scales), the answers' agreement, each worker's memory (resident set
before funcad's fit and its peak during the fit, ``VmHWM`` of ``/proc/self/status`` reset by
``/proc/self/clear_refs`` just before, against the bytes of the chunks it holds) and the
load average.
"""

import argparse
import os
import time

import numpy as np

import funcad.numpy as fnp
from funcad import dask as fdask
from funcad.optimize import newton as newton_mem


def block(index, rows, d, seed):
    """Rows ``[X | y]`` of chunk ``index``, from ``(seed, index)``: the same on any process."""
    rng = np.random.default_rng([seed, index])
    X = rng.standard_normal((rows, d)) / np.sqrt(d)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-(X @ np.linspace(-2, 2, d))))).astype(float)
    return X, y


def _x_block(block_info=None, *, d, seed):
    info = block_info[None]
    return block(info["chunk-location"][0], info["chunk-shape"][0], d, seed)[0]


def _y_block(block_info=None, *, d, seed):
    info = block_info[None]
    return block(info["chunk-location"][0], info["chunk-shape"][0], d, seed)[1]


def nll(w, X, y):
    z = X @ w
    return fnp.sum(fnp.logaddexp(0.0, z) - y * z)


def _cpu():
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _timed(client, fit, repeats):
    """Best wall time of ``fit()``, its result, and the CPU seconds of the workers and of this
    process (client and scheduler) in that run: load-independent counts."""
    best = (np.inf, None, None, None)
    for _ in range(repeats):
        w0, c0, t = client.run(_cpu), time.process_time(), time.perf_counter()
        out = fit()
        wall, c1, w1 = time.perf_counter() - t, time.process_time(), client.run(_cpu)
        if wall < best[0]:
            best = (wall, out, sum(w1[w] - w0[w] for w in w1), c1 - c0)
    return best


def _reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as fh:  # "5": reset VmHWM to the current RSS
        fh.write("5")


def _rss_and_peak():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return tuple(int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM"))


class _Counting:
    """Counts the calls of ``module.name`` while in a ``with`` block."""

    def __init__(self, module, name):
        self.module, self.name, self.calls = module, name, 0

    def __enter__(self):
        plain = self.plain = getattr(self.module, self.name)

        def counted(*a, **k):
            self.calls += 1
            return plain(*a, **k)

        setattr(self.module, self.name, counted)
        return self

    def __exit__(self, *exc):
        setattr(self.module, self.name, self.plain)


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--chunk-rows", type=int, default=250_000)
    ap.add_argument("--lam", type=float, default=0.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--malloc-tuning", action="store_true",
                    help="FUNCAD_MALLOC_TUNING=1 in the workers' environment (funcad/_malloc.py): "
                         "Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536, which returns every "
                         "freed temporary to the OS")
    ap.add_argument("--out", default=None, help="also write the report here (e.g. benchmarks/DASK.md)")
    args = ap.parse_args(argv)
    import dask.array as da
    from distributed import Client, LocalCluster

    n, d, c = args.rows, args.cols, args.chunk_rows
    lam = args.lam
    pen = (lambda w: 0.5 * lam * fnp.sum(w ** 2)) if lam else None
    chunks = (c,) * (n // c) + ((n % c,) if n % c else ())
    env = {"FUNCAD_MALLOC_TUNING": "1"} if args.malloc_tuning else {}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",
                      memory_limit="8GiB", env=env) as cluster, Client(cluster) as client:
        kw = dict(d=d, seed=args.seed, dtype=float)
        X = da.map_blocks(_x_block, chunks=(chunks, (d,)), meta=np.empty((0, d)), **kw)
        y = da.map_blocks(_y_block, chunks=(chunks,), meta=np.empty(0), **kw)
        client.wait_for_workers(2)
        from distributed import wait

        X, y = fdask.persist_evenly(X, y)
        wait([X, y])
        from dask.core import flatten

        held, nchunks, who, nbytes = {}, {}, client.who_has(), client.nbytes(summary=False)
        for key in list(flatten(X.__dask_keys__())) + list(flatten(y.__dask_keys__())):
            for w in who[key]:
                held[w] = held.get(w, 0) + nbytes[key]
                nchunks[w] = nchunks.get(w, 0) + (key[0] == X.name)
        load0 = os.getloadavg()
        # warm-up on two chunks: the workers compile or load their programs
        fdask.newton(nll, np.zeros(d), X[:2 * c], y[:2 * c], penalty=pen, gtol=1e-6, maxiter=2)
        loss = fdask.ChunkedLoss(nll, X, y, penalty=pen)
        rss0 = {w: v[0] for w, v in client.run(_rss_and_peak).items()}
        client.run(_reset_peak_rss)
        with _Counting(loss, "_reduce") as passes_fd:
            t_fd, res, wcpu_fd, ccpu_fd = _timed(
                client, lambda: fdask.newton(loss, np.zeros(d), None, gtol=1e-8), args.repeats)
        peak = {w: v[1] for w, v in client.run(_rss_and_peak).items()}
        t_glm, beta, wcpu_glm, ccpu_glm = np.nan, None, np.nan, np.nan
        if not lam:
            import dask
            from dask_glm.algorithms import newton as glm_newton

            with _Counting(dask.array, "compute") as passes_glm, \
                    _Counting(np.linalg, "lstsq") as iters_glm:
                t_glm, beta, wcpu_glm, ccpu_glm = _timed(
                    client, lambda: glm_newton(X, y, tol=1e-10), args.repeats)
        load1 = os.getloadavg()
    X = y = None  # the cluster is closed: its arrays are gone
    Xm, ym = np.empty((n, d)), np.empty(n)
    for i, start in enumerate(np.cumsum((0,) + chunks[:-1])):
        Xm[start:start + chunks[i]], ym[start:start + chunks[i]] = block(i, chunks[i], d, args.seed)
    newton_mem(nll, np.zeros(d), (Xm[:2 * c], ym[:2 * c]), gtol=1e-6, maxiter=2, jit=True)
    full = (lambda w, X, y: nll(w, X, y) + pen(w)) if lam else nll
    t_mem, ccpu_mem = np.inf, np.nan
    for _ in range(args.repeats):
        t, c0 = time.perf_counter(), time.process_time()
        res_mem = newton_mem(full, np.zeros(d), (Xm, ym), gtol=1e-8, jit=True)
        if time.perf_counter() - t < t_mem:
            t_mem, ccpu_mem = time.perf_counter() - t, time.process_time() - c0
    load2 = os.getloadavg()

    lines = []
    out = lines.append
    r = args.repeats
    rows = [("funcad.dask.newton", t_fd, res.nit, passes_fd.calls // r, wcpu_fd, ccpu_fd),
            ("funcad.optimize.newton (in memory, jit)", t_mem, res_mem.nit, res_mem.nfev, 0.0,
             ccpu_mem)]
    if beta is not None:
        rows.insert(1, ("dask_glm newton", t_glm, iters_glm.calls // r, passes_glm.calls // r,
                        wcpu_glm, ccpu_glm))
    out(f"logistic regression{f' + L2 ({lam})' if lam else ''}, {n} x {d}, {len(chunks)} "
        f"chunks of {c} rows, 2-worker LocalCluster (processes, 1 thread each"
        f"{', FUNCAD_MALLOC_TUNING=1' if args.malloc_tuning else ''}); best of {r}")
    out(f"| {'method':<40} | {'time (s)':>8} | {'iters':>5} | {'passes':>6} | {'vs funcad.dask':>14} "
        f"| {'CPU s: workers':>14} | {'client':>6} |")
    out(f"|{'-' * 42}|{'-' * 10}|{'-' * 7}|{'-' * 8}|{'-' * 16}|{'-' * 16}|{'-' * 8}|")
    for name, t, it, npass, wc, cc in rows:
        out(f"| {name:<40} | {t:8.2f} | {it:>5} | {npass:>6} | {t / t_fd:14.2f} "
            f"| {wc:14.1f} | {cc:6.1f} |")
    agree = f"vs in-memory: {np.max(np.abs(res.x - res_mem.x)):.2e}"
    if beta is not None:
        agree = f"max |x_funcad.dask - x_dask_glm| = {np.max(np.abs(res.x - beta)):.2e}; " + agree
    out(f"{agree}; |grad| funcad.dask {res.grad_norm:.1e}, in memory {res_mem.grad_norm:.1e}")
    out("(passes: evaluations over all chunks; in memory: evaluations of the objective, "
        "value-only line-search trials included)")
    mb = 2.0 ** 20
    for w in sorted(rss0):
        out(f"worker {w}: {nchunks.get(w, 0)} chunks, {held.get(w, 0) / mb:.0f} MiB; resident "
            f"before funcad's fit {rss0[w] / mb:.0f} MiB, peak during it {peak[w] / mb:.0f} MiB "
            f"(+{(peak[w] - rss0[w]) / mb:.0f})")
    out(f"load average (1 min): before {load0[0]:.1f}, after the cluster runs {load1[0]:.1f}, "
        f"after the in-memory run {load2[0]:.1f} ({os.cpu_count()} CPUs)")

    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(f"# funcad.dask against dask-glm (python -m benchmarks.dask_glm {' '.join(argv or [])})"
                     f"\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{text}\n")


if __name__ == "__main__":
    main()
