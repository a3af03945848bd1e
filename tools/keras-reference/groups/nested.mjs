// Nested models: a Sequential or Functional model used as a layer of another (transfer learning's
// `base = Sequential([...]); model = Sequential([base, Dense(...)])`), a shared nested model called
// on two inputs (one set of weights), and two levels of nesting. tfjs saves the nested model's
// config inside the outer one and names its weights by the inner layers ("d1/kernel").
export default function (api) {
  const { tf, R, addCase, fnInput, dense } = api;
  const G = 'nested';
  const bn = name => tf.layers.batchNormalization({ name, gammaInitializer: 'zeros', betaInitializer: 'zeros',
    movingMeanInitializer: 'zeros', movingVarianceInitializer: 'ones' });

  addCase(G, 'seq_in_seq', {
    sizes: rng => ({ feat: R(rng, 1, 8), hid: R(rng, 1, 8), code: R(rng, 1, 8), out: R(rng, 1, 6) }),
    input: s => [s.feat],
    layers: (s, first) => [
      tf.sequential({ name: 'base', layers: [dense({ name: 'base_d1', units: s.hid, activation: 'tanh', ...first }),
        dense({ name: 'base_d2', units: s.code, activation: 'relu' })] }),
      dense({ name: 'head', units: s.out }),
    ],
    desc: s => `Sequential([base, Dense(${s.out})]) where base = Sequential([Dense(${s.hid}, tanh), Dense(${s.code}, relu)])`,
  });

  addCase(G, 'fn_in_fn_bn', {
    sizes: rng => ({ time: R(rng, 1, 6), feat: R(rng, 1, 8), hid: R(rng, 1, 8), out: R(rng, 1, 6) }),
    graph: s => {
      const bx = fnInput('base_x', [s.time, s.feat]);
      const h = bn('base_bn').apply(dense({ name: 'base_d1', units: s.hid, activation: 'tanh' }).apply(bx.tensor));
      const base = tf.model({ name: 'base', inputs: bx.tensor, outputs: dense({ name: 'base_d2', units: s.hid }).apply(h) });
      const x = fnInput('x', [s.time, s.feat]);
      const y = dense({ name: 'head', units: s.out }).apply(base.apply(x.tensor));
      return { inputs: [x], outputs: [y], labels: ['y'] };
    },
    desc: s => `x [B,${s.time},${s.feat}] -> base -> Dense(${s.out}), base = Model(Dense(${s.hid}, tanh) -> ` +
      `BatchNormalization -> Dense(${s.hid})): a Functional model inside a Functional model`,
  });

  addCase(G, 'seq_in_fn', {
    sizes: rng => ({ feat: R(rng, 1, 8), hid: R(rng, 1, 8), out: R(rng, 1, 6) }),
    graph: s => {
      const base = tf.sequential({ name: 'base', layers: [dense({ name: 'base_d1', units: s.hid, activation: 'tanh',
        inputShape: [s.feat] }), bn('base_bn')] });
      const x = fnInput('x', [s.feat]);
      const h = base.apply(x.tensor);
      return { inputs: [x], outputs: [dense({ name: 'head', units: s.out }).apply(h), h], labels: ['y', 'features'] };
    },
    desc: s => `x [B,${s.feat}] -> base -> Dense(${s.out}); outputs [head, base's output], base = ` +
      `Sequential([Dense(${s.hid}, tanh), BatchNormalization]) inside a Functional model`,
  });

  addCase(G, 'shared_twice', {
    sizes: rng => ({ feat: R(rng, 1, 8), hid: R(rng, 1, 8), out: R(rng, 1, 6) }),
    graph: s => {
      const bx = fnInput('base_x', [s.feat]);
      const base = tf.model({ name: 'base', inputs: bx.tensor,
        outputs: bn('base_bn').apply(dense({ name: 'base_d1', units: s.hid, activation: 'tanh' }).apply(bx.tensor)) });
      const x1 = fnInput('x1', [s.feat]), x2 = fnInput('x2', [s.feat]);
      const a = base.apply(x1.tensor), b = base.apply(x2.tensor);
      const m = tf.layers.concatenate({ name: 'concatenate' }).apply([a, b]);
      return { inputs: [x1, x2], outputs: [dense({ name: 'head', units: s.out }).apply(m), b], labels: ['y', 'b'] };
    },
    desc: s => `one base = Model(Dense(${s.hid}, tanh) -> BatchNormalization) called on x1 and x2 [B,${s.feat}] ` +
      `(shared weights), Concatenate -> Dense(${s.out}); outputs [head, base(x2)]`,
  });

  addCase(G, 'shared_seq_twice', {
    sizes: rng => ({ feat: R(rng, 1, 8), hid: R(rng, 1, 8) }),
    graph: s => {
      const base = tf.sequential({ name: 'base', layers: [dense({ name: 'base_d1', units: s.hid, activation: 'tanh',
        inputShape: [s.feat] })] });
      const x1 = fnInput('x1', [s.feat]), x2 = fnInput('x2', [s.feat]);
      const m = tf.layers.add({ name: 'add' }).apply([base.apply(x1.tensor), base.apply(x2.tensor)]);
      return { inputs: [x1, x2], outputs: [m], labels: ['y'] };
    },
    desc: s => `one base = Sequential([Dense(${s.hid}, tanh)]) called on x1 and x2 [B,${s.feat}], Add()`,
  });

  addCase(G, 'two_levels', {
    sizes: rng => ({ feat: R(rng, 1, 8), hid: R(rng, 1, 8), out: R(rng, 1, 6) }),
    graph: s => {
      const inner = tf.sequential({ name: 'inner', layers: [dense({ name: 'inner_d1', units: s.hid, activation: 'tanh',
        inputShape: [s.feat] }), bn('inner_bn')] });
      const mx = fnInput('mid_x', [s.feat]);
      const mid = tf.model({ name: 'mid', inputs: mx.tensor,
        outputs: dense({ name: 'mid_d1', units: s.hid, activation: 'relu' }).apply(inner.apply(mx.tensor)) });
      const x = fnInput('x', [s.feat]);
      return { inputs: [x], outputs: [dense({ name: 'head', units: s.out }).apply(mid.apply(x.tensor))], labels: ['y'] };
    },
    desc: s => `x [B,${s.feat}] -> mid -> Dense(${s.out}), mid = Model(inner -> Dense(${s.hid}, relu)), inner = ` +
      `Sequential([Dense(${s.hid}, tanh), BatchNormalization]): two levels of nesting`,
  });
}
