"""Where the first call of a jitted program spends its time (cold and warm disk cache).

    python tools/profile_compile.py                  # MLP step: cold, then warm, 1 round
    python tools/profile_compile.py --workload newton --rounds 3
    python tools/profile_compile.py --cprofile       # also the top of a cProfile of a cold call
    python tools/profile_compile.py --workload convnet --clock cpu   # benchmarks/compile_programs.py's

Each measurement is a fresh interpreter (``python tools/profile_compile.py --child ...``) with
``FUNCAD_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` pointed at a scratch directory: *cold* starts from
an empty directory, *warm* reuses the directory the cold run just filled. The child reports:

- ``import_funcad``, ``import_numba`` (numba is imported explicitly after funcad, so that the
  first call does not include it; a real first call pays both);
- ``trace`` (Jitted._trace: tracing the function, its derivatives, to a jaxpr), ``simplify``,
  ``codegen``, ``cache_load`` (writing/reading the module file and importing it, i.e. running
  the ``numba.njit`` decorator);
- ``numba_first_call``: the first call of the Numba dispatcher (compile or cache load + run),
  split by Numba's own pass timings into ``typing`` (type inference and the rewrite passes
  around it), ``lowering`` (Numba IR -> LLVM IR, NativeLowering minus the LLVM work inside
  it), ``llvm_optimize`` (the LLVM pass managers), ``llvm_codegen`` (machine code emission),
  and for a warm call ``cache_read`` (Numba's index lookup and unpickling);
- ``first_call``: everything from calling the jitted function to its result (the figure to
  compare with JAX's 0.42 s cold).

Timings on a shared machine are noisy: the load average is printed with each run, and with
``--rounds N`` the minimum of each figure is reported.

Written for issue 5's compile-time work (the cold first call of the MLP step).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Wall time by default; ``--clock cpu`` (this process's CPU time) is steadier on a loaded
# machine, as compilation is single-threaded.
CLOCK = time.process_time if os.environ.get("FUNCAD_PROFILE_CLOCK") == "cpu" else time.perf_counter

# ----------------------------------------------------------------------------- workloads


def mlp():
    import numpy as np

    import funcad as fa
    import funcad.numpy as fnp

    rng = np.random.default_rng(1)
    params = (rng.normal(0.0, 784**-0.5, (784, 256)), rng.normal(0.0, 0.01, 256),
              rng.normal(0.0, 256**-0.5, (256, 10)), rng.normal(0.0, 0.01, 10))
    x = rng.uniform(0.0, 1.0, (128, 784))
    y = np.eye(10)[rng.integers(0, 10, 128)]

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        hidden = fa.nn.relu(x @ w1 + b1)
        return -fnp.sum(y * fa.nn.log_softmax(hidden @ w2 + b2, axis=-1)) / x.shape[0]

    return fa.jit(fa.value_and_grad(loss)), (params, x, y)


def newton():
    import numpy as np

    import funcad as fa
    import funcad.numpy as fnp

    rng = np.random.default_rng(2)
    n, d = 1000, 200
    x = rng.normal(0.0, 1.0, (n, d)) / np.sqrt(d)
    y = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    w = rng.normal(0.0, 0.1, d)

    def loss(w, x, y):
        return fnp.mean(fa.nn.softplus(-y * (x @ w))) + 0.5 * 1e-2 * (w @ w)

    def newton_step(w, x, y):
        return w - fnp.linalg.solve(fa.hessian(loss)(w, x, y), fa.grad(loss)(w, x, y))

    return fa.jit(newton_step), (w, x, y)


def _program(key):
    """A program of benchmarks/compile_programs.py (rnn20, lstm20, gp, convnet, sim...)."""
    def make():
        sys.path.insert(0, str(ROOT))
        from benchmarks import compile_programs as cp

        S = cp.adapter("funcad")
        build, inputs = cp.PROGRAMS[key]
        return S.jit(build(S)), inputs()

    return make


WORKLOADS = {"mlp": mlp, "newton": newton,
             **{k: _program(k) for k in ("rnn10", "rnn20", "rnn40", "lstm20", "gp", "convnet", "sim")}}

# ----------------------------------------------------------------------------- the child


class Timer:
    def __init__(self):
        self.t: dict[str, float] = {}

    def wrap(self, owner, attr, key):
        fn = getattr(owner, attr)
        t = self.t

        def timed(*a, **k):
            t0 = CLOCK()
            try:
                return fn(*a, **k)
            finally:
                t[key] = t.get(key, 0.0) + CLOCK() - t0

        setattr(owner, attr, timed)


def child(workload: str, cprofile: bool) -> dict:
    timer = Timer()
    t0 = CLOCK()
    import funcad  # noqa: F401

    timer.t["import_funcad"] = CLOCK() - t0
    t0 = CLOCK()
    from funcad.backend import cache as _cache

    numba = _cache.import_numba()  # as a first call imports it (PyYAML lazily)
    from numba.core import codegen, event

    timer.t["import_numba"] = CLOCK() - t0

    import importlib

    jit_mod = importlib.import_module("funcad.jit")
    from funcad.backend import cache, dispatch
    from funcad.backend import codegen as fcodegen

    timer.wrap(jit_mod.Jitted, "_trace", "trace")
    timer.wrap(dispatch, "simplify", "simplify")
    timer.wrap(fcodegen, "generate", "codegen")
    timer.wrap(cache, "load", "cache_load")
    timer.wrap(cache.Compiled, "first_call", "numba_first_call")
    # each distinct kernel of a driven program is its own Numba function
    compiled_first = cache.Compiled.first_call
    kernels = set()

    def counted(self, *a):
        kernels.add(self.name)
        return compiled_first(self, *a)

    cache.Compiled.first_call = counted
    lib = codegen.CPUCodeLibrary
    timer.wrap(lib, "_optimize_functions", "llvm_optimize")
    timer.wrap(lib, "_optimize_final_module", "llvm_optimize")
    timer.wrap(lib, "_finalize_final_module", "llvm_codegen")
    from numba.core import caching

    timer.wrap(caching.Cache, "load_overload", "cache_read")
    try:  # funcad's programs load through their own cache class (backend/nbrt.py)
        from funcad.backend import nbrt

        timer.wrap(nbrt._LoadCache, "load_overload", "cache_read")
    except ImportError:
        pass
    timer.wrap(caching.Cache, "save_overload", "cache_write")

    passes: dict[str, float] = {}
    # Passes nest (a pass may compile another function): count only the outermost.
    depth = [0]
    starts: list[float] = []

    class Outer(event.Listener):
        def on_start(self, ev):
            starts.append(CLOCK())
            depth[0] += 1

        def on_end(self, ev):
            t = CLOCK() - starts.pop()
            depth[0] -= 1
            if depth[0] == 0:
                name = ev.data["name"].split(" [")[0]
                passes[name] = passes.get(name, 0.0) + t

    event.register("numba:run_pass", Outer())

    f, args = WORKLOADS[workload]()
    prof = None
    if cprofile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = CLOCK()
    f(*args)
    timer.t["first_call"] = CLOCK() - t0
    if prof is not None:
        prof.disable()
        import io
        import pstats

        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(45)
        print(s.getvalue(), file=sys.stderr)
    t0 = CLOCK()
    f(*args)
    timer.t["second_call"] = CLOCK() - t0

    t = timer.t
    typing = sum(v for k, v in passes.items() if k not in ("native_lowering", "nopython_backend"))
    native = passes.get("native_lowering", 0.0)
    t["typing"] = typing
    t["lowering"] = max(native - t.get("llvm_optimize", 0.0) - t.get("llvm_codegen", 0.0), 0.0)
    t["passes_top"] = dict(sorted(passes.items(), key=lambda kv: -kv[1])[:6])
    t["numba"] = numba.__version__
    t["functions"] = len(kernels)
    from funcad.backend import compile_worker

    t["worker"] = dict(compile_worker.stats)
    return t


# ----------------------------------------------------------------------------- the parent

ORDER = ["import_funcad", "import_numba", "trace", "simplify", "codegen", "cache_load",
         "numba_first_call", "typing", "lowering", "llvm_optimize", "llvm_codegen", "cache_read",
         "cache_write", "first_call", "second_call"]


def run_child(workload: str, cache: Path, cprofile: bool) -> dict:
    env = dict(os.environ, FUNCAD_CACHE_DIR=str(cache / "funcad"),
               NUMBA_CACHE_DIR=str(cache / "numba"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--child", workload]
                         + (["--cprofile"] if cprofile else []),
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr)
    if cprofile:
        print(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="mlp", choices=sorted(WORKLOADS))
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--cprofile", action="store_true")
    p.add_argument("--child", metavar="WORKLOAD")
    p.add_argument("--json", action="store_true", help="print the minima as JSON")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    a = p.parse_args()
    os.environ["FUNCAD_PROFILE_CLOCK"] = a.clock
    if a.child:
        print(json.dumps(child(a.child, a.cprofile)))
        return
    runs = {"cold": [], "warm": []}
    for _ in range(a.rounds):
        scratch = Path(tempfile.mkdtemp(prefix="funcad-compile-"))
        try:
            runs["cold"].append(run_child(a.workload, scratch, a.cprofile))
            runs["warm"].append(run_child(a.workload, scratch, a.cprofile))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{a.workload}: {a.clock} seconds, minimum over {a.rounds} round(s); load average {load:.1f} "
          f"on {os.cpu_count()} cores; Numba {runs['cold'][0]['numba']}")
    mins = {}
    for mode, rs in runs.items():
        mins[mode] = {k: min(r.get(k, 0.0) for r in rs) for k in ORDER}
    print(f"{'stage':<18}{'cold s':>10}{'warm s':>10}")
    for k in ORDER:
        print(f"{k:<18}{mins['cold'][k]:>10.3f}{mins['warm'][k]:>10.3f}")
    print("top Numba passes (cold):", {k: round(v, 3)
                                       for k, v in runs["cold"][0]["passes_top"].items()})
    print("Numba functions (distinct kernels):", runs["cold"][0]["functions"],
          "compiles here / in the worker:", runs["cold"][0]["worker"])
    if a.json:
        print(json.dumps(mins))


if __name__ == "__main__":
    main()
