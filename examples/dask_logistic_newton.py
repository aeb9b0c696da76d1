"""Logistic regression with an L2 penalty by Newton's method on a Dask cluster (funcad.dask).

The data are generated chunk by chunk from a seed, next to the workers: nothing is ever
materialised at once, so ``--rows 100_000_000`` (10^8 x 20, 16 GB) runs in bounded memory.
Each Newton iteration evaluates, on every chunk, one jitted program giving the chunk's value,
gradient and Hessian; they are summed by a tree reduction, and the 21 x 21 solve runs here.

    python examples/dask_logistic_newton.py                       # a LocalCluster, 2 workers
    python examples/dask_logistic_newton.py --rows 100_000_000 --scheduler tcp://host:8786
"""

import argparse

import numpy as np

import funcad.numpy as fnp
from funcad import dask as fdask

D, LAM = 20, 1e-3


def make_block(block_id, rows, seed):
    """Rows of [X | y] for one chunk, from (seed, chunk index): the same data on any cluster."""
    rng = np.random.default_rng([seed, block_id[0]])
    X = rng.standard_normal((rows, D))
    w_true = np.linspace(-1.0, 1.0, D)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-(X @ w_true + 0.5)))).astype(float)
    return np.column_stack([X, y])


def data(n_rows, chunk_rows, seed):
    import dask.array as da

    chunks = [chunk_rows] * (n_rows // chunk_rows) + ([n_rows % chunk_rows] if n_rows % chunk_rows else [])
    Z = da.map_blocks(lambda block_info=None: make_block(block_info[None]["chunk-location"],
                                                         block_info[None]["chunk-shape"][0], seed),
                      chunks=(tuple(chunks), (D + 1,)), dtype=float, meta=np.empty((0, D + 1)))
    return Z[:, :D], Z[:, D]


def nll(p, X, y):  # a chunk's negative log-likelihood, a mean over its rows
    z = X @ p["w"] + p["b"]
    return fnp.mean(fnp.logaddexp(0.0, z) - y * z)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=200_000)
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scheduler", default=None, help="a scheduler address, e.g. tcp://host:8786")
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    cluster = None if args.scheduler else LocalCluster(n_workers=2, threads_per_worker=1,
                                                       dashboard_address=":0")
    client = Client(args.scheduler or cluster)
    try:
        X, y = data(args.rows, args.chunk_rows, args.seed)
        print(f"{args.rows} rows x {D} columns in {X.numblocks[0]} chunks on "
              f"{len(client.scheduler_info()['workers'])} workers")
        res = fdask.newton(nll, {"w": np.zeros(D), "b": 0.0}, X, y, reduction="mean",
                           penalty=lambda p: 0.5 * LAM * fnp.sum(p["w"] ** 2), gtol=1e-8,
                           verbose=True)
        print(res.message)
        print("w =", np.round(res.x["w"], 3), " b =", round(float(res.x["b"]), 3))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return res


if __name__ == "__main__":
    main()
