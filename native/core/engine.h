// The loops over batches that every command needs (train an epoch, predict, gradient sums,
// integrated gradients, FGSM labels, and a generic forward/backward/step for custom losses),
// written once over the Backend so the CPU and CUDA builds run the same code.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "backend.h"
#include "device_allocations.h"
#include "resnet.h"

namespace insalun {

// A dataset uploaded once to the backend: uint8 images and int32 labels.
class ResidentDataset {
 public:
  ResidentDataset(std::shared_ptr<Backend> backend, const uint8_t* images, const int32_t* labels, int n, int c, int h,
                  int w, const std::vector<float>& mean, const std::vector<float>& std);
  ~ResidentDataset();
  const DeviceDataset& view() const { return view_; }
  const Backend* backend() const { return backend_.get(); }
  const std::vector<float>& host_mean() const { return host_mean_; }
  const std::vector<float>& host_std() const { return host_std_; }
  // The largest label (the labels are checked against a model's classes before a loss reads them).
  int32_t max_label() const { return max_label_; }
  // Device bytes held: the images, labels and normalization constants, and the backend's scratch.
  size_t device_bytes() const {
    return size_t(view_.n) * view_.c * view_.h * view_.w + sizeof(int32_t) * view_.n + 2 * sizeof(float) * view_.c +
           backend_->scratch_bytes();
  }

 private:
  std::shared_ptr<Backend> backend_;
  DeviceDataset view_;
  std::vector<float> host_mean_, host_std_;
  int32_t max_label_ = 0;
  void *images_ = nullptr, *labels_ = nullptr, *mean_ = nullptr, *std_ = nullptr;
};

struct EpochRequest {
  std::vector<int32_t> indices;
  std::vector<int32_t> labels;  // empty, or a label per position (overrides the dataset's)
  int batch_size = 256;
  bool augment = true;
  uint64_t seed = 0;
  uint32_t epoch = 0;
  float loss_scale = 1.0f;
  SgdConfig sgd;
  // Report progress every this many batches (and after the last). Each report reads two floats
  // back from the device, so a GPU run reports rarely to keep the epoch free of host syncs.
  int progress_every = 1;
};

struct EpochTotals {
  double loss = 0;  // sum over images of the per-image CE
  double correct = 0;
  int count = 0;
  int replayed_steps = 0;  // steps run by replaying the captured step
  bool stopped = false;
};

struct GradientRequest {
  std::vector<int32_t> indices, labels;
  int batch_size = 256;
  bool train = false, augment = false, squared = false;
  uint64_t seed = 0;
  uint32_t epoch = 0;
  float loss_scale = 1.0f;
};

struct IgResult {
  std::vector<float> ig;
  double loss_at_model = 0, loss_at_baseline = 0;
};

// Runs a step that repeats over the batches of a pass: eagerly, or, on a backend that captures
// (CUDA graphs), recorded once and replayed, one launch instead of a few hundred. The first step
// of the replayed size runs eagerly (it plans the convolutions and sizes every buffer, which a
// recording may not do), the next one is recorded, the rest are replayed; steps of another size
// (a short last batch) run eagerly. The recording is dropped with the replayer.
// `warm`, when given, says whether this step at this size has run before on the same engine (and
// is set once it has): then the first step is recorded without an eager one before it. Should
// that recording meet something a warm-up would have prepared, the step runs eagerly instead and
// serves as the warm-up, and the next one is recorded: never more eager steps than without it.
class StepReplayer {
 public:
  enum class Ran { kEager, kRecorded, kReplayed };
  // failure_sink, when given, receives why recording failed when the replayer goes away, if it
  // tried to record ('' when recording worked).
  StepReplayer(Backend& backend, bool enabled, int size, std::string* failure_sink = nullptr, bool* warm = nullptr);
  ~StepReplayer();
  StepReplayer(const StepReplayer&) = delete;
  StepReplayer& operator=(const StepReplayer&) = delete;
  // may_record = false postpones recording (e.g. while the step still has a one-off argument).
  // kRecorded: the host-side part of `step` ran (while recording) and the device part ran as a
  // replay; kReplayed: only the device part ran. If recording fails (the backend or a library
  // refuses something inside a capture), undo_host reverts the host-side part of the step that
  // did not run, the step runs eagerly, and replay stays off for this replayer.
  Ran run(int size, bool may_record, const std::function<void()>& step, const std::function<void()>& undo_host = {});

 private:
  Backend& be_;
  bool enabled_;
  int size_;
  bool warmed_ = false, captured_ = false, attempted_ = false;
  bool warmed_before_ = false;  // warmed_ came from an earlier pass: a failed recording is retried once
  std::string failure_;
  std::string* failure_sink_;
  bool* warm_;
};

// (batches done, batches, mean loss, correct, images) over the batches since the previous report
using BatchCallback = std::function<void(int, int, float, float, int)>;

class Engine {
 public:
  Engine(std::shared_ptr<Backend> backend, const ResNetConfig& config);

  Backend& backend() { return *backend_; }
  std::shared_ptr<Backend> shared_backend() { return backend_; }
  ResNet18& net() { return *net_; }
  // Device bytes held: the network's, the optimizer's and the passes' buffers, and the backend's
  // scratch. Grows as passes run larger batches; a pass in flight may be growing it.
  size_t device_bytes() const;

  void set_mask(const float* host_mask, MaskMode mode);  // host_mask null clears it
  // Whether train_epoch may capture and replay its steps where the backend can (default on).
  void set_step_capture(bool on) { step_capture_ = on; }
  bool step_capture() const { return step_capture_; }
  // Why the last pass that tried to record its step could not ('' when it could); such a pass
  // ran eagerly.
  const std::string& capture_error() const { return capture_error_; }
  void reset_optimizer();
  // Momentum buffers and the first-step flag, for checkpoints that resume training exactly.
  std::vector<float> momentum() const;
  bool first_step() const { return first_step_; }
  void set_optimizer_state(const std::vector<float>& momentum, bool first_step);

  EpochTotals train_epoch(const ResidentDataset& data, const EpochRequest& request, const BatchCallback& on_batch,
                          const std::atomic<bool>& stop);
  std::vector<float> predict(const ResidentDataset& data, const std::vector<int32_t>& indices, int batch_size);
  std::vector<float> gradient(const ResidentDataset& data, const GradientRequest& request);
  IgResult integrated_gradients(const ResidentDataset& data, const std::vector<int32_t>& indices, int batch_size,
                                const std::vector<float>& baseline, const std::vector<double>& nodes,
                                const std::vector<double>& weights, const std::function<void(int, int)>& on_point);
  std::vector<int32_t> fgsm_predict(const ResidentDataset& data, const std::vector<int32_t>& indices, float eps,
                                    int batch_size);

  // Generic path for losses computed by the caller.
  std::vector<float> forward_batch(const ResidentDataset& data, const std::vector<int32_t>& indices, bool train,
                                   bool augment, uint64_t seed, uint32_t epoch);
  void backward_batch(const std::vector<float>& dlogits);  // accumulates into the gradient sum
  void zero_gradients();
  void step(const SgdConfig& sgd);  // from the accumulated gradient sum

 private:
  // Checks and uploads the positions of one pass over `data` (dataset indices and optional
  // label overrides) once, so that each batch after it is device-side work only: no host copy,
  // no synchronization inside an epoch. A pass whose loss reads the dataset's own labels
  // (kLoss) refuses a dataset with labels beyond the model's classes.
  enum class PassUse { kLoss, kLogitsOnly };
  void begin_pass(const ResidentDataset& data, const std::vector<int32_t>& indices, const std::vector<int32_t>& labels,
                  PassUse use);
  // Copies positions [begin, begin+count) of the pass into the fixed batch slots and gathers the
  // images into x_. Fixed slots keep every pointer of a training step constant (step capture).
  void load_batch(const ResidentDataset& data, size_t begin, int count, bool augment, uint64_t seed, uint32_t epoch);
  // The two halves of load_batch: the copies into the slots (outside a captured step) and the
  // gather from the slots (inside it).
  void stage_batch(size_t begin, int count);
  void gather_staged(const ResidentDataset& data, int count, bool augment, uint64_t seed, uint32_t epoch);
  // One SGD step on the staged batch: gather, forward, loss, backward, update.
  void train_step(const ResidentDataset& data, const EpochRequest& r, int count);
  void ensure_batch(int n);

  // One batch of a pass: positions [begin, begin + count) of begin_pass's, batch `index` of `of`.
  struct Batch {
    size_t index, of, begin;
    int count;
  };
  // The batches of a pass over `positions` positions; throws for a batch size below 1.
  static size_t batch_count(size_t positions, int batch_size);
  // The loop of every pass: body(batch) for each batch in order, the last one possibly short.
  // Returns false when it ended early because `stop` (when given) was set before a batch.
  template <typename Body>
  static bool for_each_batch(size_t positions, int batch_size, Body&& body, const std::atomic<bool>* stop = nullptr);
  // The steps a pass repeats, one kind per step body (kernels and buffers differ between them).
  enum class StepKind { kTrain, kPredict, kGradientTrainMode, kGradientEvalMode, kIntegratedGradient };
  // A StepReplayer for the steps of a pass, `steps` of them of `batch_size` that may be replayed
  // (fewer than three are not worth a recording): the pass's own kind of recording.
  StepReplayer replayer(StepKind kind, int batch_size, size_t steps);
  // Stages the batch and runs `step` on it through `steps`, which may record or replay it.
  // train_mode: the step's forward is in train mode, which counts batch-norm steps on the host.
  StepReplayer::Ran run_step(StepReplayer& steps, const Batch& batch, bool may_record, bool train_mode,
                             const std::function<void()>& step);
  void apply_sgd(const SgdConfig& sgd, const float* grads);
  // Sum over batches of the CE loss (batch means) with the model in eval mode at current weights.
  double forget_loss(const ResidentDataset& data, const std::vector<int32_t>& indices, int batch_size);
  // Whether a step of this kind and batch size has run on this engine (StepReplayer's `warm`);
  // training steps are told apart by mask mode too, as their SGD kernels differ.
  bool* warm_flag(StepKind kind, int size);

  std::shared_ptr<Backend> backend_;
  std::unique_ptr<ResNet18> net_;
  // Owns every buffer below (the pointers are views into it) and counts their bytes for
  // device_bytes(); freed before the network and the backend go.
  DeviceAllocations memory_;
  float *momentum_ = nullptr, *mask_ = nullptr, *grad_sum_ = nullptr;
  MaskMode mask_mode_ = MaskMode::kNone;
  bool first_step_ = true;
  bool step_capture_ = true;
  std::string capture_error_;
  std::map<std::tuple<int, int, int>, bool> warm_steps_;  // (kind, mask mode, size)

  int batch_capacity_ = 0, last_batch_ = 0;
  Act *x_ = nullptr, *input_grad_ = nullptr;  // the batch and dL/d(batch), as activations
  float *dlogits_ = nullptr, *stats_ = nullptr;
  int32_t *labels_ = nullptr, *indices_ = nullptr, *label_slot_ = nullptr;
  // The current pass (begin_pass).
  int32_t *pass_indices_ = nullptr, *pass_labels_ = nullptr;
  size_t pass_capacity_ = 0;
  bool pass_has_labels_ = false;
};

}  // namespace insalun
