// Normalization layers (issue 16): BatchNormalization and LayerNormalization, the two tfjs has.
//
// tfjs 4.22 BatchNormalization is right only on the last axis (on the CPU backend a non-last axis
// applies the statistics cyclically in flat order), so the axis=1 cases live in the numpy/PyTorch
// reference (tools/torch-reference/make_normalization_fixtures.py), as do UnitNormalization,
// GroupNormalization, RMSNormalization and LayerNormalization's rms_scaling, which tfjs lacks.
// tfjs' defaults agree with Keras 3's (epsilon 1e-3 for both layers); tfjs always writes epsilon.

export default function (api) {
  const { tf, R, addCase, dense, lstm, td } = api;

  // gamma and the moving variance positive around 1 (uniform(0.5, 1.5)), beta and the moving mean
  // uniform(-0.5, 0.5): every value a float32.
  const around1 = ({ shape, rng }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; ++i) data[i] = Math.fround(1 + rng.f32(0.5));
    return data;
  };
  const half = api.uniformDraw(0.5);
  api.weightRule('BatchNormalization/gamma', around1);
  api.weightRule('BatchNormalization/beta', half);
  api.weightRule('BatchNormalization/moving_mean', half);
  api.weightRule('BatchNormalization/moving_variance', around1);
  api.weightRule('LayerNormalization/gamma', around1);
  api.weightRule('LayerNormalization/beta', half);

  const bn = (o = {}) => tf.layers.batchNormalization({ name: 'batch_normalization', ...o });
  const ln = (o = {}) => tf.layers.layerNormalization({ name: 'layer_normalization', ...o });
  const G = 'normalization';
  const cfgText = o => Object.entries(o).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');

  // ---- BatchNormalization (last axis) -------------------------------------------------------
  addCase(G, 'bn_dense_rank2', {
    sizes: rng => ({ feat: R(rng, 1, 12), units: R(rng, 1, 12) }),
    input: s => [s.feat],
    layers: (s, first) => [dense({ name: 'dense', units: s.units, activation: 'relu', ...first }), bn()],
    desc: s => `Dense(${s.units}, relu) -> BatchNormalization() (axis -1, epsilon 1e-3 by default, inference: moving statistics)`,
    more: 'gamma and moving_variance uniform(0.5,1.5), beta and moving_mean uniform(-0.5,0.5).',
  });
  addCase(G, 'bn_lstm_seq_rank3', {
    sizes: rng => ({ time: R(rng, 1, 6), feat: R(rng, 1, 6), units: R(rng, 1, 8) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true, ...first }),
      bn({ axis: -1 })],
    desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true) -> BatchNormalization(axis=-1) on the rank-3 sequence`,
    more: 'gamma and moving_variance uniform(0.5,1.5), beta and moving_mean uniform(-0.5,0.5).',
  });
  for (const [name, o] of [['bn_rank4_last', {}], ['bn_rank3_no_center', { center: false }],
    ['bn_rank3_no_scale', { scale: false }], ['bn_rank2_no_center_no_scale', { center: false, scale: false }],
    ['bn_rank3_epsilon_0p1', { epsilon: 0.1 }], ['bn_rank2_axis1_positive', { axis: 1 }]]) {
    const rank = name.includes('rank4') ? 4 : name.includes('rank3') ? 3 : 2;
    addCase(G, name, {
      sizes: rng => ({ dims: Array.from({ length: rank - 1 }, () => R(rng, 1, 6)) }),
      input: s => s.dims,
      layers: (s, first) => [bn({ ...o, ...first })],
      desc: s => `BatchNormalization(${cfgText(o)}) alone on a rank-${rank} input (the last axis)`,
      more: 'gamma and moving_variance uniform(0.5,1.5), beta and moving_mean uniform(-0.5,0.5); x uniform(-1,1)*2.',
      x: 2,
    });
  }
  addCase(G, 'td_bn_rank3', {
    sizes: rng => ({ time: R(rng, 1, 6), feat: R(rng, 1, 8) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed', layer: bn(), ...first })],
    desc: s => `TimeDistributed(BatchNormalization()) on [B, ${s.time}, ${s.feat}]: each slice [B, ${s.feat}] normalised on its last axis`,
    more: 'The weights are the wrapped layer\'s, named time_distributed/<weight>.',
  });
  addCase(G, 'dense_bn_lstm_dense', {
    sizes: rng => ({ time: R(rng, 1, 6), feat: R(rng, 1, 6), hidden: R(rng, 1, 8), units: R(rng, 1, 8), out: R(rng, 1, 4) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [dense({ name: 'dense', units: s.hidden, ...first }), bn(),
      lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid' }), dense({ name: 'dense_1', units: s.out })],
    desc: s => `Dense(${s.hidden}) -> BatchNormalization() -> LSTM(${s.units}, recurrent_activation=sigmoid) -> Dense(${s.out})`,
  });

  // ---- LayerNormalization -------------------------------------------------------------------
  addCase(G, 'ln_dense_rank2', {
    sizes: rng => ({ feat: R(rng, 1, 12), units: R(rng, 2, 12) }),
    input: s => [s.feat],
    layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), ln()],
    desc: s => `Dense(${s.units}) -> LayerNormalization() (axis -1, epsilon 1e-3 by default)`,
    more: 'gamma uniform(0.5,1.5), beta uniform(-0.5,0.5).',
  });
  for (const [name, rank, o] of [['ln_rank3_last', 3, {}], ['ln_rank3_last2', 3, { axis: [-2, -1] }],
    ['ln_rank3_axis1', 3, { axis: 1 }], ['ln_rank4_axes_1_3', 4, { axis: [1, 3] }],
    ['ln_rank4_axes_1_2', 4, { axis: [1, 2] }],
    ['ln_rank3_no_center', 3, { center: false }], ['ln_rank3_no_scale', 3, { scale: false }],
    ['ln_rank2_no_center_no_scale', 2, { center: false, scale: false }],
    ['ln_rank3_epsilon_1e-5', 3, { epsilon: 1e-5 }]]) {
    addCase(G, name, {
      sizes: rng => ({ dims: Array.from({ length: rank - 1 }, () => R(rng, 2, 6)) }),
      input: s => s.dims,
      layers: (s, first) => [ln({ ...o, ...first })],
      desc: s => `LayerNormalization(${cfgText(o)}) alone on a rank-${rank} input`,
      more: 'gamma uniform(0.5,1.5), beta uniform(-0.5,0.5).',
    });
  }
  // A large mean over a small spread (inputs 100 + uniform(-1,1)) is in the float64 reference
  // (fixtures_torch/normalization/ln_offset_inputs_rank3): tfjs' float32 arithmetic is 2.5e-5 off there.
  addCase(G, 'td_ln_rank4', {
    sizes: rng => ({ time: R(rng, 1, 4), a: R(rng, 2, 4), b: R(rng, 2, 5) }),
    input: s => [s.time, s.a, s.b],
    layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed', layer: ln({ axis: [-2, -1] }), ...first })],
    desc: s => `TimeDistributed(LayerNormalization(axis=[-2,-1])) on [B, ${s.time}, ${s.a}, ${s.b}]`,
  });

  // Masking -> LayerNormalization -> LSTM: the mask passes LayerNormalization on to the LSTM.
  const PATTERNS = [[0, 1], [4, 5], [2, 3], [0, 3, 5]];
  addCase(G, 'masking_ln_lstm', {
    sizes: rng => ({ batch: 4, time: 6, feat: R(rng, 2, 6), units: R(rng, 1, 8) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [tf.layers.masking({ name: 'masking', maskValue: 0, ...first }), ln(),
      lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
    desc: s => `Masking(0) -> LayerNormalization() -> LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true); ` +
      `masked steps per sample: ${PATTERNS.map((p, b) => `sample ${b}: [${p}]`).join('; ')}`,
    more: 'LayerNormalization passes the mask on, so the LSTM carries its state over the masked steps (which ' +
      'LayerNormalization turned into beta) and repeats its previous output there.',
    draw: (rng, shape, scale) => {
      const [B, T, F] = shape;
      const data = new Float32Array(B * T * F);
      for (let i = 0; i < data.length; ++i) data[i] = rng.f32(scale);
      for (let b = 0; b < B; ++b) for (const t of PATTERNS[b]) for (let f = 0; f < F; ++f) data[(b * T + t) * F + f] = 0;
      return tf.tensor(data, shape, 'float32');
    },
  });
}
