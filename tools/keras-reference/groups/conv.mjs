// Group "conv": Conv1D, Conv2D and Conv3D (channels_last) in tfjs. tfjs lacks `groups` and
// Conv1D's "causal" padding (NotImplementedError in conv1dWithBias); those are PyTorch fixtures
// (tools/torch-reference/make_conv_fixtures.py, fixtures_torch/conv/), with one case here
// (conv1d_torch_crosscheck) that tfjs and torch both compute. "same" padding with strides is TF's
// SAME rule in tfjs (computeConv2DInfo: the odd zero after), as in Keras 3.
import fs from 'node:fs';
import path from 'node:path';

export default function (api) {
  const { tf, R, addCase, act, dense, uniformDraw } = api;

  // Kernels (k_1, ..., k_N, in_channels, filters): fan-in = prod(kernel) * in_channels.
  for (const cls of ['Conv1D', 'Conv2D', 'Conv3D']) {
    api.weightRule(`${cls}/kernel`, a => {
      const fanIn = a.shape.slice(0, -1).reduce((p, q) => p * q, 1);
      return uniformDraw(a.wScale / Math.sqrt(fanIn))(a);
    });
  }

  const conv = (rank, o) => {
    const { activation = 'linear', ...rest } = o;
    const make = rank === 1 ? tf.layers.conv1d : rank === 2 ? tf.layers.conv2d : tf.layers.conv3d;
    return make({ kernelInitializer: 'zeros', biasInitializer: 'zeros', activation: act(activation), ...rest });
  };
  const tuple = v => (Array.isArray(v) ? `(${v.join(', ')}${v.length === 1 ? ',' : ''})` : `${v}`);
  const describe = (rank, o) =>
    `Conv${rank}D(filters=${o.filters}, kernel_size=${tuple(o.kernelSize)}` +
    `${o.strides !== undefined ? `, strides=${tuple(o.strides)}` : ''}, padding=${o.padding ?? 'valid'}` +
    `${o.dilationRate !== undefined ? `, dilation_rate=${tuple(o.dilationRate)}` : ''}` +
    `, activation=${o.activation ?? 'linear'}${o.useBias === false ? ', use_bias=false' : ''})`;

  // One convolution on a random input. opts(s) -> layer options (without name); dims(s, rng) ->
  // spatial sizes; the channel count is s.cin.
  const addConv = (rank, name, o) => {
    addCase('conv', name, {
      sizes: rng => {
        const s = { cin: R(rng, 1, o.maxCin ?? 6), filters: R(rng, 1, o.maxFilters ?? 8) };
        s.spatial = o.dims(rng, s);
        return s;
      },
      input: s => [...s.spatial, s.cin],
      layers: (s, first) => [conv(rank, { name: `conv${rank}d`, filters: s.filters, ...o.opts(s), ...first })],
      desc: s => describe(rank, { filters: s.filters, ...o.opts(s) }) + (o.note ? `: ${o.note}` : ''),
    });
  };
  const range = (rng, n, lo, hi) => Array.from({ length: n }, () => R(rng, lo, hi));

  // ---- Conv1D
  addConv(1, 'conv1d_valid', { opts: () => ({ kernelSize: 3 }), dims: rng => [R(rng, 3, 12)] });
  addConv(1, 'conv1d_same', { opts: () => ({ kernelSize: 4, padding: 'same' }), dims: rng => [R(rng, 1, 12)],
    note: 'an even kernel: one zero before, two after' });
  addConv(1, 'conv1d_same_strides2', { opts: () => ({ kernelSize: 3, padding: 'same', strides: 2 }),
    dims: rng => [R(rng, 1, 13)] });
  addConv(1, 'conv1d_same_strides3_k5', { opts: () => ({ kernelSize: 5, padding: 'same', strides: 3 }),
    dims: rng => [R(rng, 1, 17)] });
  addConv(1, 'conv1d_valid_strides2', { opts: () => ({ kernelSize: 2, strides: 2 }), dims: rng => [R(rng, 2, 11)] });
  addConv(1, 'conv1d_dilated_same', { opts: () => ({ kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'tanh' }),
    dims: rng => [R(rng, 1, 14)] });
  addConv(1, 'conv1d_dilated_valid', { opts: () => ({ kernelSize: 3, dilationRate: 3, activation: 'relu' }),
    dims: rng => [R(rng, 7, 16)] });
  addConv(1, 'conv1d_nobias_k1', { opts: () => ({ kernelSize: 1, useBias: false }), dims: rng => [R(rng, 1, 9)],
    note: 'a 1-wide kernel is a Dense on the channels' });
  addConv(1, 'conv1d_kernel_longer_than_input_same', { opts: () => ({ kernelSize: 7, padding: 'same' }),
    dims: rng => [R(rng, 1, 4)], note: 'the kernel is longer than the input' });
  addConv(1, 'conv1d_long', { opts: () => ({ kernelSize: 3, padding: 'same' }), dims: rng => [R(rng, 130, 200)],
    maxCin: 12, maxFilters: 12, note: 'a sequence longer than one work chunk (64 positions)' });

  // ---- Conv2D
  addConv(2, 'conv2d_valid', { opts: () => ({ kernelSize: 3 }), dims: rng => range(rng, 2, 3, 9) });
  addConv(2, 'conv2d_same_relu', { opts: () => ({ kernelSize: 3, padding: 'same', activation: 'relu' }),
    dims: rng => range(rng, 2, 1, 9) });
  addConv(2, 'conv2d_same_strides2', { opts: () => ({ kernelSize: 3, padding: 'same', strides: 2 }),
    dims: rng => range(rng, 2, 1, 11), note: 'even input sizes put the odd padding zero after' });
  addConv(2, 'conv2d_same_strides_1_2_k2x3', { opts: () => ({ kernelSize: [2, 3], padding: 'same', strides: [1, 2] }),
    dims: rng => range(rng, 2, 1, 10) });
  addConv(2, 'conv2d_valid_strides_3_2', { opts: () => ({ kernelSize: [3, 2], strides: [3, 2], activation: 'sigmoid' }),
    dims: rng => [R(rng, 3, 12), R(rng, 2, 12)] });
  addConv(2, 'conv2d_dilated_same', { opts: () => ({ kernelSize: 3, padding: 'same', dilationRate: [2, 1] }),
    dims: rng => range(rng, 2, 1, 10) });
  addConv(2, 'conv2d_dilated_valid', { opts: () => ({ kernelSize: [2, 3], dilationRate: [3, 2], activation: 'tanh' }),
    dims: rng => [R(rng, 4, 10), R(rng, 5, 10)] });
  addConv(2, 'conv2d_1x1_nobias', { opts: () => ({ kernelSize: 1, useBias: false }), dims: rng => range(rng, 2, 1, 6) });
  addConv(2, 'conv2d_same_k4_even', { opts: () => ({ kernelSize: 4, padding: 'same', activation: 'elu' }),
    dims: rng => range(rng, 2, 1, 8) });
  addConv(2, 'conv2d_wide', { opts: () => ({ kernelSize: 3, padding: 'same' }), dims: rng => [R(rng, 2, 5), R(rng, 65, 90)],
    maxCin: 10, maxFilters: 20, note: 'rows longer than one work chunk (64 positions)' });
  addConv(2, 'conv2d_softmax', { opts: () => ({ kernelSize: 2, activation: 'softmax' }), dims: rng => range(rng, 2, 2, 6),
    note: 'softmax over the filters' });

  // ---- Conv3D
  addConv(3, 'conv3d_valid', { opts: () => ({ kernelSize: 2 }), dims: rng => range(rng, 3, 2, 5), maxCin: 4 });
  addConv(3, 'conv3d_same_strides2', { opts: () => ({ kernelSize: 3, padding: 'same', strides: 2 }),
    dims: rng => range(rng, 3, 1, 6), maxCin: 4 });
  addConv(3, 'conv3d_same_k_1_2_3_relu', { opts: () => ({ kernelSize: [1, 2, 3], padding: 'same', activation: 'relu' }),
    dims: rng => range(rng, 3, 1, 5), maxCin: 4 });
  addConv(3, 'conv3d_dilated_valid', { opts: () => ({ kernelSize: 2, dilationRate: [1, 2, 2] }),
    dims: rng => [R(rng, 2, 4), R(rng, 3, 5), R(rng, 3, 5)], maxCin: 3 });

  // ---- Stacks
  addCase('conv', 'conv2d_stack_flatten_dense', {
    sizes: rng => ({ h: R(rng, 4, 9), w: R(rng, 4, 9), cin: R(rng, 1, 3), f1: R(rng, 1, 8), f2: R(rng, 1, 8), units: R(rng, 1, 6) }),
    input: s => [s.h, s.w, s.cin],
    layers: (s, first) => [
      conv(2, { name: 'conv2d', filters: s.f1, kernelSize: 3, padding: 'same', activation: 'relu', ...first }),
      conv(2, { name: 'conv2d_1', filters: s.f2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.flatten({ name: 'flatten' }), dense({ name: 'dense', units: s.units })],
    desc: s => `Conv2D(${s.f1}, 3, same, relu) -> Conv2D(${s.f2}, 3, strides=2, same, relu) -> Flatten -> Dense(${s.units})`,
  });
  addCase('conv', 'conv1d_stack_dense', {
    sizes: rng => ({ t: R(rng, 5, 20), cin: R(rng, 1, 6), f: R(rng, 1, 8), units: R(rng, 1, 6) }),
    input: s => [s.t, s.cin],
    layers: (s, first) => [
      conv(1, { name: 'conv1d', filters: s.f, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu', ...first }),
      conv(1, { name: 'conv1d_1', filters: s.f, kernelSize: 2, dilationRate: 4, padding: 'same', activation: 'tanh' }),
      dense({ name: 'dense', units: s.units })],
    desc: s => `Conv1D(${s.f}, 3, same, dilation 2, relu) -> Conv1D(${s.f}, 2, same, dilation 4, tanh) -> Dense(${s.units}) per step`,
  });
  addCase('conv', 'td_conv2d', {
    sizes: rng => ({ t: R(rng, 1, 4), h: R(rng, 1, 7), w: R(rng, 1, 7), cin: R(rng, 1, 4), f: R(rng, 1, 6) }),
    input: s => [s.t, s.h, s.w, s.cin],
    layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed', layer: conv(2, { name: 'conv2d',
      filters: s.f, kernelSize: [3, 2], padding: 'same', strides: [2, 1], activation: 'relu' }), ...first })],
    desc: s => `TimeDistributed(Conv2D(${s.f}, (3, 2), strides=(2, 1), same, relu)) on 5-D input: each frame convolved alone`,
  });

  // ---- The cross-check with PyTorch: a Conv1D both compute (same padding, dilation 2), from the
  // weights and input of fixtures_torch/conv/conv1d_crosscheck.json.
  const file = path.join(api.REPO_ROOT, 'tools', 'torch-reference', 'conv_crosscheck_keras.json');
  if (fs.existsSync(file)) {
    const src = JSON.parse(fs.readFileSync(file, 'utf8'));
    const f32 = a => a.map(v => Math.fround(v));
    const [B, T, C] = src.x.shape;
    api.cases.push({
      group: 'conv', name: 'conv1d_torch_crosscheck',
      notes: () => `Conv1D(filters=${src.filters}, kernel_size=${src.kernel_size}, padding=same, dilation_rate=` +
        `${src.dilation_rate}) on input [${B},${T},${C}], with the weights and input of the PyTorch fixture ` +
        `conv/${src.torch_fixture} (F.conv1d in float64 by tools/torch-reference/make_conv_fixtures.py). Weights and input ` +
        'are NOT drawn from this case\'s PRNG; checks.torch_crosscheck compares with the torch output.',
      sizes: () => ({}),
      build: () => ({
        models: [{ suffix: '', model: api.seqModel('conv1d_torch_crosscheck', [conv(1, {
          name: 'conv1d', filters: src.filters, kernelSize: src.kernel_size, padding: 'same', dilationRate: src.dilation_rate,
          inputShape: [T, C] })]) }],
        inputs: [{ label: 'x', shape: [B, T, C] }],
        kind: 'predict', outputLabels: ['y'],
        fixedValues: {
          weights: [tf.tensor(f32(src.kernel.data), src.kernel.shape), tf.tensor(f32(src.bias.data), src.bias.shape)],
          inputs: [tf.tensor(f32(src.x.data), [B, T, C])],
        },
        extraChecks: ctx => {
          const got = ctx.outputs[0].data, want = src.y.data;
          if (got.length !== want.length) throw new Error('conv crosscheck output size mismatch');
          let m = 0;
          for (let i = 0; i < got.length; ++i) m = Math.max(m, Math.abs(got[i] - want[i]));
          return { torch_crosscheck: { description: `max |tfjs output - torch float64 output| (fixtures_torch/conv/${src.torch_fixture})`,
            max_abs_diff: m } };
        },
      }),
    });
  }
}
