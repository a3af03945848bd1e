// SPDX-License-Identifier: MIT
#ifndef STRATA_FWD_HPP
#define STRATA_FWD_HPP

/// Forward declarations of strata's public types, for headers that only name them.

namespace strata {

class Shape;
class Config;
struct KerasVersion;
struct WeightSpec;
struct WeightGroup;
template <class T>
class AnyTensor;
template <class T>
class TensorView;
template <class T>
class AnyLayer;
template <class T>
class LayerConfig;
template <class T>
class Registry;
template <class T>
class Model;
template <class... Layers>
class Sequential;

class DenseOptions;
class LSTMOptions;
class GRUOptions;
class SimpleRNNOptions;
class BidirectionalOptions;
class TimeDistributedOptions;
class EmbeddingOptions;
class MaskingOptions;
class FlattenOptions;
class ReshapeOptions;
class ActivationLayerOptions;
class DropoutOptions;
class ReLUOptions;
class LeakyReLUOptions;
class PReLUOptions;
class ELUOptions;
class SoftmaxOptions;
class ThresholdedReLUOptions;
class PermuteOptions;
class IdentityOptions;
class RandomFlipOptions;
class RescalingOptions;
class NormalizationOptions;
class CategoryEncodingOptions;
template <int N>
class ConvOptions;

template <class T>
class Dense;
template <class T>
class LSTM;
template <class T>
class GRU;
template <class T>
class SimpleRNN;
template <class T>
struct LSTMState;
template <class T>
struct LSTMResult;
template <class T>
struct RNNResult;
template <class Layer>
class Bidirectional;
template <class Inner>
class TimeDistributed;
template <class T>
class Embedding;
template <class T>
class Masking;
template <class T>
class Flatten;
template <class T>
class Reshape;
template <class T>
class ActivationLayer;
template <class T>
class Dropout;
template <class T>
class ReLU;
template <class T>
class LeakyReLU;
template <class T>
class PReLU;
template <class T>
class ELU;
template <class T>
class Softmax;
template <class T>
class ThresholdedReLU;
class Permute;
template <class T>
class Identity;
template <class T>
class RandomFlip;
template <class T>
class Rescaling;
template <class T>
class Normalization;
template <class T>
class CategoryEncoding;
template <class T, int N>
class Conv;

}  // namespace strata

#endif  // STRATA_FWD_HPP
