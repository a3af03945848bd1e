// SPDX-License-Identifier: MIT
#ifndef STRATA_MASK_HPP
#define STRATA_MASK_HPP

#include <memory>
#include <string>

#include "error.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// A Keras time-step mask: (batch, time), true = the step is kept, false = skipped. Masking and
/// Embedding(mask_zero) make one; LSTM, GRU, SimpleRNN and Bidirectional take one; Dense and
/// TimeDistributed leave it unchanged (in Keras they pass it on).
using Mask = Tensor<bool, 2>;

/// A mask travelling with a tensor of a model graph; null when the tensor has none. Shared, so a
/// layer that passes its input's mask on does not copy it.
using MaskPtr = std::shared_ptr<const Mask>;

namespace detail {

/// Throws shape_error unless mask is (batch, steps), naming the layer.
inline void check_mask(const Mask& mask, Index batch, Index steps, const std::string& who) {
  if (mask.dimension(0) != batch || mask.dimension(1) != steps) {
    throw shape_error(concat(who, ": mask must have shape (batch=", batch, ", time=", steps, "); got (",
                             mask.dimension(0), ", ", mask.dimension(1), ")"));
  }
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_MASK_HPP
