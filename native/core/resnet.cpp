#include "resnet.h"

#include <cmath>
#include <stdexcept>

#include "philox.h"

namespace insalun {
namespace {

constexpr float kBnEps = 1e-5f, kBnMomentum = 0.1f;

size_t product(const std::vector<int>& shape) {
  size_t p = 1;
  for (int d : shape) p *= size_t(d);
  return p;
}

// Uniform in (0, 1] from a 32-bit word.
double unit(uint32_t word) { return (double(word) + 1.0) / 4294967296.0; }

}  // namespace

template <typename Visit>
void ResNet18::for_each_conv_norm(Visit&& visit) {
  visit(stem_conv_, stem_bn_);
  for (Block& b : blocks_) {
    visit(b.conv1, b.bn1);
    visit(b.conv2, b.bn2);
    if (b.has_shortcut) visit(b.shortcut_conv, b.shortcut_bn);
  }
}

int ResNet18::add_tensor(const std::string& name, std::vector<int> shape, TensorKind kind) {
  const size_t size = product(shape);
  size_t offset = 0;
  if (kind == TensorKind::kParameter) offset = (parameter_count_ += size) - size;
  if (kind == TensorKind::kBuffer) offset = (buffer_count_ += size) - size;
  if (kind == TensorKind::kCounter) offset = counters_.size(), counters_.push_back(0);
  tensors_.push_back(TensorInfo{name, std::move(shape), kind, offset, size});
  return int(tensors_.size()) - 1;
}

ResNet18::Conv ResNet18::make_conv(const std::string& name, int cin, int cout, int k, int stride, int h) {
  const int weight = add_tensor(name + ".weight", {cout, cin, k, k}, TensorKind::kParameter);
  return Conv{weight, cin, cout, k, stride, k / 2, h};
}

ResNet18::Norm ResNet18::make_norm(const std::string& prefix, int c, int hw) {
  Norm bn;
  bn.gamma = add_tensor(prefix + ".weight", {c}, TensorKind::kParameter);
  bn.beta = add_tensor(prefix + ".bias", {c}, TensorKind::kParameter);
  bn.mean = add_tensor(prefix + ".running_mean", {c}, TensorKind::kBuffer);
  bn.var = add_tensor(prefix + ".running_var", {c}, TensorKind::kBuffer);
  bn.counter = add_tensor(prefix + ".num_batches_tracked", {}, TensorKind::kCounter);
  bn.c = c;
  bn.hw = hw;
  bn.save_mean = nullptr;
  return bn;
}

ResNet18::ResNet18(Backend& backend, const ResNetConfig& config) : be_(backend), config_(config) {
  if (config.classes < 1 || config.in_channels < 1 || config.width < 1 || config.image < 8)
    throw std::invalid_argument("ResNet18: classes, in_channels and width must be positive, image >= 8");
  // Tensors are registered in torchvision's state_dict order.
  const int w = config.width;
  int h = config.image;
  stem_conv_ = make_conv("conv1", config.in_channels, w, 3, 1, h);
  stem_bn_ = make_norm("bn1", w, h * h);
  int cin = w;
  for (int stage = 0; stage < 4; ++stage) {
    const int cout = w << stage;
    for (int index = 0; index < 2; ++index) {
      const int stride = (stage > 0 && index == 0) ? 2 : 1;
      const int hout = (h - 1) / stride + 1;  // 3x3 pad 1 and 1x1 pad 0 agree, odd sizes too
      const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(index);
      Block b;
      b.conv1 = make_conv(p + ".conv1", cin, cout, 3, stride, h);
      b.bn1 = make_norm(p + ".bn1", cout, hout * hout);
      b.conv2 = make_conv(p + ".conv2", cout, cout, 3, 1, hout);
      b.bn2 = make_norm(p + ".bn2", cout, hout * hout);
      b.has_shortcut = stride != 1 || cin != cout;
      if (b.has_shortcut) {
        b.shortcut_conv = make_conv(p + ".downsample.0", cin, cout, 1, stride, h);
        b.shortcut_conv.pad = 0;
        b.shortcut_bn = make_norm(p + ".downsample.1", cout, hout * hout);
      }
      blocks_.push_back(b);
      cin = cout;
      h = hout;
    }
  }
  final_channels_ = cin;
  final_hw_ = h * h;
  fc_weight_ = add_tensor("fc.weight", {config.classes, cin}, TensorKind::kParameter);
  fc_bias_ = add_tensor("fc.bias", {config.classes}, TensorKind::kParameter);

  params_ = be_.alloc(parameter_count_);
  grads_ = be_.alloc(parameter_count_);
  for_each_conv_norm([&](Conv& conv, Norm&) {
    conv_weights_.push_back(ConvWeights{param(conv.weight), grad(conv.weight), conv.cout, conv.cin, conv.k});
  });
  buffers_ = be_.alloc(buffer_count_);
  fixed_bytes_ = sizeof(float) * (2 * parameter_count_ + buffer_count_);
  be_.fill(grads_, 0.0f, parameter_count_);
  // Per-channel saved statistics for every norm layer.
  for_each_conv_norm([&](Conv&, Norm& bn) {
    bn.save_mean = be_.alloc(bn.c);
    bn.save_invstd = be_.alloc(bn.c);
    fixed_bytes_ += 2 * sizeof(float) * bn.c;
  });
  initialize(0);
}

ResNet18::~ResNet18() {
  for (void* p : owned_) be_.release_bytes(p);
  for_each_conv_norm([&](Conv&, Norm& bn) {
    be_.release_bytes(bn.save_mean);
    be_.release_bytes(bn.save_invstd);
  });
  be_.release_bytes(params_);
  be_.release_bytes(grads_);
  be_.release_bytes(buffers_);
}

void ResNet18::initialize(uint64_t seed) {
  std::vector<float> host_params(parameter_count_), host_buffers(buffer_count_);
  for (size_t t = 0; t < tensors_.size(); ++t) {
    const TensorInfo& info = tensors_[t];
    const bool is_bn = info.shape.size() == 1 && info.name.rfind("fc.", 0) != 0;
    if (info.kind == TensorKind::kCounter) {
      counters_[info.offset] = 0;
    } else if (info.kind == TensorKind::kBuffer) {
      const bool is_var = info.name.size() > 3 && info.name.compare(info.name.size() - 3, 3, "var") == 0;
      for (size_t i = 0; i < info.size; ++i) host_buffers[info.offset + i] = is_var ? 1.0f : 0.0f;
    } else if (info.shape.size() == 4) {
      // kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = sqrt(2 / (cout * k * k))
      const double std = std::sqrt(2.0 / (double(info.shape[0]) * info.shape[2] * info.shape[3]));
      for (size_t i = 0; i < info.size; ++i) {
        const Philox4 r = sample_random(seed, uint32_t(t), uint32_t(i), 1u);
        const double normal = std::sqrt(-2.0 * std::log(unit(r.v[0]))) * std::cos(2.0 * M_PI * unit(r.v[1]));
        host_params[info.offset + i] = float(std * normal);
      }
    } else if (is_bn) {
      const bool is_weight = info.name.compare(info.name.size() - 6, 6, "weight") == 0;
      for (size_t i = 0; i < info.size; ++i) host_params[info.offset + i] = is_weight ? 1.0f : 0.0f;
    } else {
      // nn.Linear default: weight and bias uniform in +-1/sqrt(fan_in)
      const double bound = 1.0 / std::sqrt(double(final_channels_));
      for (size_t i = 0; i < info.size; ++i) {
        const Philox4 r = sample_random(seed, uint32_t(t), uint32_t(i), 1u);
        host_params[info.offset + i] = float((2.0 * unit(r.v[0]) - 1.0) * bound);
      }
    }
  }
  be_.upload_bytes(params_, host_params.data(), parameter_count_ * sizeof(float));
  be_.upload_bytes(buffers_, host_buffers.data(), buffer_count_ * sizeof(float));
}

void ResNet18::release_activations() {
  for (void* p : owned_) be_.free_bytes(p);
  owned_.clear();
  activation_bytes_ = 0;
  capacity_ = 0;
}

void ResNet18::ensure_capacity(int n) {
  if (n <= capacity_) return;
  release_activations();
  auto take = [&](size_t count) {
    Act* p = be_.alloc_activations(count);
    owned_.push_back(p);
    activation_bytes_ += count * be_.activation_bytes();
    return p;
  };
  auto take_floats = [&](size_t count) {
    float* p = be_.alloc(count);
    owned_.push_back(p);
    activation_bytes_ += count * sizeof(float);
    return p;
  };
  const size_t stem = size_t(n) * config_.width * config_.image * config_.image;
  stem_c_ = take(stem);
  stem_r_ = take(stem);
  size_t largest = std::max(stem, size_t(n) * config_.in_channels * config_.image * config_.image);
  for (Block& b : blocks_) {
    const int hout = b.conv1.shape(1).ho();
    const size_t size = size_t(n) * b.conv1.cout * hout * hout;
    b.c1 = take(size);
    b.r1 = take(size);
    b.c2 = take(size);
    b.out = take(size);
    if (b.has_shortcut) {
      b.cs = take(size);
      b.bs = take(size);
    }
    largest = std::max(largest, size);
  }
  pooled_ = take_floats(size_t(n) * final_channels_);
  dpooled_ = take_floats(size_t(n) * final_channels_);
  logits_ = take_floats(size_t(n) * config_.classes);
  for (Act*& s : scratch_) s = take(largest);
  capacity_ = n;
}

void ResNet18::count_train_steps(int64_t k) {
  for (const TensorInfo& t : tensors_)
    if (t.kind == TensorKind::kCounter) counters_[t.offset] += k;
}

void ResNet18::norm_forward(Norm& bn, const Act* x, Act* y, int n, bool train, const NormEpilogue& epilogue) {
  const NormShape s{n, bn.c, bn.hw};
  float* mean = buffers_ + tensors_[bn.mean].offset;
  float* var = buffers_ + tensors_[bn.var].offset;
  if (train) {
    be_.bn_forward_train(s, x, param(bn.gamma), param(bn.beta), mean, var, kBnMomentum, kBnEps, epilogue, y,
                         bn.save_mean, bn.save_invstd);
    counters_[tensors_[bn.counter].offset] += 1;
  } else {
    be_.bn_forward_eval(s, x, param(bn.gamma), param(bn.beta), mean, var, kBnEps, epilogue, y, bn.save_mean,
                        bn.save_invstd);
  }
}

void ResNet18::norm_backward(const Norm& bn, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy, Act* dx,
                             int n) {
  const NormShape s{n, bn.c, bn.hw};
  if (last_train_) {
    be_.bn_backward_train(s, x, dy, relu_out, gated_dy, param(bn.gamma), bn.save_mean, bn.save_invstd, dx,
                          grad(bn.gamma), grad(bn.beta));
  } else {
    be_.bn_backward_eval(s, x, dy, relu_out, gated_dy, param(bn.gamma), bn.save_mean, bn.save_invstd, dx,
                         grad(bn.gamma), grad(bn.beta));
  }
}

void ResNet18::conv_norm(const Conv& conv, Norm& bn, const Act* x, Act* conv_out, Act* y, int n, Pass pass,
                         const NormEpilogue& epilogue) {
  const ConvShape s = conv.shape(n);
  if (pass == Pass::kInference) {
    be_.conv2d_forward_bn_eval(s, x, param(conv.weight), param(bn.gamma), param(bn.beta),
                               buffers_ + tensors_[bn.mean].offset, buffers_ + tensors_[bn.var].offset, kBnEps,
                               epilogue, conv_out, y, bn.save_mean, bn.save_invstd);
    return;
  }
  be_.conv2d_forward(s, x, param(conv.weight), conv_out);
  norm_forward(bn, conv_out, y, n, pass == Pass::kTrain, epilogue);
}

const float* ResNet18::forward(const Act* x, int n, bool train) {
  return run_forward(x, n, train ? Pass::kTrain : Pass::kEval);
}

const float* ResNet18::infer(const Act* x, int n) {
  const float* logits = run_forward(x, n, Pass::kInference);
  last_n_ = 0;  // what backward needs was not kept
  return logits;
}

const float* ResNet18::run_forward(const Act* x, int n, Pass pass) {
  ensure_capacity(n);
  input_ = x;
  last_n_ = n;
  last_train_ = pass == Pass::kTrain;
  be_.prepare_conv_weights(conv_weights_.data(), conv_weights_.size());
  NormEpilogue relu;
  relu.relu = true;
  conv_norm(stem_conv_, stem_bn_, x, stem_c_, stem_r_, n, pass, relu);
  const Act* h = stem_r_;
  for (Block& b : blocks_) {
    conv_norm(b.conv1, b.bn1, h, b.c1, b.r1, n, pass, relu);
    NormEpilogue join;  // out = relu(bn2(c2) + shortcut), one pass
    join.relu = true;
    join.residual = h;
    if (b.has_shortcut) {
      conv_norm(b.shortcut_conv, b.shortcut_bn, h, b.cs, b.bs, n, pass, NormEpilogue{});
      join.residual = b.bs;
    }
    conv_norm(b.conv2, b.bn2, b.r1, b.c2, b.out, n, pass, join);
    h = b.out;
  }
  be_.avgpool_forward(NormShape{n, final_channels_, final_hw_}, h, pooled_);
  be_.linear_forward(n, final_channels_, config_.classes, pooled_, param(fc_weight_), param(fc_bias_), logits_);
  return logits_;
}

// Backward through one block. dout (a scratch buffer) holds dL/d(block output) and is consumed;
// returns the scratch buffer holding dL/d(block input).
Act* ResNet18::block_backward(Block& b, const Act* block_input, Act* dout, int n) {
  Act* others[2];
  int k = 0;
  for (Act* s : scratch_)
    if (s != dout) others[k++] = s;
  Act *t1 = others[0], *t2 = others[1];
  const ConvShape s1 = b.conv1.shape(n), s2 = b.conv2.shape(n);

  // bn2's backward folds in the output ReLU's and turns dout, in place, into dL/d(sum): both
  // branches of the join need it, so it is materialized once, without a pass of its own.
  norm_backward(b.bn2, b.c2, dout, b.out, dout, t1, n);
  be_.conv2d_backward_filter(s2, b.r1, t1, grad(b.conv2.weight));
  be_.conv2d_backward_data(s2, t1, param(b.conv2.weight), t2, false);
  norm_backward(b.bn1, b.c1, t2, b.r1, nullptr, t1, n);  // with bn1's ReLU folded in
  be_.conv2d_backward_filter(s1, block_input, t1, grad(b.conv1.weight));
  if (!b.has_shortcut) {
    // Identity shortcut: dL/d(input) = dL/d(sum) + the main path's data gradient.
    be_.conv2d_backward_data(s1, t1, param(b.conv1.weight), dout, true);
    return dout;
  }
  be_.conv2d_backward_data(s1, t1, param(b.conv1.weight), t2, false);
  const ConvShape ss = b.shortcut_conv.shape(n);
  norm_backward(b.shortcut_bn, b.cs, dout, nullptr, nullptr, t1, n);
  be_.conv2d_backward_filter(ss, block_input, t1, grad(b.shortcut_conv.weight));
  be_.conv2d_backward_data(ss, t1, param(b.shortcut_conv.weight), t2, true);
  return t2;
}

void ResNet18::backward(const float* dlogits, Act* input_grad) {
  if (last_n_ == 0) throw std::logic_error("ResNet18::backward called before forward");
  const int n = last_n_;
  be_.linear_backward(n, final_channels_, config_.classes, pooled_, param(fc_weight_), dlogits, dpooled_,
                      grad(fc_weight_), grad(fc_bias_));
  Act* d = scratch_[0];
  be_.avgpool_backward(NormShape{n, final_channels_, final_hw_}, dpooled_, d);
  for (int i = int(blocks_.size()) - 1; i >= 0; --i) {
    const Act* block_input = i == 0 ? stem_r_ : blocks_[i - 1].out;
    d = block_backward(blocks_[i], block_input, d, n);
  }
  const ConvShape stem = stem_conv_.shape(n);
  Act* dstem = d == scratch_[0] ? scratch_[1] : scratch_[0];
  norm_backward(stem_bn_, stem_c_, d, stem_r_, nullptr, dstem, n);
  be_.conv2d_backward_filter(stem, input_, dstem, grad(stem_conv_.weight));
  if (input_grad) be_.conv2d_backward_data(stem, dstem, param(stem_conv_.weight), input_grad, false);
  be_.finish_conv_weight_grads();
}

}  // namespace insalun
