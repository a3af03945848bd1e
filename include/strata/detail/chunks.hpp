// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_CHUNKS_HPP
#define STRATA_DETAIL_CHUNKS_HPP

#include <algorithm>

#include "../shape.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

/// Number of scalars in one SIMD packet of T as Eigen vectorises it here (1 without SIMD).
template <class T>
inline constexpr int packet_size =
    Eigen::internal::unpacket_traits<typename Eigen::internal::packet_traits<T>::type>::size;

/// Element-wise work runs on fixed-size, aligned chunks of this many scalars.
template <class T>
inline constexpr int chunk_size = packet_size<T> < 4 ? 4 : packet_size<T>;

template <class T>
using Chunk = Eigen::Array<T, chunk_size<T>, 1>;

static_assert(chunk_size<float> % packet_size<float> == 0 && chunk_size<double> % packet_size<double> == 0,
              "strata::detail: a chunk must hold whole packets (the LSTM gate pass reads it packet by packet).");

// Why chunks: Eigen evaluates a fixed-size aligned array expression with the same instructions
// for every element, whereas on a Map it peels unaligned heads and finishes tails with scalar code
// whose rounding can differ (vectorised tanh/logistic are not the scalar ones). Running every
// element through a padded chunk makes each result a function of its input value only, which is
// what makes outputs independent of batch size and position (batch invariance).

/// Loads count (<= chunk size) values from src into c, padding with zeros.
template <class T>
inline void load_chunk(Chunk<T>& c, const T* src, Index count) {
  if (count == chunk_size<T>) {
    c = Eigen::Map<const Chunk<T>>(src);
  } else {
    c.setZero();
    std::copy(src, src + count, c.data());
  }
}

/// Stores the first count (<= chunk size) values of c to dst.
template <class T>
inline void store_chunk(const Chunk<T>& c, T* dst, Index count) {
  if (count == chunk_size<T>) {
    Eigen::Map<Chunk<T>> out(dst);
    out = c;
  } else {
    std::copy(c.data(), c.data() + count, dst);
  }
}

/// Applies f(Chunk&) in place to data[0..n), chunk by chunk.
template <class T, class F>
inline void transform_chunks(T* data, Index n, F&& f) {
  Chunk<T> c;
  for (Index i = 0; i < n; i += chunk_size<T>) {
    const Index count = std::min<Index>(chunk_size<T>, n - i);
    load_chunk(c, data + i, count);
    f(c);
    store_chunk(c, data + i, count);
  }
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_CHUNKS_HPP
