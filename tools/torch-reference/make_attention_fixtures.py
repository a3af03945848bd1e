"""PyTorch float64 reference fixtures for Keras 3's EinsumDense and MultiHeadAttention.

TF.js 4.22 ships these layers only as unexported classes whose MultiHeadAttention cannot be used in
a model (its call receives the input list as the query), whose einsum has no ellipsis, and which
ignore the key's mask; so Keras 3's semantics are transcribed here in float64 PyTorch:
  - EinsumDense (keras/src/layers/core/einsum_dense.py): torch.einsum(equation, x, kernel) + bias,
    with Keras' bias shape (from the first bias label of the output to its end, 1 on the unbiased
    labels, one 1 per right-ellipsis axis) broadcast numpy-style, then the activation.
  - MultiHeadAttention (keras/src/layers/attention/multi_head_attention.py): the projections are
    EinsumDense `abc,cde->abde` (query/key/value kernels (F, N, H)) and `abcd,cde->abe` (output
    kernel (N, Hv, O)), computed with torch.einsum; the scores are softmax((q / sqrt(key_dim)) k^T
    + mask) with Keras' Softmax masking constant (-1e9 where the combined mask is false), the
    context scores . v. (This torch has no scaled_dot_product_attention; the unmasked rank-3
    computation is checked against torch.nn.MultiheadAttention below instead.)
    Keras' _compute_attention_mask: query mask [B,T,1] & value mask [B,1,S] & key mask [B,1,S] &
    causal lower triangle & the explicit attention_mask. Query/value masks come from a Masking
    layer in the model graph (rows of zeros).
Weight mapping to torch.nn.MultiheadAttention (the cross-check case): in_proj_weight rows
[Wq; Wk; Wv] = query/key/value kernels reshaped to (F, N*H) and transposed; out_proj.weight =
output kernel reshaped to (N*Hv, O) and transposed; biases flattened. Each case's model_config is a
Keras 3 functional config with the call's keyword arguments as Keras writes them.

Usage: /usr/bin/python3 tools/torch-reference/make_attention_fixtures.py [--out DIR] [--seed UINT32]
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, fnv1a32  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_attention_fixtures.py'
GROUP = 'attention'
KERAS_VERSION = '3.10.0'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
LARGE_NEGATIVE = -1e9


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def policy():
    return {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'}, 'registered_name': None}


def init(cls):
    return {'module': 'keras.initializers', 'class_name': cls, 'config': {'seed': None}, 'registered_name': None}


def keras_bias_shape(eq, bias_axes, x_shape, y_shape):
    lhs, z = eq.split('->')
    xi = lhs.split(',')[0]
    zl = z.replace('...', '')
    el = len(x_shape) - len(xi.replace('...', ''))
    off = el if z.startswith('...') else 0
    first = min(zl.find(c) for c in bias_axes)
    shape = [y_shape[off + i] if c in bias_axes else 1 for i, c in enumerate(zl) if i >= first]
    if z.endswith('...'):
        shape += [1] * el
    return shape


class Graph:
    def __init__(self, name, rng):
        self.name, self.rng = name, rng
        self.layers, self.weights, self.inputs, self.values, self.masks = [], [], [], {}, {}
        self.float32 = {}  # outputs whose float32 result differs from float64's beyond rounding

    def ref(self, lname, k=0):
        return {'class_name': '__keras_tensor__', 'config': {'shape': None, 'dtype': 'float32',
                                                              'keras_history': [lname, 0, k]}}

    def input(self, name, value, dtype='float32'):
        self.layers.append({'module': 'keras.layers', 'class_name': 'InputLayer',
                            'config': {'batch_shape': [None] + list(value.shape[1:]), 'dtype': dtype,
                                       'sparse': False, 'name': name},
                            'registered_name': None, 'name': name, 'inbound_nodes': []})
        self.inputs.append((name, value))
        self.values[name] = t64(value)
        self.masks[name] = None
        return name

    def add_layer(self, cls, name, cfg, args, kwargs, weights):
        base = {'name': name, 'trainable': True, 'dtype': policy()}
        base.update(cfg)
        node_kwargs = {k: (self.ref(v) if isinstance(v, str) else v) for k, v in kwargs.items()}
        self.layers.append({'module': 'keras.layers', 'class_name': cls, 'config': base, 'registered_name': None,
                            'build_config': {'input_shape': None}, 'name': name,
                            'inbound_nodes': [{'args': [self.ref(a) for a in args], 'kwargs': node_kwargs}]})
        self.weights.append({'name': name, 'class_name': cls, 'config': dict(base),
                             'weights': [{'name': f'{name}/{n}', 'shape': list(v.shape), 'data': F32List(v)}
                                         for n, v in weights]})
        return self.weights[-1]

    def record_shapes(self, entry, outs):
        """The layer's output shapes with the batch as None (what tools/keras-files reads)."""
        entry['output_shapes'] = [[None] + list(self.values[o].shape[1:]) for o in outs]

    def masking(self, x, name):
        entry = self.add_layer('Masking', name, {'mask_value': 0.0}, [x], {}, [])
        v = self.values[x]
        keep = torch.any(v != 0.0, dim=-1)
        self.values[name] = v * keep[..., None]
        self.record_shapes(entry, [name])
        self.masks[name] = keep
        return name

    def einsum_dense(self, x, name, eq, output_shape, bias_axes, activation='linear', w_scale=2.0):
        xv = self.values[x]
        lhs, z = eq.split('->')
        xi, wi = lhs.split(',')
        xl = xi.replace('...', '')
        el = xv.dim() - len(xl)
        off = el if xi.startswith('...') else 0
        sizes = {c: xv.shape[off + i] for i, c in enumerate(xl)}
        zl = z.replace('...', '')
        for i, c in enumerate(zl):
            idx = i if xi.startswith('...') else i - 1
            if idx >= 0 and output_shape[idx] is not None:
                sizes.setdefault(c, output_shape[idx])
        kshape = [sizes[c] for c in wi]
        fan_in = int(np.prod([sizes[c] for c in wi if c in xl])) or 1
        kernel = self.rng.array(tuple(kshape), w_scale / math.sqrt(fan_in))
        y = torch.einsum(eq, xv, t64(kernel))
        weights = [('kernel', kernel)]
        if bias_axes:
            bias = self.rng.array(tuple(keras_bias_shape(eq, bias_axes, list(xv.shape), list(y.shape))), 0.5)
            y = y + t64(bias)
            weights.append(('bias', bias))
        if activation == 'tanh':
            y = torch.tanh(y)
        elif activation == 'relu':
            y = torch.relu(y)
        elif activation == 'softmax':
            y = torch.softmax(y, dim=-1)
        cfg = {'equation': eq, 'output_shape': list(output_shape), 'activation': activation, 'bias_axes': bias_axes,
               'kernel_initializer': init('GlorotUniform'), 'bias_initializer': init('Zeros'),
               'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
               'kernel_constraint': None, 'bias_constraint': None, 'lora_rank': None}
        entry = self.add_layer('EinsumDense', name, cfg, [x], {}, weights)
        self.values[name] = y
        self.record_shapes(entry, [name])
        self.masks[name] = None  # EinsumDense does not support masking
        return name

    def mha(self, name, q, v, k=None, heads=2, key_dim=3, value_dim=None, use_bias=True, output_shape=None,
            causal=False, attention_mask=None, scores=False, key_as_kwarg=True):
        value_dim = value_dim or key_dim
        qv, vv = self.values[q], self.values[v]
        kv = self.values[k] if k is not None else vv
        fq, fk, fv = qv.shape[-1], kv.shape[-1], vv.shape[-1]
        out_dims = list(output_shape) if output_shape else [fq]
        r = self.rng
        W = {}
        W['qk'] = r.array((fq, heads, key_dim), 2.0 / math.sqrt(fq))
        W['qb'] = r.array((heads, key_dim), 0.5)
        W['kk'] = r.array((fk, heads, key_dim), 2.0 / math.sqrt(fk))
        W['kb'] = r.array((heads, key_dim), 0.5)
        W['vk'] = r.array((fv, heads, value_dim), 2.0 / math.sqrt(fv))
        W['vb'] = r.array((heads, value_dim), 0.5)
        W['ok'] = r.array(tuple([heads, value_dim] + out_dims), 2.0 / math.sqrt(heads * value_dim))
        W['ob'] = r.array(tuple(out_dims), 0.5)
        if not use_bias:
            for b in ('qb', 'kb', 'vb', 'ob'):
                W[b] = np.zeros_like(W[b])
        # Projections (EinsumDense abc,cde->abde over any number of sequence axes).
        qp = torch.einsum('...c,cde->...de', qv, t64(W['qk'])) + t64(W['qb'])
        kp = torch.einsum('...c,cde->...de', kv, t64(W['kk'])) + t64(W['kb'])
        vp = torch.einsum('...c,cde->...de', vv, t64(W['vk'])) + t64(W['vb'])
        B = qv.shape[0]
        tshape, sshape = list(qv.shape[1:-1]), list(vv.shape[1:-1])
        T, S = int(np.prod(tshape)), int(np.prod(sshape))
        qh = qp.reshape(B, T, heads, key_dim).transpose(1, 2)  # (B, N, T, H)
        kh = kp.reshape(B, S, heads, key_dim).transpose(1, 2)
        vh = vp.reshape(B, S, heads, value_dim).transpose(1, 2)
        allowed = torch.ones(B, heads, T, S, dtype=torch.bool)
        qm, vm = self.masks[q], self.masks[v]
        km = self.masks[k] if k is not None else None
        if qm is not None:
            allowed &= qm[:, None, :, None]
        if vm is not None:
            allowed &= vm[:, None, None, :]
        if km is not None:
            allowed &= km[:, None, None, :]
        if causal:
            allowed &= torch.tril(torch.ones(T, S, dtype=torch.bool))[None, None]
        if attention_mask is not None:
            am = self.values[attention_mask] != 0
            am = am[:, None] if am.dim() == 3 else am
            allowed &= am
        add = torch.where(allowed, torch.zeros((), dtype=torch.float64), torch.tensor(LARGE_NEGATIVE, dtype=torch.float64))
        # Keras scales the projected query, then adds the mask constant, then softmaxes.
        logits = (qh / math.sqrt(key_dim)) @ kh.transpose(-1, -2)
        probs = torch.softmax(logits + add, dim=-1)
        # In float32, score - 1e9 rounds to -1e9 whatever the score: a row masked everywhere is
        # uniform there (Keras in float32), while float64 keeps the scores' differences.
        full = ~allowed.any(dim=-1, keepdim=True)
        probs32 = torch.where(full, torch.full_like(probs, 1.0 / S), probs)
        ctx = probs @ vh
        ctx32 = probs32 @ vh
        def project(c):
            o = torch.einsum('btnh,nh...->bt...', c.transpose(1, 2), t64(W['ok'])) + t64(W['ob'])
            return o.reshape([B] + tshape + out_dims)
        out, out32 = project(ctx), project(ctx32)
        cfg = {'num_heads': heads, 'key_dim': key_dim, 'value_dim': value_dim, 'dropout': 0.0, 'use_bias': use_bias,
               'output_shape': list(output_shape) if output_shape else None, 'attention_axes': None,
               'kernel_initializer': init('GlorotUniform'), 'bias_initializer': init('Zeros'),
               'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
               'kernel_constraint': None, 'bias_constraint': None, 'seed': None}
        args, kwargs = [q, v], {}
        if k is not None:
            if key_as_kwarg:
                kwargs['key'] = k
            else:
                args.append(k)
        if attention_mask is not None:
            kwargs['attention_mask'] = attention_mask
        if causal:
            kwargs['use_causal_mask'] = True
        if scores:
            kwargs['return_attention_scores'] = True
        order = ['qk', 'qb', 'kk', 'kb', 'vk', 'vb', 'ok', 'ob'] if use_bias else ['qk', 'kk', 'vk', 'ok']
        labels = {'qk': 'query/kernel', 'qb': 'query/bias', 'kk': 'key/kernel', 'kb': 'key/bias',
                  'vk': 'value/kernel', 'vb': 'value/bias', 'ok': 'attention_output/kernel',
                  'ob': 'attention_output/bias'}
        entry = self.add_layer('MultiHeadAttention', name, cfg, args, kwargs, [(labels[o], W[o]) for o in order])
        self.values[name] = out
        self.masks[name] = qm
        outs = [name]
        if scores:
            self.values[name + ':1'] = probs.reshape([B, heads] + tshape + sshape)
            outs.append(name + ':1')
        self.record_shapes(entry, outs)
        if bool(full.any()):
            self.float32[name] = out32
            if scores:
                self.float32[name + ':1'] = probs32.reshape([B, heads] + tshape + sshape)
        return outs

    def model_config(self, outputs):
        outs = []
        for o in outputs:
            n, _, k = o.partition(':')
            outs.append([n, 0, int(k or 0)])
        return {'module': 'keras.src.models.functional', 'class_name': 'Functional',
                'config': {'name': self.name, 'trainable': True, 'layers': self.layers,
                           'input_layers': [[n, 0, 0] for n, _ in self.inputs], 'output_layers': outs},
                'registered_name': 'Functional', 'build_config': {'input_shape': None}}


def masked(rng, shape, rows):
    x = rng.array(shape, 1.0)
    for b, t in rows:
        x[b, t, :] = 0.0
    return x


def build_cases():
    cases = []

    def add(name, desc, fn):
        cases.append((name, desc, fn))

    # EinsumDense: the equations Keras' MultiHeadAttention builds, Keras' docstring examples, and
    # the rest of the grammar (ellipses, permuted outputs, labels summed away, shared labels).
    ed = [
        ('ed_abc_cde_abde', 'abc,cde->abde', (2, 4, 5), [None, 2, 3], 'de', 'linear'),
        ('ed_abcd_cde_abe', 'abcd,cde->abe', (2, 4, 2, 3), [None, 5], 'e', 'linear'),
        ('ed_ab_bc_ac_tanh', 'ab,bc->ac', (3, 6), [4], 'c', 'tanh'),
        ('ed_ab_bc_ac_nobias', 'ab,bc->ac', (3, 6), [4], None, 'relu'),
        ('ed_left_ellipsis', '...b,bc->...c', (2, 3, 4, 5), [6], 'c', 'linear'),
        ('ed_left_ellipsis_rank2', '...b,bc->...c', (3, 5), [4], 'c', 'softmax'),
        ('ed_right_ellipsis', 'abc...,cd->abd...', (2, 3, 4, 2), [3, 5], 'bd', 'linear'),
        ('ed_permuted_output', 'abc,cd->adb', (2, 3, 4), [5, 3], 'b', 'linear'),
        ('ed_two_contracted', 'abcd,bde->aec', (2, 3, 4, 5), [6, 4], 'ec', 'linear'),
        ('ed_sum_input_label', 'abc,bd->ad', (2, 3, 4), [5], 'd', 'linear'),
        ('ed_shared_label', 'abc,bd->adb', (2, 3, 4), [5, 3], 'db', 'tanh'),
        ('ed_batch_not_first_letter', 'bac,ce->bea', (2, 3, 4), [5, 3], 'a', 'linear'),
        ('ed_left_ellipsis_heads', '...ab,bcd->...acd', (2, 3, 4, 5), [4, 2, 3], 'cd', 'linear'),
    ]
    for name, eq, shape, os_, ba, act in ed:
        def fn(g, eq=eq, shape=shape, os_=os_, ba=ba, act=act):
            x = g.input('x', g.rng.array(shape, 1.0))
            return [g.einsum_dense(x, 'einsum_dense', eq, os_, ba, act)], ['y']
        add(name, f'EinsumDense("{eq}", output_shape={os_}, bias_axes={ba!r}, activation={act}) on x {list(shape)}', fn)

    def self_attn(g):
        x = g.input('x', g.rng.array((2, 5, 4), 1.0))
        return g.mha('mha', x, x, heads=2, key_dim=3), ['y']
    add('mha_self', 'MultiHeadAttention(num_heads=2, key_dim=3)(x, x) on x [2,5,4]', self_attn)

    def cross(g):
        q = g.input('q', g.rng.array((3, 4, 5), 1.0))
        v = g.input('v', g.rng.array((3, 6, 3), 1.0))
        k = g.input('k', g.rng.array((3, 6, 2), 1.0))
        return g.mha('mha', q, v, k, heads=3, key_dim=2, value_dim=4, output_shape=[7]), ['y']
    add('mha_cross_key_value_dim_output_shape', 'MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, '
        'output_shape=7)(q [3,4,5], v [3,6,3], key=k [3,6,2])', cross)

    def positional_key(g):
        q = g.input('q', g.rng.array((2, 3, 4), 1.0))
        v = g.input('v', g.rng.array((2, 5, 4), 1.0))
        k = g.input('k', g.rng.array((2, 5, 3), 1.0))
        return g.mha('mha', q, v, k, heads=1, key_dim=4, key_as_kwarg=False), ['y']
    add('mha_positional_key', 'MultiHeadAttention(num_heads=1, key_dim=4)(q, v, k) with key positional', positional_key)

    def nobias_scores(g):
        q = g.input('q', g.rng.array((2, 3, 4), 1.0))
        v = g.input('v', g.rng.array((2, 4, 4), 1.0))
        return g.mha('mha', q, v, heads=2, key_dim=2, use_bias=False, scores=True), ['y', 'scores']
    add('mha_nobias_scores', 'MultiHeadAttention(num_heads=2, key_dim=2, use_bias=False)(q, v, '
        'return_attention_scores=True): outputs [output, scores (B, N, T, S)]', nobias_scores)

    def causal(g):
        x = g.input('x', g.rng.array((2, 6, 4), 1.0))
        return g.mha('mha', x, x, heads=2, key_dim=3, causal=True, scores=True), ['y', 'scores']
    add('mha_causal', 'MultiHeadAttention(num_heads=2, key_dim=3)(x, x, use_causal_mask=True, '
        'return_attention_scores=True)', causal)

    def masks(g):
        q = g.input('q', masked(g.rng, (3, 4, 3), [(0, 3), (1, 0), (2, 2)]))
        v = g.input('v', masked(g.rng, (3, 5, 3), [(0, 0), (0, 4), (1, 2), (2, 1), (2, 3)]))
        qm, vm = g.masking(q, 'masking'), g.masking(v, 'masking_1')
        return g.mha('mha', qm, vm, heads=2, key_dim=2, scores=True), ['y', 'scores']
    add('mha_query_value_masks', 'q [3,4,3] -> Masking, v [3,5,3] -> Masking; MultiHeadAttention(num_heads=2, '
        'key_dim=2)(q, v, return_attention_scores=True): query mask [B,T,1] & value mask [B,1,S]; a masked query '
        'row is fully masked (uniform in float32 Keras, softmax of the scores shifted by -1e9 in float64)', masks)

    def key_mask(g):
        q = g.input('q', g.rng.array((2, 3, 4), 1.0))
        v = g.input('v', g.rng.array((2, 5, 4), 1.0))
        k = g.input('k', masked(g.rng, (2, 5, 3), [(0, 1), (1, 3), (1, 4)]))
        km = g.masking(k, 'masking')
        return g.mha('mha', q, v, km, heads=2, key_dim=3, causal=False), ['y']
    add('mha_key_mask', 'k [2,5,3] -> Masking; MultiHeadAttention(num_heads=2, key_dim=3)(q, v, key=k): the key '
        'mask [B,1,S] masks key steps', key_mask)

    def explicit(g):
        q = g.input('q', g.rng.array((2, 4, 3), 1.0))
        v = g.input('v', g.rng.array((2, 5, 3), 1.0))
        m = np.zeros((2, 4, 5), dtype=np.float32)
        for b in range(2):
            for t in range(4):
                for s in range(5):
                    m[b, t, s] = 1.0 if (b + 2 * t + s) % 3 != 0 else 0.0
        am = g.input('attention_mask', m)
        return g.mha('mha', q, v, heads=2, key_dim=3, attention_mask=am, causal=True), ['y']
    add('mha_attention_mask_causal', 'MultiHeadAttention(num_heads=2, key_dim=3)(q [2,4,3], v [2,5,3], '
        'attention_mask=m [2,4,5], use_causal_mask=True): the explicit mask ANDed with the causal one', explicit)

    def rank4(g):
        x = g.input('x', g.rng.array((2, 2, 3, 4), 1.0))
        return g.mha('mha', x, x, heads=2, key_dim=2, scores=True), ['y', 'scores']
    add('mha_rank4_default_axes', 'MultiHeadAttention(num_heads=2, key_dim=2)(x, x) on x [2,2,3,4]: Keras\' '
        'default attention_axes (1, 2) attend over both axes jointly; scores [B, N, 2, 3, 2, 3]', rank4)

    def out2(g):
        q = g.input('q', g.rng.array((2, 3, 4), 1.0))
        return g.mha('mha', q, q, heads=2, key_dim=2, output_shape=[2, 3]), ['y']
    add('mha_output_shape_2d', 'MultiHeadAttention(num_heads=2, key_dim=2, output_shape=(2, 3))(q, q): output '
        '[B, T, 2, 3]', out2)
    return cases


def nn_mha_crosscheck(seed):
    """torch.nn.MultiheadAttention with Keras' weights mapped (the mapping in the docstring) against
    the transcription above: returns the largest difference."""
    rng = SplitMix64(seed)
    g = Graph('crosscheck', rng)
    x = g.input('q', rng.array((2, 4, 6), 1.0))
    v = g.input('v', rng.array((2, 5, 6), 1.0))
    g.mha('mha', x, v, heads=2, key_dim=3)
    w = {e['name'].split('/', 1)[1]: np.array(e['data'].values if hasattr(e['data'], 'values') else e['data'])
         .reshape(e['shape']) for e in g.weights[-1]['weights']}
    E = 6
    m = torch.nn.MultiheadAttention(E, 2, bias=True, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        m.in_proj_weight.copy_(t64(np.concatenate([w['query/kernel'].reshape(E, E).T, w['key/kernel'].reshape(E, E).T,
                                                   w['value/kernel'].reshape(E, E).T])))
        m.in_proj_bias.copy_(t64(np.concatenate([w['query/bias'].ravel(), w['key/bias'].ravel(),
                                                 w['value/bias'].ravel()])))
        m.out_proj.weight.copy_(t64(w['attention_output/kernel'].reshape(E, E).T))
        m.out_proj.bias.copy_(t64(w['attention_output/bias']))
        y, _ = m(g.values['q'], g.values['v'], g.values['v'])
    return float(torch.max(torch.abs(y - g.values['mha'])))


def generate(doc, group, generator, keras_version, graph_cls, build_cases, crosscheck, weights_note, float32_note):
    """Writes a group's fixtures: the torch.nn.MultiheadAttention cross-check first (its seed from
    "<group>/crosscheck"), then each case of build_cases() on a graph_cls graph; shared by this script
    and make_gqa_fixtures.py. weights_note says how the cross-check mapped the weights; float32_note
    explains "outputs_float32" where a case has it."""
    args = parse_args(doc, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', group))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = args.out
    prepare_out_dir(out, generator)
    diff = crosscheck(fnv1a32(f'{group}/crosscheck') ^ args.seed)
    if diff > 1e-12:
        raise RuntimeError(f'torch.nn.MultiheadAttention cross-check differs by {diff}')
    print(f'  torch.nn.MultiheadAttention cross-check: max |diff| {diff:.3g}')
    entries = []
    for name, desc, fn in build_cases():
        seed = fnv1a32(f'{group}/{name}') ^ args.seed
        g = graph_cls(name, SplitMix64(seed))
        outs, labels = fn(g)
        for o in outs:
            v = g.values[o]
            if not torch.all(torch.isfinite(v)) or float(torch.max(torch.abs(v))) > 100:
                raise RuntimeError(f'{name}: output {o} out of range')
        fixture = {
            'format_version': FORMAT_VERSION, 'name': name, 'group': group, 'seed': seed,
            'reference': 'pytorch', 'torch_version': torch.__version__, 'compute_dtype': 'float64',
            'keras_semantics': 'keras3', 'keras_version': keras_version,
            'notes': desc + '. Weights and inputs are float32 values (kernels uniform(-1,1)*2/sqrt(fan_in), biases '
                     'uniform(-1,1)*0.5, inputs uniform(-1,1)); outputs in float64 PyTorch. torch.nn.MultiheadAttention '
                     f'with the {weights_note} agrees with this transcription to {diff:.3g}.',
            'model_config': g.model_config(outs),
            'layers': g.weights,
            'inputs': [{'label': n, 'shape': list(v.shape), 'data': F32List(v)} for n, v in g.inputs],
            'outputs': [{'label': lab, 'shape': list(g.values[o].shape), 'data': F64List(g.values[o].numpy())}
                        for o, lab in zip(outs, labels)],
        }
        if g.float32:
            fixture['outputs_float32'] = [
                {'label': lab, 'shape': list(g.values[o].shape), 'data': F64List(g.float32.get(o, g.values[o]).numpy())}
                for o, lab in zip(outs, labels)]
            fixture['notes'] += float32_note
        entries.append(write_case(out, fixture))
        print(f'  {name}')
    write_index(out, generator, args.seed, entries, {'reference': 'pytorch', 'compute_dtype': 'float64'})


def main():
    generate(__doc__, GROUP, GENERATOR, KERAS_VERSION, Graph, build_cases, nn_mha_crosscheck, 'mapped weights',
             ' Some query rows are masked everywhere: Keras adds -1e9 to every score there, which '
             'in float32 swallows the scores (the row becomes uniform) and in float64 does not; '
             '"outputs_float32" holds the float32 result, "outputs" the float64 one.')


if __name__ == '__main__':
    main()
