// Keras' generic RNN layer with the cells LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells
// (tf.layers.rnn({cell}), lstmCell, gruCell, simpleRNNCell, stackedRNNCells; a plain list of cells,
// which RNN wraps in StackedRNNCells): each cell alone, stacks of mixed cells, return_state,
// go_backwards, masks (from Masking, zero initial states, where tfjs and Keras 3 agree) and initial
// states. Not here: Bidirectional(RNN(cell)), which tfjs 4.22 cannot build (its Bidirectional
// clones the wrapped layer from its config and fails on the nested cell: "layer: Improper config
// format"); tests/io's .keras fixtures and tests/unit/test_rnn_cells.cpp cover it.
//
// TF.js lists a stack's states in reverse cell order (StackedRNNCells.stateSize: "states of a
// 2-layer LSTM would be [h2, c2, h1, c1]"), both the return_state outputs and initial_state; Keras
// 2 and 3 list them cell after cell. strata reads TF.js files with reverse_state_order, and the
// return_state cases here hold TF.js' order (their output labels say so).
export default function (api) {
  const { tf, R, addCase, fnInput, act } = api;
  const G = 'rnn_cells';
  const zeros = { kernelInitializer: 'zeros', recurrentInitializer: 'zeros', biasInitializer: 'zeros' };
  const cells = {
    lstm: (units, name, o = {}) => tf.layers.lstmCell({ name, units, recurrentActivation: 'sigmoid', ...zeros, ...o }),
    gru: (units, name, o = {}) => tf.layers.gruCell({ name, units, recurrentActivation: 'sigmoid', ...zeros, ...o }),
    simple: (units, name, o = {}) => tf.layers.simpleRNNCell({ name, units, ...zeros, ...o }),
  };
  const rnn = (cell, o = {}) => tf.layers.rnn({ name: 'rnn', cell, ...o });
  const stacked = list => tf.layers.stackedRNNCells({ name: 'stacked_rnn_cells', cells: list });
  const seqSizes = rng => ({ time: R(rng, 1, 7), feat: R(rng, 1, 6), u1: R(rng, 1, 8), u2: R(rng, 1, 8), u3: R(rng, 1, 8) });

  // One cell.
  addCase(G, 'rnn_lstm_cell_seq', {
    sizes: seqSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [rnn(cells.lstm(s.u1, 'lstm_cell'), { returnSequences: true, ...first })],
    desc: s => `RNN(LSTMCell(${s.u1}, recurrent_activation=sigmoid), return_sequences=true): Keras' LSTM(${s.u1}) ` +
      'written as its cell in the generic RNN layer',
  });
  addCase(G, 'rnn_gru_cell_last', {
    sizes: seqSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [rnn(cells.gru(s.u1, 'gru_cell'), first)],
    desc: s => `RNN(GRUCell(${s.u1}, recurrent_activation=sigmoid, reset_after=false)): the last output`,
  });
  addCase(G, 'rnn_simple_rnn_cell_relu_backwards_seq', {
    sizes: seqSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [rnn(cells.simple(s.u1, 'simple_rnn_cell', { activation: act('relu') }),
      { returnSequences: true, goBackwards: true, ...first })],
    desc: s => `RNN(SimpleRNNCell(${s.u1}, activation=relu), return_sequences=true, go_backwards=true): the output ` +
      'sequence in processing order (not flipped back)',
  });
  addCase(G, 'rnn_lstm_cell_return_state', {
    sizes: seqSizes,
    graph: s => {
      const x = fnInput('x', [s.time, s.feat]);
      const outs = rnn(cells.lstm(s.u1, 'lstm_cell', { activation: 'tanh' }), { returnState: true }).apply(x.tensor);
      return { inputs: [x], outputs: outs, labels: ['output', 'h', 'c'] };
    },
    desc: s => `RNN(LSTMCell(${s.u1}), return_state=true) on x [B,${s.time},${s.feat}]; outputs [output, h, c]`,
  });

  // Stacks of mixed cells.
  addCase(G, 'rnn_stacked_lstm_gru_simple_seq', {
    sizes: seqSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [rnn(stacked([cells.lstm(s.u1, 'lstm_cell'), cells.gru(s.u2, 'gru_cell'),
      cells.simple(s.u3, 'simple_rnn_cell')]), { returnSequences: true, ...first })],
    desc: s => `RNN(StackedRNNCells([LSTMCell(${s.u1}), GRUCell(${s.u2}), SimpleRNNCell(${s.u3})]), ` +
      'return_sequences=true): at every step the three cells in turn, each on the previous one\'s output',
  });
  addCase(G, 'rnn_cell_list_gru_lstm_last', {
    sizes: seqSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [rnn([cells.gru(s.u1, 'gru_cell'), cells.lstm(s.u2, 'lstm_cell')], first)],
    desc: s => `RNN([GRUCell(${s.u1}), LSTMCell(${s.u2})]) (a plain list of cells, which RNN wraps in ` +
      'StackedRNNCells): the last output',
  });
  addCase(G, 'rnn_stacked_lstm_lstm_backwards_seq', {
    sizes: seqSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [rnn(stacked([cells.lstm(s.u1, 'lstm_cell'), cells.lstm(s.u2, 'lstm_cell_1')]),
      { returnSequences: true, goBackwards: true, ...first })],
    desc: s => `RNN(StackedRNNCells([LSTMCell(${s.u1}), LSTMCell(${s.u2})]), return_sequences=true, ` +
      'go_backwards=true): two cells of one class; the sequence in processing order',
  });
  addCase(G, 'rnn_stacked_return_state', {
    sizes: seqSizes,
    graph: s => {
      const x = fnInput('x', [s.time, s.feat]);
      const outs = rnn(stacked([cells.lstm(s.u1, 'lstm_cell'), cells.gru(s.u2, 'gru_cell')]),
        { returnState: true, returnSequences: true }).apply(x.tensor);
      return { inputs: [x], outputs: outs, labels: ['output', 'gru_cell_h', 'lstm_cell_h', 'lstm_cell_c'] };
    },
    desc: s => `RNN(StackedRNNCells([LSTMCell(${s.u1}), GRUCell(${s.u2})]), return_sequences=true, ` +
      'return_state=true) on x; outputs [output, then the states in TF.js\' order: the GRUCell\'s h, the ' +
      'LSTMCell\'s h and c] (Keras 2 and 3 list the LSTMCell\'s first)',
  });
  addCase(G, 'rnn_stacked_initial_state', {
    sizes: seqSizes,
    graph: s => {
      const x = fnInput('x', [s.time, s.feat]);
      const h1 = fnInput('gru_cell_h0', [s.u2]), h0 = fnInput('lstm_cell_h0', [s.u1]), c0 = fnInput('lstm_cell_c0', [s.u1]);
      const out = rnn(stacked([cells.lstm(s.u1, 'lstm_cell'), cells.simple(s.u2, 'simple_rnn_cell')]),
        { returnSequences: true }).apply(x.tensor, { initialState: [h1.tensor, h0.tensor, c0.tensor] });
      return { inputs: [x, h1, h0, c0], outputs: [out], labels: ['y'] };
    },
    desc: s => `RNN(StackedRNNCells([LSTMCell(${s.u1}), SimpleRNNCell(${s.u2})]), return_sequences=true) called ` +
      'with initial_state in TF.js\' order (the SimpleRNNCell\'s h, then the LSTMCell\'s h and c), serialised as ' +
      'extra inbound tensors',
  });

  // Masks (Masking; zero initial states, where tfjs and Keras 3 agree).
  const masked = [[0, 1], [4, 5], [2, 3], [0, 3, 5]];
  const maskedDraw = (rng, shape, scale) => {
    const [B, T, F] = shape;
    const data = new Float32Array(B * T * F);
    for (let i = 0; i < data.length; ++i) data[i] = rng.f32(scale);
    for (let b = 0; b < B; ++b) {
      for (const t of masked[b % masked.length]) if (t < T) for (let f = 0; f < F; ++f) data[(b * T + t) * F + f] = 0;
    }
    return tf.tensor(data, shape, 'float32');
  };
  const maskSizes = rng => ({ ...seqSizes(rng), time: 6 });
  const masking = first => tf.layers.masking({ name: 'masking', maskValue: 0, ...first });
  const maskText = 'Masked steps (all features 0) per sample: [0, 1], [4, 5], [2, 3], [0, 3, 5] (cycling)';
  addCase(G, 'masking_rnn_stacked_seq', {
    sizes: maskSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [masking(first), rnn(stacked([cells.gru(s.u1, 'gru_cell'), cells.lstm(s.u2, 'lstm_cell')]),
      { returnSequences: true })],
    draw: maskedDraw,
    desc: s => `Masking(0) -> RNN(StackedRNNCells([GRUCell(${s.u1}), LSTMCell(${s.u2})]), return_sequences=true). ` +
      `${maskText}: every cell keeps its state there and the output repeats the previous one`,
  });
  addCase(G, 'masking_rnn_stacked_backwards_last', {
    sizes: maskSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [masking(first), rnn(stacked([cells.simple(s.u1, 'simple_rnn_cell'),
      cells.gru(s.u2, 'gru_cell'), cells.lstm(s.u3, 'lstm_cell')]), { goBackwards: true })],
    draw: maskedDraw,
    desc: s => `Masking(0) -> RNN(StackedRNNCells([SimpleRNNCell(${s.u1}), GRUCell(${s.u2}), LSTMCell(${s.u3})]), ` +
      `go_backwards=true): the last output. ${maskText}`,
  });
  addCase(G, 'masking_rnn_lstm_cell_backwards_seq', {
    sizes: maskSizes,
    input: s => [s.time, s.feat],
    layers: (s, first) => [masking(first), rnn(cells.lstm(s.u1, 'lstm_cell'), { returnSequences: true, goBackwards: true })],
    draw: maskedDraw,
    desc: s => `Masking(0) -> RNN(LSTMCell(${s.u1}), return_sequences=true, go_backwards=true). ${maskText}`,
  });
}
