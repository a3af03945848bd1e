"""numpy reference fixtures for Keras 3's merge layers where TF.js cannot serve as the reference.

TF.js 4.22 has no Subtract, refuses Dot on rank > 3, clamps Dot's normalize differently, and its
Merge.computeMask follows Keras 2's AND (and is broken for two inputs). Keras >= 3.4 instead ORs
the input masks (none unless every input has one), leaves masked steps out of Multiply (as 1),
Maximum and Minimum (keras/src/layers/merging/base_merge.py, multiply.py), and Concatenate ORs
the inputs' masks stretched to their shapes along the join. This script transcribes those rules
(and Dense, Masking, Embedding(mask_zero), LSTM with a mask, Keras' batch_dot) in float64 numpy
and writes tests/reference/fixtures_torch/merge/<case>.json + index.json in the tfjs fixtures'
format with a Keras 3 functional model_config ({"args": [[tensor, tensor]]} for a merge call)
and "keras_version": "3.10.0", which the parity test uses to pick Keras 3's mask rule.

Usage: /usr/bin/python3 tools/torch-reference/make_merge_fixtures.py [--out DIR] [--seed UINT32]
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, fnv1a32  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_merge_fixtures.py'
GROUP = 'merge'
KERAS_VERSION = '3.10.0'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


# --- Keras 3 semantics in numpy ---------------------------------------------------------------

def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


ACT = {'linear': lambda v: v, 'tanh': np.tanh, 'relu': lambda v: np.maximum(v, 0)}


class T:
    """A tensor with its Keras mask (None: none)."""

    def __init__(self, v, mask=None):
        self.v = v
        self.mask = mask


def dense(x, w, act):
    return T(ACT[act](x.v @ w['kernel'] + w['bias']), x.mask)  # Dense passes its input's mask on


def masking(x):
    keep = np.any(x.v != 0.0, axis=-1)
    return T(x.v * keep[..., None], keep)


def embedding(ids, w):
    return T(w['embeddings'][ids.astype(np.int64)], ids != 0)


def lstm(x, w, seq):
    """Keras 3 LSTM (TF backend), gates i, f, c, o; a masked step carries h and c and outputs the
    previous output (zeros before the first kept step)."""
    k, rk, b = w['kernel'], w['recurrent_kernel'], w['bias']
    u = rk.shape[0]
    B, steps, _ = x.v.shape
    h = np.zeros((B, u))
    c = np.zeros((B, u))
    out = np.zeros((B, u))
    outs = []
    for t in range(steps):
        z = x.v[:, t] @ k + h @ rk + b
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        keep = np.ones(B, dtype=bool) if x.mask is None else x.mask[:, t]
        h = np.where(keep[:, None], h_new, h)
        c = np.where(keep[:, None], c_new, c)
        out = np.where(keep[:, None], h_new, out)
        outs.append(out)
    return T(np.stack(outs, axis=1) if seq else out, x.mask if seq else None)


def reshape_for_merge(xs):
    """Merge.call: inputs of lower rank get axes inserted at 1 (their masks do not follow)."""
    nd = max(x.v.ndim for x in xs)
    out = []
    for x in xs:
        if x.v.ndim < nd:
            v = x.v
            while v.ndim < nd:
                v = np.expand_dims(v, 1)
            out.append(T(v, None))
        else:
            out.append(x)
    return out


def merge_compute_mask(masks):
    """base_merge.compute_mask (Keras >= 3.4): OR when every input has a mask, else None."""
    if any(m is None for m in masks):
        return None
    r = masks[0]
    for m in masks[1:]:
        r = np.logical_or(r, m)
    return r


def bmask(x):
    return None if x.mask is None else np.broadcast_to(np.expand_dims(x.mask, -1), x.v.shape)


def merge(kind, xs):
    given = [x.mask for x in xs]
    ys = reshape_for_merge(xs)
    if kind in ('add', 'average', 'subtract'):
        r = ys[0].v
        for y in ys[1:]:
            r = r - y.v if kind == 'subtract' else r + y.v
        if kind == 'average':
            r = r / len(ys)
        return T(r, merge_compute_mask(given))
    if kind == 'multiply':
        masks = [bmask(y) for y in ys]
        has_out = all(m is not None for m in masks)
        out, om = None, None
        for y, m in zip(ys, masks):
            v = y.v
            if m is not None:
                v = np.where(m, v, 1.0)
                if has_out:
                    om = m if om is None else np.logical_or(om, m)
            out = v if out is None else out * v
        if has_out:
            out = np.where(om, out, 0.0)
            return T(out, np.any(om, axis=-1))
        return T(out, merge_compute_mask(given))
    # maximum / minimum: _apply_merge_op_and_or_mask
    op = np.maximum if kind == 'maximum' else np.minimum
    out, om = None, None
    for y in ys:
        m = bmask(y)
        v = y.v
        if out is None:
            out, om = v, m
            continue
        if m is not None:
            v = np.where(m, v, out)
        if om is not None:
            out = np.where(om, out, v)
        om = np.logical_or(om, m) if (m is not None and om is not None) else None
        out = op(out, v)
    if om is not None:
        return T(out, np.any(om, axis=-1))
    return T(out, merge_compute_mask(given))


def concatenate(xs, axis):
    v = np.concatenate([x.v for x in xs], axis=axis)
    if all(x.mask is None for x in xs):
        return T(v, None)
    ms = []
    for x in xs:
        if x.mask is None:
            ms.append(np.ones(x.v.shape, dtype=bool))
        else:
            ms.append(np.logical_or(np.expand_dims(x.mask, -1), np.zeros(x.v.shape, dtype=bool)))
    return T(v, np.any(np.concatenate(ms, axis=axis), axis=-1))


def l2_normalize(v, axis):
    """keras.ops.normalize(order=2): x * rsqrt(max(sum(x^2), epsilon^2)), epsilon = 1e-7."""
    s = np.sum(v * v, axis=axis, keepdims=True)
    return v / np.sqrt(np.maximum(s, 1e-14))


def dot(xs, axes, normalize):
    x, y = xs[0].v, xs[1].v
    ax = [axes, axes] if isinstance(axes, int) else list(axes)
    ax = [a % nd if a < 0 else a for a, nd in zip(ax, (x.ndim, y.ndim))]
    if normalize:
        x, y = l2_normalize(x, ax[0]), l2_normalize(y, ax[1])
    # batch_dot: per sample, tensordot over the two axes; x's free axes, then y's.
    r = np.stack([np.tensordot(x[b], y[b], axes=([ax[0] - 1], [ax[1] - 1])) for b in range(x.shape[0])])
    if r.ndim == 1:
        r = r[:, None]
    return T(r, None)


# --- Keras 3 config -------------------------------------------------------------------------

def policy():
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}


def init(cls):
    return {'module': 'keras.initializers', 'class_name': cls, 'config': {'seed': None}, 'registered_name': None}


def layer_config(cls, name, o):
    base = {'name': name, 'trainable': True, 'dtype': policy()}
    if cls == 'Dense':
        base.update({'units': o['units'], 'activation': o.get('activation', 'linear'), 'use_bias': True,
                     'kernel_initializer': init('GlorotUniform'), 'bias_initializer': init('Zeros'),
                     'kernel_regularizer': None, 'bias_regularizer': None, 'kernel_constraint': None,
                     'bias_constraint': None})
    elif cls == 'Masking':
        base.update({'mask_value': 0.0})
    elif cls == 'Embedding':
        base.update({'input_dim': o['input_dim'], 'output_dim': o['output_dim'], 'mask_zero': True,
                     'embeddings_initializer': init('RandomUniform'), 'embeddings_regularizer': None,
                     'embeddings_constraint': None})
    elif cls == 'LSTM':
        base.update({'return_sequences': o['seq'], 'return_state': False, 'go_backwards': False, 'stateful': False,
                     'unroll': False, 'zero_output_for_mask': False, 'units': o['units'], 'activation': 'tanh',
                     'recurrent_activation': 'sigmoid', 'use_bias': True,
                     'kernel_initializer': init('GlorotUniform'), 'recurrent_initializer': init('Orthogonal'),
                     'bias_initializer': init('Zeros'), 'unit_forget_bias': True, 'dropout': 0.0,
                     'recurrent_dropout': 0.0, 'seed': None})
    elif cls == 'Concatenate':
        base.update({'axis': o['axis']})
    elif cls == 'Dot':
        base.update({'axes': o['axes'], 'normalize': o.get('normalize', False)})
    return base


class Graph:
    """A Keras 3 functional model built call by call, with the numpy values alongside."""

    def __init__(self, name, rng):
        self.name = name
        self.rng = rng
        self.layers = []   # model_config layer entries
        self.weights = []  # fixture "layers" entries
        self.inputs = []
        self.values = {}

    def ref(self, lname):
        return {'class_name': '__keras_tensor__',
                'config': {'shape': None, 'dtype': 'float32', 'keras_history': [lname, 0, 0]}}

    def input(self, name, shape, value):
        self.layers.append({'module': 'keras.layers', 'class_name': 'InputLayer',
                            'config': {'batch_shape': [None] + list(shape), 'dtype': 'float32', 'sparse': False,
                                       'name': name}, 'registered_name': None, 'name': name, 'inbound_nodes': []})
        self.inputs.append((name, value))
        self.values[name] = T(value, None)
        return name

    def call(self, cls, name, args, o=None, weights=None):
        o = o or {}
        cfg = layer_config(cls, name, o)
        # A merge's first argument is the list of its inputs: {"args": [[t1, t2, ...]]}.
        arg = [self.ref(a) for a in args] if isinstance(args, list) else self.ref(args)
        self.layers.append({'module': 'keras.layers', 'class_name': cls, 'config': cfg, 'registered_name': None,
                            'build_config': {'input_shape': None}, 'name': name,
                            'inbound_nodes': [{'args': [arg], 'kwargs': {}}]})
        w = weights or []
        self.weights.append({'name': name, 'class_name': cls, 'config': cfg,
                             'weights': [{'name': f'{name}/{n}', 'shape': list(v.shape), 'data': F32List(v)}
                                         for n, v in w]})
        return name

    def dense(self, x, name, units, act='tanh'):
        f = self.values[x].v.shape[-1]
        w = {'kernel': self.rng.array((f, units), 2.0 / math.sqrt(f)), 'bias': self.rng.array((units,), 0.5)}
        self.call('Dense', name, x, {'units': units, 'activation': act}, [('kernel', w['kernel']), ('bias', w['bias'])])
        self.values[name] = dense(self.values[x], w, act)
        return name

    def masking(self, x, name):
        self.call('Masking', name, x)
        self.values[name] = masking(self.values[x])
        return name

    def embedding(self, x, name, vocab, dim):
        w = {'embeddings': self.rng.array((vocab, dim), 1.0)}
        self.call('Embedding', name, x, {'input_dim': vocab, 'output_dim': dim}, [('embeddings', w['embeddings'])])
        self.values[name] = embedding(self.values[x].v, w)
        return name

    def lstm(self, x, name, units, seq):
        f = self.values[x].v.shape[-1]
        w = {'kernel': self.rng.array((f, 4 * units), 2.0 / math.sqrt(f)),
             'recurrent_kernel': self.rng.array((units, 4 * units), 2.0 / math.sqrt(units)),
             'bias': self.rng.array((4 * units,), 0.5)}
        self.call('LSTM', name, x, {'units': units, 'seq': seq},
                  [('kernel', w['kernel']), ('recurrent_kernel', w['recurrent_kernel']), ('bias', w['bias'])])
        self.values[name] = lstm(self.values[x], w, seq)
        return name

    def merge(self, kind, cls, xs, name, o=None):
        o = o or {}
        self.call(cls, name, xs, o)
        vals = [self.values[x] for x in xs]
        if cls == 'Concatenate':
            self.values[name] = concatenate(vals, o['axis'])
        elif cls == 'Dot':
            self.values[name] = dot(vals, o['axes'], o.get('normalize', False))
        else:
            self.values[name] = merge(kind, vals)
        return name

    def model_config(self, outputs):
        return {'module': 'keras.src.models.functional', 'class_name': 'Functional',
                'config': {'name': self.name, 'trainable': True, 'layers': self.layers,
                           'input_layers': [[n, 0, 0] for n, _ in self.inputs],
                           'output_layers': [[n, 0, 0] for n in outputs]},
                'registered_name': 'Functional', 'build_config': {'input_shape': None}}


def masked_input(rng, B, steps, F, pattern):
    """uniform(-1, 1) values with the steps where pattern(b, t) is true set to 0 (Masking masks them)."""
    x = rng.array((B, steps, F), 1.0)
    for b in range(B):
        for t in range(steps):
            if pattern(b, t):
                x[b, t, :] = 0.0
    return x


# Steps masked in x1 and in x2: some in one only, some in both (b=1, t=2), a sample fully kept.
P1 = lambda b, t: (b, t) in ((0, 1), (1, 2), (1, 3), (2, 0))  # noqa: E731
P2 = lambda b, t: (b, t) in ((0, 3), (1, 2), (2, 0), (2, 1))  # noqa: E731


def case_masked_merge(g, kind, cls, mask1, mask2, seq):
    B, S, F = 3, 5, 3
    x1 = g.input('x1', (S, F), masked_input(g.rng, B, S, F, P1))
    x2 = g.input('x2', (S, F), masked_input(g.rng, B, S, F, P2))
    a = g.dense(g.masking(x1, 'masking') if mask1 else x1, 'dense', 4)
    b = g.dense(g.masking(x2, 'masking_1') if mask2 else x2, 'dense_1', 4)
    m = g.merge(kind, cls, [a, b], kind)
    y = g.lstm(m, 'lstm', 3, seq)
    return [y, m], ['lstm', kind], (f'x1 [{B},{S},{F}] -> {"Masking -> " if mask1 else ""}Dense(4, tanh); '
                                    f'x2 -> {"Masking -> " if mask2 else ""}Dense(4, tanh); {cls}() -> '
                                    f'LSTM(3, return_sequences={seq}); outputs [lstm, {kind}]')


def build_cases():
    cases = []

    def add(name, fn):
        cases.append((name, fn))

    def sub_dense(g):
        x1 = g.input('x1', (4, 3), g.rng.array((2, 4, 3), 1.0))
        x2 = g.input('x2', (4, 3), g.rng.array((2, 4, 3), 1.0))
        m = g.merge('subtract', 'Subtract', [g.dense(x1, 'dense', 5), g.dense(x2, 'dense_1', 5)], 'subtract')
        return [g.dense(m, 'dense_2', 2, 'linear'), m], ['y', 'subtract'], (
            'x1, x2 [2,4,3] -> Dense(5, tanh) each; Subtract() -> Dense(2, linear); outputs [y, subtract]')
    add('subtract_dense_rank3', sub_dense)

    def sub_bcast(g):
        x1 = g.input('x1', (4, 3), g.rng.array((3, 4, 3), 1.0))
        x2 = g.input('x2', (3,), g.rng.array((3, 3), 1.0))
        return [g.merge('subtract', 'Subtract', [x1, x2], 'subtract')], ['y'], (
            'Subtract()([x1 [3,4,3], x2 [3,3]]): x2 expanded to [3,1,3]')
    add('subtract_broadcast_rank3_rank2', sub_bcast)

    for kind, cls in (('add', 'Add'), ('average', 'Average'), ('multiply', 'Multiply'), ('maximum', 'Maximum'),
                      ('minimum', 'Minimum')):
        add(f'{kind}_masking_both_lstm', lambda g, k=kind, c=cls: case_masked_merge(g, k, c, True, True, True))
    add('multiply_masking_first_lstm', lambda g: case_masked_merge(g, 'multiply', 'Multiply', True, False, True))
    add('maximum_masking_second_lstm_last',
        lambda g: case_masked_merge(g, 'maximum', 'Maximum', False, True, False))
    add('minimum_masking_first_lstm', lambda g: case_masked_merge(g, 'minimum', 'Minimum', True, False, True))
    add('add_masking_first_lstm', lambda g: case_masked_merge(g, 'add', 'Add', True, False, True))

    def concat(axis, second):
        def fn(g):
            B, S, V, E = 3, 5, 6, 3
            ids = np.array([[g.rng.int(0, V - 1) if not P1(b, t) else 0 for t in range(S)] for b in range(B)],
                           dtype=np.float64)
            x1 = g.input('ids', (S,), ids)
            e = g.embedding(x1, 'embedding', V, E)
            x2 = g.input('x2', (S, E), masked_input(g.rng, B, S, E, P2))
            o = g.masking(x2, 'masking') if second == 'masking' else g.dense(x2, 'dense', E)
            c = g.merge('concatenate', 'Concatenate', [e, o], 'concatenate', {'axis': axis})
            y = g.lstm(c, 'lstm', 3, True)
            return [y, c], ['lstm', 'concatenate'], (
                f'ids [{B},{S}] (0 at masked steps) -> Embedding({V}, {E}, mask_zero=True); x2 [{B},{S},{E}] -> '
                f'{"Masking" if second == "masking" else "Dense(3, tanh) (no mask)"}; Concatenate(axis={axis}) -> '
                'LSTM(3, return_sequences=True); outputs [lstm, concatenate]')
        return fn
    add('concatenate_time_embedding_masking_lstm', concat(1, 'masking'))
    add('concatenate_features_embedding_masking_lstm', concat(-1, 'masking'))
    add('concatenate_features_embedding_dense_lstm', concat(-1, 'dense'))

    def concat_neg2(g):
        x1 = g.input('x1', (2, 3, 4), g.rng.array((2, 2, 3, 4), 1.0))
        x2 = g.input('x2', (2, 1, 4), g.rng.array((2, 2, 1, 4), 1.0))
        return [g.merge('concatenate', 'Concatenate', [x1, x2], 'concatenate', {'axis': -2})], ['y'], (
            'Concatenate(axis=-2)([x1 [2,2,3,4], x2 [2,2,1,4]]) -> [2,2,4,4] (TF.js joins along the last axis for '
            'every negative axis)')
    add('concatenate_axis_neg2_rank4', concat_neg2)

    def dot_rank4(g):
        x1 = g.input('x1', (3, 4, 5), g.rng.array((2, 3, 4, 5), 1.0))
        x2 = g.input('x2', (4, 2), g.rng.array((2, 4, 2), 1.0))
        return [g.merge('dot', 'Dot', [x1, x2], 'dot', {'axes': [2, 1]})], ['y'], (
            'Dot(axes=[2, 1])([x1 [2,3,4,5], x2 [2,4,2]]) -> [2,3,5,2] (TF.js refuses rank 4)')
    add('dot_rank4_rank3_axes_2_1', dot_rank4)

    def dot_small(g):
        x1 = g.rng.array((2, 3, 4), 1.0)
        x1[0, 1, :] = np.array([g.rng.f32(1e-5) for _ in range(4)])  # sum of squares ~1e-10: > 1e-14, < 1e-7
        x1[1, 2, :] = 0.0
        a = g.input('x1', (3, 4), x1)
        b = g.input('x2', (5, 4), g.rng.array((2, 5, 4), 1.0))
        return [g.merge('dot', 'Dot', [a, b], 'dot', {'axes': 2, 'normalize': True})], ['y'], (
            'Dot(axes=2, normalize=True)([x1 [2,3,4], x2 [2,5,4]]) with a tiny row (|x|^2 ~ 1e-10: Keras 3 clamps '
            'at 1e-14 and normalises it to unit length; TF.js clamps at 1e-7) and a zero row (0 either way)')
    add('dot_normalize_tiny_and_zero_rows', dot_small)

    def dot_masked(g):
        x = g.input('x', (5, 3), masked_input(g.rng, 3, 5, 3, P1))
        m = g.masking(x, 'masking')
        d = g.merge('dot', 'Dot', [m, m], 'dot', {'axes': 2})
        return [g.lstm(d, 'lstm', 2, True), d], ['lstm', 'dot'], (
            'x [3,5,3] -> Masking; Dot(axes=2)([m, m]) -> [3,5,5] (Dot drops the mask) -> LSTM(2, '
            'return_sequences=True) on every step; outputs [lstm, dot]')
    add('dot_masked_inputs_no_mask_lstm', dot_masked)
    return cases


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', GROUP))
    out = args.out
    prepare_out_dir(out, GENERATOR)
    entries = []
    for name, fn in build_cases():
        seed = fnv1a32(f'{GROUP}/{name}') ^ args.seed
        g = Graph(name, SplitMix64(seed))
        outs, labels, desc = fn(g)
        for o in outs:
            if not np.all(np.isfinite(g.values[o].v)) or np.max(np.abs(g.values[o].v)) > 100:
                raise RuntimeError(f'{name}: output {o} out of range')
        fixture = {
            'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
            'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64',
            'keras_semantics': 'keras3', 'keras_version': KERAS_VERSION,
            'notes': desc + '. Keras >= 3.4 merge semantics (masks ORed; Multiply/Maximum/Minimum skip masked steps). '
                     'Kernels uniform(-1,1)*2/sqrt(fan_in), biases uniform(-1,1)*0.5, embeddings and inputs '
                     'uniform(-1,1), all float32 values; outputs computed in float64 numpy.',
            'model_config': g.model_config(outs),
            'layers': g.weights,
            'inputs': [{'label': n, 'shape': list(v.shape), 'data': F32List(v)} for n, v in g.inputs],
            'outputs': [{'label': lab, 'shape': list(g.values[o].v.shape), 'data': F64List(g.values[o].v)}
                        for o, lab in zip(outs, labels)],
        }
        entries.append(write_case(out, fixture))
        print(f'  {name}')
    write_index(out, GENERATOR, args.seed, entries, {'reference': 'numpy', 'compute_dtype': 'float64'})




if __name__ == '__main__':
    main()
