#include "kernel_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace insalun {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

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

// Device buffers for one measurement, freed however it ends.
class Buffers {
 public:
  explicit Buffers(Backend& be) : be_(be) {}
  ~Buffers() {
    for (void* p : owned_) be_.free_bytes(p);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  float* floats(size_t n, float value) {
    float* p = be_.alloc(std::max<size_t>(n, 1));
    owned_.push_back(p);
    be_.fill(p, value, n);
    return p;
  }
  // Activations holding `value` (filled as floats, then converted to the activation type).
  Act* acts(size_t n, float value) {
    const float* source = floats(n, value);
    Act* a = be_.alloc_activations(std::max<size_t>(n, 1));
    owned_.push_back(a);
    be_.activations_from_float(NormShape{1, 1, int(n)}, source, a);  // a constant: any layout
    return a;
  }
  void* bytes(size_t n) {
    void* p = be_.alloc_bytes(std::max<size_t>(n, 1));
    owned_.push_back(p);
    return p;
  }

 private:
  Backend& be_;
  std::vector<void*> owned_;
};

struct ConvCase {
  ConvShape shape;
  int per_step;
  std::string name;
};

struct NormCase {
  NormShape shape;
  int relu, join, plain;  // per step: BN+ReLU, BN+add+ReLU (block outputs), plain BN (shortcut)
};

std::string conv_label(const ConvShape& s) {
  return std::to_string(s.cin) + "->" + std::to_string(s.cout) + " " + std::to_string(s.h) + "x" +
         std::to_string(s.w) + " k" + std::to_string(s.k) + " s" + std::to_string(s.stride);
}

std::string norm_label(const NormShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.c) + "x" + std::to_string(s.hw);
}

}  // namespace

std::vector<KernelTiming> bench_kernels(Backend& be, const KernelBenchConfig& c) {
  const ResNetConfig& net = c.network;
  if (c.batch < 1 || net.width < 1 || net.image < 8 || net.classes < 1 || net.in_channels < 1)
    throw std::invalid_argument(
        "kernel bench: batch, width, classes and channels must be positive, image >= 8");
  const int n = c.batch, w = net.width;
  std::vector<KernelTiming> rows;
  const double fsize = sizeof(float), asize = double(be.activation_bytes());

  // The network's layer shapes, each with how many times a step meets it (resnet.cpp's graph).
  std::vector<ConvCase> convs;
  std::vector<NormCase> norms;
  size_t parameters = 0;
  int side = net.image;
  convs.push_back({ConvShape{n, net.in_channels, side, side, w, 3, 1, 1}, 1, "stem"});
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
  {
    Buffers b(be);
    const size_t bytes = size_t(256) << 20;
    void* src = b.bytes(bytes);
    void* dst = b.bytes(bytes);
    const double t = time_per_call(be, c.min_seconds, [&] { be.copy_bytes(dst, src, bytes); });
    rows.push_back({"peak", "device copy (memory bandwidth)", "256 MiB", 0, t, 0, 2.0 * bytes});
  }
  {
    Buffers b(be);
    const int big = 8 * w, big_side = std::max(1, net.image / 2);
    const ConvShape s{n, big, big_side, big_side, big, 1, 1, 0};
    const Act* x = b.acts(s.input_size(), 0.5f);
    const float* wt = b.floats(s.weight_size(), 0.01f);
    Act* y = b.acts(s.output_size(), 0.0f);
    const double t = time_per_call(be, c.min_seconds, [&] { be.conv2d_forward(s, x, wt, y); });
    const double flops = 2.0 * s.output_size() * s.cin;
    rows.push_back({"peak", "1x1 convolution (a large GEMM)", conv_label(s), 0, t, flops,
                    asize * (s.input_size() + s.output_size()) + fsize * s.weight_size()});
  }

  // ---- convolutions ---------------------------------------------------------------------------
  for (const ConvCase& k : convs) {
    const ConvShape& s = k.shape;
    Buffers b(be);
    const Act* x = b.acts(s.input_size(), 0.5f);
    const float* wt = b.floats(s.weight_size(), 0.01f);
    const Act* dy = b.acts(s.output_size(), 0.01f);
    Act* y = b.acts(s.output_size(), 0.0f);
    Act* dx = b.acts(s.input_size(), 0.0f);
    float* dw = b.floats(s.weight_size(), 0.0f);
    const double flops = 2.0 * s.output_size() * s.cin * s.k * s.k;
    const double in = asize * s.input_size(), out = asize * s.output_size(), wb = fsize * s.weight_size();
    const std::string shape = k.name + " " + conv_label(s);
    rows.push_back({"conv", "conv forward", shape, k.per_step,
                    time_per_call(be, c.min_seconds, [&] { be.conv2d_forward(s, x, wt, y); }), flops,
                    in + wb + out});
    rows.push_back({"conv", "conv backward data", shape, k.per_step,
                    time_per_call(be, c.min_seconds, [&] { be.conv2d_backward_data(s, dy, wt, dx, false); }),
                    flops, out + wb + in});
    rows.push_back({"conv", "conv backward filter", shape, k.per_step,
                    time_per_call(be, c.min_seconds, [&] { be.conv2d_backward_filter(s, x, dy, dw); }),
                    flops, in + out + wb});
  }

  // ---- batch norm and the elementwise passes around it -------------------------------------------
  const float momentum = 0.1f, eps = 1e-5f;
  for (const NormCase& k : norms) {
    const NormShape& s = k.shape;
    Buffers b(be);
    const size_t size = s.size();
    const Act* x = b.acts(size, 0.5f);
    const Act* residual = b.acts(size, 0.25f);
    const Act* dy = b.acts(size, 0.01f);
    Act* y = b.acts(size, 0.0f);
    Act* dx = b.acts(size, 0.0f);
    const float *gamma = b.floats(s.c, 1.0f), *beta = b.floats(s.c, 0.0f);
    float *rm = b.floats(s.c, 0.0f), *rv = b.floats(s.c, 1.0f);
    float *mean = b.floats(s.c, 0.0f), *invstd = b.floats(s.c, 1.0f);
    float *dgamma = b.floats(s.c, 0.0f), *dbeta = b.floats(s.c, 0.0f);
    const double pass = asize * size;
    const std::string shape = norm_label(s);
    NormEpilogue relu;
    relu.relu = true;
    NormEpilogue join = relu;
    join.residual = residual;
    auto forward = [&](const NormEpilogue& e) {
      return time_per_call(be, c.min_seconds, [&] {
        be.bn_forward_train(s, x, gamma, beta, rm, rv, momentum, eps, e, y, mean, invstd);
      });
    };
    // Statistics read x once; the apply pass reads x (and the residual) and writes y.
    rows.push_back({"batchnorm", "bn train forward + relu", shape, k.relu, forward(relu), 0, 3 * pass});
    rows.push_back({"batchnorm", "bn train forward + add + relu", shape, k.join, forward(join), 0, 4 * pass});
    if (k.plain)
      rows.push_back({"batchnorm", "bn train forward", shape, k.plain, forward(NormEpilogue{}), 0, 3 * pass});
    // Backward: a reduction over (x, dy[, relu gate]), then the apply pass over the same plus dx.
    const double gated = time_per_call(be, c.min_seconds, [&] {
      be.bn_backward_train(s, x, dy, y, gamma, mean, invstd, dx, dgamma, dbeta);
    });
    rows.push_back({"batchnorm", "bn train backward (relu folded in)", shape, k.relu, gated, 0, 7 * pass});
    const double plain = time_per_call(be, c.min_seconds, [&] {
      be.bn_backward_train(s, x, dy, nullptr, gamma, mean, invstd, dx, dgamma, dbeta);
    });
    rows.push_back({"batchnorm", "bn train backward", shape, k.join + k.plain, plain, 0, 5 * pass});
    const double relu_back = time_per_call(be, c.min_seconds, [&] { be.relu_backward(y, dy, dx, size); });
    rows.push_back({"elementwise", "relu backward (block outputs)", shape, k.join, relu_back, 0, 3 * pass});
  }

  // ---- data and optimizer -------------------------------------------------------------------------
  {
    Buffers b(be);
    const int count = n, pool = std::max(n, 1024);
    const size_t image = size_t(net.in_channels) * net.image * net.image;
    auto* images = static_cast<uint8_t*>(b.bytes(image * pool));
    auto* labels = static_cast<int32_t*>(b.bytes(sizeof(int32_t) * pool));
    auto* indices = static_cast<int32_t*>(b.bytes(sizeof(int32_t) * count));
    auto* out_labels = static_cast<int32_t*>(b.bytes(sizeof(int32_t) * count));
    std::vector<int32_t> host_indices(count);
    for (int i = 0; i < count; ++i) host_indices[i] = int32_t((size_t(i) * 7919) % pool);
    std::vector<uint8_t> host_images(image * pool, 128);
    std::vector<int32_t> host_labels(pool, 0);
    be.upload_bytes(images, host_images.data(), host_images.size());
    be.upload_bytes(labels, host_labels.data(), sizeof(int32_t) * pool);
    be.upload_bytes(indices, host_indices.data(), sizeof(int32_t) * count);
    const float* mean = b.floats(net.in_channels, 0.5f);
    const float* stdev = b.floats(net.in_channels, 0.25f);
    Act* x = b.acts(image * count, 0.0f);
    const DeviceDataset d{images, labels, pool, net.in_channels, net.image, net.image, mean, stdev};
    BatchSpec spec;
    spec.indices = indices;
    spec.count = count;
    spec.augment = true;
    spec.seed = 1;
    rows.push_back({"data", "gather batch (crop + flip + normalize)",
                    std::to_string(count) + "x" + std::to_string(net.in_channels) + "x" +
                        std::to_string(net.image) + "x" + std::to_string(net.image),
                    1,
                    time_per_call(be, c.min_seconds, [&] { be.gather_batch(d, spec, x, out_labels); }), 0,
                    double(image) * count * (1 + asize)});
  }
  {
    Buffers b(be);
    float* wt = b.floats(parameters, 0.01f);
    const float* g = b.floats(parameters, 0.001f);
    float* buf = b.floats(parameters, 0.0f);
    const float* mask = b.floats(parameters, 1.0f);
    SgdConfig sgd;
    sgd.lr = 1e-4f;
    sgd.mask_mode = MaskMode::kGrad;
    rows.push_back({"optimizer", "masked SGD, all parameters in one launch",
                    std::to_string(parameters) + " parameters", 1,
                    time_per_call(be, c.min_seconds, [&] { be.sgd_step(sgd, wt, g, buf, mask, parameters, false); }),
                    0, 6 * fsize * parameters});
  }
  return rows;
}

}  // namespace insalun
