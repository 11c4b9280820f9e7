"""The classic model families of Theano-era course material, written in that style, train.

Each test builds one small model against ``nbgrad`` / ``nbgrad.tensor`` the way course
code does (shared parameters, symbolic costs, ``T.grad``, ``updates``, ``givens``,
``scan``, ``RandomStreams``), runs a few training steps and checks that the loss goes
down, and checks the symbolic gradients against central differences. Sizes are tiny.
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import verify_grad
from nbgrad.sandbox.rng_mrg import MRG_RandomStreams
from nbgrad.tensor.nnet import conv2d
from nbgrad.tensor.shared_randomstreams import RandomStreams
from nbgrad.tensor.signal.pool import pool_2d

N_SAMPLES, N_FEATURES, N_CLASSES = 32, 16, 3


@pytest.fixture
def data():
    rng = np.random.RandomState(7)
    x = rng.rand(N_SAMPLES, N_FEATURES)
    y = (x[:, :4].sum(axis=1) > 2).astype("int32") + (x[:, 4:8].sum(axis=1) > 2).astype("int32")
    return x, y


def _uniform_weights(rng, n_in, n_out, scale=1.0):
    bound = scale * np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-bound, bound, size=(n_in, n_out))


def _train(step, n_steps):
    return [float(np.mean(step())) for _ in range(n_steps)]


def _assert_decreases(losses):
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], f"loss did not decrease: {losses}"


def _check_grad_by_differences(cost, params, n_entries=3, eps=1e-6, givens=None, seed=0):
    """Compare ``T.grad(cost, params)`` with central differences on a few entries of each parameter."""
    f_cost = nbgrad.function([], cost, givens=givens)
    f_grads = nbgrad.function([], T.grad(cost, params), givens=givens)
    rng = np.random.RandomState(seed)
    grads = f_grads()
    for p, g in zip(params, grads):
        value = p.get_value()
        assert g.shape == value.shape, (p, g.shape, value.shape)
        for flat in rng.choice(value.size, size=min(n_entries, value.size), replace=False):
            idx = np.unravel_index(flat, value.shape)
            moved = value.copy()
            moved[idx] += eps
            p.set_value(moved)
            up = f_cost()
            moved[idx] -= 2 * eps
            p.set_value(moved)
            down = f_cost()
            p.set_value(value)
            numeric = (up - down) / (2 * eps)
            np.testing.assert_allclose(g[idx], numeric, rtol=1e-4, atol=1e-6,
                                       err_msg=f"gradient of {p} at {idx}")


class SoftmaxLayer:
    def __init__(self, x, n_in, n_out):
        self.W = nbgrad.shared(np.zeros((n_in, n_out)), name="W")
        self.b = nbgrad.shared(np.zeros(n_out), name="b")
        self.p_y = T.nnet.softmax(T.dot(x, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y, axis=1)
        self.params = [self.W, self.b]

    def nll(self, y):
        return -T.mean(T.log(self.p_y)[T.arange(y.shape[0]), y])

    def errors(self, y):
        return T.mean(T.neq(self.y_pred, y))


class TanhLayer:
    def __init__(self, rng, x, n_in, n_out, W=None, b=None, activation=T.tanh):
        if W is None:
            W = nbgrad.shared(_uniform_weights(rng, n_in, n_out), name="W")
        if b is None:
            b = nbgrad.shared(np.zeros(n_out), name="b")
        self.W, self.b = W, b
        self.output = activation(T.dot(x, W) + b)
        self.params = [W, b]


def test_logistic_regression(data):
    xv, yv = data
    x, y = T.matrix("x"), T.ivector("y")
    model = SoftmaxLayer(x, N_FEATURES, N_CLASSES)
    cost = model.nll(y)
    grads = T.grad(cost, model.params)
    givens = {x: nbgrad.shared(xv), y: nbgrad.shared(yv)}
    step = nbgrad.function([], [cost, model.errors(y)],
                           updates=[(p, p - 0.5 * g) for p, g in zip(model.params, grads)], givens=givens)
    _assert_decreases([step()[0] for _ in range(8)])
    _check_grad_by_differences(cost, model.params, givens=givens)


def test_mlp_with_l2(data):
    xv, yv = data
    rng = np.random.RandomState(1)
    x, y = T.matrix("x"), T.ivector("y")
    hidden = TanhLayer(rng, x, N_FEATURES, 10)
    top = SoftmaxLayer(hidden.output, 10, N_CLASSES)
    params = hidden.params + top.params
    l2 = (hidden.W ** 2).sum() + (top.W ** 2).sum()
    cost = top.nll(y) + 1e-3 * l2
    grads = T.grad(cost, params)
    idx = T.lscalar("idx")
    sx, sy = nbgrad.shared(xv), nbgrad.shared(yv)
    batch = 8
    givens = {x: sx[idx * batch:(idx + 1) * batch], y: sy[idx * batch:(idx + 1) * batch]}
    step = nbgrad.function([idx], cost, updates=[(p, p - 0.2 * g) for p, g in zip(params, grads)],
                           givens=givens)
    _assert_decreases([np.mean([step(i) for i in range(4)]) for _ in range(6)])
    _check_grad_by_differences(cost, params, givens={x: sx, y: sy})


class DenoisingAutoencoder:
    """Tied weights; ``W``/``bhid`` may be shared with another layer (stacked models)."""

    def __init__(self, rng, srng, x, n_visible, n_hidden, W=None, bhid=None, bvis=None):
        if not W:
            W = nbgrad.shared(_uniform_weights(rng, n_visible, n_hidden, scale=4.0), name="W")
        if not bhid:
            bhid = nbgrad.shared(np.zeros(n_hidden), name="bhid")
        if not bvis:
            bvis = nbgrad.shared(np.zeros(n_visible), name="bvis")
        self.W, self.bhid, self.bvis, self.x, self.srng = W, bhid, bvis, x, srng
        self.params = [W, bhid, bvis]

    def hidden(self, x):
        return T.nnet.sigmoid(T.dot(x, self.W) + self.bhid)

    def reconstruct(self, h):
        return T.nnet.sigmoid(T.dot(h, self.W.T) + self.bvis)

    def cost(self, corruption):
        kept = self.srng.binomial(size=self.x.shape, n=1, p=1 - corruption, dtype=nbgrad.config.floatX)
        z = self.reconstruct(self.hidden(self.x * kept))
        return T.mean(-T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1))

    def cost_updates(self, corruption, lr):
        cost = self.cost(corruption)
        return cost, [(p, p - lr * g) for p, g in zip(self.params, T.grad(cost, self.params))]


def test_denoising_autoencoder_trains_and_shares_weights(data):
    xv, _ = data
    rng = np.random.RandomState(2)
    x = T.matrix("x")
    dae = DenoisingAutoencoder(rng, MRG_RandomStreams(3), x, N_FEATURES, 6)
    cost, updates = dae.cost_updates(0.3, 0.1)
    step = nbgrad.function([], cost, updates=updates, givens={x: nbgrad.shared(xv)})
    _assert_decreases([np.mean([step() for _ in range(3)]) for _ in range(6)])

    # weights passed in are used as they are, not replaced (`if not W:` on a shared variable)
    layer = TanhLayer(rng, x, N_FEATURES, 6, activation=T.nnet.sigmoid)
    shared_dae = DenoisingAutoencoder(rng, MRG_RandomStreams(3), x, N_FEATURES, 6, W=layer.W, bhid=layer.b)
    assert shared_dae.W is layer.W and shared_dae.bhid is layer.b
    # no corruption: a deterministic cost whose gradient can be checked
    _check_grad_by_differences(shared_dae.cost(0.0), shared_dae.params, givens={x: nbgrad.shared(xv)})


def _contractive_cost(x, W, bhid, bvis, contraction, batch):
    h = T.nnet.sigmoid(T.dot(x, W) + bhid)
    z = T.nnet.sigmoid(T.dot(h, W.T) + bvis)
    rec = -T.sum(x * T.log(z) + (1 - x) * T.log(1 - z), axis=1)
    # Jacobian dh/dx per sample: h(1-h) scales the columns of W
    jac = T.reshape(h * (1 - h), (batch, 1, W.shape[1])) * T.reshape(W, (1, W.shape[0], W.shape[1]))
    jac_norm = T.sum(jac ** 2) / batch
    return T.mean(rec) + contraction * jac_norm, jac


def test_contractive_autoencoder(data):
    xv, _ = data
    rng = np.random.RandomState(3)
    x = T.matrix("x")
    W = nbgrad.shared(_uniform_weights(rng, N_FEATURES, 5, scale=4.0), name="W")
    bhid, bvis = nbgrad.shared(np.zeros(5), name="bhid"), nbgrad.shared(np.zeros(N_FEATURES), name="bvis")
    params = [W, bhid, bvis]
    cost, jac = _contractive_cost(x, W, bhid, bvis, 0.1, N_SAMPLES)
    givens = {x: nbgrad.shared(xv)}
    step = nbgrad.function([], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, T.grad(cost, params))],
                           givens=givens)
    _assert_decreases(_train(step, 10))

    # the contraction term's Jacobian is dh/dx: compare one sample with differences
    f_jac = nbgrad.function([x], jac)
    f_h = nbgrad.function([x], T.nnet.sigmoid(T.dot(x, W) + bhid))
    sample = xv[:N_SAMPLES]
    eps = 1e-6
    e = np.zeros_like(sample)
    e[0, 4] = eps
    numeric = (f_h(sample + e)[0] - f_h(sample - e)[0]) / (2 * eps)
    np.testing.assert_allclose(f_jac(sample)[0, 4], numeric, rtol=1e-5)
    _check_grad_by_differences(cost, params, givens=givens)


def _pretrained_stack(rng, x, pretrainer, sizes=(N_FEATURES, 10, 6)):
    """Sigmoid layers with a pretraining model sharing each layer's weights, and a softmax top."""
    layers, models, below = [], [], x
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layer = TanhLayer(rng, below, n_in, n_out, activation=T.nnet.sigmoid)
        models.append(pretrainer(below, n_in, n_out, layer))
        layers.append(layer)
        below = layer.output
    return layers, models, SoftmaxLayer(below, sizes[-1], N_CLASSES)


def test_stacked_denoising_autoencoders(data):
    xv, yv = data
    rng = np.random.RandomState(4)
    srng = RandomStreams(5)
    x, y = T.matrix("x"), T.ivector("y")
    layers, daes, top = _pretrained_stack(rng, x, lambda below, n_in, n_out, layer: DenoisingAutoencoder(
        rng, srng, below, n_in, n_out, W=layer.W, bhid=layer.b))
    givens = {x: nbgrad.shared(xv), y: nbgrad.shared(yv)}

    for dae in daes:  # greedy layer-wise pretraining, each on the output of the one below
        cost, updates = dae.cost_updates(0.2, 0.1)
        step = nbgrad.function([], cost, updates=updates, givens={x: givens[x]})
        _assert_decreases([np.mean([step() for _ in range(3)]) for _ in range(5)])

    params = [p for layer in layers for p in layer.params] + top.params
    cost = top.nll(y)
    step = nbgrad.function([], cost, updates=[(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))],
                           givens=givens)
    _assert_decreases(_train(step, 8))
    _check_grad_by_differences(cost, params, n_entries=2, givens=givens)


class RBM:
    def __init__(self, rng, srng, x, n_visible, n_hidden, W=None, hbias=None):
        if not W:
            W = nbgrad.shared(_uniform_weights(rng, n_visible, n_hidden, scale=4.0), name="W")
        if not hbias:
            hbias = nbgrad.shared(np.zeros(n_hidden), name="hbias")
        self.vbias = nbgrad.shared(np.zeros(n_visible), name="vbias")
        self.W, self.hbias, self.x, self.srng = W, hbias, x, srng
        self.params = [W, hbias, self.vbias]

    def free_energy(self, v):
        return -T.dot(v, self.vbias) - T.sum(T.log(1 + T.exp(T.dot(v, self.W) + self.hbias)), axis=1)

    def h_given_v(self, v):
        mean = T.nnet.sigmoid(T.dot(v, self.W) + self.hbias)
        return mean, self.srng.binomial(size=mean.shape, n=1, p=mean, dtype=nbgrad.config.floatX)

    def v_given_h(self, h):
        mean = T.nnet.sigmoid(T.dot(h, self.W.T) + self.vbias)
        return mean, self.srng.binomial(size=mean.shape, n=1, p=mean, dtype=nbgrad.config.floatX)

    def gibbs_hvh(self, h):
        v_mean, v = self.v_given_h(h)
        h_mean, h_new = self.h_given_v(v)
        return [v_mean, v, h_mean, h_new]

    def cost_updates(self, lr, persistent=None, k=1):
        """Contrastive divergence (``persistent=None``) or a persistent chain of ``k`` Gibbs steps."""
        _, h_sample = self.h_given_v(self.x)
        start = h_sample if persistent is None else persistent
        (v_means, v_samples, h_means, h_samples), updates = nbgrad.scan(
            self.gibbs_hvh, outputs_info=[None, None, None, start], n_steps=k)
        chain_end = v_samples[-1]
        cost = T.mean(self.free_energy(self.x)) - T.mean(self.free_energy(chain_end))
        grads = T.grad(cost, self.params, consider_constant=[chain_end])
        for p, g in zip(self.params, grads):
            updates[p] = p - lr * g
        if persistent is not None:
            updates[persistent] = h_samples[-1]
        return cost, updates

    def reconstruction_error(self):
        h = T.nnet.sigmoid(T.dot(self.x, self.W) + self.hbias)
        z = T.nnet.sigmoid(T.dot(h, self.W.T) + self.vbias)
        return T.mean(-T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1))


def _binary_data(xv):
    return (xv > 0.5).astype(nbgrad.config.floatX)


def test_rbm_persistent_chain(data):
    xv = _binary_data(data[0])
    rng = np.random.RandomState(5)
    x = T.matrix("x")
    rbm = RBM(rng, MRG_RandomStreams(6), x, N_FEATURES, 8)
    chain = nbgrad.shared(np.zeros((N_SAMPLES, 8)), name="chain")
    _, updates = rbm.cost_updates(0.1, persistent=chain, k=2)
    givens = {x: nbgrad.shared(xv)}
    step = nbgrad.function([], [], updates=updates, givens=givens)
    recon = nbgrad.function([], rbm.reconstruction_error(), givens=givens)
    losses = [recon()]
    for _ in range(5):
        for _ in range(4):
            step()
        losses.append(recon())
    _assert_decreases(losses)
    # the chain moved: the persistent state is updated by scan's last sample
    states = chain.get_value()
    assert states.shape == (N_SAMPLES, 8) and set(np.unique(states)) <= {0.0, 1.0} and states.any()

    # the CD gradient is the gradient of the free-energy difference with the chain end held fixed
    negatives = _binary_data(np.random.RandomState(8).rand(4, N_FEATURES))

    def free_energy_gap(W, hbias, vbias):
        def fe(v):
            return -T.dot(v, vbias) - T.sum(T.log(1 + T.exp(T.dot(v, W) + hbias)), axis=1)
        return T.mean(fe(T.constant(xv[:4]))) - T.mean(fe(T.constant(negatives)))

    verify_grad(free_energy_gap, [p.get_value() for p in rbm.params], rng=np.random.RandomState(9))


def test_deep_belief_network(data):
    xv, yv = data
    xb = _binary_data(xv)
    rng = np.random.RandomState(6)
    srng = RandomStreams(7)
    x, y = T.matrix("x"), T.ivector("y")
    layers, rbms, top = _pretrained_stack(rng, x, lambda below, n_in, n_out, layer: RBM(
        rng, srng, below, n_in, n_out, W=layer.W, hbias=layer.b))
    givens = {x: nbgrad.shared(xb), y: nbgrad.shared(yv)}

    for rbm in rbms:  # CD-1 pretraining, layer by layer
        _, updates = rbm.cost_updates(0.1)
        step = nbgrad.function([], [], updates=updates, givens={x: givens[x]})
        recon = nbgrad.function([], rbm.reconstruction_error(), givens={x: givens[x]})
        losses = [recon()]
        for _ in range(4):
            for _ in range(5):
                step()
            losses.append(recon())
        _assert_decreases(losses)
    assert rbms[0].W is layers[0].W

    params = [p for layer in layers for p in layer.params] + top.params
    cost = top.nll(y)
    step = nbgrad.function([], cost, updates=[(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))],
                           givens=givens)
    _assert_decreases(_train(step, 8))
    _check_grad_by_differences(cost, params, n_entries=2, givens=givens)


class ConvPoolLayer:
    def __init__(self, rng, x, filter_shape, image_shape, pool=(2, 2)):
        fan_in = np.prod(filter_shape[1:])
        fan_out = filter_shape[0] * np.prod(filter_shape[2:]) // np.prod(pool)
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        self.W = nbgrad.shared(rng.uniform(-bound, bound, size=filter_shape), name="filters")
        self.b = nbgrad.shared(np.zeros(filter_shape[0]), name="b")
        conv = conv2d(x, self.W, filter_shape=filter_shape, input_shape=image_shape)
        pooled = pool_2d(conv, ws=pool, ignore_border=True)
        self.output = T.tanh(pooled + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]


def test_lenet_conv_pool():
    rng = np.random.RandomState(8)
    batch, side = 8, 12
    xv = rng.rand(batch, side * side)
    yv = (xv[:, :side * side // 2].sum(axis=1) > xv[:, side * side // 2:].sum(axis=1)).astype("int32")
    x, y = T.matrix("x"), T.ivector("y")
    image = x.reshape((batch, 1, side, side))
    c1 = ConvPoolLayer(rng, image, (3, 1, 3, 3), (batch, 1, side, side))  # -> 3 x 5 x 5
    c2 = ConvPoolLayer(rng, c1.output, (4, 3, 2, 2), (batch, 3, 5, 5))  # -> 4 x 2 x 2
    hidden = TanhLayer(rng, c2.output.flatten(2), 4 * 2 * 2, 8)
    top = SoftmaxLayer(hidden.output, 8, 2)
    params = top.params + hidden.params + c2.params + c1.params
    cost = top.nll(y)
    givens = {x: nbgrad.shared(xv), y: nbgrad.shared(yv)}
    step = nbgrad.function([], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, T.grad(cost, params))],
                           givens=givens)
    _assert_decreases(_train(step, 8))
    _check_grad_by_differences(cost, params, n_entries=2, givens=givens)


def _lstm_cost(tparams, x, mask, y, dim):
    """Embed word ids (time, batch), run an LSTM with ``scan``, mean-pool the masked states, classify."""
    n_steps, n_samples = x.shape[0], x.shape[1]
    emb = tparams["Wemb"][x.flatten()].reshape((n_steps, n_samples, dim))

    def gate(pre, k):
        return pre[:, k * dim:(k + 1) * dim]

    def step(m, x_t, h, c):
        pre = T.dot(h, tparams["U"]) + x_t
        i = T.nnet.sigmoid(gate(pre, 0))
        f = T.nnet.sigmoid(gate(pre, 1))
        o = T.nnet.sigmoid(gate(pre, 2))
        c_new = f * c + i * T.tanh(gate(pre, 3))
        c_new = m[:, None] * c_new + (1.0 - m)[:, None] * c
        h_new = o * T.tanh(c_new)
        h_new = m[:, None] * h_new + (1.0 - m)[:, None] * h
        return h_new, c_new

    inputs = T.dot(emb, tparams["W"]) + tparams["b"]
    zeros = T.alloc(np.float64(0.0), n_samples, dim)
    (hs, _), _ = nbgrad.scan(step, sequences=[mask, inputs], outputs_info=[zeros, zeros])
    pooled = (hs * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
    p_y = T.nnet.softmax(T.dot(pooled, tparams["V"]) + tparams["c"])
    return -T.log(p_y[T.arange(n_samples), y] + 1e-8).mean()


def test_lstm_through_scan():
    rng = np.random.RandomState(9)
    vocab, dim, n_seq, max_len = 12, 4, 6, 5
    tparams = {
        "Wemb": nbgrad.shared(0.1 * rng.randn(vocab, dim), name="Wemb"),
        "W": nbgrad.shared(0.3 * rng.randn(dim, 4 * dim), name="W"),
        "U": nbgrad.shared(0.3 * rng.randn(dim, 4 * dim), name="U"),
        "b": nbgrad.shared(np.zeros(4 * dim), name="b"),
        "V": nbgrad.shared(0.1 * rng.randn(dim, 2), name="V"),
        "c": nbgrad.shared(np.zeros(2), name="c"),
    }
    lengths = rng.randint(2, max_len + 1, size=n_seq)
    xv = np.zeros((max_len, n_seq), dtype="int64")
    maskv = np.zeros((max_len, n_seq))
    for k, n in enumerate(lengths):
        xv[:n, k] = rng.randint(1, vocab, size=n)
        maskv[:n, k] = 1.0
    yv = (xv[0] > vocab // 2).astype("int64")
    x, mask, y = T.lmatrix("x"), T.matrix("mask"), T.lvector("y")
    cost = _lstm_cost(tparams, x, mask, y, dim)
    params = list(tparams.values())
    step = nbgrad.function([x, mask, y], cost,
                           updates=[(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))])
    _assert_decreases([step(xv, maskv, yv) for _ in range(8)])
    givens = {x: T.constant(xv), mask: T.constant(maskv), y: T.constant(yv)}
    _check_grad_by_differences(cost, params, n_entries=2, givens=givens)


def test_elman_rnn_slot_filling():
    rng = np.random.RandomState(10)
    vocab, emb_dim, hidden, n_labels, length = 10, 4, 6, 3, 7
    emb = nbgrad.shared(0.2 * rng.uniform(-1, 1, (vocab, emb_dim)), name="embeddings")
    wx = nbgrad.shared(0.2 * rng.uniform(-1, 1, (emb_dim, hidden)), name="wx")
    wh = nbgrad.shared(0.2 * rng.uniform(-1, 1, (hidden, hidden)), name="wh")
    w = nbgrad.shared(0.2 * rng.uniform(-1, 1, (hidden, n_labels)), name="w")
    bh, b = nbgrad.shared(np.zeros(hidden), name="bh"), nbgrad.shared(np.zeros(n_labels), name="b")
    h0 = nbgrad.shared(np.zeros(hidden), name="h0")
    params = [emb, wx, wh, w, bh, b, h0]

    words, labels = T.ivector("words"), T.ivector("labels")
    embedded = emb[words]

    def recurrence(x_t, h_prev):
        h_t = T.nnet.sigmoid(T.dot(x_t, wx) + T.dot(h_prev, wh) + bh)
        return h_t, T.nnet.softmax(T.dot(h_t, w) + b)

    (_, probs), _ = nbgrad.scan(recurrence, sequences=embedded, outputs_info=[h0, None],
                                n_steps=embedded.shape[0])
    p_y = probs[:, 0, :]
    nll = -T.mean(T.log(p_y)[T.arange(words.shape[0]), labels])
    lr = T.scalar("lr")
    train = nbgrad.function([words, labels, lr], nll,
                            updates=[(p, p - lr * g) for p, g in zip(params, T.grad(nll, params))])
    classify = nbgrad.function([words], T.argmax(p_y, axis=1))
    normalize = nbgrad.function([], updates={emb: emb / T.sqrt((emb ** 2).sum(axis=1)).dimshuffle(0, "x")})

    sentence = rng.randint(0, vocab, size=length).astype("int32")
    tags = (sentence % n_labels).astype("int32")
    losses = []
    for _ in range(30):
        losses.append(float(train(sentence, tags, 0.5)))
        normalize()
    _assert_decreases(losses)
    np.testing.assert_allclose(np.linalg.norm(emb.get_value(), axis=1), 1.0)
    assert classify(sentence).shape == (length,)
    # only the embedding rows of words in the sentence receive a gradient
    givens = {words: T.constant(sentence), labels: T.constant(tags)}
    g_emb = nbgrad.function([], T.grad(nll, emb), givens=givens)()
    unused = np.setdiff1d(np.arange(vocab), sentence)
    assert np.all(g_emb[unused] == 0) and np.any(g_emb[sentence] != 0)
    _check_grad_by_differences(nll, params, n_entries=2, givens=givens)


def test_hmc_sampling_with_scan():
    rng = np.random.RandomState(11)
    dim, n_chains, n_leapfrog = 2, 8, 10
    mu = np.array([3.0, -1.0])
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    precision = np.linalg.inv(cov)

    def energy(pos):
        centred = pos - mu
        return 0.5 * (T.dot(centred, precision) * centred).sum(axis=1)

    def hamiltonian(pos, vel):
        return energy(pos) + 0.5 * (vel ** 2).sum(axis=1)

    positions = nbgrad.shared(rng.randn(n_chains, dim) * 0.5 + 10.0, name="positions")
    stepsize = nbgrad.shared(np.float64(0.2), name="stepsize")
    srng = RandomStreams(12)

    vel0 = srng.normal(size=positions.shape)
    grad_e = T.grad(energy(positions).sum(), positions)
    vel_half = vel0 - 0.5 * stepsize * grad_e
    pos_first = positions + stepsize * vel_half

    def leapfrog(pos, vel, step):
        dE = T.grad(energy(pos).sum(), pos)
        vel_new = vel - step * dE
        return pos + step * vel_new, vel_new

    (pos_path, vel_path), scan_updates = nbgrad.scan(
        leapfrog, outputs_info=[pos_first, vel_half], non_sequences=[stepsize], n_steps=n_leapfrog - 1)
    final_pos = pos_path[-1]
    final_vel = vel_path[-1] - 0.5 * stepsize * T.grad(energy(final_pos).sum(), final_pos)
    accept = T.exp(hamiltonian(positions, vel0) - hamiltonian(final_pos, final_vel)) - srng.uniform(
        size=(n_chains,)) >= 0
    new_pos = T.switch(accept.dimshuffle(0, "x"), final_pos, positions)
    scan_updates[positions] = new_pos
    draw = nbgrad.function([], [energy(positions).mean(), accept.mean()], updates=scan_updates)

    start_energy = draw()[0]
    samples, rates = [], []
    for k in range(150):
        e, rate = draw()
        rates.append(rate)
        if k >= 30:
            samples.append(positions.get_value())
    assert e < start_energy
    assert np.mean(rates) > 0.5
    samples = np.concatenate(samples)
    np.testing.assert_allclose(samples.mean(axis=0), mu, atol=0.35)
    # the energy gradient the leapfrog steps follow
    verify_grad(lambda p: energy(p), [rng.randn(3, dim)], rng=np.random.RandomState(13))
