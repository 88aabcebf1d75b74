#include "kernel_bench.h"

#include "device_allocations.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace insalun {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Seconds per call of op: one warm-up call (convolution plans, workspaces), one timed call to size
// the run, then enough calls to fill min_seconds. The backend is synchronized around each timing,
// so a GPU's figures include launch overhead, as a training step pays it.
template <typename Op>
double time_per_call(Backend& be, double min_seconds, Op op) {
  op();
  be.synchronize();
  Clock::time_point t0 = Clock::now();
  op();
  be.synchronize();
  const double one = std::max(since(t0), 1e-7);
  const int reps = int(std::clamp(min_seconds / one, 1.0, 2000.0));
  t0 = Clock::now();
  for (int i = 0; i < reps; ++i) op();
  be.synchronize();
  return since(t0) / reps;
}

// n activations all equal to value (a constant looks the same in any layout).
Act* constant_activations(DeviceAllocations& b, size_t n, float value) {
  return b.activations(NormShape{1, 1, int(n)}, b.filled(n, value));
}

struct ConvCase {
  ConvShape shape;
  int per_step;
  std::string name;
  // A training step never takes the stem's data gradient (the gradient for the input images;
  // resnet.cpp computes it only when asked for one): it is listed but not counted.
  bool data_gradient_in_step = true;
};

struct NormCase {
  NormShape shape;
  int relu, join, plain;  // per step: BN+ReLU, BN+add+ReLU (block outputs), plain BN (shortcut)
};

std::string conv_label(const ConvShape& s) {
  return std::to_string(s.cin) + "->" + std::to_string(s.cout) + " " + std::to_string(s.h) + "x" + std::to_string(s.w) +
         " k" + std::to_string(s.k) + " s" + std::to_string(s.stride);
}

std::string norm_label(const NormShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.hw);
}

}  // namespace

std::vector<KernelTiming> bench_kernels(Backend& be, const KernelBenchConfig& c) {
  const ResNetConfig& net = c.network;
  if (c.batch < 1 || net.width < 1 || net.image < 8 || net.classes < 1 || net.in_channels < 1)
    throw std::invalid_argument("kernel bench: batch, width, classes and channels must be positive, image >= 8");
  const int n = c.batch, w = net.width;
  std::vector<KernelTiming> rows;
  const double fsize = sizeof(float), asize = double(be.activation_bytes());

  // The network's layer shapes, each with how many times a step meets it (resnet.cpp's graph).
  std::vector<ConvCase> convs;
  std::vector<NormCase> norms;
  size_t parameters = 0;
  int side = net.image;
  convs.push_back({ConvShape{n, net.in_channels, side, side, w, 3, 1, 1}, 1, "stem", false});
  norms.push_back({NormShape{n, w, side * side}, 3, 2, 0});
  convs.push_back({ConvShape{n, w, side, side, w, 3, 1, 1}, 4, "layer1"});
  for (int stage = 1; stage < 4; ++stage) {
    const int cin = w << (stage - 1), cout = w << stage, out_side = (side - 1) / 2 + 1;
    const std::string layer = "layer" + std::to_string(stage + 1);
    convs.push_back({ConvShape{n, cin, side, side, cout, 3, 2, 1}, 1, layer + ".0.conv1"});
    convs.push_back({ConvShape{n, cout, out_side, out_side, cout, 3, 1, 1}, 3, layer});
    convs.push_back({ConvShape{n, cin, side, side, cout, 1, 2, 0}, 1, layer + ".0.downsample"});
    norms.push_back({NormShape{n, cout, out_side * out_side}, 2, 2, 1});
    side = out_side;
  }
  for (const ConvCase& k : convs) parameters += k.shape.weight_size() * k.per_step;
  for (const NormCase& k : norms) parameters += size_t(2) * k.shape.c * (k.relu + k.join + k.plain);
  parameters += size_t(w * 8) * net.classes + net.classes;

  // ---- references: what the device does at its best -------------------------------------------
  // The arithmetic peak: a multiply-add loop in registers where the backend has one (the CPU;
  // there the direct convolutions outrun the GEMM of the 1x1 reference), else the 1x1 below.
  if (be.multiply_add_loop(1) > 0) {
    constexpr size_t kRounds = size_t(1) << 18;
    double flops = 0;
    const double t = time_per_call(be, c.min_seconds, [&] { flops = be.multiply_add_loop(kRounds); });
    rows.push_back({"peak", "multiply-add loop (arithmetic peak)", "in registers, every thread", 0, t, flops, 0});
  }
  {
    DeviceAllocations b(be);
    const size_t bytes = size_t(256) << 20;
    void* src = b.bytes(bytes);
    void* dst = b.bytes(bytes);
    const double t = time_per_call(be, c.min_seconds, [&] { be.copy_bytes(dst, src, bytes); });
    rows.push_back({"peak", "device copy (memory bandwidth)", "256 MiB", 0, t, 0, 2.0 * bytes});
  }
  {
    DeviceAllocations b(be);
    const int big = 8 * w, big_side = std::max(1, net.image / 2);
    const ConvShape s{n, big, big_side, big_side, big, 1, 1, 0};
    const Act* x = constant_activations(b, s.input_size(), 0.5f);
    const float* wt = b.filled(s.weight_size(), 0.01f);
    Act* y = constant_activations(b, s.output_size(), 0.0f);
    const double t = time_per_call(be, c.min_seconds, [&] { be.conv2d_forward(s, x, wt, y); });
    const double flops = 2.0 * s.output_size() * s.cin;
    rows.push_back({"peak", "1x1 convolution (a large GEMM)", conv_label(s), 0, t, flops,
                    asize * (s.input_size() + s.output_size()) + fsize * s.weight_size()});
  }

  // ---- convolutions ---------------------------------------------------------------------------
  for (const ConvCase& k : convs) {
    const ConvShape& s = k.shape;
    DeviceAllocations b(be);
    const Act* x = constant_activations(b, s.input_size(), 0.5f);
    const float* wt = b.filled(s.weight_size(), 0.01f);
    const Act* dy = constant_activations(b, s.output_size(), 0.01f);
    Act* y = constant_activations(b, s.output_size(), 0.0f);
    Act* dx = constant_activations(b, s.input_size(), 0.0f);
    float* dw = b.filled(s.weight_size(), 0.0f);
    const double flops = 2.0 * s.output_size() * s.cin * s.k * s.k;
    const double in = asize * s.input_size(), out = asize * s.output_size(), wb = fsize * s.weight_size();
    const std::string shape = k.name + " " + conv_label(s);
    // As in the network's step, where the weights' bf16 copies are made and their gradients
    // widened once for all convolutions (the row after this loop), not at each call.
    const ConvWeights weights{wt, dw, s.cout, s.cin, s.k};
    be.prepare_conv_weights(&weights, 1);
    rows.push_back({"conv", "conv forward", shape, k.per_step,
                    time_per_call(be, c.min_seconds, [&] { be.conv2d_forward(s, x, wt, y); }), flops, in + wb + out});
    rows.push_back({"conv", "conv backward data", shape, k.data_gradient_in_step ? k.per_step : 0,
                    time_per_call(be, c.min_seconds, [&] { be.conv2d_backward_data(s, dy, wt, dx, false); }), flops,
                    out + wb + in});
    rows.push_back({"conv", "conv backward filter", shape, k.per_step,
                    time_per_call(be, c.min_seconds, [&] { be.conv2d_backward_filter(s, x, dy, dw); }), flops,
                    in + out + wb});
    be.finish_conv_weight_grads();
  }
  if (be.activation_bytes() == 2) {  // bf16: the weights' copies, all convolutions in one launch
    DeviceAllocations b(be);
    std::vector<ConvWeights> all;
    size_t weights = 0;
    for (const ConvCase& k : convs)
      for (int i = 0; i < k.per_step; ++i) {  // each of the step's convolutions of this shape
        const ConvShape& s = k.shape;
        all.push_back(ConvWeights{b.filled(s.weight_size(), 0.01f), nullptr, s.cout, s.cin, s.k});
        weights += s.weight_size();
      }
    // (the widening of their gradients, one launch at the end of the backward, moves as many
    // bytes the other way; it has no row: it runs only after a backward)
    const double t = time_per_call(be, c.min_seconds, [&] { be.prepare_conv_weights(all.data(), all.size()); });
    rows.push_back({"conv", "bf16 weight copies (all convolutions)", std::to_string(weights) + " weights", 1, t, 0,
                    (fsize + 2.0) * double(weights)});
  }

  // ---- batch norm and the elementwise passes around it -------------------------------------------
  const float momentum = 0.1f, eps = 1e-5f;
  for (const NormCase& k : norms) {
    const NormShape& s = k.shape;
    DeviceAllocations b(be);
    const size_t size = s.size();
    const Act* x = constant_activations(b, size, 0.5f);
    const Act* residual = constant_activations(b, size, 0.25f);
    const Act* dy = constant_activations(b, size, 0.01f);
    Act* y = constant_activations(b, size, 0.0f);
    Act* dx = constant_activations(b, size, 0.0f);
    const float *gamma = b.filled(s.c, 1.0f), *beta = b.filled(s.c, 0.0f);
    float *rm = b.filled(s.c, 0.0f), *rv = b.filled(s.c, 1.0f);
    float *mean = b.filled(s.c, 0.0f), *invstd = b.filled(s.c, 1.0f);
    float *dgamma = b.filled(s.c, 0.0f), *dbeta = b.filled(s.c, 0.0f);
    const double pass = asize * size;
    const std::string shape = norm_label(s);
    NormEpilogue relu;
    relu.relu = true;
    NormEpilogue join = relu;
    join.residual = residual;
    auto forward = [&](const NormEpilogue& e) {
      return time_per_call(be, c.min_seconds,
                           [&] { be.bn_forward_train(s, x, gamma, beta, rm, rv, momentum, eps, e, y, mean, invstd); });
    };
    // Statistics read x once; the apply pass reads x (and the residual) and writes y.
    rows.push_back({"batchnorm", "bn train forward + relu", shape, k.relu, forward(relu), 0, 3 * pass});
    rows.push_back({"batchnorm", "bn train forward + add + relu", shape, k.join, forward(join), 0, 4 * pass});
    if (k.plain)
      rows.push_back({"batchnorm", "bn train forward", shape, k.plain, forward(NormEpilogue{}), 0, 3 * pass});
    // Backward: a reduction over (x, dy[, relu gate]), then the apply pass over the same plus dx
    // (and, at a block's output, the gated dy kept for the shortcut branch, written over dy).
    Act* gated_dy = constant_activations(b, size, 0.01f);
    auto backward = [&](const Act* relu_out, Act* kept) {
      return time_per_call(be, c.min_seconds, [&] {
        be.bn_backward_train(s, x, kept ? kept : dy, relu_out, kept, gamma, mean, invstd, dx, dgamma, dbeta);
      });
    };
    rows.push_back({"batchnorm", "bn train backward + relu", shape, k.relu, backward(y, nullptr), 0, 7 * pass});
    rows.push_back(
        {"batchnorm", "bn train backward + relu, gated dy kept", shape, k.join, backward(y, gated_dy), 0, 8 * pass});
    if (k.plain)
      rows.push_back({"batchnorm", "bn train backward", shape, k.plain, backward(nullptr, nullptr), 0, 5 * pass});
  }

  // ---- data and optimizer -------------------------------------------------------------------------
  {
    DeviceAllocations b(be);
    const int count = n, pool = std::max(n, 1024);
    const size_t image = size_t(net.in_channels) * net.image * net.image;
    std::vector<int32_t> host_indices(count);
    for (int i = 0; i < count; ++i) host_indices[i] = int32_t((size_t(i) * 7919) % pool);
    const std::vector<uint8_t> host_images(image * pool, 128);
    const std::vector<int32_t> host_labels(pool, 0);
    const uint8_t* images = b.upload(host_images.data(), host_images.size());
    const int32_t* labels = b.upload(host_labels.data(), host_labels.size());
    const int32_t* indices = b.upload(host_indices.data(), host_indices.size());
    auto* out_labels = static_cast<int32_t*>(b.bytes(sizeof(int32_t) * count));
    const float* mean = b.filled(net.in_channels, 0.5f);
    const float* stdev = b.filled(net.in_channels, 0.25f);
    Act* x = constant_activations(b, image * count, 0.0f);
    const DeviceDataset d{images, labels, pool, net.in_channels, net.image, net.image, mean, stdev};
    BatchSpec spec;
    spec.indices = indices;
    spec.count = count;
    spec.augment = true;
    spec.seed = 1;
    rows.push_back({"data", "gather batch (crop + flip + normalize)",
                    std::to_string(count) + "x" + std::to_string(net.in_channels) + "x" + std::to_string(net.image) +
                        "x" + std::to_string(net.image),
                    1, time_per_call(be, c.min_seconds, [&] { be.gather_batch(d, spec, x, out_labels); }), 0,
                    double(image) * count * (1 + asize)});
  }
  {
    DeviceAllocations b(be);
    float* wt = b.filled(parameters, 0.01f);
    const float* g = b.filled(parameters, 0.001f);
    float* buf = b.filled(parameters, 0.0f);
    const float* mask = b.filled(parameters, 1.0f);
    SgdConfig sgd;
    sgd.lr = 1e-4f;
    sgd.mask_mode = MaskMode::kGrad;
    rows.push_back({"optimizer", "masked SGD, all parameters in one launch", std::to_string(parameters) + " parameters",
                    1, time_per_call(be, c.min_seconds, [&] { be.sgd_step(sgd, wt, g, buf, mask, parameters, false); }),
                    0, 6 * fsize * parameters});
  }
  return rows;
}

}  // namespace insalun
