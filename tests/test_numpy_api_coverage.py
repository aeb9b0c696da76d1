"""Every public NumPy name is either implemented by funcad.numpy or resolves to a stand-in
that raises the clear UnsupportedFunctionError when called (never a bare AttributeError or
a wrong result); the functions of the NumPy-breadth issue are all implemented."""

import numpy as np
import pytest

import funcad as fa
import funcad.numpy as fnp
from funcad.errors import UnsupportedFunctionError
from funcad.numpy._unsupported import Unsupported

REQUIRED = """
var std average cumsum cumprod diff nansum nanmean amax amin ptp any all argmax argmin sort
argsort median quantile take take_along_axis diag diagonal trace tril triu flip fliplr flipud
roll rot90 tile repeat pad split array_split atleast_1d atleast_2d atleast_3d column_stack dstack
kron cross meshgrid where nonzero floor ceil round trunc fmod mod remainder sinc deg2rad rad2deg
fabs logaddexp2 heaviside nan_to_num isfinite isnan isinf
""".split()
REQUIRED_LINALG = "solve inv det slogdet cholesky eigh qr svd norm pinv matrix_power lstsq".split()


def _public_numpy_names(module):
    return sorted(n for n in dir(module) if not n.startswith("_"))


def test_required_functions_are_implemented():
    for name in REQUIRED:
        fn = getattr(fnp, name)
        assert callable(fn) and not isinstance(fn, Unsupported), name
        assert name in fnp.__all__, name
        assert fn.__doc__, f"funcad.numpy.{name} has no docstring"
    for name in REQUIRED_LINALG:
        fn = getattr(fnp.linalg, name)
        assert callable(fn) and not isinstance(fn, Unsupported), name
        assert fn.__doc__, f"funcad.numpy.linalg.{name} has no docstring"


@pytest.mark.parametrize("module,np_module", [(fnp, np), (fnp.linalg, np.linalg)], ids=["numpy", "linalg"])
def test_every_numpy_name_is_implemented_or_clearly_unsupported(module, np_module):
    implemented, unsupported = [], []
    for name in _public_numpy_names(np_module):
        value = getattr(module, name)  # never AttributeError for a NumPy name
        if isinstance(value, Unsupported):
            unsupported.append(name)
            with pytest.raises(UnsupportedFunctionError, match=name):
                value(np.ones(2))
        else:
            implemented.append(name)
    assert len(implemented) > (150 if module is fnp else 12), implemented
    assert unsupported, "expected some NumPy names to be unsupported"
    # Names funcad implements are functions, classes, modules or constants, not stand-ins.
    for name in implemented:
        assert not isinstance(getattr(module, name), Unsupported)


def test_unsupported_names_give_clear_errors_everywhere():
    with pytest.raises(UnsupportedFunctionError, match="numpy.random.normal"):
        fnp.random.normal()
    with pytest.raises(UnsupportedFunctionError, match="eig"):  # complex: concrete values only
        fa.grad(lambda a: fnp.sum(fnp.linalg.eig(a)[0]))(np.eye(2))
    with pytest.raises(UnsupportedFunctionError, match="numpy.unwrap"):
        fnp.unwrap(np.ones(3))
    # Calling plain NumPy on a traced value dispatches to the same error.
    with pytest.raises(UnsupportedFunctionError, match="unwrap"):
        fa.grad(lambda x: np.sum(np.unwrap(x)))(np.ones(3))
    # Non-NumPy names are ordinary AttributeErrors (hasattr works).
    assert not hasattr(fnp, "definitely_not_numpy")
    assert not hasattr(fnp.linalg, "definitely_not_numpy")
    with pytest.raises(AttributeError):
        fnp.__wrapped__  # noqa: B018


def test_numpy_functions_on_tracers_dispatch_to_funcad():
    x = np.array([3.0, 1.0, 2.0])
    g = fa.grad(lambda x: np.sum(np.sort(x) * np.arange(3.0)))(x)
    np.testing.assert_allclose(g, [2.0, 0.0, 1.0])
    g = fa.grad(lambda x: np.linalg.det(np.diag(x)))(x)
    np.testing.assert_allclose(g, [2.0, 6.0, 3.0])
    g = fa.grad(lambda x: np.median(x) + np.var(x, ddof=1))(x)
    np.testing.assert_allclose(g, np.array([0.0, 0.0, 1.0]) + 2 * (x - x.mean()) / 2)


def test_complex_valued_functions_need_holomorphic_true_as_in_jax():
    z = np.array([1.0 + 2.0j, 3.0])
    for transform in (fa.grad, fa.jacfwd, fa.jacrev):
        with pytest.raises(fa.errors.HolomorphicError, match="holomorphic=True"):
            transform(lambda x: fnp.sum(fnp.cumsum(x)))(z)
    y, t = fa.jvp(fnp.cumsum, (z,), (z,))
    np.testing.assert_allclose(y, np.cumsum(z))
    np.testing.assert_allclose(t, np.cumsum(z))
