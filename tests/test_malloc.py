"""The glibc malloc tuning that keeps freed array memory for reuse (funcad/_malloc.py): opt-in
with FUNCAD_MALLOC_TUNING=1, and by default `import funcad` leaves the process's malloc alone."""

import os
import subprocess
import sys

import pytest

import funcad._malloc as m

_libc = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
glibc = bool(_libc) and _libc.startswith("glibc")

# A 16 MB array: glibc's default mmap threshold (128 kB, at most 32 MB when it adapts) serves it
# from fresh mmap pages; with the tuning (threshold 32 MB) it comes from the heap. glibc's own
# mallinfo2 says which (hblkhd: bytes in mmapped blocks), independently of funcad's flag.
CHILD = """
import ctypes, numpy as np
import funcad, funcad._malloc as m

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd
a = np.ones(2 << 20)
print(m.applied, libc.mallinfo2().hblkhd - before >= a.nbytes)
"""


def _child(**env):
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in dict(os.environ, **env).items() if v is not None},
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


@pytest.mark.skipif(not glibc or tuple(map(int, _libc.split()[1].split(".")[:2])) < (2, 33),
                    reason="mallopt and mallinfo2 are glibc's (2.33+)")
def test_tuning_is_opt_in():
    # default: funcad leaves malloc alone (a large array is mmapped, as without funcad)
    assert _child(FUNCAD_MALLOC_TUNING=None) == ["False", "True"]
    assert _child(FUNCAD_MALLOC_TUNING="0") == ["False", "True"]
    # opted in: the thresholds are raised, the same array comes from the heap
    assert _child(FUNCAD_MALLOC_TUNING="1") == ["True", "False"]


def test_this_process_is_untouched_unless_asked():
    assert m.applied == (os.environ.get("FUNCAD_MALLOC_TUNING") == "1" and glibc)


# Under Dask's nanny setting (MALLOC_TRIM_THRESHOLD_=65536 pins the mmap threshold at 128 KiB),
# a 2 MiB temporary is a fresh mmap at every allocation; inside `kept_for_reuse` it comes from
# the heap, and after the block the setting is back (mmapped again) and the heap is trimmed.
SCOPED = """
import ctypes, numpy as np
import funcad._malloc as m

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2

def mmapped():
    before = libc.mallinfo2().hblkhd
    a = np.ones(2 << 18)
    return libc.mallinfo2().hblkhd - before >= a.nbytes

out = [mmapped()]
with m.kept_for_reuse():
    with m.kept_for_reuse():
        out.append(mmapped())
    out.append(mmapped())
out.append(mmapped())
print(*out)
"""


@pytest.mark.skipif(not glibc or tuple(map(int, _libc.split()[1].split(".")[:2])) < (2, 33),
                    reason="mallopt and mallinfo2 are glibc's (2.33+)")
def test_kept_for_reuse_under_dasks_trim_threshold():
    def child(**env):
        run = subprocess.run([sys.executable, "-c", SCOPED], capture_output=True, text=True,
                             timeout=120, env={k: v for k, v in dict(os.environ, **env).items()
                                               if v is not None},
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert child(MALLOC_TRIM_THRESHOLD_="65536", FUNCAD_MALLOC_TUNING=None) == \
        ["True", "False", "False", "True"]
    # no threshold in the environment: glibc's own adaptive threshold is left alone
    assert child(MALLOC_TRIM_THRESHOLD_=None, MALLOC_MMAP_THRESHOLD_=None,
                 FUNCAD_MALLOC_TUNING=None)[0] == "True"
