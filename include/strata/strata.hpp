// SPDX-License-Identifier: MIT
#ifndef STRATA_STRATA_HPP
#define STRATA_STRATA_HPP

/// strata: Keras layers (Dense, LSTM, TimeDistributed, and the weightless Flatten, Reshape,
/// ActivationLayer and Dropout) on RowMajor Eigen tensors, with Keras' shapes, weight layouts and
/// numbers. Include this one header.

#include "activations.hpp"
#include "error.hpp"
#include "layers/activation.hpp"
#include "layers/bidirectional.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/embedding.hpp"
#include "layers/flatten.hpp"
#include "layers/gru.hpp"
#include "layers/lstm.hpp"
#include "layers/masking.hpp"
#include "layers/reshape.hpp"
#include "layers/simple_rnn.hpp"
#include "layers/time_distributed.hpp"
#include "mask.hpp"
#include "parallel.hpp"
#include "shape.hpp"
#include "streaming.hpp"
#include "tensor.hpp"
#include "version.hpp"

#endif  // STRATA_STRATA_HPP
