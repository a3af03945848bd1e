#!/usr/bin/python3
"""numpy reference fixtures for Keras ConvLSTM1D/ConvLSTM3D and masked ConvLSTMs (what tfjs 4.22 lacks).

tfjs has ConvLSTM2D only, and its rnn() throws on a (batch, time) mask for a 5-D input. This script
computes Keras 3's ConvLSTM (keras/src/layers/rnn/conv_lstm.py) with numpy in float64 and writes
tests/reference/fixtures_torch/conv_lstm/ in the format of the tfjs fixtures. See README.md.

Usage: /usr/bin/python3 tools/torch-reference/make_conv_lstm_fixtures.py [--out DIR] [--seed UINT32]

Keras 3's ConvLSTMCell, per step (channels_last, gate blocks i, f, c, o along the last axis):
  z = conv(x_t, kernel, strides, padding, dilation_rate) + bias + conv(h, recurrent_kernel, 1, "same")
  i = sigmoid(z_i)  f = sigmoid(z_f)  c = f c + i tanh(z_c)  o = sigmoid(z_o)  h = o tanh(c)
kernel (k..., C, 4F), recurrent_kernel (k..., F, 4F), bias (4F,). "same" is TensorFlow's SAME
(floor(total / 2) zeros before). Masks as Keras 3's TensorFlow backend: a masked step keeps h and c
and outputs the previous output (zeros before the first kept step).

Self-check: the numpy ConvLSTM is run on the weights and input of the tfjs fixture
conv_lstm/convlstm2d_height1 (a ConvLSTM2D with kernel (1, 3) on height-1 maps, i.e. a ConvLSTM1D),
once as a ConvLSTM1D (the height axis dropped) and once as a ConvLSTM2D; the script stops if either
differs from tfjs' output by more than 1e-5, and writes that case as convlstm1d_tfjs_crosscheck.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, dtype_policy, fnv1a32, input_entry, initializer  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_conv_lstm_fixtures.py'
FAMILY = 'conv_lstm'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
TFJS_HEIGHT1 = os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures', 'conv_lstm', 'convlstm2d_height1.json')
CROSSCHECK_TOL = 1e-5


# ---------------------------------------------------------------------------
# The reference
# ---------------------------------------------------------------------------
def axis_geometry(size, k, s, d, same):
    span = (k - 1) * d + 1
    if same:
        out = -(-size // s)
        pad = max((out - 1) * s + span - size, 0) // 2
    else:
        out = (size - span) // s + 1
        pad = 0
    if out < 1:
        raise ValueError('input shorter than the dilated kernel')
    return out, pad


def conv(x, w, strides, dilation, same):
    """x (B, s..., C), w (k..., C, G) -> (B, o..., G); zero padding, cross-correlation."""
    n = x.ndim - 2
    geo = [axis_geometry(x.shape[1 + i], w.shape[i], strides[i], dilation[i], same) for i in range(n)]
    out = np.zeros((x.shape[0],) + tuple(g[0] for g in geo) + (w.shape[-1],))
    for tap in np.ndindex(*w.shape[:n]):
        # For every output position o: input index o s - pad + t d, zero where outside.
        idx, valid = [], np.ones(tuple(g[0] for g in geo), dtype=bool)
        for i in range(n):
            pos = np.arange(geo[i][0]) * strides[i] - geo[i][1] + tap[i] * dilation[i]
            ok = (pos >= 0) & (pos < x.shape[1 + i])
            shape = [1] * n
            shape[i] = -1
            valid = valid & ok.reshape(shape)
            idx.append(np.clip(pos, 0, x.shape[1 + i] - 1).reshape(shape))
        window = x[(slice(None),) + tuple(idx)]  # (B, o..., C)
        window = window * valid[None, ..., None]
        out += window @ w[tap]
    return out


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def conv_lstm(x, kernel, recurrent, bias, o, mask=None, h0=None, c0=None):
    """x (B, T, s..., C) -> (output, h, c), Keras 3 semantics (see the module docstring)."""
    n = x.ndim - 3
    B, T = x.shape[:2]
    F = recurrent.shape[-2]
    strides, dilation = o.get('strides', [1] * n), o.get('dilation', [1] * n)
    probe = conv(x[:, 0], kernel, strides, dilation, o.get('padding') == 'same')
    h = np.zeros(probe.shape[:-1] + (F,)) if h0 is None else h0.copy()
    c = np.zeros_like(h) if c0 is None else c0.copy()
    prev = np.zeros_like(h)
    outs = []
    for s in range(T):
        t = T - 1 - s if o.get('go_backwards') else s
        z = conv(x[:, t], kernel, strides, dilation, o.get('padding') == 'same')
        if bias is not None:
            z = z + bias
        z = z + conv(h, recurrent, [1] * n, [1] * n, True)
        i, f, g, og = (z[..., k * F:(k + 1) * F] for k in range(4))
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h_new = sigmoid(og) * np.tanh(c_new)
        if mask is None:
            h, c, out = h_new, c_new, h_new
        else:
            keep = mask[:, t].reshape((B,) + (1,) * (h.ndim - 1))
            h = np.where(keep, h_new, h)
            c = np.where(keep, c_new, c)
            out = np.where(keep, h_new, prev)
        prev = out
        outs.append(out)
    output = np.stack(outs, axis=1) if o.get('return_sequences') else outs[-1]
    return output, h, c


# ---------------------------------------------------------------------------
# Keras 3 configs and cases
# ---------------------------------------------------------------------------
CLASS = {1: 'ConvLSTM1D', 2: 'ConvLSTM2D', 3: 'ConvLSTM3D'}


def layer_config(name, n, filters, k, o):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy(),
            'return_sequences': bool(o.get('return_sequences')), 'return_state': False,
            'go_backwards': bool(o.get('go_backwards')), 'stateful': False, 'unroll': False,
            'zero_output_for_mask': False,
            'filters': filters, 'kernel_size': list(k), 'strides': list(o.get('strides', [1] * n)),
            'padding': o.get('padding', 'valid'), 'data_format': 'channels_last',
            'dilation_rate': list(o.get('dilation', [1] * n)), 'activation': 'tanh', 'recurrent_activation': 'sigmoid',
            'use_bias': o.get('use_bias', True),
            'kernel_initializer': initializer('GlorotUniform', {'seed': None}),
            'recurrent_initializer': initializer('Orthogonal', {'gain': 1.0, 'seed': None}),
            'bias_initializer': initializer('Zeros', {}), 'unit_forget_bias': True,
            'kernel_regularizer': None, 'recurrent_regularizer': None, 'bias_regularizer': None,
            'activity_regularizer': None, 'kernel_constraint': None, 'recurrent_constraint': None,
            'bias_constraint': None, 'dropout': 0.0, 'recurrent_dropout': 0.0, 'seed': None}


# name, rank, options (kernel 'k', 'spatial' ranges (lo, hi) per axis, 'time', 'mask' pattern).
MASK_PATTERN = [[], [0], [1, 3], [2, 3, 4]]  # masked input steps per sample
CASES = [
    ('convlstm1d_valid', 1, {'k': [3], 'spatial': [(3, 9)]}),
    ('convlstm1d_same_seq', 1, {'k': [3], 'padding': 'same', 'return_sequences': True, 'spatial': [(2, 9)]}),
    ('convlstm1d_same_strides2_k4', 1, {'k': [4], 'padding': 'same', 'strides': [2], 'spatial': [(2, 11)]}),
    ('convlstm1d_dilated_valid_seq', 1, {'k': [3], 'dilation': [2], 'return_sequences': True, 'spatial': [(5, 10)]}),
    ('convlstm1d_go_backwards_seq', 1, {'k': [2], 'padding': 'same', 'go_backwards': True, 'return_sequences': True,
                                       'spatial': [(2, 8)]}),
    ('convlstm1d_nobias', 1, {'k': [3], 'padding': 'same', 'use_bias': False, 'spatial': [(2, 8)]}),
    ('convlstm1d_explicit_mask_seq', 1, {'k': [3], 'padding': 'same', 'return_sequences': True, 'spatial': [(2, 8)],
                                        'mask': True}),
    ('convlstm2d_explicit_mask_seq_backwards', 2, {'k': [3, 3], 'padding': 'same', 'return_sequences': True,
                                                   'go_backwards': True, 'spatial': [(2, 5), (2, 5)], 'mask': True}),
    ('convlstm2d_explicit_mask_last', 2, {'k': [2, 3], 'return_sequences': False, 'spatial': [(2, 5), (3, 5)],
                                          'mask': True}),
    ('convlstm3d_same_seq', 3, {'k': [2, 2, 3], 'padding': 'same', 'return_sequences': True,
                                'spatial': [(1, 3), (2, 4), (2, 4)]}),
    ('convlstm3d_valid_strides2', 3, {'k': [2, 2, 2], 'strides': [2, 1, 2], 'spatial': [(2, 5), (2, 4), (2, 5)]}),
]


def sequential(name, in_shape, layer):
    return {'module': 'keras', 'class_name': 'Sequential',
            'config': {'name': name, 'trainable': True, 'dtype': dtype_policy(),
                       'layers': [input_entry('input_layer', in_shape, False), layer],
                       'build_input_shape': in_shape},
            'registered_name': None, 'build_config': {'input_shape': in_shape}}


def fixture(name, seed, n, filters, k, o, x, kernel, recurrent, bias, y, notes, call_mask=None, checks=None):
    cls = CLASS[n]
    lname = cls.lower().replace('convlstm', 'conv_lstm')
    cfg = layer_config(lname, n, filters, k, o)
    in_shape = [None] + list(x.shape[1:])
    entry = {'module': 'keras.layers', 'class_name': cls, 'config': cfg, 'registered_name': None,
             'build_config': {'input_shape': in_shape}}
    weights = [{'name': f'{lname}/kernel', 'shape': list(kernel.shape), 'data': F32List(kernel)},
               {'name': f'{lname}/recurrent_kernel', 'shape': list(recurrent.shape), 'data': F32List(recurrent)}]
    if bias is not None:
        weights.append({'name': f'{lname}/bias', 'shape': list(bias.shape), 'data': F32List(bias)})
    if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > 10:
        raise RuntimeError(f'{name}: output not finite or above 10')
    f = {'format_version': FORMAT_VERSION, 'name': name, 'group': FAMILY, 'seed': seed,
         'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64',
         'keras_semantics': 'keras3',
         'notes': notes + ' Inputs and weights are float32 values; outputs computed with numpy in float64.',
         'model_config': sequential(name, in_shape, entry),
         'layers': [{'name': lname, 'class_name': cls, 'config': cfg, 'output_shapes': [[None] + list(y.shape[1:])],
                     'weights': weights}],
         'inputs': [{'label': 'x', 'shape': list(x.shape), 'data': F32List(x)}],
         'outputs': [{'label': 'y', 'shape': list(y.shape), 'data': F64List(y)}]}
    if call_mask is not None:
        f['call_mask'] = {'shape': list(call_mask.shape), 'data': [int(v) for v in call_mask.reshape(-1)]}
    if checks:
        f['checks'] = checks
    return f


def make_case(name, n, o, master_seed):
    seed = fnv1a32(f'strata-numpy-reference:{master_seed}:{FAMILY}/{name}')
    rng = SplitMix64(seed)
    B = 4 if o.get('mask') else rng.int(1, 3)
    T = 5 if o.get('mask') else rng.int(1, 4)
    spatial = [rng.int(lo, hi) for lo, hi in o['spatial']]
    C, F = rng.int(1, 3), rng.int(1, 4)
    k = o['k']
    taps = int(np.prod(k))
    x = rng.array([B, T] + spatial + [C], 1.0)
    kernel = rng.array(list(k) + [C, 4 * F], 2.0 / np.sqrt(taps * C))
    recurrent = rng.array(list(k) + [F, 4 * F], 2.0 / np.sqrt(taps * F))
    bias = rng.array([4 * F], 0.5) if o.get('use_bias', True) else None
    mask = None
    if o.get('mask'):
        mask = np.ones((B, T), dtype=bool)
        for b in range(B):
            for t in MASK_PATTERN[b]:
                mask[b, t] = False
    y, _, _ = conv_lstm(x, kernel, recurrent, bias, o, mask=mask)
    opts = ', '.join(f'{key}={o[key]}' for key in ('padding', 'strides', 'dilation', 'go_backwards', 'return_sequences',
                                                 'use_bias') if key in o)
    notes = (f'{CLASS[n]}(filters={F}, kernel_size={tuple(k)}{", " + opts if opts else ""}) on input {[B, T] + spatial + [C]}'
             f' (Keras 3 semantics; tfjs has no {CLASS[n]}' + ('' if n != 2 else ' mask support') + '). Kernels '
             'uniform(-1,1)*2/sqrt(taps*channels), bias uniform(-1,1)*0.5, inputs uniform(-1,1).')
    if mask is not None:
        notes += (f' Called as layer(x, mask=call_mask) with the explicit (batch, time) mask in "call_mask" (masked '
                  f'input steps per sample: {MASK_PATTERN[:B]}): a masked step keeps h and c and outputs the previous '
                  'output, zeros before the first kept step (Keras 3, TensorFlow backend); tfjs 4.22 throws on it.')
    return fixture(name, seed, n, F, k, o, x, kernel, recurrent, bias, y, notes, call_mask=mask)


def crosscheck(master_seed):
    """The tfjs height-1 ConvLSTM2D against this reference, as ConvLSTM1D and as ConvLSTM2D."""
    with open(TFJS_HEIGHT1, encoding='utf-8') as f:
        src = json.load(f)
    cfg = src['layers'][0]['config']
    ws = {w['name'].split('/')[-1]: np.array(w['data'], dtype=np.float32).astype(np.float64).reshape(w['shape'])
          for w in src['layers'][0]['weights']}
    x = np.array(src['inputs'][0]['data'], dtype=np.float32).astype(np.float64).reshape(src['inputs'][0]['shape'])
    want = np.array(src['outputs'][0]['data'], dtype=np.float64).reshape(src['outputs'][0]['shape'])
    assert cfg['kernel_size'][0] == 1 and x.shape[2] == 1 and cfg['strides'] == [1, 1]
    o1 = {'padding': cfg['padding'], 'dilation': [cfg['dilation_rate'][1]], 'return_sequences': cfg['return_sequences']}
    y1, _, _ = conv_lstm(x[:, :, 0], ws['kernel'][0], ws['recurrent_kernel'][0], ws['bias'], o1)
    o2 = {'padding': cfg['padding'], 'dilation': cfg['dilation_rate'], 'return_sequences': cfg['return_sequences']}
    y2, _, _ = conv_lstm(x, ws['kernel'], ws['recurrent_kernel'], ws['bias'], o2)
    d1 = float(np.max(np.abs(y1 - want[:, :, 0] if want.ndim == 5 else y1 - want[:, 0])))
    d2 = float(np.max(np.abs(y2 - want)))
    if d1 > CROSSCHECK_TOL or d2 > CROSSCHECK_TOL:
        sys.exit(f'numpy ConvLSTM vs tfjs convlstm2d_height1: max diff {d1} (1D) / {d2} (2D) > {CROSSCHECK_TOL}')
    print(f'cross-check with tfjs conv_lstm/convlstm2d_height1: max |numpy - tfjs| = {d1:.3g} (as ConvLSTM1D), '
          f'{d2:.3g} (as ConvLSTM2D)')
    name = 'convlstm1d_tfjs_crosscheck'
    F = cfg['filters']
    k = [cfg['kernel_size'][1]]
    notes = (f'ConvLSTM1D(filters={F}, kernel_size={tuple(k)}, padding={cfg["padding"]}, dilation_rate=({o1["dilation"][0]},),'
             f' return_sequences={cfg["return_sequences"]}) with the weights and input of the tfjs fixture '
             'conv_lstm/convlstm2d_height1 (a ConvLSTM2D with kernel (1, 3) on height-1 maps), the height axis dropped. '
             'Weights and input are NOT drawn from this case\'s PRNG; checks.tfjs_crosscheck holds max |numpy - tfjs|.')
    checks = {'tfjs_crosscheck': {'description': 'max |numpy float64 output - tfjs output| (fixtures/conv_lstm/'
                                                 'convlstm2d_height1.json)', 'max_abs_diff': d1}}
    return fixture(name, fnv1a32(f'strata-numpy-reference:{master_seed}:{FAMILY}/{name}'), 1, F, k, o1, x[:, :, 0],
                   ws['kernel'][0], ws['recurrent_kernel'][0], ws['bias'], y1, notes, checks=checks)


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', FAMILY))
    out = args.out
    prepare_out_dir(out, GENERATOR)
    fixtures = [make_case(name, n, o, args.seed) for name, n, o in CASES] + [crosscheck(args.seed)]
    entries = [write_case(out, f) for f in fixtures]
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
