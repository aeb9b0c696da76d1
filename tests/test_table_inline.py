"""custom_jvp / custom_vjp / checkpoint calls inside loop bodies and cond branches: the table
inlines them (table_host.inline_calls), so the loop compiles natively (no host step running
the call eagerly at every iteration); jit against eager and closed forms."""

import numpy as np

import funcad as fa
import funcad.numpy as fnp
from funcad import lax


@fa.custom_jvp
def softplus(x):
    return fnp.log1p(fnp.exp(x))


softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] / (1.0 + fnp.exp(-p[0]))))


@fa.custom_vjp
def square(x):
    return x * x


square.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * x * g,))


def program(x):
    ys = lax.scan(lambda c, xi: (c + softplus(xi * c), square(xi)), 0.5, x)
    w = lax.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, square(s[1]) * 0.5), (0, x[0]))[1]
    c = lax.cond(x[1] > 0.0, fa.checkpoint(lambda v: fnp.sin(v) * v), lambda v: v, x)
    return ys[0] + fnp.sum(ys[1]) + w + fnp.sum(c)


def test_calls_in_bodies_compile_natively_and_match_eager():
    x = np.array([0.3, 0.7, -0.2])
    lowered = fa.jit(program).lower(x).source
    assert "host[" not in lowered and "custom_jvp_call" not in lowered
    np.testing.assert_allclose(fa.jit(program)(x), program(x), rtol=1e-13)
    np.testing.assert_allclose(fa.jit(fa.grad(program))(x), fa.grad(program)(x), rtol=1e-12)
    # square's bwd is 2 x g: the scan's ys sum has derivative 2 x
    g = fa.jit(fa.grad(lambda x: fnp.sum(lax.scan(lambda c, xi: (c, square(xi)), 0.0, x)[1])))(x)
    np.testing.assert_allclose(g, 2.0 * x, rtol=1e-15)
