"""Compiling in a worker process, so that a long-running process's memory stays bounded.

Numba never gives back what it compiled in a process: LLVM's MCJIT engine keeps each
module's code and bookkeeping for the life of the process, about 1.4 MB per program, even
after every Python reference is gone (numba#5976, numba#6707). A program *loaded* from the
disk cache keeps about 40 kB, and funcad releases it when it leaves the in-memory cache
(cache.release). So a process compiles its first ``$FUNCAD_JIT_LOCAL_COMPILES`` programs
itself (default 24: a script's first calls pay no process start-up; the worker starts,
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

The protocol is pickles over the worker's stdin and stdout: ``(name, path, source,
signature, environment)`` in, ``(ok, message)`` out. Both ends are this user's own processes.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

RECYCLE = 200  # programs a worker compiles before it is replaced
DEFAULT_LOCAL = 24
_ENV_PREFIXES = ("FUNCAD_", "NUMBA_")  # settings a compile depends on, sent with each request

stats = {"local": 0, "remote": 0, "failed": 0, "workers": 0}
_lock = threading.Lock()
_worker: _Worker | None = None
_in_worker = False  # set in the worker itself (compile_server.py)


def local_limit() -> int:
    """How many programs this process compiles itself before using the worker:
    ``$FUNCAD_JIT_LOCAL_COMPILES`` (default 24; a negative value: never use a worker), also
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
        ok = _request((compiled.name, str(compiled.path), compiled.source, signature,
                       {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}))
    stats["remote" if ok else "failed"] += 1


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
            ok, retire = _worker.ask(message)
        except (OSError, EOFError, pickle.UnpicklingError):
            _worker.close()
            _worker = None
            continue
        if retire:
            _worker.close()
            _worker = None
        return ok
    return False


class _Worker:
    """The worker process (``python -m funcad.backend.compile_server``)."""

    def __init__(self):
        root = str(Path(__file__).resolve().parents[2])  # the directory holding funcad
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "funcad.backend.compile_server"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
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


@atexit.register
def _close() -> None:
    if _worker is not None and _worker.pid == os.getpid():
        _worker.close()
