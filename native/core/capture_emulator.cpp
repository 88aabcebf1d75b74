// A host-side imitation of step capture over any backend: while capturing, each op call is stored
// as a closure holding its arguments by value (pointers, shapes, scalars), exactly what a CUDA
// graph fixes at capture time; replay() runs the closures in order. Memory ops are refused while
// capturing, as the CUDA backend refuses them. The engine's capture path (fixed batch slots,
// device-side state, counters kept on the host) is thereby tested on the CPU, bit for bit
// against the uncaptured path.
#include <functional>
#include <vector>

#include "backend.h"

namespace insalun {
namespace {

class CaptureEmulator final : public Backend {
 public:
  CaptureEmulator(std::shared_ptr<Backend> inner, CaptureRefusal refuse) : inner_(std::move(inner)), refuse_(refuse) {}

  std::string name() const override { return inner_->name(); }
  void set_precision(Precision p) override { inner_->set_precision(p); }
  Precision precision() const override { return inner_->precision(); }
  size_t activation_bytes() const override { return inner_->activation_bytes(); }

  void* alloc_bytes(size_t bytes) override { return no_capture("alloc"), inner_->alloc_bytes(bytes); }
  void free_bytes(void* p) override { no_capture("free"), inner_->free_bytes(p); }
  void upload_bytes(void* dst, const void* src, size_t bytes) override {
    no_capture("upload"), inner_->upload_bytes(dst, src, bytes);
  }
  void download_bytes(void* dst, const void* src, size_t bytes) override {
    no_capture("download"), inner_->download_bytes(dst, src, bytes);
  }
  void synchronize() override { no_capture("synchronize"), inner_->synchronize(); }
  size_t scratch_bytes() const override { return inner_->scratch_bytes(); }
  // Device-to-device copies are queue work, so they may be captured.
  void copy_bytes(void* dst, const void* src, size_t bytes) override {
    run([=] { inner_->copy_bytes(dst, src, bytes); });
  }

  void fill(float* x, float value, size_t n) override {
    run([=] { inner_->fill(x, value, n); });
  }
  void axpy(float alpha, const float* x, float* y, size_t n) override {
    run([=] { inner_->axpy(alpha, x, y, n); });
  }
  void lerp(const float* x0, const float* x1, float alpha, float* y, size_t n) override {
    run([=] { inner_->lerp(x0, x1, alpha, y, n); });
  }
  void mul_diff(const float* x1, const float* x0, float* y, size_t n) override {
    run([=] { inner_->mul_diff(x1, x0, y, n); });
  }
  void activations_to_float(const NormShape& s, const Act* a, float* out) override {
    run([=] { inner_->activations_to_float(s, a, out); });
  }
  void activations_from_float(const NormShape& s, const float* in, Act* a) override {
    run([=] { inner_->activations_from_float(s, in, a); });
  }
  void relu_forward(const Act* x, Act* y, size_t n) override {
    run([=] { inner_->relu_forward(x, y, n); });
  }
  void relu_backward(const Act* y, const Act* dy, Act* dx, size_t n) override {
    run([=] { inner_->relu_backward(y, dy, dx, n); });
  }
  void sum(const float* x, size_t n, float* out) override {
    run([=] { inner_->sum(x, n, out); });
  }

  void conv2d_forward(const ConvShape& s, const Act* x, const float* w, Act* y) override {
    run([=] { inner_->conv2d_forward(s, x, w, y); });
  }
  void conv2d_backward_data(const ConvShape& s, const Act* dy, const float* w, Act* dx, bool accumulate) override {
    run([=] { inner_->conv2d_backward_data(s, dy, w, dx, accumulate); });
  }
  void conv2d_backward_filter(const ConvShape& s, const Act* x, const Act* dy, float* dw) override {
    run([=] { inner_->conv2d_backward_filter(s, x, dy, dw); });
  }
  void prepare_conv_weights(const ConvWeights* convs, size_t count) override {
    run([=, list = std::vector<ConvWeights>(convs, convs + count)] {
      inner_->prepare_conv_weights(list.data(), list.size());
    });
  }
  void finish_conv_weight_grads() override {
    run([=] { inner_->finish_conv_weight_grads(); });
  }

  void bn_forward_train(const NormShape& s, const Act* x, const float* gamma, const float* beta, float* running_mean,
                        float* running_var, float momentum, float eps, const NormEpilogue& e, Act* y, float* save_mean,
                        float* save_invstd) override {
    run([=] {
      inner_->bn_forward_train(s, x, gamma, beta, running_mean, running_var, momentum, eps, e, y, save_mean,
                               save_invstd);
    });
  }
  void bn_forward_eval(const NormShape& s, const Act* x, const float* gamma, const float* beta,
                       const float* running_mean, const float* running_var, float eps, const NormEpilogue& e, Act* y,
                       float* save_mean, float* save_invstd) override {
    run([=] {
      inner_->bn_forward_eval(s, x, gamma, beta, running_mean, running_var, eps, e, y, save_mean, save_invstd);
    });
  }
  void bn_backward_train(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                         const float* gamma, const float* save_mean, const float* save_invstd, Act* dx, float* dgamma,
                         float* dbeta) override {
    run([=] {
      inner_->bn_backward_train(s, x, dy, relu_out, gated_dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    });
  }
  void bn_backward_eval(const NormShape& s, const Act* x, const Act* dy, const Act* relu_out, Act* gated_dy,
                        const float* gamma, const float* save_mean, const float* save_invstd, Act* dx, float* dgamma,
                        float* dbeta) override {
    run([=] {
      inner_->bn_backward_eval(s, x, dy, relu_out, gated_dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    });
  }

  void avgpool_forward(const NormShape& s, const Act* x, float* y) override {
    run([=] { inner_->avgpool_forward(s, x, y); });
  }
  void avgpool_backward(const NormShape& s, const float* dy, Act* dx) override {
    run([=] { inner_->avgpool_backward(s, dy, dx); });
  }
  void linear_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y) override {
    run([=] { inner_->linear_forward(n, in, out, x, w, b, y); });
  }
  void linear_backward(int n, int in, int out, const float* x, const float* w, const float* dy, float* dx, float* dw,
                       float* db) override {
    run([=] { inner_->linear_backward(n, in, out, x, w, dy, dx, dw, db); });
  }
  void softmax_xent(int n, int classes, const float* logits, const int32_t* labels, float scale, float* dlogits,
                    float* stats) override {
    run([=] { inner_->softmax_xent(n, classes, logits, labels, scale, dlogits, stats); });
  }
  void gather_batch(const DeviceDataset& d, const BatchSpec& spec, Act* x, int32_t* labels) override {
    run([=] { inner_->gather_batch(d, spec, x, labels); });
  }
  void sgd_step(const SgdConfig& c, float* w, const float* g, float* momentum_buf, const float* mask, size_t n,
                bool first_step) override {
    run([=] { inner_->sgd_step(c, w, g, momentum_buf, mask, n, first_step); });
  }

  bool can_capture() const override { return true; }
  void begin_capture() override {
    if (capturing_) throw std::logic_error("begin_capture: already capturing");
    recorded_.clear();
    capturing_ = true;
    ++captures_;
  }
  void end_capture() override {
    if (!capturing_) throw std::logic_error("end_capture without begin_capture");
    capturing_ = false;
  }
  void abort_capture() noexcept override {
    capturing_ = false;
    recorded_.clear();
  }
  void replay() override {
    if (capturing_ || recorded_.empty()) throw std::logic_error("replay: nothing captured");
    for (const auto& op : recorded_) op();
  }
  void drop_capture() noexcept override { recorded_.clear(); }

 private:
  void run(std::function<void()> op) {
    if (!capturing_) return op();
    // A refusal in the middle of the step (the fourth op: after the stem's batch norm has been
    // counted on the host), as a CUDA library call might refuse: the engine must undo exactly
    // what the step's host side did up to there.
    if (recorded_.size() == 3 && refuse_this_capture())
      throw std::runtime_error("capture refused (emulated, as a library might refuse a call)");
    recorded_.push_back(std::move(op));
  }
  void no_capture(const char* what) const {
    if (capturing_) throw std::logic_error(std::string(what) + " is not allowed while capturing steps");
  }

  bool refuse_this_capture() const {
    return refuse_ == CaptureRefusal::kEvery || (refuse_ == CaptureRefusal::kSecond && captures_ == 2);
  }

  std::shared_ptr<Backend> inner_;
  CaptureRefusal refuse_;
  int captures_ = 0;  // begun so far
  bool capturing_ = false;
  std::vector<std::function<void()>> recorded_;
};

}  // namespace

std::unique_ptr<Backend> make_capture_emulator(std::shared_ptr<Backend> inner, CaptureRefusal refuse) {
  return std::make_unique<CaptureEmulator>(std::move(inner), refuse);
}

}  // namespace insalun
