// TF.js 4.22's TransformerDecoder (@tensorflow/tfjs-layers/dist/layers/nlp/modeling/) on given weights:
// a cross-check for tools/torch-reference/make_transformer_fixtures.py, which runs it as
//   node --import ./tfjs-nlp-register.mjs tfjs_transformer_decoder.mjs < case.json
// with {"intermediate_dim", "num_heads", "use_causal_mask", "x": {"shape", "data"}, "weights": {
// "query/kernel", ..., "attention_output/bias", "self_attention_layer_norm/gamma", ...,
// "feedforward_intermediate_dense/kernel", ..., "feedforward_output_dense/bias"}} (flat row-major
// arrays with their shapes) and prints {"shape", "data"}. tfjs' decoder has no cross-attention and
// normalises its feedforward block with the self-attention's LayerNormalization, so the caller
// gives both LayerNormalizations of keras-hub's layer the same weights. tfjs' call argument
// useCausalMask defaults to off (keras-hub's use_causal_mask to on): it is passed explicitly.
import * as tf from '@tensorflow/tfjs';

const { TransformerDecoder } = await import('@tensorflow/tfjs-layers/dist/layers/nlp/modeling/transformer_decoder.js');

let text = '';
for await (const chunk of process.stdin) text += chunk;
const spec = JSON.parse(text);
const t = a => tf.tensor(a.data, a.shape, 'float32');
const decoder = new TransformerDecoder({ intermediateDim: spec.intermediate_dim, numHeads: spec.num_heads });
const x = t(spec.x);
decoder.apply(x, { useCausalMask: spec.use_causal_mask });  // builds it
const w = spec.weights;
const attention = decoder.selfAttentionLayer;
for (const [dense, label] of [[attention.queryDense, 'query'], [attention.keyDense, 'key'],
                              [attention.valueDense, 'value'], [attention.outputDense, 'attention_output']]) {
  dense.setWeights([t(w[`${label}/kernel`]), t(w[`${label}/bias`])]);
}
decoder.selfAttentionLayernorm.setWeights([t(w['self_attention_layer_norm/gamma']),
                                           t(w['self_attention_layer_norm/beta'])]);
decoder.feedforwardIntermediateDense.setWeights([t(w['feedforward_intermediate_dense/kernel']),
                                                 t(w['feedforward_intermediate_dense/bias'])]);
decoder.feedforwardOutputDense.setWeights([t(w['feedforward_output_dense/kernel']),
                                           t(w['feedforward_output_dense/bias'])]);
const y = decoder.apply(x, { useCausalMask: spec.use_causal_mask });
process.stdout.write(JSON.stringify({ shape: y.shape, data: Array.from(y.dataSync()) }) + '\n');
