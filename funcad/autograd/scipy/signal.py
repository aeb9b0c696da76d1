"""``funcad.autograd.scipy.signal``: funcad.scipy.signal under autograd's module name."""

import importlib as _importlib

try:
    _mod = _importlib.import_module("funcad.scipy.signal")
except ImportError as _e:
    raise ImportError("funcad.autograd.scipy.signal: funcad has no funcad.scipy.signal in this "
                      "version, so autograd.scipy.signal has no counterpart yet.") from _e
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})


def __getattr__(name):
    return getattr(_mod, name)


def convolve(A, B, axes=None, dot_axes=((), ()), mode="full"):
    """autograd's ``convolve`` (not SciPy's): convolve ``A`` and ``B`` along the pairs of
    ``axes`` (``[A's axes, B's axes]``, default all) in ``mode`` 'full' or 'valid', summing
    over the pairs of ``dot_axes``. The result's axes are A's other axes, then B's, then the
    convolved ones, as in autograd. Differentiable in both arrays.

    >>> import numpy as np
    >>> from funcad.autograd.scipy.signal import convolve
    >>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]), mode="full")
    array([0., 1., 2., 3.])
    """
    import itertools

    from ... import numpy as fnp

    if mode not in ("valid", "full"):
        raise ValueError(f"convolve: mode {mode!r} is not implemented (autograd's convolve has "
                         "'full' and 'valid')")
    A, B = fnp.asarray(A), fnp.asarray(B)
    if axes is None:
        axes = [list(range(A.ndim)), list(range(A.ndim))]
    axes, dot_axes = [list(axes[0]), list(axes[1])], [list(dot_axes[0]), list(dot_axes[1])]
    if any(B.shape[b] < A.shape[a] for a, b in zip(*axes)):  # A must be the smaller one
        if mode == "valid" and not all(B.shape[b] <= A.shape[a] for a, b in zip(*axes)):
            raise ValueError("convolve: one array must be larger than the other along all "
                             f"convolved dimensions (shapes {A.shape} and {B.shape}, axes {axes})")
        i1 = B.ndim - len(dot_axes[1]) - len(axes[1])
        i2 = i1 + A.ndim - len(dot_axes[0]) - len(axes[0])
        i3 = i2 + len(axes[0])
        perm = list(range(i1, i2)) + list(range(i1)) + list(range(i2, i3))
        return fnp.transpose(convolve(B, A, axes[::-1], dot_axes[::-1], mode), perm)
    if mode == "full":
        pads = [(0, 0)] * B.ndim
        for a, b in zip(*axes):
            pads[b] = (A.shape[a] - 1, A.shape[a] - 1)
        B = fnp.pad(B, pads)
    sizes = [B.shape[b] - A.shape[a] + 1 for a, b in zip(*axes)]
    a_rest = [i for i in range(A.ndim) if i not in axes[0]]
    b_order = [i for i in range(B.ndim) if i not in axes[1]] + axes[1]
    B = fnp.transpose(B, b_order)  # B's other axes, then the convolved ones
    A = fnp.flip(A, axis=tuple(axes[0])) if axes[0] else A
    dots = ([a_rest.index(d) for d in dot_axes[0]], [b_order.index(d) for d in dot_axes[1]])
    nconv, out = len(sizes), None
    for k in itertools.product(*[range(A.shape[a]) for a in axes[0]]):
        a_idx = [slice(None)] * A.ndim
        for a, ki in zip(axes[0], k):
            a_idx[a] = ki
        b_idx = (Ellipsis,) + tuple(slice(ki, ki + n) for ki, n in zip(k, sizes)) if nconv else ()
        term = fnp.tensordot(A[tuple(a_idx)], B[b_idx] if nconv else B, dots)
        out = term if out is None else out + term
    return out
