#!/usr/bin/python3
"""PyTorch / numpy reference fixtures for Keras' normalization layers where tfjs cannot serve.

tfjs 4.22 has BatchNormalization (right on the last axis only) and LayerNormalization (no rms_scaling); this
script covers the rest with Keras 3 model configs, in the JSON format of the tfjs fixtures:
  BatchNormalization on a non-last axis   torch.nn.functional.batch_norm (channels on axis 1; other axes moved there)
  BatchNormalization(renorm=True)         torch batch_norm; the 3 renorm weights play no part at inference
  BatchNormalization, tf.keras axis list  numpy (parameters of the input's rank, 1 off the axes)
  LayerNormalization(rms_scaling=True)    numpy: x * gamma / sqrt(var(x) + eps) (Keras 3's formula: the variance)
  LayerNormalization, unsorted axis list  numpy (weights in the given order, values row-major over sorted axes)
  UnitNormalization                       torch.nn.functional.normalize(p=2, eps=1e-12) (norms here are > 1e-6)
  GroupNormalization                      torch.nn.functional.group_norm (channels moved to axis 1)
  RMSNormalization                        numpy: x * scale / sqrt(mean(x^2) + eps) (torch 1.13 has no rms_norm)
Every torch result is checked against a naive numpy float64 implementation of the Keras formula.

Usage: /usr/bin/python3 tools/torch-reference/make_normalization_fixtures.py [--out DIR] [--seed UINT32]
Writes DIR/normalization/<case>.json and DIR/normalization/index.json (DIR: tests/reference/fixtures_torch).
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, dtype_policy, fnv1a32, initializer, input_entry, layer_entry, sequential  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_normalization_fixtures.py'
GROUP = 'normalization'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
NUMPY_TOL = 1e-12


# ---------------------------------------------------------------------------
# Keras 3 configs
# ---------------------------------------------------------------------------
def base(name):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy()}


def inits(*names):
    out = {}
    for n in names:
        out[f'{n}_initializer'] = initializer('Ones' if n in ('gamma', 'moving_variance') else 'Zeros', {})
    return out


def bn_config(axis, eps=1e-3, center=True, scale=True, renorm=False, name='batch_normalization'):
    c = base(name)
    c.update({'axis': axis, 'momentum': 0.99, 'epsilon': eps, 'center': center, 'scale': scale})
    c.update(inits('beta', 'gamma', 'moving_mean', 'moving_variance'))
    c.update({'beta_regularizer': None, 'gamma_regularizer': None, 'beta_constraint': None, 'gamma_constraint': None,
              'synchronized': False, 'renorm': renorm, 'renorm_clipping': None, 'renorm_momentum': 0.99})
    return c


def ln_config(axis, eps=1e-3, center=True, scale=True, rms=False):
    c = base('layer_normalization')
    c.update({'axis': axis, 'epsilon': eps, 'center': center, 'scale': scale, 'rms_scaling': rms})
    c.update(inits('beta', 'gamma'))
    c.update({'beta_regularizer': None, 'gamma_regularizer': None, 'beta_constraint': None, 'gamma_constraint': None})
    return c


def gn_config(groups, axis, eps=1e-3, center=True, scale=True):
    c = base('group_normalization')
    c.update({'groups': groups, 'axis': axis, 'epsilon': eps, 'center': center, 'scale': scale})
    c.update(inits('beta', 'gamma'))
    c.update({'beta_regularizer': None, 'gamma_regularizer': None, 'beta_constraint': None, 'gamma_constraint': None})
    return c


def unit_config(axis):
    c = base('unit_normalization')
    c['axis'] = axis
    return c


def rms_config(axis, eps=1e-6):
    c = base('rms_normalization')
    c.update({'axis': axis, 'epsilon': eps})
    return c


def td_config(inner_class, inner_cfg, slice_shape):
    c = base('time_distributed')
    c['layer'] = layer_entry(inner_class, inner_cfg, slice_shape)
    return c


# ---------------------------------------------------------------------------
# References: torch where it has the layer, numpy otherwise; numpy always as the check
# ---------------------------------------------------------------------------
def canon(axes, rank):
    axes = [axes] if isinstance(axes, int) else list(axes)
    return sorted(a + rank if a < 0 else a for a in axes)


def broadcast(v, x, axes):
    """A parameter's values (row-major over the sorted axes) as a broadcastable array."""
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    return np.asarray(v, dtype=np.float64).reshape(shape)


def numpy_bn(x, axes, gamma, beta, mean, var, eps):
    inv = 1.0 / np.sqrt(broadcast(var, x, axes) + eps)
    g = broadcast(gamma, x, axes) if gamma is not None else 1.0
    b = broadcast(beta, x, axes) if beta is not None else 0.0
    return (x - broadcast(mean, x, axes)) * inv * g + b


def torch_bn(x, axis, gamma, beta, mean, var, eps):
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, axis, 1)))
    t = lambda v: None if v is None else torch.from_numpy(np.asarray(v, dtype=np.float64).ravel())  # noqa: E731
    y = F.batch_norm(xt, t(mean), t(var), t(gamma), t(beta), training=False, momentum=0.0, eps=eps)
    return np.moveaxis(y.numpy(), 1, axis).copy()


def numpy_ln(x, axes, gamma, beta, eps, rms):
    ax = tuple(axes)
    mean = x.mean(axis=ax, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=ax, keepdims=True)
    g = broadcast(gamma, x, axes) if gamma is not None else 1.0
    if rms:
        return x / np.sqrt(var + eps) * g
    b = broadcast(beta, x, axes) if beta is not None else 0.0
    return (x - mean) / np.sqrt(var + eps) * g + b


def numpy_unit(x, axes):
    n = np.sqrt((x * x).sum(axis=tuple(axes), keepdims=True))
    return x / np.maximum(n, 1e-12)


def torch_unit(x, axes):
    # torch normalizes over one dim: move the axes to the end and flatten them.
    rest = [i for i in range(x.ndim) if i not in axes]
    xt = np.transpose(x, rest + axes)
    shape = xt.shape
    flat = xt.reshape(shape[:len(rest)] + (-1,))
    y = F.normalize(torch.from_numpy(np.ascontiguousarray(flat)), p=2.0, dim=-1, eps=1e-12).numpy()
    return np.transpose(y.reshape(shape), np.argsort(rest + axes)).copy()


def numpy_gn(x, axis, groups, gamma, beta, eps):
    C = x.shape[axis]
    xm = np.moveaxis(x, axis, 1)
    B = xm.shape[0]
    g = xm.reshape((B, groups, C // groups) + xm.shape[2:])
    red = tuple(range(2, g.ndim))
    mean = g.mean(axis=red, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=red, keepdims=True)
    y = ((g - mean) / np.sqrt(var + eps)).reshape(xm.shape)
    cshape = (1, C) + (1,) * (xm.ndim - 2)
    if gamma is not None:
        y = y * np.asarray(gamma).reshape(cshape)
    if beta is not None:
        y = y + np.asarray(beta).reshape(cshape)
    return np.moveaxis(y, 1, axis).copy()


def torch_gn(x, axis, groups, gamma, beta, eps):
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, axis, 1)))
    t = lambda v: None if v is None else torch.from_numpy(np.asarray(v, dtype=np.float64))  # noqa: E731
    y = F.group_norm(xt, groups, t(gamma), t(beta), eps)
    return np.moveaxis(y.numpy(), 1, axis).copy()


def numpy_rms(x, axes, scale, eps):
    ms = (x * x).mean(axis=tuple(axes), keepdims=True)
    return x / np.sqrt(ms + eps) * broadcast(scale, x, axes)


# ---------------------------------------------------------------------------
# Cases: (name, dict). 'layer': class; 'dims': input dims without batch (None: drawn); options per class.
# ---------------------------------------------------------------------------
CASES = [
    ('bn_axis1_rank3', {'layer': 'BN', 'rank': 3, 'axis': 1}),
    ('bn_axis1_rank4', {'layer': 'BN', 'rank': 4, 'axis': 1}),
    ('bn_axis_minus2_rank4', {'layer': 'BN', 'rank': 4, 'axis': -2}),
    ('bn_axis1_rank3_no_center_no_scale', {'layer': 'BN', 'rank': 3, 'axis': 1, 'center': False, 'scale': False}),
    ('bn_axis2_rank3_no_scale_eps1e-5', {'layer': 'BN', 'rank': 3, 'axis': 2, 'scale': False, 'eps': 1e-5}),
    ('bn_renorm_rank3', {'layer': 'BN', 'rank': 3, 'axis': -1, 'renorm': True}),
    ('bn_tf_keras_axis_list_rank4', {'layer': 'BN', 'rank': 4, 'axis': [1, 3], 'keras2_list': True}),
    ('td_bn_axis1_rank4', {'layer': 'BN', 'rank': 4, 'axis': 1, 'td': True}),
    ('ln_rms_scaling_rank3', {'layer': 'LN', 'rank': 3, 'axis': [-1], 'rms': True}),
    ('ln_rms_scaling_last2_rank4', {'layer': 'LN', 'rank': 4, 'axis': [2, 3], 'rms': True}),
    ('ln_rms_scaling_no_scale_rank2', {'layer': 'LN', 'rank': 2, 'axis': [-1], 'rms': True, 'scale': False}),
    ('ln_axes_unsorted_rank3', {'layer': 'LN', 'rank': 3, 'axis': [-1, -2]}),
    ('ln_offset_inputs_rank3', {'layer': 'LN', 'rank': 3, 'axis': [-1], 'offset': 100.0}),
    ('unit_rank2', {'layer': 'Unit', 'rank': 2, 'axis': -1}),
    ('unit_rank3_last_zero_sample', {'layer': 'Unit', 'rank': 3, 'axis': -1, 'zero_sample': True}),
    ('unit_rank3_axis1', {'layer': 'Unit', 'rank': 3, 'axis': 1}),
    ('unit_rank4_axes_1_2', {'layer': 'Unit', 'rank': 4, 'axis': [1, 2]}),
    ('unit_rank4_axes_1_3', {'layer': 'Unit', 'rank': 4, 'axis': [1, 3]}),
    ('gn_rank3_last_groups2', {'layer': 'GN', 'rank': 3, 'axis': -1, 'groups': 2}),
    ('gn_rank4_last_groups3', {'layer': 'GN', 'rank': 4, 'axis': -1, 'groups': 3}),
    ('gn_rank2_groups_minus1', {'layer': 'GN', 'rank': 2, 'axis': -1, 'groups': -1}),
    ('gn_rank3_axis1_groups2', {'layer': 'GN', 'rank': 3, 'axis': 1, 'groups': 2}),
    ('gn_rank4_groups1_no_center', {'layer': 'GN', 'rank': 4, 'axis': -1, 'groups': 1, 'center': False}),
    ('gn_rank3_groups4_no_scale', {'layer': 'GN', 'rank': 3, 'axis': -1, 'groups': 4, 'scale': False}),
    ('rms_rank2', {'layer': 'RMS', 'rank': 2, 'axis': -1}),
    ('rms_rank3_eps1e-3', {'layer': 'RMS', 'rank': 3, 'axis': -1, 'eps': 1e-3}),
    ('rms_rank4_last2', {'layer': 'RMS', 'rank': 4, 'axis': [2, 3]}),
]


def around1(rng, n):
    return np.array([float(np.float32(1.0 + rng.f32(0.5))) for _ in range(n)])


def make_case(name, o, master_seed):
    seed = fnv1a32(f'strata-torch-reference:{master_seed}:{GROUP}/{name}')
    rng = SplitMix64(seed)
    rank = o['rank']
    kind = o['layer']
    B = rng.int(1, 4)
    dims = [rng.int(2, 5) for _ in range(rank - 1)]
    if kind == 'GN' and o['groups'] > 0:
        ch = canon(o['axis'], rank)[0] - 1
        dims[ch] = o['groups'] * rng.int(1, 3)
    shape = [B] + dims
    x = rng.array(tuple(shape), 2.0)
    if o.get('offset'):
        # a large mean over a small spread: x - mean must not cancel (float32 values 100 + uniform(-1,1))
        x = (np.float32(o['offset']) + (x / 2).astype(np.float32)).astype(np.float64)
    if o.get('zero_sample'):
        x[0] = 0.0
    # the axes on the whole input (TimeDistributed: the inner layer's axes count in the slice, one axis fewer)
    axes = [a + 1 for a in canon(o['axis'], rank - 1)] if o.get('td') else canon(o['axis'], rank)
    eps = o.get('eps')
    center, scale = o.get('center', True), o.get('scale', True)
    n_param = int(np.prod([shape[a] for a in axes]))
    weights = []  # (keras name, values row-major over sorted axes)
    check = None
    if kind == 'BN':
        eps = 1e-3 if eps is None else eps
        gamma = around1(rng, n_param) if scale else None
        beta = rng.array((n_param,), 0.5) if center else None
        mean = rng.array((n_param,), 0.5)
        var = around1(rng, n_param)
        extra = [('moving_stddev', around1(rng, n_param)), ('renorm_mean', rng.array((n_param,), 0.5)),
                 ('renorm_stddev', around1(rng, n_param))] if o.get('renorm') else []
        weights = ([('gamma', gamma)] if scale else []) + ([('beta', beta)] if center else []) + \
            [('moving_mean', mean), ('moving_variance', var)] + extra
        check = numpy_bn(x, axes, gamma, beta, mean, var, eps)
        if o.get('keras2_list'):
            y, ref = check, 'numpy'
            pshape = [shape[i] if i in axes else 1 for i in range(rank)]
        else:
            y, ref = torch_bn(x, axes[0], gamma, beta, mean, var, eps), 'pytorch'
            pshape = [n_param]
        cfg = bn_config(o['axis'], eps, center, scale, o.get('renorm', False))
        cls = 'BatchNormalization'
        desc = (f'BatchNormalization(axis={o["axis"]}, epsilon={eps}, center={center}, scale={scale}'
                + (', renorm=True' if o.get('renorm') else '') + ') at inference: '
                'gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta per index of the axis')
        if o.get('renorm'):
            desc += ('. renorm adds moving_stddev, renorm_mean, renorm_stddev (Keras 3.14+ and tf.keras order) after '
                     'the others; inference ignores them (drawn arbitrary here)')
        if o.get('keras2_list'):
            desc += ('. tf.keras 2 axis list: each parameter has the input\'s rank with 1 off the axes, shape '
                     f'{pshape}; reference numpy (torch batch_norm takes one channel axis)')
        else:
            desc += '. Reference torch.nn.functional.batch_norm(training=False) with the axis moved to dim 1'
    elif kind == 'LN':
        eps = 1e-3 if eps is None else eps
        rms = o.get('rms', False)
        has_gamma, has_beta = scale or rms, center and not rms
        gamma = around1(rng, n_param) if has_gamma else None
        beta = rng.array((n_param,), 0.5) if has_beta else None
        weights = ([('gamma', gamma)] if has_gamma else []) + ([('beta', beta)] if has_beta else [])
        y = numpy_ln(x, axes, gamma, beta, eps, rms)
        if not rms:
            # the same thing through torch layer_norm over the trailing axes (axes here are trailing)
            xt = torch.from_numpy(x)
            nshape = tuple(shape[a] for a in axes)
            t = lambda v: None if v is None else torch.from_numpy(np.asarray(v).reshape(nshape))  # noqa: E731
            check = F.layer_norm(xt, nshape, t(gamma), t(beta), eps).numpy()
            ref = 'pytorch'
            y, check = check, y
        else:
            check, ref = y, 'numpy'
        given = o['axis']
        pshape = [shape[a + rank if a < 0 else a] for a in given]
        cfg = ln_config(given, eps, center, scale, rms)
        cls = 'LayerNormalization'
        desc = (f'LayerNormalization(axis={given}, epsilon={eps}, center={center}, scale={scale}, rms_scaling={rms})')
        if o.get('offset'):
            desc += (f': inputs {o["offset"]} + uniform(-1,1) (float32 values), a large mean over a small spread, where '
                     'float32 arithmetic of the Keras formula (tfjs: 2.5e-5 off) cancels; reference torch layer_norm in '
                     'float64')
        if rms:
            desc += (': Keras 3 rms_scaling computes x * gamma / sqrt(var(x) + epsilon), the variance about the mean '
                     '(Keras 3.0-3.16 alike; not mean(x^2)); gamma exists whatever scale says, no beta. Reference numpy')
        if given != sorted(given) or any(a < 0 for a in given) and len(given) > 1:
            desc += (f'. Axes given unsorted: the weights have shape {pshape} (the axes in the given order, as Keras '
                     '<= 3.15 builds them) and their values run row-major over the axes in increasing order '
                     '(Keras reshapes gamma to the broadcast shape)')
    elif kind == 'Unit':
        y = torch_unit(x, axes)
        check, ref = numpy_unit(x, axes), 'pytorch'
        cfg = unit_config(o['axis'])
        cls = 'UnitNormalization'
        pshape = None
        desc = (f'UnitNormalization(axis={o["axis"]}): x / max(||x||, 1e-12) over the axes; reference '
                'torch.nn.functional.normalize over the axes moved to the end and flattened')
        if o.get('zero_sample'):
            desc += '. Sample 0 is all zeros: its output is 0 (no NaN)'
    elif kind == 'GN':
        eps = 1e-3 if eps is None else eps
        C = shape[axes[0]]
        groups = C if o['groups'] == -1 else o['groups']
        gamma = around1(rng, C) if scale else None
        beta = rng.array((C,), 0.5) if center else None
        weights = ([('gamma', gamma)] if scale else []) + ([('beta', beta)] if center else [])
        y = torch_gn(x, axes[0], groups, gamma, beta, eps)
        check, ref = numpy_gn(x, axes[0], groups, gamma, beta, eps), 'pytorch'
        pshape = [C]
        cfg = gn_config(o['groups'], o['axis'], eps, center, scale)
        cls = 'GroupNormalization'
        desc = (f'GroupNormalization(groups={o["groups"]}, axis={o["axis"]}, epsilon={eps}, center={center}, '
                f'scale={scale}) with {C} channels: each sample\'s group of {C // groups} consecutive channels '
                'normalised over them and every other non-batch axis; reference torch.nn.functional.group_norm with '
                'the channel axis moved to dim 1')
    elif kind == 'RMS':
        eps = 1e-6 if eps is None else eps
        sc = around1(rng, n_param)
        weights = [('scale', sc)]
        y = numpy_rms(x, axes, sc, eps)
        # check: torch arithmetic of the same formula
        xt = torch.from_numpy(x)
        ms = (xt * xt).mean(dim=tuple(axes), keepdim=True)
        check = (xt * torch.rsqrt(ms + eps) * torch.from_numpy(broadcast(sc, x, axes))).numpy()
        ref = 'numpy'
        pshape = [shape[a] for a in axes]
        cfg = rms_config(o['axis'], eps)
        cls = 'RMSNormalization'
        desc = (f'RMSNormalization(axis={o["axis"]}, epsilon={eps}) (Keras 3.9+): x * scale / sqrt(mean(x^2) + '
                'epsilon); reference numpy (torch 1.13 has no rms_norm)')
    else:
        raise ValueError(kind)

    diff = float(np.max(np.abs(y - check))) if y.size else 0.0
    if not diff <= NUMPY_TOL:
        raise RuntimeError(f'{name}: reference vs check differ by {diff}')
    if np.max(np.abs(y)) > 10:
        raise RuntimeError(f'{name}: |output| > 10')

    in_shape = [None] + dims
    wlist = [{'name': f'{cfg["name"]}/{n}', 'shape': pshape, 'data': F32List(v)} for n, v in weights]
    if o.get('td'):
        slice_shape = [None] + dims[1:]
        inner = cfg
        cfg = td_config(cls, inner, slice_shape)
        wlist = [{'name': f'time_distributed/{w["name"].split("/")[-1]}', 'shape': w['shape'], 'data': w['data']}
                 for w in wlist]
        entry = layer_entry('TimeDistributed', cfg, in_shape)
        layers = [{'name': 'time_distributed', 'class_name': 'TimeDistributed', 'config': cfg, 'weights': wlist}]
        desc = (f'TimeDistributed({desc}) on [{", ".join(map(str, shape))}]: each slice x[:, t] of shape '
                f'[{B}, {", ".join(map(str, dims[1:]))}] normalised with the axis counted in the slice (axis 1 of the '
                'slice = axis 2 of the input)')
        # the reference for TD: the inner layer on every slice
        if kind == 'BN':
            slices = [torch_bn(np.ascontiguousarray(x[:, t]), axes[0] - 1, gamma, beta, mean, var, eps)
                      for t in range(dims[0])]
            y2 = np.stack(slices, axis=1)
            # the inner axis of a slice is the input's next one: the same as BatchNormalization on that axis
            if np.max(np.abs(y2 - numpy_bn(x, axes, gamma, beta, mean, var, eps))) > NUMPY_TOL:
                raise RuntimeError(f'{name}: TD slices disagree')
            y = y2
    else:
        entry = layer_entry(cls, cfg, in_shape)
        layers = [{'name': cfg['name'], 'class_name': cls, 'config': cfg, 'weights': wlist}]
        desc += f' on input [{", ".join(map(str, shape))}]'
    desc += ('. Inputs uniform(-1,1)*2; gamma, moving_variance and scale uniform(0.5,1.5), beta and moving_mean '
             'uniform(-0.5,0.5), all float32 values; outputs in float64.')
    model_config = sequential(name, in_shape, [entry])
    fixture = {
        'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
        'reference': ref, 'torch_version': torch.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras3',
        'notes': desc,
        'model_config': model_config,
        'layers': layers,
        'inputs': [{'label': 'x', 'shape': shape, 'data': F32List(x)}],
        'outputs': [{'label': 'y', 'shape': shape, 'data': F64List(y)}],
        'checks': {'numpy_keras_formula': {
            'description': 'the reference output vs a second float64 implementation of the Keras formula '
                           '(numpy when the reference is torch, torch arithmetic or torch layer_norm otherwise)',
            'tolerance': NUMPY_TOL, 'max_abs_diff': diff, 'passed': True}},
    }
    return fixture


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch'))
    torch.set_num_threads(1)
    out = os.path.join(args.out, GROUP)
    prepare_out_dir(out, GENERATOR)
    entries = []
    for name, o in CASES:
        fx = make_case(name, o, args.seed)
        entries.append(write_case(out, fx, reference=fx['reference']))
    write_index(out, GENERATOR, args.seed, entries, {'torch_version': torch.__version__}, groups=False)


if __name__ == '__main__':
    main()
