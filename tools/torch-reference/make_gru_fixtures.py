#!/usr/bin/python3
"""PyTorch reference fixtures for Keras GRU(reset_after=True).

tfjs (tools/keras-reference) cannot build a GRU with reset_after=True, which is Keras 3's default. PyTorch's
nn.GRU computes exactly that variant, so this script builds the Keras fixtures for it with torch (float64) and
writes them to tests/reference/fixtures_torch/ in the same JSON format as the tfjs fixtures. See README.md.

Usage: /usr/bin/python3 tools/torch-reference/make_gru_fixtures.py [--out DIR] [--seed UINT32]

Mapping (PyTorch gate order r, z, n; Keras gate order z, r, h):
  kernel           (F, 3u) = weight_ih_l0.T  with column blocks reordered (r, z, n) -> (z, r, h)
  recurrent_kernel (u, 3u) = weight_hh_l0.T  reordered likewise
  bias             (2, 3u) : row 0 = bias_ih_l0, row 1 = bias_hh_l0, reordered likewise
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, to_json, write_case, write_index  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_gru_fixtures.py'
GROUP = 'gru_reset_after'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
CROSSCHECK_JSON = os.path.join(HERE, 'gru_crosscheck_keras.json')
NUMPY_TOL = 1e-12


# ---------------------------------------------------------------------------
# Deterministic PRNG: SplitMix64 (the same generator as tools/keras-reference/generate.mjs)
# ---------------------------------------------------------------------------
M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def u01(self):
        return (self.next_u64() >> 11) / 9007199254740992.0

    def int(self, lo, hi):
        return lo + self.next_u64() % (hi - lo + 1)

    def f32(self, scale):
        """float32 value: float32(uniform(-1, 1) * scale), returned as a Python float (exact)."""
        return float(np.float32((2.0 * self.u01() - 1.0) * scale))

    def array(self, shape, scale):
        n = int(np.prod(shape))
        return np.array([self.f32(scale) for _ in range(n)], dtype=np.float64).reshape(shape)


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode('utf-8'):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


# ---------------------------------------------------------------------------
# Gate reordering between PyTorch (r, z, n) and Keras (z, r, h)
# ---------------------------------------------------------------------------
def torch_rows_to_keras_cols(w, u):
    """w: (3u, X) PyTorch rows in r, z, n order -> (X, 3u) Keras columns in z, r, h order."""
    r, z, n = w[0:u], w[u:2 * u], w[2 * u:3 * u]
    return np.concatenate([z, r, n], axis=0).T.copy()


def torch_vec_to_keras(b, u):
    r, z, n = b[0:u], b[u:2 * u], b[2 * u:3 * u]
    return np.concatenate([z, r, n]).copy()


def keras_cols_to_torch_rows(k, u):
    """inverse of torch_rows_to_keras_cols: (X, 3u) z, r, h -> (3u, X) r, z, n."""
    z, r, h = k[:, 0:u], k[:, u:2 * u], k[:, 2 * u:3 * u]
    return np.concatenate([r, z, h], axis=1).T.copy()


def keras_vec_to_torch(b, u):
    z, r, h = b[0:u], b[u:2 * u], b[2 * u:3 * u]
    return np.concatenate([r, z, h]).copy()


# ---------------------------------------------------------------------------
# Reference computations
# ---------------------------------------------------------------------------
def torch_gru(params, x, h0, use_bias):
    """PyTorch nn.GRU (float64, batch_first). params: torch-layout numpy arrays. Returns (seq (B,T,u), h (B,u))."""
    B, T, F = x.shape
    u = params['weight_hh_l0'].shape[1]
    gru = torch.nn.GRU(input_size=F, hidden_size=u, num_layers=1, bias=use_bias, batch_first=True,
                       dtype=torch.float64)
    with torch.no_grad():
        for name, p in gru.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
        h = None if h0 is None else torch.from_numpy(h0).reshape(1, B, u)
        seq, hn = gru(torch.from_numpy(x), h)
    return seq.numpy().copy(), hn[0].numpy().copy()


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def numpy_keras_gru(kernel, rkernel, bias, x, h0, go_backwards):
    """Naive Keras GRU(reset_after=True) equations in float64. Returns (seq in processing order, last h)."""
    B, T, F = x.shape
    u = rkernel.shape[0]
    b0 = bias[0] if bias is not None else np.zeros(3 * u)
    b1 = bias[1] if bias is not None else np.zeros(3 * u)
    W = {g: kernel[:, i * u:(i + 1) * u] for i, g in enumerate('zrh')}
    U = {g: rkernel[:, i * u:(i + 1) * u] for i, g in enumerate('zrh')}
    bi = {g: b0[i * u:(i + 1) * u] for i, g in enumerate('zrh')}
    br = {g: b1[i * u:(i + 1) * u] for i, g in enumerate('zrh')}
    h = np.zeros((B, u)) if h0 is None else h0.copy()
    out = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        xt = x[:, t, :]
        z = sigmoid(xt @ W['z'] + bi['z'] + h @ U['z'] + br['z'])
        r = sigmoid(xt @ W['r'] + bi['r'] + h @ U['r'] + br['r'])
        hh = np.tanh(xt @ W['h'] + bi['h'] + r * (h @ U['h'] + br['h']))
        h = z * h + (1.0 - z) * hh
        out.append(h)
    return np.stack(out, axis=1), h


# ---------------------------------------------------------------------------
# Keras 3 style configs
# ---------------------------------------------------------------------------
def dtype_policy():
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}


def initializer(cls, cfg):
    return {'module': 'keras.initializers', 'class_name': cls, 'config': cfg, 'registered_name': None}


def gru_config(name, units, use_bias, seq, state, back, stateful=False):
    return {
        'name': name, 'trainable': True, 'dtype': dtype_policy(),
        'return_sequences': seq, 'return_state': state, 'go_backwards': back, 'stateful': stateful, 'unroll': False,
        'zero_output_for_mask': False,
        'units': units, 'activation': 'tanh', 'recurrent_activation': 'sigmoid', 'use_bias': use_bias,
        'kernel_initializer': initializer('GlorotUniform', {'seed': None}),
        'recurrent_initializer': initializer('Orthogonal', {'gain': 1.0, 'seed': None}),
        'bias_initializer': initializer('Zeros', {}),
        'kernel_regularizer': None, 'recurrent_regularizer': None, 'bias_regularizer': None,
        'activity_regularizer': None, 'kernel_constraint': None, 'recurrent_constraint': None, 'bias_constraint': None,
        'dropout': 0.0, 'recurrent_dropout': 0.0, 'reset_after': True, 'seed': None,
    }


def layer_entry(class_name, config, input_shape, extra=None):
    e = {'module': 'keras.layers', 'class_name': class_name, 'config': config, 'registered_name': None,
         'build_config': {'input_shape': input_shape}}
    if extra:
        e.update(extra)
    return e


def input_entry(name, batch_shape, functional):
    e = {'module': 'keras.layers', 'class_name': 'InputLayer',
         'config': {'batch_shape': batch_shape, 'dtype': 'float32', 'sparse': False, 'name': name},
         'registered_name': None}
    if functional:
        e['name'] = name
        e['inbound_nodes'] = []
    return e


def keras_tensor(layer, shape):
    return {'class_name': '__keras_tensor__',
            'config': {'shape': shape, 'dtype': 'float32', 'keras_history': [layer, 0, 0]}}


def sequential(name, in_shape, layers):
    return {'module': 'keras', 'class_name': 'Sequential',
            'config': {'name': name, 'trainable': True, 'dtype': dtype_policy(),
                       'layers': [input_entry('input_layer', in_shape, False)] + layers,
                       'build_input_shape': in_shape},
            'registered_name': None, 'build_config': {'input_shape': in_shape}}


def functional(name, inputs, layer, inbound_kwargs, n_outputs):
    """inputs: [(name, batch_shape)]; layer: a layer entry fed by inputs[0] (and kwargs)."""
    layer = dict(layer)
    layer['name'] = layer['config']['name']
    layer['inbound_nodes'] = [{'args': [keras_tensor(inputs[0][0], inputs[0][1])], 'kwargs': inbound_kwargs}]
    return {'module': 'keras', 'class_name': 'Functional',
            'config': {'name': name, 'trainable': True,
                       'layers': [input_entry(n, s, True) for n, s in inputs] + [layer],
                       'input_layers': [[n, 0, 0] for n, _ in inputs],
                       'output_layers': [[layer['name'], 0, i] for i in range(n_outputs)]},
            'registered_name': None, 'build_config': {'input_shape': None}}


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------
CASES = [
    # name, options
    ('gru_ra_last', {}),
    ('gru_ra_seq', {'seq': True}),
    ('gru_ra_state_seq', {'seq': True, 'state': True}),
    ('gru_ra_state_last', {'state': True}),
    ('gru_ra_backwards_seq', {'seq': True, 'back': True}),
    ('gru_ra_backwards_state_last', {'state': True, 'back': True}),
    ('gru_ra_nobias_seq', {'seq': True, 'bias': False}),
    ('gru_ra_init_state_seq', {'seq': True, 'init': True}),
    ('gru_ra_init_state_state_backwards_seq', {'seq': True, 'init': True, 'state': True, 'back': True}),
    ('bidi_gru_ra_concat_seq', {'seq': True, 'bidi': True}),
    ('bidi_gru_ra_concat_last', {'bidi': True}),
    ('gru_ra_edge_t1_u1', {'seq': True, 'fixed': {'time': 1, 'units': 1}}),
    ('gru_ra_large_t20_u16', {'seq': True, 'fixed': {'batch': 2, 'time': 20, 'feat': 6, 'units': 16}}),
    ('gru_crosscheck', {'seq': True, 'crosscheck': True, 'fixed': {'batch': 2, 'time': 6, 'feat': 3, 'units': 4}}),
]


def draw_torch_params(rng, F, u, use_bias, crosscheck):
    """PyTorch-layout parameters, each value a float32; kernels uniform(-1,1)*2/sqrt(fan_in), biases *0.5."""
    p = {'weight_ih_l0': rng.array((3 * u, F), 2.0 / math.sqrt(F)),
         'weight_hh_l0': rng.array((3 * u, u), 2.0 / math.sqrt(u))}
    if use_bias:
        p['bias_ih_l0'] = rng.array((3 * u,), 0.5)
        p['bias_hh_l0'] = rng.array((3 * u,), 0.5)
    if crosscheck:
        # n (= Keras h) block of the recurrent weights and of the recurrent bias zero: reset_after True == False.
        p['weight_hh_l0'][2 * u:3 * u, :] = 0.0
        p['bias_hh_l0'][2 * u:3 * u] = 0.0
        # biases on a 2^-16 grid so that bias_ih + bias_hh is exact in float32 (tfjs gets their sum)
        for k in ('bias_ih_l0', 'bias_hh_l0'):
            p[k] = np.round(p[k] * 65536.0) / 65536.0
    return p


def keras_weights(p, u, use_bias):
    k = torch_rows_to_keras_cols(p['weight_ih_l0'], u)
    rk = torch_rows_to_keras_cols(p['weight_hh_l0'], u)
    b = np.stack([torch_vec_to_keras(p['bias_ih_l0'], u), torch_vec_to_keras(p['bias_hh_l0'], u)]) if use_bias else None
    # the inverse mapping must give the torch parameters back exactly
    assert np.array_equal(keras_cols_to_torch_rows(k, u), p['weight_ih_l0'])
    assert np.array_equal(keras_cols_to_torch_rows(rk, u), p['weight_hh_l0'])
    if use_bias:
        assert np.array_equal(keras_vec_to_torch(b[0], u), p['bias_ih_l0'])
        assert np.array_equal(keras_vec_to_torch(b[1], u), p['bias_hh_l0'])
    return k, rk, b


def weight_list(prefix, k, rk, b):
    w = [{'name': f'{prefix}/kernel', 'shape': list(k.shape), 'data': F32List(k)},
         {'name': f'{prefix}/recurrent_kernel', 'shape': list(rk.shape), 'data': F32List(rk)}]
    if b is not None:
        w.append({'name': f'{prefix}/bias', 'shape': list(b.shape), 'data': F32List(b)})
    return w


def run_direction(p, x, h0, use_bias, back):
    """Keras semantics of one GRU direction: go_backwards consumes reversed x; the sequence stays in processing order."""
    xin = np.ascontiguousarray(x[:, ::-1, :]) if back else x
    return torch_gru(p, xin, h0, use_bias)


def make_case(name, o, master_seed):
    seed = fnv1a32(f'strata-torch-reference:{master_seed}:{GROUP}/{name}')
    rng = SplitMix64(seed)
    fx = o.get('fixed', {})
    B = fx['batch'] if 'batch' in fx else rng.int(1, 4)
    T = fx['time'] if 'time' in fx else rng.int(1, 7)
    F = fx['feat'] if 'feat' in fx else rng.int(1, 6)
    u = fx['units'] if 'units' in fx else rng.int(1, 8)
    seq, state, back = o.get('seq', False), o.get('state', False), o.get('back', False)
    use_bias, init, bidi = o.get('bias', True), o.get('init', False), o.get('bidi', False)

    p = draw_torch_params(rng, F, u, use_bias, o.get('crosscheck', False))
    pb = draw_torch_params(rng, F, u, use_bias, False) if bidi else None
    x = rng.array((B, T, F), 1.0)
    h0 = rng.array((B, u), 1.0) if init else None

    k, rk, b = keras_weights(p, u, use_bias)
    seqf, hf = run_direction(p, x, h0, use_bias, back)
    # self-check: the naive numpy Keras reset_after=True equations with the mapped (Keras-order) weights
    nseq, nh = numpy_keras_gru(k, rk, b, x, h0, back)
    diff = max(np.max(np.abs(nseq - seqf)), np.max(np.abs(nh - hf)))
    if bidi:
        kb, rkb, bb = keras_weights(pb, u, use_bias)
        seqb, hb = run_direction(pb, x, None, use_bias, True)
        nseqb, nhb = numpy_keras_gru(kb, rkb, bb, x, None, True)
        diff = max(diff, np.max(np.abs(nseqb - seqb)), np.max(np.abs(nhb - hb)))
    if not diff <= NUMPY_TOL:
        raise RuntimeError(f'{name}: torch vs numpy Keras equations differ by {diff}')

    in_shape = [None, T, F]
    if bidi:
        fcfg = gru_config('forward_gru', u, use_bias, seq, False, False)
        bcfg = gru_config('backward_gru', u, use_bias, seq, False, True)
        cfg = {'name': 'bidirectional', 'trainable': True, 'dtype': dtype_policy(), 'merge_mode': 'concat',
               'layer': layer_entry('GRU', fcfg, in_shape), 'backward_layer': layer_entry('GRU', bcfg, in_shape)}
        entry = layer_entry('Bidirectional', cfg, in_shape)
        model_config = sequential(name, in_shape, [entry])
        layers = [{'name': 'bidirectional', 'class_name': 'Bidirectional', 'config': cfg,
                   'weights': weight_list('bidirectional/forward_gru', k, rk, b) +
                   weight_list('bidirectional/backward_gru', kb, rkb, bb)}]
        y = np.concatenate([seqf, seqb[:, ::-1, :]], axis=2) if seq else np.concatenate([hf, hb], axis=1)
        outputs = [('y', y)]
        desc = (f'Bidirectional(GRU(units={u}, activation=tanh, recurrent_activation=sigmoid, reset_after=true, '
                f'return_sequences={str(seq).lower()}), merge_mode=concat) on input [{B},{T},{F}]. The forward GRU runs '
                'on x; the backward GRU (its own weights, listed after the forward ones) runs on reverse(x, axis=1) '
                '(Keras go_backwards) and, with return_sequences, its sequence is flipped back to input order before '
                'the concatenation [forward, backward] on the last axis. Each direction is one torch nn.GRU.')
    else:
        cfg = gru_config('gru', u, use_bias, seq, state, back)
        entry = layer_entry('GRU', cfg, in_shape)
        n_out = 2 if state else 1
        if init:
            model_config = functional(name, [('x', in_shape), ('h0', [None, u])], entry,
                                      {'initial_state': [keras_tensor('h0', [None, u])]}, n_out)
        elif state:
            model_config = functional(name, [('x', in_shape)], entry, {}, n_out)
        else:
            model_config = sequential(name, in_shape, [entry])
        layers = [{'name': 'gru', 'class_name': 'GRU', 'config': cfg, 'weights': weight_list('gru', k, rk, b)}]
        out = seqf if seq else hf
        outputs = [('output', out), ('h', hf)] if state else [('y', out)]
        desc = (f'GRU(units={u}, activation=tanh, recurrent_activation=sigmoid, use_bias={str(use_bias).lower()}, '
                f'reset_after=true, return_sequences={str(seq).lower()}, return_state={str(state).lower()}, '
                f'go_backwards={str(back).lower()}) on input [{B},{T},{F}]'
                + (', called with initial_state=[h0] (functional model, inputs [x, h0], h0 uniform(-1,1))' if init else '')
                + '.' + (' Outputs are [output, h].' if state else '')
                + (' go_backwards: torch is fed reverse(x, axis=1); the output sequence is in PROCESSING order '
                   '(output[:,0] belongs to input step T-1), not flipped back.' if back else ''))
    if o.get('crosscheck'):
        desc += (' CROSS-CHECK case: the h block of the recurrent kernel and the h part of the recurrent bias (row 1) '
                 'are zero, so reset_after=true and reset_after=false coincide; the tfjs fixture '
                 'gru/gru_torch_crosscheck runs the same numbers through a tfjs GRU(reset_after=false) with '
                 'bias = bias[0] + bias[1]. Biases are on a 2^-16 grid so that sum is exact in float32.')
    desc += (' Kernels uniform(-1,1)*2/sqrt(fan_in), biases uniform(-1,1)*0.5, inputs uniform(-1,1), all float32 '
             'values; outputs computed by torch.nn.GRU in float64.')
    for _, v in outputs:
        if np.max(np.abs(v)) > 10:
            raise RuntimeError(f'{name}: |output| > 10')

    inputs = [('x', x)] + ([('h0', h0)] if init else [])
    fixture = {
        'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
        'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64',
        'keras_semantics': 'keras3',
        'notes': desc,
        'model_config': model_config,
        'layers': layers,
        'inputs': [{'label': lab, 'shape': list(v.shape), 'data': F32List(v)} for lab, v in inputs],
        'outputs': [{'label': lab, 'shape': list(v.shape), 'data': F64List(v)} for lab, v in outputs],
        'checks': {'numpy_keras_equations': {
            'description': 'torch output vs a naive numpy float64 implementation of the Keras reset_after=True '
                           'equations using the Keras-order weights of this fixture',
            'tolerance': NUMPY_TOL, 'passed': True}},
    }
    cross = None
    if o.get('crosscheck'):
        cross = {
            'description': 'Keras-order weights, input and float64 output of fixtures_torch/gru_crosscheck.json, read '
                           'by tools/keras-reference/generate.mjs to build gru/gru_torch_crosscheck (tfjs, reset_after=false, '
                           'bias = bias[0] + bias[1]). Written by ' + GENERATOR + '.',
            'torch_fixture': f'{name}.json', 'units': u, 'return_sequences': seq,
            'kernel': {'shape': list(k.shape), 'data': F32List(k)},
            'recurrent_kernel': {'shape': list(rk.shape), 'data': F32List(rk)},
            'bias': {'shape': list(b.shape), 'data': F32List(b)},
            'x': {'shape': list(x.shape), 'data': F32List(x)},
            'y': {'shape': list(outputs[0][1].shape), 'data': F64List(outputs[0][1])},
        }
    return fixture, cross, diff


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch'))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    out = args.out
    prepare_out_dir(out, GENERATOR)

    entries = []
    for name, o in CASES:
        fixture, cross, diff = make_case(name, o, args.seed)
        entries.append(write_case(out, fixture))
        if cross is not None:
            with open(CROSSCHECK_JSON, 'w', encoding='utf-8', newline='\n') as f:
                f.write(to_json(cross) + '\n')
        print(f'  {name}: numpy check max diff {diff:.3g}')
    write_index(out, GENERATOR, args.seed, entries,
                {'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
