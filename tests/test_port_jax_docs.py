"""Ports of JAX's documentation examples: the autodiff cookbook, "Thinking in JAX", the
control-flow page of jax.lax and the pytrees tutorial, written from their documented
behaviour with the imports changed from ``jax`` to ``funcad`` and nothing else. Each
example's values are compared with JAX's own, computed by running this very code with
JAX's imports and x64 enabled (``python tests/test_port_jax_docs.py --jax`` under
/work/venv-bench prints them; funcad never imports JAX)."""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

if __name__ == "__main__" and "--jax" in sys.argv:  # the reference run: JAX's imports
    import jax  # noqa: I001
    import jax.numpy as jnp
    from jax import grad, hessian, jacfwd, jacrev, jit, jvp, lax, random, vjp, vmap
    from jax import tree_util

    jax.config.update("jax_enable_x64", True)
else:
    import funcad as jax  # noqa: I001
    import funcad.numpy as jnp
    from funcad import grad, hessian, jacfwd, jacrev, jit, jvp, lax, random, vjp, vmap
    from funcad import tree_util

    jax.config.update("jax_enable_x64", True)

# ======================================================================================
# The autodiff cookbook


def sigmoid(x):
    return 0.5 * (jnp.tanh(x / 2) + 1)


def predict(W, b, inputs):
    return sigmoid(jnp.dot(inputs, W) + b)


def cookbook_data():
    key = random.PRNGKey(0)
    inputs = jnp.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15],
                        [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
    targets = jnp.array([True, True, False, True])
    key, W_key, b_key = random.split(key, 3)
    W = random.normal(W_key, (3,))
    b = random.normal(b_key, ())
    return inputs, targets, W, b


def cookbook():
    inputs, targets, W, b = cookbook_data()

    def loss(W, b):
        preds = predict(W, b, inputs)
        label_probs = preds * targets + (1 - preds) * (1 - targets)
        return -jnp.sum(jnp.log(label_probs))

    out = {}
    out["tanh'''"] = grad(grad(grad(jnp.tanh)))(2.0)
    W_grad, b_grad = grad(loss, (0, 1))(W, b)
    out["W_grad"], out["b_grad"] = W_grad, b_grad
    loss_value, Wb_grad = jax.value_and_grad(loss, (0, 1))(W, b)
    out["loss"] = loss_value

    def loss2(params_dict):
        preds = predict(params_dict["W"], params_dict["b"], inputs)
        label_probs = preds * targets + (1 - preds) * (1 - targets)
        return -jnp.sum(jnp.log(label_probs))

    out["dict_grad_W"] = grad(loss2)({"W": W, "b": b})["W"]

    # directional derivative by jvp
    key = random.PRNGKey(1)
    v = random.normal(key, W.shape)
    _, out["jvp"] = jvp(lambda W: loss(W, b), (W,), (v,))
    y, vjp_fun = vjp(lambda W: predict(W, b, inputs), W)
    out["vjp"] = vjp_fun(jnp.ones(y.shape))[0]

    # Jacobians and Hessians
    out["jacfwd"] = jacfwd(predict, argnums=0)(W, b, inputs)
    out["jacrev"] = jacrev(predict, argnums=0)(W, b, inputs)
    out["hessian"] = hessian(lambda W: loss(W, b))(W)

    def hvp(f, x, v):
        return grad(lambda x: jnp.vdot(grad(f)(x), v))(x)

    def hvp_fwd_rev(f, primals, tangents):
        return jvp(grad(f), primals, tangents)[1]

    f = lambda W: predict(W, b, inputs).sum()  # noqa: E731
    out["hvp"] = hvp(f, W, v)
    out["hvp_fwd_rev"] = hvp_fwd_rev(f, (W,), (v,))

    # Jacobian matrix by vmap over vjp, and per-example gradients
    y, vjp_fun = vjp(lambda W: predict(W, b, inputs), W)
    (out["vmap_vjp"],) = vmap(vjp_fun)(jnp.eye(len(y)))

    def example_loss(W, x, t):
        p = predict(W, b, x)
        return -(t * jnp.log(p) + (1 - t) * jnp.log(1 - p))

    out["per_example"] = vmap(grad(example_loss), in_axes=(None, 0, 0))(W, inputs, targets)

    # custom_jvp: a stable log(1 + exp(x)), and custom_vjp: clip_gradient
    @jax.custom_jvp
    def log1pexp(x):
        return jnp.log(1.0 + jnp.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        ans = log1pexp(x)
        ans_dot = (1 - 1 / (1 + jnp.exp(x))) * x_dot
        return ans, ans_dot

    out["log1pexp'"] = jit(grad(log1pexp))(100.0)
    out["vmap log1pexp'"] = vmap(jit(grad(log1pexp)))(jnp.arange(3.0))

    @jax.custom_vjp
    def clip_gradient(lo, hi, x):
        return x

    def clip_gradient_fwd(lo, hi, x):
        return x, (lo, hi)

    def clip_gradient_bwd(res, g):
        lo, hi = res
        return (None, None, jnp.clip(g, lo, hi))

    clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)
    out["clip_gradient"] = vmap(grad(lambda x: clip_gradient(-0.75, 0.75, jnp.sin(3 * x))))(
        jnp.linspace(0.0, 2.0, 5))

    # stop_gradient: TD(0)
    value_fn = lambda theta, state: jnp.dot(theta, state)  # noqa: E731
    theta = jnp.array([0.1, -0.1, 0.0])
    s_tm1, r_t, s_t = jnp.array([1.0, 2.0, -1.0]), jnp.array(1.0), jnp.array([2.0, 1.0, 0.0])

    def td_loss(theta, s_tm1, r_t, s_t):
        v_tm1 = value_fn(theta, s_tm1)
        target = r_t + value_fn(theta, s_t)
        return -0.5 * ((lax.stop_gradient(target) - v_tm1) ** 2)

    out["td_update"] = grad(td_loss)(theta, s_tm1, r_t, s_t)
    return out


# ======================================================================================
# Thinking in JAX


def thinking_in_jax():
    out = {}
    x = jnp.linspace(0, 10, 50)
    out["sin_cos"] = 2 * jnp.sin(x) * jnp.cos(x)
    x = jnp.arange(10)
    out["at_set"] = x.at[0].set(10)
    out["promotion"] = jnp.add(1, 1.0)
    out["lax_add"] = lax.add(jnp.float64(1), 1.0)
    x = jnp.linspace(0, 10, 60)
    y = jnp.sin(x) + jnp.cos(3 * x) * 0.1
    window = jnp.ones(10) / 10
    out["convolve_same"] = jnp.convolve(y, window, mode="same")

    def norm(X):
        X = X - X.mean(0)
        return X / X.std(0)

    norm_compiled = jit(norm)
    X = random.normal(random.PRNGKey(1701), (20, 5))
    out["norm_jit"] = norm_compiled(X)
    out["norm"] = norm(X)

    def f(x, neg):
        return -x if neg else x

    out["static"] = jit(f, static_argnums=1)(1.0, True)

    @jit
    def g(x):
        return x.reshape(np.array(x.shape).prod())  # NumPy for static values, as the page says

    out["reshape"] = g(jnp.ones((2, 3)))
    return out


# ======================================================================================
# jax.lax control flow


def control_flow():
    out = {}
    operand = jnp.array([0.0])
    out["cond_true"] = lax.cond(True, lambda x: x + 1, lambda x: x - 1, operand)
    out["cond_false"] = lax.cond(False, lambda x: x + 1, lambda x: x - 1, operand)
    branches = [lambda x: x - 1, lambda x: x, lambda x: x + 1]
    out["switch"] = lax.switch(jnp.array(1), branches, operand)
    out["switch_clamped"] = lax.switch(7, branches, operand)
    out["while"] = lax.while_loop(lambda v: v < 10, lambda v: v + 1, 0)
    out["fori"] = lax.fori_loop(0, 3, lambda i, v: v + i, 0)

    def cumsum_step(carry, x):
        return carry + x, carry + x

    out["scan"] = lax.scan(cumsum_step, 0.0, jnp.array([1.0, 2.0, 3.0, 4.0]))[1]

    def python_cf(x):
        if x < 3:
            return 3.0 * x ** 2
        return -4 * x

    out["grad_python_cf"] = jnp.array([grad(python_cf)(2.0), grad(python_cf)(4.0)])

    def power_loop(x, n):
        return lax.fori_loop(0, n, lambda i, acc: acc * x, 1.0)

    out["grad_fori"] = grad(power_loop)(1.5, 4)
    out["jit_fori"] = jit(power_loop)(1.5, 4)

    def scan_rnn(w, xs):
        def step(h, x):
            h = jnp.tanh(w * h + x)
            return h, h

        return lax.scan(step, 0.0, xs)[1].sum()

    xs = jnp.linspace(-1.0, 1.0, 6)
    out["grad_scan"] = grad(scan_rnn)(0.7, xs)
    out["jit_grad_scan"] = jit(grad(scan_rnn))(0.7, xs)
    out["where"] = jnp.where(xs > 0, xs, -xs)
    return out


# ======================================================================================
# The pytrees tutorial


class MyContainer:
    """A named container (the tutorial's example of a custom pytree node)."""

    def __init__(self, name: str, a: int, b: int, c: int):
        self.name = name
        self.a, self.b, self.c = a, b, c


def flatten_MyContainer(container):
    flat_contents = [container.a, container.b, container.c]
    aux_data = container.name
    return flat_contents, aux_data


def unflatten_MyContainer(aux_data, flat_contents):
    return MyContainer(aux_data, *flat_contents)


tree_util.register_pytree_node(MyContainer, flatten_MyContainer, unflatten_MyContainer)


class MyOtherContainer(NamedTuple):
    name: str
    a: int
    b: float


def pytrees():
    out = {}
    list_of_lists = [[1, 2, 3], [1, 2], [1, 2, 3, 4]]
    out["tree_map"] = jnp.array(sum(jax.tree.map(lambda x: x * 2, list_of_lists), []))
    out["tree_map2"] = jnp.array(sum(jax.tree.map(lambda x, y: x + y, list_of_lists, list_of_lists), []))
    example_trees = [[1, "a", object()], (1, (2, 3), ()), [1, {"k1": 2, "k2": (3, 4)}, 5],
                     {"a": 2, "b": (2, 3)}, jnp.array([1, 2, 3])]
    out["num_leaves"] = jnp.array([len(jax.tree.leaves(t)) for t in example_trees])

    def init_mlp_params(layer_widths):
        params = []
        key = random.PRNGKey(0)
        for n_in, n_out in zip(layer_widths[:-1], layer_widths[1:]):
            key, sub = random.split(key)
            params.append(dict(weights=random.normal(sub, (n_in, n_out)) * jnp.sqrt(2 / n_in),
                               biases=jnp.ones(shape=(n_out,))))
        return params

    params = init_mlp_params([1, 8, 8, 1])
    out["shapes"] = jnp.array([s for leaf in jax.tree.leaves(jax.tree.map(lambda x: x.shape, params))
                               for s in (leaf if isinstance(leaf, tuple) else (leaf,))])

    def forward(params, x):
        *hidden, last = params
        for layer in hidden:
            x = jax.nn.relu(x @ layer["weights"] + layer["biases"])
        return x @ last["weights"] + last["biases"]

    def loss_fn(params, x, y):
        return jnp.mean((forward(params, x) - y) ** 2)

    LEARNING_RATE = 0.0001

    @jit
    def update(params, x, y):
        grads = grad(loss_fn)(params, x, y)
        return jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads)

    xs = random.normal(random.PRNGKey(1), (16, 1))
    ys = xs ** 2
    for _ in range(20):
        params = update(params, xs, ys)
    out["mlp_loss"] = loss_fn(params, xs, ys)

    containers = [MyContainer("Alice", 1, 2, 3), MyContainer("Bob", 4, 5, 6)]
    out["container_leaves"] = jnp.array(jax.tree.leaves(containers))
    mapped = jax.tree.map(lambda x: x + 1, containers)
    out["container_map"] = jnp.array([mapped[1].a, mapped[1].c])
    leaves = jax.tree.leaves([MyOtherContainer("Alice", 1, 2.5)])
    out["namedtuple"], out["namedtuple_name"] = jnp.array(leaves[1:]), leaves[:1]
    out["none"] = jnp.array(len(jax.tree.leaves([None, None, None])))
    flat, tree = tree_util.tree_flatten_with_path({"a": [1.0, 2.0], "b": (3.0,)})
    out["paths"] = jnp.array([v for _, v in flat])
    out["keystr"] = [tree_util.keystr(p) for p, _ in flat]
    return out


# ======================================================================================
# Automatic vectorization, and Just-in-time compilation


def vectorization():
    out = {}
    x = jnp.arange(5.0)
    w = jnp.array([2.0, 3.0, 4.0])

    def convolve(x, w):
        output = []
        for i in range(1, len(x) - 1):
            output.append(jnp.dot(x[i - 1:i + 2], w))
        return jnp.array(output)

    out["convolve"] = convolve(x, w)
    xs, ws = jnp.stack([x, x]), jnp.stack([w, w])
    out["vmap"] = vmap(convolve)(xs, ws)
    out["in_axes"] = vmap(convolve, in_axes=[0, None])(xs, w)
    out["transposed"] = vmap(convolve, in_axes=1, out_axes=1)(jnp.transpose(xs), jnp.transpose(ws))
    out["jit_vmap"] = jit(vmap(convolve))(xs, ws)
    return out


def jit_page():
    out = {}

    def selu(x, alpha=1.67, lambda_=1.05):
        return lambda_ * jnp.where(x > 0, x, alpha * jnp.exp(x) - alpha)

    x = jnp.arange(6.0) - 2.5
    out["selu_jit"] = jit(selu)(x)
    out["selu"] = selu(x)

    def g(x, n):
        i = 0
        while i < n:
            i += 1
        return x + i

    out["static_argnames"] = jit(g, static_argnames=["n"])(10.0, 20)

    def g_inner_jitted(x, n):
        i = 0
        while i < n:
            i += 1
        return x + i

    out["fori_equivalent"] = jit(lambda x, n: lax.fori_loop(0, n, lambda i, v: v + 1.0, x))(10.0, 20)

    import functools

    @functools.partial(jit, static_argnums=1)
    def h(x, n):
        return x * n

    out["partial_static"] = jnp.array([h(2.0, 3), h(2.0, 4)])

    def unjitted_loop_body(prev_i):
        return prev_i + 1

    def g_inner(x):
        return lax.while_loop(lambda i: i < 10, unjitted_loop_body, x)

    out["while_jit"] = jit(g_inner)(0)
    return out


EXAMPLES = {"cookbook": cookbook, "thinking_in_jax": thinking_in_jax,
            "control_flow": control_flow, "pytrees": pytrees, "vectorization": vectorization,
            "jit_page": jit_page}


if __name__ == "__main__":  # print the reference values (run with --jax in venv-bench)
    for name, fn in EXAMPLES.items():
        print(f"    {name!r}: {{")
        for k, v in fn().items():
            v = v if isinstance(v, list) else np.asarray(v).tolist()
            print(f"        {k!r}: {v!r},")
        print("    },")
    sys.exit(0)

# ======================================================================================
# The tests

import pytest  # noqa: E402

onp = np

REFERENCE: dict = {
    'cookbook': {
        "tanh'''": 0.25265406509806265,
        'W_grad': [-1.4580235593994582, 3.2354229950402047, -1.9265852395829055],
        'b_grad': -1.766292308117811,
        'loss': 6.226650288550507,
        'dict_grad_W': [-1.4580235593994582, 3.2354229950402047, -1.9265852395829055],
        'jvp': 1.0181516325808015,
        'vjp': [0.262424257418734, -0.01882211272329866, -0.09234606584414118],
        'jacfwd': [[0.06571827106397525, 0.14154704536856208, 0.09731359369088642], [0.07316427140834855, -0.08979251491024595, 0.01247118262642305], [0.09916660709104434, 0.011442300818197422, -0.24791651772761084], [0.02437510785536585, -0.08201894399981212, 0.04578567556616017]],  # noqa: E501
        'jacrev': [[0.06571827106397524, 0.14154704536856205, 0.09731359369088641], [0.07316427140834855, -0.08979251491024597, 0.01247118262642305], [0.09916660709104433, 0.011442300818197422, -0.24791651772761084], [0.02437510785536586, -0.08201894399981216, 0.04578567556616019]],  # noqa: E501
        'hessian': [[0.1681622752929267, -0.060156971663762555, -0.033457479868887474], [-0.06015697166375943, 0.46042231552448093, -0.03335897552613434], [-0.03345747986888752, -0.03335897552614087, 0.4627357066187998]],  # noqa: E501
        'hvp': [-0.07372224204920522, 0.14816131390481327, 0.12036328365947294],
        'hvp_fwd_rev': [-0.07372224204920516, 0.14816131390481324, 0.12036328365947296],
        'vmap_vjp': [[0.06571827106397524, 0.14154704536856205, 0.09731359369088641], [0.07316427140834855, -0.08979251491024597, 0.01247118262642305], [0.09916660709104433, 0.011442300818197422, -0.24791651772761084], [0.02437510785536586, -0.08201894399981216, 0.04578567556616019]],  # noqa: E501
        'per_example': [[-0.07717084738277412, -0.1662141328244366, -0.11427221631680014], [-0.7994654936995392, 0.981162196813071, -0.13627252733514875], [0.13337707824940642, 0.015389662874931508, -0.33344269562351603], [-0.7147642965665512, 2.405085268176639, -1.3425978003074406]],  # noqa: E501
        "log1pexp'": 1.0,
        "vmap log1pexp'": [0.5, 0.7310585786300049, 0.8807970779778824],
        'clip_gradient': [2.25, 0.15915870375233154, -2.227483117351002, -0.47429054871925436, 2.1603831449633235],  # noqa: E501
        'td_update': [1.2000000000000002, 2.4000000000000004, -1.2000000000000002],
    },
    'thinking_in_jax': {
        'sin_cos': [0.0, 0.39692414892492234, 0.7286347834693504, 0.9406327851124866, 0.9980874821347183, 0.8915592304110038, 0.6385503202266024, 0.2806293995143572, -0.12339813736217826, -0.507151709484514, -0.8075816909683358, -0.9753282860670454, -0.9828312039256307, -0.8288577363730427, -0.538705288386157, -0.16004508604325146, 0.24491007101197845, 0.6096271964908315, 0.8741842988197331, 0.9951153947776634, 0.9525518475314609, 0.7534867274396376, 0.4306258703827389, 0.037014401485064144, -0.36267842882654716, -0.702784219655084, -0.9274245520604051, -0.9996916551562265, -0.9077122484184478, -0.6665982880740962, -0.3159641154597773, 0.08658206715208194, 0.4749030611564745, 0.7851988261795827, 0.9664886461592845, 0.988987116719693, 0.848997802817981, 0.5695205525610768, 0.19647268725083183, -0.2088550845607196, -0.5798685570348999, -0.8556112666053499, -0.9907794664363215, -0.9631654038190451, -0.7773059910942639, -0.46373740379401923, -0.07397807341854148, 0.32793564506304723, 0.6759704651124804, 0.9129452507276276],  # noqa: E501
        'at_set': [10, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        'promotion': 2.0,
        'lax_add': 2.0,
        'convolve_same': [0.18150732498617214, 0.24820957142094635, 0.3233014515451686, 0.4068653502217834, 0.4985571611157129, 0.5970972666390001, 0.6899660967801367, 0.767796301502615, 0.828586716132182, 0.8695684456704227, 0.8875440027315148, 0.8794908115349361, 0.8432822675518848, 0.7783451607120314, 0.6860836983620288, 0.5699548447303526, 0.43516357274274603, 0.28803880280736577, 0.13522807265426598, -0.017108107531659793, -0.16392348219465339, -0.3016028527632231, -0.42791580967347603, -0.5416466419009034, -0.6420208453648608, -0.7280985881682924, -0.7983115989773949, -0.8502807439264863, -0.8809770494513945, -0.8871980656295487, -0.8662473509522065, -0.8166489016683008, -0.738714836341022, -0.63481713188522, -0.5092846045724878, -0.3679369546665565, -0.21735573644283898, -0.06405540793771222, 0.08625976390072408, 0.229190864402033, 0.36179344401991553, 0.4823704783276786, 0.5899888458257162, 0.6838678288906448, 0.762818652709711, 0.824898595415767, 0.8673857206757862, 0.8870954374179943, 0.880969455051755, 0.846794328394917, 0.7838693675467622, 0.6934518246989138, 0.5788590375527505, 0.4451896406068396, 0.298718319085757, 0.1460976207955293, 0.05516472996736499, -0.022184605051199527, -0.08216962373691293, -0.12248823849691118],  # noqa: E501
        'norm_jit': [[-0.8007483038192624, -2.0411688924851688, -1.8963847055488663, -0.8492566251164841, 1.7456623899099517], [1.5561179512872012, 1.4260870632644398, -2.070606948214958, 1.3020451594599192, -0.9778011903519332], [0.9735135600823922, 0.0947195579116076, 0.18753521128755343, 0.4870512135149239, -1.2003074006109529], [-1.2098879017393616, -0.8905256936520195, 0.2923655449764851, 0.4887374828744157, -0.6871330872961666], [-0.08007394143003782, -0.34593795915140474, -0.10367729093578548, -0.515604679803707, -0.45872854922077794], [-1.3762330347420269, -0.46961839537124955, -0.3878686648849871, -1.167163002956225, -1.0284758825886504], [0.7710329829007664, 1.8756052878635945, -0.19997085566683429, -0.42719583791582116, 1.4385371560400322], [0.7430414083300623, 0.5831061735921884, 0.0012916996385228475, 1.1694613848130297, 0.7637889925581313], [-0.8177106890278519, -0.5000215380949404, 0.4835212601766084, -0.11756059612880061, 1.088744617510915], [-0.6941931548077315, 1.1365696288864184, 0.5278318913136896, -0.9065709490552375, -1.0363325919879258], [0.6141763310335158, -0.09577478831620254, 1.199935984995242, 0.5317647981778618, 0.6590974646545822], [-0.09533481287511332, -0.031968898716614735, -0.8181984868465653, -0.3371175580382309, 0.8869665974966537], [-0.896309939584511, -0.03252595507195067, 1.4237028929732176, -0.6141962967725441, 1.1815769043940378], [0.38605116392292044, -2.054943442009975, -1.2187994883351898, 0.011426041882857538, -0.4585335484804927], [-0.7257712738812999, 0.5652987807110611, 1.0989347901953135, -0.9156417234375508, -0.7314150028098322], [-0.8221180310406394, -0.617283716118731, 0.2675088670681948, 0.7186632831035751, -0.06055531704032303], [-0.9050988567947289, 1.0879740864283598, -0.10387252117749246, 0.9694610472034231, 0.6348928037844792], [1.9792285959893683, 0.6606199643893341, -1.0049579622157687, -2.449098985556766, -1.1422984217250738], [-0.31714873201782123, 0.3914123905052461, 1.7376007304801624, 1.854695981727153, -1.4574370993368064], [1.7174666782141605, -0.7416236545639935, 0.5841080507214585, 0.766099862024208, 0.8397511651001509]],  # noqa: E501
        'norm': [[-0.8007483038192624, -2.0411688924851688, -1.8963847055488663, -0.8492566251164841, 1.7456623899099517], [1.5561179512872012, 1.4260870632644398, -2.070606948214958, 1.3020451594599192, -0.9778011903519332], [0.9735135600823922, 0.0947195579116076, 0.18753521128755343, 0.4870512135149239, -1.2003074006109529], [-1.2098879017393616, -0.8905256936520195, 0.2923655449764851, 0.4887374828744157, -0.6871330872961666], [-0.08007394143003782, -0.34593795915140474, -0.10367729093578548, -0.515604679803707, -0.45872854922077794], [-1.3762330347420269, -0.46961839537124955, -0.3878686648849871, -1.167163002956225, -1.0284758825886504], [0.7710329829007664, 1.8756052878635945, -0.19997085566683429, -0.42719583791582116, 1.4385371560400322], [0.7430414083300623, 0.5831061735921884, 0.0012916996385228475, 1.1694613848130297, 0.7637889925581313], [-0.8177106890278519, -0.5000215380949404, 0.4835212601766084, -0.11756059612880061, 1.088744617510915], [-0.6941931548077315, 1.1365696288864184, 0.5278318913136896, -0.9065709490552375, -1.0363325919879258], [0.6141763310335158, -0.09577478831620254, 1.199935984995242, 0.5317647981778618, 0.6590974646545822], [-0.09533481287511332, -0.031968898716614735, -0.8181984868465653, -0.3371175580382309, 0.8869665974966537], [-0.896309939584511, -0.03252595507195067, 1.4237028929732176, -0.6141962967725441, 1.1815769043940378], [0.38605116392292044, -2.054943442009975, -1.2187994883351898, 0.011426041882857538, -0.4585335484804927], [-0.7257712738812999, 0.5652987807110611, 1.0989347901953135, -0.9156417234375508, -0.7314150028098322], [-0.8221180310406394, -0.617283716118731, 0.2675088670681948, 0.7186632831035751, -0.06055531704032303], [-0.9050988567947289, 1.0879740864283598, -0.10387252117749246, 0.9694610472034231, 0.6348928037844792], [1.9792285959893683, 0.6606199643893341, -1.0049579622157687, -2.449098985556766, -1.1422984217250738], [-0.31714873201782123, 0.3914123905052461, 1.7376007304801624, 1.854695981727153, -1.4574370993368064], [1.7174666782141605, -0.7416236545639935, 0.5841080507214585, 0.766099862024208, 0.8397511651001509]],  # noqa: E501
        'static': -1.0,
        'reshape': [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    },
    'control_flow': {
        'cond_true': [1.0],
        'cond_false': [-1.0],
        'switch': [0.0],
        'switch_clamped': [1.0],
        'while': 10,
        'fori': 3,
        'scan': [1.0, 3.0, 6.0, 10.0],
        'grad_python_cf': [12.0, -4.0],
        'grad_fori': 13.5,
        'jit_fori': 5.0625,
        'grad_scan': -2.65021442490192,
        'jit_grad_scan': -2.65021442490192,
        'where': [1.0, 0.6000000000000001, 0.19999999999999996, 0.20000000000000012, 0.6000000000000001, 1.0],
    },
    'pytrees': {
        'tree_map': [2, 4, 6, 2, 4, 2, 4, 6, 8],
        'tree_map2': [2, 4, 6, 2, 4, 2, 4, 6, 8],
        'num_leaves': [3, 3, 5, 3, 1],
        'shapes': [8, 1, 8, 8, 8, 8, 1, 8, 1],
        'mlp_loss': 1.377990551691357,
        'container_leaves': [1, 2, 3, 4, 5, 6],
        'container_map': [5, 7],
        'namedtuple': [1.0, 2.5],
        'namedtuple_name': ['Alice'],
        'none': 0,
        'paths': [1.0, 2.0, 3.0],
        'keystr': ["['a'][0]", "['a'][1]", "['b'][0]"],
    },
    'vectorization': {
        'convolve': [11.0, 20.0, 29.0],
        'vmap': [[11.0, 20.0, 29.0], [11.0, 20.0, 29.0]],
        'in_axes': [[11.0, 20.0, 29.0], [11.0, 20.0, 29.0]],
        'transposed': [[11.0, 11.0], [20.0, 20.0], [29.0, 29.0]],
        'jit_vmap': [[11.0, 20.0, 29.0], [11.0, 20.0, 29.0]],
    },
    'jit_page': {
        'selu_jit': [-1.6095639549129934, -1.3622412641797284, -0.6899484881938972, 0.525, 1.5750000000000002, 2.625],  # noqa: E501
        'selu': [-1.6095639549129934, -1.3622412641797284, -0.6899484881938972, 0.525, 1.5750000000000002, 2.625],  # noqa: E501
        'static_argnames': 30.0,
        'fori_equivalent': 30.0,
        'partial_static': [6.0, 8.0],
        'while_jit': 10,
    },
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_jax_docs_example_matches_jax(name):
    got = EXAMPLES[name]()
    want = REFERENCE[name]
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        if isinstance(value, list) and value and isinstance(value[0], str):
            assert got[key] == value, key
            continue
        g = onp.asarray(got[key])
        assert g.shape == onp.asarray(value).shape, key
        onp.testing.assert_allclose(g, onp.asarray(value, dtype=g.dtype), rtol=1e-9, atol=1e-12,
                                    err_msg=key)


def test_jit_page_python_control_flow_on_traced_values_is_an_error():
    def f(x):
        if x > 0:
            return x
        return 2 * x

    assert f(3.0) == 3.0
    with pytest.raises(jax.errors.ConcretizationError):  # as JAX's ConcretizationTypeError
        jit(f)(3.0)
    assert jit(f, static_argnums=0)(3.0) == 3.0


def test_thinking_in_jax_boolean_mask_under_jit_is_an_error():
    def get_negatives(x):
        return x[x < 0]

    x = jnp.array([1.0, -2.0, 3.0, -4.0])
    onp.testing.assert_array_equal(get_negatives(x), [-2.0, -4.0])
    with pytest.raises(TypeError):  # the result's shape depends on values, as in JAX
        jit(get_negatives)(x)
