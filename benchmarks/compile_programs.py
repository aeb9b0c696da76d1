"""Compile time on real programs: the first call of ``jit`` in a fresh process, cold caches.

    python -m benchmarks.compile_programs                      # funcad, every program
    python -m benchmarks.compile_programs --system jax         # (run with /work/venv-bench)
    python -m benchmarks.compile_programs --programs rnn10,lstm20 --calls 20
    python -m benchmarks.compile_programs --table a.json b.json   # the markdown table

Each measurement runs in its own interpreter with an empty ``FUNCAD_CACHE_DIR`` (funcad) or
JAX's defaults (no persistent cache): *first call* is from calling the jitted function to its
result, tracing and compiling included, after the imports; *per call* is the median of the
next calls (wall time, and this process's CPU time: JAX's CPU time counts its worker threads
too). The programs are written once against
an adapter ``S`` (``S.np``, ``S.grad``, ``S.jit``), in the style of autograd's and JAX's
examples:

* ``rnnN``: the gradient of a tanh RNN unrolled over N steps (hidden 32, input 8);
* ``lstm20``: a character LSTM unrolled over 20 steps (vocabulary 16, hidden 32), value and
  gradient of its cross-entropy;
* ``gp``: the gradient of a Gaussian process's negative log marginal likelihood in its three
  kernel parameters (100 points, Cholesky and triangular solves through ``solve``/``slogdet``);
* ``convnet``: a training step's gradient of a small convnet (two 3x3 convolutions written as
  sums of shifted slices with einsum, 2x2 average pooling, a dense layer, softmax);
* ``sim``: a damped spring chain integrated by an explicit Euler loop unrolled to ~45,000
  operations (no ``fori_loop``: the unrolled form a Python loop produces);
* ``odeint``: the gradient of a damped pendulum's trajectory (JAX's odeint example) in its
  initial state and parameters, through ``odeint``'s adjoint (a custom_vjp whose backward
  pass is a scan of odeint calls: while loops of Dormand-Prince steps).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- adapters


class Adapter:
    def __init__(self, np_, grad, value_and_grad, jit, asarray, odeint):
        self.np, self.grad, self.value_and_grad = np_, grad, value_and_grad
        self.jit, self.asarray, self.odeint = jit, asarray, odeint


def adapter(system: str) -> Adapter:
    if system == "funcad":
        import funcad as fa
        import funcad.numpy as fnp
        from funcad.scipy.integrate import odeint

        return Adapter(fnp, fa.grad, fa.value_and_grad, fa.jit, np.asarray, odeint)
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.experimental.ode import odeint

    return Adapter(jnp, jax.grad, jax.value_and_grad, jax.jit, lambda x: np.asarray(x), odeint)


# ----------------------------------------------------------------------------- programs


def rnn(steps: int):
    def build(S):
        xp = S.np

        def loss(params, xs):
            W, U, b = params
            h = xp.zeros(W.shape[0])
            for t in range(steps):
                h = xp.tanh(W @ h + U @ xs[t] + b)
            return xp.sum(h * h)

        return S.grad(loss)

    def inputs():
        rng = np.random.default_rng(0)
        params = (rng.normal(0, 0.2, (32, 32)), rng.normal(0, 0.3, (32, 8)), rng.normal(0, 0.1, 32))
        return params, rng.normal(0, 1.0, (steps, 8))

    return build, inputs


def lstm(steps: int, vocab: int = 16, hidden: int = 32):
    def build(S):
        xp = S.np

        def sigmoid(x):
            return 0.5 * (xp.tanh(0.5 * x) + 1.0)

        def loss(params, seq):
            Wx, Wh, b, Wy, by = params
            h = xp.zeros(hidden)
            c = xp.zeros(hidden)
            total = 0.0
            for t in range(steps - 1):
                z = Wx @ seq[t] + Wh @ h + b
                i, f, o, g = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:3 * hidden], z[3 * hidden:]
                c = sigmoid(f) * c + sigmoid(i) * xp.tanh(g)
                h = sigmoid(o) * xp.tanh(c)
                logits = Wy @ h + by
                logp = logits - xp.log(xp.sum(xp.exp(logits - xp.max(logits)))) - xp.max(logits)
                total = total - xp.sum(logp * seq[t + 1])
            return total / (steps - 1)

        return S.value_and_grad(loss)

    def inputs():
        rng = np.random.default_rng(1)
        params = (rng.normal(0, 0.1, (4 * hidden, vocab)), rng.normal(0, 0.1, (4 * hidden, hidden)),
                  np.zeros(4 * hidden), rng.normal(0, 0.1, (vocab, hidden)), np.zeros(vocab))
        seq = np.eye(vocab)[rng.integers(0, vocab, steps)]
        return params, seq

    return build, inputs


def gp(n: int = 100):
    def build(S):
        xp = S.np

        def nll(theta, x, y):
            lengthscale, variance, noise = xp.exp(theta[0]), xp.exp(theta[1]), xp.exp(theta[2])
            d = (x[:, None] - x[None, :]) / lengthscale
            K = variance * xp.exp(-0.5 * d * d) + (noise + 1e-6) * xp.eye(n)
            alpha = xp.linalg.solve(K, y)
            _, logdet = xp.linalg.slogdet(K)
            return 0.5 * (y @ alpha) + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)

        return S.grad(nll)

    def inputs():
        rng = np.random.default_rng(2)
        x = np.sort(rng.uniform(-3, 3, n))
        return np.array([0.0, 0.0, -2.0]), x, np.sin(x) + 0.1 * rng.normal(size=n)

    return build, inputs


def convnet(batch: int = 8, side: int = 14, c1: int = 4, c2: int = 8, classes: int = 10):
    def build(S):
        xp = S.np

        def conv(x, w):  # x (n, h, w, c), w (3, 3, c, d): 'valid' 3x3 convolution
            n, hh, ww, _ = x.shape
            out = 0.0
            for di in range(3):
                for dj in range(3):
                    out = out + xp.einsum("nhwc,cd->nhwd", x[:, di:di + hh - 2, dj:dj + ww - 2, :], w[di, dj])
            return out

        def pool(x):  # 2x2 average pooling
            n, hh, ww, c = x.shape
            return xp.mean(xp.reshape(x, (n, hh // 2, 2, ww // 2, 2, c)), axis=(2, 4))

        def loss(params, images, labels):
            w1, w2, wd, bd = params
            h = pool(xp.maximum(conv(images, w1), 0.0))
            h = pool(xp.maximum(conv(h, w2), 0.0))
            h = xp.reshape(h, (h.shape[0], -1))
            logits = h @ wd + bd
            m = xp.max(logits, axis=1, keepdims=True)
            logp = logits - m - xp.log(xp.sum(xp.exp(logits - m), axis=1, keepdims=True))
            return -xp.mean(xp.sum(logp * labels, axis=1))

        return S.grad(loss)

    def inputs():
        rng = np.random.default_rng(3)
        s2 = ((side - 2) // 2 - 2) // 2
        params = (rng.normal(0, 0.3, (3, 3, 1, c1)), rng.normal(0, 0.2, (3, 3, c1, c2)),
                  rng.normal(0, 0.1, (s2 * s2 * c2, classes)), np.zeros(classes))
        images = rng.uniform(0, 1, (batch, side, side, 1))
        labels = np.eye(classes)[rng.integers(0, classes, batch)]
        return params, images, labels

    return build, inputs


def sim(steps: int = 2800, n: int = 16):
    """A damped spring chain, explicit Euler: ~15 operations per step."""
    def build(S):
        xp = S.np

        def run(x, v, k):
            dt = 0.01
            for _ in range(steps):
                left = xp.concatenate([x[:1], x[:-1]])
                right = xp.concatenate([x[1:], x[-1:]])
                a = k * (left + right - 2.0 * x) - 0.1 * v
                v = v + dt * a
                x = x + dt * v
            return x, v

        return run

    def inputs():
        rng = np.random.default_rng(4)
        return rng.normal(0, 1, n), np.zeros(n), np.float64(1.5)

    return build, inputs


def pendulum():
    def build(S):
        xp = S.np

        def pend(y, t, m, g):
            return xp.stack([y[1], -m * y[1] - g * xp.sin(y[0])])

        def loss(y0, m, g):
            return xp.sum(S.odeint(pend, y0, xp.linspace(0.0, 1.0, 11), m, g) ** 2)

        return S.grad(loss, (0, 1, 2))

    return build, lambda: (np.array([np.pi - 0.1, 0.0]), np.float64(0.25), np.float64(9.8))


PROGRAMS = {
    "rnn10": rnn(10), "rnn20": rnn(20), "rnn40": rnn(40), "lstm20": lstm(20), "gp": gp(),
    "convnet": convnet(), "sim": sim(), "odeint": pendulum(),
}


# ----------------------------------------------------------------------------- measuring


def child(system: str, key: str, calls: int) -> dict:
    t0 = time.perf_counter()
    S = adapter(system)
    if system == "funcad":
        import llvmlite.binding  # noqa: F401 - imported before the clock, as JAX's jaxlib is
    t_import = time.perf_counter() - t0
    build, inputs = PROGRAMS[key]
    args = inputs()
    f = S.jit(build(S))
    cpu0, t0 = time.process_time(), time.perf_counter()
    out = f(*args)
    _block(out)
    first, first_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    times, cpu = [], []
    for _ in range(calls):
        c0, t0 = time.process_time(), time.perf_counter()
        _block(f(*args))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    result = {"system": system, "program": key, "first_call": first, "first_call_cpu": first_cpu,
              "per_call": float(np.median(times)) if times else None,
              "per_call_cpu": float(np.median(cpu)) if cpu else None, "import": t_import,
              "load": os.getloadavg()[0]}
    if system == "funcad":
        import funcad as fa

        result["eqns"] = len(fa.make_jaxpr(build(S))(*args).eqns)
    return result


def _block(out):
    """Wait for JAX's asynchronous results (funcad's are ready when returned)."""
    for leaf in (out if isinstance(out, (tuple, list)) else [out]):
        if isinstance(leaf, (tuple, list)):
            _block(leaf)
        elif hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()


def run(system: str, keys: list[str], calls: int, timeout: float) -> list[dict]:
    results = []
    for key in keys:
        with tempfile.TemporaryDirectory(prefix="funcad-compile-") as tmp:
            env = dict(os.environ, FUNCAD_CACHE_DIR=f"{tmp}/fc", NUMBA_CACHE_DIR=f"{tmp}/nc",
                       PYTHONPATH=str(ROOT))
            cmd = [sys.executable, "-m", "benchmarks.compile_programs", "--child", system, key, str(calls)]
            try:
                p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                results.append({"system": system, "program": key, "error": f"timeout {timeout:.0f} s"})
                continue
            if p.returncode:
                results.append({"system": system, "program": key,
                                "error": (p.stderr.strip().splitlines() or ["?"])[-1][:200]})
            else:
                results.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr)
    return results


def table(results: list[dict]) -> str:
    """First call (wall and CPU time of the process) and per call, funcad beside JAX."""
    by = {(r["system"], r["program"]): r for r in results}
    keys = [k for k in PROGRAMS if any(p == k for _, p in by)]

    def cell(r, field, scale=1.0, unit="s"):
        if r is None:
            return "-"
        if "error" in r:
            return r["error"]
        v = r.get(field)
        return "-" if v is None else f"{v * scale:.3g} {unit}"

    def ratio(f, j, field):
        ok = f and j and "error" not in f and "error" not in j
        return f"{f[field] / j[field]:.2f}x" if ok else "-"

    lines = ["| program | equations | first call: funcad | JAX | ratio | CPU: funcad | JAX | ratio "
             "| per call: funcad | JAX | per call CPU: funcad | JAX |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in keys:
        f, j = by.get(("funcad", k)), by.get(("jax", k))
        lines.append(" | ".join([
            f"| {k}", str(f.get("eqns", "-") if f else "-"), cell(f, "first_call"), cell(j, "first_call"),
            ratio(f, j, "first_call"), cell(f, "first_call_cpu"), cell(j, "first_call_cpu"),
            ratio(f, j, "first_call_cpu"), cell(f, "per_call", 1e3, "ms"),
            cell(j, "per_call", 1e3, "ms"), cell(f, "per_call_cpu", 1e3, "ms"),
            cell(j, "per_call_cpu", 1e3, "ms")]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--system", default="funcad", choices=("funcad", "jax"))
    p.add_argument("--programs", default=",".join(PROGRAMS))
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--out", help="write the results (JSON) here")
    p.add_argument("--table", nargs="+", help="print the markdown table of these result files")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        system, key, calls = a.child
        print(json.dumps(child(system, key, int(calls))))
        return 0
    if a.table:
        print(table([r for f in a.table for r in json.loads(Path(f).read_text())]))
        return 0
    results = run(a.system, a.programs.split(","), a.calls, a.timeout)
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
