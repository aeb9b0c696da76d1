"""Compiling in a worker process, so that a long-running process's memory stays bounded.

Numba never gives back what it compiled in a process: LLVM's MCJIT engine keeps each
module's code and bookkeeping for the life of the process, about 1.4 MB per program, even
after every Python reference is gone (numba#5976, numba#6707). A program *loaded* from the
disk cache keeps about 40 kB, and funcad releases it when it leaves the in-memory cache
(cache.release). So a process compiles its first ``$FUNCAD_JIT_LOCAL_COMPILES`` programs
itself (default 16: a script's first calls pay no process start-up; the worker starts,
in the background, at half that) and hands the later
ones to one worker process: the worker compiles the program into the disk cache (the same
checked files, manifest and directory as a compile here), and this process loads it from
there. A service that makes thousands of distinct programs then grows by the loaded
programs only. The worker is replaced after ``RECYCLE`` programs, which bounds its own
memory.

Nothing changes for programs the disk cache cannot hold (an unusable cache directory,
programs with Python callbacks): those compile here. If the worker fails for any reason
(it cannot start, Numba raises, it dies), the program compiles here as before, so errors
are the same as without the worker.

Several programs at once (the distinct kernels of a large program, backend/driver.py) are
compiled in parallel by :func:`compile_many`: this process takes them from the front of the
list, the worker from the back, until they meet, so that two cores compile a program's
kernels in about half the time (Numba compiles one function at a time per process: its
compiler lock).

The protocol is pickles over the worker's stdin and stdout: ``(name, path, source,
signature, environment, new loop runs)`` in, ``(ok, message)`` out. Both ends are this user's own processes.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

RECYCLE = 200  # programs a worker compiles before it is replaced
DEFAULT_LOCAL = 16
#: compile_many shares work with the worker from this many programs on: a worker's start
#: (importing Numba and funcad, ~1 s of CPU) costs about what three or four small kernels do.
PARALLEL_MIN = 4
_ENV_PREFIXES = ("FUNCAD_", "NUMBA_")  # settings a compile depends on, sent with each request

stats = {"local": 0, "remote": 0, "failed": 0, "workers": 0}
_lock = threading.Lock()
_worker: _Worker | None = None
_in_worker = False  # set in the worker itself (compile_server.py)


def local_limit() -> int:
    """How many programs this process compiles itself before using the worker:
    ``$FUNCAD_JIT_LOCAL_COMPILES`` (default 16; a negative value: never use a worker), also
    ``fa.config.update("jit_local_compiles", n)``."""
    try:
        return int(os.environ.get("FUNCAD_JIT_LOCAL_COMPILES", DEFAULT_LOCAL))
    except ValueError:
        return DEFAULT_LOCAL


def compiled_here() -> None:
    """Count a program Numba compiled in this process. Halfway to the limit the worker is
    started, so that it has imported Numba by the time it is needed."""
    global _worker
    stats["local"] += 1
    limit = local_limit()
    if not _in_worker and limit >= 0 and stats["local"] >= limit // 2:
        with _lock:
            if _worker is None:
                try:
                    _worker = _Worker()
                except OSError:
                    pass


def prepare(compiled, args) -> None:
    """Before the first call of ``compiled`` (a cache.Compiled with a file) with ``args``:
    if this process has compiled its share, have the worker put the program into the disk
    cache, so that the call loads it instead of compiling it here."""
    limit = local_limit()
    if _in_worker or limit < 0 or stats["local"] < limit or compiled.path is None:
        return
    if _on_disk(compiled.path, compiled.name):
        return  # the call loads it
    import numba

    try:
        signature = tuple(numba.typeof(a) for a in args)
    except ValueError:
        return
    with _lock:
        ok = _request(_message(compiled, signature))
    stats["remote" if ok else "failed"] += 1


def parallel() -> bool:
    """Whether :func:`compile_many` uses the worker: a worker allowed
    (``$FUNCAD_JIT_LOCAL_COMPILES`` not negative), more than one core for this process, and a
    core to spare: a 1-minute load average below the cores less a half, unless
    ``$FUNCAD_JIT_PARALLEL_COMPILE`` is 1 (always) or 0 (never). On busy cores the worker
    only competes with this process (and its start and Numba's set-up add ~0.8 s of CPU): the
    convnet step's first call took 5.4-7.5 s in parallel against 4.0-4.1 s alone, at load 4
    on 2 cores."""
    setting = os.environ.get("FUNCAD_JIT_PARALLEL_COMPILE", "auto")
    if _in_worker or local_limit() < 0 or setting == "0":
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cores or 1) < 2:
        return False
    return setting == "1" or not hasattr(os, "getloadavg") or os.getloadavg()[0] < cores - 0.5


def start() -> None:
    """Start the worker now (in the background) if it is not running: a caller that will soon
    have several programs for :func:`compile_many` lets it import Numba meanwhile."""
    global _worker
    with _lock:
        if _worker is not None and _worker.pid != os.getpid():
            _worker = None
        if _worker is None:
            try:
                _worker = _Worker()
            except OSError:
                pass


def compile_many(jobs: list) -> None:
    """Compile ``jobs``, pairs ``(cache.Compiled, Numba signature)``, into their dispatchers
    and the disk cache: this process takes them in order, the worker from the end (a thread
    here feeds it one at a time and waits for it, without the GIL), until none is left. A job
    the worker could not do is left to the program's first call, which compiles it here. The
    worker's share is then loaded from disk by the calls (cache.Compiled.first_call)."""
    jobs = [(c, sig) for c, sig in jobs if not c.fn.signatures or sig not in c.fn.signatures]
    remote = [j for j in jobs if j[0].path is not None]
    if len(jobs) < PARALLEL_MIN or not remote or not parallel():
        return  # each compiles at its first call, as usual
    start()
    todo = list(jobs)
    taken = threading.Lock()

    def feed():
        while True:
            with taken:
                k = next((k for k in range(len(todo) - 1, -1, -1) if todo[k][0].path is not None), None)
                if k is None:
                    return
                c, sig = todo.pop(k)
            with _lock:
                ok = _request(_message(c, sig))
            stats["remote" if ok else "failed"] += 1

    feeder = threading.Thread(target=feed, name="funcad-compile-feed", daemon=True)
    feeder.start()
    while stats["local"] < local_limit():
        with taken:
            if not todo:
                break
            c, sig = todo.pop(0)
        _compile_here(c, sig)
    feeder.join()


def _compile_here(compiled, signature) -> None:
    """Compile one job of compile_many in this process (counted as the first call would)."""
    misses = sum(compiled.fn.stats.cache_misses.values())
    try:
        compiled.fn.compile(signature)
    except Exception:  # a corrupt cache entry, an error: the first call handles and reports it
        return
    if sum(compiled.fn.stats.cache_misses.values()) > misses:
        compiled_here()


def _message(compiled, signature) -> tuple:
    return (compiled.name, str(compiled.path), compiled.source, signature,
            {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)})


def _new_runs() -> list:
    """The loop runs (loopir.RUNS: what ``nbrt.loops`` compiles for a printed run) the worker
    has not been sent yet: it compiles programs this process printed."""
    from . import loopir

    runs = list(itertools.islice(loopir.RUNS.items(), _worker.runs_sent, None))
    _worker.runs_sent += len(runs)
    return runs


def _on_disk(path: Path, name: str) -> bool:
    return any(p.suffix == ".nbi" for p in path.parent.glob(f"__pycache__/{name}.*"))


def _request(message) -> bool:
    global _worker
    if _worker is not None and _worker.pid != os.getpid():
        _worker = None  # inherited through fork: the parent's
    for _attempt in range(2):  # a worker that has just retired or died is replaced once
        if _worker is None:
            try:
                _worker = _Worker()
            except OSError:
                return False
        try:
            ok, retire = _worker.ask((*message, _new_runs()))
        except (OSError, EOFError, pickle.UnpicklingError):
            _worker.close()
            _worker = None
            continue
        if retire:
            _worker.close()
            _worker = None
        return ok
    return False


# The worker runs funcad.backend.compile_server with the ``funcad`` package entered without its
# __init__: that imports the whole library (scipy.special, every primitive family: ~0.75 s of
# CPU, most of a worker's start besides Numba's), and the backend's compile path (cache,
# loopir, nbrt and what generated programs import) uses nothing of funcad outside backend/.
_BOOT = """import sys, types
package = types.ModuleType("funcad")
package.__path__ = [sys.argv[1]]
sys.modules["funcad"] = package
from funcad.backend import compile_server
compile_server.serve()
"""


class _Worker:
    """The worker process (backend/compile_server.py)."""

    def __init__(self):
        package = Path(__file__).resolve().parents[1]  # funcad/
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(package.parent), os.environ.get("PYTHONPATH", "")) if p))
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, str(package)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.runs_sent = 0
        self.pid = os.getpid()  # a forked child must not talk to its parent's worker
        stats["workers"] += 1

    def ask(self, message):
        pickle.dump(message, self.proc.stdin)
        self.proc.stdin.flush()
        return pickle.load(self.proc.stdout)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@atexit.register
def _close() -> None:
    if _worker is not None and _worker.pid == os.getpid():
        _worker.close()
