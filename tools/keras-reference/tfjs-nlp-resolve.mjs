// Node module resolve hook for TF.js 4.22's NLP layers (MultiHeadAttention, EinsumDense under
// @tensorflow/tfjs-layers/dist/layers/nlp/). They are ES modules that are not in tfjs' public
// exports, and their relative imports have no file extension ('../../engine/topology'), which
// Node's ES module loader refuses; this hook appends '.js' to such imports made from inside
// tfjs-layers' dist/ tree and leaves every other import alone. generate.mjs registers it itself
// (module.register); `node --import ./tfjs-nlp-register.mjs other.mjs` registers it for any script.
export async function resolve(specifier, context, next) {
  if ((specifier.startsWith('./') || specifier.startsWith('../')) && !/\.[cm]?js$/.test(specifier) &&
      context.parentURL && context.parentURL.includes('/@tensorflow/tfjs-layers/dist/')) {
    return next(`${specifier}.js`, context);
  }
  return next(specifier, context);
}
