// Batch norm over [n, c, hw], one channel per OpenMP iteration. Sums use double accumulators:
// a channel can hold 10^5 - 10^6 values and float sums would drift from the reference.
#include <algorithm>
#include <cmath>

#include "cpu_backend.h"

namespace insalun::cpu {
namespace {

template <typename F>
void for_each_value(const NormShape& s, int c, F f) {
  for (int i = 0; i < s.n; ++i) {
    const size_t base = (size_t(i) * s.c + c) * s.hw;
    for (int j = 0; j < s.hw; ++j) f(base + j);
  }
}

// y = relu?(x * scale + shift + residual?) for one channel.
void normalize(const NormShape& s, int c, const float* x, float gamma, float beta, float mean,
               float invstd, const NormEpilogue& e, float* y) {
  const float scale = gamma * invstd, shift = beta - mean * scale;
  const float* r = f32(e.residual);
  if (r && e.relu) for_each_value(s, c, [&](size_t k) { y[k] = std::max(x[k] * scale + shift + r[k], 0.0f); });
  else if (r) for_each_value(s, c, [&](size_t k) { y[k] = x[k] * scale + shift + r[k]; });
  else if (e.relu) for_each_value(s, c, [&](size_t k) { y[k] = std::max(x[k] * scale + shift, 0.0f); });
  else for_each_value(s, c, [&](size_t k) { y[k] = x[k] * scale + shift; });
}

// The incoming gradient after the folded ReLU's backward.
inline float gated(const float* dy, const float* relu_out, size_t k) {
  return relu_out && !(relu_out[k] > 0.0f) ? 0.0f : dy[k];
}

// dgamma = sum(dy * xhat), dbeta = sum(dy) for one channel.
void affine_grads(const NormShape& s, int c, const float* x, const float* dy, const float* relu_out,
                  float mean, float invstd, double* dgamma, double* dbeta) {
  double sum_dy = 0, sum_dy_xhat = 0;
  for_each_value(s, c, [&](size_t k) {
    const float g = gated(dy, relu_out, k);
    sum_dy += g;
    sum_dy_xhat += double(g) * (x[k] - mean) * invstd;
  });
  *dgamma = sum_dy_xhat;
  *dbeta = sum_dy;
}

}  // namespace

void CpuBackend::bn_forward_train(const NormShape& s, const Act* xa, const float* gamma,
                                  const float* beta, float* running_mean, float* running_var,
                                  float momentum, float eps, const NormEpilogue& epilogue, Act* ya,
                                  float* save_mean, float* save_invstd) {
  const float* x = f32(xa);
  float* y = f32(ya);
  const double count = double(s.n) * s.hw;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double sum = 0;
    for_each_value(s, c, [&](size_t k) { sum += x[k]; });
    const double mean = sum / count;
    double squares = 0;
    for_each_value(s, c, [&](size_t k) { squares += (x[k] - mean) * (x[k] - mean); });
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

void CpuBackend::bn_forward_eval(const NormShape& s, const Act* xa, const float* gamma,
                                 const float* beta, const float* running_mean,
                                 const float* running_var, float eps, const NormEpilogue& epilogue,
                                 Act* ya, float* save_mean, float* save_invstd) {
  const float* x = f32(xa);
  float* y = f32(ya);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    const float invstd = float(1.0 / std::sqrt(double(running_var[c]) + eps));
    save_mean[c] = running_mean[c];
    save_invstd[c] = invstd;
    normalize(s, c, x, gamma[c], beta[c], running_mean[c], invstd, epilogue, y);
  }
}

void CpuBackend::bn_backward_train(const NormShape& s, const Act* xa, const Act* dya,
                                   const Act* relu_outa, const float* gamma, const float* save_mean,
                                   const float* save_invstd, Act* dxa, float* dgamma, float* dbeta) {
  const float *x = f32(xa), *dy = f32(dya), *relu_out = f32(relu_outa);
  float* dx = f32(dxa);
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
    for_each_value(s, c, [&](size_t k) {
      const float xhat = (x[k] - mean) * invstd;
      dx[k] = scale * (gated(dy, relu_out, k) - mean_dy - xhat * mean_dy_xhat);
    });
  }
}

void CpuBackend::bn_backward_eval(const NormShape& s, const Act* xa, const Act* dya,
                                  const Act* relu_outa, const float* gamma, const float* save_mean,
                                  const float* save_invstd, Act* dxa, float* dgamma, float* dbeta) {
  const float *x = f32(xa), *dy = f32(dya), *relu_out = f32(relu_outa);
  float* dx = f32(dxa);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s.c; ++c) {
    double dg, db;
    affine_grads(s, c, x, dy, relu_out, save_mean[c], save_invstd[c], &dg, &db);
    dgamma[c] = float(dg);
    dbeta[c] = float(db);
    const float scale = gamma[c] * save_invstd[c];
    for_each_value(s, c, [&](size_t k) { dx[k] = gated(dy, relu_out, k) * scale; });
  }
}

}  // namespace insalun::cpu
