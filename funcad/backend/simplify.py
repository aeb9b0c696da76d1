"""IR passes run before code generation: each takes a jaxpr and returns a new, equivalent one.

* :func:`inline_jit`       nested ``jit`` equations are spliced into the program;
* :func:`fold_constants`   equations on constants are evaluated (uniform arrays stay ``full``);
* :func:`apply_identities` rewrites that are exact in IEEE arithmetic (x*1, x-0, x+(-0.0),
  neg(neg x), transpose of transpose, broadcast of broadcast, reshape of reshape, conversion
  to the same dtype...). ``x + 0.0`` is *not* rewritten: it turns -0.0 into +0.0;
* :func:`cse`              common-subexpression elimination;
* :func:`dce`              dead-code elimination.

Derivative programs are full of such terms (multiplications by one, double negations,
transposes undone by transposes), so they shrink here before they are compiled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from .. import core
from ..core import ShapedArray
from ..jaxpr import Eqn, Jaxpr, Literal, Var
from ..lax import elementwise as ew
from ..lax import linalg as la
from ..lax import reductions as red
from ..lax import shapes as sh

# --------------------------------------------------------------------------------------
# Helpers: substitution of atoms


class _Rewriter:
    """Walk the equations, letting ``rule(eqn) -> None | list[Atom] | list[Eqn]`` rewrite each."""

    def __init__(self):
        self.subst: dict[Var, object] = {}

    def atom(self, a):
        while type(a) is Var and a in self.subst:
            a = self.subst[a]
        return a

    def run(self, jaxpr: Jaxpr, rule: Callable) -> Jaxpr:
        eqns = []
        subst = self.subst
        for eqn in jaxpr.eqns:
            if any(type(a) is Var and a in subst for a in eqn.inputs):
                eqn = eqn._replace(inputs=[self.atom(a) for a in eqn.inputs])
            out = rule(eqn)
            if out is None:
                eqns.append(eqn)
            elif out and isinstance(out[0], Eqn):
                eqns.extend(out)
            else:  # replacement atoms for the outputs
                for v, a in zip(eqn.outputs, out):
                    self.subst[v] = a
        return Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, [self.atom(a) for a in jaxpr.outvars])


# --------------------------------------------------------------------------------------
# Dead-code elimination


def dce(jaxpr: Jaxpr) -> Jaxpr:
    """Drop equations none of whose outputs reach the program's outputs.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: (fnp.sin(x), fnp.cos(x))[0])(1.0).jaxpr
    >>> len(dce(j).eqns)
    1
    """
    live = {a for a in jaxpr.outvars if type(a) is Var}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outputs) or eqn.prim in core.EFFECTFUL:
            kept.append(eqn)
            live.update(a for a in eqn.inputs if type(a) is Var)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, kept[::-1], jaxpr.outvars)


# --------------------------------------------------------------------------------------
# Common-subexpression elimination


def _atom_key(a):
    if type(a) is Literal:
        v = a.val
        return ("lit", type(v), np.asarray(v).dtype.str, np.asarray(v).tobytes(), a.aval.weak_type)
    return a


def _params_key(params: dict):
    items = []
    for k, v in sorted(params.items()):
        if isinstance(v, np.ndarray):
            v = ("ndarray", v.dtype.str, v.shape, v.tobytes())
        items.append((k, v))
    key = tuple(items)
    hash(key)
    return key


# (not max/min: which of +0.0 and -0.0 they return depends on the operand order)
_COMMUTATIVE = {ew.add_p, ew.mul_p, ew.eq_p, ew.ne_p, ew.and_p, ew.or_p, ew.xor_p}


def _order(key):
    return (1, repr(key)) if type(key) is tuple else (0, id(key))


def cse(jaxpr: Jaxpr) -> Jaxpr:
    """Replace an equation identical to an earlier one (same primitive, inputs, params; the
    inputs of a commutative operation in either order).

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: fnp.sin(x) + fnp.sin(x))(1.0).jaxpr
    >>> len(cse(j).eqns)
    2
    """
    seen: dict = {}
    rw = _Rewriter()

    def rule(eqn):
        if eqn.prim in core.EFFECTFUL:  # two prints of one value print twice
            return None
        try:
            ins = tuple(map(_atom_key, eqn.inputs))
            if eqn.prim in _COMMUTATIVE:  # x * y and y * x are one value (exactly, in IEEE)
                ins = tuple(sorted(ins, key=_order))
            key = (eqn.prim, ins, _params_key(eqn.params))
        except TypeError:  # unhashable params: keep the equation as is
            return None
        prev = seen.get(key)
        if prev is None:
            seen[key] = eqn.outputs
            return None
        return list(prev)

    return rw.run(jaxpr, rule)


# --------------------------------------------------------------------------------------
# Constant folding. A value is constant if it is a Literal or the output of ``full``
# (a uniform array); elementwise and shape operations on constants stay uniform, so they
# fold to a Literal (0-d) or to a new ``full`` (exactly the value NumPy would compute).

_UNIFORM_PRESERVING = {sh.broadcast_to_p, sh.reshape_p, sh.transpose_p, ew.stop_gradient_p}
_ELEMENTWISE = frozenset(ew.ELEMENTWISE.values())


def _const_of(a, uniform: dict):
    if type(a) is Literal:
        return a.val
    return uniform.get(a, _NOT_CONST)


_NOT_CONST = object()


def _make_const(value, aval: ShapedArray, var: Var):
    """A Literal for a 0-d result, else a ``full`` equation producing ``var``. A weakly typed
    result (of Python scalars alone) stays a weak Python scalar, as ``core.EvalTrace`` leaves
    it: ``x32 * (1.0 / n)`` must not turn float32 into float64 once folded."""
    scalar = np.asarray(value, aval.dtype).reshape(())[()]
    if aval.shape == ():
        return [Literal(scalar.item() if aval.weak_type else scalar,
                        ShapedArray((), aval.dtype, aval.weak_type))]
    return [Eqn(sh.full_p, [], dict(shape=aval.shape, fill_value=scalar, dtype=aval.dtype), [var])]


def fold_constants(jaxpr: Jaxpr) -> Jaxpr:
    """Evaluate equations whose inputs are all constants.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: x * (fnp.float64(2.0) + 1.0))(1.0).jaxpr
    >>> print(fold_constants(j))
    { lambda ; a:f64[]. let b:f64[] = mul a 3.0 in (b,) }
    """
    uniform: dict[Var, object] = {}
    rw = _Rewriter()

    def rule(eqn):
        prim = eqn.prim
        if prim is sh.full_p:
            uniform[eqn.outputs[0]] = eqn.params["fill_value"]
            if eqn.params["shape"] == ():
                return _make_const(eqn.params["fill_value"], eqn.outputs[0].aval, eqn.outputs[0])
            return None
        if prim.multiple_results or len(eqn.outputs) != 1:
            return None
        vals = [_const_of(a, uniform) for a in eqn.inputs]
        if not vals or any(v is _NOT_CONST for v in vals):
            return None
        out = eqn.outputs[0]
        if prim in _ELEMENTWISE:
            # Compute on 0-d arrays of the operands' dtypes (Python scalars stay weak).
            args = [a.val if type(a) is Literal and a.aval.weak_type else np.asarray(v, a.aval.dtype)
                    for a, v in zip(eqn.inputs, vals)]
            with np.errstate(all="ignore"):
                value = prim.impl(*args, **eqn.params)
        elif prim in _UNIFORM_PRESERVING:
            value = vals[0]
        elif prim is red.reduce_sum_p and np.asarray(vals[0]) == 0 and not np.signbit(vals[0]):
            value = vals[0]  # a sum of +0.0 is +0.0 (for any count, including none)
        else:
            return None
        res = _make_const(value, out.aval, out)
        if type(res[0]) is Eqn:
            uniform[out] = res[0].params["fill_value"]
        return res

    return rw.run(jaxpr, rule)


# --------------------------------------------------------------------------------------
# Algebraic identities, exact in IEEE arithmetic


class _Facts:
    """What the identity rules know so far: uniform values (``full``), each value's producing
    equation, and how many times each value is read."""

    def __init__(self, jaxpr: Jaxpr):
        self.uniform, self.producer = {}, {}
        self.uses = Counter(a for e in jaxpr.eqns for a in e.inputs if type(a) is Var)
        self.uses.update(a for a in jaxpr.outvars if type(a) is Var)

    def is_const(self, a, value, negzero: bool | None = None) -> bool:
        """Whether ``a`` is the constant ``value`` (of the given zero sign, if not None)."""
        v = _const_of(a, self.uniform)
        try:
            v = np.asarray(v)
            sign_ok = negzero is None or bool(np.signbit(v)) == negzero
            return v.dtype.kind in "biuf" and v == value and sign_ok
        except (TypeError, ValueError):
            return False

    def made_by(self, a, prim) -> Eqn | None:
        """The equation producing ``a`` if it applies ``prim``."""
        e = self.producer.get(a) if type(a) is Var else None
        return e if e is not None and e.prim is prim else None


#: prim -> rule(eqn, facts) -> None (keep), [atom] (the output is that atom) or [Eqn, ...]
#: (replacement equations): rewrites exact in IEEE arithmetic, as ``ad.jvp_rules``.
simplify_rules: dict = {}


def _keep(a, eqn):
    """The output is ``a``, if that changes no shape or dtype."""
    out = eqn.outputs[0].aval
    return [a] if a.aval.shape == out.shape and a.aval.dtype == out.dtype else None


def _unit(value, negzero=None, left=True):
    """``x op u`` (and ``u op x`` if ``left``) is ``x`` for the constant ``u = value``."""
    def rule(eqn, f):
        x, y = eqn.inputs
        if f.is_const(y, value, negzero):
            return _keep(x, eqn)
        return _keep(y, eqn) if left and f.is_const(x, value, negzero) else None

    return rule


def _add(eqn, f):  # x + (-0.0) is x; x + 0.0 is not (-0.0 + 0.0 is +0.0), but for integers
    x, y = eqn.inputs
    return _keep(x, eqn) if x.aval.dtype.kind in "iub" and f.is_const(y, 0) else _unit(0, True)(eqn, f)


def _of_itself(eqn, f):
    """A reshape or broadcast: ``[x]`` if it changes no shape; of the same operation of ``y``
    (a reshape of a reshape...), ``y`` or the operation of ``y``."""
    x, shape = eqn.inputs[0], eqn.outputs[0].aval.shape
    if x.aval.shape == shape:
        return [x]
    inner = f.made_by(x, eqn.prim)
    if inner is None:
        return None
    y = inner.inputs[0]
    return [y] if y.aval.shape == shape else [Eqn(eqn.prim, [y], eqn.params, eqn.outputs)]


def _transpose(eqn, f):
    x = eqn.inputs[0]
    inner = f.producer.get(x) if type(x) is Var else None
    if inner is not None and inner.prim is sh.transpose_p:
        perm = tuple(inner.params["permutation"][i] for i in eqn.params["permutation"])
        y = inner.inputs[0]
        return [y] if perm == tuple(range(len(perm))) else [
            Eqn(sh.transpose_p, [y], dict(permutation=perm), eqn.outputs)]
    if inner is not None and inner.prim is sh.reshape_p:
        return _transpose_of_unit_reshape(eqn, inner)
    if inner is not None and inner.prim in _ELEMENTWISE and f.uses[x] == 1:
        return _transpose_of_elementwise(eqn, inner, f.producer)
    return None


def _outer_product(eqn, f):
    # A matmul with inner size 1 (batched or not): each element is one product, as BLAS
    # computes it, and (..., m, 1) * (..., 1, n) broadcasts the batch axes as matmul does. A
    # broadcast multiply fuses into a loop where a BLAS call would not (hessian/vmap programs
    # multiply by 1x1 matrices; per-example gradients are batches of outer products).
    (x, y), out = eqn.inputs, eqn.outputs[0]
    if (x.aval.ndim >= 2 and y.aval.ndim >= 2 and x.aval.shape[-1] == 1 and out.aval.dtype.kind == "f"
            and x.aval.dtype == y.aval.dtype == out.aval.dtype):
        return [Eqn(ew.mul_p, [x, y], {}, [out])]
    return None


def _if(test):
    """The output is the operand if ``test(eqn)``."""
    return lambda eqn, f: _keep(eqn.inputs[0], eqn) if test(eqn) else None


simplify_rules.update({
    sh.full_p: lambda eqn, f: f.uniform.__setitem__(eqn.outputs[0], eqn.params["fill_value"]),
    ew.mul_p: _unit(1),
    ew.div_p: _unit(1, left=False),
    ew.add_p: _add,
    ew.sub_p: _unit(0, negzero=False, left=False),
    # neg(neg x)
    ew.neg_p: lambda eqn, f: _keep(n.inputs[0], eqn) if (n := f.made_by(eqn.inputs[0], ew.neg_p)) else None,
    ew.stop_gradient_p: _if(lambda eqn: True),
    ew.integer_pow_p: _if(lambda eqn: eqn.params["y"] == 1),
    ew.convert_element_type_p: _if(lambda eqn: eqn.inputs[0].aval.dtype == eqn.params["new_dtype"]),
    ew.select_p: lambda eqn, f: _keep(eqn.inputs[1], eqn) if eqn.inputs[1] is eqn.inputs[2] else None,
    sh.reshape_p: _of_itself,
    sh.broadcast_to_p: _of_itself,
    sh.transpose_p: _transpose,
    red.reduce_sum_p: lambda eqn, f: None if eqn.params["axes"] else [eqn.inputs[0]],
    sh.index_p: _if(lambda eqn: len(eqn.inputs) == 1 and _selects_all(eqn.params["template"],
                                                                          eqn.inputs[0].aval.shape)),
    la.matmul_p: _outer_product,
    # (x^T + x) / 2 is (x + x^T) / 2 bit for bit (+ commutes): no transposed copy to read
    la.symmetrize_p: lambda eqn, f: [Eqn(la.symmetrize_p, [t.inputs[0]], {}, eqn.outputs)]
    if (t := f.made_by(eqn.inputs[0], sh.transpose_p)) and t.params["permutation"] == (1, 0)
    else None,
})


def apply_identities(jaxpr: Jaxpr) -> Jaxpr:
    """Apply :data:`simplify_rules`: x*1, 1*x, x/1, x-(+0), x+(-0.0), neg(neg x),
    stop_gradient, transpose of a transpose, broadcast of a broadcast, reshape of a reshape,
    same-shape reshape/broadcast, conversion to the same dtype, integer_pow(x, 1),
    select(p, x, x); a transpose of a reshape that only inserts or removes size-1 axes becomes
    a reshape (of a transpose); a transpose of an elementwise operation on a transpose cancels
    with it; a matmul with inner size 1 (an outer product, batched or not) becomes a
    broadcast multiply.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(lambda x: -(-x) * 1.0)(fnp.ones(2)).jaxpr
    >>> print(apply_identities(j))  # (dce removes b)
    { lambda ; a:f64[2]. let b:f64[2] = neg a in (a,) }
    """
    facts = _Facts(jaxpr)

    def rule(eqn):
        r = simplify_rules.get(eqn.prim)
        res = r(eqn, facts) if r is not None else None
        for e in res if res and isinstance(res[0], Eqn) else [eqn] if res is None else []:
            for v in e.outputs:
                facts.producer[v] = e
        return res

    return _Rewriter().run(jaxpr, rule)


def _selects_all(template, shape) -> bool:
    """Whether a basic index is the identity, ``x[:, 0:n, ..., ::1]``: full slices only."""
    if any(t is None or (t is not Ellipsis and t[0] != "slice") for t in template):
        return False
    k = template.index(Ellipsis) if Ellipsis in template else len(template)
    pre, post = template[:k], template[k + 1:]
    if len(pre) + len(post) > len(shape):
        return False
    sized = list(zip(pre, shape)) + list(zip(post, shape[len(shape) - len(post):]))
    for t, n in sized:
        start, stop, step = t[1:4]
        if start not in (None, 0) or step not in (None, 1) or not (stop is None or stop >= n):
            return False
    return True


def _transpose_of_elementwise(eqn: Eqn, inner: Eqn, producer: dict):
    """``transpose(f(transpose(x), v))`` for an elementwise ``f`` is ``f(x, v')``: the
    transpose moves into the operands, where it cancels with a transpose, is a reshape (a
    scalar, or an array with one axis longer than 1, such as a row of coefficients or a range
    compared with another to make a diagonal), or goes on into an elementwise operation.
    jacrev multiplies transposed matrices by rows and transposes the result back; this leaves
    one C-ordered loop. Nothing is rewritten unless every transpose disappears."""
    perm = tuple(eqn.params["permutation"])
    inv = tuple(int(i) for i in np.argsort(perm))
    new: list = []

    def moved(a, depth):  # an atom equal to transpose(a, perm), or None
        shape = a.aval.shape
        if not shape:
            return a
        src = producer.get(a) if type(a) is Var else None
        if src is not None and src.prim is sh.transpose_p and tuple(src.params["permutation"]) == inv:
            return src.inputs[0]
        if len(shape) != len(perm):
            return None
        t = Var(ShapedArray(tuple(shape[i] for i in perm), a.aval.dtype))
        if sum(n != 1 for n in shape) <= 1:
            new.append(Eqn(sh.reshape_p, [a], dict(new_shape=t.aval.shape), [t]))
            return t
        if src is None or src.prim not in _ELEMENTWISE or depth == 0:
            return None
        ins = [moved(b, depth - 1) for b in src.inputs]
        if any(b is None for b in ins):
            return None
        new.append(Eqn(src.prim, ins, src.params, [t]))
        return t

    ins = [moved(a, 3) for a in inner.inputs]
    if any(a is None for a in ins):
        return None
    return new + [Eqn(inner.prim, ins, inner.params, list(eqn.outputs))]


def _transpose_of_unit_reshape(eqn: Eqn, inner: Eqn):
    """``transpose(reshape(x))`` where the reshape only inserts or removes size-1 axes (vmap
    and hessian programs are full of them) is a reshape of ``x``, or of a transpose of ``x``
    over its own axes: a 2-D transpose is then a view, and reshapes of reshapes fold, where the
    rank-3 transpose was a copy loop (an index remap) in the generated code."""
    x, y, out = inner.inputs[0], inner.outputs[0], eqn.outputs[0]
    xs, ys = x.aval.shape, y.aval.shape
    if [n for n in xs if n != 1] != [n for n in ys if n != 1]:
        return None  # a real reshape
    perm = eqn.params["permutation"]
    nonunit_y = [j for j, n in enumerate(ys) if n != 1]
    order = [nonunit_y.index(perm[t]) for t in range(len(perm)) if ys[perm[t]] != 1]
    if order == sorted(order):
        return [Eqn(sh.reshape_p, [x], dict(new_shape=out.aval.shape), [out])]
    if 1 in xs:
        return None
    shape = tuple(xs[o] for o in order)
    if shape == out.aval.shape:
        return [Eqn(sh.transpose_p, [x], dict(permutation=tuple(order)), [out])]
    t = Var(ShapedArray(shape, x.aval.dtype))
    return [Eqn(sh.transpose_p, [x], dict(permutation=tuple(order)), [t]),
            Eqn(sh.reshape_p, [t], dict(new_shape=out.aval.shape), [out])]


# --------------------------------------------------------------------------------------
# Inlining nested jit programs


def inline_jit(jaxpr: Jaxpr) -> Jaxpr:
    """Splice the body of every nested ``jit`` equation into the program (fresh variables)."""
    from ..jaxpr import jit_p

    if not any(e.prim is jit_p for e in jaxpr.eqns):
        return jaxpr
    rw = _Rewriter()

    def rule(eqn):
        if eqn.prim is not jit_p:
            return None
        inner = inline_jit(eqn.params["jaxpr"])
        env: dict[Var, object] = dict(zip(inner.invars, eqn.inputs))
        atom = lambda a: env.get(a, a) if type(a) is Var else a  # noqa: E731
        eqns = []
        for e in inner.eqns:
            eqns.append(Eqn(e.prim, [atom(a) for a in e.inputs], e.params, [Var(v.aval) for v in e.outputs]))
            env.update(zip(e.outputs, eqns[-1].outputs))
        rw.subst.update(zip(eqn.outputs, map(atom, inner.outvars)))
        return eqns

    return rw.run(jaxpr, rule)


# --------------------------------------------------------------------------------------
# The pipeline


def simplify(jaxpr: Jaxpr, max_rounds: int = 4) -> Jaxpr:
    """All passes, repeated until the program stops shrinking.

    >>> import funcad as fa, funcad.numpy as fnp
    >>> j = fa.make_jaxpr(fa.grad(lambda x: fnp.sin(x) * 1.0))(0.5).jaxpr
    >>> print(simplify(j))
    { lambda ; a:f64[]. let b:f64[] = cos a in (b,) }
    """
    jaxpr = inline_jit(jaxpr)
    size = None
    for _ in range(max_rounds):
        jaxpr = dce(cse(apply_identities(fold_constants(jaxpr))))
        if len(jaxpr.eqns) == size:
            break
        size = len(jaxpr.eqns)
    return jaxpr
