#!/usr/bin/python3
"""PyTorch reference fixtures for Keras' depthwise, separable and transposed convolutions.

tfjs (tools/keras-reference, group conv_variants) has DepthwiseConv2D, SeparableConv2D and Conv2DTranspose only,
ignores DepthwiseConv2D's dilation_rate, and has no dilation_rate or output_padding on Conv2DTranspose. This script
computes those layers with torch (float64) under Keras 3's rules and writes them to
tests/reference/fixtures_torch/conv_variants/ in the format of the tfjs fixtures, with Keras 3 configs.

Usage: /usr/bin/python3 tools/torch-reference/make_conv_variant_fixtures.py [--out DIR] [--seed UINT32]

Mapping (Keras channels_last (B, spatial..., C) <-> torch (B, C, spatial...)):
  depthwise_kernel (k..., C, M)   -> torch weight (C*M, 1, k...) with w[c*M + m, 0, k...] = K[k..., c, m], groups=C
                                     (torch's output channel c*M + m belongs to group c, TensorFlow's order)
  pointwise_kernel (1..., C*M, F) -> torch weight (F, C*M, 1...)
  transposed kernel (k..., F, C)  -> torch conv_transpose weight (C, F, k...) with w[c, f, k...] = K[k..., f, c]
  "same" padding (conv): Keras 3 / TensorFlow's, total = max((ceil(n/s)-1)s + (k-1)d + 1 - n, 0), total//2 before,
                         applied with F.pad before a torch conv with padding 0.
  transposed conv: torch with padding 0 and output_padding 0 gives the full (n-1)s + (k-1)d + 1 outputs; Keras 3's
                   output o is that output's o + crop, crop = (k-1)d - left_pad, with Keras 3's size and left_pad
                   (keras/src/backend/common/backend_utils.py; past the full output: zeros), then the bias.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, dtype_policy, fnv1a32, initializer  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_conv_variant_fixtures.py'
GROUP = 'conv_variants'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
TFJS_DIR = os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures', 'conv_variants')
NUMPY_TOL = 1e-12
CROSS_TOL = 1e-5


# ---------------------------------------------------------------------------
# Keras 3 geometry
# ---------------------------------------------------------------------------
def same_pads(n, k, s, d):
    ke = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + ke - n, 0)
    return total // 2, total - total // 2


def transpose_axis(n, k, s, d, padding, op):
    """Keras 3: output size and the JAX left padding -> crop of torch's full output."""
    ke = (k - 1) * d + 1
    if padding == 'valid':
        p = max(ke, s) - ke if op is None else op
        out = (n - 1) * s + ke + p
        left = ke - 1
    else:
        pad_len = s + ke - 2 if op is None else ke + ke % 2 - 2 + op
        left = min(pad_len // 2 + pad_len % 2, ke - 1)
        out = n * s if op is None else (n - 1) * s + ke % 2 + op
    return out, ke - 1 - left


# ---------------------------------------------------------------------------
# torch computations (float64, channels_first inside)
# ---------------------------------------------------------------------------
def to_cf(x):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def to_cl(y):
    return np.ascontiguousarray(np.moveaxis(y.numpy(), 1, -1))


def activate(y, act):
    if act == 'linear':
        return y
    if act == 'relu':
        return np.maximum(y, 0.0)
    if act == 'tanh':
        return np.tanh(y)
    if act == 'sigmoid':
        return 1.0 / (1.0 + np.exp(-y))
    raise ValueError(act)


def torch_depthwise(x, dk, strides, padding, dilation):
    """x (B, sp..., C); dk (k..., C, M) -> (B, out..., C*M) without bias."""
    rank = x.ndim - 2
    C, M = dk.shape[-2], dk.shape[-1]
    w = np.moveaxis(dk, (-2, -1), (0, 1)).reshape((C * M, 1) + dk.shape[:-2])  # [c*M+m, 0, k...]
    xt = to_cf(x)
    if padding == 'same':
        pads = []
        for i in reversed(range(rank)):
            pads += list(same_pads(x.shape[1 + i], dk.shape[i], strides[i], dilation[i]))
        xt = F.pad(xt, pads)
    conv = F.conv1d if rank == 1 else F.conv2d
    y = conv(xt, torch.from_numpy(np.ascontiguousarray(w)), None, stride=tuple(strides), dilation=tuple(dilation),
             groups=C)
    return to_cl(y)


def torch_pointwise(y, pk):
    """y (B, sp..., C*M); pk (1..., C*M, F) -> (B, sp..., F) without bias."""
    rank = y.ndim - 2
    w = np.ascontiguousarray(np.moveaxis(pk.reshape(pk.shape[-2:]), 0, 1).reshape((pk.shape[-1], pk.shape[-2]) + (1,) * rank))
    conv = F.conv1d if rank == 1 else F.conv2d
    return to_cl(conv(to_cf(y), torch.from_numpy(w)))


def torch_transpose(x, k, strides, padding, output_padding, dilation):
    """x (B, sp..., C); k (k..., F, C) -> (B, out..., F) without bias."""
    rank = x.ndim - 2
    w = np.ascontiguousarray(np.moveaxis(k, (-1, -2), (0, 1)))  # (C, F, k...)
    conv_t = F.conv_transpose1d if rank == 1 else F.conv_transpose2d
    full = to_cl(conv_t(to_cf(x), torch.from_numpy(w), None, stride=tuple(strides), dilation=tuple(dilation)))
    out_shape = [x.shape[0]]
    crops = []
    for i in range(rank):
        op = None if output_padding is None else output_padding[i]
        o, c = transpose_axis(x.shape[1 + i], k.shape[i], strides[i], dilation[i], padding, op)
        out_shape.append(o)
        crops.append(c)
    out_shape.append(k.shape[-2])
    y = np.zeros(out_shape)
    src = tuple([slice(None)] + [slice(c, min(c + o, full.shape[1 + i])) for i, (c, o) in enumerate(zip(crops, out_shape[1:-1]))] + [slice(None)])
    dst = tuple([slice(None)] + [slice(0, min(o, full.shape[1 + i] - c)) for i, (c, o) in enumerate(zip(crops, out_shape[1:-1]))] + [slice(None)])
    y[dst] = full[src]
    return y


# ---------------------------------------------------------------------------
# Naive numpy references (the self-check): Keras' definitions as loops
# ---------------------------------------------------------------------------
def numpy_depthwise(x, dk, strides, padding, dilation):
    rank = x.ndim - 2
    x4 = x if rank == 2 else x[:, None]
    k4 = dk if rank == 2 else dk[None]
    s = strides if rank == 2 else [1] + list(strides)
    d = dilation if rank == 2 else [1] + list(dilation)
    B, H, W, C = x4.shape
    KH, KW, _, M = k4.shape
    pads, outs = [], []
    for n, kk, ss, dd in ((H, KH, s[0], d[0]), (W, KW, s[1], d[1])):
        if padding == 'same':
            pads.append(same_pads(n, kk, ss, dd)[0])
            outs.append(-(-n // ss))
        else:
            pads.append(0)
            outs.append((n - (kk - 1) * dd - 1) // ss + 1)
    y = np.zeros((B, outs[0], outs[1], C * M))
    for oh in range(outs[0]):
        for ow in range(outs[1]):
            for i in range(KH):
                for j in range(KW):
                    r, q = oh * s[0] - pads[0] + i * d[0], ow * s[1] - pads[1] + j * d[1]
                    if 0 <= r < H and 0 <= q < W:
                        y[:, oh, ow, :] += (x4[:, r, q, :, None] * k4[i, j][None]).reshape(B, C * M)
    return y if rank == 2 else y[:, 0]


def numpy_transpose(x, k, strides, padding, output_padding, dilation):
    rank = x.ndim - 2
    x4 = x if rank == 2 else x[:, None]
    k4 = k if rank == 2 else k[None]
    s = strides if rank == 2 else [1] + list(strides)
    d = dilation if rank == 2 else [1] + list(dilation)
    op = None if output_padding is None else (output_padding if rank == 2 else [0] + list(output_padding))
    B, H, W, C = x4.shape
    KH, KW, Fo, _ = k4.shape
    axes = [transpose_axis(H, KH, s[0], d[0], padding if rank == 2 else 'valid', None if op is None or rank == 1 else op[0]),
            transpose_axis(W, KW, s[1], d[1], padding, None if op is None else op[1])]
    if rank == 1:
        axes[0] = (1, 0)
    y = np.zeros((B, axes[0][0], axes[1][0], Fo))
    for ih in range(H):
        for iw in range(W):
            for i in range(KH):
                for j in range(KW):
                    oh, ow = ih * s[0] + i * d[0] - axes[0][1], iw * s[1] + j * d[1] - axes[1][1]
                    if 0 <= oh < axes[0][0] and 0 <= ow < axes[1][0]:
                        y[:, oh, ow, :] += x4[:, ih, iw, :] @ k4[i, j].T
    return y if rank == 2 else y[:, 0]


# ---------------------------------------------------------------------------
# Keras 3 configs
# ---------------------------------------------------------------------------
def base_config(name, o, rank):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy(),
            'kernel_size': list(o['kernel']), 'strides': list(o.get('strides', [1] * rank)),
            'padding': o.get('padding', 'valid'), 'data_format': 'channels_last',
            'dilation_rate': list(o.get('dilation', [1] * rank)), 'activation': o.get('act', 'linear'),
            'use_bias': o.get('bias', True)}


def layer_config(cls, name, o, rank):
    c = base_config(name, o, rank)
    if cls.startswith('Depthwise'):
        c['depth_multiplier'] = o.get('dm', 1)
        c['depthwise_initializer'] = initializer('GlorotUniform', {'seed': None})
        c['depthwise_regularizer'] = None
        c['depthwise_constraint'] = None
    elif cls.startswith('Separable'):
        c['depth_multiplier'] = o.get('dm', 1)
        c['filters'] = o['filters']
        for p in ('depthwise', 'pointwise'):
            c[f'{p}_initializer'] = initializer('GlorotUniform', {'seed': None})
            c[f'{p}_regularizer'] = None
            c[f'{p}_constraint'] = None
    else:
        c['filters'] = o['filters']
        c['output_padding'] = None if o.get('op') is None else list(o['op'])
        c['kernel_initializer'] = initializer('GlorotUniform', {'seed': None})
        c['kernel_regularizer'] = None
        c['kernel_constraint'] = None
    c['bias_initializer'] = initializer('Zeros', {})
    c['bias_regularizer'] = None
    c['activity_regularizer'] = None
    c['bias_constraint'] = None
    return c


def sequential(name, in_shape, cls, cfg):
    layer = {'module': 'keras.layers', 'class_name': cls, 'config': cfg, 'registered_name': None,
             'build_config': {'input_shape': in_shape}}
    inp = {'module': 'keras.layers', 'class_name': 'InputLayer',
           'config': {'batch_shape': in_shape, 'dtype': 'float32', 'sparse': False, 'name': 'input_layer'},
           'registered_name': None}
    return {'module': 'keras', 'class_name': 'Sequential',
            'config': {'name': name, 'trainable': True, 'dtype': dtype_policy(), 'layers': [inp, layer],
                       'build_input_shape': in_shape},
            'registered_name': None, 'build_config': {'input_shape': in_shape}}


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------
CASES = [
    ('DepthwiseConv1D', 'depthwise1d_valid', {'kernel': [3]}),
    ('DepthwiseConv1D', 'depthwise1d_same_dm2_stride2_relu', {'kernel': [3], 'dm': 2, 'strides': [2], 'padding': 'same', 'act': 'relu'}),
    ('DepthwiseConv1D', 'depthwise1d_dilation3_same_nobias', {'kernel': [3], 'dilation': [3], 'padding': 'same', 'bias': False}),
    ('DepthwiseConv1D', 'depthwise1d_even_kernel_same_stride3', {'kernel': [4], 'strides': [3], 'padding': 'same', 'dm': 3}),
    ('DepthwiseConv2D', 'depthwise2d_dilation2_valid', {'kernel': [3, 3], 'dilation': [2, 2], 'dm': 2}),
    ('DepthwiseConv2D', 'depthwise2d_dilation_rect_same_tanh', {'kernel': [2, 3], 'dilation': [3, 2], 'padding': 'same', 'act': 'tanh'}),
    ('SeparableConv1D', 'separable1d_valid', {'kernel': [3]}),
    ('SeparableConv1D', 'separable1d_same_dm2_stride2_relu', {'kernel': [5], 'dm': 2, 'strides': [2], 'padding': 'same', 'act': 'relu'}),
    ('SeparableConv1D', 'separable1d_dilation2_nobias', {'kernel': [3], 'dilation': [2], 'bias': False}),
    ('Conv1DTranspose', 'transpose1d_valid_s1', {'kernel': [3]}),
    ('Conv1DTranspose', 'transpose1d_same_s2', {'kernel': [3], 'strides': [2], 'padding': 'same'}),
    ('Conv1DTranspose', 'transpose1d_valid_s3_k2_op2', {'kernel': [2], 'strides': [3], 'op': [2]}),
    ('Conv1DTranspose', 'transpose1d_same_k4_s2_op1_relu', {'kernel': [4], 'strides': [2], 'padding': 'same', 'op': [1], 'act': 'relu'}),
    ('Conv1DTranspose', 'transpose1d_same_k3_s2_op0', {'kernel': [3], 'strides': [2], 'padding': 'same', 'op': [0]}),
    ('Conv1DTranspose', 'transpose1d_dilation2_same_nobias', {'kernel': [3], 'dilation': [2], 'padding': 'same', 'bias': False}),
    ('Conv1DTranspose', 'transpose1d_same_k1_s3_op2', {'kernel': [1], 'strides': [3], 'padding': 'same', 'op': [2]}),
    ('Conv2DTranspose', 'transpose2d_valid_op1_s2', {'kernel': [3, 3], 'strides': [2, 2], 'op': [1, 0]}),
    ('Conv2DTranspose', 'transpose2d_same_op_rect', {'kernel': [4, 3], 'strides': [2, 3], 'padding': 'same', 'op': [1, 2], 'act': 'tanh'}),
    ('Conv2DTranspose', 'transpose2d_dilation2_valid', {'kernel': [3, 2], 'dilation': [2, 2]}),
    ('Conv2DTranspose', 'transpose2d_dilation_same', {'kernel': [3, 3], 'dilation': [2, 3], 'padding': 'same'}),
]

# Fixtures of the tfjs group recomputed here from their own weights and inputs.
CROSSCHECKS = [
    ('DepthwiseConv2D', 'crosscheck_tfjs_depthwise2d_same_dm2_stride2_relu', 'depthwise2d_same_dm2_stride2_relu'),
    ('SeparableConv2D', 'crosscheck_tfjs_separable2d_dm3_rect_valid_sigmoid', 'separable2d_dm3_rect_valid_sigmoid'),
    ('Conv2DTranspose', 'crosscheck_tfjs_transpose2d_same_k4_s2', 'transpose2d_same_k4_s2'),
    ('Conv2DTranspose', 'crosscheck_tfjs_transpose2d_same_s3_k2', 'transpose2d_same_s3_k2'),
]


def compute(cls, o, x, weights):
    """Keras' layer output with torch (the fixture) and naive numpy (the self-check)."""
    strides, dil, pad = o['strides'], o['dilation'], o['padding']
    if cls.startswith('Depthwise'):
        t = torch_depthwise(x, weights[0], strides, pad, dil)
        n = numpy_depthwise(x, weights[0], strides, pad, dil)
    elif cls.startswith('Separable'):
        t = torch_pointwise(torch_depthwise(x, weights[0], strides, pad, dil), weights[1])
        n = numpy_depthwise(x, weights[0], strides, pad, dil) @ weights[1].reshape(weights[1].shape[-2:])
    else:
        t = torch_transpose(x, weights[0], strides, pad, o.get('op'), dil)
        n = numpy_transpose(x, weights[0], strides, pad, o.get('op'), dil)
    if o['bias']:
        t = t + weights[-1]
        n = n + weights[-1]
    return activate(t, o['act']), activate(n, o['act'])


def weight_shapes(cls, o, rank, C):
    k = tuple(o['kernel'])
    dm = o.get('dm', 1)
    if cls.startswith('Depthwise'):
        shapes = [('depthwise_kernel', k + (C, dm))]
        if o['bias']:
            shapes.append(('bias', (C * dm,)))
    elif cls.startswith('Separable'):
        shapes = [('depthwise_kernel', k + (C, dm)), ('pointwise_kernel', (1,) * rank + (C * dm, o['filters']))]
        if o['bias']:
            shapes.append(('bias', (o['filters'],)))
    else:
        shapes = [('kernel', k + (o['filters'], C))]
        if o['bias']:
            shapes.append(('bias', (o['filters'],)))
    return shapes


def draw_weight(rng, name, shape, rank):
    if name == 'bias':
        return rng.array(shape, 0.5)
    if name == 'depthwise_kernel':
        fan_in = int(np.prod(shape[:-2]))
    elif name == 'pointwise_kernel':
        fan_in = shape[-2]
    else:
        fan_in = int(np.prod(shape[:-2])) * shape[-1]
    return rng.array(shape, 2.0 / math.sqrt(fan_in))


def describe(cls, o):
    parts = [f"filters={o['filters']}"] if 'filters' in o else []
    parts.append(f"kernel_size={tuple(o['kernel'])}")
    if 'dm' in o:
        parts.append(f"depth_multiplier={o['dm']}")
    parts += [f"strides={tuple(o['strides'])}", f"padding={o['padding']}", f"dilation_rate={tuple(o['dilation'])}"]
    if cls.endswith('Transpose'):
        parts.append(f"output_padding={None if o.get('op') is None else tuple(o['op'])}")
    parts += [f"activation={o['act']}", f"use_bias={str(o['bias']).lower()}"]
    return f"{cls}({', '.join(parts)})"


def fixture(name, cls, o, x, weights, out, seed, notes, checks):
    rank = x.ndim - 2
    in_shape = [None] + list(x.shape[1:])
    lname = {'DepthwiseConv1D': 'depthwise_conv1d', 'DepthwiseConv2D': 'depthwise_conv2d',
             'SeparableConv1D': 'separable_conv1d', 'SeparableConv2D': 'separable_conv2d',
             'Conv1DTranspose': 'conv1d_transpose', 'Conv2DTranspose': 'conv2d_transpose'}[cls]
    cfg = layer_config(cls, lname, o, rank)
    shapes = weight_shapes(cls, o, rank, x.shape[-1])
    return {
        'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
        'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras3', 'notes': notes,
        'model_config': sequential(name, in_shape, cls, cfg),
        'layers': [{'name': lname, 'class_name': cls, 'config': cfg,
                    'weights': [{'name': f'{lname}/{n}', 'shape': list(s), 'data': F32List(w)}
                                for (n, s), w in zip(shapes, weights)]}],
        'inputs': [{'label': 'x', 'shape': list(x.shape), 'data': F32List(x)}],
        'outputs': [{'label': 'y', 'shape': list(out.shape), 'data': F64List(out)}],
        'checks': checks,
    }


def numpy_check(diff):
    return {'numpy_keras_definition': {
        'description': 'torch output vs a naive numpy float64 loop over the Keras definition (windows with '
                       "Keras 3's padding offsets, or the scatter form of the transposed convolution with Keras 3's "
                       'sizes and crop), with the Keras-layout weights of this fixture',
        'tolerance': NUMPY_TOL, 'max_abs_diff': float(diff), 'passed': bool(diff <= NUMPY_TOL)}}


def make_case(cls, name, o, master_seed):
    seed = fnv1a32(f'strata-torch-reference:{master_seed}:{GROUP}/{name}')
    rng = SplitMix64(seed)
    rank = 1 if '1D' in cls else 2
    o = dict(o)
    o.setdefault('strides', [1] * rank)
    o.setdefault('dilation', [1] * rank)
    o.setdefault('padding', 'valid')
    o.setdefault('act', 'linear')
    o.setdefault('bias', True)
    if not cls.startswith('Depthwise'):
        o['filters'] = rng.int(1, 7)
    B = rng.int(1, 4)
    C = rng.int(1, 6)
    spatial = []
    for i in range(rank):
        lo = (o['kernel'][i] - 1) * o['dilation'][i] + 1 if o['padding'] == 'valid' and not cls.endswith('Transpose') else 1
        spatial.append(rng.int(lo, lo + 8))
    x = rng.array(tuple([B] + spatial + [C]), 1.0)
    weights = [draw_weight(rng, n, s, rank) for n, s in weight_shapes(cls, o, rank, C)]
    y, ny = compute(cls, o, x, weights)
    diff = float(np.max(np.abs(y - ny))) if y.size else 0.0
    if not diff <= NUMPY_TOL:
        raise RuntimeError(f'{name}: torch vs numpy differ by {diff}')
    if y.size and np.max(np.abs(y)) > 10:
        raise RuntimeError(f'{name}: |output| > 10')
    notes = (f"{describe(cls, o)} on input {list(x.shape)} (channels_last), Keras 3 semantics computed by torch in "
             'float64 (mapping in the script docstring). Kernels uniform(-1,1)*2/sqrt(fan_in), biases uniform(-1,1)*0.5, '
             'inputs uniform(-1,1), all float32 values.')
    return fixture(name, cls, o, x, weights, y, seed, notes, numpy_check(diff)), diff


def make_crosscheck(cls, name, tfjs_name):
    with open(os.path.join(TFJS_DIR, f'{tfjs_name}.json'), encoding='utf-8') as f:
        tf = json.load(f)
    layer = tf['layers'][0]
    c = layer['config']
    rank = 2
    o = {'kernel': c['kernel_size'], 'strides': c['strides'], 'padding': c['padding'],
         'dilation': c.get('dilation_rate', [1, 1]), 'act': c['activation'], 'bias': c['use_bias']}
    if 'depth_multiplier' in c or cls.startswith('Separable'):
        o['dm'] = c.get('depth_multiplier', 1)
    if 'filters' in c:
        o['filters'] = c['filters']
    # The fixture's numbers are float32 values written as their shortest decimals.
    def f32(entry):
        return np.array(entry['data'], dtype=np.float32).astype(np.float64).reshape(entry['shape'])
    x = f32(tf['inputs'][0])
    weights = [f32(w) for w in layer['weights']]
    y, ny = compute(cls, o, x, weights)
    diff = float(np.max(np.abs(y - ny)))
    if not diff <= NUMPY_TOL:
        raise RuntimeError(f'{name}: torch vs numpy differ by {diff}')
    ty = np.array(tf['outputs'][0]['data'], dtype=np.float64).reshape(tf['outputs'][0]['shape'])
    cross = float(np.max(np.abs(ty - y)))
    if not cross <= CROSS_TOL:
        raise RuntimeError(f'{name}: torch vs tfjs fixture {tfjs_name} differ by {cross}')
    checks = numpy_check(diff)
    checks['tfjs_crosscheck'] = {
        'description': f'the same weights and input as tests/reference/fixtures/conv_variants/{tfjs_name}.json; '
                       'max |tfjs float32 output - torch float64 output|',
        'tfjs_fixture': f'conv_variants/{tfjs_name}', 'tolerance': CROSS_TOL, 'max_abs_diff': cross, 'passed': True}
    notes = (f"CROSS-CHECK of the tfjs fixture conv_variants/{tfjs_name}: {describe(cls, o)} on input {list(x.shape)}, "
             "its weights and input recomputed by torch in float64 under Keras 3's rules (mapping in the script "
             f'docstring); they agree with tfjs to {cross:.3g}.')
    return fixture(name, cls, o, x, weights, y, tf['seed'], notes, checks), diff, cross


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', GROUP))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    out = args.out
    prepare_out_dir(out, GENERATOR)

    entries = []
    for cls, name, o in CASES:
        fx, diff = make_case(cls, name, o, args.seed)
        entries.append(write_case(out, fx))
        print(f'  {name}: numpy check max diff {diff:.3g}')
    for cls, name, tfjs_name in CROSSCHECKS:
        fx, diff, cross = make_crosscheck(cls, name, tfjs_name)
        entries.append(write_case(out, fx))
        print(f'  {name}: numpy check max diff {diff:.3g}, tfjs vs torch {cross:.3g}')
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
