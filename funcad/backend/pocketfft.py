"""NumPy's pocketfft, called from compiled programs without leaving them.

NumPy 2 computes its FFTs in the generalized-ufunc loops of ``numpy.fft._pocketfft_umath``
(``fft``, ``ifft``, ``rfft_n_even``, ``rfft_n_odd``, ``irfft``: signature ``(n),()->(m)``,
a scale factor as the second operand). A ufunc keeps its inner loops as C function pointers in
its ``PyUFuncObject`` (``functions``, one per type signature; NumPy's public C struct), and
a loop is an ordinary C function ``loop(char **args, npy_intp *dimensions, npy_intp *steps,
void *data)``. This module reads those pointers with ctypes, checks the struct's other fields
against what Python reports (``nin``, ``nout``, ``ntypes``, ``types``) so a changed layout is
noticed rather than called, and registers each loop with LLVM as a named symbol
(``funcad_pocketfft_<ufunc>_<dtype>``, as nbrt.py names BLAS's routines: the disk-cached
program stays valid in another process). The Numba functions below call a loop once over
the rows of a C-contiguous 2-D array: ``dimensions = (rows, n_in, n_out)``, the scale factor
broadcast (step 0). ``fft``/``ifft`` read their direction from ``data`` (a C++ ``bool``,
pocketfft's FORWARD = true), which we pass as a byte of our own.

The loops catch C++ exceptions (only ``std::bad_alloc`` in practice) and set a Python error
under the GIL (``PyGILState_Ensure``, safe from any thread); the program cannot see that
error, so the one failure mode left, running out of memory inside pocketfft, would surface as
a MemoryError at the next Python check. :data:`AVAILABLE` is False where the loops cannot be
found or checked (another NumPy layout, a NumPy without ``_pocketfft_umath``): lowering.py
then calls NumPy through ``numba.objmode`` instead.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as ll
import numba
import numpy as np
from numba.core import types

_SIG = types.void(types.intp, types.intp, types.intp, types.intp)
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
if AVAILABLE:
    for _sym, _addr in _addresses.items():
        ll.add_symbol(_sym, _addr)


def _caller(symbol: str, real):
    """``call(x, out, fct, flag)``: the loop over the rows of 2-D C-contiguous ``x`` and ``out``
    (``fct`` the scale factor, ``flag`` the direction byte for fft/ifft)."""
    loop = types.ExternalFunction(symbol, _SIG)

    @numba.njit(nogil=True, cache=False)
    def call(x, out, fct, flag):
        f = np.full(1, fct, real)
        d = np.full(1, flag, np.uint8)
        args = np.empty(3, np.intp)
        args[0], args[1], args[2] = x.ctypes.data, f.ctypes.data, out.ctypes.data
        dims = np.empty(3, np.intp)
        dims[0], dims[1], dims[2] = x.shape[0], x.shape[1], out.shape[1]
        steps = np.empty(5, np.intp)
        steps[0], steps[1], steps[2] = x.strides[0], 0, out.strides[0]
        steps[3], steps[4] = x.strides[1], out.strides[1]
        if dims[0] > 0:
            loop(args.ctypes.data, dims.ctypes.data, steps.ctypes.data, d.ctypes.data)
        # Numba frees an array after its last use, and ``.ctypes.data`` is only an integer:
        # reading the buffers here keeps them alive through the call.
        return f[0] + d[0] + args[0] + dims[0] + steps[0]

    return call


if AVAILABLE:
    fft_c128 = _caller("funcad_pocketfft_fft_c128", np.float64)
    fft_c64 = _caller("funcad_pocketfft_fft_c64", np.float32)
    rfft_even_c128 = _caller("funcad_pocketfft_rfft_n_even_c128", np.float64)
    rfft_even_c64 = _caller("funcad_pocketfft_rfft_n_even_c64", np.float32)
    rfft_odd_c128 = _caller("funcad_pocketfft_rfft_n_odd_c128", np.float64)
    rfft_odd_c64 = _caller("funcad_pocketfft_rfft_n_odd_c64", np.float32)
    irfft_c128 = _caller("funcad_pocketfft_irfft_c128", np.float64)
    irfft_c64 = _caller("funcad_pocketfft_irfft_c64", np.float32)


def _along_axis(call):
    """``along(x, out, fct, flag)``: ``call`` along the middle axis of 3-D C-contiguous ``x``
    and ``out`` (outer, n, inner): the rows handed to the loop are the ``inner`` columns of
    each ``x[o]``, read with a stride."""

    @numba.njit(nogil=True, cache=False)
    def along(x, out, fct, flag):
        for o in range(x.shape[0]):
            call(x[o].T, out[o].T, fct, flag)

    return along


if AVAILABLE:
    fft_axis_c128, fft_axis_c64 = _along_axis(fft_c128), _along_axis(fft_c64)
