#!/usr/bin/python3
"""numpy (and PyTorch) reference fixtures for Keras 3's pooling and spatial shape layers.

tfjs (tools/keras-reference, groups/pooling.mjs) lacks ZeroPadding1D/3D, Cropping1D/3D, UpSampling1D/3D,
Global*Pooling3D, keepdims, masks in GlobalAveragePooling1D and SpatialDropout2D/3D, and computes otherwise
than Keras 3 in UpSampling2D(interpolation="bilinear") (tfjs: TF1's src = o / s; Keras 3: TF's half-pixel
centres) and in 3-D "same" pooling with a stride larger than the pool (tfjs-core lacks TF's max(0, .) on the
front padding). This script computes those cases in float64 with numpy, following Keras 3 (TensorFlow
backend) rules, and writes them to tests/reference/fixtures_torch/pooling/ in the tfjs fixtures' JSON format
with Keras 3 model configs. See README.md.

Checks before anything is written:
  - bilinear upsampling: numpy vs torch.nn.functional.interpolate(mode="bilinear", align_corners=False),
    which uses the same half-pixel rule with the same clamping;
  - the numpy pooling / padding / cropping / upsampling / global pooling code vs the tfjs fixtures of
    tests/reference/fixtures/pooling/ that compute the same thing (CROSSCHECKS below).

Usage: /usr/bin/python3 tools/torch-reference/make_pooling_fixtures.py [--out DIR] [--seed UINT32]
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, dtype_policy, fnv1a32, input_entry, layer_entry, sequential  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_pooling_fixtures.py'
GROUP = 'pooling'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
TFJS_DIR = os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures', 'pooling')
TORCH_TOL = 1e-12
CROSS_TOL = 1e-5


# ---------------------------------------------------------------------------
# Keras 3 rules in numpy (float64), on channels_last arrays (batch, spatial..., channels)
# ---------------------------------------------------------------------------
def to_last(x, cf):
    return np.moveaxis(x, 1, -1) if cf else x


def from_last(x, cf):
    return np.moveaxis(x, -1, 1) if cf else x


def pool(x, kind, pool_size, strides, padding):
    """Keras 3 MaxPoolingND / AveragePoolingND (tf.nn.max_pool / avg_pool): "same" pads
    max((out-1)*s + p - n, 0), its smaller half in front; padded positions take no part."""
    n = x.ndim - 2
    ins = x.shape[1:-1]
    outs, starts = [], []
    for a in range(n):
        if padding == 'valid':
            o = (ins[a] - pool_size[a]) // strides[a] + 1
            pad = 0
        else:
            o = -(-ins[a] // strides[a])
            pad = max((o - 1) * strides[a] + pool_size[a] - ins[a], 0) // 2
        outs.append(o)
        starts.append([i * strides[a] - pad for i in range(o)])
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for idx in np.ndindex(*outs):
        sl = tuple(slice(max(starts[a][idx[a]], 0), min(starts[a][idx[a]] + pool_size[a], ins[a])) for a in range(n))
        win = x[(slice(None),) + sl + (slice(None),)].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None),) + idx + (slice(None),)] = win.max(axis=1) if kind == 'max' else win.mean(axis=1)
    return y


def global_pool(x, kind, keepdims, mask=None):
    """Keras 3 Global*PoolingND; GlobalAveragePooling1D with a mask averages the kept steps only."""
    axes = tuple(range(1, x.ndim - 1))
    if mask is not None:
        m = mask[:, :, None].astype(np.float64)
        y = (x * m).sum(axis=1, keepdims=keepdims) / m.sum(axis=1, keepdims=keepdims)
        return y
    return x.max(axis=axes, keepdims=keepdims) if kind == 'max' else x.mean(axis=axes, keepdims=keepdims)


def zero_pad(x, sides):
    return np.pad(x, [(0, 0)] + [tuple(s) for s in sides] + [(0, 0)])


def crop(x, sides):
    sl = tuple(slice(a, x.shape[i + 1] - b) for i, (a, b) in enumerate(sides))
    return x[(slice(None),) + sl + (slice(None),)]


def upsample_nearest(x, size):
    for a, s in enumerate(size):
        x = np.repeat(x, s, axis=a + 1)
    return x


def upsample_bilinear(x, size):
    """TF resize_bilinear(half_pixel_centers=True), what Keras 3's ops.image.resize runs: output o reads
    (o + 0.5) / f - 0.5, floor clamped to >= 0, ceil to <= n - 1, lerp = in - floor(in)."""
    def taps(n, f):
        t = []
        for o in range(n * f):
            v = (o + 0.5) / f - 0.5
            fl = math.floor(v)
            t.append((max(fl, 0), min(math.ceil(v), n - 1), v - fl))
        return t
    B, H, W, C = x.shape
    ys, xs = taps(H, size[0]), taps(W, size[1])
    y = np.zeros((B, H * size[0], W * size[1], C))
    for i, (y0, y1, ly) in enumerate(ys):
        for j, (x0, x1, lx) in enumerate(xs):
            top = x[:, y0, x0] + (x[:, y0, x1] - x[:, y0, x0]) * lx
            bottom = x[:, y1, x0] + (x[:, y1, x1] - x[:, y1, x0]) * lx
            y[:, i, j] = top + (bottom - top) * ly
    return y


def torch_bilinear(x, size):
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    y = torch.nn.functional.interpolate(t, scale_factor=tuple(float(s) for s in size), mode='bilinear',
                                        align_corners=False)
    return np.moveaxis(y.numpy(), 1, -1)


# ---------------------------------------------------------------------------
# Keras 3 configs
# ---------------------------------------------------------------------------
def base(name):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy()}


def cfg_pool(name, p, s, padding, cf):
    return {**base(name), 'pool_size': list(p), 'padding': padding, 'strides': list(s),
            'data_format': 'channels_first' if cf else 'channels_last'}


def cfg_global(name, keepdims, cf):
    return {**base(name), 'data_format': 'channels_first' if cf else 'channels_last', 'keepdims': keepdims}


def df(cf):
    return 'channels_first' if cf else 'channels_last'


# ---------------------------------------------------------------------------
# Cases: each returns (layers [(class, config, fn on channels_last x)], input dims without batch (in the
# layer's data_format), cf, description). fn works on channels_last data; cf moves the axis around it.
# ---------------------------------------------------------------------------
def R(rng, lo, hi):
    return rng.int(lo, hi)


def pair(rng, lo, hi):
    return [R(rng, lo, hi), R(rng, lo, hi)]


def case_zero_padding(rng, n, cf, as_int=False):
    dims = [R(rng, 1, 5) for _ in range(n)]
    c = R(rng, 1, 4)
    if as_int:
        p = R(rng, 1, 2)
        sides, padding = [[p, p]] * n, p
    else:
        sides = [pair(rng, 0, 2) for _ in range(n)]
        padding = sides[0] if n == 1 else sides
    cls = f'ZeroPadding{n}D'
    cfg = {**base(f'zero_padding{n}d'), 'padding': padding, 'data_format': df(cf)}
    return [(cls, cfg, lambda x: zero_pad(x, sides))], dims, c, cf, f'{cls}(padding={padding}, data_format={df(cf)})'


def case_cropping(rng, n, cf):
    sides = [pair(rng, 0, 2) for _ in range(n)]
    dims = [a + b + R(rng, 1, 4) for a, b in sides]
    c = R(rng, 1, 4)
    cropping = sides[0] if n == 1 else sides
    cls = f'Cropping{n}D'
    cfg = {**base(f'cropping{n}d'), 'cropping': cropping}
    if n > 1:
        cfg['data_format'] = df(cf)
    return [(cls, cfg, lambda x: crop(x, sides))], dims, c, cf, f'{cls}(cropping={cropping}, data_format={df(cf)})'


def case_upsampling(rng, n, cf, interpolation='nearest'):
    dims = [R(rng, 1, 4) for _ in range(n)]
    c = R(rng, 1, 4)
    size = [R(rng, 1, 3) for _ in range(n)]
    if interpolation == 'bilinear':
        size = [R(rng, 2, 4), R(rng, 1, 3)]
        dims = [R(rng, 2, 5), R(rng, 2, 5)]
    cls = f'UpSampling{n}D'
    cfg = {**base(f'up_sampling{n}d'), 'size': size[0] if n == 1 else size}
    if n > 1:
        cfg['data_format'] = df(cf)
    if n == 2:
        cfg['interpolation'] = interpolation
    fn = (lambda x: upsample_bilinear(x, size)) if interpolation == 'bilinear' else (lambda x: upsample_nearest(x, size))
    return [(cls, cfg, fn)], dims, c, cf, f'{cls}(size={size}, interpolation={interpolation}, data_format={df(cf)})'


def case_pool(rng, n, kind, padding, cf, stride_gt_pool=False):
    p = [R(rng, 1, 3) for _ in range(n)]
    s = [R(rng, x + 1, x + 2) if stride_gt_pool else R(rng, 1, 3) for x in p]
    dims = [R(rng, 3, 7) for _ in range(n)]
    c = R(rng, 1, 4)
    cls = f'{"MaxPooling" if kind == "max" else "AveragePooling"}{n}D'
    cfg = cfg_pool(f'{cls.lower()}', p, s, padding, cf)
    return ([(cls, cfg, lambda x: pool(x, kind, p, s, padding))], dims, c, cf,
            f'{cls}(pool_size={p}, strides={s}, padding={padding}, data_format={df(cf)})')


def case_global(rng, n, kind, keepdims, cf):
    dims = [R(rng, 1, 5) for _ in range(n)]
    c = R(rng, 1, 6)
    cls = f'Global{"MaxPooling" if kind == "max" else "AveragePooling"}{n}D'
    cfg = cfg_global(cls.lower(), keepdims, cf)
    return ([(cls, cfg, lambda x: global_pool(x, kind, keepdims))], dims, c, cf,
            f'{cls}(keepdims={keepdims}, data_format={df(cf)})')


def case_spatial_dropout(rng, n, cf):
    dims = [R(rng, 1, 4) for _ in range(n)]
    c = R(rng, 1, 4)
    cls = f'SpatialDropout{n}D'
    cfg = {**base(f'spatial_dropout{n}d'), 'rate': 0.25, 'seed': None, 'noise_shape': None}
    if True:
        cfg['data_format'] = df(cf)
    return [(cls, cfg, lambda x: x)], dims, c, cf, f'{cls}(rate=0.25, data_format={df(cf)}): the identity at inference'


CASES = [
    ('zero_padding1d_pair', lambda r: case_zero_padding(r, 1, False)),
    ('zero_padding1d_int', lambda r: case_zero_padding(r, 1, False, as_int=True)),
    ('zero_padding3d_sides', lambda r: case_zero_padding(r, 3, False)),
    ('zero_padding3d_int_channels_first', lambda r: case_zero_padding(r, 3, True, as_int=True)),
    ('cropping1d', lambda r: case_cropping(r, 1, False)),
    ('cropping3d_sides', lambda r: case_cropping(r, 3, False)),
    ('cropping3d_channels_first', lambda r: case_cropping(r, 3, True)),
    ('up_sampling1d', lambda r: case_upsampling(r, 1, False)),
    ('up_sampling3d', lambda r: case_upsampling(r, 3, False)),
    ('up_sampling3d_channels_first', lambda r: case_upsampling(r, 3, True)),
    ('up_sampling2d_bilinear', lambda r: case_upsampling(r, 2, False, 'bilinear')),
    ('up_sampling2d_bilinear_channels_first', lambda r: case_upsampling(r, 2, True, 'bilinear')),
    ('max_pooling3d_same_stride_gt_pool', lambda r: case_pool(r, 3, 'max', 'same', False, True)),
    ('average_pooling3d_same_stride_gt_pool', lambda r: case_pool(r, 3, 'avg', 'same', False, True)),
    ('average_pooling1d_same_channels_first', lambda r: case_pool(r, 1, 'avg', 'same', True)),
    ('max_pooling3d_valid_channels_first', lambda r: case_pool(r, 3, 'max', 'valid', True)),
    ('average_pooling3d_same_channels_first', lambda r: case_pool(r, 3, 'avg', 'same', True)),
    ('global_max_pooling3d', lambda r: case_global(r, 3, 'max', False, False)),
    ('global_average_pooling3d', lambda r: case_global(r, 3, 'avg', False, False)),
    ('global_average_pooling3d_channels_first', lambda r: case_global(r, 3, 'avg', False, True)),
    ('global_average_pooling1d_keepdims', lambda r: case_global(r, 1, 'avg', True, False)),
    ('global_average_pooling1d_channels_first', lambda r: case_global(r, 1, 'avg', False, True)),
    ('global_max_pooling1d_keepdims_channels_first', lambda r: case_global(r, 1, 'max', True, True)),
    ('global_max_pooling2d_keepdims_channels_first', lambda r: case_global(r, 2, 'max', True, True)),
    ('global_average_pooling2d_keepdims', lambda r: case_global(r, 2, 'avg', True, False)),
    ('global_max_pooling3d_keepdims', lambda r: case_global(r, 3, 'max', True, False)),
    ('spatial_dropout2d', lambda r: case_spatial_dropout(r, 2, False)),
    ('spatial_dropout3d_channels_first', lambda r: case_spatial_dropout(r, 3, True)),
    # masks: 'masking' cases put Masking(0) in front (steps of zeros are masked); 'call_mask' ones
    # call the layer with an explicit mask
    ('masking_global_average_pooling1d', 'masking_avg'),
    ('masking_global_max_pooling1d', 'masking_max'),
    ('global_average_pooling1d_call_mask', 'call_mask_avg'),
]


def make_case(name, spec, master_seed):
    seed = fnv1a32(f'strata-torch-reference:{master_seed}:{GROUP}/{name}')
    rng = SplitMix64(seed)
    B = rng.int(1, 4)
    extra = {}
    if isinstance(spec, str):
        T, C = rng.int(3, 8), rng.int(1, 6)
        dims, c, cf = [T], C, False
        x = rng.array((B, T, C), 1.0)
        mask = np.ones((B, T), dtype=bool)
        for b in range(B):
            # at least one kept step per sample (0 / 0 would be NaN, which a fixture cannot hold)
            keep = rng.int(0, T - 1)
            for t in range(T):
                if t != keep and rng.u01() < 0.4:
                    mask[b, t] = False
        kind = 'max' if spec.endswith('max') else 'avg'
        cls = 'GlobalMaxPooling1D' if kind == 'max' else 'GlobalAveragePooling1D'
        gcfg = cfg_global(cls.lower(), False, False)
        if spec.startswith('masking'):
            x[~mask] = 0.0
            mcfg = {**base('masking'), 'mask_value': 0.0}
            layers = [('Masking', mcfg, None), (cls, gcfg, None)]
            desc = (f'Masking(mask_value=0) -> {cls}: steps that are all zeros are masked. Keras 3: '
                    + ('GlobalAveragePooling1D averages only the kept steps (sum over kept / their count); '
                       if kind == 'avg' else
                       'GlobalMaxPooling1D does not support masking (its call takes no mask): the maximum runs over '
                       'every step, the masked zeros included; ')
                    + 'no mask follows the layer.')
        else:
            extra['call_mask'] = {'shape': [B, T], 'data': [int(v) for v in mask.ravel()]}
            layers = [(cls, gcfg, None)]
            desc = (f'{cls} called with an explicit (batch, steps) mask: Keras 3 averages only the kept steps.')
        if kind == 'avg':
            y = global_pool(x, 'avg', False, mask)
        else:
            y = global_pool(x, 'max', False)
        in_dims = [T, C]
    else:
        layers, dims, c, cf, desc = spec(rng)
        in_dims = ([c] + dims) if cf else (dims + [c])
        x = rng.array((B, *in_dims), 1.0)
        y = to_last(x, cf)
        for _, _, fn in layers:
            y = fn(y)
        if layers[0][0].startswith('Global') and not layers[0][1]['keepdims']:
            pass  # (batch, channels): no axis to move back
        else:
            y = from_last(y, cf)
        if layers[0][0] == 'UpSampling2D' and layers[0][1]['interpolation'] == 'bilinear':
            ref = torch_bilinear(to_last(x, cf), layers[0][1]['size'])
            diff = float(np.max(np.abs(from_last(ref, cf) - y)))
            if not diff <= TORCH_TOL:
                raise RuntimeError(f'{name}: numpy bilinear vs torch interpolate differ by {diff}')
            extra['checks'] = {'torch_interpolate': {
                'description': 'numpy half-pixel bilinear vs torch.nn.functional.interpolate(mode="bilinear", '
                               'align_corners=False) in float64', 'tolerance': TORCH_TOL, 'max_abs_diff': diff,
                'passed': True}}
    in_shape = [None, *in_dims]
    entries = [layer_entry(cls, cfg, in_shape) for cls, cfg, _ in layers]
    model_config = sequential(name, in_shape, entries)
    fixture = {
        'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
        'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras3',
        'notes': f'{desc} On input {[B, *in_dims]}, uniform(-1,1) float32 values; output computed in float64 '
                 'with numpy following Keras 3 (TensorFlow backend).',
        'model_config': model_config,
        'layers': [{'name': cfg['name'], 'class_name': cls, 'config': cfg, 'weights': []} for cls, cfg, _ in layers],
        'inputs': [{'label': 'x', 'shape': [B, *in_dims], 'data': F32List(x)}],
        'outputs': [{'label': 'y', 'shape': list(y.shape), 'data': F64List(y)}],
    }
    if 'call_mask' in extra:
        fixture['call_mask'] = extra['call_mask']
    if 'checks' in extra:
        fixture['checks'] = extra['checks']
    if np.max(np.abs(y)) > 10 or not np.all(np.isfinite(y)):
        raise RuntimeError(f'{name}: output out of range')
    return fixture


# ---------------------------------------------------------------------------
# Cross-checks: the numpy rules against tfjs fixtures that compute the same thing
# ---------------------------------------------------------------------------
def tfjs_case(name):
    with open(os.path.join(TFJS_DIR, f'{name}.json'), encoding='utf-8') as f:
        return json.load(f)


def crosscheck_one(name):
    fx = tfjs_case(name)
    layer = fx['layers'][0]
    cls, cfg = layer['class_name'], layer['config']
    x = np.array(fx['inputs'][0]['data'], dtype=np.float64).reshape(fx['inputs'][0]['shape'])
    want = np.array(fx['outputs'][0]['data'], dtype=np.float64).reshape(fx['outputs'][0]['shape'])
    cf = cfg.get('data_format') == 'channels_first'
    xl = to_last(x, cf)
    if 'Pooling' in cls and not cls.startswith('Global'):
        n = xl.ndim - 2
        y = pool(xl, 'max' if cls.startswith('Max') else 'avg', cfg['pool_size'] * (n // len(cfg['pool_size'])),
                 cfg['strides'] * (n // len(cfg['strides'])), cfg['padding'])
    elif cls.startswith('Global'):
        y = global_pool(xl, 'max' if 'Max' in cls else 'avg', False)
    elif cls == 'ZeroPadding2D':
        y = zero_pad(xl, cfg['padding'] if isinstance(cfg['padding'], list) else [[cfg['padding']] * 2] * 2)
    elif cls == 'Cropping2D':
        y = crop(xl, cfg['cropping'])
    elif cls == 'UpSampling2D':
        y = upsample_nearest(xl, cfg['size'])
    else:
        raise RuntimeError(f'no cross-check for {cls}')
    if not (cls.startswith('Global')):
        y = from_last(y, cf)
    diff = float(np.max(np.abs(y - want)))
    if not diff <= CROSS_TOL:
        raise RuntimeError(f'cross-check {name}: numpy vs tfjs differ by {diff}')
    return diff


CROSSCHECKS = ['max_pooling1d_same_strides', 'average_pooling1d_same', 'average_pooling2d_same_strides',
               'average_pooling2d_same_channels_first', 'max_pooling2d_same_strides', 'max_pooling3d_same',
               'average_pooling3d_same', 'average_pooling3d_valid', 'global_average_pooling2d_channels_first',
               'global_max_pooling1d', 'zero_padding2d_sides', 'cropping2d_channels_first', 'up_sampling2d_nearest']


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', GROUP))
    torch.set_num_threads(1)

    cross = {}
    for name in CROSSCHECKS:
        cross[name] = crosscheck_one(name)
        print(f'  cross-check tfjs pooling/{name}: max diff {cross[name]:.3g}')

    out = args.out
    prepare_out_dir(out, GENERATOR)

    entries = [write_case(out, make_case(name, spec, args.seed)) for name, spec in CASES]
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'numpy', 'numpy_version': np.__version__, 'torch_version': torch.__version__,
                 'compute_dtype': 'float64'},
                {'crosschecks_against_tfjs': {'tolerance': CROSS_TOL,
                                              'max_abs_diff': {k: cross[k] for k in CROSSCHECKS}}})


if __name__ == '__main__':
    main()
