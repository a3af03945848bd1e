// Merge layers: Add, Multiply, Average, Maximum, Minimum, Concatenate, Dot, each in a
// Functional model (a merge takes a list of tensors: TF.js and legacy .h5 configs list several
// inbound tensors in one node). No weights of their own; Dense/LSTM branches feed them.
//
// Not here: Subtract, which TF.js 4.22 lacks, and, because TF.js departs from Keras 3 (tools/torch-reference/make_merge_fixtures.py
// tests them against a numpy Keras 3 reference instead): masks through a merge (TF.js'
// Merge.computeMask is broken for two inputs and follows Keras 2's AND; Keras >= 3.4 ORs them and
// leaves masked steps out of Multiply/Maximum/Minimum), Dot on rank > 3 (TF.js refuses it) and
// Dot's normalize on near-zero vectors (TF.js clamps the squared norm at 1e-7, Keras 3 at 1e-14),
// and Concatenate with a negative axis other than -1 (TF.js' backend concatenate turns every
// negative axis into the last one; Keras counts from the end).
export default function (api) {
  const { tf, R, addCase, fnInput, dense, lstm } = api;
  const G = 'merge';
  const merge = (kind, name, extra = {}) => tf.layers[kind]({ name, ...extra });

  // Element-wise merges of Dense branches on equal shapes, two and three inputs.
  const elementwise = [
    ['add', 'add', 2], ['add', 'add', 3], ['multiply', 'multiply', 2],
    ['multiply', 'multiply', 3], ['average', 'average', 2], ['average', 'average', 3], ['maximum', 'maximum', 2],
    ['minimum', 'minimum', 3],
  ];
  for (const [kind, keras, n] of elementwise) {
    addCase(G, `${keras}_${n}_dense_rank3`, {
      sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 8), units: R(rng, 1, 8), out: R(rng, 1, 8) }),
      graph: s => {
        const ins = [], branches = [];
        for (let k = 0; k < n; ++k) {
          const x = fnInput(`x${k + 1}`, [s.time, s.feat]);
          ins.push(x);
          branches.push(dense({ name: `dense_${k + 1}`, units: s.units, activation: 'tanh' }).apply(x.tensor));
        }
        const m = merge(kind, keras).apply(branches);
        return { inputs: ins, outputs: [dense({ name: 'head', units: s.out }).apply(m), m], labels: ['y', 'merged'] };
      },
      desc: s => `${n} inputs [B,${s.time},${s.feat}], each -> Dense(${s.units}, tanh); ` +
        `${keras[0].toUpperCase() + keras.slice(1)}() of the ${n} branches -> Dense(${s.out}, linear); outputs [head, merged]`,
    });
  }

  // Broadcasting: a size-1 axis and a lower-rank input (expanded after the batch axis).
  addCase(G, 'add_broadcast_rank2_rank3', {
    sizes: rng => ({ time: R(rng, 2, 8), feat: R(rng, 1, 8) }),
    graph: s => {
      const x1 = fnInput('x1', [s.time, s.feat]), x2 = fnInput('x2', [s.feat]);
      return { inputs: [x1, x2], outputs: [merge('add', 'add').apply([x1.tensor, x2.tensor])], labels: ['y'] };
    },
    desc: s => `Add()([x1 [B,${s.time},${s.feat}], x2 [B,${s.feat}]]): x2 expanded to [B,1,${s.feat}] and broadcast over time`,
  });
  addCase(G, 'multiply_broadcast_size1_axes', {
    sizes: rng => ({ time: R(rng, 2, 8), feat: R(rng, 2, 8) }),
    graph: s => {
      const x1 = fnInput('x1', [s.time, 1]), x2 = fnInput('x2', [1, s.feat]), x3 = fnInput('x3', [s.time, s.feat]);
      return {
        inputs: [x1, x2, x3], outputs: [merge('multiply', 'multiply').apply([x1.tensor, x2.tensor, x3.tensor])],
        labels: ['y'],
      };
    },
    desc: s => `Multiply()([x1 [B,${s.time},1], x2 [B,1,${s.feat}], x3 [B,${s.time},${s.feat}]]): size-1 axes stretched`,
  });
  addCase(G, 'maximum_broadcast_rank4_rank2', {
    sizes: rng => ({ a: R(rng, 1, 4), b: R(rng, 1, 4), feat: R(rng, 1, 6) }),
    graph: s => {
      const x1 = fnInput('x1', [s.a, s.b, s.feat]), x2 = fnInput('x2', [s.feat]);
      return { inputs: [x1, x2], outputs: [merge('maximum', 'maximum').apply([x1.tensor, x2.tensor])], labels: ['y'] };
    },
    desc: s => `Maximum()([x1 [B,${s.a},${s.b},${s.feat}], x2 [B,${s.feat}]]): x2 expanded to [B,1,1,${s.feat}]`,
  });

  // Concatenate along the last axis (default), along time, along axis 2 of rank 4, rank 2.
  const concatCases = [
    ['concatenate_last_rank3', -1, 3], ['concatenate_axis1_rank3', 1, 3], ['concatenate_axis2_rank4', 2, 4],
    ['concatenate_rank2_three', -1, 2],
  ];
  for (const [name, axis, rank] of concatCases) {
    addCase(G, name, {
      sizes: rng => ({ d1: R(rng, 1, 5), d2: R(rng, 1, 5), a1: R(rng, 1, 6), a2: R(rng, 1, 6), a3: R(rng, 1, 6) }),
      graph: s => {
        const n = rank === 2 ? 3 : 2;
        const sizes = [s.a1, s.a1 + s.a2, s.a3];  // the first two always differ
        const ins = [];
        for (let k = 0; k < n; ++k) {
          const dims = rank === 2 ? [sizes[k]] : rank === 3 ? [s.d1, s.d2] : [s.d1, s.d2, s.d2 + 1];
          const ax = axis < 0 ? axis + rank : axis;
          dims[ax - 1] = sizes[k];
          ins.push(fnInput(`x${k + 1}`, dims));
        }
        const m = merge('concatenate', 'concatenate', { axis }).apply(ins.map(i => i.tensor));
        return { inputs: ins, outputs: [m], labels: ['y'] };
      },
      desc: s => `Concatenate(axis=${axis}) of ${rank === 2 ? 3 : 2} rank-${rank} inputs whose axis ${axis} sizes differ ` +
        `(${[s.a1, s.a1 + s.a2, s.a3].slice(0, rank === 2 ? 3 : 2).join(', ')})`,
    });
  }
  addCase(G, 'concatenate_lstm_branches_dense', {
    sizes: rng => ({ time: R(rng, 1, 8), f1: R(rng, 1, 6), f2: R(rng, 1, 6), u1: R(rng, 1, 6), u2: R(rng, 1, 6),
      out: R(rng, 1, 6) }),
    graph: s => {
      const x1 = fnInput('x1', [s.time, s.f1]), x2 = fnInput('x2', [s.time, s.f2]);
      const a = lstm({ name: 'lstm', units: s.u1, recurrentActivation: 'sigmoid', returnSequences: true }).apply(x1.tensor);
      const b = lstm({ name: 'lstm_1', units: s.u2, recurrentActivation: 'sigmoid', returnSequences: true }).apply(x2.tensor);
      const c = merge('concatenate', 'concatenate').apply([a, b]);
      return { inputs: [x1, x2], outputs: [dense({ name: 'dense', units: s.out }).apply(c)], labels: ['y'] };
    },
    desc: s => `two LSTM(return_sequences=true, recurrent_activation=sigmoid) branches (${s.u1} and ${s.u2} units) on ` +
      `x1 [B,${s.time},${s.f1}] and x2 [B,${s.time},${s.f2}], Concatenate() -> Dense(${s.out}, linear)`,
  });

  // Dot: rank 2 (cosine with normalize), rank 3 attention scores, mixed axes and ranks.
  const dotCases = [
    ['dot_rank2_axis1', [[6], [6]], 1, false], ['dot_rank2_normalize_cosine', [[6], [6]], 1, true],
    ['dot_rank3_axes_2_2', [[4, 5], [3, 5]], [2, 2], false], ['dot_rank3_axes_1_1', [[4, 5], [4, 3]], 1, false],
    ['dot_rank3_axes_2_1_normalize', [[4, 5], [5, 3]], [2, 1], true], ['dot_rank3_axes_neg1', [[4, 5], [2, 5]], -1, false],
    ['dot_rank3_rank2_axes_2_1', [[4, 5], [5]], [2, 1], false],
  ];
  for (const [name, dims, axes, normalize] of dotCases) {
    addCase(G, name, {
      sizes: () => ({}),
      graph: () => {
        const x1 = fnInput('x1', dims[0]), x2 = fnInput('x2', dims[1]);
        const d = merge('dot', 'dot', { axes, normalize }).apply([x1.tensor, x2.tensor]);
        return { inputs: [x1, x2], outputs: [d], labels: ['y'] };
      },
      desc: () => `Dot(axes=${JSON.stringify(axes)}, normalize=${normalize})([x1 [B,${dims[0]}], x2 [B,${dims[1]}]])`,
    });
  }
  addCase(G, 'dot_attention_dense', {
    sizes: rng => ({ t1: R(rng, 1, 6), t2: R(rng, 1, 6), feat: R(rng, 1, 6), units: R(rng, 1, 6) }),
    graph: s => {
      const q = fnInput('q', [s.t1, s.feat]), k = fnInput('k', [s.t2, s.feat]);
      const qd = dense({ name: 'dense_q', units: s.units }).apply(q.tensor);
      const kd = dense({ name: 'dense_k', units: s.units }).apply(k.tensor);
      const scores = merge('dot', 'dot', { axes: [2, 2] }).apply([qd, kd]);
      return { inputs: [q, k], outputs: [scores], labels: ['scores'] };
    },
    desc: s => `attention scores: Dot(axes=[2, 2])([Dense(${s.units})(q [B,${s.t1},${s.feat}]), ` +
      `Dense(${s.units})(k [B,${s.t2},${s.feat}])]) -> [B,${s.t1},${s.t2}]`,
  });
}
