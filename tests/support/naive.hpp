// SPDX-License-Identifier: MIT
// Independent reference implementations for the tests: plain scalar loops written from the Keras
// equations (../shared/docs/keras-semantics.md), on std::vector, using <cmath> only. Nothing here
// calls strata, so agreement with it means something.
#ifndef STRATA_TESTS_NAIVE_HPP
#define STRATA_TESTS_NAIVE_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace naive {

/// An element-wise Keras activation by name, straight from its formula.
template <class T>
T activate(const std::string& name, T x) {
  if (name == "linear") return x;
  if (name == "relu") return x > T(0) ? x : T(0);
  if (name == "relu6") return std::min(std::max(x, T(0)), T(6));
  if (name == "leaky_relu") return x >= T(0) ? x : T(0.2) * x;
  if (name == "elu") return x > T(0) ? x : std::exp(x) - T(1);
  if (name == "selu") {
    const T alpha = T(1.6732632423543772), scale = T(1.0507009873554805);
    return x > T(0) ? scale * x : scale * alpha * (std::exp(x) - T(1));
  }
  if (name == "gelu") return T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2))));
  if (name == "gelu_approximate") {
    const T k = std::sqrt(T(2) / T(3.14159265358979323846));
    return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
  }
  if (name == "sigmoid") return T(1) / (T(1) + std::exp(-x));
  if (name == "hard_sigmoid") return std::min(T(1), std::max(T(0), x / T(6) + T(0.5)));
  if (name == "hard_sigmoid_keras2") return std::min(T(1), std::max(T(0), T(0.2) * x + T(0.5)));
  if (name == "tanh") return std::tanh(x);
  if (name == "softplus") return std::log1p(std::exp(-std::abs(x))) + std::max(x, T(0));
  if (name == "softsign") return x / (T(1) + std::abs(x));
  if (name == "silu" || name == "swish") return x / (T(1) + std::exp(-x));
  if (name == "mish") return x * std::tanh(std::log1p(std::exp(-std::abs(x))) + std::max(x, T(0)));
  if (name == "exponential") return std::exp(x);
  if (name == "hard_silu" || name == "hard_swish") return x * std::min(std::max(x + T(3), T(0)), T(6)) / T(6);
  // Keras 3.7+ (keras/src/backend/numpy/nn.py), with their default parameters.
  if (name == "celu") return x > T(0) ? x : std::expm1(x);
  if (name == "hard_shrink") return std::abs(x) > T(0.5) ? x : T(0);
  if (name == "hard_tanh") return x < T(-1) ? T(-1) : (x > T(1) ? T(1) : x);
  if (name == "log_sigmoid") return -(std::log1p(std::exp(-std::abs(x))) + std::max(-x, T(0)));
  if (name == "soft_shrink") return x > T(0.5) ? x - T(0.5) : (x < T(-0.5) ? x + T(0.5) : T(0));
  if (name == "sparse_plus") return x <= T(-1) ? T(0) : (x < T(1) ? (x + T(1)) * (x + T(1)) / T(4) : x);
  if (name == "sparse_sigmoid") return x <= T(-1) ? T(0) : (x >= T(1) ? T(1) : (x + T(1)) / T(2));
  if (name == "squareplus") return (x + std::sqrt(x * x + T(4))) / T(2);
  if (name == "tanh_shrink") return x - std::tanh(x);
  throw std::invalid_argument("naive::activate: not element-wise or unknown: " + name);
}

/// Applies an activation to rows x cols values in place; softmax and log_softmax act per row.
template <class T>
void activate_rows(const std::string& name, std::vector<T>& v, std::size_t rows, std::size_t cols) {
  if (name == "softmax" || name == "log_softmax") {
    for (std::size_t r = 0; r < rows; ++r) {
      T* row = v.data() + r * cols;
      T m = row[0];
      for (std::size_t j = 1; j < cols; ++j) m = std::max(m, row[j]);
      T sum = 0;
      for (std::size_t j = 0; j < cols; ++j) sum += std::exp(row[j] - m);
      for (std::size_t j = 0; j < cols; ++j) {
        row[j] = name == "softmax" ? std::exp(row[j] - m) / sum : row[j] - m - std::log(sum);
      }
    }
    return;
  }
  if (name == "sparsemax") {
    // Keras 3's sparsemax: sort descending, cumulative sums c, support z_i > (c_i - 1) / i, and
    // tau = (sum of c_i over the support - 1) / k (Keras' formula, not the textbook c_k).
    for (std::size_t r = 0; r < rows; ++r) {
      T* row = v.data() + r * cols;
      std::vector<T> z(row, row + cols);
      std::sort(z.begin(), z.end(), [](T a, T b) { return a > b; });
      T c = 0, sum_c = 0;
      std::size_t k = 0;
      for (std::size_t i = 0; i < cols; ++i) {
        c += z[i];
        if (z[i] > (c - T(1)) / static_cast<T>(i + 1)) {
          sum_c += c;
          ++k;
        }
      }
      const T tau = (sum_c - T(1)) / static_cast<T>(k);
      for (std::size_t j = 0; j < cols; ++j) row[j] = row[j] > tau ? row[j] - tau : T(0);
    }
    return;
  }
  for (auto& x : v) x = activate(name, x);
}

/// Dense on rows x features values: y[n][j] = act(sum_k x[n][k] kernel[k][j] + bias[j]).
template <class T>
std::vector<T> dense(const std::vector<T>& x, std::size_t rows, std::size_t features, const std::vector<T>& kernel,
                     const std::vector<T>& bias, std::size_t units, const std::string& activation) {
  std::vector<T> y(rows * units);
  for (std::size_t n = 0; n < rows; ++n) {
    for (std::size_t j = 0; j < units; ++j) {
      T acc = bias.empty() ? T(0) : bias[j];
      for (std::size_t k = 0; k < features; ++k) acc += x[n * features + k] * kernel[k * units + j];
      y[n * units + j] = acc;
    }
  }
  activate_rows(activation, y, rows, units);
  return y;
}

struct LstmConfig {
  std::size_t units = 1;
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool return_sequences = false;
  bool go_backwards = false;
};

template <class T>
struct LstmOutput {
  std::vector<T> output;  // (batch, time, units) or (batch, units)
  std::vector<T> h;       // (batch, units)
  std::vector<T> c;       // (batch, units)
};

/// LSTM on x (batch, time, features): per sample, per step, per unit, from the Keras equations.
/// bias may be empty (use_bias=false); h0 and c0 may be empty (zeros).
template <class T>
LstmOutput<T> lstm(const std::vector<T>& x, std::size_t batch, std::size_t time, std::size_t features,
                   const std::vector<T>& kernel, const std::vector<T>& recurrent, const std::vector<T>& bias,
                   const LstmConfig& cfg, const std::vector<T>& h0 = {}, const std::vector<T>& c0 = {}) {
  const std::size_t u = cfg.units;
  LstmOutput<T> out;
  out.output.assign(cfg.return_sequences ? batch * time * u : batch * u, T(0));
  out.h.assign(batch * u, T(0));
  out.c.assign(batch * u, T(0));
  for (std::size_t b = 0; b < batch; ++b) {
    std::vector<T> h(u, T(0)), c(u, T(0));
    if (!h0.empty()) std::copy(h0.begin() + b * u, h0.begin() + (b + 1) * u, h.begin());
    if (!c0.empty()) std::copy(c0.begin() + b * u, c0.begin() + (b + 1) * u, c.begin());
    for (std::size_t s = 0; s < time; ++s) {
      const std::size_t t = cfg.go_backwards ? time - 1 - s : s;
      const T* xt = x.data() + (b * time + t) * features;
      std::vector<T> z(4 * u);
      for (std::size_t j = 0; j < 4 * u; ++j) {
        T acc = bias.empty() ? T(0) : bias[j];
        for (std::size_t k = 0; k < features; ++k) acc += xt[k] * kernel[k * 4 * u + j];
        for (std::size_t k = 0; k < u; ++k) acc += h[k] * recurrent[k * 4 * u + j];
        z[j] = acc;
      }
      for (std::size_t j = 0; j < u; ++j) {
        const T i = activate(cfg.recurrent_activation, z[j]);
        const T f = activate(cfg.recurrent_activation, z[u + j]);
        const T g = activate(cfg.activation, z[2 * u + j]);
        const T o = activate(cfg.recurrent_activation, z[3 * u + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * activate(cfg.activation, c[j]);
      }
      if (cfg.return_sequences) std::copy(h.begin(), h.end(), out.output.begin() + (b * time + s) * u);
    }
    if (!cfg.return_sequences) std::copy(h.begin(), h.end(), out.output.begin() + b * u);
    std::copy(h.begin(), h.end(), out.h.begin() + b * u);
    std::copy(c.begin(), c.end(), out.c.begin() + b * u);
  }
  return out;
}

/// The recurrent layers' options for rnn() below.
struct RnnConfig {
  std::string kind = "lstm";  // "lstm", "gru" or "simple_rnn"
  std::size_t units = 1;
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool reset_after = true;  // GRU only
  bool return_sequences = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
};

/// Number of gate blocks per kind: 4 (LSTM), 3 (GRU), 1 (SimpleRNN).
inline std::size_t rnn_gates(const RnnConfig& cfg) { return cfg.kind == "lstm" ? 4 : cfg.kind == "gru" ? 3 : 1; }

/// LSTM, GRU or SimpleRNN on x (batch, time, features) from the Keras equations, one sample, step
/// and unit at a time. bias: empty, (G u), or for a reset_after GRU (2, 3u). h0/c0 empty = zeros.
/// mask (batch * time, 1 = keep) or empty: Keras' TensorFlow-backend rule -- at a masked step the
/// states stay, the output is the previous output (zeros before any), or 0 with
/// zero_output_for_mask.
template <class T>
LstmOutput<T> rnn(const std::vector<T>& x, std::size_t batch, std::size_t time, std::size_t features,
                  const std::vector<T>& kernel, const std::vector<T>& recurrent, const std::vector<T>& bias,
                  const RnnConfig& cfg, const std::vector<T>& h0 = {}, const std::vector<T>& c0 = {},
                  const std::vector<int>& mask = {}) {
  const std::size_t u = cfg.units;
  const std::size_t g = rnn_gates(cfg) * u;
  const std::string& ra = cfg.recurrent_activation;
  const std::string& a = cfg.activation;
  LstmOutput<T> out;
  out.output.assign(cfg.return_sequences ? batch * time * u : batch * u, T(0));
  out.h.assign(batch * u, T(0));
  out.c.assign(batch * u, T(0));
  const auto dot_x = [&](const T* xt, std::size_t j) {
    T acc = T(0);
    for (std::size_t k = 0; k < features; ++k) acc += xt[k] * kernel[k * g + j];
    return acc;
  };
  const auto dot_h = [&](const std::vector<T>& h, std::size_t j) {
    T acc = T(0);
    for (std::size_t k = 0; k < u; ++k) acc += h[k] * recurrent[k * g + j];
    return acc;
  };
  const auto b_in = [&](std::size_t j) { return bias.empty() ? T(0) : bias[j]; };
  const auto b_rec = [&](std::size_t j) { return bias.empty() ? T(0) : bias[g + j]; };
  for (std::size_t b = 0; b < batch; ++b) {
    std::vector<T> h(u, T(0)), c(u, T(0)), prev_out(u, T(0));
    if (!h0.empty()) std::copy(h0.begin() + b * u, h0.begin() + (b + 1) * u, h.begin());
    if (!c0.empty()) std::copy(c0.begin() + b * u, c0.begin() + (b + 1) * u, c.begin());
    for (std::size_t s = 0; s < time; ++s) {
      const std::size_t t = cfg.go_backwards ? time - 1 - s : s;
      const T* xt = x.data() + (b * time + t) * features;
      std::vector<T> nh(u), nc = c;
      if (cfg.kind == "lstm") {
        for (std::size_t j = 0; j < u; ++j) {
          const auto z = [&](std::size_t q) { return b_in(q * u + j) + dot_x(xt, q * u + j) + dot_h(h, q * u + j); };
          const T i = activate(ra, z(0)), f = activate(ra, z(1)), gg = activate(a, z(2)), o = activate(ra, z(3));
          nc[j] = f * c[j] + i * gg;
          nh[j] = o * activate(a, nc[j]);
        }
      } else if (cfg.kind == "gru") {
        std::vector<T> zg(u), rg(u);
        for (std::size_t j = 0; j < u; ++j) {
          if (cfg.reset_after) {
            zg[j] = activate(ra, dot_x(xt, j) + b_in(j) + dot_h(h, j) + b_rec(j));
            rg[j] = activate(ra, dot_x(xt, u + j) + b_in(u + j) + dot_h(h, u + j) + b_rec(u + j));
          } else {
            zg[j] = activate(ra, dot_x(xt, j) + b_in(j) + dot_h(h, j));
            rg[j] = activate(ra, dot_x(xt, u + j) + b_in(u + j) + dot_h(h, u + j));
          }
        }
        std::vector<T> rh(u);
        for (std::size_t k = 0; k < u; ++k) rh[k] = rg[k] * h[k];
        for (std::size_t j = 0; j < u; ++j) {
          T hh;
          if (cfg.reset_after) {
            hh = activate(a, dot_x(xt, 2 * u + j) + b_in(2 * u + j) + rg[j] * (dot_h(h, 2 * u + j) + b_rec(2 * u + j)));
          } else {
            hh = activate(a, dot_x(xt, 2 * u + j) + b_in(2 * u + j) + dot_h(rh, 2 * u + j));
          }
          nh[j] = zg[j] * h[j] + (T(1) - zg[j]) * hh;
        }
      } else {
        for (std::size_t j = 0; j < u; ++j) nh[j] = activate(a, dot_x(xt, j) + b_in(j) + dot_h(h, j));
      }
      const bool kept = mask.empty() || mask[b * time + t] != 0;
      std::vector<T> o(u, T(0));
      if (kept) {
        h = nh;
        c = nc;
        o = h;
      } else if (!cfg.zero_output_for_mask) {
        o = prev_out;
      }
      prev_out = o;
      if (cfg.return_sequences) std::copy(o.begin(), o.end(), out.output.begin() + (b * time + s) * u);
    }
    if (!cfg.return_sequences) std::copy(prev_out.begin(), prev_out.end(), out.output.begin() + b * u);
    std::copy(h.begin(), h.end(), out.h.begin() + b * u);
    std::copy(c.begin(), c.end(), out.c.begin() + b * u);
  }
  return out;
}

}  // namespace naive

#endif  // STRATA_TESTS_NAIVE_HPP
