// Attention: Keras 3's EinsumDense and MultiHeadAttention as TF.js 4.22 implements them
// (@tensorflow/tfjs-layers/dist/layers/nlp/, loaded through tfjs-nlp-resolve.mjs).
//
// TF.js cannot run these classes inside a model (they come from tfjs-layers' ES module tree, not
// from the bundle the model code uses, and MultiHeadAttention's call takes the input list as its
// query), so each case calls the layers eagerly (api.addEagerCase) and writes the graph in tfjs'
// Keras 2 format itself: InputLayers, Masking where a mask is wanted, the layer, its outputs.
// MultiHeadAttention's node is the one tf.keras 2's Node.serialize writes: the query's reference
// carries the call's other arguments, the tensors among them (value, key, attention_mask) as
// references and the flags (use_causal_mask, return_attention_scores) as they are.
//
// Not here, because TF.js departs from Keras 3 (tools/torch-reference/make_attention_fixtures.py
// covers them in float64 PyTorch): the key's mask (TF.js ignores it; Keras 3 ANDs it in), query
// masks (a masked query row is masked everywhere, which float32 and float64 Keras compute
// differently), EinsumDense equations with an ellipsis (tf.einsum has none), attention_mask of
// rank 4 and output_shape with several axes.
export default async function (api) {
  const { tf, R, addEagerCase, F32 } = api;
  const { MultiHeadAttention, EinsumDense, convertTsToPythonic, withClasses } = await api.nlp();
  const G = 'attention';
  const MAX_ABS = 10;

  const draw = (rng, shape, scale) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; ++i) data[i] = rng.f32(scale);
    return data;
  };
  const inputLayer = (name, shape) => ({
    name, class_name: 'InputLayer',
    config: { batch_input_shape: [null, ...shape.slice(1)], dtype: 'float32', sparse: false, name }, inbound_nodes: [],
  });
  const node = refs => [refs.map(r => [r, 0, 0, {}])];
  const topology = (name, layers, inputs, outputs) => ({
    class_name: 'Model',
    config: { name, layers, input_layers: inputs.map(n => [n, 0, 0]), output_layers: outputs },
    keras_version: `tfjs-layers ${tf.version['tfjs-layers']}`, backend: 'tensor_flow.js',
  });
  const snap = (label, t) => ({ label, shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) });
  const maxAbs = ts => ts.reduce((m, t) => t.data.reduce((mm, v) => Math.max(mm, Math.abs(v)), m), 0);
  // Runs attempt(rng) until every |output| <= MAX_ABS.
  const redraw = (rng, attempt) => {
    for (let attempts = 1; attempts <= 100; ++attempts) {
      const r = attempt(rng);
      if (maxAbs(r.outputs) <= MAX_ABS) return { ...r, attempts };
    }
    throw new Error('no draw with small outputs');
  };

  // --- EinsumDense: MultiHeadAttention's projections and other equations of the grammar.
  const einsumCases = [
    ['einsum_abc_cde_abde', 'abc,cde->abde', s => [s.b, s.t, s.f], s => [null, s.n, s.h], 'de', 'linear'],
    ['einsum_abcd_cde_abe', 'abcd,cde->abe', s => [s.b, s.t, s.n, s.h], s => [null, s.f], 'e', 'linear'],
    ['einsum_ab_bc_ac_tanh', 'ab,bc->ac', s => [s.b, s.f], s => [s.h], 'c', 'tanh'],
    ['einsum_ab_bc_ac_nobias_relu', 'ab,bc->ac', s => [s.b, s.f], s => [s.h], null, 'relu'],
    ['einsum_permuted_output', 'abc,cd->adb', s => [s.b, s.t, s.f], s => [s.h, s.t], 'b', 'linear'],
    ['einsum_two_contracted', 'abcd,bde->aec', s => [s.b, s.t, s.n, s.f], s => [s.h, s.n], 'ec', 'linear'],
    ['einsum_summed_label', 'abc,bcd->ad', s => [s.b, s.t, s.f], s => [s.h], 'd', 'linear'],
  ];
  for (const [name, equation, inShape, outShape, biasAxes, activation] of einsumCases) {
    addEagerCase(G, name, {
      sizes: rng => ({ b: R(rng, 1, 4), t: R(rng, 1, 5), f: R(rng, 1, 6), n: R(rng, 1, 3), h: R(rng, 1, 5) }),
      notes: s => `EinsumDense("${equation}", output_shape=${JSON.stringify(outShape(s))}, bias_axes=` +
        `${JSON.stringify(biasAxes)}, activation=${activation}) on x [${inShape(s)}], called eagerly (tfjs cannot ` +
        'run it in a model). Kernel uniform(-1,1)*2/sqrt(product of the contracted sizes), bias uniform(-1,1)*0.5, ' +
        'inputs uniform(-1,1).',
      run: ({ rng, s }) => withClasses(() => redraw(rng, g => tf.tidy(() => {
        const xs = inShape(s);
        const layer = new EinsumDense({ name: 'einsum_dense', equation, outputShape: outShape(s), biasAxes, activation,
          kernelInitializer: 'zeros', biasInitializer: 'zeros' });
        layer.build(xs);
        const inputSpec = equation.split(',')[0];
        const kernelSpec = equation.split(',')[1].split('->')[0];
        const fanIn = [...kernelSpec].filter(c => inputSpec.includes(c))
          .reduce((a, c) => a * xs[inputSpec.indexOf(c)], 1);
        const weights = layer.weights.map(w => {
          const base = w.originalName.split('/').pop();
          return { name: `einsum_dense/${base}`, shape: w.shape.slice(),
            data: draw(g, w.shape, base === 'kernel' ? 2 / Math.sqrt(fanIn) : 0.5) };
        });
        layer.setWeights(weights.map(w => tf.tensor(w.data, w.shape)));
        const x = draw(g, xs, 1);
        const y = layer.apply(tf.tensor(x, xs));
        const config = convertTsToPythonic(layer.getConfig());
        return {
          modelTopology: topology(name, [inputLayer('x', xs),
            { name: 'einsum_dense', class_name: 'EinsumDense', config, inbound_nodes: node(['x']) }],
          ['x'], [['einsum_dense', 0, 0]]),
          layers: [{ name: 'einsum_dense', class_name: 'EinsumDense', config,
            weights: weights.map(w => ({ name: w.name, shape: w.shape, data: new F32(w.data) })) }],
          inputs: [{ label: 'x', shape: xs, data: x }],
          outputs: [snap('y', y)],
        };
      }))),
    });
  }

  // --- MultiHeadAttention.
  // o: { heads, keyDim, valueDim, useBias, outputShape, key (a separate key input), valueMask
  //      (Masking on value: steps zeroed, at least one kept per sample), causal, scores,
  //      attentionMask (an explicit (B, T, S) input, at least one true per row), rank4 (query
  //      [B, 2, T, F], self-attention over both axes) }
  const addMha = (name, o) => addEagerCase(G, name, {
    sizes: rng => ({ b: R(rng, 1, 3), t: R(rng, 1, 5), s: o.self || o.rank4 ? 0 : R(rng, 1, 6), fq: R(rng, 1, 6),
      fv: R(rng, 1, 6), fk: R(rng, 1, 6), heads: o.heads ?? R(rng, 1, 3), keyDim: o.keyDim ?? R(rng, 1, 4) }),
    notes: s => `MultiHeadAttention(num_heads=${s.heads}, key_dim=${s.keyDim}` +
      `${o.valueDim ? `, value_dim=${o.valueDim}` : ''}${o.useBias === false ? ', use_bias=False' : ''}` +
      `${o.outputShape ? `, output_shape=${o.outputShape}` : ''}) ${o.desc}, called eagerly through TF.js' ` +
      'callAndReturnAttentionScores (tfjs cannot run it in a model). Kernels uniform(-1,1)*2/sqrt(fan_in) (fan_in ' +
      'the input features, heads*value_dim for the output), biases uniform(-1,1)*0.5, inputs uniform(-1,1).',
    run: ({ rng, s }) => withClasses(() => redraw(rng, g => tf.tidy(() => {
      const B = s.b, T = s.t;
      const qShape = o.rank4 ? [B, 2, T, s.fq] : [B, T, s.fq];
      const S = o.self || o.rank4 ? T : s.s;
      const vShape = o.self || o.rank4 ? qShape : [B, S, s.fv];
      const kShape = o.key ? [B, S, s.fk] : null;
      const valueDim = o.valueDim ?? s.keyDim;
      const layer = new MultiHeadAttention({ name: 'mha', numHeads: s.heads, keyDim: s.keyDim, valueDim: o.valueDim,
        useBias: o.useBias ?? true, outputShape: o.outputShape, kernelInitializer: 'zeros', biasInitializer: 'zeros' });
      layer.buildFromSignature(qShape, vShape, kShape);
      layer.queryDense.build(qShape);
      layer.keyDense.build(kShape ?? vShape);
      layer.valueDense.build(vShape);
      layer.outputDense.build([...qShape.slice(0, -1), s.heads, valueDim]);
      const weights = [];
      // Weight names as a converter writes them: <layer>/<sublayer>/<variable> (Keras' sublayer names).
      for (const [d, fanIn, sub] of [[layer.queryDense, qShape.at(-1), 'query'],
        [layer.keyDense, (kShape ?? vShape).at(-1), 'key'], [layer.valueDense, vShape.at(-1), 'value'],
        [layer.outputDense, s.heads * valueDim, 'attention_output']]) {
        const vals = d.weights.map(w => {
          const base = w.originalName.split('/').pop();
          const data = draw(g, w.shape, base === 'kernel' ? 2 / Math.sqrt(fanIn) : 0.5);
          weights.push({ name: `mha/${sub}/${base}`, shape: w.shape.slice(), data });
          return tf.tensor(data, w.shape);
        });
        d.setWeights(vals);
      }
      const inputs = [];
      const layers = [];
      const addInput = (label, shape, values) => {
        inputs.push({ label, shape, data: values });
        layers.push(inputLayer(label, shape));
        return tf.tensor(values, shape);
      };
      const q = addInput(o.self || o.rank4 ? 'x' : 'q', qShape, draw(g, qShape, 1));
      let v = q;
      let vRef = inputs[0].label;
      if (!(o.self || o.rank4)) {
        const vals = draw(g, vShape, 1);
        if (o.valueMask) {
          // Zero some value steps (Masking masks them), keeping at least one per sample.
          for (let b = 0; b < B; ++b) {
            const keep = R(g, 0, S - 1);
            for (let t = 0; t < S; ++t) {
              if (t !== keep && R(g, 0, 2) === 0) vals.fill(0, (b * S + t) * s.fv, (b * S + t + 1) * s.fv);
            }
          }
        }
        v = addInput('v', vShape, vals);
        vRef = 'v';
        if (o.valueMask) {
          layers.push({ name: 'masking', class_name: 'Masking', config: { mask_value: 0, name: 'masking', trainable: true },
            inbound_nodes: node(['v']) });
          v.kerasMask = tf.any(tf.notEqual(v, 0), -1);
          vRef = 'masking';
        }
      }
      const kwargs = { value: v, useCausalMask: !!o.causal };
      // The node's call arguments, as tf.keras 2 writes them for mha(q, v[, k], ...).
      const callKwargs = { value: [vRef, 0, 0] };
      if (o.key) {
        kwargs.key = addInput('k', kShape, draw(g, kShape, 1));
        callKwargs.key = ['k', 0, 0];
      }
      if (o.attentionMask) {
        const m = new Float32Array(B * T * S);
        for (let b = 0; b < B; ++b) {
          for (let t = 0; t < T; ++t) {
            const keep = R(g, 0, S - 1);
            for (let j = 0; j < S; ++j) m[(b * T + t) * S + j] = j === keep || R(g, 0, 1) === 1 ? 1 : 0;
          }
        }
        kwargs.attentionMask = addInput('attention_mask', [B, T, S], m);
        callKwargs.attention_mask = ['attention_mask', 0, 0];
      }
      if (o.causal) callKwargs.use_causal_mask = true;
      if (o.scores) callKwargs.return_attention_scores = true;
      const [y, scores] = layer.callAndReturnAttentionScores(q, kwargs);
      const config = convertTsToPythonic(layer.getConfig());
      layers.push({ name: 'mha', class_name: 'MultiHeadAttention', config,
        inbound_nodes: [[[inputs[0].label, 0, 0, callKwargs]]] });
      const outputs = [snap('y', y)];
      const outRefs = [['mha', 0, 0]];
      if (o.scores) {
        outputs.push(snap('scores', scores));
        outRefs.push(['mha', 0, 1]);
      }
      return {
        modelTopology: topology(name, layers, inputs.map(i => i.label), outRefs),
        layers: [
          ...(o.valueMask ? [{ name: 'masking', class_name: 'Masking', config: layers.find(l => l.name === 'masking').config,
            weights: [] }] : []),
          { name: 'mha', class_name: 'MultiHeadAttention', config,
            weights: weights.map(w => ({ name: w.name, shape: w.shape, data: new F32(w.data) })) }],
        inputs, outputs,
      };
    }))),
  });

  addMha('mha_self', { self: true, desc: 'called as mha(x, x) on x [B, T, F]' });
  addMha('mha_cross_key', { key: true, desc: 'called as mha(q, v, k) on q [B, T, Fq], v [B, S, Fv], k [B, S, Fk]' });
  addMha('mha_value_dim_output_shape', { valueDim: 4, outputShape: 3, heads: 2,
    desc: 'called as mha(q, v); output projected to 3 features' });
  addMha('mha_nobias', { useBias: false, key: true, desc: 'without biases, called as mha(q, v, k)' });
  addMha('mha_value_mask', { valueMask: true, scores: true,
    desc: 'called as mha(q, Masking()(v), return_attention_scores=True): the value mask [B, 1, S] masks key steps ' +
      '(-1e9 added before the softmax); outputs [output, scores]' });
  addMha('mha_causal_scores', { self: true, causal: true, scores: true,
    desc: 'called as mha(x, x, use_causal_mask=True, return_attention_scores=True); outputs [output, scores]' });
  addMha('mha_attention_mask', { attentionMask: true,
    desc: 'called as mha(q, v, attention_mask=m) with m [B, T, S] of 0/1 (every row keeps a step)' });
  addMha('mha_rank4_self', { rank4: true, scores: true,
    desc: 'called as mha(x, x) on x [B, 2, T, F]: Keras\' default attention_axes (1, 2) attend over both axes ' +
      'jointly; outputs [output, scores [B, N, 2, T, 2, T]]' });
}
