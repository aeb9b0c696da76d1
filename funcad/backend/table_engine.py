"""The table backend's machinery around LLVM: the process's engine, object code, the disk.

table.py plans a program and writes its kernels; this module turns them into machine code:

* :func:`_setup` (once per process): llvmlite's native target, the external symbols kernels
  call (BLAS from NumPy's scipy-openblas64 or SciPy: :func:`_blas_addresses`; the others
  through :data:`SYMBOL_HOOKS`, which table_linalg, table_fft and table_parallel extend;
  glibc's libmvec), a target machine for this CPU and the process's MCJIT engine;
* :func:`build_module`: a program's distinct kernels as ONE LLVM module, a function
  ``void <name>_k<j>(i8** buffers, i64* slots)`` each, and :func:`compile_object`, its
  optimisation (O3, the vectorisers, no unrolling) and object code;
* the disk cache of object code (``$FUNCAD_CACHE_DIR/table/``, backend/cache.py's checked
  reads and writes): :func:`_load` adds a cached object (checked: :func:`_read_object`) or
  a fresh one (then written) to an engine; the key is the kernels' description with
  :func:`_host` (llvmlite, the CPU, the settings) and :func:`_writers` (the text of the
  modules that write the IR);
* :class:`_Code`: a program's kernels in an engine of their own, freed with the last program
  running them; :func:`_runtime`, the interpreter's entry (backend/table_runtime.py), once.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from . import cache, table_parallel
from .table_runtime import runtime_module


def build_module(name: str, kernels: list):
    """The LLVM IR module of a program: one function ``<name>_k<j>`` per kernel."""
    from llvmlite import ir as L

    i8p, i64 = L.IntType(8).as_pointer(), L.IntType(64)
    mod = L.Module(name)
    ktype = L.FunctionType(L.VoidType(), [i8p.as_pointer(), i64.as_pointer()])
    for j, k in enumerate(kernels):
        fn = L.Function(mod, ktype, f"{name}_k{j}")
        fn.attributes.add("noinline")
        b = L.IRBuilder(fn.append_basic_block("entry"))
        bufs, slots = fn.args
        ptrs = []
        for q in range(k.n_arrays):
            buf = b.load(b.gep(slots, [L.Constant(i64, 2 * q)]))
            off = b.load(b.gep(slots, [L.Constant(i64, 2 * q + 1)]))
            ptrs.append(b.gep(b.load(b.gep(bufs, [buf])), [off]))
        k.emit(b, mod, ptrs)
        b.ret_void()
    return mod


_BLAS_ROUTINES = ("dgemm", "sgemm", "dgemv", "sgemv")


def _blas_addresses(routines=_BLAS_ROUTINES):
    """``({routine: address}, integer bits)``: NumPy's scipy-openblas64 (ILP64) where NumPy
    bundles it (one OpenBLAS, one thread pool with NumPy's), with its thread-count
    functions, else SciPy's cython_blas and cython_lapack (LP64)."""
    if os.environ.get("FUNCAD_BLAS", "").lower() != "scipy":
        root = Path(np.__file__).resolve().parent
        for path in sorted(root.parent.glob("numpy.libs/libscipy_openblas64_*")):
            try:
                lib = ctypes.CDLL(str(path))
                found = {r: ctypes.cast(getattr(lib, f"scipy_{r}_64_"), ctypes.c_void_p).value
                         for r in routines}
            except (OSError, AttributeError):
                continue
            with contextlib.suppress(AttributeError):  # OpenBLAS's thread count (_gemm_call)
                for r in ("get", "set"):
                    fn = getattr(lib, f"scipy_openblas_{r}_num_threads64_")
                    found[f"blas_{r}_threads"] = ctypes.cast(fn, ctypes.c_void_p).value
            return found, 64
    from scipy.linalg import cython_blas, cython_lapack

    get, name = ctypes.pythonapi.PyCapsule_GetPointer, ctypes.pythonapi.PyCapsule_GetName
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    caps = {**cython_lapack.__pyx_capi__, **cython_blas.__pyx_capi__}
    return {r: get(caps[r], name(caps[r])) for r in routines}, 32


_engine = None
_BLAS_INT_BITS = 64
_THREAD_CONTROL = False  # OpenBLAS's thread count can be set (NumPy's scipy-openblas64)
#: Callables returning ``{symbol: address}`` of external functions that kernels call, run
#: once when the engine is set up (modules that add kernels append theirs).
SYMBOL_HOOKS: list = [table_parallel.symbols]


def _setup():
    """The process's llvmlite target machine and MCJIT engine (once)."""
    global _engine, _tm, _BLAS_INT_BITS, _THREAD_CONTROL
    if _engine is not None:
        return
    import llvmlite.binding as ll

    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    addresses, _BLAS_INT_BITS = _blas_addresses()
    _THREAD_CONTROL = "blas_set_threads" in addresses
    for r, address in addresses.items():
        ll.add_symbol(f"funcad_table_{r}", address)
    for hook in SYMBOL_HOOKS:  # other modules' external functions (LAPACK...)
        for sym, address in hook().items():
            ll.add_symbol(sym, address)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(RuntimeError):
            ll.load_library_permanently("libmvec.so.1")  # vecmath's routines, by symbol
    _target_machine.args = (ll.Target.from_default_triple(), ll.get_host_cpu_name(),
                            ll.get_host_cpu_features().flatten())
    _tm = _target_machine()
    _engine = ll.create_mcjit_compiler(ll.parse_assembly(""), _tm)


def _target_machine():
    """A target machine for this CPU (an engine owns its own: ~0.13 ms)."""
    target, cpu, features = _target_machine.args
    return target.create_target_machine(cpu=cpu, features=features, opt=3, codemodel="jitdefault")


@functools.cache
def _host() -> str:
    """What the object code depends on besides the kernels and the code writing their IR:
    llvmlite, the host CPU, the vector-math and BLAS settings."""
    import llvmlite
    import llvmlite.binding as ll

    return "|".join([llvmlite.__version__, ll.get_host_cpu_name(), ll.get_host_cpu_features().flatten(),
                     os.environ.get("FUNCAD_VECTOR_MATH", ""), os.environ.get("FUNCAD_BLAS", "")])


#: The modules whose text is compiled into every program's object code (they write its IR).
WRITERS = ("table.py", "table_engine.py", "table_runtime.py", "table_parallel.py", "loopir.py", "vecmath.py",
           "xlamath.py")


@functools.cache
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _writers(kernels) -> list:
    """The text the object code of ``kernels`` comes from: WRITERS and each kernel class's
    module (table_linalg.py for LAPACK's...), not the modules that plan or describe."""
    files = {Path(__file__).with_name(n) for n in WRITERS}
    files.update(Path(sys.modules[type(k).__module__].__file__) for k in kernels)
    return [_digest(f) for f in sorted(files)]


def _cache_dir() -> Path | None:
    """``table/`` in the cache directory; None (and one warning) if that directory cannot be
    used (not a directory, another user's): programs are then compiled in each process."""
    env = os.environ.get("FUNCAD_CACHE_DIR") or None
    if env in cache._unusable:
        return None
    try:
        return Path(cache.cache_dir()) / "table"
    except OSError as e:
        cache.unusable(e, env, stacklevel=8)
        return None


def _read_object(path: Path | None) -> bytes | None:
    """The object code cached at ``path`` if it is exactly what funcad wrote there (its digest
    in the entry's manifest, this user's file: cache.read_checked); None if absent, unreadable
    or untrusted (an untrusted file is removed, with a warning)."""
    if path is None:
        return None
    try:
        data = cache.read_checked(path)
        if data is not None:  # least recently used = oldest mtime (cache.evict); best effort:
            with contextlib.suppress(OSError):  # a read-only cache still loads
                os.utime(path)
        return data
    except cache.Untrusted as e:
        warnings.warn(f"funcad: the cached object code {path.name} is corrupt or not funcad's "
                      f"({e}); not loading it, recompiling.", cache.CacheWarning, stacklevel=3)
        cache.stats["rebuilt"] += 1
        cache.discard(path)
    except OSError:
        pass
    return None


def compile_object(module) -> bytes:
    """Optimise the llvmlite ``module`` (:func:`build_module`'s) and emit its object code. No loop
    unrolling: it took ~25% of the optimisation and emission of the MLP step's, LSTM's and
    RNN's kernels for no measurable change of their run time (the vectorizer still
    interleaves)."""
    import llvmlite.binding as ll

    mod = ll.parse_assembly(str(module))
    mod.triple, mod.data_layout = _tm.triple, str(_tm.target_data)
    mod.verify()
    pto = ll.create_pipeline_tuning_options()
    pto.speed_level, pto.loop_vectorization, pto.slp_vectorization = 3, True, True
    pto.loop_unrolling = False
    pb = ll.create_pass_builder(_tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return _tm.emit_object(mod)


class _Code:
    """A program's kernels in an MCJIT engine of their own, which frees their code when it
    goes (MCJIT frees code only with its engine): when the last TableProgram running them
    goes. A load costs ~0.45 ms of CPU more than in one shared engine (the engine, its target
    machine); the empty module an engine is made with is removed, or finalizing would compile
    it (~1.3 ms)."""

    def __init__(self, name: str, path: Path | None, kernels: list):
        import llvmlite.binding as ll

        empty = ll.parse_assembly("")
        self.engine = ll.create_mcjit_compiler(empty, _target_machine())
        self.engine.remove_module(empty)
        self.how = _load(path, lambda: compile_object(build_module(name, kernels)), self.engine)
        self.addresses = [self.engine.get_function_address(f"{name}_k{j}") for j in range(len(kernels))]


def _load(path: Path | None, compile, engine=None) -> str:
    """Add the object code at ``path`` (checked) or, if absent, ``compile()``'s (then written
    there; ``path`` None: no disk cache) to ``engine`` (the process's): "loaded" or "compiled"."""
    import llvmlite.binding as ll

    engine = engine or _engine
    obj, how = _read_object(path), "loaded"
    if obj is None:
        obj, how = compile(), "compiled"
        if path is not None and cache.writable():
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                cache.write_checked(path, obj)
            except OSError as e:  # read-only, full: compiled in each process (said once)
                cache.unusable(e, stacklevel=9, loads=True)
            else:
                with contextlib.suppress(OSError):
                    cache.evict(added=len(obj))
    engine.add_object_file(ll.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    return how


@functools.cache
def _runtime() -> int:
    """The address of the entry every program is called through (the runtime module's
    ``funcad_table_call``: compiled once per machine, ~20 ms of every cold compile before)."""
    digest = hashlib.sha256(repr((_host(), _writers(()), "runtime")).encode()).hexdigest()
    where = _cache_dir()
    _load(where and where / f"runtime-{digest}.o", lambda: compile_object(runtime_module()))
    return _engine.get_function_address("funcad_table_call")
