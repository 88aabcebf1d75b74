// Batch norm over [n, c, hw], one channel per OpenMP iteration, a channel being n rows of hw
// contiguous values. Sums add float lanes within a row (vectorized, independent adds) and the
// rows in double: a channel holds 10^5 - 10^6 values, and one float chain over them would drift
// from the reference while one double chain would wait on every add. The row loops index plain
// restrict pointers so that they compile to vector loads (indexing through a lambda produced
// gathers, 10x slower).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "cpu_backend.h"

namespace insalun::cpu {
namespace {

// Offset of row i (image i) of channel c.
inline size_t row_of(const NormShape& s, int i, int c) { return (size_t(i) * s.c + c) * s.hw; }

// Mean and sum of squared deviations of channel c, in two passes (no cancellation when
// |mean| >> std).
void channel_moments(const NormShape& s, int c, const float* x, double* mean, double* squares) {
  double sum = 0;
  for (int i = 0; i < s.n; ++i) {
    const float* __restrict row = x + row_of(s, i, c);
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < s.hw; ++j) acc += row[j];
    sum += acc;
  }
  const double count = double(s.n) * s.hw;
  *mean = sum / count;
  const float m = float(*mean);
  double sq = 0, dev = 0;
  for (int i = 0; i < s.n; ++i) {
    const float* __restrict row = x + row_of(s, i, c);
    float acc_sq = 0.0f, acc_dev = 0.0f;
#pragma omp simd reduction(+ : acc_sq, acc_dev)
    for (int j = 0; j < s.hw; ++j) {
      const float d = row[j] - m;
      acc_sq += d * d;
      acc_dev += d;
    }
    sq += acc_sq;
    dev += acc_dev;
  }
  // float(mean) is off by up to half an ulp; remove that offset's share exactly.
  *squares = std::max(sq - dev * dev / count, 0.0);
}

// y = relu?(x * scale + shift + residual?) for channel c.
void normalize(const NormShape& s, int c, const float* x, float gamma, float beta, float mean, float invstd,
               const NormEpilogue& e, float* y) {
  const auto [scale, shift] = channel_affine(gamma, beta, mean, invstd);
  const float* residual = f32(e.residual);
  for (int i = 0; i < s.n; ++i) {
    const size_t at = row_of(s, i, c);
    const float* __restrict in = x + at;
    float* __restrict out = y + at;
    if (residual) {
      const float* __restrict res = residual + at;
      if (e.relu) {
#pragma omp simd
        for (int j = 0; j < s.hw; ++j) out[j] = std::max(in[j] * scale + shift + res[j], 0.0f);
      } else {
#pragma omp simd
        for (int j = 0; j < s.hw; ++j) out[j] = in[j] * scale + shift + res[j];
      }
    } else if (e.relu) {
#pragma omp simd
      for (int j = 0; j < s.hw; ++j) out[j] = std::max(in[j] * scale + shift, 0.0f);
    } else {
#pragma omp simd
      for (int j = 0; j < s.hw; ++j) out[j] = in[j] * scale + shift;
    }
  }
}

// One row of the incoming gradient after the folded ReLU's backward: dy where relu_out > 0.
// Gated is a template parameter so that each row loop is branch-free (a null test inside it
// stopped the vectorizer).
template <bool Gated>
struct GradientRow {
  const float* __restrict dy;
  const float* __restrict relu_out;
  float operator[](int j) const {
    if constexpr (Gated) return relu_out[j] > 0.0f ? dy[j] : 0.0f;
    return dy[j];
  }
};

// Calls body(offset, gradient) for each row of channel c: the row's offset and its gated dy.
template <typename Body>
void for_each_gradient_row(const NormShape& s, int c, const float* dy, const float* relu_out, Body body) {
  auto rows = [&](auto gate_on) {
    constexpr bool kGated = decltype(gate_on)::value;
    for (int i = 0; i < s.n; ++i) {
      const size_t at = row_of(s, i, c);
      body(at, GradientRow<kGated>{dy + at, kGated ? relu_out + at : nullptr});
    }
  };
  if (relu_out)
    rows(std::true_type{});
  else
    rows(std::false_type{});
}

// gated = dy where relu_out > 0, else 0, over channel c: the gated gradient kept for the caller.
// A loop of its own, after the channel's dx, since gated may be dy itself.
void store_gated(const NormShape& s, int c, const float* dy, const float* relu_out, float* gated) {
  for (int i = 0; i < s.n; ++i) {
    const size_t at = row_of(s, i, c);
    for (int j = 0; j < s.hw; ++j) gated[at + j] = relu_out[at + j] > 0.0f ? dy[at + j] : 0.0f;
  }
}

// dgamma = sum(dy * xhat), dbeta = sum(dy) for channel c (dy gated by relu_out when given).
void affine_grads(const NormShape& s, int c, const float* x, const float* dy, const float* relu_out, float mean,
                  float invstd, double* dgamma, double* dbeta) {
  double sum_dy = 0, sum_dy_centered = 0;
  for_each_gradient_row(s, c, dy, relu_out, [&](size_t at, auto grad) {
    const float* __restrict in = x + at;
    float acc = 0.0f, acc_centered = 0.0f;
#pragma omp simd reduction(+ : acc, acc_centered)
    for (int j = 0; j < s.hw; ++j) {
      const float g = grad[j];
      acc += g;
      acc_centered += g * (in[j] - mean);
    }
    sum_dy += acc;
    sum_dy_centered += acc_centered;
  });
  *dgamma = sum_dy_centered * invstd;
  *dbeta = sum_dy;
}

}  // namespace

void CpuBackend::bn_forward_train(const NormShape& s, const Act* xa, const float* gamma, const float* beta,
                                  float* running_mean, float* running_var, float momentum, float eps,
                                  const NormEpilogue& epilogue, Act* ya, float* save_mean, float* save_invstd) {
  const float* x = f32(xa);
  float* y = f32(ya);
  const double count = double(s.n) * s.hw;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double mean, squares;
    channel_moments(s, c, x, &mean, &squares);
    const double var = squares / count;
    const float invstd = float(1.0 / std::sqrt(var + eps));
    save_mean[c] = float(mean);
    save_invstd[c] = invstd;
    const double unbiased = count > 1 ? squares / (count - 1) : var;
    running_mean[c] = float((1.0 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = float((1.0 - momentum) * running_var[c] + momentum * unbiased);
    normalize(s, c, x, gamma[c], beta[c], float(mean), invstd, epilogue, y);
  }
}

void CpuBackend::bn_forward_eval(const NormShape& s, const Act* xa, const float* gamma, const float* beta,
                                 const float* running_mean, const float* running_var, float eps,
                                 const NormEpilogue& epilogue, Act* ya, float* save_mean, float* save_invstd) {
  const float* x = f32(xa);
  float* y = f32(ya);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    const float invstd = eval_invstd(running_var[c], eps);
    save_mean[c] = running_mean[c];
    save_invstd[c] = invstd;
    normalize(s, c, x, gamma[c], beta[c], running_mean[c], invstd, epilogue, y);
  }
}

void CpuBackend::bn_backward_train(const NormShape& s, const Act* xa, const Act* dya, const Act* relu_outa,
                                   Act* gated_dya, const float* gamma, const float* save_mean, const float* save_invstd,
                                   Act* dxa, float* dgamma, float* dbeta) {
  check_norm_backward(relu_outa, gated_dya, dxa);
  const float *x = f32(xa), *dy = f32(dya), *relu_out = f32(relu_outa);
  float *dx = f32(dxa), *gated_dy = f32(gated_dya);
  const double count = double(s.n) * s.hw;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    const float mean = save_mean[c], invstd = save_invstd[c];
    double dg, db;
    affine_grads(s, c, x, dy, relu_out, mean, invstd, &dg, &db);
    dgamma[c] = float(dg);
    dbeta[c] = float(db);
    // dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat))
    const float scale = gamma[c] * invstd, mean_dy = float(db / count), mean_dy_xhat = float(dg / count);
    for_each_gradient_row(s, c, dy, relu_out, [&](size_t at, auto grad) {
      const float* __restrict in = x + at;
      float* __restrict out = dx + at;
#pragma omp simd
      for (int j = 0; j < s.hw; ++j) {
        const float xhat = (in[j] - mean) * invstd;
        out[j] = scale * (grad[j] - mean_dy - xhat * mean_dy_xhat);
      }
    });
    if (gated_dy) store_gated(s, c, dy, relu_out, gated_dy);
  }
}

void CpuBackend::bn_backward_eval(const NormShape& s, const Act* xa, const Act* dya, const Act* relu_outa,
                                  Act* gated_dya, const float* gamma, const float* save_mean, const float* save_invstd,
                                  Act* dxa, float* dgamma, float* dbeta) {
  check_norm_backward(relu_outa, gated_dya, dxa);
  const float *x = f32(xa), *dy = f32(dya), *relu_out = f32(relu_outa);
  float *dx = f32(dxa), *gated_dy = f32(gated_dya);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double dg, db;
    affine_grads(s, c, x, dy, relu_out, save_mean[c], save_invstd[c], &dg, &db);
    dgamma[c] = float(dg);
    dbeta[c] = float(db);
    const float scale = gamma[c] * save_invstd[c];
    for_each_gradient_row(s, c, dy, relu_out, [&](size_t at, auto grad) {
      float* __restrict out = dx + at;
#pragma omp simd
      for (int j = 0; j < s.hw; ++j) out[j] = grad[j] * scale;
    });
    if (gated_dy) store_gated(s, c, dy, relu_out, gated_dy);
  }
}

}  // namespace insalun::cpu
