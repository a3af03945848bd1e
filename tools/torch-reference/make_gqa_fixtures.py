"""PyTorch float64 reference fixtures for Keras 3's GroupedQueryAttention.

Keras 3's keras/src/layers/attention/grouped_query_attention.py, transcribed in float64 PyTorch:
  - projections EinsumDense `bqm,muh->bquh` (query kernel (F, Nq, H), bias (Nq, H)) and
    `bkm,mvh->bkvh` (key/value kernels (F, Nkv, H), biases (Nkv, H)); the output `bquh,uhm->bqm`
    (kernel (Nq, H, F), bias (F,));
  - key and value heads repeated with ops.repeat(x, Nq // Nkv, axis=2): query head u reads
    key/value head u // (Nq // Nkv) (torch.repeat_interleave here);
  - scores softmax((q / sqrt(H)) k^T) over the key steps with Keras' _compute_attention_mask
    (query [B,T,1] & value [B,1,S] & key [B,1,S] & causal & attention_mask);
  - two masking paths. With return_attention_scores (or dropout > 0) Keras' Softmax adds -1e9 to
    masked scores; otherwise ops.dot_product_attention (JAX and TensorFlow backends) replaces them
    with -0.7 * the dtype's largest value. They differ only on a query row masked everywhere:
    uniform with the replacement; with -1e9 added, float64 keeps the scores' differences while
    float32 rounds every score - 1e9 to -1e9 (uniform too): such fixtures carry "outputs_float32".
The transcription is cross-checked against torch.nn.MultiheadAttention with the key/value kernels
repeated over the query heads (a GQA with Nkv key/value heads is an MHA whose key/value heads are
copies): in_proj_weight = [Wq; Wk_rep; Wv_rep] with each kernel reshaped to (F, Nq*H) and
transposed, out_proj.weight = output kernel reshaped to (Nq*H, F) and transposed.

Each case's model_config is a Keras 3 functional config with the call's keyword arguments (key,
attention_mask, use_causal_mask, return_attention_scores) as Keras writes them in the node's kwargs.

Usage: /usr/bin/python3 tools/torch-reference/make_gqa_fixtures.py [--out DIR] [--seed UINT32]
"""

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_attention_fixtures import Graph, generate, init, masked, t64  # noqa: E402
from make_gru_fixtures import SplitMix64  # noqa: E402

GENERATOR = 'tools/torch-reference/make_gqa_fixtures.py'
GROUP = 'gqa'
KERAS_VERSION = '3.10.0'
LARGE_NEGATIVE = -1e9


class GqaGraph(Graph):
    def gqa(self, name, q, v, k=None, head_dim=3, nq=4, nkv=2, use_bias=True, causal=False, attention_mask=None,
            scores=False, dropout=0.0):
        qv, vv = self.values[q], self.values[v]
        kv = self.values[k] if k is not None else vv
        f, fk, fv = qv.shape[-1], kv.shape[-1], vv.shape[-1]
        assert f == fv, 'Keras requires query and value features to agree'
        r = self.rng
        W = {}
        W['qk'] = r.array((f, nq, head_dim), 2.0 / math.sqrt(f))
        W['qb'] = r.array((nq, head_dim), 0.5)
        W['kk'] = r.array((fk, nkv, head_dim), 2.0 / math.sqrt(fk))
        W['kb'] = r.array((nkv, head_dim), 0.5)
        W['vk'] = r.array((fv, nkv, head_dim), 2.0 / math.sqrt(fv))
        W['vb'] = r.array((nkv, head_dim), 0.5)
        W['ok'] = r.array((nq, head_dim, f), 2.0 / math.sqrt(nq * head_dim))
        W['ob'] = r.array((f,), 0.5)
        if not use_bias:
            for b in ('qb', 'kb', 'vb', 'ob'):
                W[b] = np.zeros_like(W[b])
        qp = torch.einsum('bqm,muh->bquh', qv, t64(W['qk'])) + t64(W['qb'])
        kp = torch.einsum('bkm,mvh->bkvh', kv, t64(W['kk'])) + t64(W['kb'])
        vp = torch.einsum('bkm,mvh->bkvh', vv, t64(W['vk'])) + t64(W['vb'])
        rep = nq // nkv
        kp = torch.repeat_interleave(kp, rep, dim=2)
        vp = torch.repeat_interleave(vp, rep, dim=2)
        B, T, S = qv.shape[0], qv.shape[1], vv.shape[1]
        allowed = torch.ones(B, nq, T, S, dtype=torch.bool)
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
        logits = torch.einsum('bquh,bkuh->buqk', qp / math.sqrt(head_dim), kp)
        softmax_path = scores or dropout > 0
        full = ~allowed.any(dim=-1, keepdim=True)
        if softmax_path:
            add = torch.where(allowed, torch.zeros((), dtype=torch.float64),
                              torch.tensor(LARGE_NEGATIVE, dtype=torch.float64))
            probs = torch.softmax(logits + add, dim=-1)
        else:
            lowest = torch.tensor(-0.7 * np.finfo(np.float64).max, dtype=torch.float64)
            probs = torch.softmax(torch.where(allowed, logits, lowest), dim=-1)
        probs32 = torch.where(full, torch.full_like(probs, 1.0 / S), probs)

        def project(p):
            c = torch.einsum('buqk,bkuh->bquh', p, vp)
            return torch.einsum('bquh,uhm->bqm', c, t64(W['ok'])) + t64(W['ob'])
        out, out32 = project(probs), project(probs32)
        cfg = {'head_dim': head_dim, 'num_query_heads': nq, 'num_key_value_heads': nkv, 'use_bias': use_bias,
               'dropout': dropout, 'kernel_initializer': init('GlorotUniform'), 'bias_initializer': init('Zeros'),
               'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
               'kernel_constraint': None, 'bias_constraint': None, 'seed': None}
        args, kwargs = [q, v], {}
        if k is not None:
            kwargs['key'] = k
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
        entry = self.add_layer('GroupedQueryAttention', name, cfg, args, kwargs,
                               [(labels[o], W[o]) for o in order])
        self.values[name] = out
        self.masks[name] = qm
        outs = [name]
        if scores:
            self.values[name + ':1'] = probs
            outs.append(name + ':1')
        self.record_shapes(entry, outs)
        if softmax_path and bool(full.any()):
            self.float32[name] = out32
            if scores:
                self.float32[name + ':1'] = probs32
        return outs


def build_cases():
    cases = []

    def add(name, desc, fn):
        cases.append((name, desc, fn))

    def self_g2(g):
        x = g.input('x', g.rng.array((2, 5, 6), 1.0))
        return g.gqa('gqa', x, x, head_dim=3, nq=4, nkv=2), ['y']
    add('gqa_self_groups2', 'GroupedQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)(x, x) on '
        'x [2,5,6]', self_g2)

    def cross_g4(g):
        q = g.input('q', g.rng.array((2, 4, 6), 1.0))
        v = g.input('v', g.rng.array((2, 7, 6), 1.0))
        k = g.input('k', g.rng.array((2, 7, 3), 1.0))
        return g.gqa('gqa', q, v, k, head_dim=2, nq=4, nkv=1), ['y']
    add('gqa_cross_key_groups4', 'GroupedQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=1)(q, v, '
        'key=k): multi-query attention, key features 3', cross_g4)

    def g1_nobias(g):
        q = g.input('q', g.rng.array((2, 3, 4), 1.0))
        v = g.input('v', g.rng.array((2, 5, 4), 1.0))
        return g.gqa('gqa', q, v, head_dim=4, nq=2, nkv=2, use_bias=False, scores=True), ['y', 'scores']
    add('gqa_groups1_nobias_scores', 'GroupedQueryAttention(head_dim=4, num_query_heads=2, num_key_value_heads=2, '
        'use_bias=False)(q, v, return_attention_scores=True): one query head per key/value head', g1_nobias)

    def causal(g):
        x = g.input('x', g.rng.array((2, 6, 8), 1.0))
        return g.gqa('gqa', x, x, head_dim=2, nq=8, nkv=2, causal=True, scores=True), ['y', 'scores']
    add('gqa_causal_scores', 'GroupedQueryAttention(head_dim=2, num_query_heads=8, num_key_value_heads=2)(x, x, '
        'use_causal_mask=True, return_attention_scores=True)', causal)

    def causal_plain(g):
        x = g.input('x', g.rng.array((1, 9, 4), 1.0))
        return g.gqa('gqa', x, x, head_dim=4, nq=4, nkv=2, causal=True), ['y']
    add('gqa_causal', 'GroupedQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)(x, x, '
        'use_causal_mask=True): the dot_product_attention path', causal_plain)

    def masks(g, scores):
        q = g.input('q', masked(g.rng, (3, 4, 4), [(0, 3), (1, 0), (2, 2)]))
        v = g.input('v', masked(g.rng, (3, 5, 4), [(0, 0), (0, 4), (1, 2), (2, 1), (2, 3)]))
        qm, vm = g.masking(q, 'masking'), g.masking(v, 'masking_1')
        return g.gqa('gqa', qm, vm, head_dim=2, nq=4, nkv=2, scores=scores), (['y', 'scores'] if scores else ['y'])
    add('gqa_query_value_masks', 'q [3,4,4] -> Masking, v [3,5,4] -> Masking; GroupedQueryAttention(head_dim=2, '
        'num_query_heads=4, num_key_value_heads=2)(q, v): the dot_product_attention path, a masked query row '
        'uniform', lambda g: masks(g, False))
    add('gqa_query_value_masks_scores', 'as gqa_query_value_masks with return_attention_scores=True: the Softmax '
        'path, a masked query row shifted by -1e9 (uniform in float32)', lambda g: masks(g, True))

    def key_mask(g):
        q = g.input('q', g.rng.array((2, 3, 4), 1.0))
        v = g.input('v', g.rng.array((2, 5, 4), 1.0))
        k = g.input('k', masked(g.rng, (2, 5, 3), [(0, 1), (1, 3), (1, 4)]))
        km = g.masking(k, 'masking')
        return g.gqa('gqa', q, v, km, head_dim=3, nq=2, nkv=1), ['y']
    add('gqa_key_mask', 'k [2,5,3] -> Masking; GroupedQueryAttention(head_dim=3, num_query_heads=2, '
        'num_key_value_heads=1)(q, v, key=k): the key mask [B,1,S]', key_mask)

    def explicit(g):
        q = g.input('q', g.rng.array((2, 4, 3), 1.0))
        v = g.input('v', g.rng.array((2, 5, 3), 1.0))
        m = np.zeros((2, 4, 5), dtype=np.float32)
        for b in range(2):
            for t in range(4):
                for s in range(5):
                    # the diagonal kept: with the causal mask no row is masked everywhere
                    m[b, t, s] = 1.0 if s == t or (b + 2 * t + s) % 3 != 0 else 0.0
        am = g.input('attention_mask', m)
        return g.gqa('gqa', q, v, head_dim=3, nq=4, nkv=2, attention_mask=am, causal=True, scores=True), \
            ['y', 'scores']
    add('gqa_attention_mask_causal', 'GroupedQueryAttention(head_dim=3, num_query_heads=4, num_key_value_heads=2)'
        '(q [2,4,3], v [2,5,3], attention_mask=m [2,4,5], use_causal_mask=True, return_attention_scores=True)',
        explicit)
    return cases


def nn_mha_crosscheck(seed):
    """torch.nn.MultiheadAttention with the GQA weights mapped (key/value heads repeated) against
    the transcription: returns the largest difference."""
    rng = SplitMix64(seed)
    g = GqaGraph('crosscheck', rng)
    E, nq, nkv, h = 8, 4, 2, 2
    x = g.input('q', rng.array((2, 4, E), 1.0))
    v = g.input('v', rng.array((2, 5, E), 1.0))
    g.gqa('gqa', x, v, head_dim=h, nq=nq, nkv=nkv)
    w = {e['name'].split('/', 1)[1]: np.array(e['data'].values if hasattr(e['data'], 'values') else e['data'])
         .reshape(e['shape']) for e in g.weights[-1]['weights']}
    rep = nq // nkv
    kk = np.repeat(w['key/kernel'], rep, axis=1).reshape(E, nq * h)
    vk = np.repeat(w['value/kernel'], rep, axis=1).reshape(E, nq * h)
    kb = np.repeat(w['key/bias'], rep, axis=0).ravel()
    vb = np.repeat(w['value/bias'], rep, axis=0).ravel()
    m = torch.nn.MultiheadAttention(E, nq, bias=True, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        m.in_proj_weight.copy_(t64(np.concatenate([w['query/kernel'].reshape(E, nq * h).T, kk.T, vk.T])))
        m.in_proj_bias.copy_(t64(np.concatenate([w['query/bias'].ravel(), kb, vb])))
        m.out_proj.weight.copy_(t64(w['attention_output/kernel'].reshape(nq * h, E).T))
        m.out_proj.bias.copy_(t64(w['attention_output/bias']))
        y, _ = m(g.values['q'], g.values['v'], g.values['v'])
    return float(torch.max(torch.abs(y - g.values['gqa'])))


def main():
    generate(__doc__, GROUP, GENERATOR, KERAS_VERSION, GqaGraph, build_cases, nn_mha_crosscheck,
             'mapped (repeated) weights',
             ' Some query rows are masked everywhere: Keras\' Softmax adds -1e9 to every score '
             'there, which in float32 swallows the scores (the row becomes uniform) and in '
             'float64 does not; "outputs_float32" holds the float32 result, "outputs" the float64 '
             'one.')


if __name__ == '__main__':
    main()
