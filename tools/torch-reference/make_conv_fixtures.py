#!/usr/bin/python3
"""PyTorch reference fixtures for Keras Conv1D/Conv2D/Conv3D options tfjs lacks (groups, causal).

tfjs (tools/keras-reference) has no `groups` argument and refuses Conv1D padding="causal"
(NotImplementedError). PyTorch's F.conv1d/conv2d/conv3d compute grouped convolutions; this script
builds Keras 3 fixtures with them in float64 and writes tests/reference/fixtures_torch/conv/ in the
same JSON format as the tfjs fixtures. See README.md ("Conv1D/2D/3D").

Usage: /usr/bin/python3 tools/torch-reference/make_conv_fixtures.py [--out DIR] [--seed UINT32]

Mapping (channels_last Keras, channels_first torch):
  input  Keras (B, s_1..s_N, C)            -> torch (B, C, s_1..s_N)        (permute)
  kernel Keras (k_1..k_N, C/groups, F)     <- torch weight (F, C/groups, k_1..k_N)  (permute)
  bias   Keras (F,)                         == torch bias (F,)
  groups: the same meaning in both (filters [g F/G, (g+1) F/G) read channels [g C/G, (g+1) C/G)).
  padding: torch is given explicit zero padding per axis with F.pad, computed from Keras' rule:
    valid  -> none;  causal (Conv1D) -> dilation * (k - 1) before, none after;
    same   -> out = ceil(s / stride), total = max((out - 1) stride + (k - 1) dilation + 1 - s, 0),
              floor(total / 2) before, the rest after (TensorFlow's SAME, which Keras 3 uses);
  then F.convNd(padding=0, stride, dilation, groups).
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as TF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, to_json, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, fnv1a32, dtype_policy, initializer  # noqa: E402
from make_gru_fixtures import layer_entry, sequential  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_conv_fixtures.py'
FAMILY = 'conv'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
CROSSCHECK_JSON = os.path.join(HERE, 'conv_crosscheck_keras.json')
NUMPY_TOL = 1e-12

# name, rank, options. Sizes: 'spatial' (lo, hi) per axis drawn unless fixed; 'cin_per_group' and
# 'f_per_group' ranges; the padding/strides/dilation/groups/activation of the layer.
CASES = [
    ('conv1d_groups2_valid', 1, {'k': [3], 'groups': 2}),
    ('conv1d_groups3_same_strides2', 1, {'k': [4], 'groups': 3, 'padding': 'same', 'strides': [2]}),
    ('conv1d_causal', 1, {'k': [3], 'padding': 'causal'}),
    ('conv1d_causal_dilated4_relu', 1, {'k': [3], 'padding': 'causal', 'dilation': [4], 'activation': 'relu'}),
    ('conv1d_causal_strides2', 1, {'k': [2], 'padding': 'causal', 'strides': [2]}),
    ('conv1d_causal_groups2_dilated2', 1, {'k': [3], 'padding': 'causal', 'dilation': [2], 'groups': 2}),
    ('conv1d_causal_long', 1, {'k': [3], 'padding': 'causal', 'dilation': [8],
                               'fixed': {'batch': 2, 'spatial': [150], 'cin': 5, 'filters': 7}}),
    ('conv1d_groups_depthwise_like', 1, {'k': [5], 'groups': 4, 'padding': 'same', 'cpg': (1, 1), 'fpg': (1, 3)}),
    ('conv2d_groups2_same', 2, {'k': [3, 3], 'groups': 2, 'padding': 'same'}),
    ('conv2d_groups4_valid_strides2', 2, {'k': [3, 2], 'groups': 4, 'strides': [2, 2], 'cpg': (1, 2)}),
    ('conv2d_groups3_dilated_same_tanh', 2, {'k': [2, 3], 'groups': 3, 'padding': 'same', 'dilation': [2, 1],
                                             'activation': 'tanh'}),
    ('conv2d_groups2_nobias', 2, {'k': [1, 1], 'groups': 2, 'bias': False}),
    ('conv3d_groups2_same', 3, {'k': [3, 2, 2], 'groups': 2, 'padding': 'same'}),
    ('conv3d_groups3_valid_strides', 3, {'k': [2, 2, 2], 'groups': 3, 'strides': [1, 2, 2]}),
    ('conv1d_crosscheck', 1, {'k': [3], 'padding': 'same', 'dilation': [2], 'crosscheck': True,
                              'fixed': {'batch': 2, 'spatial': [9], 'cin': 3, 'filters': 4}}),
]


def axis_padding(size, k, s, d, padding):
    """(before, after) zeros of one axis, from Keras' rules (module docstring)."""
    span = (k - 1) * d + 1
    if padding == 'valid':
        return 0, 0
    if padding == 'causal':
        return span - 1, 0
    out = -(-size // s)
    total = max((out - 1) * s + span - size, 0)
    return total // 2, total - total // 2


def torch_conv(x, kernel, bias, o):
    """Keras-layout x (B, s..., C), kernel (k..., C/G, F), bias (F,) or None -> Keras-layout output (float64)."""
    n = x.ndim - 2
    xt = torch.from_numpy(x).permute(0, n + 1, *range(1, n + 1)).contiguous()
    wt = torch.from_numpy(kernel).permute(n + 1, n, *range(n)).contiguous()
    bt = torch.from_numpy(bias) if bias is not None else None
    pads = []
    for i in reversed(range(n)):  # F.pad lists the last axis first
        pads += list(axis_padding(x.shape[1 + i], o['k'][i], o['strides'][i], o['dilation'][i], o['padding']))
    xt = TF.pad(xt, pads)
    conv = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[n]
    y = conv(xt, wt, bt, stride=o['strides'], padding=0, dilation=o['dilation'], groups=o['groups'])
    return y.permute(0, *range(2, n + 2), 1).contiguous().numpy()


def numpy_conv(x, kernel, bias, o):
    """The Keras equation by loops: y[b, o, f] = bias[f] + sum_t sum_c x[b, o s - pad + t d, g cg + c] kernel[t, c, f]."""
    n = x.ndim - 2
    B, C = x.shape[0], x.shape[-1]
    F, G = kernel.shape[-1], o['groups']
    cg, fg = C // G, F // G
    before, outs = [], []
    for i in range(n):
        s, k, d = o['strides'][i], o['k'][i], o['dilation'][i]
        b0, b1 = axis_padding(x.shape[1 + i], k, s, d, o['padding'])
        before.append(b0)
        outs.append((x.shape[1 + i] + b0 + b1 - ((k - 1) * d + 1)) // s + 1)
    y = np.zeros([B] + outs + [F])
    for pos in np.ndindex(*outs):
        for tap in np.ndindex(*o['k']):
            idx = [pos[i] * o['strides'][i] - before[i] + tap[i] * o['dilation'][i] for i in range(n)]
            if any(p < 0 or p >= x.shape[1 + i] for i, p in enumerate(idx)):
                continue
            xv = x[(slice(None),) + tuple(idx)]  # (B, C)
            for g in range(G):
                y[(slice(None),) + pos + (slice(g * fg, (g + 1) * fg),)] += \
                    xv[:, g * cg:(g + 1) * cg] @ kernel[tap][:, g * fg:(g + 1) * fg]
    if bias is not None:
        y += bias
    return y


def activate(name, y):
    if name == 'linear':
        return y
    if name == 'relu':
        return np.maximum(y, 0.0)
    if name == 'tanh':
        return np.tanh(y)
    raise ValueError(name)


def conv_config(rank, name, filters, o):
    return {
        'name': name, 'trainable': True, 'dtype': dtype_policy(),
        'filters': filters, 'kernel_size': list(o['k']), 'strides': list(o['strides']), 'padding': o['padding'],
        'data_format': 'channels_last', 'dilation_rate': list(o['dilation']), 'groups': o['groups'],
        'activation': o['activation'], 'use_bias': o['bias'],
        'kernel_initializer': initializer('GlorotUniform', {'seed': None}),
        'bias_initializer': initializer('Zeros', {}),
        'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
        'kernel_constraint': None, 'bias_constraint': None,
    }


def make_case(name, rank, spec, master_seed):
    seed = fnv1a32(f'strata-torch-reference:{master_seed}:{FAMILY}/{name}')
    rng = SplitMix64(seed)
    o = {'k': spec['k'], 'groups': spec.get('groups', 1), 'padding': spec.get('padding', 'valid'),
         'strides': spec.get('strides', [1] * rank), 'dilation': spec.get('dilation', [1] * rank),
         'activation': spec.get('activation', 'linear'), 'bias': spec.get('bias', True)}
    G = o['groups']
    fx = spec.get('fixed', {})
    B = fx['batch'] if 'batch' in fx else rng.int(1, 3)
    cpg, fpg = spec.get('cpg', (1, 3)), spec.get('fpg', (1, 3))
    C = fx['cin'] if 'cin' in fx else G * rng.int(*cpg)
    F = fx['filters'] if 'filters' in fx else G * rng.int(*fpg)
    if 'spatial' in fx:
        spatial = fx['spatial']
    else:
        spatial = []
        for i in range(rank):
            span = (o['k'][i] - 1) * o['dilation'][i] + 1
            lo = span if o['padding'] == 'valid' else 1
            spatial.append(rng.int(lo, lo + (12 if rank == 1 else 6 if rank == 2 else 3)))
    fan_in = int(np.prod(o['k'])) * (C // G)
    kernel = rng.array(tuple(o['k']) + (C // G, F), 2.0 / math.sqrt(fan_in))
    bias = rng.array((F,), 0.5) if o['bias'] else None
    x = rng.array((B, *spatial, C), 1.0)

    y = activate(o['activation'], torch_conv(x, kernel, bias, o))
    ny = activate(o['activation'], numpy_conv(x, kernel, bias, o))
    diff = float(np.max(np.abs(ny - y))) if y.size else 0.0
    if not diff <= NUMPY_TOL:
        raise RuntimeError(f'{name}: torch vs numpy convolution differ by {diff}')
    if y.size and np.max(np.abs(y)) > 10:
        raise RuntimeError(f'{name}: |output| > 10')

    lname = f'conv{rank}d'
    cls = f'Conv{rank}D'
    in_shape = [None, *spatial, C]
    cfg = conv_config(rank, lname, F, o)
    model_config = sequential(name, in_shape, [layer_entry(cls, cfg, in_shape)])
    weights = [{'name': f'{lname}/kernel', 'shape': list(kernel.shape), 'data': F32List(kernel)}]
    if bias is not None:
        weights.append({'name': f'{lname}/bias', 'shape': list(bias.shape), 'data': F32List(bias)})
    pads = [axis_padding(spatial[i], o['k'][i], o['strides'][i], o['dilation'][i], o['padding']) for i in range(rank)]
    desc = (f'{cls}(filters={F}, kernel_size={tuple(o["k"])}, strides={tuple(o["strides"])}, padding={o["padding"]}, '
            f'dilation_rate={tuple(o["dilation"])}, groups={G}, activation={o["activation"]}, '
            f'use_bias={str(o["bias"]).lower()}) on input [{B},{",".join(map(str, spatial))},{C}]. torch: the input '
            f'permuted to channels_first, zero padding (before, after) per axis {pads} by F.pad, then '
            f'F.conv{rank}d(stride, dilation, groups={G}) in float64 with weight = kernel permuted to (F, C/groups, k...), '
            'the output permuted back; the activation applied in numpy. Kernels uniform(-1,1)*2/sqrt(prod(k)*C/groups), '
            'biases uniform(-1,1)*0.5, inputs uniform(-1,1), all float32 values.')
    if spec.get('crosscheck'):
        desc += (' CROSS-CHECK case: tfjs computes the same layer (groups 1, same padding) in conv/conv1d_torch_crosscheck '
                 'from tools/torch-reference/conv_crosscheck_keras.json.')
    fixture = {
        'format_version': FORMAT_VERSION, 'name': name, 'group': FAMILY, 'seed': seed,
        'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras3',
        'notes': desc,
        'model_config': model_config,
        'layers': [{'name': lname, 'class_name': cls, 'config': cfg, 'weights': weights}],
        'inputs': [{'label': 'x', 'shape': list(x.shape), 'data': F32List(x)}],
        'outputs': [{'label': 'y', 'shape': list(y.shape), 'data': F64List(y)}],
        'checks': {'numpy_keras_equations': {
            'description': 'torch output vs a naive numpy float64 loop over output positions and kernel taps with the '
                           'Keras-layout kernel of this fixture',
            'tolerance': NUMPY_TOL, 'passed': True}},
    }
    cross = None
    if spec.get('crosscheck'):
        cross = {
            'description': 'Keras-order weights, input and float64 output of fixtures_torch/conv/conv1d_crosscheck.json, '
                           'read by tools/keras-reference/groups/conv.mjs to build conv/conv1d_torch_crosscheck. Written by '
                           + GENERATOR + '.',
            'torch_fixture': f'{name}.json', 'filters': F, 'kernel_size': o['k'][0], 'dilation_rate': o['dilation'][0],
            'kernel': {'shape': list(kernel.shape), 'data': F32List(kernel)},
            'bias': {'shape': list(bias.shape), 'data': F32List(bias)},
            'x': {'shape': list(x.shape), 'data': F32List(x)},
            'y': {'shape': list(y.shape), 'data': F64List(y)},
        }
    return fixture, cross, diff


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', FAMILY))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    out = args.out
    prepare_out_dir(out, GENERATOR)

    entries = []
    for name, rank, spec in CASES:
        fixture, cross, diff = make_case(name, rank, spec, args.seed)
        entries.append(write_case(out, fixture))
        if cross is not None:
            with open(CROSSCHECK_JSON, 'w', encoding='utf-8', newline='\n') as f:
                f.write(to_json(cross) + '\n')
        print(f'  {name}: numpy check max diff {diff:.3g}')
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
