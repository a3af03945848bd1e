// Pooling and the spatial shape layers (issue 15): MaxPooling1D/2D/3D, AveragePooling1D/2D/3D,
// GlobalMaxPooling1D/2D, GlobalAveragePooling1D/2D, ZeroPadding2D, Cropping2D, UpSampling2D
// (nearest) and TimeDistributed(MaxPooling2D). What tfjs lacks or computes otherwise than Keras 3
// (the 1-D/3-D padding, cropping and upsampling layers, Global*Pooling3D, keepdims, masks in
// GlobalAveragePooling1D, bilinear upsampling, 3-D "same" pooling with stride > pool) is in
// tools/torch-reference/make_pooling_fixtures.py.
export default function (api) {
  const { tf, R, addCase, td, dense } = api;
  const L = tf.layers;
  const add = (name, o) => addCase('pooling', name, { more: 'The model has no weights (the kernel and bias scales are unused).', ...o });
  const cf = f => (f ? 'channelsFirst' : 'channelsLast');

  // ---- local pooling
  const pool1 = (kind, padding, strided) => ({
    sizes: rng => ({ t: R(rng, 4, 13), c: R(rng, 1, 9), p: R(rng, 1, 4), s: strided ? R(rng, 1, 3) : 0 }),
    input: s => [s.t, s.c],
    layers: (s, first) => [L[kind]({ poolSize: s.p, strides: s.s || null, padding, ...first })],
    desc: s => `${kind}(pool_size=${s.p}, strides=${s.s || 'None'}, padding=${padding})`,
  });
  add('max_pooling1d_valid', pool1('maxPooling1d', 'valid', false));
  add('max_pooling1d_same_strides', pool1('maxPooling1d', 'same', true));
  add('average_pooling1d_valid_strides', pool1('averagePooling1d', 'valid', true));
  add('average_pooling1d_same', pool1('averagePooling1d', 'same', true));

  const pool2 = (kind, padding, strided, first_ = false) => ({
    sizes: rng => ({ h: R(rng, 3, 9), w: R(rng, 3, 9), c: R(rng, 1, 6), ph: R(rng, 1, 3), pw: R(rng, 1, 3),
      sh: strided ? R(rng, 1, 3) : 0, sw: strided ? R(rng, 1, 3) : 0 }),
    input: s => (first_ ? [s.c, s.h, s.w] : [s.h, s.w, s.c]),
    layers: (s, first) => [L[kind]({ poolSize: [s.ph, s.pw], strides: strided ? [s.sh, s.sw] : null, padding,
      dataFormat: cf(first_), ...first })],
    desc: s => `${kind}(pool_size=(${s.ph}, ${s.pw}), strides=${strided ? `(${s.sh}, ${s.sw})` : 'None'}, ` +
      `padding=${padding}, data_format=${cf(first_)})`,
  });
  add('max_pooling2d_valid', pool2('maxPooling2d', 'valid', false));
  add('max_pooling2d_same_strides', pool2('maxPooling2d', 'same', true));
  add('max_pooling2d_channels_first', pool2('maxPooling2d', 'valid', true, true));
  add('average_pooling2d_valid_strides', pool2('averagePooling2d', 'valid', true));
  add('average_pooling2d_same_strides', pool2('averagePooling2d', 'same', true));
  add('average_pooling2d_same_channels_first', pool2('averagePooling2d', 'same', true, true));

  // 3-D "same" only with strides <= pool_size: tfjs-core lacks TF's max(0, .) on the front padding
  // when the stride is larger (the numpy fixtures cover that).
  const pool3 = (kind, padding) => ({
    sizes: rng => {
      const p = [R(rng, 1, 3), R(rng, 1, 3), R(rng, 1, 3)];
      return { d: R(rng, 3, 6), h: R(rng, 3, 6), w: R(rng, 3, 6), c: R(rng, 1, 4), p, st: p.map(x => R(rng, 1, x)) };
    },
    input: s => [s.d, s.h, s.w, s.c],
    layers: (s, first) => [L[kind]({ poolSize: s.p, strides: s.st, padding, ...first })],
    desc: s => `${kind}(pool_size=(${s.p}), strides=(${s.st}), padding=${padding})`,
  });
  add('max_pooling3d_valid', pool3('maxPooling3d', 'valid'));
  add('max_pooling3d_same', pool3('maxPooling3d', 'same'));
  add('average_pooling3d_valid', pool3('averagePooling3d', 'valid'));
  add('average_pooling3d_same', pool3('averagePooling3d', 'same'));

  // ---- global pooling
  const global = (kind, rank, first_ = false) => ({
    sizes: rng => ({ a: R(rng, 1, 9), b: R(rng, 1, 7), c: R(rng, 1, 9) }),
    input: s => (rank === 1 ? (first_ ? [s.c, s.a] : [s.a, s.c]) : (first_ ? [s.c, s.a, s.b] : [s.a, s.b, s.c])),
    layers: (s, first) => [L[kind]({ dataFormat: cf(first_), ...first })],
    desc: () => `${kind}(data_format=${cf(first_)})`,
  });
  add('global_max_pooling1d', global('globalMaxPooling1d', 1));
  add('global_average_pooling1d', global('globalAveragePooling1d', 1));
  add('global_max_pooling2d', global('globalMaxPooling2d', 2));
  add('global_average_pooling2d', global('globalAveragePooling2d', 2));
  add('global_max_pooling2d_channels_first', global('globalMaxPooling2d', 2, true));
  add('global_average_pooling2d_channels_first', global('globalAveragePooling2d', 2, true));

  // ---- padding, cropping, upsampling
  add('zero_padding2d_sides', {
    sizes: rng => ({ h: R(rng, 1, 6), w: R(rng, 1, 6), c: R(rng, 1, 5), p: [R(rng, 0, 2), R(rng, 0, 3), R(rng, 0, 2), R(rng, 0, 3)] }),
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [L.zeroPadding2d({ padding: [[s.p[0], s.p[1]], [s.p[2], s.p[3]]], ...first })],
    desc: s => `ZeroPadding2D(padding=((${s.p[0]}, ${s.p[1]}), (${s.p[2]}, ${s.p[3]})))`,
  });
  add('zero_padding2d_int_channels_first', {
    sizes: rng => ({ h: R(rng, 1, 6), w: R(rng, 1, 6), c: R(rng, 1, 5), p: R(rng, 1, 2) }),
    input: s => [s.c, s.h, s.w],
    layers: (s, first) => [L.zeroPadding2d({ padding: s.p, dataFormat: 'channelsFirst', ...first })],
    desc: s => `ZeroPadding2D(padding=${s.p}, data_format=channels_first)`,
  });
  add('cropping2d_sides', {
    sizes: rng => ({ h: R(rng, 5, 9), w: R(rng, 5, 9), c: R(rng, 1, 5), p: [R(rng, 0, 2), R(rng, 0, 2), R(rng, 0, 2), R(rng, 0, 2)] }),
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [L.cropping2D({ cropping: [[s.p[0], s.p[1]], [s.p[2], s.p[3]]], ...first })],
    desc: s => `Cropping2D(cropping=((${s.p[0]}, ${s.p[1]}), (${s.p[2]}, ${s.p[3]})))`,
  });
  add('cropping2d_channels_first', {
    sizes: rng => ({ h: R(rng, 5, 9), w: R(rng, 5, 9), c: R(rng, 1, 5), p: [R(rng, 0, 2), R(rng, 0, 2), R(rng, 0, 2), R(rng, 0, 2)] }),
    input: s => [s.c, s.h, s.w],
    layers: (s, first) => [L.cropping2D({ cropping: [[s.p[0], s.p[1]], [s.p[2], s.p[3]]], dataFormat: 'channelsFirst', ...first })],
    desc: s => `Cropping2D(cropping=((${s.p[0]}, ${s.p[1]}), (${s.p[2]}, ${s.p[3]})), data_format=channels_first)`,
  });
  add('up_sampling2d_nearest', {
    sizes: rng => ({ h: R(rng, 1, 5), w: R(rng, 1, 5), c: R(rng, 1, 5), a: R(rng, 1, 3), b: R(rng, 1, 3) }),
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [L.upSampling2d({ size: [s.a, s.b], ...first })],
    desc: s => `UpSampling2D(size=(${s.a}, ${s.b}), interpolation=nearest)`,
  });
  add('up_sampling2d_nearest_channels_first', {
    sizes: rng => ({ h: R(rng, 1, 5), w: R(rng, 1, 5), c: R(rng, 1, 5), a: R(rng, 1, 3), b: R(rng, 1, 3) }),
    input: s => [s.c, s.h, s.w],
    layers: (s, first) => [L.upSampling2d({ size: [s.a, s.b], dataFormat: 'channelsFirst', ...first })],
    desc: s => `UpSampling2D(size=(${s.a}, ${s.b}), interpolation=nearest, data_format=channels_first)`,
  });

  // ---- in models
  add('td_max_pooling2d', {
    sizes: rng => ({ t: R(rng, 1, 4), h: R(rng, 2, 6), w: R(rng, 2, 6), c: R(rng, 1, 4) }),
    input: s => [s.t, s.h, s.w, s.c],
    layers: (s, first) => [L.timeDistributed({ layer: L.maxPooling2d({ poolSize: [2, 2], padding: 'same' }), name: 'time_distributed', ...first })],
    desc: () => 'TimeDistributed(MaxPooling2D(pool_size=(2, 2), padding=same)) on a 5-D input',
  });
  add('pad_pool_upsample_crop_gap_dense', {
    sizes: rng => ({ h: R(rng, 2, 6), w: R(rng, 2, 6), c: R(rng, 1, 4), u: R(rng, 1, 6) }),
    input: s => [s.h, s.w, s.c],
    layers: (s, first) => [L.zeroPadding2d({ padding: [[1, 2], [2, 1]], ...first }),
      L.maxPooling2d({ poolSize: [2, 2], strides: [1, 1] }), L.upSampling2d({ size: [2, 2] }),
      L.averagePooling2d({ poolSize: [3, 3], strides: [2, 2], padding: 'same' }), L.cropping2D({ cropping: [[1, 0], [0, 1]] }),
      L.globalAveragePooling2d({}), dense({ name: 'dense', units: s.u })],
    desc: s => 'ZeroPadding2D(((1,2),(2,1))) -> MaxPooling2D((2,2), strides 1) -> UpSampling2D(2) -> ' +
      `AveragePooling2D((3,3), strides 2, same) -> Cropping2D(((1,0),(0,1))) -> GlobalAveragePooling2D -> Dense(${s.u})`,
    more: '',
  });
}
