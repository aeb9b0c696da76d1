"""What lets LLVM vectorize funcad's loops: vector math functions and reassociable sums.

The loop IR calls ``_vm.exp(x)``, ``_vm.tanh(x)``... for the transcendental functions and
``acc = _vm.radd(acc, v)`` to accumulate a floating-point sum; loopir.LLVM writes them with
:func:`math_function` and a ``reassoc`` addition.

**Vector math.** A loop that calls libm's scalar ``exp`` makes one call per element, and
LLVM's loop vectorizer cannot widen it: it knows no vector version. The elementwise chain
of the benchmarks (tanh, exp, log, sin, cos per element) ran ~33 ns per element that way,
all of it in libm. glibc ships vector versions of these functions in libmvec
(``_ZGVeN8v_exp``: eight doubles in one AVX-512 register, ``_ZGVdN4v_exp``: four in an AVX2 one),
which NumPy, XLA and PyTorch's counterparts (SVML, Eigen, Sleef) resemble. Here
``_vm.exp`` calls a small function of the program's own module, ``funcad_vm_exp_f64``, marked
with LLVM's ``vector-function-abi-variant`` attribute naming its libmvec counterpart. The loop
vectorizer then widens the whole loop body, calls included; an element the vector loop does
not reach (the remainder) goes through the scalar function, whose body calls the SAME vector
routine on a splat of its argument. So every element gets the same result whatever its
position and the array's length, and each function has one implementation per machine.
Nothing global changes in LLVM.

Accuracy: libmvec's functions are within 4 ulp (glibc's manual; most are within 1-2 ulp,
measured in tests/test_vecmath.py against NumPy and correctly rounded references), against
glibc's scalar functions' 1 ulp; NumPy's own SIMD kernels (SVML, used for float64 on AVX-512
machines) are in the same class. Special values (inf, nan, signed zeros, overflow, huge
arguments of sin and cos) follow C99 as glibc's scalar functions do. ``FUNCAD_VECTOR_MATH=0``
turns it off (the scalar libm calls come back), ``FUNCAD_VECTOR_MATH=avx2`` takes the AVX2
versions on an AVX-512 machine; it is off where libmvec or the needed x86 ISA is missing.
:data:`ISA` says what is in use.

**Sums.** ``acc += v`` in a loop is an ordered chain of additions: LLVM may not reorder it, so
a loop holding a sum cannot be vectorized at all (its elementwise work included). ``radd``
is an addition carrying LLVM's ``reassoc`` flag, which lets the vectorizer keep one partial sum
per lane and add them at the end: a different rounding order than sequential summation (not a
worse one: NumPy's pairwise summation is different again). Only these additions carry the
flag; every other operation of the program keeps IEEE semantics.
"""

from __future__ import annotations

import ctypes.util
import os
import platform
import sys

import llvmlite.binding as ll
from llvmlite import ir

#: NumPy's name -> (libm's name, number of arguments): the functions with libmvec versions.
FUNCTIONS = {
    "exp": ("exp", 1), "exp2": ("exp2", 1), "expm1": ("expm1", 1),
    "log": ("log", 1), "log2": ("log2", 1), "log10": ("log10", 1), "log1p": ("log1p", 1),
    "sin": ("sin", 1), "cos": ("cos", 1), "tan": ("tan", 1),
    "arcsin": ("asin", 1), "arccos": ("acos", 1), "arctan": ("atan", 1),
    "sinh": ("sinh", 1), "cosh": ("cosh", 1), "tanh": ("tanh", 1),
    "arcsinh": ("asinh", 1), "arccosh": ("acosh", 1), "arctanh": ("atanh", 1),
    "cbrt": ("cbrt", 1), "arctan2": ("atan2", 2), "hypot": ("hypot", 2), "power": ("pow", 2),
}


def _load(path: str | None) -> bool:
    if path is None:  # find_library found nothing
        return False
    try:
        ll.load_library_permanently(path)
        return True
    except RuntimeError:
        return False


def _isa() -> tuple[str, int] | None:
    """libmvec's ISA letter and the float64 lane count for this host: ``("e", 8)`` on
    AVX-512, ``("d", 4)`` on AVX2; None where vector math is off or unavailable."""
    choice = os.environ.get("FUNCAD_VECTOR_MATH", "").strip().lower()
    if choice in ("0", "false", "no", "off"):
        return None
    if not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")):
        return None
    # glibc's soname first: ctypes.util.find_library runs `ldconfig -p` in a subprocess
    # (2-14 ms of every process's first program), needed only where the soname differs.
    if not (_load("libmvec.so.1") or _load(ctypes.util.find_library("mvec"))):
        return None
    features = ll.get_host_cpu_features()
    if features.get("avx512f") and choice != "avx2":
        isa = ("e", 8)
    elif features.get("avx2") and features.get("fma"):
        isa = ("d", 4)
    else:
        return None
    if not all(ll.address_of_symbol(f"_ZGV{isa[0]}N{isa[1]}{'v' * k}_{c}") for c, k in FUNCTIONS.values()):
        return None  # an older glibc (tanh, log1p... came in 2.35)
    return isa


_ISA = _isa()
#: What the vector math uses: ``"libmvec-avx512"``, ``"libmvec-avx2"`` or ``"off"``.
ISA = "off" if _ISA is None else {"e": "libmvec-avx512", "d": "libmvec-avx2"}[_ISA[0]]
ENABLED = _ISA is not None


def _scalar_function(module, c_name: str, nargs: int, fty) -> ir.Function:
    """This module's ``funcad_vm_<name>_<f32|f64>``: the libmvec routine on a splat of its
    argument(s), lane 0 of the result; tagged so the vectorizer calls the routine directly."""
    letter, lanes64 = _ISA
    lanes = lanes64 * (2 if fty == ir.FloatType() else 1)
    suffix = "f" if fty == ir.FloatType() else ""
    vname = f"_ZGV{letter}N{lanes}{'v' * nargs}_{c_name}{suffix}"
    sname = f"funcad_vm_{c_name}_{'f32' if suffix else 'f64'}"
    fn = module.globals.get(sname)
    if fn is not None:
        return fn
    vty = ir.VectorType(fty, lanes)
    vfn = module.globals.get(vname) or ir.Function(module, ir.FunctionType(vty, [vty] * nargs), vname)
    for a in ("nounwind", "readnone"):
        vfn.attributes.add(a)
    fn = ir.Function(module, ir.FunctionType(fty, [fty] * nargs), sname)
    # Not internal: LLVM would be free to change an internal function's signature (drop an
    # argument every caller passes as the same constant), and the mapping would no longer fit.
    fn.linkage = "linkonce_odr"
    for a in ("nounwind", "readnone", "noinline"):
        fn.attributes.add(a)
    # Every width the vectorizer may choose: LLVM picks the vector factor from its cost model
    # and the target's preferred width (256 bits on Intel's AVX-512 server cores: there, with
    # only the 512-bit variant declared, no loop calling exp was vectorized and every element
    # went through this scalar function, 19 ms for the benchmarks' 1e6-element chain). The
    # narrower variants widen to the one routine and take its first lanes, so every element
    # still gets the same result, whatever width the loop runs at.
    mappings = [f"_ZGV_LLVM_N{lanes}{'v' * nargs}_{sname}({vname})"]
    n = lanes // 2
    while n >= 2:
        narrow = _narrow_variant(module, vfn, f"{sname}_v{n}", nargs, fty, lanes, n)
        mappings.append(f"_ZGV_LLVM_N{n}{'v' * nargs}_{sname}({narrow.name})")
        n //= 2
    # A string attribute llvmlite's closed list does not know: written into the IR as is.
    set.add(fn.attributes, f'"vector-function-abi-variant"="{",".join(mappings)}"')
    b = ir.IRBuilder(fn.append_basic_block())
    zero = ir.Constant(ir.IntType(32), 0)
    splats = []
    for arg in fn.args:
        one = b.insert_element(ir.Constant(vty, ir.Undefined), arg, zero)
        splats.append(b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)))
    b.ret(b.extract_element(b.call(vfn, splats), zero))
    return fn


def _narrow_variant(module, vfn, name: str, nargs: int, fty, lanes: int, n: int) -> ir.Function:
    """``name(<n x fty>...)``: the ``lanes``-wide routine ``vfn`` on its arguments' ``n`` lanes
    (made once, with its scalar function)."""
    nty, wty = ir.VectorType(fty, n), ir.VectorType(fty, lanes)
    fn = ir.Function(module, ir.FunctionType(nty, [nty] * nargs), name)
    fn.linkage = "weak_odr"  # (linkonce_odr: deleted as unused before the vectorizer runs)
    for a in ("nounwind", "readnone"):
        fn.attributes.add(a)
    b = ir.IRBuilder(fn.append_basic_block())
    i32 = ir.IntType(32)
    widen = ir.Constant(ir.VectorType(i32, lanes), [k if k < n else n for k in range(lanes)])
    wide = [b.shuffle_vector(a, ir.Constant(nty, ir.Undefined), widen) for a in fn.args]
    out = b.call(vfn, wide)
    first = ir.Constant(ir.VectorType(i32, n), list(range(n)))
    b.ret(b.shuffle_vector(out, ir.Constant(wty, ir.Undefined), first))
    return fn


def math_function(module, np_name: str, fty) -> ir.Function:
    """The LLVM function ``_vm.<np_name>`` calls at float type ``fty`` in ``module`` (for
    code written directly as IR, backend/loopir.py): the vectorizable scalar function, or
    libm's own where vector math is off."""
    c_name, nargs = FUNCTIONS[np_name]
    if _ISA is not None:
        return _scalar_function(module, c_name, nargs, fty)
    name = c_name + ("f" if fty == ir.FloatType() else "")
    return module.globals.get(name) or ir.Function(module, ir.FunctionType(fty, [fty] * nargs), name)
