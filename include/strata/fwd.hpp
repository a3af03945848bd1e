// SPDX-License-Identifier: MIT
#ifndef STRATA_FWD_HPP
#define STRATA_FWD_HPP

/// Forward declarations of strata's framework types, for headers that only name them. A layer
/// class is declared in its own header only (layers/<family>.hpp), so adding a layer edits no
/// list here.

#include "detail/isa.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

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
template <class T>
class ModelStream;
template <class T>
class LayerStep;
struct StepShape;
template <class... Layers>
class Sequential;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_FWD_HPP
