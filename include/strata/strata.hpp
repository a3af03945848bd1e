// SPDX-License-Identifier: MIT
#ifndef STRATA_STRATA_HPP
#define STRATA_STRATA_HPP

/// strata: Keras layers on RowMajor Eigen tensors, with Keras' shapes, weight layouts and numbers
/// (each in layers/<name>.hpp, with its Keras description), the registry of Keras classes built
/// from them, Model (a graph of layers; strata::io loads one from a Keras file) and Sequential (a
/// typed chain). Include this one header; the core needs Eigen only.

#include "activations.hpp"
#include "any_layer.hpp"
#include "config.hpp"
#include "error.hpp"
#include "layer_config.hpp"
#include "layer_step.hpp"
#include "layers/activation.hpp"
#include "layers/activation_layers.hpp"
#include "layers/attention.hpp"
#include "layers/bidirectional.hpp"
#include "layers/conv.hpp"
#include "layers/conv_lstm.hpp"
#include "layers/conv_transpose.hpp"
#include "layers/dense.hpp"
#include "layers/depthwise_conv.hpp"
#include "layers/dropout.hpp"
#include "layers/einsum_dense.hpp"
#include "layers/embedding.hpp"
#include "layers/flatten.hpp"
#include "layers/global_pooling.hpp"
#include "layers/gru.hpp"
#include "layers/identity.hpp"
#include "layers/lstm.hpp"
#include "layers/masking.hpp"
#include "layers/merge.hpp"
#include "layers/multi_head_attention.hpp"
#include "layers/normalization.hpp"
#include "layers/permute.hpp"
#include "layers/pooling.hpp"
#include "layers/position_embedding.hpp"
#include "layers/preprocessing.hpp"
#include "layers/repeat_vector.hpp"
#include "layers/reshape.hpp"
#include "layers/rnn.hpp"
#include "layers/separable_conv.hpp"
#include "layers/simple_rnn.hpp"
#include "layers/spatial.hpp"
#include "layers/time_distributed.hpp"
#include "layers/transformer.hpp"
#include "mask.hpp"
#include "model.hpp"
#include "parallel.hpp"
#include "registry.hpp"
#include "sequential.hpp"
#include "shape.hpp"
#include "streaming.hpp"
#include "tensor.hpp"
#include "version.hpp"

#endif  // STRATA_STRATA_HPP
