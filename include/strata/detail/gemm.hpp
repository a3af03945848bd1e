// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_GEMM_HPP
#define STRATA_DETAIL_GEMM_HPP

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "chunks.hpp"

// Asks the compiler to unroll the next loop completely (its trip count is a template constant).
#if defined(__clang__)
#define STRATA_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define STRATA_UNROLL _Pragma("GCC unroll 16")
#else
#define STRATA_UNROLL
#endif

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

// A small row-major GEMM, C = init + sum_s A_s * B_s, built on Eigen's packet primitives.
//
// Why not Eigen's own product: Eigen picks its blocking and remainder paths from the matrix
// sizes, so one row of X * W can round differently when X has more or fewer rows. Here every
// output element is always the same chain of multiply-adds, init[j] + a[0] b[0][j] + a[1] b[1][j]
// + ..., in k order, one term after the other, whatever the number of rows, the row's position,
// the shape of the register tile it falls in, or the thread that computes it. That makes Dense,
// TimeDistributed(Dense) and a slice-by-slice loop bitwise equal, and a sample's output independent
// of the batch around it.

template <class T>
struct GemmConfig {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr int packet = packet_size<T>;
  static constexpr int panel_packets = 2;                     // packets across one packed panel
  static constexpr int panel_width = packet * panel_packets;  // columns of B per panel
  static constexpr int tile_rows = 6;                         // rows of A per full register tile
  static constexpr Index block_rows = 72;                     // rows of A kept hot per pass (tiles)

  static_assert(packet >= 1 && panel_packets >= 1, "strata::detail::GemmConfig: a panel holds at least one packet.");
  static_assert(tile_rows == 6,
                "strata::detail::GemmConfig: gemm()'s leftover-rows switch handles 1 to 5 rows, so full tiles must "
                "have 6 rows; change both together.");
  static_assert(block_rows % tile_rows == 0,
                "strata::detail::GemmConfig: a block of rows must hold whole register tiles.");
};

// g++ warns that a packet type's attributes (__m256's may_alias) are ignored when it is a template
// argument, as in unpacket_traits<Packet8f>; Eigen silences the same warning in its own headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

/// The packet of T Eigen vectorises with here.
template <class T>
using PacketOf = typename Eigen::internal::packet_traits<T>::type;

/// True when Eigen's packet of T has lane-masked loads and stores (`ploadu(from, mask)`,
/// `pstoreu(to, from, mask)`), read from Eigen's own packet traits rather than guessed from the
/// packet size: in Eigen 3.4 that is AVX and AVX-512 float; not SSE, NEON, SVE, AltiVec/VSX or
/// any double packet, where a partial row goes through a zeroed stack copy instead.
template <class T>
inline constexpr bool has_masked_io = Eigen::internal::unpacket_traits<PacketOf<T>>::masked_load_available&&
    Eigen::internal::unpacket_traits<PacketOf<T>>::masked_store_available;

template <class T, bool Masked = has_masked_io<T>>
struct LaneMask {
  using type = void;  // no masked load or store: never built
};
template <class T>
struct LaneMask<T, true> {
  using type = typename Eigen::internal::unpacket_traits<PacketOf<T>>::mask_t;
};

/// The lane mask of the first count (1 to the packet size - 1) lanes, in the type Eigen's masked
/// ploadu and pstoreu take (its `unpacket_traits<Packet>::mask_t`).
template <class T>
inline auto masked_store_mask(Index count) {
  using Mask = typename LaneMask<T>::type;
  static_assert(has_masked_io<T>, "strata::detail::masked_store_mask: the packet has no masked loads and stores.");
  static_assert(packet_size<T> <= 8 * static_cast<int>(sizeof(Mask)),
                "strata::detail::masked_store_mask: the mask type must have a bit per lane.");
  STRATA_ASSERT(count >= 1 && count < packet_size<T>);
  return static_cast<Mask>((std::uint64_t{1} << count) - 1u);
}

/// The first count (1 to the packet size) values at src in a packet, the other lanes zero and not
/// read: a masked load where the packet has one, else through a zeroed stack copy.
template <class T, class Packet = PacketOf<T>>
inline Packet load_first(const T* src, Index count) {
  STRATA_ASSERT(count >= 1 && count <= packet_size<T>);
  if (count == packet_size<T>) return Eigen::internal::ploadu<Packet>(src);
  if constexpr (has_masked_io<T>) {
    return Eigen::internal::ploadu<Packet>(src, masked_store_mask<T>(count));
  } else {
    EIGEN_ALIGN_MAX T buf[packet_size<T>] = {};
    std::copy(src, src + count, buf);
    return Eigen::internal::pload<Packet>(buf);
  }
}

/// Stores the first count (1 to the packet size) lanes of p at dst, and nothing past them.
template <class T, class Packet>
inline void store_first(T* dst, const Packet& p, Index count) {
  STRATA_ASSERT(count >= 1 && count <= packet_size<T>);
  if (count == packet_size<T>) {
    Eigen::internal::pstoreu(dst, p);
  } else if constexpr (has_masked_io<T>) {
    Eigen::internal::pstoreu(dst, p, masked_store_mask<T>(count));
  } else {
    EIGEN_ALIGN_MAX T buf[packet_size<T>];
    Eigen::internal::pstore(buf, p);
    std::copy(buf, buf + count, dst);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Products with at most dot_max_cols columns (a Dense(1) head, a SimpleRNN(1)) and a depth (k
/// summed over the terms) of at least dot_min_depth use the dot-product kernel: each output is
/// one vectorised dot product over k, not a chain of k dependent multiply-adds across a mostly
/// empty panel. Below that depth the chain is short and the dot product's lane sum costs more.
/// The choice depends on the weights' shapes alone, so a given layer always takes the same
/// kernel, whatever the rows around a sample.
inline constexpr Index dot_max_cols = 2;
inline constexpr Index dot_min_depth = 8;

/// A (rows, cols) row-major matrix repacked for the kernels: for the tile kernel, panels of
/// GemmConfig::panel_width columns, each stored k-major and zero-padded on the right; when
/// cols <= dot_max_cols also for the dot kernel, transposed, each column a zero-padded run of k
/// values.
template <class T>
class PackedMatrix {
 public:
  static constexpr int width = GemmConfig<T>::panel_width;

  PackedMatrix() = default;
  PackedMatrix(const T* src, Index rows, Index cols) { pack(src, rows, cols); }

  void pack(const T* src, Index rows, Index cols) {
    rows_ = rows;
    cols_ = cols;
    stride_ = rows * width;
    max_rows_ = rows;
    max_cols_ = cols;
    const bool dot = cols <= dot_max_cols;
    ldt_ = dot ? (rows + packet_size<T> - 1) / packet_size<T> * packet_size<T> : 0;
    dot_data_.assign(static_cast<std::size_t>(cols * ldt_), T(0));
    for (Index k = 0; dot && k < rows; ++k) {
      for (Index j = 0; j < cols; ++j) dot_data_[static_cast<std::size_t>(j * ldt_ + k)] = src[k * cols + j];
    }
    panels_ = (cols + width - 1) / width;
    data_.assign(static_cast<std::size_t>(panels_ * rows * width), T(0));
    for (Index p = 0; p < panels_; ++p) {
      T* dst = data_.data() + p * stride_;
      const Index j0 = p * width;
      const Index cw = std::min<Index>(width, cols - j0);
      for (Index k = 0; k < rows; ++k) std::copy(src + k * cols + j0, src + k * cols + j0 + cw, dst + k * width);
    }
  }

  /// Room for a matrix of up to max_rows x max_cols in the tile layout only (no dot layout, so
  /// only gemm_tiled() takes it), zero, with no rows or columns yet: resize() then set_column()
  /// or set_row() fill it in place. Each panel keeps max_rows rows of room, so a matrix that
  /// grows (an attention key/value cache) never moves what it holds and never allocates.
  void reserve(Index max_rows, Index max_cols) {
    max_rows_ = max_rows;
    max_cols_ = max_cols;
    stride_ = max_rows * width;
    rows_ = cols_ = panels_ = ldt_ = 0;
    dot_data_.clear();
    data_.assign(static_cast<std::size_t>((max_cols + width - 1) / width * stride_), T(0));
  }
  /// The matrix's size within the room reserve() made; the values already set stay.
  void resize(Index rows, Index cols) {
    STRATA_ASSERT(rows >= 0 && cols >= 0 && rows <= max_rows_ && cols <= max_cols_ && ldt_ == 0);
    rows_ = rows;
    cols_ = cols;
    panels_ = (cols + width - 1) / width;
  }
  /// Sets column j (within the reserved room) to src[0], src[step], ..., one value per row of
  /// max rows: B[k, j] = src[k * step] for k < count.
  void set_column(Index j, const T* src, Index step, Index count) {
    STRATA_ASSERT(j >= 0 && j < max_cols_ && count <= max_rows_);
    T* dst = data_.data() + (j / width) * stride_ + j % width;
    for (Index k = 0; k < count; ++k) dst[k * width] = src[k * step];
  }
  /// Sets row k (within the reserved room) to the count values at src.
  void set_row(Index k, const T* src, Index count) {
    STRATA_ASSERT(k >= 0 && k < max_rows_ && count <= max_cols_);
    for (Index j0 = 0; j0 < count; j0 += width) {
      const Index cw = std::min<Index>(width, count - j0);
      std::copy(src + j0, src + j0 + cw, data_.data() + (j0 / width) * stride_ + k * width);
    }
  }

  /// The matrix back in row-major order: dst holds rows() * cols() values. Layers keep their
  /// weights packed only (one copy in memory) and give Keras' layout back this way.
  void unpack(T* dst) const { unpack_columns(dst, cols_, 0); }
  /// The same into columns [c0, c0 + cols()) of a row-major matrix with ld columns.
  void unpack_columns(T* dst, Index ld, Index c0) const {
    for (Index p = 0; p < panels_; ++p) {
      const T* src = data_.data() + p * stride_;
      const Index j0 = p * width;
      const Index cw = std::min<Index>(width, cols_ - j0);
      for (Index k = 0; k < rows_; ++k) std::copy(src + k * width, src + k * width + cw, dst + k * ld + c0 + j0);
    }
  }

  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  Index panels() const { return panels_; }
  const T* panel(Index p) const { return data_.data() + p * stride_; }
  /// Whether the dot layout is there (pack() of at most dot_max_cols columns).
  bool has_dot_layout() const { return ldt_ > 0; }
  /// Dot layout (cols() <= dot_max_cols): column j as a zero-padded run of rows() values.
  const T* column(Index j) const {
    STRATA_ASSERT(ldt_ > 0);
    return dot_data_.data() + j * ldt_;
  }

 private:
  std::vector<T, Eigen::aligned_allocator<T>> data_;
  std::vector<T, Eigen::aligned_allocator<T>> dot_data_;
  Index rows_ = 0;
  Index cols_ = 0;
  Index panels_ = 0;
  Index ldt_ = 0;
  Index stride_ = 0;  // values from one panel to the next
  Index max_rows_ = 0;
  Index max_cols_ = 0;
};

/// One term A * B of a product: A is row-major with leading dimension lda and B->rows() columns.
template <class T>
struct GemmTerm {
  const T* a;
  Index lda;
  const PackedMatrix<T>* b;
};

/// Computes the MR rows [i, i + MR) of the NP panels [p, p + NP) in registers.
template <class T, int MR, int NP>
inline void gemm_tile(Index i, Index p, Index n, const GemmTerm<T>* terms, int term_count, const PackedMatrix<T>* init,
                      T* c, Index ldc) {
  using Config = GemmConfig<T>;
  using Packet = typename Config::Packet;
  constexpr int P = Config::packet;
  constexpr int Q = Config::panel_packets;
  constexpr int NR = Config::panel_width;
  static_assert(MR >= 1 && MR <= Config::tile_rows && NP >= 1,
                "strata::detail::gemm_tile: a tile has 1 to tile_rows rows and at least one panel.");
  static_assert(MR * NP * Q <= 32,
                "strata::detail::gemm_tile: more accumulators than any target has vector registers would spill.");
  using Eigen::internal::ploadu;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  using Eigen::internal::pstoreu;

  Packet acc[MR][NP * Q];
  STRATA_UNROLL
  for (int q = 0; q < NP * Q; ++q) {
    const Packet start = init != nullptr ? ploadu<Packet>(init->panel(p + q / Q) + (q % Q) * P) : pset1<Packet>(T(0));
    STRATA_UNROLL
    for (int r = 0; r < MR; ++r) acc[r][q] = start;
  }
  for (int s = 0; s < term_count; ++s) {
    const GemmTerm<T>& term = terms[s];
    const T* a[MR];
    STRATA_UNROLL
    for (int r = 0; r < MR; ++r) a[r] = term.a + (i + r) * term.lda;
    const T* b[NP];
    STRATA_UNROLL
    for (int j = 0; j < NP; ++j) b[j] = term.b->panel(p + j);
    const Index depth = term.b->rows();
    for (Index k = 0; k < depth; ++k) {
      Packet bk[NP * Q];
      STRATA_UNROLL
      for (int q = 0; q < NP * Q; ++q) bk[q] = ploadu<Packet>(b[q / Q] + k * NR + (q % Q) * P);
      STRATA_UNROLL
      for (int r = 0; r < MR; ++r) {
        const Packet ar = pset1<Packet>(a[r][k]);
        STRATA_UNROLL
        for (int q = 0; q < NP * Q; ++q) acc[r][q] = pmadd(ar, bk[q], acc[r][q]);
      }
    }
  }
  STRATA_UNROLL
  for (int j = 0; j < NP; ++j) {
    const Index j0 = (p + j) * NR;
    if (j0 + NR <= n) {
      STRATA_UNROLL
      for (int r = 0; r < MR; ++r) {
        STRATA_UNROLL
        for (int q = 0; q < Q; ++q) pstoreu(c + (i + r) * ldc + j0 + q * P, acc[r][j * Q + q]);
      }
    } else {
      // The last, partial panel: masked stores where the packet has them (a copy through a stack
      // tile costs a memmove call per row, which dominates narrow products such as a 5-unit LSTM's 20 gate
      // columns).
      for (int q = 0; q < Q; ++q) {
        const Index count = std::min<Index>(P, n - j0 - q * P);
        if (count <= 0) break;
        for (int r = 0; r < MR; ++r) store_first(c + (i + r) * ldc + j0 + q * P, acc[r][j * Q + q], count);
      }
    }
  }
}

/// Rows [i, i + MR) across all panels, NP panels at a time (more panels per tile keep enough
/// independent accumulators in flight when there are few rows).
template <class T, int MR, int NP>
inline void gemm_rows(Index i, Index panels, Index n, const GemmTerm<T>* terms, int term_count,
                      const PackedMatrix<T>* init, T* c, Index ldc) {
  Index p = 0;
  for (; p + NP <= panels; p += NP) gemm_tile<T, MR, NP>(i, p, n, terms, term_count, init, c, ldc);
  for (; p < panels; ++p) gemm_tile<T, MR, 1>(i, p, n, terms, term_count, init, c, ldc);
}

/// The dot kernel (B packed with dot()): C[i, j] = init[j] + the lane sum of a packet that
/// accumulates A[i, k] B[k, j] at lane k mod P over every term, k in order within each lane.
template <class T>
void gemm_dot(Index m, Index n, const GemmTerm<T>* terms, int term_count, const PackedMatrix<T>* init, T* c,
              Index ldc) {
  using Packet = typename GemmConfig<T>::Packet;
  constexpr int P = GemmConfig<T>::packet;
  using Eigen::internal::pload;
  using Eigen::internal::ploadu;
  using Eigen::internal::pmadd;
  using Eigen::internal::predux;
  using Eigen::internal::pset1;
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) {
      Packet acc = pset1<Packet>(T(0));
      for (int s = 0; s < term_count; ++s) {
        const T* a = terms[s].a + i * terms[s].lda;
        const T* b = terms[s].b->column(j);
        const Index depth = terms[s].b->rows();
        Index k = 0;
        for (; k + P <= depth; k += P) acc = pmadd(ploadu<Packet>(a + k), pload<Packet>(b + k), acc);
        // The tail: A's lanes past the end must be zeros, not whatever follows the row (B's
        // padding is zero, but 0 * inf is NaN).
        if (k < depth) acc = pmadd(load_first<T>(a + k, depth - k), pload<Packet>(b + k), acc);
      }
      const T sum = predux(acc);
      c[i * ldc + j] = init != nullptr ? init->column(j)[0] + sum : sum;
    }
  }
}

template <class T>
void gemm_tiled(Index m, Index n, const GemmTerm<T>* terms, int term_count, const PackedMatrix<T>* init, T* c,
                Index ldc);

/// C[i, j] = init[j] + sum over terms of sum_k A[i, k] B[k, j], for i < m and j < n, where every
/// term's B has n columns (init: a packed 1 x n row, or null for zero), all packed alike.
template <class T>
void gemm(Index m, Index n, const GemmTerm<T>* terms, int term_count, const PackedMatrix<T>* init, T* c, Index ldc) {
  if (m <= 0 || n <= 0) return;
  // No terms is allowed (C = init, or zero): a transposed convolution's output phase can have no
  // tap on a row.
  STRATA_ASSERT(term_count >= 0 && (term_count == 0 || terms != nullptr) && c != nullptr && ldc >= n);
  for (int s = 0; s < term_count; ++s) {
    STRATA_ASSERT(terms[s].b != nullptr && terms[s].b->cols() == n);
  }
  STRATA_ASSERT(init == nullptr || (init->rows() == 1 && init->cols() == n));
  if (n <= dot_max_cols) {
    Index depth = 0;
    for (int s = 0; s < term_count; ++s) depth += terms[s].b->rows();
    bool dot = depth >= dot_min_depth;
    for (int s = 0; dot && s < term_count; ++s) dot = terms[s].b->has_dot_layout();
    if (dot && (init == nullptr || init->has_dot_layout())) {
      gemm_dot(m, n, terms, term_count, init, c, ldc);
      return;
    }
  }
  gemm_tiled(m, n, terms, term_count, init, c, ldc);
}

/// gemm() with the tile kernel whatever the shape: every C[i, j] is init[j] + the chain of
/// multiply-adds A[i, 0] B[0, j] + A[i, 1] B[1, j] + ... in k order, so its value does not depend
/// on n or on the depth either. Attention takes it for its score and context products, whose
/// columns and depth grow with the key steps: a decoding step then computes exactly the full
/// call's row.
template <class T>
void gemm_tiled(Index m, Index n, const GemmTerm<T>* terms, int term_count, const PackedMatrix<T>* init, T* c,
                Index ldc) {
  using Config = GemmConfig<T>;
  constexpr int MR = Config::tile_rows;
  if (m <= 0 || n <= 0) return;
  STRATA_ASSERT(term_count >= 0 && (term_count == 0 || terms != nullptr) && c != nullptr && ldc >= n);
  const Index panels = (n + Config::panel_width - 1) / Config::panel_width;
  const Index full = m - m % MR;
  // Full tiles: blocks of rows, and within a block every panel across all its tiles, so one
  // panel of B is reused from cache by the whole block.
  for (Index i0 = 0; i0 < full; i0 += Config::block_rows) {
    const Index i1 = std::min<Index>(full, i0 + Config::block_rows);
    for (Index p = 0; p < panels; ++p) {
      for (Index i = i0; i < i1; i += MR) gemm_tile<T, MR, 1>(i, p, n, terms, term_count, init, c, ldc);
    }
  }
  // The last m % MR rows: a smaller tile over several panels at once; same arithmetic per element.
  // (GemmConfig's static_assert ties MR to the five cases below.)
  switch (m - full) {
    case 1:
      gemm_rows<T, 1, 4>(full, panels, n, terms, term_count, init, c, ldc);
      break;
    case 2:
      gemm_rows<T, 2, 3>(full, panels, n, terms, term_count, init, c, ldc);
      break;
    case 3:
      gemm_rows<T, 3, 2>(full, panels, n, terms, term_count, init, c, ldc);
      break;
    case 4:
      gemm_rows<T, 4, 1>(full, panels, n, terms, term_count, init, c, ldc);
      break;
    case 5:
      gemm_rows<T, 5, 1>(full, panels, n, terms, term_count, init, c, ldc);
      break;
    default:
      STRATA_ASSERT(m == full);
      break;
  }
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_GEMM_HPP
