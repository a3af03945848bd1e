"""numpy/PyTorch reference fixtures for Keras 3's Attention and AdditiveAttention.

TF.js 4.22 has neither layer, so this script transcribes Keras 3's formulas
(keras/src/layers/attention/attention.py, additive_attention.py) into float64 numpy and writes
tests/reference/fixtures_torch/attention_dot/<case>.json + index.json in the tfjs fixtures' format,
with Keras 3 functional model_configs. The formulas, per sample:

  scores  dot:      q @ k^T, times `scale` with use_scale
          concat:   concat_score_weight * sum_d tanh(scale * (q_d + k_d))   (scale only with use_scale)
          additive: sum_d scale_d * tanh(q_d + k_d)                         (scale_d = 1 without use_scale)
  mask    where not (value_mask[j] and (not use_causal_mask or j <= i)): scores - 1e9
  weights softmax over the key steps
  output  weights @ value, where(query_mask, output, 0); the output's mask is the query's
  return_attention_scores: a second output, the weights

Independent cross-check: every dot-product case without `scale` (and the `attention_crosscheck_*`
cases made for it) is recomputed with torch.nn.functional.multi_head_attention_forward (one head,
identity projections, no bias, the query multiplied by sqrt(dim) to undo torch's 1/sqrt(dim),
key_padding_mask for the value mask, a boolean attn_mask for the causal mask, the query mask applied
after); the script stops if they differ by more than 1e-12 and records the difference in
checks.torch_crosscheck. (torch 1.13 has no scaled_dot_product_attention; its
multi_head_attention_forward is the same computation written independently, with -inf masking.)

Weights are Keras' own: Attention's `scale` and `concat_score_weight` are Keras scalars (shape ()),
written here with shape [1] as strata holds them; AdditiveAttention's `scale` has shape (dim,).

Usage: /usr/bin/python3 tools/torch-reference/make_attention_dot_fixtures.py [--out DIR] [--seed UINT32]
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, fnv1a32  # noqa: E402
from make_merge_fixtures import T, embedding, init, masking, policy  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_attention_dot_fixtures.py'
GROUP = 'attention_dot'
KERAS_VERSION = '3.10.0'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


# --- Keras 3 semantics in numpy ---------------------------------------------------------------

def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def attention(q, v, k, q_mask, v_mask, mode, scale=None, csw=None, causal=False):
    """Keras 3 Attention.call / AdditiveAttention.call in float64; returns (output, weights).
    mode: 'dot', 'concat' or 'additive'; scale: None without use_scale (a float, or a (dim,) array
    for additive)."""
    if k is None:
        k = v
    if mode == 'dot':
        scores = q @ np.swapaxes(k, -2, -1)
        if scale is not None:
            scores = scores * scale
    else:
        qr = q[:, :, None, :]  # (B, Tq, 1, dim)
        kr = k[:, None, :, :]  # (B, 1, Tv, dim)
        if mode == 'concat':
            inner = np.tanh(scale * (qr + kr)) if scale is not None else np.tanh(qr + kr)
            scores = csw * np.sum(inner, axis=-1)
        else:
            scores = np.sum((scale if scale is not None else 1.0) * np.tanh(qr + kr), axis=-1)
    mask = None
    if causal:
        tq, tv = scores.shape[-2], scores.shape[-1]
        ones = np.ones((1, tq, tv), dtype=np.int32)
        mask = np.cumsum(ones, axis=-2) >= np.cumsum(ones, axis=-1)
        if v_mask is not None:
            mask = np.logical_and(v_mask[:, None, :], mask)
    elif v_mask is not None:
        mask = v_mask[:, None, :]
    if mask is not None:
        scores = np.where(np.logical_not(mask), scores - 1.0e9, scores)
    weights = softmax(scores)
    out = weights @ v
    if q_mask is not None:
        out = np.where(q_mask[:, :, None], out, 0.0)
    return out, weights


def torch_dot_attention(q, v, k, q_mask, v_mask, causal):
    """The same dot-product attention (no scale) through torch's multi_head_attention_forward."""
    if k is None:
        k = v
    B, Tq, D = q.shape
    Tv = v.shape[1]
    assert v.shape[2] == D
    t = lambda a: torch.tensor(np.swapaxes(a, 0, 1), dtype=torch.float64)  # noqa: E731  (L, N, E)
    eye = torch.eye(D, dtype=torch.float64)
    attn_mask = None
    if causal:
        attn_mask = torch.tensor(np.triu(np.ones((Tq, Tv), dtype=bool), k=1))  # True: not allowed
    kpm = None if v_mask is None else torch.tensor(np.logical_not(v_mask))
    out, w = torch.nn.functional.multi_head_attention_forward(
        t(q * math.sqrt(D)), t(k), t(v), D, 1, in_proj_weight=None, in_proj_bias=None, bias_k=None, bias_v=None,
        add_zero_attn=False, dropout_p=0.0, out_proj_weight=eye, out_proj_bias=None, training=False,
        key_padding_mask=kpm, need_weights=True, attn_mask=attn_mask, use_separate_proj_weight=True,
        q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye)
    out = np.swapaxes(out.numpy(), 0, 1)
    if q_mask is not None:
        out = np.where(q_mask[:, :, None], out, 0.0)
    return out, w.numpy()


# keras-hub's position layers (keras_hub/src/layers/modeling/*.py) in numpy.

def sine_position_encoding(shape, max_wavelength, start_index):
    """SinePositionEncoding.call: sin on even features, cos on odd ones, float64."""
    seq, hidden = shape[-2], shape[-1]
    positions = np.arange(seq, dtype=np.float64) + start_index
    timescales = np.power(1.0 / max_wavelength, (2 * (np.arange(hidden) // 2)).astype(np.float64) / hidden)
    angles = positions[:, None] * timescales[None, :]
    cos_mask = (np.arange(hidden) % 2).astype(np.float64)
    enc = np.sin(angles) * (1 - cos_mask) + np.cos(angles) * cos_mask
    return np.broadcast_to(enc, shape).copy()


def rotary_embedding(x, o):
    """RotaryEmbedding.call: as keras-hub, positions, inverse frequencies, angles and their cos and
    sin in float32; the products in float64."""
    rank = x.ndim
    sa, fa = o.get('sequence_axis', 1) % rank, o.get('feature_axis', -1) % rank
    xm = np.moveaxis(x, (fa, sa), (-1, 1))
    dim = xm.shape[-1]
    f32 = np.float32
    idx = np.arange(0, dim, 2, dtype=f32)
    denom = f32(o.get('denominator_dim') or dim)
    inv = np.power(f32(o.get('max_wavelength', 10000)), -(idx / denom)).astype(f32)
    rope_type = o.get('rope_type', 'linear')
    if rope_type == 'linear':
        inv = (inv / f32(o.get('scaling_factor', 1.0))).astype(f32)
    elif rope_type == 'dynamic':
        exponent = f32(dim) / f32(max(1, dim - 2))
        inv = (inv / np.power(f32(o.get('scaling_factor', 1.0)), exponent)).astype(f32)
    positions = (np.arange(xm.shape[1], dtype=f32) + f32(o.get('start_index', 0))).astype(f32)
    freq = (positions[:, None] * inv[None, :]).astype(f32)  # (seq, dim / 2)
    emb = np.concatenate([freq, freq], axis=-1)               # stack((freq, freq), -2) reshaped
    shape = [1] * xm.ndim
    shape[1], shape[-1] = emb.shape
    cos = np.cos(emb).astype(np.float64).reshape(shape)
    sin = np.sin(emb).astype(np.float64).reshape(shape)
    x1, x2 = np.split(xm, 2, axis=-1)
    half_rot = np.concatenate([-x2, x1], axis=-1)
    return np.moveaxis(xm * cos + half_rot * sin, (-1, 1), (fa, sa))


# --- Keras 3 config ---------------------------------------------------------------------------

def attention_config(cls, name, o):
    base = {'name': name, 'trainable': True, 'dtype': policy()}
    base.update({'use_scale': o.get('use_scale', cls == 'AdditiveAttention'), 'dropout': 0.0, 'seed': None})
    if cls == 'Attention':
        base['score_mode'] = o.get('score_mode', 'dot')
    return base


class Graph:
    """A Keras 3 functional model built call by call, with the numpy values alongside."""

    def __init__(self, name, rng):
        self.name = name
        self.rng = rng
        self.layers = []   # model_config layer entries
        self.weights = []  # fixture "layers" entries
        self.inputs = []
        self.values = {}   # "layer:index" -> T
        self.checks = {}

    @staticmethod
    def ref(key):
        lname, index = key.split(':')
        return {'class_name': '__keras_tensor__',
                'config': {'shape': None, 'dtype': 'float32', 'keras_history': [lname, 0, int(index)]}}

    def input(self, name, shape, value):
        self.layers.append({'module': 'keras.layers', 'class_name': 'InputLayer',
                            'config': {'batch_shape': [None] + list(shape), 'dtype': 'float32', 'sparse': False,
                                       'name': name}, 'registered_name': None, 'name': name, 'inbound_nodes': []})
        self.inputs.append((name, value))
        self.values[name + ':0'] = T(value, None)
        return name + ':0'

    def call(self, cls, name, cfg, args, weights=(), kwargs=None, module='keras.layers', registered=None):
        """args: one tensor key, or a list of them (a layer called on a list)."""
        arg = [self.ref(a) for a in args] if isinstance(args, list) else self.ref(args)
        self.layers.append({'module': module, 'class_name': cls, 'config': cfg, 'registered_name': registered,
                            'build_config': {'input_shape': None}, 'name': name,
                            'inbound_nodes': [{'args': [arg], 'kwargs': dict(kwargs or {})}]})
        self.weights.append({'name': name, 'class_name': cls, 'config': cfg,
                             'weights': [{'name': f'{name}/{n}', 'shape': list(v.shape), 'data': F32List(v)}
                                         for n, v in weights]})

    def masking(self, x, name):
        self.call('Masking', name, {'name': name, 'trainable': True, 'dtype': policy(), 'mask_value': 0.0}, x)
        self.values[name + ':0'] = masking(self.values[x])
        return name + ':0'

    def embedding(self, x, name, vocab, dim):
        w = self.rng.array((vocab, dim), 1.0)
        cfg = {'name': name, 'trainable': True, 'dtype': policy(), 'input_dim': vocab, 'output_dim': dim,
               'mask_zero': True, 'embeddings_initializer': init('RandomUniform'), 'embeddings_regularizer': None,
               'embeddings_constraint': None}
        self.call('Embedding', name, cfg, x, [('embeddings', w)])
        self.values[name + ':0'] = embedding(self.values[x].v, {'embeddings': w})
        return name + ':0'

    def attention(self, cls, name, xs, o=None, crosscheck=False):
        """cls Attention (o: use_scale, score_mode, scale, csw) or AdditiveAttention (o: use_scale);
        o also: causal, scores (return_attention_scores), kwargs_extra."""
        o = o or {}
        cfg = attention_config(cls, name, o)
        vals = [self.values[x] for x in xs]
        q, v = vals[0], vals[1]
        k = vals[2] if len(vals) > 2 else None
        weights = []
        scale = csw = None
        mode = 'additive' if cls == 'AdditiveAttention' else cfg['score_mode']
        if cfg['use_scale']:
            if cls == 'AdditiveAttention':
                scale = self.rng.array((q.v.shape[-1],), math.sqrt(3.0 / q.v.shape[-1]))
                weights.append(('scale', scale))
            else:
                scale = float(np.float32(1.0 + self.rng.f32(0.5)))
                weights.append(('scale', np.array([scale])))
        if mode == 'concat':
            csw = self.rng.f32(1.5)
            weights.append(('concat_score_weight', np.array([csw])))
        kwargs = dict(o.get('kwargs_extra', {}))
        if o.get('causal'):
            kwargs['use_causal_mask'] = True
        if o.get('scores'):
            kwargs['return_attention_scores'] = True
        self.call(cls, name, cfg, xs, weights, kwargs)
        out, w = attention(q.v, v.v, None if k is None else k.v, q.mask, v.mask, mode, scale, csw, o.get('causal'))
        if crosscheck:
            assert mode == 'dot' and scale is None
            t_out, t_w = torch_dot_attention(q.v, v.v, None if k is None else k.v, q.mask, v.mask, o.get('causal'))
            err = max(float(np.max(np.abs(t_out - out))), float(np.max(np.abs(t_w - w))))
            if err > 1e-12:
                raise RuntimeError(f'{self.name}: numpy and torch attention differ by {err}')
            self.checks['torch_crosscheck'] = {
                'what': 'output and weights recomputed with torch.nn.functional.multi_head_attention_forward '
                        '(one head, identity projections, query * sqrt(dim); -inf masking)',
                'max_abs_difference': err, 'tolerance': 1e-12, 'passed': True}
        self.values[name + ':0'] = T(out, q.mask)
        if o.get('scores'):
            self.values[name + ':1'] = T(w, None)
        return [name + ':0', name + ':1'] if o.get('scores') else name + ':0'

    def keras_hub(self, cls, module, name, x, cfg_extra, weights=(), kwargs=None):
        cfg = {'name': name, 'trainable': True, 'dtype': policy()}
        cfg.update(cfg_extra)
        self.call(cls, name, cfg, x, weights, kwargs, module=f'keras_hub.src.layers.modeling.{module}',
                  registered=f'keras_hub>{cls}')
        return name + ':0'

    def position_embedding(self, x, name, seq, start_index):
        xv = self.values[x].v
        dim = xv.shape[-1]
        w = self.rng.array((seq, dim), 1.0)
        self.keras_hub('PositionEmbedding', 'position_embedding', name, x,
                       {'sequence_length': seq, 'initializer': init('GlorotUniform')}, [('embeddings', w)],
                       {'start_index': start_index} if start_index else None)
        steps = xv.shape[-2]
        self.values[name + ':0'] = T(np.broadcast_to(w[start_index:start_index + steps], xv.shape).copy(), None)
        return name + ':0'

    def token_and_position(self, x, name, vocab, seq, dim, mask_zero, tie_weights, start_index=0):
        ids = self.values[x].v
        tok = self.rng.array((vocab, dim), 1.0)
        weights = [('token_embedding/embeddings', tok)]
        if not tie_weights:
            weights.append(('token_embedding/reverse_embeddings', self.rng.array((dim, vocab), 1.0)))
        pos = self.rng.array((seq, dim), 1.0)
        weights.append(('position_embedding/embeddings', pos))
        self.keras_hub('TokenAndPositionEmbedding', 'token_and_position_embedding', name, x,
                       {'vocabulary_size': vocab, 'sequence_length': seq, 'embedding_dim': dim,
                        'embeddings_initializer': init('RandomUniform'), 'tie_weights': tie_weights,
                        'mask_zero': mask_zero}, weights, {'start_index': start_index} if start_index else None)
        steps = ids.shape[-1]
        out = tok[ids.astype(np.int64)] + pos[start_index:start_index + steps]
        self.values[name + ':0'] = T(out, (ids != 0) if mask_zero else None)
        return name + ':0'

    def sine(self, x, name, max_wavelength, start_index):
        self.keras_hub('SinePositionEncoding', 'sine_position_encoding', name, x,
                       {'max_wavelength': max_wavelength}, (), {'start_index': start_index} if start_index else None)
        self.values[name + ':0'] = T(sine_position_encoding(self.values[x].v.shape, max_wavelength, start_index),
                                     None)
        return name + ':0'

    def rotary(self, x, name, o):
        cfg = {'max_wavelength': o.get('max_wavelength', 10000), 'scaling_factor': o.get('scaling_factor', 1.0),
               'rope_type': o.get('rope_type', 'linear'), 'beta_fast': 32.0, 'beta_slow': 1.0,
               'original_max_position_embeddings': 4096, 'truncate': False,
               'sequence_axis': o.get('sequence_axis', 1), 'feature_axis': o.get('feature_axis', -1),
               'denominator_dim': o.get('denominator_dim')}
        self.keras_hub('RotaryEmbedding', 'rotary_embedding', name, x, cfg, (),
                       {'start_index': o['start_index']} if o.get('start_index') else None)
        self.values[name + ':0'] = T(rotary_embedding(self.values[x].v, o), None)
        return name + ':0'

    def model_config(self, outputs):
        return {'module': 'keras.src.models.functional', 'class_name': 'Functional',
                'config': {'name': self.name, 'trainable': True, 'layers': self.layers,
                           'input_layers': [[n, 0, 0] for n, _ in self.inputs],
                           'output_layers': [[o.split(':')[0], 0, int(o.split(':')[1])] for o in outputs]},
                'registered_name': 'Functional', 'build_config': {'input_shape': None}}


def masked_input(rng, B, steps, F, masked):
    """uniform(-1, 1) values with the (b, t) steps in `masked` set to 0 (Masking masks them)."""
    x = rng.array((B, steps, F), 1.0)
    for b, t in masked:
        x[b, t, :] = 0.0
    return x


# Steps masked in the query and in the value: each sample keeps its first value step, so no
# row of scores is masked everywhere (the causal mask keeps step 0 for query step 0).
QM = ((0, 2), (1, 0), (2, 3))
VM = ((0, 1), (0, 4), (1, 2), (1, 3), (2, 4))


def build_cases():
    cases = []

    def add(name, fn):
        cases.append((name, fn))

    def plain(o, key, crosscheck=False, dv=None, masks=(False, False), desc=''):
        def fn(g):
            B, Tq, Tv, D = 3, 4, 5, 3
            Dv = dv or D
            q = g.input('query', (Tq, D), masked_input(g.rng, B, Tq, D, QM if masks[0] else ()))
            v = g.input('value', (Tv, Dv), masked_input(g.rng, B, Tv, Dv, VM if masks[1] else ()))
            if masks[0]:
                q = g.masking(q, 'masking')
            if masks[1]:
                v = g.masking(v, 'masking_1')
            xs = [q, v]
            if key:
                xs.append(g.input('key', (Tv, D), g.rng.array((B, Tv, D), 1.0)))
            cls = o.pop('cls', 'Attention')
            out = g.attention(cls, 'attention' if cls == 'Attention' else 'additive_attention', xs, o, crosscheck)
            outs = out if isinstance(out, list) else [out]
            return outs, ['output', 'scores'][:len(outs)], desc
        return fn

    add('attention_dot_query_value', plain({}, False, True, desc='Attention()([query [3,4,3], value [3,5,3]])'))
    add('attention_dot_scale_key_dv', plain({'use_scale': True}, True, dv=2,
                                            desc='Attention(use_scale=True)([query [3,4,3], value [3,5,2], key [3,5,3]])'))
    add('attention_dot_masks_scores', plain({'scores': True}, True, True, masks=(True, True),
                                            desc='Masking on query and value; Attention()([q, v, key], '
                                                 'return_attention_scores=True): outputs [output, scores]'))
    add('attention_dot_causal_value_mask_scores',
        plain({'causal': True, 'scores': True, 'kwargs_extra': {'mask': [None, None], 'training': False}}, False,
              True, masks=(False, True),
              desc='Masking on value; Attention()([q, v], use_causal_mask=True, return_attention_scores=True); the '
                   'node also records mask [null, null] and training false (Keras 3.6 style kwargs)'))
    add('attention_dot_scale_causal_masks', plain({'use_scale': True, 'causal': True}, True, masks=(True, True),
                                                  desc='Attention(use_scale=True), masks, use_causal_mask'))
    add('attention_concat', plain({'score_mode': 'concat'}, True,
                                  desc='Attention(score_mode="concat")([q, v, key])'))
    add('attention_concat_scale_masks_scores', plain({'score_mode': 'concat', 'use_scale': True, 'scores': True},
                                                     True, masks=(True, True), dv=4,
                                                     desc='Attention(score_mode="concat", use_scale=True), masks, '
                                                          'key, value dim 4, return_attention_scores'))
    add('attention_concat_causal', plain({'score_mode': 'concat', 'causal': True}, False,
                                         desc='Attention(score_mode="concat")([q, v], use_causal_mask=True)'))
    add('additive_attention_scale_key_masks', plain({'cls': 'AdditiveAttention'}, True, masks=(True, True), dv=2,
                                                    desc='AdditiveAttention()([q, v, key]) (use_scale default '
                                                         'True: scale (3,)), masks, value dim 2'))
    add('additive_attention_noscale_causal_scores',
        plain({'cls': 'AdditiveAttention', 'use_scale': False, 'causal': True, 'scores': True}, False,
              masks=(False, True), desc='AdditiveAttention(use_scale=False)([q, v], use_causal_mask=True, '
                                        'return_attention_scores=True), value mask'))

    def crosscheck_self(g):
        B, S, D = 2, 6, 4
        x = g.input('x', (S, D), masked_input(g.rng, B, S, D, ((0, 3), (1, 1), (1, 5))))
        m = g.masking(x, 'masking')
        outs = g.attention('Attention', 'attention', [m, m], {'causal': True, 'scores': True}, True)
        return outs, ['output', 'scores'], ('x [2,6,4] -> Masking; Attention()([m, m], use_causal_mask=True, '
                                            'return_attention_scores=True): causal self-attention')
    add('attention_crosscheck_causal_self', crosscheck_self)

    def embedding_case(g):
        B, Tq, Tv, V, E = 3, 4, 5, 7, 3
        ids_q = np.array([[0 if (b, t) in QM else g.rng.int(1, V - 1) for t in range(Tq)] for b in range(B)],
                         dtype=np.float64)
        ids_v = np.array([[0 if (b, t) in VM else g.rng.int(1, V - 1) for t in range(Tv)] for b in range(B)],
                         dtype=np.float64)
        q = g.embedding(g.input('ids_q', (Tq,), ids_q), 'embedding', V, E)
        v = g.embedding(g.input('ids_v', (Tv,), ids_v), 'embedding_1', V, E)
        outs = g.attention('Attention', 'attention', [q, v], {'scores': True}, True)
        return outs, ['output', 'scores'], ('ids_q [3,4], ids_v [3,5] (0 at masked steps) -> '
                                            'Embedding(7, 3, mask_zero=True) each; Attention()([q, v], '
                                            'return_attention_scores=True)')
    add('attention_embedding_masks', embedding_case)

    # keras-hub's position layers.
    def position_case(g):
        x = g.input('x', (4, 3), g.rng.array((2, 4, 3), 1.0))
        return [g.position_embedding(x, 'position_embedding', 7, 2)], ['y'], (
            'keras_hub PositionEmbedding(sequence_length=7)(x [2,4,3], start_index=2)')
    add('keras_hub_position_embedding_start_index', position_case)

    def token_case(g):
        B, S, V, E = 3, 5, 9, 4
        ids = np.array([[0 if (b, t) in VM else g.rng.int(1, V - 1) for t in range(S)] for b in range(B)],
                       dtype=np.float64)
        x = g.input('ids', (S,), ids)
        t = g.token_and_position(x, 'token_and_position_embedding', V, 6, E, True, False)
        a = g.attention('Attention', 'attention', [t, t], {'causal': True})
        return [t, a], ['embedded', 'attention'], (
            'ids [3,5] (0 at masked steps) -> keras_hub TokenAndPositionEmbedding(9, 6, 4, mask_zero=True, '
            'tie_weights=False) -> Attention()([t, t], use_causal_mask=True): the ids mask reaches Attention')
    add('keras_hub_token_and_position_mask_attention', token_case)

    def token_start_case(g):
        ids = np.array([[g.rng.int(0, 6) for _ in range(3)] for _ in range(2)], dtype=np.float64)
        x = g.input('ids', (3,), ids)
        return [g.token_and_position(x, 'token_and_position_embedding', 7, 5, 2, False, True, 2)], ['y'], (
            'ids [2,3] -> keras_hub TokenAndPositionEmbedding(7, 5, 2)(ids, start_index=2) (tied weights, no mask)')
    add('keras_hub_token_and_position_start_index', token_start_case)

    def sine_case(g):
        x = g.input('x', (6, 5), g.rng.array((2, 6, 5), 1.0))
        s = g.sine(x, 'sine_position_encoding', 1000.0, 3)
        return [s], ['y'], 'keras_hub SinePositionEncoding(max_wavelength=1000)(x [2,6,5], start_index=3)'
    add('keras_hub_sine_position_encoding', sine_case)

    def rotary_case(o, shape, desc):
        def fn(g):
            g.tolerance_double = 1e-6
            x = g.input('x', shape[1:], g.rng.array(shape, 1.0))
            return [g.rotary(x, 'rotary_embedding', o)], ['y'], desc
        return fn
    add('keras_hub_rotary_embedding_linear', rotary_case(
        {'max_wavelength': 500, 'scaling_factor': 2.0, 'start_index': 4}, (2, 5, 2, 6),
        'keras_hub RotaryEmbedding(max_wavelength=500, scaling_factor=2)(x [2,5,2,6], start_index=4)'))
    add('keras_hub_rotary_embedding_dynamic_axes', rotary_case(
        {'rope_type': 'dynamic', 'scaling_factor': 3.0, 'sequence_axis': 2, 'feature_axis': 1,
         'denominator_dim': 10}, (2, 8, 4, 3),
        'keras_hub RotaryEmbedding(rope_type="dynamic", scaling_factor=3, sequence_axis=2, feature_axis=1, '
        'denominator_dim=10)(x [2,8,4,3])'))
    return cases


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', GROUP))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
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
            'reference': 'numpy', 'numpy_version': np.__version__, 'torch_version': torch.__version__.split('+')[0],
            'compute_dtype': 'float64', 'keras_semantics': 'keras3', 'keras_version': KERAS_VERSION,
            'notes': desc + '. Keras 3 attention.py formulas in float64 numpy; weights and inputs are float32 '
                     'values (inputs uniform(-1,1); Attention scale 1 + uniform(-0.5, 0.5), concat_score_weight '
                     'uniform(-1.5, 1.5), AdditiveAttention scale uniform(-l, l), l = sqrt(3 / dim)).',
            'model_config': g.model_config(outs),
            'layers': g.weights,
            'inputs': [{'label': n, 'shape': list(v.shape), 'data': F32List(v)} for n, v in g.inputs],
            'outputs': [{'label': lab, 'shape': list(g.values[o].v.shape), 'data': F64List(g.values[o].v)}
                        for o, lab in zip(outs, labels)],
        }
        if g.checks:
            fixture['checks'] = g.checks
        if getattr(g, 'tolerance_double', None):
            # keras-hub computes RoPE's angles and their cos and sin in float32 (so does strata); two
            # float32 sin/cos implementations (numpy's, the C library's) may differ in the last bit.
            fixture['tolerance_double'] = g.tolerance_double
        entries.append(write_case(out, fixture))
        print(f'  {name}' + (f'  (torch cross-check {g.checks["torch_crosscheck"]["max_abs_difference"]:.1e})'
                             if g.checks else ''))
    write_index(out, GENERATOR, args.seed, entries, {'reference': 'numpy', 'compute_dtype': 'float64'})




if __name__ == '__main__':
    main()
