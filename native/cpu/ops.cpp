// Memory, elementwise ops, pooling, linear, loss and the optimizer of the CPU backend.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "../core/sanitizer.h"
#include "../core/sgd_rule.h"
#include "cpu_backend.h"
#include "gemm.h"
#include "threads.h"

namespace insalun::cpu {

// ---- memory: "device" memory is 64-byte aligned host memory ----------------------------------
void* CpuBackend::alloc_bytes(size_t bytes) {
#if INSALUN_ASAN
  // The exact size (at least 1 byte), so that AddressSanitizer sees a read past the end.
  void* p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(1, bytes)) != 0) p = nullptr;
#else
  void* p = std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
#endif
  if (!p) throw std::bad_alloc();
  return p;
}
void CpuBackend::free_bytes(void* p) { std::free(p); }
void CpuBackend::upload_bytes(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::download_bytes(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::copy_bytes(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }

// ---- elementwise ------------------------------------------------------------------------------
void CpuBackend::fill(float* x, float value, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) x[i] = value;
}
void CpuBackend::axpy(float alpha, const float* x, float* y, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
void CpuBackend::lerp(const float* x0, const float* x1, float alpha, float* y, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) y[i] = x0[i] + alpha * (x1[i] - x0[i]);
}
void CpuBackend::mul_diff(const float* x1, const float* x0, float* y, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) y[i] = (x1[i] - x0[i]) * y[i];
}
void CpuBackend::activations_to_float(const NormShape& s, const Act* a, float* out) {
  std::memmove(out, f32(a), s.size() * sizeof(float));
}
void CpuBackend::activations_from_float(const NormShape& s, const float* in, Act* a) {
  std::memmove(f32(a), in, s.size() * sizeof(float));
}
void CpuBackend::relu_forward(const Act* xa, Act* ya, size_t n) {
  const float* x = f32(xa);
  float* y = f32(ya);
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];  // a NaN propagates
}
void CpuBackend::relu_backward(const Act* ya, const Act* dya, Act* dxa, size_t n) {
  const float *y = f32(ya), *dy = f32(dya);
  float* dx = f32(dxa);
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
// Blocks of a fixed length summed in parallel, their totals added in block order: the same bits at
// every thread count (an OpenMP reduction adds per-thread totals, which move with the count).
void CpuBackend::sum(const float* x, size_t n, float* out) {
  constexpr size_t kBlock = size_t(1) << 14;
  const size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> totals(blocks);
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < blocks; ++b) {
    double total = 0;
    for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) total += x[i];
    totals[b] = total;
  }
  double total = 0;
  for (double t : totals) total += t;
  *out = float(total);
}

// The arithmetic reference of the kernel bench, in the active instruction set's vectors (gemm.h).
double CpuBackend::multiply_add_loop(size_t rounds) { return vector_multiply_add_loop(rounds); }

// ---- pooling and linear -----------------------------------------------------------------------
void CpuBackend::avgpool_forward(const NormShape& s, const Act* xa, float* y) {
  const float* x = f32(xa);
  for (size_t plane = 0; plane < size_t(s.n) * s.c; ++plane) {
    float total = 0;
    for (int j = 0; j < s.hw; ++j) total += x[plane * s.hw + j];
    y[plane] = total / float(s.hw);
  }
}
void CpuBackend::avgpool_backward(const NormShape& s, const float* dy, Act* dxa) {
  float* dx = f32(dxa);
  for (size_t plane = 0; plane < size_t(s.n) * s.c; ++plane) {
    const float g = dy[plane] / float(s.hw);
    for (int j = 0; j < s.hw; ++j) dx[plane * s.hw + j] = g;
  }
}
void CpuBackend::linear_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y) {
  for (int i = 0; i < n; ++i) std::memcpy(y + size_t(i) * out, b, sizeof(float) * out);
  sgemm(false, true, n, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}
void CpuBackend::linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy, float* dx,
                                 float* dw, float* db) {
  if (dx) sgemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  sgemm(true, false, out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
  for (int o = 0; o < out; ++o) {
    float total = 0;
    for (int i = 0; i < n; ++i) total += dy[size_t(i) * out + o];
    db[o] = total;
  }
}

// ---- loss -------------------------------------------------------------------------------------
void CpuBackend::softmax_xent(int n, int classes, const float* logits, const int32_t* labels, float scale,
                              float* dlogits, float* stats) {
  double loss = 0;
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    const float* z = logits + size_t(i) * classes;
    const int best = int(std::max_element(z, z + classes) - z);
    const float zmax = z[best];
    double denom = 0;
    for (int k = 0; k < classes; ++k) denom += std::exp(double(z[k] - zmax));
    const int y = labels[i];
    // An out-of-range label is not read: it makes the loss NaN, as on the GPU.
    const bool valid = y >= 0 && y < classes;
    loss += valid ? std::log(denom) - double(z[y] - zmax) : std::numeric_limits<double>::quiet_NaN();
    correct += valid && best == y;
    if (dlogits) {
      float* d = dlogits + size_t(i) * classes;
      for (int k = 0; k < classes; ++k) {
        const double p = std::exp(double(z[k] - zmax)) / denom;
        d[k] = float(scale * (p - (k == y ? 1.0 : 0.0)) / n);
      }
    }
  }
  stats[0] += float(loss);
  stats[1] += float(correct);
}

// ---- optimizer --------------------------------------------------------------------------------
void CpuBackend::sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf, const float* mask,
                          size_t n, bool first_step) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) sgd_update(c, w + i, g[i], momentum_buf + i, mask ? mask[i] : 1.0f, first_step);
}

}  // namespace insalun::cpu
