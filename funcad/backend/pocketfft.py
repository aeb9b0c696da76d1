"""NumPy's pocketfft loops, found to be called from compiled programs (backend/table_fft.py).

NumPy 2 computes its FFTs in the generalized-ufunc loops of ``numpy.fft._pocketfft_umath``
(``fft``, ``ifft``, ``rfft_n_even``, ``rfft_n_odd``, ``irfft``: signature ``(n),()->(m)``,
a scale factor as the second operand). A ufunc keeps its inner loops as C function pointers in
its ``PyUFuncObject`` (``functions``, one per type signature; NumPy's public C struct), and
a loop is an ordinary C function ``loop(char **args, npy_intp *dimensions, npy_intp *steps,
void *data)``. This module reads those pointers with ctypes, checks the struct's other fields
against what Python reports (``nin``, ``nout``, ``ntypes``, ``types``) so a changed layout is
noticed rather than called, and names each loop ``funcad_pocketfft_<ufunc>_<dtype>`` for
LLVM (:func:`symbols`: the disk-cached program stays valid in another process).
``fft``/``ifft`` read their direction from ``data`` (a C++ ``bool``, pocketfft's FORWARD =
true).

The loops catch C++ exceptions (only ``std::bad_alloc`` in practice) and set a Python error
under the GIL (``PyGILState_Ensure``, safe from any thread); the program cannot see that
error, so the one failure mode left, running out of memory inside pocketfft, would surface as
a MemoryError at the next Python check. :data:`AVAILABLE` is False where the loops cannot be
found or checked (another NumPy layout, a NumPy without ``_pocketfft_umath``): the table then
runs the transform as a host step (NumPy's ``fftn``...).
"""

from __future__ import annotations

import ctypes

import numpy as np

_UFUNCS = ("fft", "ifft", "rfft_n_even", "rfft_n_odd", "irfft")
# The type signature each loop serves, by position (NumPy registers double, float, longdouble).
_LOOPS = {"c128": 0, "c64": 1}


class _PyUFuncHead(ctypes.Structure):
    """The leading fields of NumPy's ``PyUFuncObject`` (numpy/ufuncobject.h)."""

    _fields_ = [("ob_refcnt", ctypes.c_ssize_t), ("ob_type", ctypes.c_void_p),
                ("nin", ctypes.c_int), ("nout", ctypes.c_int), ("nargs", ctypes.c_int),
                ("identity", ctypes.c_int), ("functions", ctypes.POINTER(ctypes.c_void_p)),
                ("data", ctypes.POINTER(ctypes.c_void_p)), ("ntypes", ctypes.c_int),
                ("reserved1", ctypes.c_int), ("name", ctypes.c_char_p), ("types", ctypes.c_void_p)]


def _loop_addresses() -> dict | None:
    try:
        from numpy.fft import _pocketfft_umath as pfu
    except ImportError:
        return None
    out = {}
    for name in _UFUNCS:
        uf = getattr(pfu, name, None)
        if not isinstance(uf, np.ufunc) or uf.signature is None:
            return None
        head = _PyUFuncHead.from_address(id(uf))
        types_ = ctypes.string_at(head.types, 3 * head.ntypes) if head.types else b""
        codes = [np.dtype(c).num for t in uf.types for c in t.replace("->", "")]
        if ((head.nin, head.nout, head.nargs, head.ntypes) != (uf.nin, uf.nout, uf.nargs, uf.ntypes)
                or head.name != name.encode() or list(types_) != codes or uf.ntypes < 2):
            return None
        for dt, k in _LOOPS.items():
            if uf.types[k][0] not in "dDfF":
                return None
            out[f"funcad_pocketfft_{name}_{dt}"] = head.functions[k]
    return out


_addresses = _loop_addresses()
AVAILABLE = _addresses is not None


def symbols() -> dict:
    """``{symbol: address}`` of the loops, for llvmlite (table_engine.SYMBOL_HOOKS)."""
    return dict(_addresses or {})
