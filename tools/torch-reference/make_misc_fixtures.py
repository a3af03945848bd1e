#!/usr/bin/python3
"""numpy reference fixtures for the misc layer family (what tfjs 4.22 lacks or does differently).

Keras 3 layers that TensorFlow.js cannot build -- Identity, Normalization (the preprocessing layer),
Rescaling with array scale/offset, CategoryEncoding shapes beyond rank 2, the image augmentation
layers that are the identity at inference, SpatialDropout2D -- computed here with numpy in float64
from Keras 3's formulas (keras/src/layers/preprocessing/*.py, Keras 3.16), written to
tests/reference/fixtures_torch/misc/ in the format of the tfjs fixtures. See README.md.

Usage: /usr/bin/python3 tools/torch-reference/make_misc_fixtures.py [--out DIR] [--seed UINT32]

Weights (Keras get_weights() order): Normalization after adapt() holds mean (kept shape), variance
(kept shape) and count (an int64 scalar in Keras). strata holds Keras' scalar weights as shape (1,),
so count -- and mean/variance with axis=None -- are written with shape [1] here.
"""

import os
import sys

import numpy as np

from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, dtype_policy, fnv1a32, input_entry, initializer  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_misc_fixtures.py'
FAMILY = 'misc'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
EPSILON = 1e-7  # Keras' backend epsilon


# ---------------------------------------------------------------------------
# Keras 3 configs
# ---------------------------------------------------------------------------
def base(name):
    return {'name': name, 'trainable': True, 'dtype': dtype_policy()}


def entry(class_name, config):
    return {'module': 'keras.layers', 'class_name': class_name, 'config': config, 'registered_name': None}


def sequential(name, in_shape, layers):
    return {'module': 'keras', 'class_name': 'Sequential',
            'config': {'name': name, 'trainable': True, 'dtype': dtype_policy(),
                       'layers': [input_entry('input_layer', in_shape, False)] + layers,
                       'build_input_shape': in_shape},
            'registered_name': None, 'build_config': {'input_shape': in_shape}}


def dense_config(name, units, activation='linear'):
    c = base(name)
    c.update({'units': units, 'activation': activation, 'use_bias': True,
              'kernel_initializer': initializer('GlorotUniform', {'seed': None}),
              'bias_initializer': initializer('Zeros', {}), 'kernel_regularizer': None, 'bias_regularizer': None,
              'kernel_constraint': None, 'bias_constraint': None})
    return c


def numpy_array(values):
    """A numpy array as Keras 3's serialize_keras_object writes it."""
    return {'class_name': '__numpy__', 'config': {'value': np.asarray(values).tolist(), 'dtype': 'float32'}}


# ---------------------------------------------------------------------------
# Reference computations (float64)
# ---------------------------------------------------------------------------
def dense(x, k, b, activation='linear'):
    y = x @ k + b
    if activation == 'tanh':
        y = np.tanh(y)
    return y


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_seq(x, k, rk, b):
    """Keras LSTM (tanh, sigmoid; gate blocks i, f, c, o), return_sequences, no mask, zero state."""
    B, T, _ = x.shape
    u = rk.shape[0]
    h, c, out = np.zeros((B, u)), np.zeros((B, u)), []
    for t in range(T):
        z = x[:, t, :] @ k + h @ rk + b
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def normalization(x, mean, variance, keep, invert=False):
    """Keras 3 Normalization.call with mean/variance already of the kept shape (kept axes in order)."""
    bshape = [x.shape[d] if d in keep else 1 for d in range(x.ndim)]
    m = np.reshape(mean, bshape)
    d = np.maximum(np.sqrt(np.reshape(variance, bshape)), EPSILON)
    return m + x * d if invert else (x - m) / d


def expand_config_stat(stat, x_shape, keep):
    """Keras 3.16 Normalization.build: a config mean aligned on the kept axes from the right."""
    stat = np.asarray(stat, dtype=np.float64)
    ndim = len(x_shape)
    bshape = [x_shape[d] if d in keep else 1 for d in range(ndim)]
    if stat.ndim == 0:
        return np.broadcast_to(stat, bshape)
    expanded = [1] * ndim
    for i in range(1, stat.ndim + 1):
        expanded[keep[-i]] = stat.shape[-i]
    return np.broadcast_to(np.reshape(stat, expanded), bshape)


def one_hot(ids, n):
    ids = ids.astype(np.int64)
    return (ids[..., None] == np.arange(n)).astype(np.float64)


def category_encoding(ids, n, mode):
    """Keras 3 numerical_utils.encode_categorical_inputs (numpy backend) for one_hot, multi_hot, count."""
    if mode == 'one_hot':
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids.reshape(ids.shape[:-1])
        return one_hot(ids, n)
    axis = 1 if ids.ndim > 1 else 0
    oh = one_hot(ids, n)
    return np.max(oh, axis=axis) if mode == 'multi_hot' else np.sum(oh, axis=axis)


# ---------------------------------------------------------------------------
# Cases: each returns (notes, in_shape (config batch shape), layers [(class, config, weights)], x, y)
# ---------------------------------------------------------------------------
def f32(v):
    """Rounded to float32 (weights and inputs are float32 values), kept as float64."""
    return np.asarray(v, dtype=np.float32).astype(np.float64)


def ids(rng, shape, n):
    return np.array([rng.int(0, n - 1) for _ in range(int(np.prod(shape)))], dtype=np.float64).reshape(shape)


def w(name, arr):
    return {'name': name, 'shape': list(np.shape(arr)), 'data': F32List(arr)}


def case_identity_rank3(rng):
    B, T, F = rng.int(2, 4), rng.int(2, 5), rng.int(2, 5)
    x = rng.array((B, T, F), 1.0)
    return (f'Identity() alone on [{B},{T},{F}]: the output is the input.', [None, T, F],
            [('Identity', base('identity'), [])], [x], [x])


def case_augmentation_identity_dense(rng):
    B, H, W, C, U = rng.int(1, 3), rng.int(2, 4), rng.int(2, 4), rng.int(1, 3), rng.int(1, 5)
    x = rng.array((B, H, W, C), 1.0)
    k, b = rng.array((C, U), 2.0 / np.sqrt(C)), rng.array((U,), 0.5)
    flip = base('random_flip')
    flip.update({'mode': 'horizontal_and_vertical', 'seed': None, 'data_format': 'channels_last'})
    drop = base('spatial_dropout2d')
    drop.update({'rate': 0.5, 'seed': None, 'noise_shape': None, 'data_format': 'channels_last'})
    contrast = base('random_contrast')
    contrast.update({'factor': 0.3, 'value_range': [0, 255], 'seed': None, 'data_format': 'channels_last'})
    y = dense(x, k, b)
    return (f'RandomFlip -> SpatialDropout2D(0.5) -> RandomContrast(0.3) -> Dense({U}) on images [{B},{H},{W},{C}]: at '
            'inference (training=False) Keras 3 returns the images unchanged from all three, so y = Dense(x). Kernel '
            'uniform(-1,1)*2/sqrt(fan_in), bias uniform(-1,1)*0.5.', [None, H, W, C],
            [('RandomFlip', flip, []), ('SpatialDropout2D', drop, []), ('RandomContrast', contrast, []),
             ('Dense', dense_config('dense', U), [w('dense/kernel', k), w('dense/bias', b)])], [x], [y])


def case_rescaling_per_channel(rng):
    B, H, W, C = rng.int(1, 3), rng.int(2, 4), rng.int(2, 4), rng.int(2, 4)
    x = rng.array((B, H, W, C), 255.0)
    scale = np.array([rng.f32(0.02) for _ in range(C)])
    offset = np.array([rng.f32(1.0) for _ in range(C)])
    cfg = base('rescaling')
    cfg.update({'scale': numpy_array(scale.astype(np.float32)), 'offset': numpy_array(offset.astype(np.float32))})
    y = x * scale + offset
    return (f'Rescaling(scale=<array ({C},)>, offset=<array ({C},)>) on images [{B},{H},{W},{C}]: per-channel scale and '
            'offset, serialised as Keras 3 writes numpy arrays ({"class_name": "__numpy__", ...}), broadcast over the '
            'last axis. Inputs uniform(-1,1)*255.', [None, H, W, C], [('Rescaling', cfg, [])], [x], [y])


def case_rescaling_list_rank2_scalar_offset(rng):
    B, T, F = rng.int(1, 3), rng.int(2, 4), rng.int(2, 4)
    x = rng.array((B, T, F), 4.0)
    scale = np.array([[rng.f32(2.0)] for _ in range(T)])  # (T, 1)
    cfg = base('rescaling')
    cfg.update({'scale': scale.tolist(), 'offset': 0.25})
    y = x * scale + 0.25
    return (f'Rescaling(scale=<nested list ({T}, 1)>, offset=0.25) on [{B},{T},{F}]: the scale broadcasts over the '
            'batch and the last axis (numpy rule, aligned on the last axes).', [None, T, F],
            [('Rescaling', cfg, [])], [x], [y])


def norm_config(name, axis, mean=None, variance=None, invert=False):
    c = base(name)
    c.update({'axis': axis, 'invert': invert, 'mean': mean, 'variance': variance})
    return c


def case_normalization_adapted_last_axis_dense(rng):
    B, T, F, U = rng.int(2, 4), rng.int(2, 5), rng.int(2, 5), rng.int(1, 4)
    x = rng.array((B, T, F), 3.0)
    mean = rng.array((F,), 1.0)
    var = f32(np.abs(rng.array((F,), 2.0)) + 0.25)
    count = np.array([float(rng.int(10, 1000))])
    k, b = rng.array((F, U), 2.0 / np.sqrt(F)), rng.array((U,), 0.5)
    y = dense(normalization(x, mean, var, [2]), k, b, 'tanh')
    return (f'Normalization(axis=-1) after adapt(): weights mean ({F},), variance ({F},), count (Keras: a scalar; here '
            f'[1]) -> Dense({U}, tanh), on [{B},{T},{F}]. y = tanh(((x - mean) / max(sqrt(variance), 1e-7)) @ K + b).',
            [None, T, F],
            [('Normalization', norm_config('normalization', [-1]),
              [w('normalization/mean', mean), w('normalization/variance', var), w('normalization/count', count)]),
             ('Dense', dense_config('dense', U, 'tanh'), [w('dense/kernel', k), w('dense/bias', b)])], [x], [y])


def case_normalization_adapted_axis1_epsilon(rng):
    B, T, F = rng.int(2, 4), rng.int(3, 5), rng.int(2, 4)
    x = rng.array((B, T, F), 2.0)
    mean = rng.array((T,), 1.0)
    var = f32(np.abs(rng.array((T,), 2.0)) + 0.25)
    # step 1: variance 0, so the denominator is epsilon; its inputs are mean + m * 2^-23 (exact in float32)
    mean[1], var[1] = 0.5, 0.0
    for bb in range(B):
        for f in range(F):
            x[bb, 1, f] = 0.5 + rng.int(-3, 3) * 2.0 ** -23
    count = np.array([float(rng.int(10, 1000))])
    y = normalization(x, mean, var, [1])
    return (f'Normalization(axis=1) after adapt() on [{B},{T},{F}]: statistics per time step, weights mean ({T},), '
            f'variance ({T},), count [1]. Step 1 has variance 0, so its denominator is epsilon = 1e-7 (Keras: '
            'max(sqrt(variance), epsilon)); its inputs are 0.5 + m*2^-23, m in -3..3, and its mean 0.5.', [None, T, F],
            [('Normalization', norm_config('normalization', [1]),
              [w('normalization/mean', mean), w('normalization/variance', var), w('normalization/count', count)])],
            [x], [y])


def case_normalization_axis_none_invert(rng):
    B, F = rng.int(2, 4), rng.int(2, 6)
    x = rng.array((B, F), 1.0)
    mean = np.array([rng.f32(2.0)])
    var = f32([abs(rng.f32(3.0)) + 0.5])
    count = np.array([float(rng.int(10, 1000))])
    y = mean[0] + x * max(np.sqrt(var[0]), EPSILON)
    return (f'Normalization(axis=None, invert=True) after adapt() on [{B},{F}]: one mean and variance for all values '
            '(Keras: scalars; here [1]), inverted: y = mean + x * max(sqrt(variance), 1e-7).', [None, F],
            [('Normalization', norm_config('normalization', [], invert=True),
              [w('normalization/mean', mean), w('normalization/variance', var), w('normalization/count', count)])],
            [x], [y])


def case_normalization_config_scalar(rng):
    B, F = rng.int(2, 4), rng.int(2, 6)
    x = rng.array((B, F), 5.0)
    y = (x - 3.0) / np.sqrt(2.0)
    return (f'Normalization(mean=3.0, variance=2.0) (Keras 3: statistics in the config, no weights) on [{B},{F}].',
            [None, F], [('Normalization', norm_config('normalization', [-1], 3.0, 2.0), [])], [x], [y])


def case_normalization_config_axes12_partial(rng):
    B, a, b, c = rng.int(1, 3), rng.int(2, 4), rng.int(2, 4), rng.int(2, 4)
    if b == c:
        c += 1  # a mean aligned on the wrong axis would not even broadcast
    x = rng.array((B, a, b, c), 2.0)
    mean = [rng.f32(1.0) for _ in range(b)]
    var = [float(f32(abs(rng.f32(2.0)) + 0.1)) for _ in range(b)]
    keep = [1, 2]
    m = expand_config_stat(mean, x.shape, keep)
    v = expand_config_stat(var, x.shape, keep)
    y = (x - m) / np.maximum(np.sqrt(v), EPSILON)
    return (f'Normalization(axis=(1, 2), mean=<list ({b},)>, variance=<list ({b},)>, invert=False) on [{B},{a},{b},{c}]: '
            'Keras 3.16 aligns a config mean of fewer axes with the kept axes from the right, so the ({b},) list '
            'varies along axis 2 and is broadcast along axes 0, 1 and 3 (numpy broadcasting would align it with the '
            'last axis instead).', [None, a, b, c],
            [('Normalization', norm_config('normalization', [1, 2], mean, var), [])], [x], [y])


def lstm_config(name, units):
    c = base(name)
    c.update({'return_sequences': True, 'return_state': False, 'go_backwards': False, 'stateful': False,
              'unroll': False, 'zero_output_for_mask': False, 'units': units, 'activation': 'tanh',
              'recurrent_activation': 'sigmoid', 'use_bias': True,
              'kernel_initializer': initializer('GlorotUniform', {'seed': None}),
              'recurrent_initializer': initializer('Orthogonal', {'gain': 1.0, 'seed': None}),
              'bias_initializer': initializer('Zeros', {}), 'unit_forget_bias': True,
              'kernel_regularizer': None, 'recurrent_regularizer': None, 'bias_regularizer': None,
              'activity_regularizer': None, 'kernel_constraint': None, 'recurrent_constraint': None,
              'bias_constraint': None, 'dropout': 0.0, 'recurrent_dropout': 0.0, 'seed': None})
    return c


def case_masking_permute_lstm(rng):
    B, T, F, U = 4, rng.int(3, 6), rng.int(1, 4), rng.int(1, 5)
    x = rng.array((B, T, F), 1.0)
    zero_steps = [[0, 1], [2], [], [1, 2]]
    for b in range(B):
        for t in zero_steps[b]:
            x[b, t, :] = 0.0
    k, rk, bias = rng.array((F, 4 * U), 2.0 / np.sqrt(F)), rng.array((U, 4 * U), 2.0 / np.sqrt(U)), rng.array((4 * U,), 0.5)
    masking = base('masking')
    masking.update({'mask_value': 0.0})
    permute = base('permute')
    permute.update({'dims': [1, 2]})
    # Masking zeroes the masked steps (already 0 here); Permute drops the mask, so the LSTM runs
    # every step: the expected output is that of an LSTM without a mask.
    y = lstm_seq(x, k, rk, bias)
    return (f'Masking(0.0) -> Permute((1, 2)) -> LSTM({U}, return_sequences=True) on [{B},{T},{F}] whose steps '
            f'{zero_steps} (per sample) are all 0: Keras 3\'s Permute does not support masking, so the mask stops there '
            '(Keras warns) and the LSTM runs every step -- at a zeroed step it does not carry its previous output. '
            '(tfjs predict keeps handing the mask on; see tools/keras-reference/README.md item 40.) Kernels '
            'uniform(-1,1)*2/sqrt(fan_in), bias uniform(-1,1)*0.5; LSTM gate blocks i, f, c, o.', [None, T, F],
            [('Masking', masking, []), ('Permute', permute, []),
             ('LSTM', lstm_config('lstm', U),
              [w('lstm/kernel', k), w('lstm/recurrent_kernel', rk), w('lstm/bias', bias)])], [x], [y])


def ce_config(n, mode):
    c = base('category_encoding')
    c.update({'num_tokens': n, 'output_mode': mode, 'sparse': False})
    return c


def case_category_one_hot_rank2(rng):
    B, T, N = rng.int(2, 4), rng.int(2, 5), rng.int(2, 6)
    x = ids(rng, (B, T), N)
    return (f'CategoryEncoding(num_tokens={N}, output_mode=one_hot) on ids [{B},{T}] in [0, {N}): Keras 3 appends an '
            f'axis, [{B},{T},{N}] (tfjs refuses outputs of rank 3).', [None, T],
            [('CategoryEncoding', ce_config(N, 'one_hot'), [])], [x], [category_encoding(x, N, 'one_hot')])


def case_category_one_hot_rank3_last1(rng):
    B, T, N = rng.int(2, 4), rng.int(2, 5), rng.int(2, 6)
    x = ids(rng, (B, T, 1), N)
    return (f'CategoryEncoding(num_tokens={N}, output_mode=one_hot) on ids [{B},{T},1]: a last axis of size 1 is '
            f'replaced, [{B},{T},{N}].', [None, T, 1],
            [('CategoryEncoding', ce_config(N, 'one_hot'), [])], [x], [category_encoding(x, N, 'one_hot')])


def case_category_multi_hot_rank1(rng):
    B, N = rng.int(3, 6), rng.int(2, 6)
    x = ids(rng, (B,), N)
    return (f'CategoryEncoding(num_tokens={N}, output_mode=multi_hot) on a rank-1 input of {B} ids: Keras 3 treats the '
            f'last (here the only) axis as the sample, so the output is one multi-hot vector [{N}].', [None],
            [('CategoryEncoding', ce_config(N, 'multi_hot'), [])], [x], [category_encoding(x, N, 'multi_hot')])


def case_category_count_binary_alias(rng):
    B, T, N = rng.int(2, 4), rng.int(3, 7), rng.int(2, 4)
    x = ids(rng, (B, T), N)
    return (f'CategoryEncoding(num_tokens={N}, output_mode="binary") (Keras\' old name of multi_hot) on ids [{B},{T}].',
            [None, T], [('CategoryEncoding', ce_config(N, 'binary'), [])], [x], [category_encoding(x, N, 'multi_hot')])


CASES = [
    ('identity_rank3', case_identity_rank3),
    ('masking_permute_lstm_mask_dropped', case_masking_permute_lstm),
    ('augmentation_identity_dense', case_augmentation_identity_dense),
    ('rescaling_per_channel_numpy', case_rescaling_per_channel),
    ('rescaling_list_rank2_scalar_offset', case_rescaling_list_rank2_scalar_offset),
    ('normalization_adapted_last_axis_dense', case_normalization_adapted_last_axis_dense),
    ('normalization_adapted_axis1_epsilon', case_normalization_adapted_axis1_epsilon),
    ('normalization_axis_none_invert', case_normalization_axis_none_invert),
    ('normalization_config_scalar', case_normalization_config_scalar),
    ('normalization_config_axes12_partial', case_normalization_config_axes12_partial),
    ('category_encoding_one_hot_rank2', case_category_one_hot_rank2),
    ('category_encoding_one_hot_rank3_last1', case_category_one_hot_rank3_last1),
    ('category_encoding_multi_hot_rank1', case_category_multi_hot_rank1),
    ('category_encoding_binary_alias', case_category_count_binary_alias),
]


def make_case(name, fn, master_seed):
    seed = fnv1a32(f'strata-numpy-reference:{master_seed}:{FAMILY}/{name}')
    rng = SplitMix64(seed)
    notes, in_shape, layer_list, xs, ys = fn(rng)
    entries, layers = [], []
    for cls, cfg, weights in layer_list:
        e = entry(cls, cfg)
        e['build_config'] = {'input_shape': in_shape}
        entries.append(e)
        layers.append({'name': cfg['name'], 'class_name': cls, 'config': cfg, 'weights': weights})
    for y in ys:
        if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > 10:
            raise RuntimeError(f'{name}: output not finite or above 10')
    return {
        'format_version': FORMAT_VERSION, 'name': name, 'group': FAMILY, 'seed': seed,
        'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras3',
        'notes': notes + ' Inputs are float32 values; outputs computed with numpy in float64.',
        'model_config': sequential(name, in_shape, entries),
        'layers': layers,
        'inputs': [{'label': 'x', 'shape': list(x.shape), 'data': F32List(x)} for x in xs],
        'outputs': [{'label': 'y', 'shape': list(y.shape), 'data': F64List(y)} for y in ys],
    }


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', FAMILY))
    out = args.out
    prepare_out_dir(out, GENERATOR)
    entries = [write_case(out, make_case(name, fn, args.seed)) for name, fn in CASES]
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'numpy', 'numpy_version': np.__version__, 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
