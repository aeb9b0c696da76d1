"""Fit the initial condition of viscous Burgers' equation by gradient descent through a spectral solver.

    u_t + u u_x = nu u_xx  on  [0, 2 pi), periodic.

The solver is pseudo-spectral: each time step takes the FFT of ``u`` and of ``u^2 / 2`` (the
flux), treats the diffusion implicitly and the flux explicitly in Fourier space,

    u_hat <- (u_hat - dt i k flux_hat) / (1 + dt nu k^2),

and transforms back, with ``funcad.numpy.fft.rfft``/``irfft`` inside a ``lax.fori_loop``.
An observation of ``u`` at time ``T`` is made from a known initial condition; starting from
zero, gradient descent on ``||solve(u0) - observed||^2`` (gradients through all the FFTs and
time steps, in reverse mode) recovers the initial condition. Everything runs under jit: the
time loop is compiled, and the FFTs inside it call pocketfft (NumPy's FFT) from the compiled
code.

Run: python examples/spectral_pde.py
"""

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad import lax

N, NU, T, STEPS = 64, 0.05, 0.5, 50
X = 2 * np.pi * np.arange(N) / N
K = np.fft.rfftfreq(N, d=1.0 / N)  # wavenumbers 0..N/2
DT = T / STEPS


def solve(u0, steps=STEPS):
    """``u`` at time ``steps * DT`` from ``u0`` on the grid ``X``."""
    ik_dt = 1j * K * DT
    implicit = 1.0 / (1.0 + DT * NU * K ** 2)

    def step(_, u):
        u_hat = fnp.fft.rfft(u)
        flux_hat = fnp.fft.rfft(0.5 * u * u)
        return fnp.fft.irfft((u_hat - ik_dt * flux_hat) * implicit, n=N)

    return lax.fori_loop(0, steps, step, u0)


def loss(u0, observed):
    return fnp.mean((solve(u0) - observed) ** 2)


def main(iterations=150, learning_rate=30.0, verbose=True):
    true_u0 = 0.5 * np.sin(X) + 0.25 * np.cos(2 * X) + 0.1 * np.sin(3 * X)
    observed = np.asarray(fa.jit(solve)(true_u0))
    value_and_grad = fa.jit(fa.value_and_grad(loss))
    u0 = np.zeros(N)
    losses = []
    for it in range(iterations):
        value, g = value_and_grad(u0, observed)
        losses.append(float(value))
        u0 = u0 - learning_rate * np.asarray(g)
        if verbose and (it % 50 == 0 or it == iterations - 1):
            print(f"iteration {it:4d}  loss {float(value):.3e}")
    error = np.max(np.abs(u0 - true_u0))
    if verbose:
        print(f"max |u0 - true u0| = {error:.2e}")
    return np.array(losses), u0, true_u0


if __name__ == "__main__":
    main()
