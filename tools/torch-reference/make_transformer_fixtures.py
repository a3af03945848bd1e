"""numpy float64 reference fixtures for keras-hub's TransformerEncoder and TransformerDecoder.

TF.js 4.22 has no TransformerEncoder, and its TransformerDecoder differs from keras-hub's (below), so
keras-hub's call() (keras_hub/src/layers/modeling/transformer_encoder.py, transformer_decoder.py,
transformer_layer_utils.py) is composed here in float64 numpy from pieces already checked against
Keras elsewhere: MultiHeadAttention as make_attention_fixtures.py transcribes Keras 3's (projections,
q / sqrt(key_dim), -1e9 added where the combined mask is false, softmax, output projection; checked
there against torch.nn.MultiheadAttention), LayerNormalization as make_normalization_fixtures.py's
numpy_ln, Dense, relu/gelu (exact, erf). Writes tests/reference/fixtures_torch/transformer/<case>.json
+ index.json (Keras 3 functional model_configs with keras-hub's registered names and its saved
weight layout in the weight names, "<layer>/_self_attention_layer/query_dense/kernel", ...).

keras-hub's blocks, x (B, T, D):
  post-norm  x = LN_a(x + MHA(x, x)) [, x = LN_c(x + MHA(x, enc))], y = LN_f(x + FFN(x))
  pre-norm   x = x + MHA(LN_a(x), ...) [, ...], y = x + FFN(LN_f(x))
  FFN(x) = Dense(D)(activation(Dense(intermediate_dim)(x))); heads of key_dim = D // num_heads.
Masks:
  encoder  the padding mask (padding_mask, else the inputs' Keras mask) as (B, 1, S), ANDed with
           attention_mask; Keras 3's MultiHeadAttention.call adds the query mask (B, T, 1) from the
           query's own Keras mask (the inputs', also after LN with normalize_first: LayerNormalization
           passes masks on). A padded query row is then masked everywhere: in float32 score - 1e9 rounds
           to -1e9 and the row is uniform; in float64 it is not. Such fixtures carry "outputs_float32"
           (the whole model run again with uniform fully masked rows) next to the float64 "outputs".
  decoder  keras-hub's CachedMultiHeadAttention takes no query mask: self-attention mask = decoder
           padding mask (B, 1, T) & decoder_attention_mask & causal (use_causal_mask, default True);
           cross-attention mask = encoder padding mask (B, 1, S) & encoder_attention_mask.
  The outputs carry the first input's mask; GlobalAveragePooling1D averages the kept steps.

Independent cross-check (checks.torch_crosscheck in the fixtures): torch.nn.TransformerEncoderLayer /
TransformerDecoderLayer (float64, batch_first, norm_first as normalize_first, dropout 0, eval) with the
Keras weights mapped:
  self_attn.in_proj_weight = [Wq; Wk; Wv], Wx = Keras kernel (D, N, H) reshaped (D, N*H) and transposed;
  self_attn.in_proj_bias = the three biases flattened; self_attn.out_proj.weight = output kernel (N, H, D)
  reshaped (N*H, D) and transposed, out_proj.bias = output bias (the decoder's multihead_attn likewise);
  linear1 = feedforward_intermediate_dense (weight = kernel^T), linear2 = feedforward_output_dense;
  norm1 = self_attention_layer_norm, norm2 = feedforward_layer_norm (encoder) / cross_attention_layer_norm
  (decoder), norm3 = feedforward_layer_norm (decoder); layer_norm_eps = layer_norm_epsilon.
  Masks: src_key_padding_mask / tgt_key_padding_mask / memory_key_padding_mask = not padding mask,
  tgt_mask = the causal mask. torch has no query mask, so rows Keras masks everywhere (padded encoder
  queries) are left out of the comparison. The script stops if torch and the composition differ by
  more than 1e-10 on the compared rows.

TF.js 4.22's TransformerDecoder (@tensorflow/tfjs-layers/dist/layers/nlp/modeling/transformer_decoder.js)
differs from keras-hub: it has no cross-attention, its feedforward block normalises with the
self-attention's LayerNormalization (selfAttentionLayernorm) instead of feedforward_layer_norm, and its
useCausalMask defaults to off. It matches keras-hub when both LayerNormalizations have the same weights:
the decoder-only case is also run through it (tools/keras-reference/tfjs_transformer_decoder.mjs, node)
with feedforward_layer_norm given the self-attention's weights, against the composition on those weights
(checks.tfjs_crosscheck; float32 tfjs, the script stops above 1e-5).

Usage: /usr/bin/python3 tools/torch-reference/make_transformer_fixtures.py [--out DIR] [--seed UINT32]
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_index import F32List, F64List, parse_args, prepare_out_dir, write_case, write_index  # noqa: E402
from make_gru_fixtures import SplitMix64, fnv1a32  # noqa: E402
from make_merge_fixtures import init, policy  # noqa: E402
from make_normalization_fixtures import numpy_ln  # noqa: E402

FORMAT_VERSION = 1
GENERATOR = 'tools/torch-reference/make_transformer_fixtures.py'
GROUP = 'transformer'
KERAS_VERSION = '3.10.0'
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
LARGE_NEGATIVE = -1e9


# --- the pieces, float64 numpy -------------------------------------------------------------------

def activation(name, x):
    if name == 'relu':
        return np.maximum(x, 0.0)
    if name == 'gelu':  # Keras' gelu by name: exact, 0.5 x (1 + erf(x / sqrt 2))
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    if name == 'softmax':
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)
    assert name == 'linear'
    return x


def dense(x, w, act='linear'):
    return activation(act, x @ w['kernel'] + w['bias'])


def layer_norm(x, w, eps):
    return numpy_ln(x, [x.ndim - 1], w['gamma'], w['beta'], eps, False)


def mha(q, v, w, heads, allowed, f32):
    """Keras 3 MultiHeadAttention (key = value); allowed (B, T, S) bool or None. f32: a row masked
    everywhere is uniform (float32's score - 1e9 == -1e9)."""
    key_dim = w['query/kernel'].shape[-1]
    B, T, S = q.shape[0], q.shape[1], v.shape[1]
    qp = np.einsum('btc,cnh->bnth', q, w['query/kernel']) + w['query/bias'][None, :, None, :]
    kp = np.einsum('bsc,cnh->bnsh', v, w['key/kernel']) + w['key/bias'][None, :, None, :]
    vp = np.einsum('bsc,cnh->bnsh', v, w['value/kernel']) + w['value/bias'][None, :, None, :]
    logits = (qp / math.sqrt(key_dim)) @ np.swapaxes(kp, -1, -2)  # (B, N, T, S)
    if allowed is not None:
        logits = logits + np.where(allowed[:, None], 0.0, LARGE_NEGATIVE)
    probs = activation('softmax', logits)
    if f32 and allowed is not None:
        full = ~allowed.any(axis=-1)  # (B, T)
        probs = np.where(full[:, None, :, None], 1.0 / S, probs)
    ctx = probs @ vp  # (B, N, T, H)
    return np.einsum('bnth,nhd->btd', ctx, w['attention_output/kernel']) + w['attention_output/bias']


def combine(B, T, S, *masks):
    """AND of masks broadcastable to (B, T, S) (None: absent); None when all are absent."""
    out = None
    for m in masks:
        if m is None:
            continue
        m = np.broadcast_to(m, (B, T, S))
        out = m.copy() if out is None else (out & m)
    return out


def block(x, attend, norm, normalize_first):
    if normalize_first:
        return x + attend(norm(x))
    return norm(x + attend(x))


def ffn_block(x, w, o):
    eps = o['layer_norm_epsilon']
    ffn = lambda h: dense(dense(h, w['_feedforward_intermediate_dense'], o['activation']),  # noqa: E731
                          w['_feedforward_output_dense'])
    return block(x, ffn, lambda h: layer_norm(h, w['_feedforward_layer_norm'], eps), o['normalize_first'])


def encoder(x, w, o, input_mask, padding_mask, attention_mask, f32):
    B, T = x.shape[0], x.shape[1]
    pad = padding_mask if padding_mask is not None else input_mask
    allowed = combine(B, T, T, None if pad is None else pad[:, None, :], attention_mask,
                      None if input_mask is None else input_mask[:, :, None])
    eps = o['layer_norm_epsilon']
    x = block(x, lambda h: mha(h, h, w['_self_attention_layer'], o['num_heads'], allowed, f32),
              lambda h: layer_norm(h, w['_self_attention_layer_norm'], eps), o['normalize_first'])
    return ffn_block(x, w, o)


def decoder(x, enc, w, o, dec_pad, dec_att, enc_pad, enc_att, causal, f32):
    B, T = x.shape[0], x.shape[1]
    tri = np.tril(np.ones((T, T), dtype=bool))[None] if causal else None
    allowed = combine(B, T, T, None if dec_pad is None else dec_pad[:, None, :], dec_att, tri)
    eps = o['layer_norm_epsilon']
    x = block(x, lambda h: mha(h, h, w['_self_attention_layer'], o['num_heads'], allowed, f32),
              lambda h: layer_norm(h, w['_self_attention_layer_norm'], eps), o['normalize_first'])
    if enc is not None:
        S = enc.shape[1]
        callowed = combine(B, T, S, None if enc_pad is None else enc_pad[:, None, :], enc_att)
        x = block(x, lambda h: mha(h, enc, w['_cross_attention_layer'], o['num_heads'], callowed, f32),
                  lambda h: layer_norm(h, w['_cross_attention_layer_norm'], eps), o['normalize_first'])
    return ffn_block(x, w, o)


# --- the independent check: torch.nn.Transformer{Encoder,Decoder}Layer ----------------------------

def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def load_attention(m, w):
    D = w['query/kernel'].shape[0]
    flat = lambda k: k.reshape(k.shape[0], -1).T  # noqa: E731
    with torch.no_grad():
        m.in_proj_weight.copy_(t64(np.concatenate([flat(w['query/kernel']), flat(w['key/kernel']),
                                                   flat(w['value/kernel'])])))
        m.in_proj_bias.copy_(t64(np.concatenate([w['query/bias'].ravel(), w['key/bias'].ravel(),
                                                 w['value/bias'].ravel()])))
        m.out_proj.weight.copy_(t64(w['attention_output/kernel'].reshape(-1, D).T))
        m.out_proj.bias.copy_(t64(w['attention_output/bias']))


def load_linear(m, w):
    with torch.no_grad():
        m.weight.copy_(t64(w['kernel'].T))
        m.bias.copy_(t64(w['bias']))


def load_norm(m, w):
    with torch.no_grad():
        m.weight.copy_(t64(w['gamma']))
        m.bias.copy_(t64(w['beta']))


def torch_layer(w, o, D, cross):
    cls = torch.nn.TransformerDecoderLayer if cross is not None else torch.nn.TransformerEncoderLayer
    if o['activation'] not in ('relu', 'gelu'):
        raise RuntimeError('torch cross-check: relu or gelu only')
    m = cls(D, o['num_heads'], dim_feedforward=o['intermediate_dim'], dropout=0.0, activation=o['activation'],
            layer_norm_eps=o['layer_norm_epsilon'], batch_first=True, norm_first=o['normalize_first'],
            dtype=torch.float64)
    m.eval()
    load_attention(m.self_attn, w['_self_attention_layer'])
    load_norm(m.norm1, w['_self_attention_layer_norm'])
    load_linear(m.linear1, w['_feedforward_intermediate_dense'])
    load_linear(m.linear2, w['_feedforward_output_dense'])
    if cross is not None:
        load_attention(m.multihead_attn, w['_cross_attention_layer'])
        load_norm(m.norm2, w['_cross_attention_layer_norm'])
        load_norm(m.norm3, w['_feedforward_layer_norm'])
    else:
        load_norm(m.norm2, w['_feedforward_layer_norm'])
    return m


# --- TF.js' TransformerDecoder (decoder-only, both LayerNormalizations the same) -------------------

TFJS_DIR = os.path.join(REPO_ROOT, 'tools', 'keras-reference')


def tfjs_decoder(x, w, o, causal):
    """tools/keras-reference/tfjs_transformer_decoder.mjs on x and w (float32 in tfjs)."""
    import json
    import subprocess
    flat = lambda a: {'shape': list(np.shape(a)), 'data': [float(v) for v in np.ravel(a)]}  # noqa: E731
    weights = {}
    for label, v in w['_self_attention_layer'].items():
        weights[label] = flat(v)
    for sub in ('_self_attention_layer_norm', '_feedforward_intermediate_dense', '_feedforward_output_dense'):
        for k, v in w[sub].items():
            weights[f'{sub[1:]}/{k}'] = flat(v)
    spec = {'intermediate_dim': o['intermediate_dim'], 'num_heads': o['num_heads'], 'use_causal_mask': causal,
            'x': flat(x), 'weights': weights}
    run = subprocess.run(['node', '--import', './tfjs-nlp-register.mjs', 'tfjs_transformer_decoder.mjs'],
                         cwd=TFJS_DIR, input=json.dumps(spec), capture_output=True, text=True, check=True)
    out = json.loads(run.stdout)
    return np.array(out['data'], dtype=np.float64).reshape(out['shape'])


# --- Keras 3 functional graph with the values alongside -------------------------------------------

class Graph:
    def __init__(self, name, rng):
        self.name, self.rng = name, rng
        self.layers, self.weights, self.inputs = [], [], []
        self.values = {}  # name -> (float64 value, float32-semantics value, Keras mask or None)
        self.checks = {}
        self.full_rows = False

    @staticmethod
    def ref(name):
        return {'class_name': '__keras_tensor__',
                'config': {'shape': None, 'dtype': 'float32', 'keras_history': [name, 0, 0]}}

    def input(self, name, value):
        self.layers.append({'module': 'keras.layers', 'class_name': 'InputLayer',
                            'config': {'batch_shape': [None] + list(value.shape[1:]), 'dtype': 'float32',
                                       'sparse': False, 'name': name},
                            'registered_name': None, 'name': name, 'inbound_nodes': []})
        self.inputs.append((name, value))
        self.values[name] = (value, value, None)
        return name

    def add(self, cls, name, cfg, args, kwargs=None, weights=(), module='keras.layers', registered=None):
        base = {'name': name, 'trainable': True, 'dtype': policy()}
        base.update(cfg)
        node_kwargs = {k: (self.ref(v) if isinstance(v, str) else v) for k, v in (kwargs or {}).items()}
        self.layers.append({'module': module, 'class_name': cls, 'config': base, 'registered_name': registered,
                            'build_config': {'input_shape': None}, 'name': name,
                            'inbound_nodes': [{'args': [self.ref(a) for a in args], 'kwargs': node_kwargs}]})
        self.weights.append({'name': name, 'class_name': cls, 'config': dict(base),
                             'weights': [{'name': f'{name}/{n}', 'shape': list(v.shape), 'data': F32List(v)}
                                         for n, v in weights]})

    def kernel(self, shape, fan_in):
        return self.rng.array(shape, 2.0 / math.sqrt(fan_in))

    def token_and_position(self, x, name, vocab, seq, dim):
        ids = self.values[x][0]
        tok, pos = self.rng.array((vocab, dim), 1.0), self.rng.array((seq, dim), 1.0)
        self.add('TokenAndPositionEmbedding', name,
                 {'vocabulary_size': vocab, 'sequence_length': seq, 'embedding_dim': dim,
                  'embeddings_initializer': init('RandomUniform'), 'tie_weights': True, 'mask_zero': True}, [x],
                 weights=[('token_embedding/embeddings', tok), ('position_embedding/embeddings', pos)],
                 module='keras_hub.src.layers.modeling.token_and_position_embedding',
                 registered='keras_hub>TokenAndPositionEmbedding')
        out = tok[ids.astype(np.int64)] + pos[:ids.shape[1]]
        self.values[name] = (out, out, ids != 0)
        return name

    def masking(self, x, name):
        self.add('Masking', name, {'mask_value': 0.0}, [x])
        v = self.values[x][0]
        keep = np.any(v != 0.0, axis=-1)
        self.values[name] = (v * keep[..., None], v * keep[..., None], keep)
        return name

    def attention_weights(self, prefix, d_query, d_kv, heads):
        key_dim = d_query // heads
        w, listed = {}, []
        for sub, label, shape, fan in (('query_dense', 'query', (d_query, heads, key_dim), d_query),
                                       ('key_dense', 'key', (d_kv, heads, key_dim), d_kv),
                                       ('value_dense', 'value', (d_kv, heads, key_dim), d_kv),
                                       ('output_dense', 'attention_output', (heads, key_dim, d_query),
                                        heads * key_dim)):
            k = self.kernel(shape, fan)
            b = self.rng.array(shape[1:] if sub != 'output_dense' else (d_query,), 0.5)
            w[f'{label}/kernel'], w[f'{label}/bias'] = k, b
            listed += [(f'{prefix}/{sub}/kernel', k), (f'{prefix}/{sub}/bias', b)]
        return w, listed

    def norm_weights(self, prefix, d):
        g = (1.0 + self.rng.array((d,), 0.3)).astype(np.float32).astype(np.float64)
        b = self.rng.array((d,), 0.3)
        return {'gamma': g, 'beta': b}, [(f'{prefix}/gamma', g), (f'{prefix}/beta', b)]

    def dense_weights(self, prefix, d_in, units):
        k, b = self.kernel((d_in, units), d_in), self.rng.array((units,), 0.5)
        return {'kernel': k, 'bias': b}, [(f'{prefix}/kernel', k), (f'{prefix}/bias', b)]

    def transformer(self, kind, name, x, o, enc=None, tensor_kwargs=None, kwargs=None, crosscheck=None):
        """kind 'encoder' or 'decoder'; o: intermediate_dim, num_heads, activation, layer_norm_epsilon,
        normalize_first; tensor_kwargs {call argument: tensor name}; kwargs non-tensor call arguments."""
        o = dict({'activation': 'relu', 'layer_norm_epsilon': 1e-5, 'normalize_first': False}, **o)
        xv, x32, xmask = self.values[x]
        D = xv.shape[-1]
        w, listed = {}, []

        def put(key, made):
            w[key] = made[0]
            listed.extend(made[1])

        put('_self_attention_layer', self.attention_weights('_self_attention_layer', D, D, o['num_heads']))
        put('_self_attention_layer_norm', self.norm_weights('_self_attention_layer_norm', D))
        if kind == 'decoder' and enc is not None:
            E = self.values[enc][0].shape[-1]
            put('_cross_attention_layer', self.attention_weights('_cross_attention_layer', D, E, o['num_heads']))
            put('_cross_attention_layer_norm', self.norm_weights('_cross_attention_layer_norm', D))
        if kind == 'encoder':
            put('_feedforward_layer_norm', self.norm_weights('_feedforward_layer_norm', D))
        put('_feedforward_intermediate_dense', self.dense_weights('_feedforward_intermediate_dense', D,
                                                                  o['intermediate_dim']))
        put('_feedforward_output_dense', self.dense_weights('_feedforward_output_dense', o['intermediate_dim'], D))
        if kind == 'decoder':
            put('_feedforward_layer_norm', self.norm_weights('_feedforward_layer_norm', D))
        cfg = {'intermediate_dim': o['intermediate_dim'], 'num_heads': o['num_heads'], 'dropout': 0,
               'activation': o['activation'], 'layer_norm_epsilon': o['layer_norm_epsilon'],
               'kernel_initializer': init('GlorotUniform'), 'bias_initializer': init('Zeros')}
        if kind == 'encoder':
            cfg.update({'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None})
        cfg['normalize_first'] = o['normalize_first']
        if kind == 'decoder':
            cfg['decoder_sequence_shape'] = [None] + list(xv.shape[1:])
            cfg['encoder_sequence_shape'] = None if enc is None else [None] + list(self.values[enc][0].shape[1:])
        tensor_kwargs = dict(tensor_kwargs or {})
        args = [x] + ([enc] if enc is not None and 'encoder_sequence' not in tensor_kwargs else [])
        all_kwargs = dict(tensor_kwargs)
        all_kwargs.update(kwargs or {})
        cls = 'TransformerEncoder' if kind == 'encoder' else 'TransformerDecoder'
        module = 'transformer_encoder' if kind == 'encoder' else 'transformer_decoder'
        self.add(cls, name, cfg, args, all_kwargs, listed, module=f'keras_hub.src.layers.modeling.{module}',
                 registered=f'keras_hub>{cls}')

        def val(key, f32):
            if key is None:
                return None
            return self.values[key][1 if f32 else 0]

        def as_mask(key):
            return None if key is None else (self.values[key][0] != 0)

        def run(f32):
            xin = x32 if f32 else xv
            if kind == 'encoder':
                return encoder(xin, w, o, xmask, as_mask(tensor_kwargs.get('padding_mask')),
                               as_mask(tensor_kwargs.get('attention_mask')), f32)
            e = tensor_kwargs.get('encoder_sequence', enc)
            emask = None if e is None else self.values[e][2]
            ep = as_mask(tensor_kwargs.get('encoder_padding_mask'))
            return decoder(xin, val(e, f32), w, o, as_mask(tensor_kwargs.get('decoder_padding_mask')) if
                           'decoder_padding_mask' in tensor_kwargs else xmask,
                           as_mask(tensor_kwargs.get('decoder_attention_mask')),
                           ep if ep is not None else emask, as_mask(tensor_kwargs.get('encoder_attention_mask')),
                           (kwargs or {}).get('use_causal_mask', True), f32)

        out64, out32 = run(False), run(True)
        if kind == 'encoder' and xmask is not None and not xmask.all():
            self.full_rows = True
        if crosscheck is not None:
            self.crosscheck(kind, w, o, xv, enc, xmask, out64, crosscheck, tensor_kwargs, kwargs)
        if kind == 'decoder' and enc is None and xmask is None and not tensor_kwargs and o['activation'] == 'relu' \
                and not o['normalize_first']:
            # TF.js' decoder, with keras-hub's feedforward_layer_norm given the self-attention's
            # LayerNormalization weights (tfjs normalises the feedforward block with those).
            same = dict(w, _feedforward_layer_norm=w['_self_attention_layer_norm'])
            causal = (kwargs or {}).get('use_causal_mask', True)
            want = decoder(xv, None, same, o, None, None, None, None, causal, False)
            err = float(np.max(np.abs(tfjs_decoder(xv, w, o, causal) - want)))
            if err > 1e-5:
                raise RuntimeError(f'{self.name}: tfjs TransformerDecoder and the composition differ by {err}')
            self.checks['tfjs_crosscheck'] = {
                'what': 'TF.js 4.22 TransformerDecoder (float32) on these weights with feedforward_layer_norm set to '
                        'the self-attention LayerNormalization\'s (tfjs uses that one for both), against the '
                        'composition on the same weights', 'max_abs_difference': err, 'tolerance': 1e-5,
                'passed': True}
        self.values[name] = (out64, out32, xmask)
        return name

    def crosscheck(self, kind, w, o, xv, enc, xmask, want, what, tensor_kwargs, kwargs):
        D = xv.shape[-1]
        m = torch_layer(w, o, D, enc if kind == 'decoder' else None)
        with torch.no_grad():
            if kind == 'decoder' and enc is None:
                T = xv.shape[1]
                got = m(t64(xv), src_mask=torch.triu(torch.ones(T, T, dtype=torch.bool), 1)).numpy()
            elif kind == 'encoder':
                kpm = None if xmask is None else t64(~xmask).bool()
                got = m(t64(xv), src_key_padding_mask=kpm).numpy()
            else:
                T = xv.shape[1]
                causal = (kwargs or {}).get('use_causal_mask', True)
                tgt_mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
                emask = self.values[enc][2]
                got = m(t64(xv), t64(self.values[enc][0]), tgt_mask=tgt_mask,
                        tgt_key_padding_mask=None if xmask is None else torch.tensor(~xmask),
                        memory_key_padding_mask=None if emask is None else torch.tensor(~emask)).numpy()
        rows = np.ones(xv.shape[:2], dtype=bool) if (kind == 'decoder' or xmask is None) else xmask
        err = float(np.max(np.abs(got - want)[rows]))
        if err > 1e-10:
            raise RuntimeError(f'{self.name}: torch.nn and the composition differ by {err}')
        self.checks['torch_crosscheck'] = {'what': what, 'max_abs_difference': err, 'tolerance': 1e-10,
                                           'compared_rows': int(rows.sum()), 'passed': True}

    def gap(self, x, name):
        self.add('GlobalAveragePooling1D', name, {'data_format': 'channels_last', 'keepdims': False}, [x])
        v64, v32, mask = self.values[x]

        def pool(v):
            if mask is None:
                return v.mean(axis=1)
            m = mask[..., None].astype(np.float64)
            return (v * m).sum(axis=1) / m.sum(axis=1)
        self.values[name] = (pool(v64), pool(v32), None)
        return name

    def dense(self, x, name, units, act):
        v64, v32, mask = self.values[x]
        w, listed = self.dense_weights('', v64.shape[-1], units)
        cfg = {'units': units, 'activation': act, 'use_bias': True, 'kernel_initializer': init('GlorotUniform'),
               'bias_initializer': init('Zeros'), 'kernel_regularizer': None, 'bias_regularizer': None,
               'kernel_constraint': None, 'bias_constraint': None}
        self.add('Dense', name, cfg, [x], weights=[(n.lstrip('/'), a) for n, a in listed])
        self.values[name] = (dense(v64, w, act), dense(v32, w, act), mask)
        return name

    def model_config(self, outputs):
        return {'module': 'keras.src.models.functional', 'class_name': 'Functional',
                'config': {'name': self.name, 'trainable': True, 'layers': self.layers,
                           'input_layers': [[n, 0, 0] for n, _ in self.inputs],
                           'output_layers': [[o, 0, 0] for o in outputs]},
                'registered_name': 'Functional', 'build_config': {'input_shape': None}}


def padded_ids(rng, lengths, steps, vocab):
    return np.array([[rng.int(1, vocab - 1) if t < n else 0 for t in range(steps)] for n in lengths],
                    dtype=np.float64)


def build_cases():
    cases = []

    def add(name, desc, fn):
        cases.append((name, desc, fn))

    def post(g):
        x = g.input('x', g.rng.array((2, 5, 8), 1.0))
        y = g.transformer('encoder', 'transformer_encoder', x, {'intermediate_dim': 16, 'num_heads': 2},
                          crosscheck='torch.nn.TransformerEncoderLayer(8, 2, 16, relu, post-norm), all rows')
        return [y], ['y']
    add('transformer_encoder_post_norm', 'x [2,5,8] -> keras_hub TransformerEncoder(intermediate_dim=16, '
        'num_heads=2) (post-norm, relu)', post)

    def pre(g):
        x = g.input('x', g.rng.array((3, 4, 6), 1.0))
        y = g.transformer('encoder', 'transformer_encoder', x,
                          {'intermediate_dim': 10, 'num_heads': 3, 'activation': 'gelu', 'layer_norm_epsilon': 1e-6,
                           'normalize_first': True},
                          crosscheck='torch.nn.TransformerEncoderLayer(6, 3, 10, gelu, norm_first=True), all rows')
        return [y], ['y']
    add('transformer_encoder_pre_norm_gelu', 'x [3,4,6] -> TransformerEncoder(10, 3, activation="gelu", '
        'layer_norm_epsilon=1e-6, normalize_first=True)', pre)

    def token_mask(g):
        ids = g.input('ids', padded_ids(g.rng, (6, 4, 2), 6, 11))
        t = g.token_and_position(ids, 'token_and_position_embedding', 11, 8, 8)
        e1 = g.transformer('encoder', 'transformer_encoder', t, {'intermediate_dim': 12, 'num_heads': 2},
                           crosscheck='torch.nn.TransformerEncoderLayer with src_key_padding_mask, the kept '
                                      '(unpadded) rows')
        e2 = g.transformer('encoder', 'transformer_encoder_1', e1,
                           {'intermediate_dim': 12, 'num_heads': 4, 'normalize_first': True})
        return [e2], ['y']
    add('transformer_encoder_token_mask_two', 'ids [3,6] right-padded with 0 -> keras_hub '
        'TokenAndPositionEmbedding(11, 8, 8, mask_zero=True) -> TransformerEncoder(12, 2) -> TransformerEncoder(12, '
        '4, normalize_first=True): the ids mask masks key steps and (Keras\' MultiHeadAttention) query steps',
        token_mask)

    def kwargs_masks(g):
        B, T, D = 2, 5, 6
        x = g.input('x', g.rng.array((B, T, D), 1.0))
        pad = g.input('padding_mask', np.array([[1, 1, 1, 1, 0], [1, 1, 0, 1, 1]], dtype=np.float64))
        att = np.array([[[1.0 if (b + t + 2 * s) % 4 != 3 or s == 0 else 0.0 for s in range(T)] for t in range(T)]
                        for b in range(B)])
        am = g.input('attention_mask', att)
        y = g.transformer('encoder', 'transformer_encoder', x, {'intermediate_dim': 8, 'num_heads': 2},
                          tensor_kwargs={'padding_mask': pad, 'attention_mask': am})
        return [y], ['y']
    add('transformer_encoder_padding_attention_mask', 'x [2,5,6], padding_mask [2,5], attention_mask [2,5,5] -> '
        'TransformerEncoder(8, 2)(x, padding_mask=..., attention_mask=...): merged as padding (B,1,S) AND attention',
        kwargs_masks)

    def classifier(g):
        ids = g.input('ids', padded_ids(g.rng, (7, 3, 5, 1), 7, 20))
        t = g.token_and_position(ids, 'token_and_position_embedding', 20, 10, 16)
        e1 = g.transformer('encoder', 'transformer_encoder', t, {'intermediate_dim': 32, 'num_heads': 4})
        e2 = g.transformer('encoder', 'transformer_encoder_1', e1, {'intermediate_dim': 32, 'num_heads': 4})
        p = g.gap(e2, 'global_average_pooling1d')
        y = g.dense(p, 'dense', 3, 'softmax')
        return [y], ['probabilities']
    add('transformer_classifier', 'examples/transformer_classifier.cpp\'s model: ids [4,7] right-padded with 0 -> '
        'TokenAndPositionEmbedding(20, 10, 16, mask_zero=True) -> TransformerEncoder(32, 4) x2 -> '
        'GlobalAveragePooling1D (masked mean) -> Dense(3, softmax)', classifier)

    def dec_only(g):
        x = g.input('x', g.rng.array((2, 5, 8), 1.0))
        y = g.transformer('decoder', 'transformer_decoder', x, {'intermediate_dim': 16, 'num_heads': 2},
                          crosscheck='torch.nn.TransformerEncoderLayer(8, 2, 16, relu, post-norm) with the causal '
                                     'src_mask (a decoder without cross-attention is that block), all rows')
        return [y], ['y']
    add('transformer_decoder_causal', 'x [2,5,8] -> keras_hub TransformerDecoder(16, 2)(x): decoder-only, causal '
        'self-attention (use_causal_mask default True)', dec_only)

    def dec_cross(g):
        ids = g.input('ids', padded_ids(g.rng, (5, 3, 4), 5, 9))
        t = g.token_and_position(ids, 'token_and_position_embedding', 9, 6, 8)
        e = g.input('encoder_x', g.rng.array((3, 4, 8), 1.0))  # torch's cross-attention takes D features
        for b, s in ((0, 3), (2, 1), (2, 2)):
            g.inputs[-1][1][b, s, :] = 0.0
        em = g.masking(e, 'masking')
        y = g.transformer('decoder', 'transformer_decoder', t, {'intermediate_dim': 12, 'num_heads': 2}, enc=em,
                          crosscheck='torch.nn.TransformerDecoderLayer(8, 2, 12, relu, post-norm) with tgt_mask '
                                     '(causal), tgt_key_padding_mask, memory_key_padding_mask, all rows')
        return [y], ['y']
    add('transformer_decoder_cross_masks', 'ids [3,5] right-padded -> TokenAndPositionEmbedding(9, 6, 8, '
        'mask_zero=True); encoder x [3,4,8] -> Masking; TransformerDecoder(12, 2)(t, m): causal self-attention with '
        'the decoder padding mask, cross-attention with the encoder mask', dec_cross)

    def dec_kwargs(g):
        x = g.input('x', g.rng.array((2, 4, 6), 1.0))
        e = g.input('encoder_x', g.rng.array((2, 3, 4), 1.0))
        dp = g.input('decoder_padding_mask', np.array([[1, 1, 1, 0], [1, 0, 1, 1]], dtype=np.float64))
        ea = g.input('encoder_attention_mask',
                     np.array([[[1.0 if (t + s + b) % 3 != 2 or s == 1 else 0.0 for s in range(3)] for t in range(4)]
                               for b in range(2)]))
        y = g.transformer('decoder', 'transformer_decoder', x,
                          {'intermediate_dim': 8, 'num_heads': 2, 'normalize_first': True, 'activation': 'gelu'},
                          enc=e, tensor_kwargs={'encoder_sequence': e, 'decoder_padding_mask': dp,
                                                'encoder_attention_mask': ea}, kwargs={'use_causal_mask': False})
        return [y], ['y']
    add('transformer_decoder_pre_norm_kwargs', 'x [2,4,6], encoder x [2,3,4] -> TransformerDecoder(8, 2, gelu, '
        'normalize_first=True)(x, encoder_sequence=e, decoder_padding_mask=..., encoder_attention_mask=..., '
        'use_causal_mask=False)', dec_kwargs)
    return cases


def main():
    args = parse_args(__doc__, os.path.join(REPO_ROOT, 'tests', 'reference', 'fixtures_torch', GROUP))
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = args.out
    prepare_out_dir(out, GENERATOR)
    entries = []
    for name, desc, fn in build_cases():
        seed = fnv1a32(f'{GROUP}/{name}') ^ args.seed
        g = Graph(name, SplitMix64(seed))
        outs, labels = fn(g)
        for o in outs:
            v = g.values[o][0]
            if not np.all(np.isfinite(v)) or np.max(np.abs(v)) > 100:
                raise RuntimeError(f'{name}: output {o} out of range')
        fixture = {
            'format_version': FORMAT_VERSION, 'name': name, 'group': GROUP, 'seed': seed,
            'reference': 'numpy', 'numpy_version': np.__version__, 'torch_version': torch.__version__.split('+')[0],
            'compute_dtype': 'float64', 'keras_semantics': 'keras3', 'keras_version': KERAS_VERSION,
            'notes': desc + '. keras-hub\'s call() composed in float64 numpy (see the script); weights and inputs '
                     'are float32 values (kernels uniform(-1,1)*2/sqrt(fan_in), biases and betas uniform(-0.5,0.5) '
                     'and (-0.3,0.3), gammas 1+uniform(-0.3,0.3), inputs uniform(-1,1)).',
            'model_config': g.model_config(outs),
            'layers': g.weights,
            'inputs': [{'label': n, 'shape': list(v.shape), 'data': F32List(v)} for n, v in g.inputs],
            'outputs': [{'label': lab, 'shape': list(g.values[o][0].shape), 'data': F64List(g.values[o][0])}
                        for o, lab in zip(outs, labels)],
        }
        if g.full_rows:
            fixture['outputs_float32'] = [
                {'label': lab, 'shape': list(g.values[o][1].shape), 'data': F64List(g.values[o][1])}
                for o, lab in zip(outs, labels)]
            fixture['notes'] += (' Padded query steps are masked everywhere (Keras\' MultiHeadAttention takes the '
                                 'inputs\' mask as its query mask): -1e9 swallows their scores in float32 (uniform '
                                 'attention) but not in float64; "outputs_float32" holds the float32 result.')
        if g.checks:
            fixture['checks'] = g.checks
        entries.append(write_case(out, fixture))
        print(f'  {name}' + ''.join(f'  ({k} {v["max_abs_difference"]:.1e})' for k, v in g.checks.items()))
    write_index(out, GENERATOR, args.seed, entries, {'reference': 'numpy', 'compute_dtype': 'float64'})


if __name__ == '__main__':
    main()
