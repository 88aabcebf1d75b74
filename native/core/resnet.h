// ResNet-18, CIFAR variant (docs/method.md section 1), written once over the Backend interface.
// All parameters live in one flat device vector (so the optimizer, masks and integrated gradients
// are single flat ops); the running statistics in a second one; num_batches_tracked on the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"

namespace insalun {

struct ResNetConfig {
  int classes = 10;
  int in_channels = 3;
  int width = 64;  // channels of the first stage; stages use width x 1, 2, 4, 8
  int image = 32;  // input height = width
};

enum class TensorKind { kParameter, kBuffer, kCounter };

// One entry of the torchvision state_dict. `offset` indexes the flat vector of its kind.
struct TensorInfo {
  std::string name;
  std::vector<int> shape;
  TensorKind kind;
  size_t offset, size;
};

class ResNet18 {
 public:
  ResNet18(Backend& backend, const ResNetConfig& config);
  ~ResNet18();
  ResNet18(const ResNet18&) = delete;
  ResNet18& operator=(const ResNet18&) = delete;

  const ResNetConfig& config() const { return config_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  size_t parameter_count() const { return parameter_count_; }
  size_t buffer_count() const { return buffer_count_; }
  float* parameters() { return params_; }
  float* gradients() { return grads_; }
  float* buffers() { return buffers_; }
  std::vector<int64_t>& counters() { return counters_; }
  // Device bytes held: parameters, gradients, running and saved statistics, and the activations
  // of the largest batch run so far.
  size_t device_bytes() const { return fixed_bytes_ + activation_bytes_; }

  // PyTorch's default initialisation, deterministic from the seed (Philox-driven).
  void initialize(uint64_t seed);

  // x: activations [n, in_channels, image, image] on the device. Returns device logits
  // [n, classes] (float32), valid until the next forward. train = batch statistics (and running
  // statistics update).
  const float* forward(const Act* x, int n, bool train);
  // An eval-mode forward that no backward may follow (evaluation, losses): the backend may fold
  // each batch norm into the convolution before it (Backend::conv2d_forward_bn_eval). Same
  // logits as forward(x, n, false) up to rounding; backward() afterwards throws.
  const float* infer(const Act* x, int n);
  // Backward of the last forward: overwrites gradients(); writes dL/dx when input_grad != null.
  void backward(const float* dlogits, Act* input_grad);
  // Advances every batch-norm num_batches_tracked by k: what k train-mode forwards do on the host
  // (a replayed step runs only the device part).
  void count_train_steps(int64_t k);

 private:
  struct Conv {
    int weight;                        // index into tensors_
    int cin, cout, k, stride, pad, h;  // h: input height (= width)
    ConvShape shape(int n) const { return ConvShape{n, cin, h, h, cout, k, stride, pad}; }
  };
  struct Norm {
    int gamma, beta, mean, var, counter;  // indices into tensors_
    int c, hw;
    float* save_mean = nullptr;
    float* save_invstd = nullptr;
  };
  struct Block {
    Conv conv1, conv2, shortcut_conv;
    Norm bn1, bn2, shortcut_bn;
    bool has_shortcut = false;
    // activations kept for backward: conv outputs (c1, c2, cs), relu(bn1(c1)) and the shortcut's
    // bn(cs); out = relu(bn2(c2) + shortcut)
    Act *c1 = nullptr, *r1 = nullptr, *c2 = nullptr, *cs = nullptr, *bs = nullptr, *out = nullptr;
  };

  // visit(conv, norm) for every convolution and the batch norm after it, in the network's order:
  // the stem, then each block's conv1, conv2 and shortcut (where it has one).
  template <typename Visit>
  void for_each_conv_norm(Visit&& visit);
  int add_tensor(const std::string& name, std::vector<int> shape, TensorKind kind);
  Conv make_conv(const std::string& name, int cin, int cout, int k, int stride, int h);
  Norm make_norm(const std::string& prefix, int c, int hw);
  void ensure_capacity(int n);
  void release_activations();
  float* param(int tensor) { return params_ + tensors_[tensor].offset; }
  float* grad(int tensor) { return grads_ + tensors_[tensor].offset; }
  void norm_forward(Norm& bn, const Act* x, Act* y, int n, bool train, const NormEpilogue& epilogue);
  enum class Pass { kTrain, kEval, kInference };
  const float* run_forward(const Act* x, int n, Pass pass);
  // y = bn(conv(x)) with the epilogue; conv_out holds conv(x) unless an inference pass folds it.
  void conv_norm(const Conv& conv, Norm& bn, const Act* x, Act* conv_out, Act* y, int n, Pass pass,
                 const NormEpilogue& epilogue);
  // Backend::bn_backward_* in the mode of the last forward; relu_out and gated_dy as there.
  void norm_backward(const Norm& bn, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy, Act* dx, int n);
  Act* block_backward(Block& b, const Act* block_input, Act* dout, int n);

  Backend& be_;
  ResNetConfig config_;
  std::vector<TensorInfo> tensors_;
  size_t parameter_count_ = 0, buffer_count_ = 0;
  float *params_ = nullptr, *grads_ = nullptr, *buffers_ = nullptr;
  std::vector<int64_t> counters_;

  Conv stem_conv_;
  Norm stem_bn_;
  std::vector<Block> blocks_;
  std::vector<ConvWeights> conv_weights_;  // every convolution's, for prepare_conv_weights
  int fc_weight_ = -1, fc_bias_ = -1, final_channels_ = 0, final_hw_ = 0;

  // activations for the current capacity
  int capacity_ = 0, last_n_ = 0;
  bool last_train_ = false;
  const Act* input_ = nullptr;
  Act *stem_c_ = nullptr, *stem_r_ = nullptr, *scratch_[3] = {nullptr, nullptr, nullptr};
  float *pooled_ = nullptr, *dpooled_ = nullptr, *logits_ = nullptr;
  std::vector<void*> owned_;                       // every activation-sized allocation, freed together
  size_t fixed_bytes_ = 0, activation_bytes_ = 0;  // device_bytes(), as allocated
};

}  // namespace insalun
