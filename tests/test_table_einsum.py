"""einsum and batched matmul on the table backend (backend/table_einsum.py): (batched) ?gemm
and loop nests against NumPy's einsum/matmul and eager funcad."""

from __future__ import annotations

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.backend import dispatch

RNG = np.random.default_rng(0)


def _table(on_table, f, *args):
    """``jit(f)(*args)`` (checked to have run on the table backend) and its program's source."""
    out, program = on_table.run(f, *args)
    return out, program.source


def _close(got, want, dtype):
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 2e-5
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


def _arrays(shapes, dtype):
    return [RNG.normal(size=s).astype(dtype) for s in shapes]


# (spec, shapes, the path: "gemm" for ?gemm, "batched" for a batch of them, "loops")
EINSUM = [
    ("ij,jk->ik", [(40, 30), (30, 20)], "gemm"),
    ("ij,jk->ik", [(3, 4), (4, 5)], "loops"),
    ("ji,kj->ik", [(30, 40), (20, 30)], "gemm"),          # transposed operands: views
    ("ij,jk->ki", [(40, 30), (30, 20)], "gemm"),          # a transposed output
    ("bij,bjk->bik", [(5, 20, 16), (5, 16, 18)], "batched"),
    ("bij,bkj->kbi", [(5, 20, 16), (5, 18, 16)], "batched"),
    ("nhwc,cd->nhwd", [(4, 6, 7, 16), (16, 32)], "gemm"),  # rows n, h, w merge into one
    ("nhwd,nhwc->cd", [(4, 6, 7, 32), (4, 6, 7, 16)], "gemm"),
    ("abcd,cd->ab", [(10, 12, 8, 6), (8, 6)], "gemm"),     # two summed letters merge
    ("ii->", [(5, 5)], "loops"),                           # trace
    ("ii->i", [(5, 5)], "loops"),                          # diagonal
    ("iij,jk->ik", [(6, 6, 4), (4, 3)], "loops"),
    ("ijk->kji", [(2, 3, 4)], "loops"),
    ("ij->", [(3, 4)], "loops"),
    ("i,j->ij", [(5,), (7,)], "loops"),                    # outer product
    ("i,i->", [(9,), (9,)], "loops"),                      # 1-D dot
    ("i,ij,j->", [(4,), (4, 5), (5,)], "loops"),
    ("ij,ij->ij", [(3, 4), (3, 4)], "loops"),
    ("i,j->", [(3,), (4,)], "loops"),                      # each letter summed in one operand
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("spec,shapes,path", EINSUM)
def test_einsum(on_table, spec, shapes, path, dtype):
    xs = _arrays(shapes, dtype)
    got, source = _table(on_table, lambda *a: fnp.einsum(spec, *a), *xs)
    _close(got, np.einsum(spec, *xs), dtype)
    _close(got, fnp.einsum(spec, *xs), dtype)
    assert ("?gemm per matrix" in source) == (path == "batched")
    assert ("?gemm" in source) == (path != "loops")


def test_einsum_of_strided_views_and_mixed_dtypes(on_table):
    """Slices whose rows do not merge are copied for ?gemm; float32 with float64 is loops."""
    x, w = _arrays([(4, 14, 14, 16), (16, 32)], np.float64)
    f = lambda x, w: fnp.einsum("nhwc,cd->nhwd", x[:, 1:13, 2:14, :], w)  # noqa: E731
    got, source = _table(on_table, f, x, w)
    _close(got, np.einsum("nhwc,cd->nhwd", x[:, 1:13, 2:14, :], w), np.float64)
    assert "?gemm" in source
    dispatch._executables.clear()
    a, b = _arrays([(3, 4)], np.float32)[0], _arrays([(4, 5)], np.float64)[0]
    got, _ = _table(on_table, lambda a, b: fnp.einsum("ij,jk->ik", a, b), a, b)
    _close(got, np.einsum("ij,jk->ik", a, b), np.float64)


# (shapes, path)
MATMUL = [
    ([(3, 20, 16), (3, 16, 18)], "batched"),
    ([(2, 1, 20, 16), (3, 16, 18)], "batched"),       # broadcast batch axes, a missing one
    ([(20, 16), (4, 16, 18)], "batched"),             # a matrix against a stack
    ([(4, 20, 16), (16, 18)], "gemm"),                # a stack against a matrix: rows merge
    ([(2, 3, 4, 5), (2, 1, 5, 2)], "loops"),          # tiny matrices
    ([(16,), (3, 16, 18)], "loops"),                  # a vector against a stack
    ([(3, 20, 16), (16,)], "gemm"),
    ([(2, 3, 4, 1), (1, 1, 5)], "loops"),             # a contraction of length 1
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes,path", MATMUL)
def test_batched_matmul(on_table, shapes, path, dtype):
    x, y = _arrays(shapes, dtype)
    got, source = _table(on_table, fnp.matmul, x, y)
    _close(got, np.matmul(x, y), dtype)
    _close(got, fnp.matmul(x, y), dtype)
    assert ("?gemm per matrix" in source) == (path == "batched")
    assert ("?gemm" in source) == (path != "loops")


def test_batched_matmul_of_transposed_stack(on_table):
    """A stack transposed by a view is taken by ?gemm as it is, transposed."""
    x, y = _arrays([(5, 16, 20), (5, 16, 18)], np.float64)
    got, source = _table(on_table, lambda x, y: fnp.swapaxes(x, 1, 2) @ y, x, y)
    _close(got, np.swapaxes(x, 1, 2) @ y, np.float64)
    assert "?gemm per matrix" in source


def test_convnet_training_step(on_table):
    """The convnet of benchmarks/compile_programs.py (3x3 convolutions as einsums over shifted
    slices, 2x2 average pooling, a dense layer, softmax): its gradient runs wholly on the
    table backend and equals eager funcad."""
    def conv(x, w):
        n, hh, ww, _ = x.shape
        out = 0.0
        for di in range(3):
            for dj in range(3):
                out = out + fnp.einsum("nhwc,cd->nhwd", x[:, di:di + hh - 2, dj:dj + ww - 2, :], w[di, dj])
        return out

    def pool(x):
        n, hh, ww, c = x.shape
        return fnp.mean(fnp.reshape(x, (n, hh // 2, 2, ww // 2, 2, c)), axis=(2, 4))

    def loss(params, images, labels):
        w1, w2, wd, bd = params
        h = pool(fnp.maximum(conv(images, w1), 0.0))
        h = pool(fnp.maximum(conv(h, w2), 0.0))
        logits = fnp.reshape(h, (h.shape[0], -1)) @ wd + bd
        return -fnp.mean(fnp.sum(fa.nn.log_softmax(logits, axis=1) * labels, axis=1))

    rng = np.random.default_rng(3)
    params = (rng.normal(0, 0.3, (3, 3, 1, 4)), rng.normal(0, 0.2, (3, 3, 4, 8)),
              rng.normal(0, 0.1, (2 * 2 * 8, 10)), np.zeros(10))
    images, labels = rng.uniform(0, 1, (4, 14, 14, 1)), np.eye(10)[rng.integers(0, 10, 4)]
    got, _ = _table(on_table, fa.grad(loss), params, images, labels)
    for g, w in zip(got, fa.grad(loss)(params, images, labels)):
        _close(g, w, np.float64)


def test_random_specs_in_one_program(on_table):
    """Random two-operand specs (transposes, repeated letters, broadcast size-1 axes, summed
    letters of one operand, large and small) in one program, against np.einsum."""
    rng = np.random.default_rng(1)
    sizes = dict(zip("abcdefg", [1, 2, 3, 5, 7, 16, 24]))
    specs, operands = [], []
    for _ in range(30):
        subs = ["".join(rng.choice(list(sizes), rng.integers(0, 4))) for _ in range(2)]
        used = sorted(set("".join(subs)))
        out = "".join(c for c in rng.permutation(used) if rng.random() < 0.6)
        specs.append(f"{subs[0]},{subs[1]}->{out}")
        operands.append([rng.normal(size=[sizes[c] for c in s]) for s in subs])
    specs.append("efg,egd->dfe")  # and a batch of products, its output transposed
    operands.append([rng.normal(size=[sizes[c] for c in s]) for s in ("efg", "egd")])

    def f(ops):
        return [fnp.einsum(spec, *xs) for spec, xs in zip(specs, ops)]

    got, source = _table(on_table, f, operands)
    assert "?gemm per matrix" in source and "def k0(" in source  # both paths were taken
    for spec, xs, g in zip(specs, operands, got):
        _close(g, np.einsum(spec, *xs), np.float64)


def test_empty_and_scalar_contractions(on_table):
    x, y = np.ones((30, 0)), np.ones((0, 40))
    f = lambda x, y: (fnp.einsum("ij,jk->ik", x, y), x @ y, fnp.einsum("ij,jk->", x, y))  # noqa: E731
    got, _ = _table(on_table, f, x, y)
    for g, w in zip(got, (np.zeros((30, 40)), np.zeros((30, 40)), np.zeros(()))):
        _close(g, w, np.float64)
    dispatch._executables.clear()
    a, b = np.float64(1.5), np.arange(3.0)
    got, _ = _table(on_table, lambda a, b: fnp.einsum(",i->i", a, b), a, b)
    _close(got, 1.5 * b, np.float64)
