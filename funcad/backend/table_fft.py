"""FFTs in the table backend: NumPy's pocketfft loops called from the program's module.

A transform along one axis is one kernel, :class:`Pocketfft`: a call of a gufunc loop of
``numpy.fft._pocketfft_umath`` (found by backend/pocketfft.py) over the rows of its operand
along that axis, strided as they lie (the loop copies a row it cannot work on in place), in
a loop over the other axes. ``lax.fft`` over several axes is a kernel per axis in NumPy's
order (``fftn``: the last axis first; ``irfftn``: the leading axes' inverse c2c from the
first, then c2r), the later axes' transforms in place. Forward transforms of 32-bit data run
the 64-bit loop between casts, as NumPy's do: the results are NumPy's bits. A NumPy whose
loops cannot be found runs the transform as a host step (NumPy's ``fftn``...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lax.fft import FftType, fft_p
from . import loopir as ir
from . import pocketfft, table, table_engine
from .table import Unsupported


@dataclass(frozen=True)
class Pocketfft:
    """``symbol(args, dims, steps, &forward)`` over ``dims = (rows, n in, n out)`` with byte
    ``steps`` (input row, scale, output row, input element, output element) and the scale
    ``fct``, once per index of ``batch``: ((size, input byte stride, output byte stride), ...).
    Its arrays: the input, the output."""
    symbol: str
    real: str
    dims: tuple
    steps: tuple
    fct: float
    forward: int
    batch: tuple

    n_arrays = 2

    def key(self):
        return ("pocketfft", self.symbol, self.real, self.dims, self.steps, self.fct, self.forward,
                self.batch)

    def describe(self) -> str:
        batch = "".join(f"{n} x " for n, *_ in self.batch)
        rows, n_in, n_out = self.dims
        return f"{self.symbol}: {batch}{rows} rows of {n_in} -> {n_out}, scale {self.fct!r}"

    def emit(self, b, mod, ptrs) -> None:
        from llvmlite import ir as L

        i8, i64 = L.IntType(8), L.IntType(64)
        i8p, fty = i8.as_pointer(), L.DoubleType() if self.real == "float64" else L.FloatType()
        fn = ir.declare(mod, self.symbol, L.VoidType(),
                        [i8p.as_pointer(), i64.as_pointer(), i64.as_pointer(), i8p])

        def array(ty, values):  # (in the entry block: the kernel starts there)
            p = b.alloca(ty, len(values))
            for j, v in enumerate(values):
                b.store(L.Constant(ty, v), b.gep(p, [L.Constant(i64, j)]))
            return p

        args, dims, steps = b.alloca(i8p, 3), array(i64, self.dims), array(i64, self.steps)
        fct, flag = array(fty, [self.fct]), array(i8, [self.forward])
        b.store(b.bitcast(fct, i8p), b.gep(args, [L.Constant(i64, 1)]))
        with table.batch_loop(b, self.batch, ptrs) as (src, dst):
            for j, p in ((0, src), (2, dst)):
                b.store(p, b.gep(args, [L.Constant(i64, j)]))
            b.call(fn, [args, dims, steps, flag])


def along(plan, loop: str, src, dst, axis: int, fct: float, forward: int, double=False) -> None:
    """pocketfft's ``loop`` along ``axis`` of region ``src`` into ``dst`` (the rows: the
    longest other axis; the rest a batch). ``double``: 32-bit data through the 64-bit loop,
    as NumPy's forward transforms (their scale, the int 1, selects it), cast around it."""
    if double and src.dtype.itemsize < (16 if src.dtype.kind == "c" else 8):
        wide = [plan.fresh(r.shape, r.dtype.kind + str(2 * r.dtype.itemsize)) for r in (src, dst)]
        plan.copy(wide[0], src)
        along(plan, loop, *wide, axis, fct, forward)
        return plan.copy(dst, wide[1])
    others = sorted((d for d in range(len(src.shape)) if d != axis), key=lambda d: -src.shape[d])
    rows, in_row, out_row = 1, 0, 0  # (one axis: one row)
    if others:
        rows, in_row, out_row = src.shape[others[0]], src.strides[others[0]], dst.strides[others[0]]
    dt = src.dtype if src.dtype.kind == "c" else dst.dtype
    real = np.dtype(f"f{dt.itemsize // 2}").name
    kernel = Pocketfft(
        f"funcad_pocketfft_{loop}_c{8 * dt.itemsize}", real, (rows, src.shape[axis], dst.shape[axis]),
        (in_row, 0, out_row, src.strides[axis], dst.strides[axis]), float(np.dtype(real).type(fct)), forward,
        tuple((src.shape[d], src.strides[d], dst.strides[d]) for d in sorted(others[1:]) if src.shape[d] > 1))
    plan.call(kernel.key(), lambda: kernel, [src, dst])


def fft(plan, e) -> None:
    """``lax.fft`` as NumPy's ``fftn``/``ifftn``/``rfftn``/``irfftn`` compute it."""
    if not pocketfft.AVAILABLE:
        raise Unsupported("NumPy's pocketfft loops not found")
    (x,), (out,) = e.inputs, e.outputs
    kind, lengths = e.params["fft_type"], e.params["fft_lengths"]
    r = plan.regions[out] = plan.fresh(out)
    if out.aval.size == 0:
        return
    src, nd = plan.region(x), x.aval.ndim
    leading = range(nd - 2, nd - len(lengths) - 1, -1)  # (NumPy's order: the last axis first)
    if kind == FftType.IRFFT:  # inverse c2c along the leading axes, then c2r along the last
        tmp = None
        for axis in reversed(leading):  # (irfftn's order; the first from x, the others in place)
            tmp = tmp or plan.fresh(src.shape, src.dtype)
            along(plan, "fft", src, tmp, axis, 1.0 / src.shape[axis], 0)
            src = tmp
        return along(plan, "irfft", src, r, nd - 1, 1.0 / lengths[-1], 0)
    n, inverse = lengths[-1], kind == FftType.IFFT
    loop = "fft" if kind != FftType.RFFT else "rfft_n_even" if n % 2 == 0 else "rfft_n_odd"
    along(plan, loop, src, r, nd - 1, 1.0 / n if inverse else 1.0, int(not inverse), not inverse)
    for axis in leading:  # in place on the result
        along(plan, "fft", r, r, axis, 1.0 / r.shape[axis] if inverse else 1.0, int(not inverse), not inverse)


table.register_single(fft_p, fft)
table_engine.SYMBOL_HOOKS.append(pocketfft.symbols)
