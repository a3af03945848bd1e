// A small audio effect model for examples/stream_audio.cpp: LSTM(16, return_sequences) ->
// Dense(1, tanh) on a mono signal (batch, time, 1 sample). The example streams a WAV file through it
// one sample at a time (Keras: the same model with stateful=True fed one step per call) and checks
// the stream against one call on the whole signal; this fixture checks that call against tfjs.
export default function (api) {
  const { tf, R, addCase } = api;
  addCase('audio', 'lstm16_dense_tanh_mono', {
    sizes: rng => ({ batch: 1, t: 64, units: 16, _r: R(rng, 1, 1) }),
    input: s => [s.t, 1],
    // Any length: the declared input is (None, None, 1), so the example can call predict on a whole file.
    layers: s => [
      tf.layers.lstm({ name: 'lstm', units: s.units, returnSequences: true, recurrentActivation: 'sigmoid',
        inputShape: [null, 1] }),
      tf.layers.dense({ name: 'dense', units: 1, activation: 'tanh' }),
    ],
    desc: s => `LSTM(${s.units}, return_sequences=True, recurrent_activation=sigmoid) -> Dense(1, tanh) on a mono ` +
      `signal (batch 1, ${s.t} samples, 1 channel): the model examples/stream_audio.cpp streams sample by sample`,
  });
}
