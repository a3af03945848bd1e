// Keras' activation layers with options of their own (strata: include/strata/layers/activation_layers.hpp):
// ReLU, LeakyReLU, PReLU, ELU, ThresholdedReLU and Softmax, as tfjs 4.22 implements them. What tfjs lacks
// (ReLU's negative_slope and threshold, ELU alpha != 1, Softmax over one non-last axis, Keras 3's Softmax
// mask rule, LeakyReLU's Keras 3 key) is in tools/torch-reference/make_activation_fixtures.py.
export default function (api) {
  const { tf, R, addCase, dense, fnInput, cases, uniformDraw } = api;
  const G = 'activation_layers';

  // PReLU's alpha: uniform(-1, 1) * 0.75 (Keras initialises it to 0; any value is a valid weight).
  api.weightRule('PReLU/alpha', uniformDraw(0.75));

  const relu = (o = {}) => tf.layers.reLU({ name: 're_lu', ...o });
  const leaky = (o = {}) => tf.layers.leakyReLU({ name: 'leaky_re_lu', ...o });
  const prelu = (o = {}) => tf.layers.prelu({ name: 'p_re_lu', alphaInitializer: 'zeros', ...o });
  const elu = (o = {}) => tf.layers.elu({ name: 'elu', ...o });
  const thresholded = (o = {}) => tf.layers.thresholdedReLU({ name: 'thresholded_re_lu', ...o });
  const softmax = (o = {}) => tf.layers.softmax({ name: 'softmax', ...o });
  const dims = (rng, rank) => Array.from({ length: rank - 1 }, () => R(rng, 1, rank === 2 ? 16 : rank === 3 ? 8 : 5));

  // ---- ReLU (tfjs: max_value only)
  addCase(G, 'relu_default_rank2', {
    sizes: rng => ({ d: dims(rng, 2) }), input: s => s.d, x: 3,
    layers: (s, first) => [relu(first)],
    desc: () => 'ReLU() (config max_value null): max(x, 0)',
  });
  addCase(G, 'relu_max_value_rank3', {
    sizes: rng => ({ d: dims(rng, 3), m: [0.5, 1, 1.75, 2.5][R(rng, 0, 3)] }), input: s => s.d, x: 3,
    layers: (s, first) => [relu({ maxValue: s.m, ...first })],
    desc: s => `ReLU(max_value=${s.m}): clip(x, 0, ${s.m})`,
  });
  addCase(G, 'relu_max_value6_rank4', {
    sizes: rng => ({ d: dims(rng, 4) }), input: s => s.d, x: 9,
    layers: (s, first) => [relu({ maxValue: 6, ...first })],
    desc: () => 'ReLU(max_value=6) (Keras takes its relu6 path), inputs up to 9 in size so that it saturates',
  });
  addCase(G, 'dense_relu_max_dense', {
    sizes: rng => ({ feat: R(rng, 1, 16), units: R(rng, 1, 16), out: R(rng, 1, 16) }), input: s => [s.feat], x: 2,
    layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), relu({ maxValue: 1 }),
      dense({ name: 'dense_1', units: s.out })],
    desc: s => `Dense(${s.units}) -> ReLU(max_value=1) -> Dense(${s.out})`,
  });

  // ---- LeakyReLU (tfjs and Keras 2 key: alpha; default 0.3 written out)
  addCase(G, 'leaky_relu_default_rank3', {
    sizes: rng => ({ d: dims(rng, 3) }), input: s => s.d, x: 3,
    layers: (s, first) => [leaky(first)],
    desc: () => 'LeakyReLU() (tfjs default alpha 0.3, written to the config as "alpha": 0.3)',
  });
  addCase(G, 'leaky_relu_alpha_rank4', {
    sizes: rng => ({ d: dims(rng, 4), a: [0.01, 0.1, 0.5, 1.5][R(rng, 0, 3)] }), input: s => s.d, x: 3,
    layers: (s, first) => [leaky({ alpha: s.a, ...first })],
    desc: s => `LeakyReLU(alpha=${s.a})`,
  });
  addCase(G, 'dense_leaky_relu_lstm', {
    sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 8), units: R(rng, 1, 8), u2: R(rng, 1, 8) }),
    input: s => [s.time, s.feat], x: 1,
    layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), leaky({ alpha: 0.2 }),
      api.lstm({ name: 'lstm', units: s.u2, recurrentActivation: 'sigmoid', returnSequences: true })],
    desc: s => `Dense(${s.units}) -> LeakyReLU(alpha=0.2) -> LSTM(${s.u2}, recurrent_activation=sigmoid, return_sequences=true)`,
  });

  // ---- PReLU (weight alpha: the input shape without batch, 1 on shared axes)
  addCase(G, 'prelu_rank2', {
    sizes: rng => ({ d: dims(rng, 2) }), input: s => s.d, x: 3,
    layers: (s, first) => [prelu(first)],
    desc: s => `PReLU() with alpha of shape [${s.d}] drawn uniform(-1,1)*0.75`,
  });
  addCase(G, 'prelu_rank3', {
    sizes: rng => ({ d: dims(rng, 3) }), input: s => s.d, x: 3,
    layers: (s, first) => [prelu(first)],
    desc: s => `PReLU() with alpha of shape [${s.d}] (one per position and feature) drawn uniform(-1,1)*0.75`,
  });
  addCase(G, 'prelu_rank4_shared_12', {
    sizes: rng => ({ d: dims(rng, 4) }), input: s => s.d, x: 3,
    layers: (s, first) => [prelu({ sharedAxes: [1, 2], ...first })],
    desc: s => `PReLU(shared_axes=[1, 2]) (one alpha per channel, as after a Conv2D): alpha [1,1,${s.d[2]}]`,
  });
  addCase(G, 'dense_prelu_shared_1_dense', {
    sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 8), units: R(rng, 1, 8), out: R(rng, 1, 8) }),
    input: s => [s.time, s.feat], x: 1,
    layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), prelu({ sharedAxes: 1 }),
      dense({ name: 'dense_1', units: s.out })],
    desc: s => `Dense(${s.units}) on a sequence -> PReLU(shared_axes=1) (an int; alpha [1,${s.units}] shared over time) ` +
      `-> Dense(${s.out})`,
  });

  // ---- ELU (tfjs: alpha 1 only)
  addCase(G, 'elu_default_rank3', {
    sizes: rng => ({ d: dims(rng, 3) }), input: s => s.d, x: 3,
    layers: (s, first) => [elu(first)],
    desc: () => 'ELU() (alpha 1): x > 0 ? x : exp(x) - 1',
  });

  // ---- ThresholdedReLU (Keras 2 only; tfjs has it)
  addCase(G, 'thresholded_relu_default_rank2', {
    sizes: rng => ({ d: dims(rng, 2) }), input: s => s.d, x: 3,
    layers: (s, first) => [thresholded(first)],
    desc: () => 'ThresholdedReLU() (theta 1): x > 1 ? x : 0',
  });
  addCase(G, 'thresholded_relu_theta_rank3', {
    sizes: rng => ({ d: dims(rng, 3), t: [0, 0.25, 0.5, 2][R(rng, 0, 3)] }), input: s => s.d, x: 3,
    layers: (s, first) => [thresholded({ theta: s.t, ...first })],
    desc: s => `ThresholdedReLU(theta=${s.t})`,
  });

  // ---- Softmax (tfjs: the default axis is 1, not Keras' -1, and it is always written to the config; a
  // single non-last axis throws in tfjs, several axes use exp(x - logsumexp(x)))
  addCase(G, 'softmax_default_rank2', {
    sizes: rng => ({ d: [R(rng, 2, 16)] }), input: s => s.d, x: 3,
    layers: (s, first) => [softmax(first)],
    desc: () => 'Softmax() (tfjs default axis 1, the last axis of a rank-2 input; the config says "axis": 1)',
  });
  addCase(G, 'softmax_last_rank3', {
    sizes: rng => ({ d: [R(rng, 1, 8), R(rng, 2, 8)] }), input: s => s.d, x: 3,
    layers: (s, first) => [softmax({ axis: -1, ...first })],
    desc: () => 'Softmax(axis=-1) on a sequence',
  });
  addCase(G, 'softmax_axes_12_rank3', {
    sizes: rng => ({ d: [R(rng, 1, 8), R(rng, 1, 8)] }), input: s => s.d, x: 3,
    layers: (s, first) => [softmax({ axis: [1, 2], ...first })],
    desc: () => 'Softmax(axis=[1, 2]): one distribution over all steps and features of a sample',
  });
  addCase(G, 'softmax_axes_13_rank4', {
    sizes: rng => ({ d: [R(rng, 1, 5), R(rng, 1, 5), R(rng, 1, 5)] }), input: s => s.d, x: 3,
    layers: (s, first) => [softmax({ axis: [1, 3], ...first })],
    desc: () => 'Softmax(axis=[1, 3]): axes that are not next to each other',
  });
  addCase(G, 'dense_softmax_axis_neg1_list', {
    sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 8), units: R(rng, 2, 8) }), input: s => [s.time, s.feat], x: 2,
    layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), softmax({ axis: [-1] })],
    desc: s => `Dense(${s.units}) -> Softmax(axis=[-1]) (a list of one axis)`,
  });

  // Softmax called with an explicit (batch, features) mask on a rank-2 input: tfjs adds -1e9 to the
  // masked logits (Keras 2 and Keras 3 < 3.10 do the same) and leaves the output there as it is: no row is
  // fully masked here, so the masked outputs are exp(-1e9 - max) = 0 anyway. Keras 3's zeroing of fully
  // masked rows is covered by the numpy fixtures.
  cases.push({
    group: G, name: 'softmax_call_mask_rank2',
    notes: s => `Softmax(axis=-1) on input [${s.batch},${s.feat}], called as layer.apply(x, {mask: call_mask}) with the ` +
      'explicit boolean mask in "call_mask" (shape [batch, features], 1 keep, 0 masked; every row keeps at least one ' +
      'value). tfjs adds -1e9 to the masked logits, so their outputs are 0 and the kept values share the mass. ' +
      'Inputs uniform(-1,1)*3.',
    sizes: rng => ({ batch: R(rng, 2, 5), feat: R(rng, 3, 8), shift: R(rng, 0, 2) }),
    build: s => {
      const x = fnInput('x', [s.feat]);
      // Every third value masked (a pattern shifted per row), the row's first value always kept.
      const data = [];
      for (let b = 0; b < s.batch; ++b) {
        for (let f = 0; f < s.feat; ++f) data.push(f === 0 || (b + f + s.shift) % 3 !== 0 ? 1 : 0);
      }
      return {
        models: [{ suffix: '', model: tf.model({ name: 'softmax_call_mask_rank2', inputs: x.tensor,
          outputs: softmax({ axis: -1 }).apply(x.tensor) }) }],
        inputs: [{ label: 'x', shape: [s.batch, s.feat] }],
        kind: 'call_mask', callMask: { shape: [s.batch, s.feat], data },
        wScale: 1, bScale: 0.5, xScale: 3, outputLabels: ['y'],
      };
    },
  });

  // A functional graph mixing them.
  addCase(G, 'functional_activation_heads', {
    sizes: rng => ({ feat: R(rng, 1, 12), units: R(rng, 2, 12) }), x: 2,
    graph: s => {
      const xin = fnInput('x', [s.feat]);
      const h = dense({ name: 'dense', units: s.units }).apply(xin.tensor);
      const a = elu().apply(h);
      const b = thresholded({ theta: 0.25 }).apply(leaky({ alpha: 0.05 }).apply(h));
      const c = softmax({ axis: -1 }).apply(prelu().apply(h));
      return { inputs: [xin], outputs: [a, b, c], labels: ['elu', 'thresholded', 'softmax'] };
    },
    desc: s => `h = Dense(${s.units})(x); outputs [ELU()(h), ThresholdedReLU(0.25)(LeakyReLU(0.05)(h)), ` +
      'Softmax(-1)(PReLU()(h))]',
  });
}
