"""What the numbers were measured on: CPU, cores, BLAS, and the version of every system."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

DISTRIBUTIONS = (
    "numpy",
    "scipy",
    "numba",
    "llvmlite",
    "jax",
    "jaxlib",
    "torch",
    "pytensor",
    "autograd",
    "matplotlib",
    "threadpoolctl",
)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def vector_target() -> str:
    """LLVM's name for this CPU and the vector math funcad's loops use (its ISA)."""
    try:
        import llvmlite.binding as ll

        from funcad.backend import vecmath

        return f"LLVM host {ll.get_host_cpu_name()}, vector math {vecmath.ISA}"
    except ImportError:
        return "unknown"


def blas_info() -> list[dict]:
    """BLAS/OpenMP libraries NumPy has loaded, via threadpoolctl (or numpy's build config)."""
    import numpy as np

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return [{"source": "numpy.show_config", **{k: str(v) for k, v in blas.items()}}]
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS is loaded
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "prefix")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def versions() -> dict:
    """Installed version of each relevant distribution (None when not installed)."""
    found = {}
    for dist in DISTRIBUTIONS:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def funcad_revision() -> str:
    """The git commit of the work tree funcad is benchmarked from (with '+dirty' if so)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "funcad"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine_info() -> dict:
    """Everything RESULTS.md prints about the machine."""
    return {
        "cpu": cpu_model(),
        "vector_target": vector_target(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "blas": blas_info(),
        "load_average": os.getloadavg(),  # other work on the machine while the run ends
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        "versions": versions(),
        "funcad_revision": funcad_revision(),
    }
