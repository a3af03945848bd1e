// Group misc: reshaping and miscellaneous layers that tfjs 4.22 has -- Permute, AlphaDropout,
// Rescaling (scalar scale and offset only in tfjs) and CategoryEncoding (output rank <= 2 in tfjs).
// Identity, Normalization, array Rescaling and the Keras 3 CategoryEncoding shapes tfjs lacks are
// in tools/torch-reference/make_misc_fixtures.py (numpy, fixtures_torch/misc/).

export default function (api) {
  const { tf, R, addCase, dense, lstm } = api;
  const add = (name, o) => addCase('misc', name, o);
  const permute = (dims, extra = {}) => tf.layers.permute({ name: 'permute', dims, ...extra });
  // tfjs CategoryEncoding.computeOutputShape writes num_tokens into the shape array it is given, which
  // for a first layer is the model input's own: the input then expects [B, num_tokens]. An identity
  // Reshape first gives it a fresh array (Reshape has no weights and does not change the values).
  const encoding = (s, mode, first) => [tf.layers.reshape({ name: 'reshape', targetShape: first.inputShape, ...first }),
    tf.layers.categoryEncoding({ name: 'category_encoding', numTokens: s.tokens, outputMode: mode })];

  // Token ids 0..n-1 as float32 (the model input is float32; CategoryEncoding casts to int32).
  const idDraw = n => (rng, shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; ++i) data[i] = rng.int(0, n - 1);
    return tf.tensor(data, shape, 'float32');
  };

  add('permute_21_dense', {
    sizes: rng => ({ time: R(rng, 2, 8), feat: R(rng, 2, 8), units: R(rng, 1, 8) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [permute([2, 1], first), dense({ name: 'dense', units: s.units })],
    desc: s => `Permute((2, 1)) -> Dense(${s.units}, linear): [B, ${s.time}, ${s.feat}] becomes [B, ${s.feat}, ${s.time}]`,
  });
  add('permute_312_rank4', {
    sizes: rng => ({ a: R(rng, 2, 4), b: R(rng, 2, 5), c: R(rng, 2, 6) }),
    input: s => [s.a, s.b, s.c],
    layers: (s, first) => [permute([3, 1, 2], first)],
    desc: s => `Permute((3, 1, 2)) alone: [B, ${s.a}, ${s.b}, ${s.c}] -> [B, ${s.c}, ${s.a}, ${s.b}]`,
    more: 'The model has no weights.',
  });
  add('permute_2413_rank5', {
    sizes: rng => ({ a: R(rng, 2, 3), b: R(rng, 2, 4), c: R(rng, 2, 3), d: R(rng, 2, 4) }),
    input: s => [s.a, s.b, s.c, s.d],
    layers: (s, first) => [permute([2, 4, 1, 3], first)],
    desc: s => `Permute((2, 4, 1, 3)) alone on a rank-5 input [B, ${s.a}, ${s.b}, ${s.c}, ${s.d}]`,
    more: 'The model has no weights.',
  });
  add('permute_identity_dims_rank4', {
    sizes: rng => ({ a: R(rng, 1, 4), b: R(rng, 1, 4), c: R(rng, 1, 4), units: R(rng, 1, 6) }),
    input: s => [s.a, s.b, s.c],
    layers: (s, first) => [permute([1, 2, 3], first), dense({ name: 'dense', units: s.units, activation: 'tanh' })],
    desc: s => `Permute((1, 2, 3)) (the identity permutation) -> Dense(${s.units}, tanh)`,
  });
  add('dense_permute_lstm', {
    sizes: rng => ({ time: R(rng, 2, 7), feat: R(rng, 1, 6), hidden: R(rng, 1, 6), units: R(rng, 1, 6) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [dense({ name: 'dense', units: s.hidden, activation: 'tanh', ...first }), permute([2, 1]),
      lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid' })],
    desc: s => `Dense(${s.hidden}, tanh) -> Permute((2, 1)) -> LSTM(${s.units}, recurrent_activation=sigmoid): the LSTM ` +
      `runs over the ${s.hidden} Dense units as time steps, each a vector of the ${s.time} original steps`,
  });
  // No Masking -> Permute -> RNN case: Keras 3 drops the mask at Permute, while tfjs predict keeps
  // handing it to the next layers (README item 40), so the two differ; the numpy fixture
  // torch/misc/masking_permute_lstm_mask_dropped covers Keras 3's behaviour.
  add('dense_alpha_dropout_dense', {
    sizes: rng => ({ feat: R(rng, 1, 10), hidden: R(rng, 1, 10), units: R(rng, 1, 6) }),
    input: s => [s.feat],
    layers: (s, first) => [dense({ name: 'dense', units: s.hidden, activation: 'selu', ...first }),
      tf.layers.alphaDropout({ name: 'alpha_dropout', rate: 0.3 }), dense({ name: 'dense_1', units: s.units })],
    desc: s => `Dense(${s.hidden}, selu) -> AlphaDropout(0.3) -> Dense(${s.units}): AlphaDropout is the identity at inference`,
  });
  add('rescaling_scalar_dense', {
    sizes: rng => ({ time: R(rng, 1, 5), feat: R(rng, 1, 8), units: R(rng, 1, 6) }),
    input: s => [s.time, s.feat],
    layers: (s, first) => [tf.layers.rescaling({ name: 'rescaling', scale: 1 / 127.5, offset: -1, ...first }),
      dense({ name: 'dense', units: s.units })],
    x: 255,
    desc: s => `Rescaling(scale=1/127.5, offset=-1) -> Dense(${s.units}): inputs in [-255, 255] mapped to [-3, 1]`,
  });
  add('rescaling_rank4_no_offset', {
    sizes: rng => ({ h: R(rng, 2, 4), w: R(rng, 2, 4), c: R(rng, 1, 3) }),
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [tf.layers.rescaling({ name: 'rescaling', scale: 0.375, ...first })],
    x: 8,
    desc: s => `Rescaling(scale=0.375) alone (offset omitted, 0) on an image batch [B, ${s.h}, ${s.w}, ${s.c}]`,
    more: 'The model has no weights.',
  });
  add('category_encoding_multi_hot_dense', {
    sizes: rng => ({ n: R(rng, 1, 6), tokens: R(rng, 2, 9), units: R(rng, 1, 6) }),
    input: s => [s.n],
    layers: (s, first) => [...encoding(s, 'multiHot', first), dense({ name: 'dense', units: s.units })],
    desc: s => `Reshape((${s.n},)) (identity) -> CategoryEncoding(num_tokens=${s.tokens}, output_mode=multi_hot) -> Dense(${s.units}) on ${s.n} ids per ` +
      `sample in [0, ${s.tokens})`,
  });
  add('category_encoding_count', {
    sizes: rng => ({ n: R(rng, 2, 9), tokens: R(rng, 2, 5) }),
    input: s => [s.n],
    layers: (s, first) => encoding(s, 'count', first),
    desc: s => `Reshape((${s.n},)) (identity) -> CategoryEncoding(num_tokens=${s.tokens}, output_mode=count) on ${s.n} ids per sample in ` +
      `[0, ${s.tokens}) (repeats likely)`,
    more: 'The model has no weights.',
  });
  add('category_encoding_one_hot_b1_dense', {
    sizes: rng => ({ tokens: R(rng, 2, 9), units: R(rng, 1, 6) }),
    input: () => [1],
    layers: (s, first) => [...encoding(s, 'oneHot', first),
      dense({ name: 'dense', units: s.units, activation: 'sigmoid' })],
    desc: s => `Reshape((1,)) (identity) -> CategoryEncoding(num_tokens=${s.tokens}, output_mode=one_hot) on ids of shape [B, 1] -> [B, ${s.tokens}] ` +
      `-> Dense(${s.units}, sigmoid)`,
  });

  // The id draws need the token count, which only the sizes know: patch the cases' input draws.
  for (const c of api.cases.filter(c => c.group === 'misc' && c.name.startsWith('category_encoding'))) {
    const build = c.build;
    c.build = s => {
      const b = build(s);
      for (const i of b.inputs) {
        i.draw = idDraw(s.tokens);
        i.dtype = 'int32';
      }
      return b;
    };
  }
}
