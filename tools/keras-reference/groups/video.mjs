// The seed question's video model: TimeDistributed(Conv2D) -> TimeDistributed(MaxPooling2D) ->
// TimeDistributed(Flatten) -> LSTM -> Dense on (batch, time, height, width, channels), the case
// where wrapping in TimeDistributed matters (a Conv2D alone refuses 5-D input). The fixture feeds
// examples/video_classifier.cpp (through tools/keras-files' .keras copy) and the parity tests.
// Kernels are drawn by the Conv2D rule of groups/conv.mjs (loaded before this module).
export default function (api) {
  const { tf, R, addCase } = api;
  const td = (layer, name, extra = {}) => tf.layers.timeDistributed({ name, layer, ...extra });
  addCase('video', 'td_conv2d_pool_flatten_lstm_dense', {
    sizes: rng => ({ batch: 2, t: 5, h: 8, w: 8, c: 3, f: 4, units: 6, classes: 3, _r: R(rng, 1, 1) }),
    input: s => [s.t, s.h, s.w, s.c],
    layers: (s, first) => [
      td(tf.layers.conv2d({ name: 'conv2d', filters: s.f, kernelSize: 3, activation: 'relu' }), 'time_distributed', first),
      td(tf.layers.maxPooling2d({ name: 'max_pooling2d', poolSize: 2 }), 'time_distributed_1'),
      td(tf.layers.flatten({ name: 'flatten' }), 'time_distributed_2'),
      tf.layers.lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid' }),
      tf.layers.dense({ name: 'dense', units: s.classes, activation: 'softmax' }),
    ],
    desc: s => `TimeDistributed(Conv2D(${s.f}, 3, relu)) -> TimeDistributed(MaxPooling2D(2)) -> TimeDistributed(Flatten) ` +
      `-> LSTM(${s.units}, recurrent_activation=sigmoid) -> Dense(${s.classes}, softmax) on video clips ` +
      `(batch, ${s.t} frames, ${s.h}x${s.w}, ${s.c} channels): the seed question's example of a layer that mixes axes`,
  });
}
