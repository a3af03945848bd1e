// Group "conv_variants": DepthwiseConv2D, SeparableConv2D and Conv2DTranspose (channels_last) in
// tfjs. What tfjs lacks -- DepthwiseConv1D, SeparableConv1D, Conv1DTranspose, a dilated
// DepthwiseConv2D (tfjs writes dilation_rate but ignores it when running), Conv2DTranspose's
// dilation_rate and output_padding -- is in PyTorch fixtures
// (tools/torch-reference/make_conv_variant_fixtures.py, fixtures_torch/conv_variants/), whose
// cross-check cases recompute two fixtures of this group with torch.
//
// tfjs' SeparableConv2D leaves depth_multiplier out of its config (Keras writes it); the cases
// with depth_multiplier > 1 add it to the saved config, as a Keras writer does, so that a reader
// (strata, or tfjs itself on reload) builds the layer the weights belong to. A missing key means 1.

export default function (api) {
  const { tf, R, addCase, act, uniformDraw } = api;
  const prod = v => v.reduce((p, q) => p * q, 1);

  // Depthwise kernels (kh, kw, channels, multiplier): each output sums kh * kw products.
  for (const cls of ['DepthwiseConv2D', 'SeparableConv2D']) {
    api.weightRule(`${cls}/depthwise_kernel`, a => uniformDraw(a.wScale / Math.sqrt(prod(a.shape.slice(0, -2))))(a));
  }
  // Pointwise kernel (1, 1, channels * multiplier, filters): fan-in = channels * multiplier.
  api.weightRule('SeparableConv2D/pointwise_kernel', a => uniformDraw(a.wScale / Math.sqrt(a.shape[a.shape.length - 2]))(a));
  // Transposed kernel (kh, kw, filters, channels): an output sums at most kh * kw * channels products.
  api.weightRule('Conv2DTranspose/kernel', a => {
    const fanIn = prod(a.shape.slice(0, -2)) * a.shape[a.shape.length - 1];
    return uniformDraw(a.wScale / Math.sqrt(fanIn))(a);
  });

  const init = { depthwiseInitializer: 'zeros', biasInitializer: 'zeros' };
  const depthwise = o => {
    const { activation = 'linear', ...rest } = o;
    return tf.layers.depthwiseConv2d({ name: 'depthwise_conv2d', ...init, activation: act(activation), ...rest });
  };
  const separable = o => {
    const { activation = 'linear', ...rest } = o;
    const layer = tf.layers.separableConv2d({ name: 'separable_conv2d', ...init, pointwiseInitializer: 'zeros',
      activation: act(activation), ...rest });
    if ((o.depthMultiplier ?? 1) !== 1) {
      const getConfig = layer.getConfig.bind(layer);
      layer.getConfig = () => ({ ...getConfig(), depthMultiplier: layer.depthMultiplier });
    }
    return layer;
  };
  const transpose = o => {
    const { activation = 'linear', ...rest } = o;
    return tf.layers.conv2dTranspose({ name: 'conv2d_transpose', kernelInitializer: 'zeros', biasInitializer: 'zeros',
      activation: act(activation), ...rest });
  };
  const tuple = v => (Array.isArray(v) ? `(${v.join(', ')})` : `${v}`);
  const opts = o => [
    o.depthMultiplier !== undefined ? `depth_multiplier=${o.depthMultiplier}` : null,
    o.strides !== undefined ? `strides=${tuple(o.strides)}` : null,
    `padding=${o.padding ?? 'valid'}`,
    o.dilationRate !== undefined ? `dilation_rate=${tuple(o.dilationRate)}` : null,
    `activation=${o.activation ?? 'linear'}`,
    o.useBias === false ? 'use_bias=false' : null,
  ].filter(Boolean).join(', ');

  const add = (name, o) => addCase('conv_variants', name, o);
  const image = (rng, lo = 1, hi = 9) => ({ h: R(rng, lo, hi), w: R(rng, lo, hi), c: R(rng, 1, 6) });

  // --- DepthwiseConv2D
  const dwCase = (name, k, o, sizes = rng => image(rng, Math.max(...[k].flat()) , 9)) => add(name, {
    sizes,
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [depthwise({ kernelSize: k, ...o, ...first })],
    desc: s => `DepthwiseConv2D(kernel_size=${tuple(k)}, ${opts(o)}) on [B, ${s.h}, ${s.w}, ${s.c}]`,
  });
  dwCase('depthwise2d_valid', 3, {});
  dwCase('depthwise2d_same_dm2_stride2_relu', 3, { depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' },
    rng => image(rng, 1, 9));
  dwCase('depthwise2d_rect_kernel_strides_nobias', [2, 3], { strides: [1, 2], padding: 'same', useBias: false },
    rng => image(rng, 1, 9));
  dwCase('depthwise2d_dm3_valid_tanh', [3, 2], { depthMultiplier: 3, activation: 'tanh' });
  dwCase('depthwise2d_same_stride3_kernel2', 2, { strides: 3, padding: 'same' }, rng => image(rng, 1, 10));
  dwCase('depthwise2d_same_even_kernel4', 4, { padding: 'same' }, rng => image(rng, 1, 8));

  // --- SeparableConv2D
  const sepCase = (name, k, o, sizes = rng => ({ ...image(rng, Math.max(...[k].flat()), 9), f: R(rng, 1, 8) })) =>
    add(name, {
      sizes,
      input: s => [s.h, s.w, s.c],
      layers: (s, first) => [separable({ filters: s.f, kernelSize: k, ...o, ...first })],
      desc: s => `SeparableConv2D(filters=${s.f}, kernel_size=${tuple(k)}, ${opts(o)}) on [B, ${s.h}, ${s.w}, ${s.c}]` +
        ((o.depthMultiplier ?? 1) !== 1 ? ' (depth_multiplier added to the saved config, which tfjs leaves out)'
          : ' (the config has no depth_multiplier: tfjs leaves it out; it reads as 1)'),
    });
  sepCase('separable2d_valid', 3, {});
  sepCase('separable2d_same_dm2_stride2', 3, { depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' },
    rng => ({ ...image(rng, 1, 9), f: R(rng, 1, 8) }));
  sepCase('separable2d_dilation2_same_nobias', 3, { dilationRate: 2, padding: 'same', useBias: false },
    rng => ({ ...image(rng, 1, 9), f: R(rng, 1, 8) }));
  sepCase('separable2d_dm3_rect_valid_sigmoid', [2, 3], { depthMultiplier: 3, activation: 'sigmoid' });

  // --- Conv2DTranspose (tfjs has no dilation_rate or output_padding here; Keras' inferred sizes)
  const trCase = (name, k, o, sizes = rng => ({ ...image(rng, 1, 7), f: R(rng, 1, 8) })) => add(name, {
    sizes,
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [transpose({ filters: s.f, kernelSize: k, ...o, ...first })],
    desc: s => `Conv2DTranspose(filters=${s.f}, kernel_size=${tuple(k)}, ${opts(o)}) on [B, ${s.h}, ${s.w}, ${s.c}]`,
  });
  trCase('transpose2d_valid_s1', 3, {});
  trCase('transpose2d_same_s2', 3, { strides: 2, padding: 'same' });
  trCase('transpose2d_valid_s2_k3_relu', 3, { strides: 2, activation: 'relu' });
  trCase('transpose2d_same_k4_s2', 4, { strides: 2, padding: 'same' });
  trCase('transpose2d_valid_s3_k2_nobias', 2, { strides: 3, useBias: false });
  trCase('transpose2d_same_s3_k2', 2, { strides: 3, padding: 'same' });
  trCase('transpose2d_same_rect_kernel_strides', [3, 2], { strides: [2, 1], padding: 'same', activation: 'tanh' });

  // --- compositions
  add('decoder_transpose_depthwise_separable', {
    sizes: rng => ({ h: R(rng, 1, 5), w: R(rng, 1, 5), c: R(rng, 1, 4), f: R(rng, 1, 6), g: R(rng, 1, 6) }),
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [
      transpose({ filters: s.f, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...first }),
      depthwise({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'tanh' }),
      separable({ filters: s.g, kernelSize: 3, padding: 'same' }),
    ],
    desc: s => `Conv2DTranspose(${s.f}, 3, strides=2, same, relu) -> DepthwiseConv2D(3, depth_multiplier=2, same, tanh) ` +
      `-> SeparableConv2D(${s.g}, 3, same) on [B, ${s.h}, ${s.w}, ${s.c}]: a small upsampling decoder`,
  });
  add('td_depthwise2d_same', {
    sizes: rng => ({ t: R(rng, 1, 4), h: R(rng, 1, 6), w: R(rng, 1, 6), c: R(rng, 1, 5) }),
    input: s => [s.t, s.h, s.w, s.c],
    layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed',
      layer: depthwise({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }), ...first })],
    desc: s => `TimeDistributed(DepthwiseConv2D(3, depth_multiplier=2, same)) on [B, ${s.t}, ${s.h}, ${s.w}, ${s.c}]`,
  });
  add('td_transpose2d_same_s2', {
    sizes: rng => ({ t: R(rng, 1, 4), h: R(rng, 1, 5), w: R(rng, 1, 5), c: R(rng, 1, 5), f: R(rng, 1, 5) }),
    input: s => [s.t, s.h, s.w, s.c],
    layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed',
      layer: transpose({ filters: s.f, kernelSize: 3, strides: 2, padding: 'same' }), ...first })],
    desc: s => `TimeDistributed(Conv2DTranspose(${s.f}, 3, strides=2, same)) on [B, ${s.t}, ${s.h}, ${s.w}, ${s.c}]`,
  });
}
