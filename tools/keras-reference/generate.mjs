#!/usr/bin/env node
// Keras-reference fixture generator for strata.
//
// Builds small Keras-style models with TensorFlow.js Layers (@tensorflow/tfjs
// 4.22.0, pure-JavaScript CPU backend), fills every weight and every input from
// a seeded SplitMix64 PRNG written below, runs the models and writes one JSON
// fixture per case (plus the model in TF.js Layers format) for strata's C++
// tests. Same seed => byte-identical output. See README.md for the format.
//
// Usage: node generate.mjs [--out DIR] [--seed UINT32] [--only GROUP]
//   --out   output directory (default: <repo>/tests/reference/fixtures)
//   --seed  master seed (default 20240611). Every case derives its own seed
//           from (master seed, group, name), so adding/removing a case does not
//           change any other case.

import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// TF.js' NLP layers (MultiHeadAttention, EinsumDense) load only through this resolve hook
// (tfjs-nlp-resolve.mjs); registering it again (regenerate.sh's --import) is harmless.
register('./tfjs-nlp-resolve.mjs', import.meta.url);

const EXPECTED_TFJS_VERSION = '4.22.0';
const GENERATOR = 'tools/keras-reference/generate.mjs';
const FORMAT_VERSION = 1;
const WEIGHTS_BIN = 'group1-shard1of1.bin';
const MAX_ABS_OUTPUT = 10; // redraw weights+inputs while any |output| exceeds this
const MAX_ATTEMPTS = 500;

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
let outDir = path.join(REPO_ROOT, 'tests', 'reference', 'fixtures');
let masterSeed = 20240611;
let onlyGroup = null; // --only GROUP: run one group's cases (for trying a group out; not for the committed fixtures)
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--out') outDir = path.resolve(argv[++i]);
    else if (argv[i] === '--seed') masterSeed = Number(argv[++i]);
    else if (argv[i] === '--only') onlyGroup = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(masterSeed) || masterSeed < 0 || masterSeed > 0xffffffff) {
    throw new Error('--seed must be an integer in [0, 2^32)');
  }
}

// ---------------------------------------------------------------------------
// Backend: pure-JS CPU only.
// ---------------------------------------------------------------------------
await tf.setBackend('cpu');
await tf.ready();
if (tf.getBackend() !== 'cpu') throw new Error(`expected cpu backend, got ${tf.getBackend()}`);
if (tf.version.tfjs !== EXPECTED_TFJS_VERSION || tf.version['tfjs-layers'] !== EXPECTED_TFJS_VERSION) {
  throw new Error(`expected @tensorflow/tfjs ${EXPECTED_TFJS_VERSION}, got ${JSON.stringify(tf.version)}`);
}
// Silence the "non-serializable keyword arguments" warning that tfjs prints for
// `initialState` (the states are serialised as extra inbound tensors instead).
const origWarn = console.warn;
console.warn = (...a) => {
  if (typeof a[0] === 'string' && a[0].includes('non-serializable keyword arguments')) return;
  origWarn(...a);
};

// ---------------------------------------------------------------------------
// Deterministic PRNG: SplitMix64 (Steele, Lea, Flood 2014), BigInt based.
// ---------------------------------------------------------------------------
const M64 = (1n << 64n) - 1n;
class SplitMix64 {
  constructor(seed) { this.state = BigInt(seed) & M64; }
  nextU64() {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & M64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  }
  /** uniform double in [0, 1) with 53 random bits */
  u01() { return Number(this.nextU64() >> 11n) / 9007199254740992; }
  /** uniform integer in [lo, hi] (inclusive) */
  int(lo, hi) { return lo + Number(this.nextU64() % BigInt(hi - lo + 1)); }
  /** float32 value: fround(uniform(-1, 1) * scale) */
  f32(scale) { return Math.fround((2 * this.u01() - 1) * scale); }
}

/** 32-bit FNV-1a of a string: per-case seed derivation. */
function fnv1a32(str) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(str, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
const caseSeed = (group, name) => fnv1a32(`strata-keras-reference:${masterSeed}:${group}/${name}`);

// ---------------------------------------------------------------------------
// Float formatting: shortest decimal that round-trips to the same float32 both
// via strtof and via strtod + (float) cast (verified here, exactly).
// ---------------------------------------------------------------------------
function fmtF32(v) {
  if (!Number.isFinite(v)) throw new Error(`non-finite value ${v}`);
  if (Math.fround(v) !== v) throw new Error(`value ${v} is not a float32`);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  for (let p = 1; p <= 9; ++p) {
    const n = Number(v.toPrecision(p));
    if (Math.fround(n) === v) {
      const s = String(n);
      if (Math.fround(Number(s)) !== v) continue;
      return s;
    }
  }
  const s = String(v); // exact double repr of the float32 value; always round-trips
  if (Math.fround(Number(s)) !== v) throw new Error(`cannot format ${v}`);
  return s;
}

/** Marker for arrays of float32 values, printed with fmtF32 on a single line. */
class F32 { constructor(values) { this.values = Array.from(values); } }

/** Deterministic pretty JSON: 1-space indent, primitive arrays on one line. */
function toJson(value, indent = '') {
  const next = indent + ' ';
  if (value instanceof F32) return '[' + value.values.map(fmtF32).join(',') + ']';
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('non-finite number in JSON');
    return JSON.stringify(value);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every(v => v === null || ['number', 'string', 'boolean'].includes(typeof v))) {
      return '[' + value.map(v => toJson(v)).join(',') + ']';
    }
    return '[\n' + value.map(v => next + toJson(v, next)).join(',\n') + '\n' + indent + ']';
  }
  const keys = Object.keys(value).filter(k => value[k] !== undefined);
  if (keys.length === 0) return '{}';
  return '{\n' + keys.map(k => next + JSON.stringify(k) + ': ' + toJson(value[k], next)).join(',\n') +
    '\n' + indent + '}';
}

// ---------------------------------------------------------------------------
// Layer helpers. Every initializer is 'zeros' so that building a model uses no
// randomness at all; every weight is then overwritten from the PRNG.
// ---------------------------------------------------------------------------
// Keras activation name -> identifier accepted by the tfjs JS API.
const TFJS_ACT = { hard_sigmoid: 'hardSigmoid', log_softmax: 'logSoftmax' };
const act = name => TFJS_ACT[name] ?? name;

function dense(o) {
  const { activation = 'linear', ...rest } = o;
  return tf.layers.dense({ kernelInitializer: 'zeros', biasInitializer: 'zeros', activation: act(activation), ...rest });
}
function lstm(o) {
  const { activation = 'tanh', recurrentActivation, ...rest } = o;
  if (recurrentActivation === undefined) throw new Error('recurrentActivation must always be explicit');
  return tf.layers.lstm({
    kernelInitializer: 'zeros', recurrentInitializer: 'zeros', biasInitializer: 'zeros',
    activation: act(activation), recurrentActivation: act(recurrentActivation), ...rest,
  });
}
const td = (layer, name = 'time_distributed') => tf.layers.timeDistributed({ layer, name });

/** All non-input layers of a model, in model order. */
const modelLayers = m => m.layers.filter(l => l.getClassName() !== 'InputLayer');
/** A Sequential or Functional model used as a layer of another (a nested model). */
const isModel = l => l instanceof tf.LayersModel;

/**
 * How a weight is drawn, by its base name ("kernel") or, taking precedence, by layer class and base
 * name ("BatchNormalization/moving_variance"): rule({ shape, rng, wScale, bScale, layer }) ->
 * Float32Array. Group modules (groups/*.mjs) add theirs through api.weightRule.
 */
const weightRules = new Map();
function uniformDraw(scale) {
  return ({ shape, rng }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; ++i) data[i] = rng.f32(scale);
    return data;
  };
}
weightRules.set('bias', a => uniformDraw(a.bScale)(a));
weightRules.set('kernel', a => uniformDraw(a.wScale / Math.sqrt(a.shape[0]))(a));
weightRules.set('recurrent_kernel', a => uniformDraw(a.wScale / Math.sqrt(a.shape[0]))(a));
weightRules.set('embeddings', uniformDraw(1));

/** Overwrite every weight of every layer from the PRNG (Keras get_weights order); a nested model's
 * layers one by one, as its own. */
function drawWeights(model, rng, wScale, bScale) {
  for (const layer of modelLayers(model)) {
    if (isModel(layer)) {
      drawWeights(layer, rng, wScale, bScale);
      continue;
    }
    const vals = layer.weights.map(w => {
      const shape = w.shape;
      const base = w.originalName.split('/').pop();
      // The class of the layer that owns the weight (a wrapper's inner layer for TimeDistributed).
      const owner = w.originalName.split('/').slice(-2, -1)[0] ?? '';
      const cls = layer.getClassName();
      const inner = layer.layer ? layer.layer.getClassName() : null;
      const rule = weightRules.get(`${cls}/${base}`) ?? (inner && weightRules.get(`${inner}/${base}`)) ??
        weightRules.get(base);
      if (!rule) throw new Error(`unexpected weight ${w.originalName} (owner ${owner}): add a rule with api.weightRule`);
      const data = rule({ shape, rng, wScale, bScale, layer });
      if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`weight rule for ${w.originalName}: wrong size`);
      return tf.tensor(data, shape, 'float32');
    });
    layer.setWeights(vals);
    tf.dispose(vals);
  }
}

/** Copy weights layer-by-layer (same index in modelLayers) from src to dst. */
function copyWeights(src, dst) {
  const a = modelLayers(src), b = modelLayers(dst);
  if (a.length !== b.length) throw new Error('copyWeights: layer count mismatch');
  a.forEach((l, i) => b[i].setWeights(l.getWeights()));
}

function drawInput(rng, shape, scale) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = rng.f32(scale);
  return tf.tensor(data, shape, 'float32');
}

const toList = y => (Array.isArray(y) ? y : [y]);
const snapshot = ts => ts.map(t => ({ shape: t.shape.slice(), data: Float32Array.from(t.dataSync()) }));
const maxAbs = snaps => snaps.reduce((m, s) => s.data.reduce((mm, v) => Math.max(mm, Math.abs(v)), m), 0);

function compare(a, b) {
  // a, b: arrays of {shape, data}; returns {bitwise, max_abs_diff}
  if (a.length !== b.length) return { bitwise: false, max_abs_diff: null, note: 'count mismatch' };
  let bitwise = true, maxDiff = 0;
  for (let i = 0; i < a.length; ++i) {
    if (JSON.stringify(a[i].shape) !== JSON.stringify(b[i].shape)) {
      return { bitwise: false, max_abs_diff: null, note: `shape mismatch ${a[i].shape} vs ${b[i].shape}` };
    }
    const x = a[i].data, y = b[i].data;
    const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let j = 0; j < x.length; ++j) {
      if (xb[j] !== yb[j]) bitwise = false;
      maxDiff = Math.max(maxDiff, Math.abs(x[j] - y[j]));
    }
  }
  return { bitwise, max_abs_diff: maxDiff };
}

/** Run a model. kind 'predict': one call on all inputs; 'stateful': one call per input batch. */
function runModel(model, kind, inputs, spec = null) {
  if (kind === 'call_mask') {
    // the model's only non-input layer, called eagerly with the explicit mask (and the other inputs as initial state)
    return tf.tidy(() => {
      const layers = modelLayers(model);
      if (layers.length !== 1) throw new Error('call_mask needs a model with exactly one layer');
      const kw = { mask: tf.tensor(spec.callMask.data, spec.callMask.shape, 'bool') };
      if (inputs.length > 1) kw.initialState = inputs.slice(1);
      return snapshot(toList(layers[0].apply(inputs[0], kw)));
    });
  }
  if (kind === 'predict') {
    return tf.tidy(() => snapshot(toList(model.predict(inputs.length === 1 ? inputs[0] : inputs))));
  }
  if (kind === 'stateful') {
    model.resetStates();
    const out = [];
    for (const x of inputs) out.push(...tf.tidy(() => snapshot(toList(model.predict(x)))));
    return out;
  }
  throw new Error(`unknown kind ${kind}`);
}

// ---------------------------------------------------------------------------
// TF.js Layers format writer (what tfjs-node's file:// handler writes, but with
// the weight file named group1-shard1of1.bin as the tfjs converter does).
// ---------------------------------------------------------------------------
async function captureArtifacts(model) {
  let artifacts = null;
  await model.save(tf.io.withSaveHandler(async a => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
  }));
  const wd = artifacts.weightData;
  const bin = Array.isArray(wd) ? tf.io.concatenateArrayBuffers(wd) : wd;
  return { ...artifacts, weightData: bin };
}

function writeModelDir(dir, artifacts) {
  fs.mkdirSync(dir, { recursive: true });
  const modelJSON = {
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJSON), 'utf8');
  fs.writeFileSync(path.join(dir, WEIGHTS_BIN), Buffer.from(artifacts.weightData));
}

/** Reload the saved artifacts with tfjs itself and re-run: checks the saved model. */
async function reloadCheck(artifacts, kind, inputs, expected, spec = null) {
  let loaded;
  try {
    loaded = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: artifacts.modelTopology,
      weightSpecs: artifacts.weightSpecs,
      weightData: artifacts.weightData,
    }));
  } catch (e) {
    return { status: 'load_failed', error: String(e.message).split('\n')[0] };
  }
  try {
    const got = runModel(loaded, kind, inputs, spec);
    const c = compare(got, expected);
    return { status: c.bitwise ? 'bitwise_equal' : 'mismatch', max_abs_diff: c.max_abs_diff };
  } catch (e) {
    return { status: 'run_failed', error: String(e.message).split('\n')[0] };
  } finally {
    loaded.dispose();
  }
}

// ---------------------------------------------------------------------------
// Fixture assembly
// ---------------------------------------------------------------------------
function collectActivations(obj, acc = new Set()) {
  if (Array.isArray(obj)) obj.forEach(o => collectActivations(o, acc));
  else if (obj && typeof obj === 'object') {
    for (const [k, v] of Object.entries(obj)) {
      if ((k === 'activation' || k === 'recurrent_activation') && typeof v === 'string') acc.add(v);
      else collectActivations(v, acc);
    }
  }
  return acc;
}

function formulasFor(modelConfig) {
  const acts = collectActivations(modelConfig);
  const f = {};
  if (acts.has('hard_sigmoid')) f.hard_sigmoid = 'keras2';
  if (acts.has('gelu')) f.gelu = 'erf';
  if (acts.has('gelu_new')) f.gelu_new = 'tanh_approximation';
  return Object.keys(f).length ? f : undefined;
}

function layerConfigFromModelConfig(modelConfig, name) {
  const entry = modelConfig.config.layers.find(l => (l.name ?? l.config.name) === name);
  if (!entry) throw new Error(`layer ${name} not in model config`);
  return { class_name: entry.class_name, config: entry.config };
}

function layersSection(model, modelConfig) {
  return modelLayers(model).map(layer => {
    const { class_name, config } = layerConfigFromModelConfig(modelConfig, layer.name);
    // A nested model: its own layers, each with its weights (tools/keras-files writes them).
    if (isModel(layer)) return { name: layer.name, class_name, layers: layersSection(layer, { config: config }) };
    const values = layer.getWeights(); // the live variables: do not dispose
    const weights = layer.weights.map((w, i) => ({
      name: w.originalName,
      shape: w.shape.slice(),
      data: new F32(values[i].dataSync()),
    }));
    // The layer's output shape(s) with the batch as null (tfjs' outputShape; a layer called on
    // inputs of different shapes has none): what tools/keras-files needs to write a Keras 3 config.
    let outputShapes;
    try {
      const os = layer.outputShape;
      outputShapes = (Array.isArray(os[0]) || os.length === 0 ? os : [os]).map(sh => sh.map(d => (d == null ? null : d)));
    } catch { outputShapes = undefined; }
    return { name: layer.name, class_name, config, output_shapes: outputShapes, weights };
  });
}

// ---------------------------------------------------------------------------
// Case definitions
// ---------------------------------------------------------------------------
// A case: { group, name, notes(s), sizes(rng) -> s, build(s) -> spec }
// spec: { models: [{suffix, model}], inputs: [{label, shape}], kind,
//         wScale, bScale, xScale, outputLabels, extraChecks?(ctx) }
// With several models (pairs), model 0 gets the drawn weights and the others
// copy them layer-by-layer; every model sees the same inputs. Each model is
// written as its own fixture `<name><suffix>`.
const cases = [];
const R = (rng, lo, hi) => rng.int(lo, hi);

function seqModel(name, layers) { return tf.sequential({ name, layers }); }

// ---- 1. dense --------------------------------------------------------------
const DENSE_ACTIVATIONS = ['linear', 'elu', 'gelu', 'gelu_new', 'hard_sigmoid', 'log_softmax', 'mish', 'relu',
  'relu6', 'selu', 'sigmoid', 'softmax', 'softplus', 'softsign', 'swish', 'tanh'];
const BOUNDED = new Set(['hard_sigmoid', 'relu6', 'sigmoid', 'tanh', 'softsign', 'softmax']);

function denseInputShape(rng, rank) {
  const b = R(rng, 1, 5), f = R(rng, 1, 16);
  if (rank === 2) return { batch: b, feat: [f] };
  if (rank === 3) return { batch: b, feat: [R(rng, 1, 12), f] };
  return { batch: b, feat: [R(rng, 1, 4), R(rng, 1, 4), f] };
}

DENSE_ACTIVATIONS.forEach((a, ai) => {
  for (const useBias of [true, false]) {
    // linear is run on every rank; other activations rotate through ranks 2,3,4.
    const ranks = a === 'linear' ? [2, 3, 4] : [2 + ((ai + (useBias ? 0 : 1)) % 3)];
    for (const rank of ranks) {
      const name = `dense_${a}_rank${rank}_${useBias ? 'bias' : 'nobias'}`;
      cases.push({
        group: 'dense', name,
        notes: s => `Dense(units=${s.units}, activation=${a}, use_bias=${useBias}) on a rank-${rank} input of shape ` +
          `[${[s.batch, ...s.feat]}]. Weights uniform(-1,1)*${s.w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1)*3.`,
        sizes: rng => {
          const sh = denseInputShape(rng, rank);
          const minUnits = (a === 'softmax' || a === 'log_softmax') ? 2 : 1;
          return { ...sh, units: R(rng, minUnits, 16), w: BOUNDED.has(a) ? 3.5 : 2 };
        },
        build: s => ({
          models: [{ suffix: '', model: seqModel(name, [dense({ name: 'dense', units: s.units, activation: a, useBias, inputShape: s.feat })]) }],
          inputs: [{ label: 'x', shape: [s.batch, ...s.feat] }],
          kind: 'predict', wScale: s.w, bScale: 0.5, xScale: 3, outputLabels: ['y'],
        }),
      });
    }
  }
});
// edge: F=1, units=1, batch=1
cases.push({
  group: 'dense', name: 'dense_edge_f1_u1_b1',
  notes: () => 'Dense(units=1, activation=tanh, use_bias=true) on input [1,1]: smallest possible sizes.',
  sizes: () => ({}),
  build: () => ({
    models: [{ suffix: '', model: seqModel('dense_edge_f1_u1_b1', [dense({ name: 'dense', units: 1, activation: 'tanh', inputShape: [1] })]) }],
    inputs: [{ label: 'x', shape: [1, 1] }], kind: 'predict', wScale: 2, bScale: 0.5, xScale: 3, outputLabels: ['y'],
  }),
});

// ---- 2. time_distributed_dense ---------------------------------------------
for (const [rank, useBias, a] of [[3, true, 'linear'], [3, false, 'linear'], [3, true, 'relu'], [3, true, 'hard_sigmoid'],
  [4, true, 'linear'], [4, false, 'tanh'], [4, true, 'softmax']]) {
  const name = `td_dense_rank${rank}_${a}_${useBias ? 'bias' : 'nobias'}`;
  cases.push({
    group: 'time_distributed_dense', name,
    notes: s => `TimeDistributed(Dense(units=${s.units}, activation=${a}, use_bias=${useBias})) on a rank-${rank} input ` +
      `of shape [${[s.batch, ...s.feat]}]; the wrapped Dense sees rank-${rank - 1} slices [batch, ...] per time step.`,
    sizes: rng => ({ ...denseInputShape(rng, rank), units: R(rng, a === 'softmax' ? 2 : 1, 16) }),
    build: s => ({
      models: [{ suffix: '', model: seqModel(name, [tf.layers.timeDistributed({ name: 'time_distributed', inputShape: s.feat, layer: dense({ name: 'dense', units: s.units, activation: a, useBias }) })]) }],
      inputs: [{ label: 'x', shape: [s.batch, ...s.feat] }],
      kind: 'predict', wScale: 2, bScale: 0.5, xScale: 2, outputLabels: ['y'],
    }),
  });
}

// ---- 3. dense_td_pair ------------------------------------------------------
for (const [rank, a] of [[3, 'linear'], [3, 'tanh'], [4, 'linear'], [4, 'sigmoid']]) {
  const base = `pair_rank${rank}_${a}`;
  cases.push({
    group: 'dense_td_pair', name: base,
    notes: s => `Pair: Dense(units=${s.units}, activation=${a}) applied directly to a rank-${rank} input [${[s.batch, ...s.feat]}] ` +
      `(fixture ${base}_dense) and TimeDistributed(Dense) with identical weights on the same input (fixture ${base}_td). ` +
      `Mathematically identical; "pair" records whether tfjs produced bitwise-identical outputs.`,
    sizes: rng => ({ ...denseInputShape(rng, rank), units: R(rng, 1, 16) }),
    build: s => ({
      models: [
        { suffix: '_dense', model: seqModel(`${base}_dense`, [dense({ name: 'dense', units: s.units, activation: a, inputShape: s.feat })]) },
        { suffix: '_td', model: seqModel(`${base}_td`, [tf.layers.timeDistributed({ name: 'time_distributed', inputShape: s.feat, layer: dense({ name: 'dense', units: s.units, activation: a }) })]) },
      ],
      inputs: [{ label: 'x', shape: [s.batch, ...s.feat] }],
      kind: 'predict', wScale: 2, bScale: 0.5, xScale: 2, outputLabels: ['y'],
    }),
  });
}

// ---- 4. lstm ---------------------------------------------------------------
function lstmSizes(rng, fixed = {}) {
  return {
    batch: fixed.batch ?? R(rng, 1, 5), time: fixed.time ?? R(rng, 1, 12),
    feat: fixed.feat ?? R(rng, 1, 16), units: fixed.units ?? R(rng, 1, 16),
  };
}
const lstmDesc = (s, o) => `LSTM(units=${s.units}, activation=${o.activation ?? 'tanh'}, recurrent_activation=${o.rec}, ` +
  `use_bias=${o.useBias ?? true}, return_sequences=${!!o.seq}, return_state=${!!o.state}, go_backwards=${!!o.back}) ` +
  `on input [${s.batch},${s.time},${s.feat}]`;

function addLstmCase(name, o) {
  // o: {rec, activation, useBias, seq, state, back, fixed, w}
  cases.push({
    group: 'lstm', name,
    notes: s => lstmDesc(s, o) + '.' +
      (o.state ? ' Functional model; outputs are [output, h, c] (Keras return_state order).' : '') +
      (o.back ? ' go_backwards: the input is processed from t=T-1 down to 0 and the output sequence is in PROCESSING order ' +
        '(output[:,0] belongs to input step T-1), i.e. not flipped back; see checks.go_backwards.' : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${o.w ?? 2}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => lstmSizes(rng, o.fixed),
    build: s => {
      const cfg = {
        name: 'lstm', units: s.units, recurrentActivation: o.rec, activation: o.activation ?? 'tanh',
        useBias: o.useBias ?? true, returnSequences: !!o.seq, returnState: !!o.state, goBackwards: !!o.back,
      };
      let model;
      if (o.state) {
        const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
        const outs = lstm(cfg).apply(x);
        model = tf.model({ name, inputs: x, outputs: outs });
      } else {
        model = seqModel(name, [lstm({ ...cfg, inputShape: [s.time, s.feat] })]);
      }
      const spec = {
        models: [{ suffix: '', model }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }],
        kind: 'predict', wScale: o.w ?? 2, bScale: 0.5, xScale: 1,
        outputLabels: o.state ? ['output', 'h', 'c'] : ['y'],
      };
      if (o.back) spec.extraChecks = ctx => goBackwardsCheck(ctx, s, cfg);
      return spec;
    },
  });
}

/** go_backwards output vs. a forward LSTM (same weights) on the time-reversed input. */
function goBackwardsCheck(ctx, s, cfg) {
  const fwdCfg = { ...cfg, name: 'lstm', goBackwards: false, returnState: false };
  const fwd = seqModel('go_backwards_twin', [lstm({ ...fwdCfg, inputShape: [s.time, s.feat] })]);
  copyWeights(ctx.models[0], fwd);
  const x = ctx.inputs[0];
  const rev = tf.reverse(x, 1);
  const got = runModel(fwd, 'predict', [rev]);
  const mine = ctx.outputs.slice(0, 1); // output (sequence or last step)
  const c = compare(mine, got);
  // Also: flipping the backwards output sequence back should NOT be what tfjs returns (unless T==1).
  fwd.dispose(); rev.dispose();
  return {
    go_backwards: {
      description: 'output of this go_backwards LSTM compared with a forward LSTM with the same weights run on the ' +
        'time-reversed input (reverse(x, axis=1)); equal => output is in processing order (not flipped back)',
      bitwise_equal: c.bitwise, max_abs_diff: c.max_abs_diff,
    },
  };
}

for (const rec of ['sigmoid', 'hard_sigmoid', 'tanh']) {
  const w = rec === 'hard_sigmoid' ? 3.5 : 2;
  addLstmCase(`lstm_last_rec_${rec}`, { rec, w });
  addLstmCase(`lstm_seq_rec_${rec}`, { rec, seq: true, w });
}
addLstmCase('lstm_state_last_rec_sigmoid', { rec: 'sigmoid', state: true });
addLstmCase('lstm_state_seq_rec_sigmoid', { rec: 'sigmoid', state: true, seq: true });
addLstmCase('lstm_state_seq_rec_hard_sigmoid', { rec: 'hard_sigmoid', state: true, seq: true, w: 3.5 });
addLstmCase('lstm_backwards_last_rec_sigmoid', { rec: 'sigmoid', back: true });
addLstmCase('lstm_backwards_seq_rec_sigmoid', { rec: 'sigmoid', back: true, seq: true });
addLstmCase('lstm_backwards_seq_rec_hard_sigmoid', { rec: 'hard_sigmoid', back: true, seq: true, w: 3.5 });
addLstmCase('lstm_backwards_last_rec_tanh', { rec: 'tanh', back: true });
addLstmCase('lstm_backwards_state_seq_rec_sigmoid', { rec: 'sigmoid', back: true, seq: true, state: true });
addLstmCase('lstm_nobias_last_rec_sigmoid', { rec: 'sigmoid', useBias: false });
addLstmCase('lstm_nobias_seq_rec_hard_sigmoid', { rec: 'hard_sigmoid', useBias: false, seq: true, w: 3.5 });
addLstmCase('lstm_act_relu_seq_rec_sigmoid', { rec: 'sigmoid', activation: 'relu', seq: true, w: 1 });
addLstmCase('lstm_act_relu_last_rec_hard_sigmoid', { rec: 'hard_sigmoid', activation: 'relu', w: 1.5 });
addLstmCase('lstm_act_sigmoid_seq_rec_sigmoid', { rec: 'sigmoid', activation: 'sigmoid', seq: true });
addLstmCase('lstm_act_linear_seq_rec_sigmoid', { rec: 'sigmoid', activation: 'linear', seq: true, w: 1 });
addLstmCase('lstm_act_linear_last_rec_tanh', { rec: 'tanh', activation: 'linear', w: 1 });
addLstmCase('lstm_act_softsign_seq_rec_sigmoid', { rec: 'sigmoid', activation: 'softsign', seq: true });
addLstmCase('lstm_act_softsign_seq_rec_hard_sigmoid', { rec: 'hard_sigmoid', activation: 'softsign', seq: true, w: 3.5 });
addLstmCase('lstm_act_hard_sigmoid_seq_rec_sigmoid', { rec: 'sigmoid', activation: 'hard_sigmoid', seq: true, w: 3.5 });
addLstmCase('lstm_act_elu_seq_rec_sigmoid', { rec: 'sigmoid', activation: 'elu', seq: true, w: 1.5 });
addLstmCase('lstm_edge_t1_f1_u1', { rec: 'sigmoid', seq: true, fixed: { time: 1, feat: 1, units: 1 } });
addLstmCase('lstm_edge_b1_f1_u1_state', { rec: 'hard_sigmoid', state: true, w: 3.5, fixed: { batch: 1, feat: 1, units: 1 } });
addLstmCase('lstm_edge_max_sizes_seq', { rec: 'sigmoid', seq: true, fixed: { batch: 5, time: 12, feat: 16, units: 16 } });

// ---- 5. lstm_stacked -------------------------------------------------------
function addStacked(name, layerDefs) {
  // layerDefs: [{rec, seq, activation?}] ; units drawn per layer
  cases.push({
    group: 'lstm_stacked', name,
    notes: s => `${layerDefs.length} stacked LSTMs on input [${s.batch},${s.time},${s.feat}]: ` +
      layerDefs.map((d, i) => `LSTM(units=${s.units[i]}, activation=${d.activation ?? 'tanh'}, recurrent_activation=${d.rec}, ` +
        `return_sequences=${d.seq})`).join(' -> ') + '.',
    sizes: rng => ({ ...lstmSizes(rng), units: layerDefs.map(() => R(rng, 1, 16)) }),
    build: s => ({
      models: [{
        suffix: '', model: seqModel(name, layerDefs.map((d, i) => lstm({
          name: i === 0 ? 'lstm' : `lstm_${i}`, units: s.units[i], recurrentActivation: d.rec, activation: d.activation ?? 'tanh',
          returnSequences: d.seq, ...(i === 0 ? { inputShape: [s.time, s.feat] } : {}),
        }))),
      }],
      inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }],
      kind: 'predict', wScale: 2, bScale: 0.5, xScale: 1, outputLabels: ['y'],
    }),
  });
}
addStacked('stacked2_last', [{ rec: 'sigmoid', seq: true }, { rec: 'sigmoid', seq: false }]);
addStacked('stacked2_seq', [{ rec: 'sigmoid', seq: true }, { rec: 'sigmoid', seq: true }]);
addStacked('stacked2_mixed_rec_hard_sigmoid', [{ rec: 'hard_sigmoid', seq: true }, { rec: 'sigmoid', seq: false }]);
addStacked('stacked3_last', [{ rec: 'sigmoid', seq: true }, { rec: 'sigmoid', seq: true }, { rec: 'sigmoid', seq: false }]);
addStacked('stacked3_seq_mixed', [{ rec: 'sigmoid', seq: true }, { rec: 'hard_sigmoid', seq: true, activation: 'softsign' },
  { rec: 'tanh', seq: true }]);

// ---- 6. lstm_td_dense ------------------------------------------------------
function addLstmTdDense(name, o) {
  cases.push({
    group: 'lstm_td_dense', name,
    notes: s => `LSTM(units=${s.units}, recurrent_activation=${o.rec}, return_sequences=true, go_backwards=${!!o.back}) -> ` +
      `TimeDistributed(Dense(units=${s.dunits}, activation=${o.dact})) on input [${s.batch},${s.time},${s.feat}].`,
    sizes: rng => ({ ...lstmSizes(rng), dunits: R(rng, o.dact === 'softmax' ? 2 : 1, 16) }),
    build: s => ({
      models: [{
        suffix: '', model: seqModel(name, [
          lstm({ name: 'lstm', units: s.units, recurrentActivation: o.rec, returnSequences: true, goBackwards: !!o.back, inputShape: [s.time, s.feat] }),
          td(dense({ name: 'dense', units: s.dunits, activation: o.dact })),
        ]),
      }],
      inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }],
      kind: 'predict', wScale: 2, bScale: 0.5, xScale: 1, outputLabels: ['y'],
    }),
  });
}
addLstmTdDense('lstm_td_dense_linear', { rec: 'sigmoid', dact: 'linear' });
addLstmTdDense('lstm_td_dense_sigmoid', { rec: 'sigmoid', dact: 'sigmoid' });
addLstmTdDense('lstm_td_dense_softmax_rec_hard_sigmoid', { rec: 'hard_sigmoid', dact: 'softmax' });
addLstmTdDense('lstm_backwards_td_dense_relu', { rec: 'sigmoid', dact: 'relu', back: true });

// ---- 7. td_lstm ------------------------------------------------------------
function addTdLstm(name, o) {
  cases.push({
    group: 'td_lstm', name,
    notes: s => `TimeDistributed(LSTM(units=${s.units}, recurrent_activation=${o.rec}, return_sequences=${o.seq}, ` +
      `go_backwards=${!!o.back})) on a rank-4 input [B,T1,T2,F]=[${s.batch},${s.t1},${s.t2},${s.feat}]: ` +
      `the LSTM runs independently over T2 for each of the T1 outer steps (state reset to zero for each).`,
    sizes: rng => ({ batch: R(rng, 1, 5), t1: R(rng, 1, 4), t2: R(rng, 1, 8), feat: R(rng, 1, 16), units: R(rng, 1, 16) }),
    build: s => ({
      models: [{
        suffix: '', model: seqModel(name, [tf.layers.timeDistributed({
          name: 'time_distributed', inputShape: [s.t1, s.t2, s.feat],
          layer: lstm({ name: 'lstm', units: s.units, recurrentActivation: o.rec, returnSequences: o.seq, goBackwards: !!o.back }),
        })]),
      }],
      inputs: [{ label: 'x', shape: [s.batch, s.t1, s.t2, s.feat] }],
      kind: 'predict', wScale: o.rec === 'hard_sigmoid' ? 3.5 : 2, bScale: 0.5, xScale: 1, outputLabels: ['y'],
    }),
  });
}
addTdLstm('td_lstm_last', { rec: 'sigmoid', seq: false });
addTdLstm('td_lstm_seq', { rec: 'sigmoid', seq: true });
addTdLstm('td_lstm_seq_rec_hard_sigmoid', { rec: 'hard_sigmoid', seq: true });
addTdLstm('td_lstm_last_backwards', { rec: 'sigmoid', seq: false, back: true });

// ---- 8. seed_model ---------------------------------------------------------
cases.push({
  group: 'seed_model', name: 'seed_lstm5',
  notes: () => 'The project seed model: LSTM(5, input_shape=(10,20), return_sequences=true, activation=tanh, ' +
    'recurrent_activation=sigmoid) followed by TimeDistributed(Dense(1)) (fixture seed_lstm5_td_dense) and, with the ' +
    'SAME LSTM and Dense weights and the same input (batch 3), followed by a plain Dense(1) applied to the rank-3 ' +
    'sequence (fixture seed_lstm5_dense). Both are mathematically identical; "pair" records tfjs bitwise equality.',
  sizes: () => ({ batch: 3, time: 10, feat: 20, units: 5 }),
  build: s => {
    const mk = (nm, head) => seqModel(nm, [
      lstm({ name: 'lstm', units: 5, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [10, 20] }), head]);
    return {
      models: [
        { suffix: '_td_dense', model: mk('seed_lstm5_td_dense', td(dense({ name: 'dense', units: 1 }))) },
        { suffix: '_dense', model: mk('seed_lstm5_dense', dense({ name: 'dense', units: 1 })) },
      ],
      inputs: [{ label: 'x', shape: [3, 10, 20] }],
      kind: 'predict', wScale: 2, bScale: 0.5, xScale: 1, outputLabels: ['y'],
    };
  },
});

// ---- 9. lstm_stateful ------------------------------------------------------
function addStateful(name, o) {
  cases.push({
    group: 'lstm_stateful', name, callSequence: true,
    notes: s => `Stateful ${o.stack ? `2-layer stack LSTM(${s.units}, return_sequences=true) -> ` : ''}` +
      `LSTM(units=${o.stack ? s.units2 : s.units}, recurrent_activation=${o.rec}, return_sequences=${o.seq}, stateful=true) ` +
      `with batch_input_shape [${s.batch},${s.time},${s.feat}]. CALL SEQUENCE: reset_states(); y1 = predict(x1); ` +
      `y2 = predict(x2) — inputs are [x1, x2] (both fed to the single model input, in order) and outputs are [y1, y2]. ` +
      `The state carried from call 1 into call 2 is the final (h, c) of call 1. See checks.stateful.`,
    sizes: rng => ({ ...lstmSizes(rng), units2: R(rng, 1, 16) }),
    build: s => {
      const mk = (nm, stateful) => {
        // the non-stateful twin (used by the check only) accepts any batch and time length
        const bis = stateful ? [s.batch, s.time, s.feat] : [null, null, s.feat];
        const layers = [];
        if (o.stack) {
          layers.push(lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true, stateful,
            batchInputShape: bis }));
        }
        layers.push(lstm({
          name: o.stack ? 'lstm_1' : 'lstm', units: o.stack ? s.units2 : s.units, recurrentActivation: o.rec,
          returnSequences: o.seq, stateful, ...(o.stack ? {} : { batchInputShape: bis }),
        }));
        return seqModel(nm, layers);
      };
      return {
        models: [{ suffix: '', model: mk(name, true) }],
        inputs: [{ label: 'x1', shape: [s.batch, s.time, s.feat] }, { label: 'x2', shape: [s.batch, s.time, s.feat] }],
        kind: 'stateful', wScale: o.rec === 'hard_sigmoid' ? 3.5 : 2, bScale: 0.5, xScale: 1, outputLabels: ['y1', 'y2'],
        extraChecks: ctx => statefulCheck(ctx, s, o, mk),
      };
    },
  });
}

/** Stateful y1,y2 vs a non-stateful twin on x1 and on concat(x1,x2) along time; and reset_states reproducibility. */
function statefulCheck(ctx, s, o, mk) {
  const twin = mk('stateful_twin', false);
  copyWeights(ctx.models[0], twin);
  const [x1, x2] = ctx.inputs;
  const xcat = tf.concat([x1, x2], 1);
  const [ty1] = runModel(twin, 'predict', [x1]);
  const [tall] = runModel(twin, 'predict', [xcat]);
  let ty2 = tall;
  if (o.seq) {
    const t = tf.tensor(tall.data, tall.shape);
    const sl = tf.slice(t, [0, s.time, 0], [-1, s.time, -1]);
    [ty2] = snapshot([sl]);
    tf.dispose([t, sl]);
  }
  const c1 = compare([ctx.outputs[0]], [ty1]);
  const c2 = compare([ctx.outputs[1]], [ty2]);
  // reset_states + re-run must reproduce y1, y2
  const again = runModel(ctx.models[0], 'stateful', ctx.inputs);
  const c3 = compare(again, ctx.outputs);
  // without reset: a third call continues from the state after x2 (must differ from y1 in general)
  xcat.dispose(); twin.dispose();
  return {
    stateful: {
      description: 'y1 vs non-stateful twin(x1); y2 vs twin(concat([x1,x2], axis=1)) (its last step, or its second half ' +
        'for return_sequences); and reset_states() + the same two calls reproducing [y1, y2]',
      y1_matches_twin: c1.bitwise, y1_max_abs_diff: c1.max_abs_diff,
      y2_matches_twin_on_concatenation: c2.bitwise, y2_max_abs_diff: c2.max_abs_diff,
      reset_states_reproduces: c3.bitwise,
      predict_keeps_state_across_calls: c2.max_abs_diff !== null && c2.max_abs_diff < 1e-6,
    },
  };
}
addStateful('stateful_last_rec_sigmoid', { rec: 'sigmoid', seq: false });
addStateful('stateful_seq_rec_sigmoid', { rec: 'sigmoid', seq: true });
addStateful('stateful_seq_rec_hard_sigmoid', { rec: 'hard_sigmoid', seq: true });
addStateful('stateful_stacked2_last', { rec: 'sigmoid', seq: false, stack: true });

// ---- 10. lstm_initial_state ------------------------------------------------
function addInitialState(name, o) {
  cases.push({
    group: 'lstm_initial_state', name,
    notes: s => `Functional model, inputs [x, h0, c0] with x [${s.batch},${s.time},${s.feat}], h0/c0 [${s.batch},${s.units}]: ` +
      lstmDesc(s, o) + ', called with initial_state=[h0, c0]. h0, c0 uniform(-1,1). tfjs serialises the initial states as ' +
      'extra inbound tensors of the LSTM node (inbound_nodes [[x],[h0],[c0]]), Keras-2 style.' +
      (o.state ? ' Outputs are [output, h, c].' : ''),
    sizes: rng => lstmSizes(rng),
    build: s => {
      const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
      const h0 = tf.input({ name: 'h0', shape: [s.units] });
      const c0 = tf.input({ name: 'c0', shape: [s.units] });
      const layer = lstm({ name: 'lstm', units: s.units, recurrentActivation: o.rec, activation: o.activation ?? 'tanh',
        returnSequences: !!o.seq, returnState: !!o.state, goBackwards: !!o.back });
      const outs = layer.apply(x, { initialState: [h0, c0] });
      return {
        models: [{ suffix: '', model: tf.model({ name, inputs: [x, h0, c0], outputs: outs }) }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }, { label: 'h0', shape: [s.batch, s.units] },
          { label: 'c0', shape: [s.batch, s.units] }],
        kind: 'predict', wScale: o.rec === 'hard_sigmoid' ? 3.5 : 2, bScale: 0.5, xScale: 1,
        outputLabels: o.state ? ['output', 'h', 'c'] : ['y'],
      };
    },
  });
}
addInitialState('init_state_last_rec_sigmoid', { rec: 'sigmoid' });
addInitialState('init_state_seq_rec_sigmoid', { rec: 'sigmoid', seq: true });
addInitialState('init_state_state_seq_rec_sigmoid', { rec: 'sigmoid', seq: true, state: true });
addInitialState('init_state_backwards_seq_rec_sigmoid', { rec: 'sigmoid', seq: true, back: true });
addInitialState('init_state_last_rec_hard_sigmoid', { rec: 'hard_sigmoid', state: true });

// ---- 11. shape_layers ------------------------------------------------------
// Layers without weights (Flatten, Reshape, Activation, Dropout) mixed with Dense/LSTM in
// Sequential models. tfjs serialises a Reshape -1 as null (see README).
const flatten = (name = 'flatten') => tf.layers.flatten({ name });
const reshape = (targetShape, extra = {}) => tf.layers.reshape({ name: 'reshape', targetShape: targetShape.slice(), ...extra });
const activation = (a, name = 'activation') => tf.layers.activation({ name, activation: act(a) });
const dropout = (name = 'dropout') => tf.layers.dropout({ name, rate: 0.3 });

function addShapeCase(name, o) {
  // o: { sizes(rng) -> s (without batch), input(s) -> dims without batch, layers(s, first) -> [layers],
  //      desc(s) -> string, w?, x?, more?, fixedBatch? }. `first` ({inputShape}, or {batchInputShape} with
  //      fixedBatch) goes into the first layer's arguments.
  const w = o.w ?? 2, x = o.x ?? 1;
  cases.push({
    group: 'shape_layers', name,
    notes: s => `${o.desc(s)}, on input [${[s.batch, ...o.input(s)]}]. Kernels uniform(-1,1)*${w}/sqrt(fan_in), ` +
      `bias uniform(-1,1)*0.5, inputs uniform(-1,1)*${x}.` + (o.more ? ' ' + o.more : ''),
    sizes: rng => ({ batch: R(rng, 1, 5), ...o.sizes(rng) }),
    build: s => ({
      models: [{
        suffix: '',
        model: seqModel(name, o.layers(s, o.fixedBatch ? { batchInputShape: [s.batch, ...o.input(s)] } : { inputShape: o.input(s) })),
      }],
      inputs: [{ label: 'x', shape: [s.batch, ...o.input(s)] }],
      kind: 'predict', wScale: w, bScale: 0.5, xScale: x, outputLabels: ['y'],
    }),
  });
}
const DROPOUT_NOTE = 'Dropout(rate=0.3) is the identity at inference (predict runs with training=false).';
// tfjs Reshape.computeOutputShape leaves the -1 unresolved (null) whenever ANY input dimension is unknown,
// the batch axis included (Keras checks input_shape[1:] only), so a layer that needs the inferred size
// to build (Dense, LSTM on that axis, Flatten) fails unless the batch size is fixed.
const FIXED_BATCH_NOTE = 'tfjs writes the -1 of target_shape as null. The model fixes the batch size (batch_input_shape): ' +
  'tfjs resolves a Reshape -1 statically only when every input dimension, the batch axis included, is known, and the ' +
  'next layer needs the inferred size to build.';

addShapeCase('dense_flatten_dense_rank3', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), u1: R(rng, 1, 16), u2: R(rng, 1, 16) }),
  input: s => [s.time, s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.u1, activation: 'relu', ...first }), flatten(),
    dense({ name: 'dense_1', units: s.u2 })],
  desc: s => `Dense(${s.u1}, relu) -> Flatten -> Dense(${s.u2}, linear); Flatten gives [B, ${s.time * s.u1}]`,
});
addShapeCase('dense_flatten_dense_rank4', {
  sizes: rng => ({ h: R(rng, 1, 4), wd: R(rng, 1, 4), feat: R(rng, 1, 16), u1: R(rng, 1, 16), u2: R(rng, 1, 16) }),
  input: s => [s.h, s.wd, s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.u1, activation: 'tanh', ...first }), flatten(),
    dense({ name: 'dense_1', units: s.u2, activation: 'sigmoid' })],
  desc: s => `Dense(${s.u1}, tanh) -> Flatten -> Dense(${s.u2}, sigmoid); Flatten gives [B, ${s.h * s.wd * s.u1}]`,
});
addShapeCase('td_flatten_dense_rank4', {
  sizes: rng => ({ time: R(rng, 1, 8), h: R(rng, 1, 4), wd: R(rng, 1, 8), units: R(rng, 1, 16) }),
  input: s => [s.time, s.h, s.wd],
  layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed', layer: flatten(), ...first }),
    dense({ name: 'dense', units: s.units })],
  desc: s => `TimeDistributed(Flatten) -> Dense(${s.units}, linear) on the rank-3 result; TimeDistributed(Flatten) ` +
    `gives [B, ${s.time}, ${s.h * s.wd}] (each time step flattened, unlike Flatten)`,
});
addShapeCase('td_flatten_lstm_dense_rank4', {
  sizes: rng => ({ time: R(rng, 1, 8), h: R(rng, 1, 4), wd: R(rng, 1, 8), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  input: s => [s.time, s.h, s.wd],
  layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed', layer: flatten(), ...first }),
    lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true }),
    dense({ name: 'dense', units: s.dunits })],
  desc: s => `TimeDistributed(Flatten) -> LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true) -> ` +
    `Dense(${s.dunits}, linear) on the rank-3 sequence; the LSTM sees [B, ${s.time}, ${s.h * s.wd}]`,
});
addShapeCase('dense_reshape_dense', {
  sizes: rng => ({ feat: R(rng, 1, 16), a: R(rng, 1, 4), b: R(rng, 1, 4), units: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.a * s.b, ...first }), reshape([s.a, s.b]),
    dense({ name: 'dense_1', units: s.units, activation: 'relu' })],
  desc: s => `Dense(${s.a * s.b}, linear) -> Reshape((${s.a}, ${s.b})) -> Dense(${s.units}, relu) on the rank-3 result`,
});
addShapeCase('dense_reshape_infer_lstm', {
  sizes: rng => ({ feat: R(rng, 1, 16), time: R(rng, 1, 8), g: R(rng, 1, 4), units: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.time * s.g, ...first }), reshape([-1, s.g]),
    lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid' })],
  desc: s => `Dense(${s.time * s.g}, linear) -> Reshape((-1, ${s.g})) (the -1 is ${s.time}, the LSTM's time axis) -> ` +
    `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=false)`,
  more: 'tfjs writes the -1 of target_shape as null.',
});
addShapeCase('lstm_reshape_infer_dense', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  input: s => [s.time, s.feat],
  layers: (s, first) => [lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true, ...first }),
    reshape([-1]), dense({ name: 'dense', units: s.dunits })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true) -> Reshape((-1,)) ` +
    `(the -1 is ${s.time * s.units}) -> Dense(${s.dunits}, linear)`,
  more: FIXED_BATCH_NOTE, fixedBatch: true,
});
addShapeCase('dense_reshape_td_dense', {
  sizes: rng => ({ feat: R(rng, 1, 16), time: R(rng, 1, 8), g: R(rng, 1, 4), units: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.time * s.g, ...first }), reshape([s.time, s.g]),
    td(dense({ name: 'dense_1', units: s.units, activation: 'tanh' }))],
  desc: s => `Dense(${s.time * s.g}, linear) -> Reshape((${s.time}, ${s.g})) -> TimeDistributed(Dense(${s.units}, tanh))`,
});
addShapeCase('reshape_infer_rank4_td_dense_flatten_dense', {
  sizes: rng => ({ time: R(rng, 1, 8), a: R(rng, 1, 4), c: R(rng, 1, 4), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  input: s => [s.time, s.a * s.c],
  layers: (s, first) => [reshape([s.time, s.a, -1], first), td(dense({ name: 'dense', units: s.units, activation: 'relu' })),
    flatten(), dense({ name: 'dense_1', units: s.dunits })],
  desc: s => `Reshape((${s.time}, ${s.a}, -1)) (the -1 is ${s.c}) as the first layer -> ` +
    `TimeDistributed(Dense(${s.units}, relu)) on the rank-4 result -> Flatten -> Dense(${s.dunits}, linear)`,
  more: FIXED_BATCH_NOTE, fixedBatch: true,
});
addShapeCase('td_reshape_activation_dropout_flatten', {
  sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 16), a: R(rng, 1, 4), c: R(rng, 1, 4), units: R(rng, 1, 16) }),
  input: s => [s.time, s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.a * s.c, ...first }),
    td(reshape([s.a, s.c]), 'time_distributed'), td(activation('tanh'), 'time_distributed_1'),
    td(dropout(), 'time_distributed_2'), td(flatten(), 'time_distributed_3'), dense({ name: 'dense_1', units: s.units })],
  desc: s => `Dense(${s.a * s.c}, linear) -> TimeDistributed(Reshape((${s.a}, ${s.c}))) -> TimeDistributed(Activation(tanh)) ` +
    `-> TimeDistributed(Dropout(0.3)) -> TimeDistributed(Flatten) -> Dense(${s.units}, linear)`,
  more: DROPOUT_NOTE,
});
addShapeCase('dense_activation_softmax_rank3', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), units: R(rng, 2, 16) }),
  input: s => [s.time, s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), activation('softmax')],
  desc: s => `Dense(${s.units}, linear) -> Activation(softmax) (over the last axis)`, w: 3.5, x: 3,
});
addShapeCase('dense_activation_hard_sigmoid_dense', {
  sizes: rng => ({ feat: R(rng, 1, 16), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.units, ...first }), activation('hard_sigmoid'),
    dense({ name: 'dense_1', units: s.dunits })],
  desc: s => `Dense(${s.units}, linear) -> Activation(hard_sigmoid) -> Dense(${s.dunits}, linear)`, w: 3.5, x: 3,
  more: 'tfjs computes hard_sigmoid with the Keras 2 formula clip(0.2x + 0.5, 0, 1) (see "formulas").',
});
addShapeCase('dense_elu_dropout_lstm_td_dense', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), u1: R(rng, 1, 16), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  input: s => [s.time, s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.u1, ...first }), activation('elu'), dropout(),
    lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true }),
    td(dense({ name: 'dense_1', units: s.dunits, activation: 'sigmoid' }))],
  desc: s => `Dense(${s.u1}, linear) -> Activation(elu) -> Dropout(0.3) -> LSTM(${s.units}, recurrent_activation=sigmoid, ` +
    `return_sequences=true) -> TimeDistributed(Dense(${s.dunits}, sigmoid))`,
  more: DROPOUT_NOTE,
});
addShapeCase('dense_dropout_dense_activation_relu', {
  sizes: rng => ({ feat: R(rng, 1, 16), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.units, activation: 'tanh', ...first }), dropout(),
    dense({ name: 'dense_1', units: s.dunits }), activation('relu')],
  desc: s => `Dense(${s.units}, tanh) -> Dropout(0.3) -> Dense(${s.dunits}, linear) -> Activation(relu)`, x: 3,
  more: DROPOUT_NOTE,
});

// ---- 12. functional --------------------------------------------------------
// Functional (tf.model) graphs with several inputs/outputs and shared layers. "inputs" follow the
// model's input order, "outputs" the model's output order.
function addFunctional(name, o) {
  // o: { sizes(rng) -> s (without batch), graph(s) -> {inputs: [{label, dims, tensor}], outputs, labels}, desc(s), w? }
  const w = o.w ?? 2, x = o.x ?? 1;
  cases.push({
    group: 'functional', name,
    notes: s => `Functional model: ${o.desc(s)}. Batch ${s.batch}. Kernels uniform(-1,1)*${w}/sqrt(fan_in), ` +
      `bias uniform(-1,1)*0.5, inputs uniform(-1,1)*${x}.` + (o.more ? ' ' + o.more : ''),
    sizes: rng => ({ batch: R(rng, 1, 5), ...o.sizes(rng) }),
    build: s => {
      const g = o.graph(s);
      return {
        models: [{ suffix: '', model: tf.model({ name, inputs: g.inputs.map(i => i.tensor), outputs: g.outputs }) }],
        inputs: g.inputs.map(i => ({ label: i.label, shape: [s.batch, ...i.dims] })),
        kind: 'predict', wScale: w, bScale: 0.5, xScale: x, outputLabels: g.labels,
      };
    },
  });
}
const fnInput = (label, dims) => ({ label, dims, tensor: tf.input({ name: label, shape: dims }) });

addFunctional('two_inputs_two_lstms', {
  sizes: rng => ({ t1: R(rng, 1, 12), f1: R(rng, 1, 16), t2: R(rng, 1, 12), f2: R(rng, 1, 16), u1: R(rng, 1, 16),
    u2: R(rng, 1, 16), d1: R(rng, 1, 16), d2: R(rng, 1, 16) }),
  graph: s => {
    const x1 = fnInput('x1', [s.t1, s.f1]), x2 = fnInput('x2', [s.t2, s.f2]);
    const y1 = dense({ name: 'dense', units: s.d1 }).apply(
      lstm({ name: 'lstm', units: s.u1, recurrentActivation: 'sigmoid' }).apply(x1.tensor));
    const y2 = dense({ name: 'dense_1', units: s.d2, activation: 'tanh' }).apply(
      lstm({ name: 'lstm_1', units: s.u2, recurrentActivation: 'sigmoid', returnSequences: true }).apply(x2.tensor));
    return { inputs: [x1, x2], outputs: [y1, y2], labels: ['y1', 'y2'] };
  },
  desc: s => `inputs x1 [${s.batch},${s.t1},${s.f1}] and x2 [${s.batch},${s.t2},${s.f2}]; ` +
    `y1 = Dense(${s.d1}, linear)(LSTM(${s.u1}, recurrent_activation=sigmoid)(x1)); ` +
    `y2 = Dense(${s.d2}, tanh)(LSTM(${s.u2}, recurrent_activation=sigmoid, return_sequences=true)(x2)) (Dense on rank 3); ` +
    'outputs [y1, y2]',
});
addFunctional('shared_dense_two_inputs', {
  sizes: rng => ({ feat: R(rng, 1, 16), units: R(rng, 1, 16) }),
  graph: s => {
    const x1 = fnInput('x1', [s.feat]), x2 = fnInput('x2', [s.feat]);
    const shared = dense({ name: 'dense', units: s.units, activation: 'relu' });
    return { inputs: [x1, x2], outputs: [shared.apply(x1.tensor), shared.apply(x2.tensor)], labels: ['y1', 'y2'] };
  },
  desc: s => `inputs x1, x2 [${s.batch},${s.feat}]; ONE Dense(${s.units}, relu) layer object called on both ` +
    '(the config lists two inbound nodes for it: node 0 on x1, node 1 on x2); outputs [dense(x1), dense(x2)]',
});
addFunctional('shared_dense_applied_twice', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  graph: s => {
    const x = fnInput('x', [s.time, s.feat]);
    const shared = dense({ name: 'dense', units: s.feat, activation: 'tanh' });
    const once = shared.apply(x.tensor);
    const twice = shared.apply(once);
    const head = dense({ name: 'dense_1', units: s.dunits }).apply(twice);
    return { inputs: [x], outputs: [once, head], labels: ['once', 'head'] };
  },
  desc: s => `input x [${s.batch},${s.time},${s.feat}]; ONE Dense(${s.feat}, tanh) layer object applied twice in a row ` +
    `(node 1 takes node 0's output), then Dense(${s.dunits}, linear); outputs [dense(x), dense_1(dense(dense(x)))]`,
});
addFunctional('shared_lstm_two_inputs', {
  sizes: rng => ({ t1: R(rng, 1, 12), t2: R(rng, 1, 12), feat: R(rng, 1, 16), units: R(rng, 1, 16), dunits: R(rng, 1, 16) }),
  graph: s => {
    const x1 = fnInput('x1', [s.t1, s.feat]), x2 = fnInput('x2', [s.t2, s.feat]);
    const shared = lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid' });
    const head = dense({ name: 'dense', units: s.dunits });
    return {
      inputs: [x1, x2], outputs: [head.apply(shared.apply(x1.tensor)), head.apply(shared.apply(x2.tensor))],
      labels: ['y1', 'y2'],
    };
  },
  desc: s => `inputs x1 [${s.batch},${s.t1},${s.feat}] and x2 [${s.batch},${s.t2},${s.feat}] (different lengths); ` +
    `ONE LSTM(${s.units}, recurrent_activation=sigmoid) and ONE Dense(${s.dunits}, linear), each called on both ` +
    'branches (two inbound nodes each); outputs [dense(lstm(x1)), dense(lstm(x2))]',
});
addFunctional('lstm_state_heads', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), units: R(rng, 1, 16), d1: R(rng, 1, 16), d2: R(rng, 1, 16) }),
  graph: s => {
    const x = fnInput('x', [s.time, s.feat]);
    const [, h, c] = lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnState: true }).apply(x.tensor);
    const yh = dense({ name: 'dense', units: s.d1 }).apply(h);
    const yc = dense({ name: 'dense_1', units: s.d2, activation: 'sigmoid' }).apply(c);
    return { inputs: [x], outputs: [yh, yc], labels: ['y_h', 'y_c'] };
  },
  desc: s => `input x [${s.batch},${s.time},${s.feat}]; [out, h, c] = LSTM(${s.units}, recurrent_activation=sigmoid, ` +
    `return_state=true)(x); outputs [Dense(${s.d1}, linear)(h), Dense(${s.d2}, sigmoid)(c)] (tensor indices 1 and 2 of the ` +
    'LSTM node; out itself is unused)',
});
addFunctional('branch_activation_dropout', {
  sizes: rng => ({ time: R(rng, 1, 12), feat: R(rng, 1, 16), u1: R(rng, 1, 16), d1: R(rng, 1, 16), units: R(rng, 1, 16) }),
  graph: s => {
    const x = fnInput('x', [s.time, s.feat]);
    const trunk = dense({ name: 'dense', units: s.u1 }).apply(x.tensor);
    const ya = dense({ name: 'dense_1', units: s.d1 }).apply(activation('hard_sigmoid').apply(trunk));
    const yb = lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid' }).apply(dropout().apply(trunk));
    return { inputs: [x], outputs: [ya, yb], labels: ['y_a', 'y_b'] };
  },
  desc: s => `input x [${s.batch},${s.time},${s.feat}]; t = Dense(${s.u1}, linear)(x); ` +
    `branch a: Dense(${s.d1}, linear)(Activation(hard_sigmoid)(t)) (Dense on rank 3); ` +
    `branch b: LSTM(${s.units}, recurrent_activation=sigmoid)(Dropout(0.3)(t)); outputs [a, b]`,
  w: 3.5, x: 2,
  more: `${DROPOUT_NOTE} hard_sigmoid is the Keras 2 formula (see "formulas").`,
});

// ===========================================================================
// Recurrent layers beyond LSTM: GRU, SimpleRNN, Bidirectional, masking,
// Embedding, explicit call masks. Sizes are small: batch 1-4, time 1-7,
// features 1-6, units 1-8 (unless a case fixes them).
// ===========================================================================
const STATE_LABELS = { lstm: ['h', 'c'], gru: ['h'], simple_rnn: ['h'] };
const CELL_CLASS = { lstm: 'LSTM', gru: 'GRU', simple_rnn: 'SimpleRNN' };

/** An LSTM / GRU / SimpleRNN layer with zeros initialisers. For GRU, `rec` undefined keeps the tfjs default
 *  (hardSigmoid); LSTM needs it explicitly; SimpleRNN has none. The layer name defaults to the cell kind. */
function rnnLayer(cell, o) {
  const { activation = 'tanh', recurrentActivation, ...rest } = o;
  const base = {
    name: cell, kernelInitializer: 'zeros', recurrentInitializer: 'zeros', biasInitializer: 'zeros',
    activation: act(activation), ...rest,
  };
  if (cell === 'lstm') return lstm({ ...base, activation, recurrentActivation });
  if (cell === 'gru') {
    return tf.layers.gru(recurrentActivation === undefined ? base : { ...base, recurrentActivation: act(recurrentActivation) });
  }
  if (cell === 'simple_rnn') {
    if (recurrentActivation !== undefined) throw new Error('SimpleRNN has no recurrent_activation');
    return tf.layers.simpleRNN(base);
  }
  throw new Error(`unknown cell ${cell}`);
}
function smallSizes(rng, fixed = {}) {
  return {
    batch: fixed.batch ?? R(rng, 1, 4), time: fixed.time ?? R(rng, 1, 7),
    feat: fixed.feat ?? R(rng, 1, 6), units: fixed.units ?? R(rng, 1, 8),
  };
}
const recText = o => (o.cell === 'simple_rnn' ? '' :
  `recurrent_activation=${o.rec ?? 'hard_sigmoid (tfjs default, not passed)'}, `);
const rnnDesc = (s, o) => `${CELL_CLASS[o.cell]}(units=${s.units}, activation=${o.activation ?? 'tanh'}, ${recText(o)}` +
  `use_bias=${o.useBias ?? true}, return_sequences=${!!o.seq}, return_state=${!!o.state}, go_backwards=${!!o.back}` +
  `${o.cell === 'gru' ? ', reset_after=false' : ''}) on input [${s.batch},${s.time},${s.feat}]`;
const rnnCfg = (s, o) => ({
  units: s.units, activation: o.activation ?? 'tanh', useBias: o.useBias ?? true, returnSequences: !!o.seq,
  returnState: !!o.state, goBackwards: !!o.back, ...(o.cell === 'simple_rnn' ? {} : { recurrentActivation: o.rec }),
});
const wDefault = o => o.w ?? (o.rec === 'hard_sigmoid' || (o.cell === 'gru' && o.rec === undefined) ? 3.5 : 2);
const GO_BACKWARDS_NOTE = ' go_backwards: the input is processed from t=T-1 down to 0 and the output sequence is in ' +
  'PROCESSING order (output[:,0] belongs to input step T-1), not flipped back; see checks.go_backwards.';

/** go_backwards output vs. the same layer run forwards on the time-reversed input (any cell kind). */
function rnnGoBackwardsCheck(ctx, s, cell, cfg) {
  const fwd = seqModel('go_backwards_twin', [rnnLayer(cell, { ...cfg, goBackwards: false, returnState: false, inputShape: [s.time, s.feat] })]);
  copyWeights(ctx.models[0], fwd);
  const rev = tf.reverse(ctx.inputs[0], 1);
  const got = runModel(fwd, 'predict', [rev]);
  const c = compare(ctx.outputs.slice(0, 1), got);
  fwd.dispose(); rev.dispose();
  return {
    go_backwards: {
      description: 'output of this go_backwards layer compared with a forward layer with the same weights run on the ' +
        'time-reversed input (reverse(x, axis=1)); equal => output is in processing order (not flipped back)',
      bitwise_equal: c.bitwise, max_abs_diff: c.max_abs_diff,
    },
  };
}

function addRnnCase(group, name, o) {
  // o: {cell, rec, activation, useBias, seq, state, back, fixed, w}
  const w = wDefault(o);
  cases.push({
    group, name,
    notes: s => rnnDesc(s, o) + '.' +
      (o.state ? ` Functional model; outputs are [output, ${STATE_LABELS[o.cell].join(', ')}] (Keras return_state order).` : '') +
      (o.back ? GO_BACKWARDS_NOTE : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => smallSizes(rng, o.fixed),
    build: s => {
      const cfg = rnnCfg(s, o);
      let model;
      if (o.state) {
        const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
        model = tf.model({ name, inputs: x, outputs: rnnLayer(o.cell, cfg).apply(x) });
      } else {
        model = seqModel(name, [rnnLayer(o.cell, { ...cfg, inputShape: [s.time, s.feat] })]);
      }
      const spec = {
        models: [{ suffix: '', model }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: 1,
        outputLabels: o.state ? ['output', ...STATE_LABELS[o.cell]] : ['y'],
      };
      if (o.back) spec.extraChecks = ctx => rnnGoBackwardsCheck(ctx, s, o.cell, cfg);
      return spec;
    },
  });
}

function addRnnStateful(group, name, o) {
  // o: {cell, rec, seq}
  const w = wDefault(o);
  cases.push({
    group, name, callSequence: true,
    notes: s => `Stateful ${CELL_CLASS[o.cell]}(units=${s.units}, ${recText(o)}return_sequences=${o.seq}, stateful=true) ` +
      `with batch_input_shape [${s.batch},${s.time},${s.feat}]. CALL SEQUENCE: reset_states(); y1 = predict(x1); ` +
      `y2 = predict(x2): inputs are [x1, x2] (both fed to the single model input, in order) and outputs are [y1, y2]. ` +
      `The state carried from call 1 into call 2 is the final h of call 1. See checks.stateful. ` +
      `Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => smallSizes(rng),
    build: s => {
      const mk = (nm, stateful) => seqModel(nm, [rnnLayer(o.cell, {
        ...rnnCfg(s, o), stateful, batchInputShape: stateful ? [s.batch, s.time, s.feat] : [null, null, s.feat],
      })]);
      return {
        models: [{ suffix: '', model: mk(name, true) }],
        inputs: [{ label: 'x1', shape: [s.batch, s.time, s.feat] }, { label: 'x2', shape: [s.batch, s.time, s.feat] }],
        kind: 'stateful', wScale: w, bScale: 0.5, xScale: 1, outputLabels: ['y1', 'y2'],
        extraChecks: ctx => statefulCheck(ctx, s, o, mk),
      };
    },
  });
}

function addRnnInitState(group, name, o) {
  const w = wDefault(o);
  const st = STATE_LABELS[o.cell].map(l => l + '0');
  cases.push({
    group, name,
    notes: s => `Functional model, inputs [x, ${st.join(', ')}] with x [${s.batch},${s.time},${s.feat}], ` +
      `${st.join('/')} [${s.batch},${s.units}]: ` + rnnDesc(s, o) + `, called with initial_state=[${st.join(', ')}]. ` +
      `${st.join(', ')} uniform(-1,1). tfjs serialises the initial state as extra inbound tensors of the layer node ` +
      `(inbound_nodes [[x],${st.map(l => `[${l}]`).join(',')}]), Keras-2 style.` +
      (o.state ? ` Outputs are [output, ${STATE_LABELS[o.cell].join(', ')}].` : '') + (o.back ? GO_BACKWARDS_NOTE : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => smallSizes(rng),
    build: s => {
      const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
      const states = st.map(l => tf.input({ name: l, shape: [s.units] }));
      const outs = rnnLayer(o.cell, rnnCfg(s, o)).apply(x, { initialState: states });
      return {
        models: [{ suffix: '', model: tf.model({ name, inputs: [x, ...states], outputs: outs }) }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }, ...st.map(l => ({ label: l, shape: [s.batch, s.units] }))],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: 1,
        outputLabels: o.state ? ['output', ...STATE_LABELS[o.cell]] : ['y'],
      };
    },
  });
}

// ---- 13. gru ---------------------------------------------------------------
// tfjs GRU = Keras GRU with reset_after=false (tfjs throws for reset_after=true and always writes
// "reset_after": false). Gate blocks along 3u: z, r, h.
addRnnCase('gru', 'gru_last_rec_sigmoid', { cell: 'gru', rec: 'sigmoid' });
addRnnCase('gru', 'gru_seq_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', seq: true });
addRnnCase('gru', 'gru_seq_rec_default_hard_sigmoid', { cell: 'gru', seq: true });
addRnnCase('gru', 'gru_last_rec_hard_sigmoid', { cell: 'gru', rec: 'hard_sigmoid' });
addRnnCase('gru', 'gru_state_last_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', state: true });
addRnnCase('gru', 'gru_state_seq_rec_hard_sigmoid', { cell: 'gru', rec: 'hard_sigmoid', state: true, seq: true });
addRnnCase('gru', 'gru_backwards_last_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', back: true });
addRnnCase('gru', 'gru_backwards_state_seq_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', back: true, seq: true, state: true });
addRnnCase('gru', 'gru_nobias_seq_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', useBias: false, seq: true });
addRnnCase('gru', 'gru_act_relu_seq_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', activation: 'relu', seq: true, w: 1 });
addRnnCase('gru', 'gru_act_relu_last_rec_hard_sigmoid', { cell: 'gru', rec: 'hard_sigmoid', activation: 'relu', w: 1.5 });
addRnnCase('gru', 'gru_edge_t1_f1_u1', { cell: 'gru', rec: 'sigmoid', seq: true, fixed: { time: 1, feat: 1, units: 1 } });
addRnnCase('gru', 'gru_edge_b1_f1_u1_state', { cell: 'gru', rec: 'sigmoid', state: true, fixed: { batch: 1, feat: 1, units: 1 } });
addRnnStateful('gru', 'gru_stateful_last_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', seq: false });
addRnnStateful('gru', 'gru_stateful_seq_rec_hard_sigmoid', { cell: 'gru', rec: 'hard_sigmoid', seq: true });
addRnnInitState('gru', 'gru_init_state_seq_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', seq: true });
addRnnInitState('gru', 'gru_init_state_state_backwards_rec_sigmoid', { cell: 'gru', rec: 'sigmoid', state: true, back: true });

// ---- 14. simple_rnn --------------------------------------------------------
addRnnCase('simple_rnn', 'simple_rnn_last', { cell: 'simple_rnn' });
addRnnCase('simple_rnn', 'simple_rnn_seq', { cell: 'simple_rnn', seq: true });
addRnnCase('simple_rnn', 'simple_rnn_state_seq', { cell: 'simple_rnn', seq: true, state: true });
addRnnCase('simple_rnn', 'simple_rnn_backwards_seq', { cell: 'simple_rnn', seq: true, back: true });
addRnnCase('simple_rnn', 'simple_rnn_backwards_state_last', { cell: 'simple_rnn', state: true, back: true });
addRnnCase('simple_rnn', 'simple_rnn_nobias_last', { cell: 'simple_rnn', useBias: false });
addRnnCase('simple_rnn', 'simple_rnn_act_relu_seq', { cell: 'simple_rnn', activation: 'relu', seq: true, w: 1 });
addRnnCase('simple_rnn', 'simple_rnn_act_sigmoid_seq', { cell: 'simple_rnn', activation: 'sigmoid', seq: true });
addRnnCase('simple_rnn', 'simple_rnn_edge_t1_f1_u1', { cell: 'simple_rnn', seq: true, fixed: { time: 1, feat: 1, units: 1 } });
addRnnStateful('simple_rnn', 'simple_rnn_stateful_seq', { cell: 'simple_rnn', seq: true });
addRnnInitState('simple_rnn', 'simple_rnn_init_state_last', { cell: 'simple_rnn' });
addRnnInitState('simple_rnn', 'simple_rnn_init_state_state_seq', { cell: 'simple_rnn', seq: true, state: true });

// ---- 15. bidirectional -----------------------------------------------------
const bidi = (cell, cfg, merge, extra = {}) =>
  tf.layers.bidirectional({ name: 'bidirectional', layer: rnnLayer(cell, cfg), mergeMode: merge, ...extra });
/** Output labels of a Bidirectional layer, in tfjs order. */
function bidiLabels(cell, merge, state) {
  const outs = merge === null ? ['forward_output', 'backward_output'] : ['output'];
  if (!state) return outs;
  return [...outs, ...STATE_LABELS[cell].map(l => 'forward_' + l), ...STATE_LABELS[cell].map(l => 'backward_' + l)];
}
const BIDI_NOTE = 'Bidirectional: the forward copy runs on x; the backward copy is the same layer config with ' +
  'go_backwards=true (weights listed after the forward ones). With return_sequences the backward sequence is ' +
  'flipped back to input order before merging (concat = [forward, backward] on the last axis; sum; mul; ave = ' +
  '0.5*(f+b); null = two separate outputs).';

function addBidiCase(name, o) {
  // o: {cell, rec, merge (string|null), seq, state, head: undefined|'td_dense'|'dense', w}
  const w = wDefault(o);
  cases.push({
    group: 'bidirectional', name,
    notes: s => `Bidirectional(${rnnDesc(s, o).replace(/ on input.*/, '')}, merge_mode=${o.merge}) on input ` +
      `[${s.batch},${s.time},${s.feat}]` +
      (o.head === 'td_dense' ? ` -> TimeDistributed(Dense(${s.dunits}, linear))` : '') +
      (o.head === 'dense' ? ` -> Dense(${s.dunits}, tanh)` : '') + `. ${BIDI_NOTE}` +
      (o.state || o.merge === null ? ` Outputs are [${bidiLabels(o.cell, o.merge, o.state).join(', ')}] (tfjs order).` : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => ({ ...smallSizes(rng), dunits: R(rng, 1, 8) }),
    build: s => {
      const cfg = rnnCfg(s, o);
      let model;
      if (o.state || o.merge === null) {
        const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
        model = tf.model({ name, inputs: x, outputs: bidi(o.cell, cfg, o.merge).apply(x) });
      } else {
        const layers = [bidi(o.cell, cfg, o.merge, { inputShape: [s.time, s.feat] })];
        if (o.head === 'td_dense') layers.push(td(dense({ name: 'dense', units: s.dunits })));
        if (o.head === 'dense') layers.push(dense({ name: 'dense', units: s.dunits, activation: 'tanh' }));
        model = seqModel(name, layers);
      }
      return {
        models: [{ suffix: '', model }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: 1,
        outputLabels: o.head ? ['y'] : (o.state || o.merge === null ? bidiLabels(o.cell, o.merge, o.state) : ['y']),
      };
    },
  });
}
addBidiCase('bidi_lstm_concat_seq', { cell: 'lstm', rec: 'sigmoid', merge: 'concat', seq: true });
addBidiCase('bidi_lstm_concat_last', { cell: 'lstm', rec: 'sigmoid', merge: 'concat' });
addBidiCase('bidi_gru_sum_seq', { cell: 'gru', rec: 'sigmoid', merge: 'sum', seq: true });
addBidiCase('bidi_simple_rnn_mul_seq', { cell: 'simple_rnn', merge: 'mul', seq: true });
addBidiCase('bidi_lstm_ave_last_rec_hard_sigmoid', { cell: 'lstm', rec: 'hard_sigmoid', merge: 'ave' });
addBidiCase('bidi_gru_ave_seq', { cell: 'gru', rec: 'sigmoid', merge: 'ave', seq: true });
addBidiCase('bidi_gru_none_seq', { cell: 'gru', rec: 'sigmoid', merge: null, seq: true });
addBidiCase('bidi_lstm_none_last', { cell: 'lstm', rec: 'sigmoid', merge: null });
addBidiCase('bidi_lstm_concat_state_seq', { cell: 'lstm', rec: 'sigmoid', merge: 'concat', seq: true, state: true });
addBidiCase('bidi_gru_none_state_seq', { cell: 'gru', rec: 'sigmoid', merge: null, seq: true, state: true });
addBidiCase('bidi_simple_rnn_sum_state_last', { cell: 'simple_rnn', merge: 'sum', state: true });
addBidiCase('bidi_lstm_concat_seq_td_dense', { cell: 'lstm', rec: 'sigmoid', merge: 'concat', seq: true, head: 'td_dense' });
addBidiCase('bidi_gru_concat_last_dense', { cell: 'gru', rec: 'sigmoid', merge: 'concat', head: 'dense' });
addBidiCase('bidi_simple_rnn_concat_seq_dense', { cell: 'simple_rnn', merge: 'concat', seq: true, head: 'dense' });

// Bidirectional with initial_state: Keras splits the state list in half, the first half for the forward layer and
// the second for the backward layer (LSTM [h_f, c_f, h_b, c_b]; GRU/SimpleRNN [h_f, h_b]). The model inputs are
// [x, forward_h0, (forward_c0,) backward_h0, (backward_c0)], in that order.
const bidiStateInputLabels = cell => ['forward', 'backward'].flatMap(d => STATE_LABELS[cell].map(l => `${d}_${l}0`));

/** Compose the Bidirectional output from two separate layers: a forward one started from the first half of the
 *  states and a go_backwards one started from the second half (same weights), merged as tfjs does. */
function bidiInitStateCheck(ctx, s, o, cfg) {
  const nSt = STATE_LABELS[o.cell].length;
  const run = (states, back) => {
    const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
    const st = states.map((_, i) => tf.input({ name: `s${i}`, shape: [s.units] }));
    const layer = rnnLayer(o.cell, { ...cfg, name: back ? 'backward_twin' : 'forward_twin', goBackwards: back });
    const m = tf.model({ name: 'bidi_twin', inputs: [x, ...st], outputs: layer.apply(x, { initialState: st }) });
    const w = modelLayers(ctx.models[0])[0].getWeights();
    const half = w.length / 2;
    layer.setWeights(back ? w.slice(half) : w.slice(0, half));
    const out = tf.tidy(() => toList(m.predict([ctx.inputs[0], ...states])).map(t => t.clone()));
    m.dispose();
    return out;
  };
  const compose = stateInputs => {
    const f = run(stateInputs.slice(0, nSt), false), b = run(stateInputs.slice(nSt), true);
    const res = tf.tidy(() => {
      let y = f[0], yRev = b[0];
      if (o.seq) yRev = tf.reverse(yRev, 1);
      let outs;
      if (o.merge === 'concat') outs = [tf.concat([y, yRev], -1)];
      else if (o.merge === 'sum') outs = [tf.add(y, yRev)];
      else if (o.merge === 'ave') outs = [tf.mul(0.5, tf.add(y, yRev))];
      else if (o.merge === 'mul') outs = [tf.mul(y, yRev)];
      else outs = [y, yRev];
      if (o.state) outs = [...outs, ...f.slice(1), ...b.slice(1)];
      return snapshot(outs);
    });
    tf.dispose([...f, ...b]);
    return res;
  };
  const twin = compare(ctx.outputs, compose(ctx.inputs.slice(1)));
  const zeros = ctx.inputs.slice(1).map(t => tf.zerosLike(t));
  const zeroRun = runModel(ctx.models[0], 'predict', [ctx.inputs[0], ...zeros]);
  tf.dispose(zeros);
  const z = compare(ctx.outputs, zeroRun);
  return {
    bidi_initial_state: {
      description: 'twin_*: the outputs compared with a forward layer started from the first half of the state inputs ' +
        'and a go_backwards layer started from the second half (same weights), merged like tfjs (backward sequence ' +
        'flipped back first); zero_state_max_abs_diff: max |output - output of this model with all state inputs zero| ' +
        '(> 0: the states are applied)',
      twin_bitwise_equal: twin.bitwise, twin_max_abs_diff: twin.max_abs_diff,
      zero_state_max_abs_diff: z.max_abs_diff,
    },
  };
}

function addBidiInitStateCase(name, o) {
  // o: {cell, rec, merge (string|null), seq, state, w}
  const w = wDefault(o);
  const st = bidiStateInputLabels(o.cell);
  const nSt = STATE_LABELS[o.cell].length;
  const outLabels = o.state || o.merge === null ? bidiLabels(o.cell, o.merge, o.state) : ['y'];
  cases.push({
    group: 'bidirectional', name,
    notes: s => `Functional model, inputs [x, ${st.join(', ')}] with x [${s.batch},${s.time},${s.feat}], ` +
      `${st.join('/')} [${s.batch},${s.units}]: Bidirectional(${rnnDesc(s, o).replace(/ on input.*/, '')}, ` +
      `merge_mode=${o.merge}) called with initial_state=[${st.join(', ')}]. Keras/tfjs split the state list in half: ` +
      `[${st.slice(0, nSt).join(', ')}] start the forward layer, [${st.slice(nSt).join(', ')}] the backward ` +
      `(go_backwards) layer. States uniform(-1,1). tfjs serialises the states as extra inbound tensors of the ` +
      `Bidirectional node (inbound_nodes [[x],${st.map(l => `[${l}]`).join(',')}]), Keras-2 style. ${BIDI_NOTE}` +
      (o.state || o.merge === null ? ` Outputs are [${outLabels.join(', ')}] (tfjs order).` : '') +
      ' checks.bidi_initial_state compares with two separately run layers and with the zero-state run.' +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => smallSizes(rng),
    build: s => {
      const cfg = rnnCfg(s, o);
      const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
      const states = st.map(l => tf.input({ name: l, shape: [s.units] }));
      const outs = bidi(o.cell, cfg, o.merge).apply(x, { initialState: states });
      return {
        models: [{ suffix: '', model: tf.model({ name, inputs: [x, ...states], outputs: outs }) }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }, ...st.map(l => ({ label: l, shape: [s.batch, s.units] }))],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: 1,
        outputLabels: outLabels,
        extraChecks: ctx => bidiInitStateCheck(ctx, s, o, cfg),
      };
    },
  });
}
addBidiInitStateCase('bidi_lstm_concat_seq_init_state', { cell: 'lstm', rec: 'sigmoid', merge: 'concat', seq: true });
addBidiInitStateCase('bidi_gru_sum_last_init_state', { cell: 'gru', rec: 'sigmoid', merge: 'sum' });
addBidiInitStateCase('bidi_simple_rnn_none_state_seq_init_state', { cell: 'simple_rnn', merge: null, seq: true, state: true });

// ---- masks: helpers ---------------------------------------------------------
// Mask patterns: per sample, the time steps that are MASKED (mask 0 / equal to mask_value / token 0).
const MASK_PATTERNS = [[0, 1], [4, 5], [2, 3], [0, 3, 5]]; // leading, trailing, middle, mixed (T = 6)
const patternText = (patterns, batch) => patterns.slice(0, batch).map((p, b) => `sample ${b}: [${p}]`).join('; ');
const isMasked = (patterns, b, t) => patterns[b].includes(t);
/** Input draw: uniform(-1,1)*scale, then every feature of the masked steps set to maskValue. */
const maskedDraw = (patterns, maskValue) => (rng, shape, scale) => {
  const [B, T, F] = shape;
  const data = new Float32Array(B * T * F);
  for (let i = 0; i < data.length; ++i) data[i] = rng.f32(scale);
  for (let b = 0; b < B; ++b) for (let t = 0; t < T; ++t) {
    if (isMasked(patterns, b, t)) for (let f = 0; f < F; ++f) data[(b * T + t) * F + f] = Math.fround(maskValue);
  }
  return tf.tensor(data, shape, 'float32');
};
/** call_mask ({shape, data}: 1 keep, 0 masked) from the patterns. */
function callMaskOf(patterns, B, T) {
  const data = [];
  for (let b = 0; b < B; ++b) for (let t = 0; t < T; ++t) data.push(isMasked(patterns, b, t) ? 0 : 1);
  return { shape: [B, T], data };
}

/**
 * Self-check of the masked-step outputs of a return_sequences RNN fed by the mask directly. For each direction,
 * in processing order, a masked step's output is compared with (a) the previous processed step's output (or the
 * initial h at the first step: zeros, or the given h0) and (b) zeros.
 * dirs: [{offset, width, backwards}] column slices of the output's last axis; the sequence is in input order for
 * Bidirectional halves (backwards=true means processing order is t = T-1 .. 0) and in processing order for a
 * go_backwards layer (pass processingOrderOutput=true).
 */
function maskedStepsCheck(out, patterns, dirs, h0 = null) {
  const [B, T, U] = out.shape;
  let prevEq = 0, zeroEq = 0, total = 0, leadingTotal = 0, leadingEqH0 = 0;
  for (const d of dirs) {
    for (let b = 0; b < B; ++b) {
      let seenUnmasked = false;
      for (let k = 0; k < T; ++k) {
        const t = d.backwards && !d.processingOrderOutput ? T - 1 - k : k; // output row
        const tin = d.backwards ? T - 1 - k : k; // input time step processed at step k
        const row = i => out.data[(b * T + t) * U + d.offset + i];
        const masked = isMasked(patterns, b, tin);
        if (!masked) { seenUnmasked = true; continue; }
        ++total;
        let isPrev = true, isZero = true, isH0 = h0 !== null;
        for (let i = 0; i < d.width; ++i) {
          let prev;
          if (k === 0) prev = h0 ? h0.data[b * h0.shape[1] + i] : 0;
          else {
            const tp = d.backwards && !d.processingOrderOutput ? T - k : k - 1;
            prev = out.data[(b * T + tp) * U + d.offset + i];
          }
          if (!Object.is(row(i) + 0, prev + 0)) isPrev = false;
          if (row(i) !== 0) isZero = false;
          if (h0 !== null && row(i) !== h0.data[b * h0.shape[1] + i]) isH0 = false;
        }
        if (isPrev) ++prevEq;
        if (isZero) ++zeroEq;
        if (!seenUnmasked) { ++leadingTotal; if (isH0) ++leadingEqH0; }
      }
    }
  }
  const r = {
    description: 'masked time steps (per direction, in processing order): how many outputs equal the previous ' +
      'processed step\'s output (the initial h at the first step), and how many are all zeros',
    masked_steps: total, equal_previous_output: prevEq, all_zero: zeroEq,
  };
  if (h0 !== null) Object.assign(r, { leading_masked_steps: leadingTotal, leading_equal_h0: leadingEqH0 });
  return { masked_steps: r };
}

// ---- 16. masking -----------------------------------------------------------
const masking = (maskValue, extra = {}) => tf.layers.masking({ name: 'masking', maskValue, ...extra });
function addMaskingCase(name, o) {
  // o: {maskValue, layers(s, first) -> layers after Masking, desc(s), time, batch, patterns?, check?(s) -> dirs,
  //     bidi?, w?, state?}
  const patterns = o.patterns ?? MASK_PATTERNS;
  const w = o.w ?? 2;
  cases.push({
    group: 'masking', name,
    notes: s => `Masking(mask_value=${o.maskValue}) -> ${o.desc(s)}, on input [${s.batch},${s.time},${s.feat}]. ` +
      `Masked time steps (every feature == mask_value): ${patternText(patterns, s.batch)}. Masking outputs 0 at ` +
      'masked steps (x * any(x != mask_value, -1)) and passes the mask (B, T) on; at a masked step an RNN keeps its ' +
      'state and emits its previous output (see checks.masked_steps).' +
      (o.bidi ? ' tfjs Bidirectional does NOT zero the masked steps (Keras 3 sets zero_output_for_mask=return_sequences ' +
        'on its sublayers and emits 0 there): see formulas.bidirectional_masked_output.' : '') + (o.more ? ' ' + o.more : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => ({ batch: o.batch ?? 4, time: o.time ?? 6, feat: R(rng, 1, 6), units: R(rng, 1, 8), units2: R(rng, 1, 8) }),
    build: s => {
      const first = masking(o.maskValue, { inputShape: [s.time, s.feat] });
      const spec = {
        models: [{ suffix: '', model: seqModel(name, [first, ...o.layers(s)]) }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat], draw: maskedDraw(patterns, o.maskValue) }],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: 1, outputLabels: ['y'],
        formulas: o.bidi ? { bidirectional_masked_output: 'previous' } : undefined,
      };
      if (o.check) spec.extraChecks = ctx => maskedStepsCheck(ctx.outputs[0], patterns, o.check(s));
      return spec;
    },
  });
}
const seqDir = (s, back = false) => [{ offset: 0, width: s.units, backwards: back, processingOrderOutput: true }];
addMaskingCase('masking_lstm_seq', {
  maskValue: 0, layers: s => [rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true)`, check: s => seqDir(s),
});
addMaskingCase('masking_lstm_last', {
  maskValue: 0, layers: s => [rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid' })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=false)`,
  more: 'The last output is the h after the last UNMASKED step (trailing masked steps keep it).',
});
addMaskingCase('masking_lstm_seq_backwards', {
  maskValue: -1, layers: s => [rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true, goBackwards: true })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true, go_backwards=true)`,
  check: s => seqDir(s, true), more: 'go_backwards reverses the mask together with the input; the output is in processing order.',
});
addMaskingCase('masking_gru_seq', {
  maskValue: 0.5, layers: s => [rnnLayer('gru', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `GRU(${s.units}, recurrent_activation=sigmoid, return_sequences=true, reset_after=false)`, check: s => seqDir(s),
});
addMaskingCase('masking_gru_last_backwards', {
  maskValue: 0, layers: s => [rnnLayer('gru', { units: s.units, recurrentActivation: 'hard_sigmoid', goBackwards: true })],
  desc: s => `GRU(${s.units}, recurrent_activation=hard_sigmoid, return_sequences=false, go_backwards=true, reset_after=false)`,
  w: 3.5,
});
addMaskingCase('masking_simple_rnn_seq_backwards', {
  maskValue: 0, layers: s => [rnnLayer('simple_rnn', { units: s.units, returnSequences: true, goBackwards: true })],
  desc: s => `SimpleRNN(${s.units}, tanh, return_sequences=true, go_backwards=true)`, check: s => seqDir(s, true),
});
addMaskingCase('masking_simple_rnn_last', {
  maskValue: -1, layers: s => [rnnLayer('simple_rnn', { units: s.units })],
  desc: s => `SimpleRNN(${s.units}, tanh, return_sequences=false)`,
});
addMaskingCase('masking_bidi_lstm_seq', {
  maskValue: 0, bidi: true,
  layers: s => [bidi('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true }, 'concat')],
  desc: s => `Bidirectional(LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true), merge_mode=concat)`,
  check: s => [{ offset: 0, width: s.units, backwards: false }, { offset: s.units, width: s.units, backwards: true }],
});
addMaskingCase('masking_bidi_gru_last', {
  maskValue: 0, layers: s => [bidi('gru', { units: s.units, recurrentActivation: 'sigmoid' }, 'concat')],
  desc: s => `Bidirectional(GRU(${s.units}, recurrent_activation=sigmoid, return_sequences=false), merge_mode=concat)`,
});
addMaskingCase('masking_dense_lstm_seq', {
  maskValue: 0,
  layers: s => [dense({ name: 'dense', units: s.units2, activation: 'tanh' }),
    rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `Dense(${s.units2}, tanh) -> LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true)`,
  check: s => seqDir(s),
  more: 'Dense passes the mask on unchanged; it computes its output at masked steps normally (tanh(0*K + b)).',
});
addMaskingCase('masking_td_dense_gru_seq', {
  maskValue: 0,
  layers: s => [td(dense({ name: 'dense', units: s.units2, activation: 'relu' })),
    rnnLayer('gru', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `TimeDistributed(Dense(${s.units2}, relu)) -> GRU(${s.units}, recurrent_activation=sigmoid, return_sequences=true)`,
  check: s => seqDir(s), more: 'TimeDistributed passes the mask on unchanged (tfjs does not give it to the inner Dense).',
});
addMaskingCase('masking_stacked_lstm_seq_last', {
  maskValue: 0,
  layers: s => [rnnLayer('lstm', { units: s.units2, recurrentActivation: 'sigmoid', returnSequences: true }),
    rnnLayer('lstm', { name: 'lstm_1', units: s.units, recurrentActivation: 'sigmoid' })],
  desc: s => `LSTM(${s.units2}, recurrent_activation=sigmoid, return_sequences=true) -> LSTM(${s.units}, ` +
    'recurrent_activation=sigmoid, return_sequences=false)',
  more: 'The first LSTM (return_sequences) passes the mask on to the second.',
});
addMaskingCase('masking_lstm_seq_fully_masked_sample', {
  maskValue: 0, batch: 3, patterns: [[0, 1, 2, 3, 4, 5], [1, 4], [5]],
  layers: s => [rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true)`, check: s => seqDir(s),
  more: 'Sample 0 is masked at every step: tfjs outputs the initial state (zeros) at every step for it.',
});

// ---- 17. embedding ---------------------------------------------------------
// Integer inputs (B, T) are written as numbers in the fixture ("dtype": "int32" on the input); the tfjs model input
// is float32 and Embedding casts it to int32.
const ZERO_PATTERNS = [[0, 1], [5], [2, 3], [0, 4, 5]];
const intDraw = (vocab, patterns) => (rng, shape) => {
  const [B, T] = shape;
  const data = new Float32Array(B * T);
  for (let b = 0; b < B; ++b) for (let t = 0; t < T; ++t) {
    const v = rng.int(1, vocab - 1);
    data[b * T + t] = isMasked(patterns, b, t) ? 0 : v;
  }
  return tf.tensor(data, shape, 'float32');
};
const embedding = (s, maskZero, extra = {}) =>
  tf.layers.embedding({ name: 'embedding', inputDim: s.vocab, outputDim: s.edim, maskZero, embeddingsInitializer: 'zeros', ...extra });
function addEmbeddingCase(name, o) {
  // o: {maskZero, layers(s) -> layers after Embedding, desc(s), check?(s), bidi?}
  const w = o.w ?? 2;
  cases.push({
    group: 'embedding', name,
    notes: s => `Embedding(input_dim=${s.vocab}, output_dim=${s.edim}, mask_zero=${o.maskZero}) -> ${o.desc(s)}, on integer ` +
      `input [${s.batch},${s.time}] (token ids in 1..${s.vocab - 1}; id 0 at: ${patternText(ZERO_PATTERNS, s.batch)}). ` +
      (o.maskZero ? 'mask_zero: id 0 is masked (mask = ids != 0) and the RNN keeps its state there.' :
        'mask_zero=false: id 0 is an ordinary row of the table.') +
      (o.bidi ? ' Masked outputs of the tfjs Bidirectional: see formulas.bidirectional_masked_output.' : '') +
      ` Embeddings uniform(-1,1), kernels uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5.`,
    sizes: rng => ({ batch: 4, time: 6, vocab: R(rng, 3, 12), edim: R(rng, 1, 6), units: R(rng, 1, 8) }),
    build: s => {
      const spec = {
        models: [{ suffix: '', model: seqModel(name, [embedding(s, o.maskZero, { inputShape: [s.time] }), ...o.layers(s)]) }],
        inputs: [{ label: 'x', dtype: 'int32', shape: [s.batch, s.time], draw: intDraw(s.vocab, ZERO_PATTERNS) }],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: 1, outputLabels: ['y'],
        formulas: o.bidi ? { bidirectional_masked_output: 'previous' } : undefined,
      };
      if (o.check) spec.extraChecks = ctx => maskedStepsCheck(ctx.outputs[0], ZERO_PATTERNS, o.check(s));
      return spec;
    },
  });
}
addEmbeddingCase('emb_mask_lstm_last', {
  maskZero: true, layers: s => [rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid' })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=false)`,
});
addEmbeddingCase('emb_mask_gru_seq', {
  maskZero: true, layers: s => [rnnLayer('gru', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `GRU(${s.units}, recurrent_activation=sigmoid, return_sequences=true, reset_after=false)`, check: s => seqDir(s),
});
addEmbeddingCase('emb_mask_simple_rnn_seq_backwards', {
  maskZero: true, layers: s => [rnnLayer('simple_rnn', { units: s.units, returnSequences: true, goBackwards: true })],
  desc: s => `SimpleRNN(${s.units}, tanh, return_sequences=true, go_backwards=true)`, check: s => seqDir(s, true),
});
addEmbeddingCase('emb_mask_bidi_lstm_seq', {
  maskZero: true, bidi: true,
  layers: s => [bidi('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true }, 'concat')],
  desc: s => `Bidirectional(LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true), merge_mode=concat)`,
  check: s => [{ offset: 0, width: s.units, backwards: false }, { offset: s.units, width: s.units, backwards: true }],
});
addEmbeddingCase('emb_mask_dense', {
  maskZero: true, layers: s => [dense({ name: 'dense', units: s.units, activation: 'tanh' })],
  desc: s => `Dense(${s.units}, tanh) on the rank-3 embedding output (the mask passes through and changes nothing)`,
});
addEmbeddingCase('emb_nomask_lstm_seq', {
  maskZero: false, layers: s => [rnnLayer('lstm', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true)`,
});
addEmbeddingCase('emb_nomask_flatten_dense', {
  maskZero: false, layers: s => [flatten(), dense({ name: 'dense', units: s.units })],
  desc: s => `Flatten -> Dense(${s.units}, linear) (Flatten gives [B, T*output_dim])`,
});
addEmbeddingCase('emb_nomask_dense', {
  maskZero: false, layers: s => [dense({ name: 'dense', units: s.units, activation: 'sigmoid' })],
  desc: s => `Dense(${s.units}, sigmoid) on the rank-3 embedding output`,
});

// ---- 18. rnn_explicit_mask -------------------------------------------------
// One RNN layer called eagerly as layer.apply(x, {mask}) with a (B, T) boolean mask that no layer computes. The
// model config cannot hold that mask, so the fixture carries it as the top-level "call_mask".
function addExplicitMaskCase(name, o) {
  // o: {cell, rec, seq, state, back, bidi: merge mode or undefined}
  const w = wDefault(o);
  const labels = o.bidi !== undefined ? bidiLabels(o.cell, o.bidi, o.state) :
    (o.state ? ['output', ...STATE_LABELS[o.cell]] : ['y']);
  cases.push({
    group: 'rnn_explicit_mask', name,
    notes: s => (o.bidi !== undefined ? `Bidirectional(${rnnDesc(s, o).replace(/ on input.*/, '')}, merge_mode=${o.bidi})` :
      rnnDesc(s, o)) + `, on input [${s.batch},${s.time},${s.feat}], called as layer.apply(x, {mask: call_mask}) ` +
      `with the explicit boolean mask in "call_mask" (1 keep, 0 masked; masked steps: ${patternText(MASK_PATTERNS, s.batch)}). ` +
      'The model config does not contain the mask; a C++ test must pass call_mask to the layer. x is NOT modified at ' +
      'masked steps (its values there must be ignored).' + (o.back ? GO_BACKWARDS_NOTE : '') +
      (labels.length > 1 ? ` Outputs are [${labels.join(', ')}].` : '') +
      (o.bidi !== undefined ? ' Masked outputs of the tfjs Bidirectional: see formulas.bidirectional_masked_output.' : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => ({ ...smallSizes(rng, { batch: 4, time: 6 }) }),
    build: s => {
      const cfg = rnnCfg(s, o);
      const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
      const layer = o.bidi !== undefined ? bidi(o.cell, cfg, o.bidi) : rnnLayer(o.cell, cfg);
      const spec = {
        models: [{ suffix: '', model: tf.model({ name, inputs: x, outputs: layer.apply(x) }) }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat] }],
        kind: 'call_mask', callMask: callMaskOf(MASK_PATTERNS, s.batch, s.time),
        wScale: w, bScale: 0.5, xScale: 1, outputLabels: labels,
        formulas: o.bidi !== undefined && o.seq ? { bidirectional_masked_output: 'previous' } : undefined,
      };
      if (o.seq) {
        spec.extraChecks = ctx => maskedStepsCheck(ctx.outputs[0], MASK_PATTERNS, o.bidi === 'concat'
          ? [{ offset: 0, width: s.units, backwards: false }, { offset: s.units, width: s.units, backwards: true }]
          : seqDir(s, !!o.back));
      }
      return spec;
    },
  });
}
addExplicitMaskCase('explicit_mask_lstm_seq', { cell: 'lstm', rec: 'sigmoid', seq: true });
addExplicitMaskCase('explicit_mask_gru_last_backwards', { cell: 'gru', rec: 'sigmoid', back: true });
addExplicitMaskCase('explicit_mask_simple_rnn_state_seq', { cell: 'simple_rnn', seq: true, state: true });
addExplicitMaskCase('explicit_mask_lstm_state_seq_backwards', { cell: 'lstm', rec: 'sigmoid', seq: true, state: true, back: true });
addExplicitMaskCase('explicit_mask_gru_state_last', { cell: 'gru', rec: 'hard_sigmoid', state: true });
addExplicitMaskCase('explicit_mask_bidi_lstm_concat_seq', { cell: 'lstm', rec: 'sigmoid', seq: true, bidi: 'concat' });
addExplicitMaskCase('explicit_mask_bidi_gru_none_state_last', { cell: 'gru', rec: 'sigmoid', state: true, bidi: null });

// ---- 19. mask_initial_state ------------------------------------------------
// Nonzero initial state + leading masked steps: tfjs (and Keras 3 JAX/numpy) emit h0 at the masked steps before the
// first unmasked one; the Keras TF backend (and tf.keras 2) emits zeros there.
const LEADING_PATTERNS = [[0, 1], [0], [0, 1, 2, 4], [3]];
function addMaskInitCase(name, o) {
  // o: {cell, rec, back, state, explicit (call mask instead of Masking), maskValue, patterns}
  const w = wDefault(o);
  const P = o.patterns ?? LEADING_PATTERNS;
  const st = STATE_LABELS[o.cell].map(l => l + '0');
  const labels = o.state ? ['output', ...STATE_LABELS[o.cell]] : ['y'];
  cases.push({
    group: 'mask_initial_state', name,
    notes: s => `Functional model, inputs [x, ${st.join(', ')}]: ` +
      (o.explicit ? '' : `Masking(mask_value=${o.maskValue}) -> `) + rnnDesc(s, { ...o, seq: true }) +
      `, called with initial_state=[${st.join(', ')}] (uniform(-1,1), nonzero)` +
      (o.explicit ? ' and an explicit mask: layer.apply(x, {mask: call_mask, initialState}) (see "call_mask")' : '') +
      `. Masked steps (per sample, input time indices): ${patternText(P, s.batch)}; several samples start ` +
      'with masked steps. At a masked step BEFORE the first unmasked one (in processing order) tfjs emits the initial h ' +
      '(rnn(): output = step_output*mask + h_prev*(1-mask)), as do the Keras 3 JAX and numpy backends; the Keras 3 ' +
      'TensorFlow backend and tf.keras 2 emit zeros there. formulas.masked_output_before_first_step = "initial_h" ' +
      'records which one this fixture holds; checks.masked_steps verifies it.' + (o.back ? GO_BACKWARDS_NOTE : '') +
      (o.state ? ` Outputs are [${labels.join(', ')}].` : '') +
      ` Kernel/recurrent weights uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1).`,
    sizes: rng => smallSizes(rng, { batch: 4, time: 6 }),
    build: s => {
      const x = tf.input({ name: 'x', shape: [s.time, s.feat] });
      const states = st.map(l => tf.input({ name: l, shape: [s.units] }));
      const layer = rnnLayer(o.cell, rnnCfg(s, { ...o, seq: true }));
      const seqIn = o.explicit ? x : masking(o.maskValue).apply(x);
      const outs = layer.apply(seqIn, { initialState: states });
      const spec = {
        models: [{ suffix: '', model: tf.model({ name, inputs: [x, ...states], outputs: outs }) }],
        inputs: [{ label: 'x', shape: [s.batch, s.time, s.feat], draw: o.explicit ? undefined : maskedDraw(P, o.maskValue) },
          ...st.map(l => ({ label: l, shape: [s.batch, s.units] }))],
        kind: o.explicit ? 'call_mask' : 'predict',
        callMask: o.explicit ? callMaskOf(P, s.batch, s.time) : undefined,
        wScale: w, bScale: 0.5, xScale: 1, outputLabels: labels,
        formulas: { masked_output_before_first_step: 'initial_h' },
      };
      spec.extraChecks = ctx => maskedStepsCheck(ctx.outputs[0], P, seqDir(s, !!o.back), snapshot([ctx.inputs[1]])[0]);
      return spec;
    },
  });
}
addMaskInitCase('mask_init_lstm_seq', { cell: 'lstm', rec: 'sigmoid', maskValue: 0 });
addMaskInitCase('mask_init_gru_seq', { cell: 'gru', rec: 'sigmoid', maskValue: 0 });
addMaskInitCase('mask_init_simple_rnn_seq_explicit', { cell: 'simple_rnn', explicit: true });
// tfjs 4.22 cannot predict Masking -> RNN(initial_state, return_state): execute() shares one kwargs object between
// the per-output-tensor apply() calls of a multi-output node once a mask exists, RNN.apply stores initialState in
// it, and the second call throws "When inputs is an array, neither initialState or constants should be provided".
// So return_state is covered here only with an explicit call mask.
addMaskInitCase('mask_init_gru_state_seq_explicit', { cell: 'gru', rec: 'hard_sigmoid', state: true, explicit: true });
addMaskInitCase('mask_init_lstm_seq_backwards', { cell: 'lstm', rec: 'sigmoid', back: true, maskValue: 0,
  patterns: [[4, 5], [5], [1, 3, 4, 5], [2]] }); // go_backwards: leading in processing order = trailing in input order

// ---- gru/gru_torch_crosscheck ------------------------------------------------
// Cross-check of the PyTorch -> Keras GRU(reset_after=true) mapping (tools/torch-reference): with the h block of
// the recurrent kernel and of the recurrent bias equal to zero, reset_after true and false coincide. The torch script
// writes the Keras-order weights, the input and its float64 output; this case runs the same numbers through the tfjs
// GRU (reset_after=false, bias = bias[0] + bias[1]).
const CROSSCHECK_FILE = path.join(REPO_ROOT, 'tools', 'torch-reference', 'gru_crosscheck_keras.json');
if (fs.existsSync(CROSSCHECK_FILE)) {
  const src = JSON.parse(fs.readFileSync(CROSSCHECK_FILE, 'utf8'));
  const [B, T, F] = src.x.shape, u = src.units;
  // the file holds float32 values as shortest float32 decimals: parse, then round to float32
  const f32 = a => a.map(v => Math.fround(v));
  const b = f32(src.bias.data); // (2, 3u)
  const biasSum = [];
  for (let i = 0; i < 3 * u; ++i) {
    const v = b[i] + b[3 * u + i];
    if (Math.fround(v) !== v) throw new Error('crosscheck bias[0] + bias[1] is not exactly a float32');
    biasSum.push(v);
  }
  for (let r = 0; r < u; ++r) for (let c = 2 * u; c < 3 * u; ++c) {
    if (Math.fround(src.recurrent_kernel.data[r * 3 * u + c]) !== 0) throw new Error('crosscheck recurrent kernel h block is not zero');
  }
  for (let c = 2 * u; c < 3 * u; ++c) if (b[3 * u + c] !== 0) throw new Error('crosscheck recurrent bias h part is not zero');
  cases.push({
    group: 'gru', name: 'gru_torch_crosscheck',
    notes: () => `GRU(units=${u}, activation=tanh, recurrent_activation=sigmoid, reset_after=false, return_sequences=` +
      `${src.return_sequences}) on input [${B},${T},${F}], with the weights and input of the PyTorch fixture ` +
      `${src.torch_fixture} (GRU reset_after=true, computed in float64 by tools/torch-reference/make_gru_fixtures.py). ` +
      'There the h block of the recurrent kernel and the h part of the recurrent bias are zero, so reset_after true ' +
      'and false give the same function; here bias = bias[0] + bias[1] of the torch fixture (exact in float32). ' +
      'Weights and input are NOT drawn from this case\'s PRNG (seed unused); they come from ' +
      'tools/torch-reference/gru_crosscheck_keras.json. checks.torch_crosscheck compares with the torch output.',
    sizes: () => ({}),
    build: () => ({
      models: [{ suffix: '', model: seqModel('gru_torch_crosscheck', [rnnLayer('gru', {
        units: u, recurrentActivation: 'sigmoid', returnSequences: !!src.return_sequences, inputShape: [T, F],
      })]) }],
      inputs: [{ label: 'x', shape: [B, T, F] }],
      kind: 'predict', outputLabels: ['y'],
      fixedValues: {
        weights: [tf.tensor(f32(src.kernel.data), src.kernel.shape), tf.tensor(f32(src.recurrent_kernel.data), src.recurrent_kernel.shape),
          tf.tensor(biasSum, [3 * u])],
        inputs: [tf.tensor(f32(src.x.data), [B, T, F])],
      },
      extraChecks: ctx => {
        const got = ctx.outputs[0].data, want = src.y.data;
        if (got.length !== want.length) throw new Error('crosscheck output size mismatch');
        let m = 0;
        for (let i = 0; i < got.length; ++i) m = Math.max(m, Math.abs(got[i] - want[i]));
        return { torch_crosscheck: { description: 'max |tfjs output - torch float64 output| (fixtures_torch/' + src.torch_fixture + ')', max_abs_diff: m } };
      },
    }),
  });
}

// ---- 20. repeat_vector ----------------------------------------------------
// RepeatVector(n): (B, F) -> (B, n, F), the bridge from a vector to a sequence. No weights; tfjs and
// Keras 3 both drop a mask there (neither sets supports_masking), and no case here has a mask.
const repeatVector = (n, extra = {}) => tf.layers.repeatVector({ name: 'repeat_vector', n, ...extra });

const addRepeatCase = (name, o) => addCase('repeat_vector', name, o);

/**
 * A case of one group: a Sequential model or a Functional graph run by predict.
 * o: { sizes(rng) -> s (without batch), desc(s) -> string, w?, x?, more?, formulas?, draw?, and either
 *      input(s) -> dims without batch + layers(s, first) -> [layers] (Sequential; `first` =
 *      {inputShape} goes into the first layer's arguments), or graph(s) -> {inputs, outputs, labels}
 *      (Functional, as addFunctional: inputs from fnInput) }
 * `draw(rng, shape, scale)` replaces the uniform input draw for every input (e.g. integer inputs);
 * `formulas` is written to the fixture as is (where tfjs departs from Keras 3, read by the C++ test).
 */
function addCase(group, name, o) {
  const w = o.w ?? 2, x = o.x ?? 1;
  cases.push({
    group, name,
    notes: s => `${o.graph ? 'Functional model: ' : ''}${o.desc(s)}` +
      `${o.graph ? `. Batch ${s.batch}` : `, on input [${[s.batch, ...o.input(s)]}]`}. ` +
      `Kernels uniform(-1,1)*${w}/sqrt(fan_in), bias uniform(-1,1)*0.5, inputs uniform(-1,1)*${x}.` +
      (o.more ? ' ' + o.more : ''),
    sizes: rng => ({ batch: R(rng, 1, 5), ...o.sizes(rng) }),
    build: s => {
      if (o.graph) {
        const g = o.graph(s);
        return {
          models: [{ suffix: '', model: tf.model({ name, inputs: g.inputs.map(i => i.tensor), outputs: g.outputs }) }],
          inputs: g.inputs.map(i => ({ label: i.label, shape: [s.batch, ...i.dims], draw: i.draw ?? o.draw,
            dtype: i.dtype ?? o.dtype })),
          kind: 'predict', wScale: w, bScale: 0.5, xScale: x, outputLabels: g.labels, formulas: o.formulas,
        };
      }
      return {
        models: [{ suffix: '', model: seqModel(name, o.layers(s, { inputShape: o.input(s) })) }],
        inputs: [{ label: 'x', shape: [s.batch, ...o.input(s)], draw: o.draw, dtype: o.dtype }],
        kind: 'predict', wScale: w, bScale: 0.5, xScale: x, outputLabels: ['y'], formulas: o.formulas,
      };
    },
  });
}

addRepeatCase('repeat_vector_only', {
  sizes: rng => ({ feat: R(rng, 1, 16), n: R(rng, 2, 8) }),
  input: s => [s.feat],
  layers: (s, first) => [repeatVector(s.n, first)],
  desc: s => `RepeatVector(${s.n}) alone: the output [B, ${s.n}, ${s.feat}] holds each input row ${s.n} times`,
  more: 'The model has no weights (the kernel and bias scales are unused).',
});
addRepeatCase('dense_repeat_lstm_td_dense', {
  sizes: rng => ({ feat: R(rng, 1, 16), code: R(rng, 1, 16), n: R(rng, 1, 12), units: R(rng, 1, 16), out: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [dense({ name: 'dense', units: s.code, activation: 'tanh', ...first }), repeatVector(s.n),
    lstm({ name: 'lstm', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true }),
    td(dense({ name: 'dense_1', units: s.out }))],
  desc: s => `Dense(${s.code}, tanh) -> RepeatVector(${s.n}) -> LSTM(${s.units}, recurrent_activation=sigmoid, ` +
    `return_sequences=true) -> TimeDistributed(Dense(${s.out}, linear)): the decoder of a sequence autoencoder, the ` +
    `code repeated as the LSTM's ${s.n} input steps`,
});
addRepeatCase('repeat_gru_seq', {
  sizes: rng => ({ feat: R(rng, 1, 6), n: R(rng, 1, 7), units: R(rng, 1, 8) }),
  input: s => [s.feat],
  layers: (s, first) => [repeatVector(s.n, first),
    rnnLayer('gru', { units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })],
  desc: s => `RepeatVector(${s.n}) as the first layer -> GRU(${s.units}, recurrent_activation=sigmoid, ` +
    'return_sequences=true, reset_after=false): the same input at every step, so the steps differ only through the state',
});
addRepeatCase('td_repeat_dense_rank3', {
  sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 8), n: R(rng, 1, 4), units: R(rng, 1, 16) }),
  input: s => [s.time, s.feat],
  layers: (s, first) => [tf.layers.timeDistributed({ name: 'time_distributed', layer: repeatVector(s.n), ...first }),
    dense({ name: 'dense', units: s.units, activation: 'relu' })],
  desc: s => `TimeDistributed(RepeatVector(${s.n})) -> Dense(${s.units}, relu) on the rank-4 result: each time step's ` +
    `[B, ${s.feat}] slice becomes [B, ${s.n}, ${s.feat}], so the Dense sees [B, ${s.time}, ${s.n}, ${s.feat}]`,
});
addRepeatCase('repeat_n1_dense', {
  sizes: rng => ({ feat: R(rng, 1, 16), units: R(rng, 1, 16) }),
  input: s => [s.feat],
  layers: (s, first) => [repeatVector(1, first), dense({ name: 'dense', units: s.units, activation: 'tanh' })],
  desc: s => `RepeatVector(1) (edge case n = 1: adds an axis of size 1) -> Dense(${s.units}, tanh) on the rank-3 ` +
    `result [B, 1, ${s.feat}]`,
});
addRepeatCase('functional_lstm_autoencoder', {
  sizes: rng => ({ time: R(rng, 1, 8), feat: R(rng, 1, 8), code: R(rng, 1, 8), units: R(rng, 1, 8) }),
  graph: s => {
    const xin = fnInput('x', [s.time, s.feat]);
    const code = lstm({ name: 'lstm', units: s.code, recurrentActivation: 'sigmoid' }).apply(xin.tensor);
    const seq = lstm({ name: 'lstm_1', units: s.units, recurrentActivation: 'sigmoid', returnSequences: true })
      .apply(repeatVector(s.time).apply(code));
    const rec = td(dense({ name: 'dense', units: s.feat })).apply(seq);
    return { inputs: [xin], outputs: [code, rec], labels: ['code', 'reconstruction'] };
  },
  desc: s => `the classic LSTM sequence autoencoder on x [${s.batch},${s.time},${s.feat}]: ` +
    `code = LSTM(${s.code}, recurrent_activation=sigmoid)(x); reconstruction = TimeDistributed(Dense(${s.feat}, linear))(` +
    `LSTM(${s.units}, recurrent_activation=sigmoid, return_sequences=true)(RepeatVector(${s.time})(code))); ` +
    'outputs [code, reconstruction]',
});

// ---------------------------------------------------------------------------
// Group modules: groups/<group>.mjs, one per layer family, loaded in name order. Each exports
// `default function (api)` that adds its cases with api.addCase (or pushes to api.cases) and,
// for weights other than kernel/recurrent_kernel/bias/embeddings, its draw rules with
// api.weightRule(name, rule). A new layer family adds a file here, not lines above.
// ---------------------------------------------------------------------------
{
  const api = {
    tf, cases, R, addCase, seqModel, fnInput, act, dense, lstm, td, rnnLayer, drawInput, uniformDraw,
    addEagerCase, F32, convertTsToPythonic: null,
    nlp: loadNlp,
    weightRule: (key, rule) => {
      if (weightRules.has(key)) throw new Error(`weight rule ${key} defined twice`);
      weightRules.set(key, rule);
    },
    REPO_ROOT,
  };
  const groupsDir = path.join(HERE, 'groups');
  const files = fs.existsSync(groupsDir) ? fs.readdirSync(groupsDir).filter(f => f.endsWith('.mjs')).sort() : [];
  for (const f of files) {
    const mod = await import(pathToFileURL(path.join(groupsDir, f)).href);
    if (typeof mod.default !== 'function') throw new Error(`groups/${f} must export a default function (api)`);
    await mod.default(api);
  }
}

/**
 * TF.js' NLP layer classes (MultiHeadAttention, EinsumDense) and convertTsToPythonic. Their modules
 * are a second copy of tfjs-layers, and importing it registers that copy's classes (Dense, PReLU,
 * ...) in tfjs-core's shared serialization map over the bundle's: a model reloaded afterwards
 * would be built from the copy, whose variable-name counters start again ("Variable with name
 * p_re_lu/alpha was already registered"). So every class name registered before is put back.
 */
async function loadNlp() {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  const before = { ...map };
  const mods = {
    ...(await import('@tensorflow/tfjs-layers/dist/layers/nlp/multihead_attention.js')),
    ...(await import('@tensorflow/tfjs-layers/dist/layers/nlp/einsum_dense.js')),
    ...(await import('@tensorflow/tfjs-layers/dist/utils/serialization_utils.js')),
  };
  const copy = { ...map };
  const restore = entries => {
    for (const k of Object.keys(before)) map[k] = entries[k];
  };
  restore(before);
  // withClasses(fn): runs fn with the copy's classes registered (its own code deserialises
  // initializers and activations through the map), then puts the bundle's back.
  const withClasses = fn => {
    restore(copy);
    try {
      return fn();
    } finally {
      restore(before);
    }
  };
  return { ...mods, withClasses };
}

/**
 * A case computed by calling layers eagerly, for layers tfjs cannot run inside a model (its NLP
 * classes, MultiHeadAttention and EinsumDense, live outside tfjs-layers' bundle, so a symbolic
 * model does not recognise them). o: { sizes(rng) -> s, notes(s) -> string, run({ rng, s }) ->
 * { modelTopology, layers, inputs: [{label, shape, data}], outputs: [{label, shape, data}], formulas? } }.
 * run() draws everything from rng (and redraws itself when needed); modelTopology is the graph
 * written in tfjs' (Keras 2) format, layers the fixture's layers section (weights in Keras 3's
 * get_weights() order); model.json and the weights file are written from them.
 */
function addEagerCase(group, name, o) {
  cases.push({ group, name, eager: o });
}

async function runEagerCase(def) {
  const seed = caseSeed(def.group, def.name);
  const rng = new SplitMix64(seed);
  const s = def.eager.sizes(rng);
  const r = await def.eager.run({ rng, s });
  const weightSpecs = [];
  const chunks = [];
  for (const l of r.layers) {
    for (const w of l.weights ?? []) {
      weightSpecs.push({ name: w.name, shape: w.shape, dtype: 'float32' });
      chunks.push(Float32Array.from(w.data.values));
    }
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const bin = new Float32Array(total);
  let off = 0;
  for (const c of chunks) {
    bin.set(c, off);
    off += c.length;
  }
  const artifacts = {
    modelTopology: r.modelTopology, weightSpecs, weightData: bin.buffer, format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version['tfjs-layers']}`, convertedBy: null,
  };
  const checks = {
    tfjs_reload: {
      status: 'not_applicable',
      error: 'tfjs cannot run these layers inside a model: the outputs are eager calls of the layers',
    },
  };
  const fixture = {
    format_version: FORMAT_VERSION,
    name: def.name, group: def.group, seed,
    tfjs_version: tf.version['tfjs-layers'], backend: tf.getBackend(),
    notes: def.eager.notes(s),
    formulas: r.formulas,
    model_config: r.modelTopology,
    layers: r.layers,
    inputs: r.inputs.map(t => ({ label: t.label, shape: t.shape, data: new F32(t.data) })),
    outputs: r.outputs.map(t => ({ label: t.label, shape: t.shape, data: new F32(t.data) })),
    checks,
    draw_attempts: r.attempts ?? 1,
  };
  const groupDir = path.join(outDir, def.group);
  fs.mkdirSync(groupDir, { recursive: true });
  fs.writeFileSync(path.join(groupDir, `${def.name}.json`), toJson(fixture) + '\n', 'utf8');
  writeModelDir(path.join(groupDir, def.name), artifacts);
  return [{
    name: def.name, group: def.group, file: `${def.group}/${def.name}.json`,
    model_json: `${def.group}/${def.name}/model.json`, seed, formulas: fixture.formulas, checks,
  }];
}

// ---------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------
async function runCase(def) {
  if (def.eager) return runEagerCase(def);
  const seed = caseSeed(def.group, def.name);
  const rng = new SplitMix64(seed);
  const s = def.sizes(rng);
  const spec = def.build(s);
  const models = spec.models.map(m => m.model);

  let inputs = null, outputsPerModel = null, attempts = 0;
  for (;;) {
    ++attempts;
    if (attempts > MAX_ATTEMPTS) throw new Error(`${def.group}/${def.name}: no draw with |output| <= ${MAX_ABS_OUTPUT}`);
    if (inputs) tf.dispose(inputs);
    if (spec.fixedValues) {
      // fixed weights and inputs (not drawn): one layer, one attempt
      modelLayers(models[0])[0].setWeights(spec.fixedValues.weights);
      inputs = spec.fixedValues.inputs;
    } else {
      drawWeights(models[0], rng, spec.wScale, spec.bScale);
      inputs = spec.inputs.map(i => (i.draw ? i.draw(rng, i.shape, spec.xScale)
        : drawInput(rng, i.shape, i.label === 'h0' || i.label === 'c0' ? 1 : spec.xScale)));
    }
    for (const m of models.slice(1)) copyWeights(models[0], m);
    outputsPerModel = models.map(m => runModel(m, spec.kind, inputs, spec));
    if (spec.fixedValues) {
      if (outputsPerModel.some(o => maxAbs(o) > MAX_ABS_OUTPUT)) throw new Error(`${def.group}/${def.name}: |output| > ${MAX_ABS_OUTPUT}`);
      break;
    }
    if (outputsPerModel.every(o => maxAbs(o) <= MAX_ABS_OUTPUT)) break;
  }

  const checks = {};
  if (spec.extraChecks) Object.assign(checks, spec.extraChecks({ models, inputs, outputs: outputsPerModel[0] }));
  let pair;
  if (models.length === 2) {
    const c = compare(outputsPerModel[0], outputsPerModel[1]);
    pair = { bitwise_identical: c.bitwise, max_abs_diff: c.max_abs_diff };
  }

  const inputSnaps = snapshot(inputs);
  const written = [];
  for (let mi = 0; mi < models.length; ++mi) {
    const model = models[mi];
    const name = def.name + spec.models[mi].suffix;
    const artifacts = await captureArtifacts(model);
    const modelConfig = artifacts.modelTopology;
    const reload = await reloadCheck(artifacts, spec.kind, inputs, outputsPerModel[mi], spec);
    const formulas = (formulasFor(modelConfig) || spec.formulas) ? { ...formulasFor(modelConfig), ...spec.formulas } : undefined;
    const outs = outputsPerModel[mi];
    if (outs.length !== spec.outputLabels.length) throw new Error(`${name}: ${outs.length} outputs, labels ${spec.outputLabels}`);
    const fixture = {
      format_version: FORMAT_VERSION,
      name, group: def.group, seed,
      tfjs_version: tf.version['tfjs-layers'], backend: tf.getBackend(),
      notes: def.notes(s) + (attempts > 1 ? ` (${attempts} draws from the case PRNG were needed to keep every |output| <= ${MAX_ABS_OUTPUT}.)` : ''),
      call_sequence: def.callSequence ? true : undefined,
      formulas,
      call_mask: spec.callMask,
      model_config: modelConfig,
      layers: layersSection(model, modelConfig),
      inputs: inputSnaps.map((t, i) => ({ label: spec.inputs[i].label, dtype: spec.inputs[i].dtype, shape: t.shape, data: new F32(t.data) })),
      outputs: outs.map((t, i) => ({ label: spec.outputLabels[i], shape: t.shape, data: new F32(t.data) })),
      pair: pair ? {
        partners: spec.models.map(m => `${def.group}/${def.name}${m.suffix}`),
        ...pair,
      } : undefined,
      checks: { ...checks, tfjs_reload: reload },
      draw_attempts: attempts,
    };
    const groupDir = path.join(outDir, def.group);
    fs.mkdirSync(groupDir, { recursive: true });
    fs.writeFileSync(path.join(groupDir, `${name}.json`), toJson(fixture) + '\n', 'utf8');
    writeModelDir(path.join(groupDir, name), artifacts);
    written.push({
      name, group: def.group, file: `${def.group}/${name}.json`, model_json: `${def.group}/${name}/model.json`,
      seed, call_sequence: def.callSequence ? true : undefined, call_mask: spec.callMask ? true : undefined,
      formulas: fixture.formulas, checks: fixture.checks, pair: fixture.pair,
    });
  }
  tf.dispose(inputs);
  models.forEach(m => m.dispose());
  return written;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------
function prepareOutDir() {
  if (fs.existsSync(outDir)) {
    const idx = path.join(outDir, 'index.json');
    const entries = fs.readdirSync(outDir);
    let ours = entries.length === 0;
    if (!ours && fs.existsSync(idx)) {
      try { ours = JSON.parse(fs.readFileSync(idx, 'utf8')).generator === GENERATOR; } catch { ours = false; }
    }
    if (!ours) throw new Error(`refusing to clear ${outDir}: it is not empty and has no index.json written by ${GENERATOR}`);
    fs.rmSync(outDir, { recursive: true, force: true });
  }
  fs.mkdirSync(outDir, { recursive: true });
  // Provisional marker so that an interrupted run can still be cleared by the next one.
  fs.writeFileSync(path.join(outDir, 'index.json'), toJson({ format_version: FORMAT_VERSION, generator: GENERATOR, complete: false }) + '\n');
}

{
  const seen = new Set();
  for (const c of cases) {
    const k = `${c.group}/${c.name}`;
    if (seen.has(k)) throw new Error(`duplicate case ${k}`);
    seen.add(k);
  }
}

prepareOutDir();
const all = [];
for (const def of cases) {
  if (onlyGroup !== null && def.group !== onlyGroup) continue;
  let w;
  try { w = await runCase(def); } catch (e) { console.error(`FAILED in ${def.group}/${def.name}`); throw e; }
  all.push(...w);
}

const groups = {};
for (const c of all) (groups[c.group] ??= []).push(c.name);
const summary = {
  reload_not_bitwise: all.filter(c => c.checks.tfjs_reload.status !== 'bitwise_equal').map(c => `${c.group}/${c.name}: ${c.checks.tfjs_reload.status}${c.checks.tfjs_reload.error ? ' (' + c.checks.tfjs_reload.error + ')' : ''}`),
  pairs: all.filter(c => c.pair && c.pair.partners[0] === `${c.group}/${c.name}`).map(c => ({ case: `${c.group}/${c.name}`, bitwise_identical: c.pair.bitwise_identical, max_abs_diff: c.pair.max_abs_diff })),
  go_backwards: all.filter(c => c.checks.go_backwards).map(c => ({ case: `${c.group}/${c.name}`, bitwise_equal: c.checks.go_backwards.bitwise_equal })),
  stateful: all.filter(c => c.checks.stateful).map(c => ({ case: `${c.group}/${c.name}`, ...c.checks.stateful, description: undefined })),
  masked_steps: all.filter(c => c.checks.masked_steps).map(c => ({ case: `${c.group}/${c.name}`, ...c.checks.masked_steps, description: undefined })),
  torch_crosscheck: all.filter(c => c.checks.torch_crosscheck).map(c => ({ case: `${c.group}/${c.name}`, max_abs_diff: c.checks.torch_crosscheck.max_abs_diff })),
  bidi_initial_state: all.filter(c => c.checks.bidi_initial_state).map(c => ({ case: `${c.group}/${c.name}`, ...c.checks.bidi_initial_state, description: undefined })),
};
const index = {
  format_version: FORMAT_VERSION,
  generator: GENERATOR,
  tfjs_version: tf.version['tfjs-layers'],
  backend: tf.getBackend(),
  master_seed: masterSeed,
  count: all.length,
  groups,
  cases: all.map(c => ({ name: c.name, group: c.group, file: c.file, model_json: c.model_json, seed: c.seed,
    call_sequence: c.call_sequence, call_mask: c.call_mask, formulas: c.formulas })),
  check_summary: summary,
};
fs.writeFileSync(path.join(outDir, 'index.json'), toJson(index) + '\n', 'utf8');

// Console report
console.log(`wrote ${all.length} fixtures to ${path.relative(process.cwd(), outDir) || '.'}`);
for (const [g, names] of Object.entries(groups)) console.log(`  ${g}: ${names.length}`);
console.log(`tfjs reload not bitwise-equal: ${summary.reload_not_bitwise.length ? '\n    ' + summary.reload_not_bitwise.join('\n    ') : 'none'}`);
for (const p of summary.pairs) console.log(`  pair ${p.case} (+ partner): bitwise_identical=${p.bitwise_identical} max_abs_diff=${p.max_abs_diff}`);
for (const p of summary.go_backwards) console.log(`  go_backwards ${p.case}: equals forward-on-reversed bitwise=${p.bitwise_equal}`);
for (const p of summary.masked_steps) console.log(`  masked_steps ${p.case}: ${p.masked_steps} masked, ${p.equal_previous_output} equal previous, ${p.all_zero} all zero${p.leading_masked_steps !== undefined ? `, leading ${p.leading_masked_steps} (== h0: ${p.leading_equal_h0})` : ''}`);
for (const p of summary.bidi_initial_state) console.log(`  bidi_initial_state ${p.case}: equals split-state twin bitwise=${p.twin_bitwise_equal}, max diff vs zero state ${p.zero_state_max_abs_diff}`);
for (const p of summary.torch_crosscheck) console.log(`  torch_crosscheck ${p.case}: max_abs_diff=${p.max_abs_diff}`);
for (const p of summary.stateful) console.log(`  stateful ${p.case}: y2 matches twin on concat=${p.y2_matches_twin_on_concatenation} (max diff ${p.y2_max_abs_diff}), reset reproduces=${p.reset_states_reproduces}`);
