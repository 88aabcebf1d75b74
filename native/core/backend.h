// The one backend interface. Every op the ResNet-18 graph, the optimizer and the integrated-gradient
// accumulation need, with two implementations: cpu/ (always built) and cuda/ (built with a CUDA
// toolkit). Pointers returned by alloc() live on the backend's device; the graph never touches their
// contents directly.
//
// Conventions shared by every implementation (the parity tests rely on them):
// - activations (see Act below) have NCHW shapes; conv weights are [Cout, Cin, k, k] (PyTorch
//   order); linear weights are [out, in]. Parameters, gradients, optimizer state, logits and
//   every flat vector are float32.
// - "backward" ops overwrite their outputs unless they say they accumulate.
// - sizes are element counts, never bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace insalun {

// Activation storage: the input batch, the convolution and batch-norm outputs and their
// gradients. Only the backend reads them, in its activation type and layout: float32 NCHW on the
// CPU and in the CUDA fp32/tf32 modes, bf16 NHWC in the CUDA bf16 mode (math in fp32 either way).
// Shapes in the interface are always given as [n, c, h, w]. The graph holds activations as Act*
// (an incomplete type, so they cannot be mixed up with float vectors), allocates them with
// Backend::alloc_activations() and converts at the edges with activations_to_float/from_float.
struct Act;

// A 2-D convolution without bias, square kernel, same stride and padding in both directions.
struct ConvShape {
  int n = 0, cin = 0, h = 0, w = 0;  // input
  int cout = 0, k = 3, stride = 1, pad = 1;
  int ho() const { return (h + 2 * pad - k) / stride + 1; }
  int wo() const { return (w + 2 * pad - k) / stride + 1; }
  size_t input_size() const { return size_t(n) * cin * h * w; }
  size_t output_size() const { return size_t(n) * cout * ho() * wo(); }
  size_t weight_size() const { return size_t(cout) * cin * k * k; }
};

// Throws std::invalid_argument, naming the shape, unless every size is positive, the padding is
// not negative and the output has at least one position. Where shapes come from outside (the op
// bindings) and where a backend plans one (cuDNN).
void check_conv_shape(const ConvShape& s);

// A convolution's weights w [cout, cin, k, k] and where their gradient goes, dw (null when none
// is taken), for Backend::prepare_conv_weights.
struct ConvWeights {
  const float* w = nullptr;
  float* dw = nullptr;
  int cout = 0, cin = 0, k = 0;
};
// The outputs of a batch-norm backward: a gated dy needs the ReLU output that gates it, and dx
// may alias dy but not the gated dy (both are written at every element). Throws
// std::invalid_argument.
void check_norm_backward(const Act* relu_out, const Act* gated_dy, const Act* dx);

// Per-channel batch-norm shape: x is [n, c, hw].
struct NormShape {
  int n = 0, c = 0, hw = 0;
  size_t size() const { return size_t(n) * c * hw; }
};

// How a batch is drawn from a resident dataset: augmentation is keyed by (seed, epoch, sample index)
// through Philox so both backends produce the same images (see philox.h).
struct BatchSpec {
  const int32_t* indices = nullptr;  // device pointer, `count` dataset indices
  // Optional device pointer, `count` labels that replace the dataset's (random-label unlearning,
  // relabelled sets); null keeps the dataset's labels.
  const int32_t* labels = nullptr;
  int count = 0;
  bool augment = false;  // random crop (zero padding `pad`) + horizontal flip
  int pad = 4;
  uint64_t seed = 0;
  uint32_t epoch = 0;
};

// A dataset resident on the device: uint8 images [n, c, h, w] in [0, 255] and int32 labels.
struct DeviceDataset {
  const uint8_t* images = nullptr;
  const int32_t* labels = nullptr;
  int n = 0, c = 0, h = 0, w = 0;
  const float* mean = nullptr;  // device, c values, applied to x/255
  const float* std = nullptr;   // device, c values
};

// What a batch-norm forward does after the affine transform: y = relu?(bn(x) + residual?).
// Folding the residual add and the ReLU into the normalizing pass saves two to four passes over
// the activation per layer (the "BN-apply + ReLU + add" fusion of a fast trainer).
struct NormEpilogue {
  const Act* residual = nullptr;  // same shape as x; added after the affine transform
  bool relu = false;
};

// The arithmetic of the convolutions; everything else (batch norm, loss, optimizer, the
// parameters and their gradients) is fp32 in every mode. kFp32 is strict IEEE fp32 (no TF32
// tensor cores), the CPU backend's only mode and the reference; kTf32 lets the CUDA backend use
// TF32 tensor cores (PyTorch's allow_tf32); kBf16 is mixed precision with bf16 activations.
enum class Precision : int { kFp32 = 0, kTf32 = 1, kBf16 = 2 };
const char* precision_name(Precision p);

enum class MaskMode : int { kNone = 0, kGrad = 1, kHard = 2 };

// PyTorch SGD semantics (see docs/method.md section 3) over one flat parameter vector.
struct SgdConfig {
  float lr = 0.1f, momentum = 0.9f, weight_decay = 5e-4f;
  // Coefficient of an L1 penalty on the weights (l1-sparse unlearning): its subgradient
  // l1 * sign(w) joins the loss gradient, before the gradient mask.
  float l1 = 0.0f;
  bool nesterov = false;
  MaskMode mask_mode = MaskMode::kNone;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Throws std::invalid_argument, saying why, for a precision this backend does not offer.
  virtual void set_precision(Precision p) {
    if (p != Precision::kFp32)
      throw std::invalid_argument(name() + " backend computes in fp32 only (asked for " + precision_name(p) + ")");
  }
  virtual Precision precision() const { return Precision::kFp32; }
  // Bytes per activation element in the current precision. Set the precision before allocating
  // activations: buffers do not change type afterwards.
  virtual size_t activation_bytes() const { return sizeof(float); }

  // ---- memory -------------------------------------------------------------------------------
  virtual void* alloc_bytes(size_t bytes) = 0;
  virtual void free_bytes(void* p) = 0;
  // free_bytes for destructors: a failure is swallowed. After a device fault every free may fail
  // (the fault is reported by the call that met it), and a destructor that throws, or one run while
  // an exception unwinds, ends the whole Node process.
  void release_bytes(void* p) noexcept {
    try {
      free_bytes(p);
    } catch (...) {
    }
  }
  virtual void upload_bytes(void* dst, const void* src, size_t bytes) = 0;    // host -> device
  virtual void download_bytes(void* dst, const void* src, size_t bytes) = 0;  // device -> host
  virtual void copy_bytes(void* dst, const void* src, size_t bytes) = 0;      // device -> device
  virtual void synchronize() {}
  // Device memory the backend keeps for itself beyond what its callers allocate (the CUDA
  // backend's convolution workspace and scratch buffers, which grow with the shapes it has run).
  virtual size_t scratch_bytes() const { return 0; }

  float* alloc(size_t count) { return static_cast<float*>(alloc_bytes(count * sizeof(float))); }
  Act* alloc_activations(size_t count) { return static_cast<Act*>(alloc_bytes(count * activation_bytes())); }
  // Device-side conversions between activations of shape [n, c, hw] and float32 NCHW vectors.
  virtual void activations_to_float(const NormShape& s, const Act* a, float* out) = 0;
  virtual void activations_from_float(const NormShape& s, const float* in, Act* a) = 0;

  // ---- elementwise over flat vectors -----------------------------------------------------------
  virtual void fill(float* x, float value, size_t n) = 0;
  virtual void axpy(float alpha, const float* x, float* y, size_t n) = 0;  // y += alpha*x
  // y = x0 + alpha * (x1 - x0): a point on the straight path between two weight vectors.
  virtual void lerp(const float* x0, const float* x1, float alpha, float* y, size_t n) = 0;
  // y = (x1 - x0) * y: turns an accumulated path gradient into integrated gradients.
  virtual void mul_diff(const float* x1, const float* x0, float* y, size_t n) = 0;
  // ReLU over activations (the network folds most of them into batch norm; these remain for the
  // gradient that two branches share, and for completeness). dx = dy where y > 0, else 0.
  virtual void relu_forward(const Act* x, Act* y, size_t n) = 0;
  virtual void relu_backward(const Act* y, const Act* dy, Act* dx, size_t n) = 0;
  // Sum of x (reduction on the device; result written to a device scalar).
  virtual void sum(const float* x, size_t n, float* out) = 0;

  // ---- convolution (no bias) ----------------------------------------------------------------
  virtual void conv2d_forward(const ConvShape& s, const Act* x, const float* w, Act* y) = 0;
  // accumulate: dx += the data gradient (a residual branch joining), instead of dx = it.
  virtual void conv2d_backward_data(const ConvShape& s, const Act* dy, const float* w, Act* dx, bool accumulate) = 0;
  virtual void conv2d_backward_filter(const ConvShape& s, const Act* x, const Act* dy, float* dw) = 0;
  // Optional: the convolutions a step will run, by their weights. A backend whose convolutions
  // read converted copies of the weights (the CUDA backend's bf16 copies) converts them all here,
  // in one pass, and conv2d_forward and conv2d_backward_data then read those copies for these
  // weights until the next call; the caller does not change the weights in between. ResNet18
  // calls it at every forward, so that its backward reads the weights the forward ran with.
  virtual void prepare_conv_weights(const ConvWeights* convs, size_t count) {
    (void)convs;
    (void)count;
  }
  // Optional, after the backward of such a step: a backend whose weight gradients come out
  // converted (bf16 on the GPU) may leave the dw of the prepared convolutions that
  // conv2d_backward_filter has written since prepare_conv_weights unfinished until this call,
  // which completes them all in one pass.
  virtual void finish_conv_weight_grads() {}

  // ---- batch norm (eps, momentum as PyTorch; running_var gets the unbiased variance) --------
  // Train mode: normalize with batch statistics, save mean and 1/sqrt(var_biased + eps) for
  // backward, update running statistics in place, then apply the epilogue.
  virtual void bn_forward_train(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                                float* running_mean, float* running_var, float momentum, float eps,
                                const NormEpilogue& epilogue, Act* y, float* save_mean, float* save_invstd) = 0;
  // Eval mode: normalize with running statistics. Also fills save_mean/save_invstd from the
  // running statistics so that bn_backward_eval can use them.
  virtual void bn_forward_eval(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps,
                               const NormEpilogue& epilogue, Act* y, float* save_mean, float* save_invstd) = 0;
  // Inference (no backward follows): y = the eval-mode batch norm, with its epilogue, of
  // conv2d_forward(s, x, w). This default runs the two ops, through conv_out; a backend may
  // instead fold the norm into the convolution's output and leave conv_out, save_mean and
  // save_invstd unwritten (the CPU's direct kernels: evaluation at width 16 spent about a tenth
  // of its time in the separate pass over the output).
  virtual void conv2d_forward_bn_eval(const ConvShape& s, const Act* x, const float* w, const float* gamma,
                                      const float* beta, const float* running_mean, const float* running_var, float eps,
                                      const NormEpilogue& epilogue, Act* conv_out, Act* y, float* save_mean,
                                      float* save_invstd) {
    conv2d_forward(s, x, w, conv_out);
    bn_forward_eval(NormShape{s.n, s.cout, s.ho() * s.wo()}, conv_out, gamma, beta, running_mean, running_var, eps,
                    epilogue, y, save_mean, save_invstd);
  }
  // relu_out: when not null, the output of a ReLU that followed this norm (the y of a forward
  // with epilogue.relu); dy counts as zero where relu_out <= 0, which is that ReLU's backward
  // folded into this one. gated_dy: when not null (relu_out given), also receives that gated dy,
  // which a residual add before the ReLU passes on to its other branch; it may be dy itself
  // (gated in place), never dx (check_norm_backward). dgamma and dbeta are the gradients of the
  // affine transform.
  virtual void bn_backward_train(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                                 const float* gamma, const float* save_mean, const float* save_invstd, Act* dx,
                                 float* dgamma, float* dbeta) = 0;
  // Statistics are constants in eval mode: dx = dy * gamma * invstd.
  virtual void bn_backward_eval(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                                const float* gamma, const float* save_mean, const float* save_invstd, Act* dx,
                                float* dgamma, float* dbeta) = 0;

  // ---- pooling, linear, loss ------------------------------------------------------------------
  virtual void avgpool_forward(const NormShape& s, const Act* x, float* y) = 0;     // y [n, c]
  virtual void avgpool_backward(const NormShape& s, const float* dy, Act* dx) = 0;  // dx [n,c,hw]
  // y[n, out] = x[n, in] * w^T + b
  virtual void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y) = 0;
  virtual void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db) = 0;
  // Mean softmax cross-entropy over the batch, times `scale` (-1 gives gradient ascent).
  // dlogits = scale * (softmax - onehot) / n. Accumulates the summed (unscaled) loss and the
  // number of correct argmax predictions into stats[0] and stats[1] (device floats), so that an
  // epoch needs no host synchronization.
  virtual void softmax_xent(int n, int classes, const float* logits, const int32_t* labels, float scale, float* dlogits,
                            float* stats) = 0;

  // ---- data -------------------------------------------------------------------------------
  // Gathers a batch: images to float NCHW normalized ((x/255 - mean)/std), with crop and flip
  // when spec.augment, and the labels.
  virtual void gather_batch(const DeviceDataset& d, const BatchSpec& spec, Act* x, int32_t* labels) = 0;

  // ---- optimizer ------------------------------------------------------------------------------
  // One step over every parameter at once. mask (0/1 floats, same length) may be null when
  // mask_mode is kNone. With g = grad + l1*sign(w): kGrad multiplies g by the mask before weight
  // decay; kHard leaves
  // masked-out coordinates (mask 0) and their momentum untouched. `first_step` selects PyTorch's
  // buf = g initialisation.
  virtual void sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf, const float* mask, size_t n,
                        bool first_step) = 0;

  // ---- the kernel bench's arithmetic reference -------------------------------------------------
  // Runs `rounds` rounds of a multiply-add loop held in registers on every core, the device's
  // attainable arithmetic rate, and returns the floating-point operations done; 0 where the
  // backend offers none (the bench then takes its large 1x1 convolution as the reference).
  virtual double multiply_add_loop(size_t /*rounds*/) { return 0.0; }

  // ---- step capture (CUDA graphs) -------------------------------------------------------------
  // A backend that can record a sequence of ops once and replay it as one launch says so with
  // can_capture(). Between begin_capture() and end_capture() ops are recorded, not run: every
  // pointer and scalar argument is fixed when recorded, so what changes between replays must
  // change in device memory. Nothing may allocate, upload, download or synchronize while
  // capturing (the backend throws if it would have to). One capture at a time: a new one
  // replaces the old; abort_capture() ends a capture that failed half-way and drops it.
  virtual bool can_capture() const { return false; }
  virtual void begin_capture() { throw std::logic_error(name() + " backend cannot capture steps"); }
  virtual void end_capture() { throw std::logic_error(name() + " backend cannot capture steps"); }
  virtual void abort_capture() noexcept {}
  virtual void replay() { throw std::logic_error(name() + " backend has no captured steps"); }
  virtual void drop_capture() noexcept {}
};

std::unique_ptr<Backend> make_cpu_backend();
// Wraps a backend with a host-side imitation of step capture (recorded calls replayed in order,
// arguments fixed at capture time), so the engine's capture logic is tested without a GPU.
// refuse: every capture fails, to test the engine's fallback to eager steps; or only the second,
// to test a pass that records its first step on an earlier pass's warm-up and is refused.
enum class CaptureRefusal { kNone, kEvery, kSecond };
std::unique_ptr<Backend> make_capture_emulator(std::shared_ptr<Backend> inner,
                                               CaptureRefusal refuse = CaptureRefusal::kNone);
// Returns null (and sets `why`) when the CUDA backend was not built or no device answers.
std::unique_ptr<Backend> make_cuda_backend(std::string* why);

}  // namespace insalun
