"""Graph colorings of sparsity patterns, for compressed Jacobians and Hessians.

Gebremedhin, Manne & Pothen, "What color is your Jacobian? Graph coloring for computing
derivatives", SIAM Review 47 (2005):

* :func:`color_columns` (partial distance-2 coloring of the column side of the bipartite
  graph): columns that share no row get one colour, and ``J @ S`` (one JVP per colour) holds
  every nonzero of ``J`` once. :func:`color_rows` is the same on ``J.T`` (one VJP per colour).
* :func:`color_star` (star coloring of the adjacency graph of a symmetric pattern): a
  distance-1 coloring where every path on four vertices uses at least three colours. Then
  each ``H[i, j]`` is read directly from ``H @ S`` at ``(i, colour(j))`` or at
  ``(j, colour(i))`` (:func:`decompress_symmetric`). A tridiagonal pattern takes 3 colours
  (column coloring also needs 3; a distance-2 coloring of the graph would too), an arrow
  pattern 2 (column coloring: all ``n``).

The greedy loops run compiled by Numba (cached on disk), in a vertex ``order``:
``"natural"``, ``"largest_first"`` (by degree, descending) or ``"smallest_last"``
(Matula & Beck: repeatedly remove a vertex of least remaining degree; colour in reverse).
"""

from __future__ import annotations

import functools

import numpy as np

from ._lazy import LazyModule
from .errors import ArgumentError

sp = LazyModule("scipy.sparse")

__all__ = ["color_columns", "color_rows", "color_star", "decompress_columns", "decompress_rows",
           "decompress_symmetric", "seed_matrix", "symmetric_take"]

_ORDERS = ("natural", "largest_first", "smallest_last")


@functools.cache
def _kernels():
    import numba

    from ._numba_cache import KernelCache

    def jit(fn):  # cached under funcad's cache directory (Numba's cache=True: beside funcad)
        return KernelCache.attach(numba.njit(nogil=True)(fn))

    @jit
    def distance2(order, c_ptr, c_idx, r_ptr, r_idx):
        # Columns' rows (c_*), rows' columns (r_*); colour 0 is "not yet".
        n = len(order)
        color = np.zeros(n, np.int64)
        mark = np.full(n + 1, -1, np.int64)
        for v in order:
            for p in range(c_ptr[v], c_ptr[v + 1]):
                r = c_idx[p]
                for q in range(r_ptr[r], r_ptr[r + 1]):
                    mark[color[r_idx[q]]] = v
            c = 1
            while mark[c] == v:
                c += 1
            color[v] = c
        return color - 1

    @jit
    def star(order, ptr, idx):
        # Gebremedhin, Manne & Pothen (2005), Algorithm 4.1: forbid a neighbour's colour, and
        # a colour that would complete a two-coloured path on four vertices.
        n = len(order)
        color = np.zeros(n, np.int64)
        mark = np.full(n + 1, -1, np.int64)
        for v in order:
            for p in range(ptr[v], ptr[v + 1]):
                w = idx[p]
                if w == v:
                    continue
                cw = color[w]
                if cw != 0:
                    mark[cw] = v
                for q in range(ptr[w], ptr[w + 1]):
                    x = idx[q]
                    if x == v or x == w or color[x] == 0:
                        continue
                    if cw == 0:
                        mark[color[x]] = v
                    else:
                        for s in range(ptr[x], ptr[x + 1]):
                            y = idx[s]
                            if y != w and y != x and color[y] == cw:
                                mark[color[x]] = v
                                break
            c = 1
            while mark[c] == v:
                c += 1
            color[v] = c
        return color - 1

    @jit
    def smallest_last(ptr, idx):
        n = len(ptr) - 1
        deg = np.zeros(n, np.int64)
        for v in range(n):
            deg[v] = ptr[v + 1] - ptr[v]
        maxd = deg.max() if n else 0
        # Buckets of vertices by degree, as doubly linked lists.
        head = np.full(maxd + 1, -1, np.int64)
        nxt = np.full(n, -1, np.int64)
        prv = np.full(n, -1, np.int64)
        for v in range(n):
            nxt[v] = head[deg[v]]
            if head[deg[v]] >= 0:
                prv[head[deg[v]]] = v
            head[deg[v]] = v
        removed = np.zeros(n, np.bool_)
        order = np.empty(n, np.int64)
        low = 0
        for k in range(n - 1, -1, -1):
            while head[low] < 0:
                low += 1
            v = head[low]
            head[low] = nxt[v]
            if nxt[v] >= 0:
                prv[nxt[v]] = -1
            removed[v] = True
            order[k] = v
            for p in range(ptr[v], ptr[v + 1]):
                w = idx[p]
                if removed[w]:
                    continue
                d = deg[w]  # move w from bucket d to d - 1
                if prv[w] >= 0:
                    nxt[prv[w]] = nxt[w]
                else:
                    head[d] = nxt[w]
                if nxt[w] >= 0:
                    prv[nxt[w]] = prv[w]
                deg[w] = d - 1
                prv[w] = -1
                nxt[w] = head[d - 1]
                if head[d - 1] >= 0:
                    prv[head[d - 1]] = w
                head[d - 1] = w
            if low > 0:
                low -= 1
        return order

    return distance2, star, smallest_last


def _order(order: str, adj: sp.csr_matrix) -> np.ndarray:
    n = adj.shape[0]
    if order == "natural":
        return np.arange(n, dtype=np.int64)
    if order == "largest_first":
        return np.argsort(-np.diff(adj.indptr), kind="stable").astype(np.int64)
    if order == "smallest_last":
        return _kernels()[2](adj.indptr.astype(np.int64), adj.indices.astype(np.int64))
    raise ArgumentError(f"coloring: order must be one of {_ORDERS}, got {order!r}.")


def _pattern(P, name) -> sp.csr_matrix:
    P = sp.csr_matrix(P, dtype=bool)
    P.eliminate_zeros()
    P.sort_indices()
    return P


def color_columns(P, order: str = "natural") -> np.ndarray:
    """Colours ``0..k-1`` of the columns of the pattern ``P`` so that no two columns of one
    colour share a row (``J @ seed_matrix(colors)`` then holds every nonzero once).

    >>> import numpy as np, scipy.sparse as sp
    >>> color_columns(sp.diags([1, 1, 1], [-1, 0, 1], shape=(5, 5), dtype=bool))
    array([0, 1, 2, 0, 1])
    """
    P = _pattern(P, "color_columns")
    C = P.tocsc()
    C.sort_indices()
    # The conflict graph's adjacency (columns sharing a row) orders the vertices.
    adj = (P.T @ P).tocsr() if order != "natural" else None
    return _kernels()[0](_order(order, adj) if adj is not None else np.arange(P.shape[1]),
                         C.indptr.astype(np.int64), C.indices.astype(np.int64),
                         P.indptr.astype(np.int64), P.indices.astype(np.int64))


def color_rows(P, order: str = "natural") -> np.ndarray:
    """Colours of the rows of ``P`` so that no two rows of one colour share a column (one VJP
    per colour: ``seed_matrix(colors).T @ J`` holds every nonzero once)."""
    return color_columns(sp.csr_matrix(P).T, order)


def color_star(P, order: str = "natural") -> np.ndarray:
    """A star coloring of the symmetric pattern ``P`` (the diagonal is ignored): colours
    ``0..k-1`` such that ``H @ seed_matrix(colors)`` determines ``H`` (see
    :func:`decompress_symmetric`).

    >>> import scipy.sparse as sp
    >>> int(color_star(sp.diags([1, 1, 1], [-1, 0, 1], shape=(8, 8), dtype=bool)).max()) + 1
    3
    """
    P = _pattern(P, "color_star")
    if P.shape[0] != P.shape[1]:
        raise ArgumentError(f"color_star: the pattern must be square (a Hessian's), got shape {P.shape}.")
    P = (P + P.T).tocsr()
    P.sort_indices()
    ptr, idx = P.indptr.astype(np.int64), P.indices.astype(np.int64)
    return _kernels()[1](_order(order, P), ptr, idx)


def seed_matrix(colors: np.ndarray, dtype=np.float64) -> np.ndarray:
    """The ``n x k`` seed matrix: ``S[j, colors[j]] = 1``."""
    k = int(colors.max()) + 1 if len(colors) else 0
    S = np.zeros((len(colors), k), dtype)
    S[np.arange(len(colors)), colors] = 1
    return S


def decompress_columns(P, colors, B) -> sp.csr_matrix:
    """``J`` with pattern ``P`` from ``B = J @ seed_matrix(colors)``."""
    P = sp.csr_matrix(P)
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    return _with_values(P, np.asarray(B)[rows, colors[P.indices]])


def decompress_rows(P, colors, B) -> sp.csr_matrix:
    """``J`` with pattern ``P`` from ``B = seed_matrix(colors).T @ J``."""
    P = sp.csr_matrix(P)
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    return _with_values(P, np.asarray(B)[colors[rows], P.indices])


def decompress_symmetric(P, colors, B, take=None) -> sp.csr_matrix:
    """The symmetric ``H`` with pattern ``P`` from ``B = H @ seed_matrix(colors)``, for a star
    coloring: ``H[i, j]`` is ``B[i, colors[j]]`` when ``j`` is the only neighbour of ``i`` of its
    colour, else ``B[j, colors[i]]`` (where the star coloring makes ``i`` the only one).
    ``take`` is :func:`symmetric_take` of ``(P, colors)``, when computed beforehand."""
    P = sp.csr_matrix(P)
    B = np.ascontiguousarray(B)
    if take is None:
        take = symmetric_take(P, colors, B.shape[1] if B.ndim == 2 else 1)
    return _with_values(P, B.ravel()[take])


def symmetric_take(P, colors, k: int) -> np.ndarray:
    """Where each nonzero of ``P`` (in CSR order) is read from ``B.ravel()`` (``B``: n x k)."""
    P = sp.csr_matrix(P)
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    cols = P.indices
    key = rows * k + colors[cols]
    unique = np.bincount(key, minlength=P.shape[0] * k)[key] == 1
    return np.where(unique, key, cols * k + colors[rows])


def _with_values(P, vals):
    # Copies of the index arrays: a user's H.eliminate_zeros() must not change the plan's pattern.
    return sp.csr_matrix((np.asarray(vals), P.indices.copy(), P.indptr.copy()), shape=P.shape, copy=False)
