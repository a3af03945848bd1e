#!/usr/bin/python3
"""Numpy float64 reference fixtures for Keras' activation layers and activation names that tfjs lacks.

Writes tests/reference/fixtures_torch/activations/<case>.json and index.json in the format of the tfjs fixtures
(tools/keras-reference/README.md), with Keras 3 model configs whose "keras_version" names the Keras release whose
rules the case follows. The formulas are Keras' own (keras/src/backend/numpy/nn.py, keras/src/activations,
keras/src/layers/activations), evaluated in float64 on float32 weights and inputs:
  - ReLU's negative_slope and threshold (tfjs has max_value only), ELU with alpha != 1 (tfjs: alpha 1 only);
  - LeakyReLU as Keras 3 writes it (negative_slope) and as Keras 2 does (alpha);
  - Softmax over one non-last axis (tfjs throws) and Softmax's mask rules: Keras >= 3.13 (masked logits replaced
    by -1e9, masked outputs 0), Keras 3.10-3.12 (-1e9 added, outputs 0), Keras 2 / 3.0-3.9 (-1e9 added only), and
    a mask broadcast against a rank-3 input as Keras aligns it (the input's last two axes);
  - the Keras 3 activation names tfjs does not know, through Dense, Activation and SimpleRNN.
Usage: /usr/bin/python3 tools/torch-reference/make_activation_fixtures.py [--out DIR] [--seed N]
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, fnv1a32, dtype_policy, initializer  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_activation_fixtures.py'
GROUP = 'activations'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
KERAS3 = '3.13.0'


# ---------------------------------------------------------------------------
# Keras' formulas (float64)
# ---------------------------------------------------------------------------
def softplus(x):
    return np.logaddexp(x, 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def sparsemax(x, axis=-1):
    z = -np.sort(-x, axis=axis)
    c = np.cumsum(z, axis=axis)
    r = np.arange(1, x.shape[axis] + 1).reshape([1] * (x.ndim - 1) + [-1])
    support = z - (c - 1) / r > 0
    k = np.sum(support, axis=axis, keepdims=True)
    tau = (np.sum(np.where(support, c, 0.0), axis=axis, keepdims=True) - 1) / k
    return np.maximum(x - tau, 0.0)


def erf(x):
    return np.vectorize(math.erf)(x)


ACTIVATIONS = {
    'linear': lambda x: x,
    'relu': lambda x: np.maximum(x, 0.0),
    'relu6': lambda x: np.minimum(np.maximum(x, 0.0), 6.0),
    'leaky_relu': lambda x: np.where(x >= 0, x, 0.2 * x),
    'elu': lambda x: np.where(x > 0, x, np.expm1(x)),
    'selu': lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    'gelu': lambda x: x * (erf(x / np.sqrt(2.0)) + 1) / 2,
    'sigmoid': sigmoid,
    'hard_sigmoid': lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    'tanh': np.tanh,
    'softmax': softmax,
    'log_softmax': log_softmax,
    'softplus': softplus,
    'softsign': lambda x: x / (1.0 + np.abs(x)),
    'silu': lambda x: x * sigmoid(x),
    'mish': lambda x: x * np.tanh(softplus(x)),
    'exponential': np.exp,
    'hard_silu': lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    'celu': lambda x: np.maximum(x, 0.0) + 1.0 * np.expm1(np.minimum(x, 0.0) / 1.0),
    'hard_shrink': lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    'hard_tanh': lambda x: np.clip(x, -1.0, 1.0),
    'log_sigmoid': lambda x: -softplus(-x),
    'soft_shrink': lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    'sparse_plus': lambda x: np.where(x <= -1, 0.0, np.where(x < 1, 0.25 * (x + 1) ** 2, x)),
    'sparse_sigmoid': lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, 0.5 * (x + 1))),
    'squareplus': lambda x: (x + np.sqrt(x ** 2 + 4)) / 2,
    'tanh_shrink': lambda x: x - np.tanh(x),
    'sparsemax': sparsemax,
}
ACTIVATIONS['swish'] = ACTIVATIONS['silu']
ACTIVATIONS['hard_swish'] = ACTIVATIONS['hard_silu']


def keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.activations.relu (ReLU.static_call) in float64."""
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return np.where(x >= 0, x, negative_slope * x)
    negative_part = np.maximum(-x + threshold, 0.0) if negative_slope != 0.0 else None
    y = x * (x > threshold) if threshold != 0 else np.maximum(x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * negative_part
    return y


def keras_softmax_layer(x, axis, mask, version):
    """keras.layers.Softmax.call for a Keras version ('3.13', '3.10' or '2'); mask broadcast as numpy does."""
    if mask is not None:
        m = np.broadcast_to(mask.astype(bool), x.shape)
        if version == '3.13':
            x = np.where(m, x, -1e9)
        else:
            x = x + (1.0 - m) * -1e9
    if isinstance(axis, list) and len(axis) > 1:
        ax = tuple(axis)
        mx = np.max(x, axis=ax, keepdims=True)
        lse = mx + np.log(np.sum(np.exp(x - mx), axis=ax, keepdims=True))
        y = np.exp(x - lse)
    else:
        y = softmax(x, axis=axis[0] if isinstance(axis, list) else axis)
    if mask is not None and version != '2':
        y = np.where(m, y, 0.0)
    return y


# ---------------------------------------------------------------------------
# Keras 3 configs
# ---------------------------------------------------------------------------
def base_cfg(name):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy()}


def dense_cfg(name, units, activation):
    c = base_cfg(name)
    c.update({'units': units, 'activation': activation, 'use_bias': True,
              'kernel_initializer': initializer('GlorotUniform', {'seed': None}),
              'bias_initializer': initializer('Zeros', {}), 'kernel_regularizer': None, 'bias_regularizer': None,
              'kernel_constraint': None, 'bias_constraint': None})
    return c


def simple_rnn_cfg(name, units, activation):
    c = base_cfg(name)
    c.update({'return_sequences': True, 'return_state': False, 'go_backwards': False, 'stateful': False,
              'unroll': False, 'zero_output_for_mask': False, 'units': units, 'activation': activation,
              'use_bias': True, 'dropout': 0.0, 'recurrent_dropout': 0.0, 'seed': None})
    return c


def layer(class_name, config):
    return {'module': 'keras.layers', 'class_name': class_name, 'config': config, 'registered_name': None}


def sequential(name, in_shape, layers, version):
    inp = layer('InputLayer', {'batch_shape': in_shape, 'dtype': 'float32', 'sparse': False, 'name': 'input_layer'})
    return {'module': 'keras', 'class_name': 'Sequential',
            'config': {'name': name, 'trainable': True, 'dtype': dtype_policy(), 'layers': [inp] + layers},
            'registered_name': None, 'keras_version': version, 'backend': 'numpy'}


# ---------------------------------------------------------------------------
# Cases: each returns (description, layers [(class, config, weights)], in_shape, x, y, call_mask)
# ---------------------------------------------------------------------------
def single(cls, cfg, fn, dims, x_scale=3.0, mask=None):
    def make(rng, B):
        shape = [B] + [d(rng) if callable(d) else d for d in dims]
        x = rng.array(shape, x_scale)
        m = mask(rng, shape) if mask else None
        return [(cls, cfg, [])], shape, x, fn(x, m), m
    return make


def r(lo, hi):
    return lambda rng: rng.int(lo, hi)


def dense_act(act, x_scale=2.0, w=2.0):
    def make(rng, B):
        T, F, u = rng.int(1, 5), rng.int(1, 8), rng.int(2, 8)
        x = rng.array([B, T, F], x_scale)
        k = rng.array([F, u], w / math.sqrt(F))
        b = rng.array([u], 0.5)
        y = ACTIVATIONS[act](x @ k + b)
        return [('Dense', dense_cfg('dense', u, act), [('dense/kernel', k), ('dense/bias', b)])], [B, T, F], x, y, None
    return make


def activation_layer(act, x_scale=3.0):
    def make(rng, B):
        shape = [B, rng.int(1, 5), rng.int(2, 9)]
        x = rng.array(shape, x_scale)
        cfg = base_cfg('activation')
        cfg['activation'] = act
        return [('Activation', cfg, [])], shape, x, ACTIVATIONS[act](x), None
    return make


def simple_rnn_act(act):
    def make(rng, B):
        T, F, u = rng.int(1, 6), rng.int(1, 6), rng.int(1, 8)
        x = rng.array([B, T, F], 1.0)
        k = rng.array([F, u], 2.0 / math.sqrt(F))
        rk = rng.array([u, u], 2.0 / math.sqrt(u))
        b = rng.array([u], 0.5)
        h = np.zeros((B, u))
        seq = []
        for t in range(T):
            h = ACTIVATIONS[act](x[:, t, :] @ k + b + h @ rk)
            seq.append(h)
        y = np.stack(seq, axis=1)
        weights = [('simple_rnn/kernel', k), ('simple_rnn/recurrent_kernel', rk), ('simple_rnn/bias', b)]
        return [('SimpleRNN', simple_rnn_cfg('simple_rnn', u, act), weights)], [B, T, F], x, y, None
    return make


def relu_cfg(max_value, negative_slope, threshold):
    c = base_cfg('re_lu')
    c.update({'max_value': max_value, 'negative_slope': negative_slope, 'threshold': threshold})
    return c


def leaky_cfg(key, value):
    c = base_cfg('leaky_re_lu')
    if key is not None:
        c[key] = value
    return c


def elu_cfg(alpha):
    c = base_cfg('elu')
    c['alpha'] = alpha
    return c


def softmax_cfg(axis):
    c = base_cfg('softmax')
    c['axis'] = axis
    return c


def row_mask(fully_masked_row):
    """(batch, features) masks: every third value masked, row 0 entirely masked when asked, column 0 kept else."""
    def make(rng, shape):
        B, F = shape[0], shape[-1]
        shift = rng.int(0, 2)
        m = np.array([[1 if f == 0 or (b + f + shift) % 3 != 0 else 0 for f in range(F)] for b in range(B)])
        if fully_masked_row:
            m[0, :] = 0
        return m
    return make


CASES = [
    # ReLU options tfjs lacks
    ('relu_negative_slope_rank3', KERAS3, 'ReLU(negative_slope=0.2): leaky below 0',
     single('ReLU', relu_cfg(None, 0.2, 0.0), lambda x, m: keras_relu(x, 0.2), [r(1, 6), r(1, 8)])),
    ('relu_threshold_rank2', KERAS3, 'ReLU(threshold=0.5): x > 0.5 ? x : 0',
     single('ReLU', relu_cfg(None, 0.0, 0.5), lambda x, m: keras_relu(x, 0.0, None, 0.5), [r(1, 16)])),
    ('relu_all_options_rank4', KERAS3, 'ReLU(max_value=2.5, negative_slope=0.3, threshold=0.75)',
     single('ReLU', relu_cfg(2.5, 0.3, 0.75), lambda x, m: keras_relu(x, 0.3, 2.5, 0.75), [r(1, 4), r(1, 4), r(1, 5)])),
    ('relu_max6_negative_slope_rank2', KERAS3, 'ReLU(max_value=6, negative_slope=0.1) (Keras\' relu6 path)',
     single('ReLU', relu_cfg(6.0, 0.1, 0.0), lambda x, m: keras_relu(x, 0.1, 6.0), [r(1, 16)], x_scale=9.0)),
    # LeakyReLU keys and defaults by version
    ('leaky_relu_keras3_negative_slope', KERAS3, 'LeakyReLU(negative_slope=0.05) as Keras 3 writes it',
     single('LeakyReLU', leaky_cfg('negative_slope', 0.05), lambda x, m: np.where(x >= 0, x, 0.05 * x),
            [r(1, 6), r(1, 8)])),
    ('leaky_relu_keras3_key_missing', KERAS3, 'LeakyReLU with no negative_slope in its config: the default 0.3',
     single('LeakyReLU', leaky_cfg(None, None), lambda x, m: np.where(x >= 0, x, 0.3 * x), [r(1, 16)])),
    ('leaky_relu_keras2_alpha', '2.15.0', 'LeakyReLU(alpha=0.15) as Keras 2 writes it (keras_version 2.15.0)',
     single('LeakyReLU', leaky_cfg('alpha', 0.15), lambda x, m: np.where(x >= 0, x, 0.15 * x), [r(1, 6), r(1, 8)])),
    ('leaky_relu_keras2_key_missing', '2.15.0', 'LeakyReLU with no alpha in a Keras 2 config: the default 0.3',
     single('LeakyReLU', leaky_cfg(None, None), lambda x, m: np.where(x >= 0, x, 0.3 * x), [r(1, 16)])),
    # ELU alpha (tfjs: 1 only)
    ('elu_alpha_0_5_rank3', KERAS3, 'ELU(alpha=0.5): x > 0 ? x : 0.5 * expm1(x)',
     single('ELU', elu_cfg(0.5), lambda x, m: np.where(x > 0, x, 0.5 * np.expm1(x)), [r(1, 6), r(1, 8)])),
    ('elu_alpha_2_rank2', KERAS3, 'ELU(alpha=2.0)',
     single('ELU', elu_cfg(2.0), lambda x, m: np.where(x > 0, x, 2.0 * np.expm1(x)), [r(1, 16)])),
    # Softmax over one non-last axis and its mask rules
    ('softmax_axis1_rank3', KERAS3, 'Softmax(axis=1): over the time axis of a sequence (tfjs cannot)',
     single('Softmax', softmax_cfg(1), lambda x, m: softmax(x, axis=1), [r(2, 6), r(1, 8)])),
    ('softmax_axis_neg2_rank4', KERAS3, 'Softmax(axis=-2) on a rank-4 input',
     single('Softmax', softmax_cfg(-2), lambda x, m: softmax(x, axis=-2), [r(1, 4), r(2, 5), r(1, 5)])),
    ('softmax_axes_13_rank4', KERAS3, 'Softmax(axis=[1, 3]) (Keras 3: exp(x - logsumexp(x, axes)))',
     single('Softmax', softmax_cfg([1, 3]), lambda x, m: keras_softmax_layer(x, [1, 3], None, '3.13'),
            [r(1, 4), r(1, 4), r(1, 5)])),
    ('softmax_mask_keras3_13', KERAS3,
     'Softmax(axis=-1) called with a (batch, features) mask, Keras >= 3.13: masked logits replaced by -1e9, masked '
     'outputs 0; row 0 is entirely masked, so its outputs are all 0',
     single('Softmax', softmax_cfg(-1), lambda x, m: keras_softmax_layer(x, -1, m, '3.13'), [r(3, 8)],
            mask=row_mask(True))),
    ('softmax_mask_keras3_10', '3.10.0',
     'Softmax(axis=-1) with a (batch, features) mask, Keras 3.10-3.12: -1e9 added to masked logits, masked outputs 0; '
     'row 0 entirely masked (all 0)',
     single('Softmax', softmax_cfg(-1), lambda x, m: keras_softmax_layer(x, -1, m, '3.10'), [r(3, 8)],
            mask=row_mask(True))),
    ('softmax_mask_keras2', '2.15.0',
     'Softmax(axis=-1) with a (batch, features) mask, Keras 2 (and Keras 3.0-3.9, tfjs): -1e9 added to masked logits, '
     'outputs left as they are (no row entirely masked: in float32 such a row would round its shifted logits)',
     single('Softmax', softmax_cfg(-1), lambda x, m: keras_softmax_layer(x, -1, m, '2'), [r(3, 8)],
            mask=row_mask(False))),
    ('softmax_mask_rank3_last_axes', KERAS3,
     'Softmax(axis=[1, 2]) on (batch, T, F) called with a (T, F) mask: Keras aligns the mask with the input\'s last '
     'two axes, so every sample uses the same mask',
     single('Softmax', softmax_cfg([1, 2]), lambda x, m: keras_softmax_layer(x, [1, 2], m, '3.13'),
            [r(2, 4), r(3, 5)], mask=lambda rng, s: row_mask(False)(rng, s[1:]))),
    ('softmax_batch_time_mask_rank3_coinciding', KERAS3,
     'Softmax(axis=-1) on (1, T, T) called with a (batch=1, time=T) mask, as Masking would give: Keras aligns the mask '
     'with the last two axes, so mask[0, j] masks feature j of every step (not step j). Only such coinciding sizes '
     'broadcast; other (batch, time) masks on rank-3 inputs are errors in Keras and strata',
     lambda rng, B: single('Softmax', softmax_cfg(-1), lambda x, m: keras_softmax_layer(x, -1, m, '3.13'),
                           [4, 4], mask=lambda rng2, s: np.array([[1, 0, 1, 1]]))(rng, 1)),
]
for act in ['celu', 'hard_shrink', 'hard_tanh', 'log_sigmoid', 'soft_shrink', 'sparse_plus', 'sparse_sigmoid',
            'squareplus', 'tanh_shrink', 'sparsemax', 'leaky_relu', 'silu', 'hard_silu', 'exponential', 'relu6',
            'gelu', 'hard_sigmoid']:
    CASES.append((f'dense_{act}', KERAS3, f'Dense(units, activation="{act}") on a sequence (Keras 3 formula)',
                  dense_act(act, x_scale=1.0 if act == 'exponential' else 2.0,
                            w=1.0 if act == 'sparsemax' else 2.0)))
for act in ['celu', 'log_sigmoid', 'sparsemax', 'squareplus', 'sparse_plus', 'hard_swish']:
    # sparsemax on small logits, so that its support holds several values
    CASES.append((f'activation_{act}', KERAS3, f'Activation("{act}") on a rank-3 input',
                  activation_layer(act, x_scale=0.5 if act == 'sparsemax' else 3.0)))
for act in ['hard_tanh', 'soft_shrink', 'tanh_shrink']:
    CASES.append((f'simple_rnn_{act}', KERAS3,
                  f'SimpleRNN(units, activation="{act}", return_sequences=true): h = {act}(x K + b + h R)',
                  simple_rnn_act(act)))


def make_case(name, version, desc, make, master_seed):
    seed = fnv1a32(f'strata-torch-reference:{master_seed}:{GROUP}/{name}')
    for attempt in range(1, 50):
        rng = SplitMix64(seed + attempt - 1)
        B = rng.int(1, 4)
        layers, shape, x, y, mask = make(rng, B)
        if np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 10:
            break
    else:
        raise RuntimeError(f'{name}: no draw with |output| <= 10')
    in_shape = [None] + shape[1:]
    entries = [layer(cls, cfg) for cls, cfg, _ in layers]
    fixture = {
        'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
        'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras ' + version,
        'notes': f'{desc}, on input {shape}. Weights and inputs are float32 values, the output Keras\' formula in '
                 f'numpy float64 (the model config records keras_version {version}, whose rules the case follows).',
    }
    if mask is not None:
        fixture['call_mask'] = {'shape': list(mask.shape), 'data': [int(v) for v in mask.ravel()]}
    fixture.update({
        'model_config': sequential(name, in_shape, entries, version),
        'layers': [{'name': cfg['name'], 'class_name': cls, 'config': cfg,
                    'weights': [{'name': n, 'shape': list(w.shape), 'data': F32List(w)} for n, w in ws]}
                   for cls, cfg, ws in layers],
        'inputs': [{'label': 'x', 'shape': list(shape), 'data': F32List(x)}],
        'outputs': [{'label': 'y', 'shape': list(y.shape), 'data': F64List(y)}],
        'draw_attempts': attempt,
    })
    return fixture


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', GROUP))
    out = args.out
    prepare_out_dir(out, GENERATOR)
    entries = []
    for name, version, desc, make in CASES:
        fixture = make_case(name, version, desc, make, args.seed)
        entries.append(write_case(out, fixture, **({'call_mask': True} if 'call_mask' in fixture else {})))
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
