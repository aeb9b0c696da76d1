"""The worker process of compile_worker.py (started by ``compile_worker._Worker``; also
``python -m funcad.backend.compile_server``): reads ``(name, path, source, signature,
environment, loop runs)`` pickles from stdin, compiles each program into the disk cache
(cache.py's checked files), and answers ``(ok, retire)``."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

from . import cache, compile_worker, loopir


def serve() -> None:
    """The worker's loop: compile each requested program into the disk cache, answer
    ``(ok, retire)``; exit at end of input or after ``compile_worker.RECYCLE`` programs."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the replies
    requests = sys.stdin.buffer
    compile_worker._in_worker = True
    from . import nbrt  # noqa: F401  (Numba and the runtime, imported before the first request)
    for count in range(1, compile_worker.RECYCLE + 1):
        try:
            name, path, source, signature, env, runs = pickle.load(requests)
        except EOFError:
            return
        os.environ.update(env)
        loopir.RUNS.update(runs)
        try:
            fn = cache._exec_module(name, source, path)
            fn.compile(signature)
            ok = compile_worker._on_disk(Path(path), name)
        except Exception:  # the parent compiles it itself and reports the error
            ok = False
        finally:
            sys.modules.pop(name, None)
        pickle.dump((ok, count == compile_worker.RECYCLE), replies)
        replies.flush()


if __name__ == "__main__":
    serve()
