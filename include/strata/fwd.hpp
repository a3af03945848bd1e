// SPDX-License-Identifier: MIT
#ifndef STRATA_FWD_HPP
#define STRATA_FWD_HPP

/// Forward declarations of strata's public class templates, for headers that only name them.

namespace strata {

class Shape;
class DenseOptions;
class LSTMOptions;
class FlattenOptions;
class ReshapeOptions;
class ActivationLayerOptions;
class DropoutOptions;
template <class T>
class AnyTensor;
template <class T>
class Dense;
template <class T>
class LSTM;
template <class T>
struct LSTMState;
template <class T>
struct LSTMResult;
template <class Inner>
class TimeDistributed;
template <class T>
class Flatten;
template <class T>
class Reshape;
template <class T>
class ActivationLayer;
template <class T>
class Dropout;

}  // namespace strata

#endif  // STRATA_FWD_HPP
