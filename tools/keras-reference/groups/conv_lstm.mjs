// Group "conv_lstm": ConvLSTM2D (channels_last) in tfjs, alone, with return_state, in Bidirectional
// and in a stack. tfjs' ConvLSTM2DCell is Keras' (gate order i, f, c, o; kernel (kh, kw, C, 4F),
// recurrent_kernel (kh, kw, F, 4F), bias (4F); input conv with strides/padding/dilation, recurrent
// conv stride 1 "same"). tfjs lacks ConvLSTM1D/3D: ConvLSTM1D is a numpy float64 reference
// (tools/torch-reference/make_conv_lstm_fixtures.py, fixtures_torch/conv_lstm/), which checks itself
// against the height-1 case here (convlstm2d_height1). Recurrent activations are explicit: tfjs'
// default is hard_sigmoid (0.2 x + 0.5), Keras 3's sigmoid. No mask cases: tfjs 4.22's rnn() throws
// on a (batch, time) mask for a 5-D input ("rank of input 2 must match length of perm 1,0,2,3,4"),
// where Keras 3 broadcasts it over the maps; masked ConvLSTM fixtures come from the numpy reference.
export default function (api) {
  const { tf, R, addCase, fnInput } = api;

  // Kernels (kh, kw, channels, 4 filters): fan-in = kh kw channels.
  for (const base of ['kernel', 'recurrent_kernel']) {
    api.weightRule(`ConvLSTM2D/${base}`, a => {
      const fanIn = a.shape.slice(0, -1).reduce((p, q) => p * q, 1);
      return api.uniformDraw(a.wScale / Math.sqrt(fanIn))(a);
    });
  }

  const tuple = v => (Array.isArray(v) ? `(${v.join(', ')})` : `${v}`);
  const convLstm = o => {
    const { recurrentActivation = 'sigmoid', ...rest } = o;
    return tf.layers.convLstm2d({
      kernelInitializer: 'zeros', recurrentInitializer: 'zeros', biasInitializer: 'zeros',
      activation: 'tanh', recurrentActivation: recurrentActivation === 'hard_sigmoid' ? 'hardSigmoid' : recurrentActivation,
      ...rest,
    });
  };
  const describe = o =>
    `ConvLSTM2D(filters=${o.filters}, kernel_size=${tuple(o.kernelSize)}` +
    `${o.strides !== undefined ? `, strides=${tuple(o.strides)}` : ''}, padding=${o.padding ?? 'valid'}` +
    `${o.dilationRate !== undefined ? `, dilation_rate=${tuple(o.dilationRate)}` : ''}` +
    `, recurrent_activation=${o.recurrentActivation ?? 'sigmoid'}` +
    `${o.useBias === false ? ', use_bias=false' : ''}${o.returnSequences ? ', return_sequences=true' : ''}` +
    `${o.goBackwards ? ', go_backwards=true' : ''})`;

  // One ConvLSTM2D on (batch, time, rows, cols, channels). opts(s) -> layer options (no name/filters).
  const addOne = (name, o) => {
    addCase('conv_lstm', name, {
      sizes: rng => {
        const s = { time: R(rng, 1, o.maxTime ?? 4), cin: R(rng, 1, 3), filters: R(rng, 1, o.maxFilters ?? 5) };
        s.spatial = o.dims(rng, s);
        return s;
      },
      input: s => [s.time, ...s.spatial, s.cin],
      layers: (s, first) => [convLstm({ name: 'conv_lstm2d', filters: s.filters, ...o.opts(s), ...first })],
      desc: s => describe({ filters: s.filters, ...o.opts(s) }) + (o.note ? `: ${o.note}` : ''),
    });
  };
  const range = (rng, n, lo, hi) => Array.from({ length: n }, () => R(rng, lo, hi));

  addOne('convlstm2d_valid', { opts: () => ({ kernelSize: 3 }), dims: rng => range(rng, 2, 3, 6) });
  addOne('convlstm2d_same_seq', { opts: () => ({ kernelSize: 3, padding: 'same', returnSequences: true }),
    dims: rng => range(rng, 2, 2, 6) });
  addOne('convlstm2d_same_k4_even', { opts: () => ({ kernelSize: 4, padding: 'same', returnSequences: true }),
    dims: rng => range(rng, 2, 2, 6), note: 'an even kernel: the recurrent "same" conv pads one zero before, two after' });
  addOne('convlstm2d_same_strides2', { opts: () => ({ kernelSize: 3, padding: 'same', strides: 2 }),
    dims: rng => range(rng, 2, 2, 8), note: 'the input conv strided, the recurrent conv on the smaller map' });
  addOne('convlstm2d_valid_strides_2_1_k2x3', { opts: () => ({ kernelSize: [2, 3], strides: [2, 1], returnSequences: true }),
    dims: rng => [R(rng, 2, 7), R(rng, 3, 7)] });
  addOne('convlstm2d_dilated_valid', { opts: () => ({ kernelSize: [2, 3], dilationRate: [2, 1] }),
    dims: rng => [R(rng, 3, 7), R(rng, 3, 6)], note: 'dilation in the input conv only' });
  addOne('convlstm2d_dilated_same', { opts: () => ({ kernelSize: 3, padding: 'same', dilationRate: 2, returnSequences: true }),
    dims: rng => range(rng, 2, 2, 6) });
  addOne('convlstm2d_go_backwards_seq', { opts: () => ({ kernelSize: 2, padding: 'same', goBackwards: true, returnSequences: true }),
    dims: rng => range(rng, 2, 1, 5), maxTime: 5, note: 'the output sequence in processing order, as Keras' });
  addOne('convlstm2d_nobias', { opts: () => ({ kernelSize: 3, padding: 'same', useBias: false }), dims: rng => range(rng, 2, 2, 5) });
  addOne('convlstm2d_hard_sigmoid', { opts: () => ({ kernelSize: 3, padding: 'same', recurrentActivation: 'hard_sigmoid' }),
    dims: rng => range(rng, 2, 1, 5), note: 'tfjs\' hard_sigmoid is 0.2 x + 0.5 (Keras 2), read by provenance' });
  addOne('convlstm2d_many_filters', { opts: () => ({ kernelSize: 2, padding: 'same', returnSequences: true }),
    dims: rng => range(rng, 2, 2, 4), maxFilters: 20, maxTime: 3 });

  // return_state: [output, h, c].
  addCase('conv_lstm', 'convlstm2d_return_state', {
    sizes: rng => ({ time: R(rng, 1, 4), h: R(rng, 2, 6), w: R(rng, 2, 6), cin: R(rng, 1, 3), filters: R(rng, 1, 4) }),
    graph: s => {
      const x = fnInput('x', [s.time, s.h, s.w, s.cin]);
      const outs = convLstm({ name: 'conv_lstm2d', filters: s.filters, kernelSize: 3, padding: 'same', returnSequences: true,
        returnState: true }).apply(x.tensor);
      return { inputs: [x], outputs: outs, labels: ['output', 'h', 'c'] };
    },
    desc: s => `ConvLSTM2D(filters=${s.filters}, kernel_size=3, padding=same, return_sequences=true, return_state=true) on ` +
      `x [${s.batch},${s.time},${s.h},${s.w},${s.cin}]; outputs [output, h, c]`,
  });

  // Bidirectional(ConvLSTM2D): concat of sequences, and sum of the last outputs.
  for (const [name, mode, seq] of [['bidi_convlstm2d_concat_seq', 'concat', true], ['bidi_convlstm2d_sum_last', 'sum', false]]) {
    addCase('conv_lstm', name, {
      sizes: rng => ({ time: R(rng, 2, 4), h: R(rng, 2, 5), w: R(rng, 2, 5), cin: R(rng, 1, 3), filters: R(rng, 1, 4) }),
      input: s => [s.time, s.h, s.w, s.cin],
      layers: (s, first) => [tf.layers.bidirectional({ name: 'bidirectional', mergeMode: mode, ...first,
        layer: convLstm({ name: 'conv_lstm2d', filters: s.filters, kernelSize: 3, padding: 'same', returnSequences: seq }) })],
      desc: s => `Bidirectional(ConvLSTM2D(filters=${s.filters}, kernel_size=3, padding=same${seq ? ', return_sequences=true' : ''}), ` +
        `merge_mode=${mode}): the backward layer reads the frames last first, its sequence flipped back before the merge`,
    });
  }

  // A stack: ConvLSTM2D -> ConvLSTM2D -> Flatten -> Dense.
  addCase('conv_lstm', 'convlstm2d_stack_flatten_dense', {
    sizes: rng => ({ time: R(rng, 2, 4), h: R(rng, 3, 6), w: R(rng, 3, 6), cin: R(rng, 1, 2), f1: R(rng, 1, 4), f2: R(rng, 1, 4),
      units: R(rng, 1, 5) }),
    input: s => [s.time, s.h, s.w, s.cin],
    layers: (s, first) => [
      convLstm({ name: 'conv_lstm2d', filters: s.f1, kernelSize: 3, padding: 'same', returnSequences: true, ...first }),
      convLstm({ name: 'conv_lstm2d_1', filters: s.f2, kernelSize: 2, strides: 2, padding: 'same' }),
      tf.layers.flatten({ name: 'flatten' }), api.dense({ name: 'dense', units: s.units })],
    desc: s => `ConvLSTM2D(${s.f1}, 3, same, return_sequences) -> ConvLSTM2D(${s.f2}, 2, strides=2, same) -> Flatten -> ` +
      `Dense(${s.units})`,
  });

  // Height 1: what ConvLSTM1D computes on (batch, time, 1, steps, channels); the numpy ConvLSTM1D
  // reference (make_conv_lstm_fixtures.py) reads this fixture's weights and input and checks its
  // own output against tfjs'.
  addOne('convlstm2d_height1', { opts: () => ({ kernelSize: [1, 3], padding: 'same', dilationRate: [1, 2], returnSequences: true }),
    dims: rng => [1, R(rng, 4, 9)], maxTime: 5,
    note: 'height 1, a ConvLSTM1D(kernel 3, same, dilation 2) in disguise: the cross-check of the numpy ConvLSTM1D reference' });
}
