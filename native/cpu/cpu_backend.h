// The CPU backend: fp32, NCHW, all cores through OpenMP. Convolutions are im2col + the blocked
// GEMM in gemm.cpp, processed in chunks of images so the column buffer stays cache-sized.
#pragma once

#include <cmath>
#include <vector>

#include "../core/backend.h"

namespace insalun::cpu {

// The CPU backend's activations are float32.
inline float* f32(Act* a) { return reinterpret_cast<float*>(a); }
inline const float* f32(const Act* a) { return reinterpret_cast<const float*>(a); }

// Batch norm of one channel as y = x * scale + shift, from the statistics it normalizes with:
// one definition for the separate pass (batchnorm.cpp) and the convolution that folds the
// inference norm into its output (conv.cpp), so that both give the same bits.
struct ChannelAffine {
  float scale, shift;
};
inline ChannelAffine channel_affine(float gamma, float beta, float mean, float invstd) {
  const float scale = gamma * invstd;
  return {scale, beta - mean * scale};
}
// 1 / sqrt(running variance + eps), as the eval-mode norm uses it.
inline float eval_invstd(float running_var, float eps) { return float(1.0 / std::sqrt(double(running_var) + eps)); }

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }

  void* alloc_bytes(size_t bytes) override;
  void free_bytes(void* p) override;
  void upload_bytes(void* dst, const void* src, size_t bytes) override;
  void download_bytes(void* dst, const void* src, size_t bytes) override;
  void copy_bytes(void* dst, const void* src, size_t bytes) override;

  void fill(float* x, float value, size_t n) override;
  void axpy(float alpha, const float* x, float* y, size_t n) override;
  void lerp(const float* x0, const float* x1, float alpha, float* y, size_t n) override;
  void mul_diff(const float* x1, const float* x0, float* y, size_t n) override;
  void activations_to_float(const NormShape& s, const Act* a, float* out) override;
  void activations_from_float(const NormShape& s, const float* in, Act* a) override;
  void relu_forward(const Act* x, Act* y, size_t n) override;
  void relu_backward(const Act* y, const Act* dy, Act* dx, size_t n) override;
  void sum(const float* x, size_t n, float* out) override;
  double multiply_add_loop(size_t rounds) override;

  void conv2d_forward(const ConvShape& s, const Act* x, const float* w, Act* y) override;
  void conv2d_forward_bn_eval(const ConvShape& s, const Act* x, const float* w, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, float eps,
                              const NormEpilogue& epilogue, Act* conv_out, Act* y, float* save_mean,
                              float* save_invstd) override;
  void conv2d_backward_data(const ConvShape& s, const Act* dy, const float* w, Act* dx, bool accumulate) override;
  void conv2d_backward_filter(const ConvShape& s, const Act* x, const Act* dy, float* dw) override;

  void bn_forward_train(const NormShape& s, const Act* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float momentum, float eps, const NormEpilogue& epilogue, Act* y,
                        float* save_mean, float* save_invstd) override;
  void bn_forward_eval(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                       const float* running_mean, const float* running_var, float eps, const NormEpilogue& epilogue,
                       Act* y, float* save_mean, float* save_invstd) override;
  void bn_backward_train(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                         const float* gamma, const float* save_mean, const float* save_invstd, Act* dx, float* dgamma,
                         float* dbeta) override;
  void bn_backward_eval(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                        const float* gamma, const float* save_mean, const float* save_invstd, Act* dx, float* dgamma,
                        float* dbeta) override;

  void avgpool_forward(const NormShape& s, const Act* x, float* y) override;
  void avgpool_backward(const NormShape& s, const float* dy, Act* dx) override;
  void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y) override;
  void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy, float* dx, float* dw,
                       float* db) override;
  void softmax_xent(int n, int classes, const float* logits, const int32_t* labels, float scale, float* dlogits,
                    float* stats) override;

  void gather_batch(const DeviceDataset& d, const BatchSpec& spec, Act* x, int32_t* labels) override;

  void sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf, const float* mask, size_t n,
                bool first_step) override;
};

}  // namespace insalun::cpu
