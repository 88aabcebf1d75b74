#include "engine.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace insalun {

// ---- step replay --------------------------------------------------------------------------------

StepReplayer::StepReplayer(Backend& backend, bool enabled, int size, std::string* failure_sink, bool* warm)
    : be_(backend), enabled_(enabled && backend.can_capture()), size_(size), failure_sink_(failure_sink), warm_(warm) {
  warmed_before_ = warmed_ = enabled_ && warm && *warm;
}

StepReplayer::~StepReplayer() {
  if (captured_) be_.drop_capture();
  if (failure_sink_ && attempted_) *failure_sink_ = failure_;
}

StepReplayer::Ran StepReplayer::run(int size, bool may_record, const std::function<void()>& step,
                                    const std::function<void()>& undo_host) {
  if (!enabled_ || size != size_) {
    step();
    return Ran::kEager;
  }
  if (captured_) {
    be_.replay();
    return Ran::kReplayed;
  }
  auto ran_eagerly = [&] {
    warmed_ = true;
    if (warm_) *warm_ = true;
    return Ran::kEager;
  };
  if (!warmed_ || !may_record) {
    step();
    return ran_eagerly();
  }
  attempted_ = true;
  try {
    be_.begin_capture();
    step();
    be_.end_capture();
  } catch (const std::exception& e) {
    // Nothing of the step ran on the device. A genuine error (not a capture one) throws again
    // from the eager run below.
    be_.abort_capture();
    failure_ = e.what();
    if (undo_host) undo_host();
    step();
    // Recorded on an earlier pass's warm-up: this eager step is this pass's own, and the next
    // step is recorded. Otherwise replay stays off for this replayer.
    if (!warmed_before_) enabled_ = false;
    warmed_before_ = false;
    return ran_eagerly();
  }
  captured_ = true;
  failure_.clear();
  if (warm_) *warm_ = true;
  be_.replay();  // the recorded step has not run yet
  return Ran::kRecorded;
}

bool* Engine::warm_flag(StepKind kind, int size) {
  const int mask = kind == StepKind::kTrain ? int(mask_mode_) : 0;
  return &warm_steps_[{int(kind), mask, size}];
}

// ---- resident dataset ---------------------------------------------------------------------------

ResidentDataset::ResidentDataset(std::shared_ptr<Backend> backend, const uint8_t* images, const int32_t* labels, int n,
                                 int c, int h, int w, const std::vector<float>& mean, const std::vector<float>& std)
    : backend_(std::move(backend)), host_mean_(mean), host_std_(std) {
  if (int(mean.size()) != c || int(std.size()) != c)
    throw std::invalid_argument("dataset: mean and std need one value per channel");
  for (int i = 0; i < n; ++i) {
    if (labels[i] < 0)
      throw std::invalid_argument("dataset: labels must not be negative (got " + std::to_string(labels[i]) + ")");
    max_label_ = std::max(max_label_, labels[i]);
  }
  const size_t image_bytes = size_t(n) * c * h * w;
  images_ = backend_->alloc_bytes(image_bytes);
  labels_ = backend_->alloc_bytes(sizeof(int32_t) * n);
  mean_ = backend_->alloc_bytes(sizeof(float) * c);
  std_ = backend_->alloc_bytes(sizeof(float) * c);
  backend_->upload_bytes(images_, images, image_bytes);
  backend_->upload_bytes(labels_, labels, sizeof(int32_t) * n);
  backend_->upload_bytes(mean_, mean.data(), sizeof(float) * c);
  backend_->upload_bytes(std_, std.data(), sizeof(float) * c);
  view_ = DeviceDataset{static_cast<const uint8_t*>(images_), static_cast<const int32_t*>(labels_), n, c, h, w,
                        static_cast<const float*>(mean_),     static_cast<const float*>(std_)};
}

ResidentDataset::~ResidentDataset() {
  for (void* p : {images_, labels_, mean_, std_}) backend_->release_bytes(p);
}

// ---- engine -------------------------------------------------------------------------------------

Engine::Engine(std::shared_ptr<Backend> backend, const ResNetConfig& config)
    : backend_(std::move(backend)), net_(std::make_unique<ResNet18>(*backend_, config)), memory_(*backend_) {
  const size_t n = net_->parameter_count();
  momentum_ = memory_.floats(n);
  grad_sum_ = memory_.floats(n);
  backend_->fill(momentum_, 0.0f, n);
  backend_->fill(grad_sum_, 0.0f, n);
  stats_ = memory_.floats(2);
}

void Engine::set_mask(const float* host_mask, MaskMode mode) {
  const size_t n = net_->parameter_count();
  if (!host_mask || mode == MaskMode::kNone) {
    mask_mode_ = MaskMode::kNone;
    return;
  }
  if (!mask_) mask_ = memory_.floats(n);
  backend_->upload_bytes(mask_, host_mask, n * sizeof(float));
  mask_mode_ = mode;
}

void Engine::reset_optimizer() {
  backend_->fill(momentum_, 0.0f, net_->parameter_count());
  first_step_ = true;
}

std::vector<float> Engine::momentum() const {
  std::vector<float> out(net_->parameter_count());
  backend_->download_bytes(out.data(), momentum_, out.size() * sizeof(float));
  return out;
}

void Engine::set_optimizer_state(const std::vector<float>& momentum, bool first_step) {
  if (momentum.size() != net_->parameter_count())
    throw std::invalid_argument("momentum has the wrong number of values");
  backend_->upload_bytes(momentum_, momentum.data(), momentum.size() * sizeof(float));
  first_step_ = first_step;
}

void Engine::ensure_batch(int n) {
  if (n <= batch_capacity_) return;
  // The smaller buffers go before the larger ones come, so that the two are never held at once.
  batch_capacity_ = 0;
  memory_.free(x_, dlogits_, input_grad_, labels_, indices_, label_slot_);
  const ResNetConfig& c = net_->config();
  const size_t image = size_t(c.in_channels) * c.image * c.image;
  x_ = memory_.activations(n * image);
  input_grad_ = memory_.activations(n * image);
  dlogits_ = memory_.floats(size_t(n) * c.classes);
  labels_ = static_cast<int32_t*>(memory_.bytes(sizeof(int32_t) * n));
  indices_ = static_cast<int32_t*>(memory_.bytes(sizeof(int32_t) * n));
  label_slot_ = static_cast<int32_t*>(memory_.bytes(sizeof(int32_t) * n));
  batch_capacity_ = n;
}

size_t Engine::device_bytes() const {
  // The engine's own buffers (momentum, gradient sum, mask, loss statistics, the batch's and the
  // pass's) are all in memory_.
  return net_->device_bytes() + memory_.held_bytes() + backend_->scratch_bytes();
}

void Engine::begin_pass(const ResidentDataset& data, const std::vector<int32_t>& indices,
                        const std::vector<int32_t>& labels, PassUse use) {
  const DeviceDataset& d = data.view();
  const ResNetConfig& c = net_->config();
  if (d.c != c.in_channels || d.h != c.image || d.w != c.image)
    throw std::invalid_argument("dataset images are " + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" +
                                std::to_string(d.w) + " but the model expects " + std::to_string(c.in_channels) + "x" +
                                std::to_string(c.image) + "x" + std::to_string(c.image));
  if (!labels.empty() && labels.size() != indices.size())
    throw std::invalid_argument("labels must have one entry per index");
  if (use == PassUse::kLoss && labels.empty() && data.max_label() >= c.classes)
    throw std::out_of_range("the dataset has label " + std::to_string(data.max_label()) + " but the model has " +
                            std::to_string(c.classes) + " classes");
  for (const int32_t index : indices)
    if (index < 0 || index >= d.n)
      throw std::out_of_range("sample index " + std::to_string(index) + " is outside the dataset (" +
                              std::to_string(d.n) + " images)");
  for (const int32_t label : labels)
    if (label < 0 || label >= c.classes)
      throw std::out_of_range("label " + std::to_string(label) + " is outside [0, " + std::to_string(c.classes) + ")");
  if (indices.size() > pass_capacity_) {
    pass_capacity_ = 0;
    memory_.free(pass_indices_, pass_labels_);
    pass_indices_ = static_cast<int32_t*>(memory_.bytes(sizeof(int32_t) * indices.size()));
    pass_labels_ = static_cast<int32_t*>(memory_.bytes(sizeof(int32_t) * indices.size()));
    pass_capacity_ = indices.size();
  }
  backend_->upload_bytes(pass_indices_, indices.data(), sizeof(int32_t) * indices.size());
  if (!labels.empty()) backend_->upload_bytes(pass_labels_, labels.data(), sizeof(int32_t) * labels.size());
  pass_has_labels_ = !labels.empty();
}

void Engine::load_batch(const ResidentDataset& data, size_t begin, int count, bool augment, uint64_t seed,
                        uint32_t epoch) {
  stage_batch(begin, count);
  gather_staged(data, count, augment, seed, epoch);
}

void Engine::stage_batch(size_t begin, int count) {
  ensure_batch(count);
  // Device-to-device copies into the fixed slots: ordered on the backend's queue, no host wait.
  backend_->copy_bytes(indices_, pass_indices_ + begin, sizeof(int32_t) * count);
  if (pass_has_labels_) backend_->copy_bytes(label_slot_, pass_labels_ + begin, sizeof(int32_t) * count);
}

void Engine::gather_staged(const ResidentDataset& data, int count, bool augment, uint64_t seed, uint32_t epoch) {
  BatchSpec spec;
  spec.indices = indices_;
  spec.labels = pass_has_labels_ ? label_slot_ : nullptr;
  spec.count = count;
  spec.augment = augment;
  spec.seed = seed;
  spec.epoch = epoch;
  backend_->gather_batch(data.view(), spec, x_, labels_);
  last_batch_ = count;
}

void Engine::apply_sgd(const SgdConfig& sgd, const float* grads) {
  SgdConfig c = sgd;
  c.mask_mode = mask_mode_;
  backend_->sgd_step(c, net_->parameters(), grads, momentum_, mask_, net_->parameter_count(), first_step_);
  first_step_ = false;
}

void Engine::train_step(const ResidentDataset& data, const EpochRequest& r, int count) {
  gather_staged(data, count, r.augment, r.seed, r.epoch);
  const float* logits = net_->forward(x_, count, true);
  backend_->softmax_xent(count, net_->config().classes, logits, labels_, r.loss_scale, dlogits_, stats_);
  net_->backward(dlogits_, nullptr);
  apply_sgd(r.sgd, net_->gradients());
}

// ---- passes -------------------------------------------------------------------------------------

size_t Engine::batch_count(size_t positions, int batch_size) {
  if (batch_size < 1) throw std::invalid_argument("batch size must be positive");
  return (positions + batch_size - 1) / batch_size;
}

template <typename Body>
bool Engine::for_each_batch(size_t positions, int batch_size, Body&& body, const std::atomic<bool>* stop) {
  const size_t batches = batch_count(positions, batch_size);
  for (size_t b = 0; b < batches; ++b) {
    if (stop && stop->load()) return false;
    const size_t begin = b * batch_size;
    body(Batch{b, batches, begin, int(std::min<size_t>(batch_size, positions - begin))});
  }
  return true;
}

StepReplayer Engine::replayer(StepKind kind, int batch_size, size_t steps) {
  return StepReplayer(*backend_, step_capture_ && steps >= 3, batch_size, &capture_error_, warm_flag(kind, batch_size));
}

StepReplayer::Ran Engine::run_step(StepReplayer& steps, const Batch& batch, bool may_record, bool train_mode,
                                   const std::function<void()>& step) {
  stage_batch(batch.begin, batch.count);
  if (!train_mode) return steps.run(batch.count, may_record, step);
  // A refused recording may stop anywhere in the step: undo restores the counters it started
  // with. A replay skips the host-side part of forward(), so its counting is done here.
  const std::vector<int64_t> counters = net_->counters();
  const StepReplayer::Ran ran = steps.run(batch.count, may_record, step, [&] { net_->counters() = counters; });
  if (ran == StepReplayer::Ran::kReplayed) net_->count_train_steps(1);
  return ran;
}

// With a backend that captures steps (CUDA graphs) the steps of an epoch are replayed (see
// StepReplayer). What a step reads that changes from batch to batch (the batch's indices and
// labels) lives in the fixed device slots that stage_batch fills before each step; everything
// else is constant for the epoch, and the recording is dropped when the epoch ends. The SGD
// kernel's first-step flag is fixed in a recording, so the optimizer's first step is never one.
EpochTotals Engine::train_epoch(const ResidentDataset& data, const EpochRequest& r, const BatchCallback& on_batch,
                                const std::atomic<bool>& stop) {
  const size_t batches = batch_count(r.indices.size(), r.batch_size);
  begin_pass(data, r.indices, r.labels, PassUse::kLoss);
  EpochTotals totals;
  StepReplayer steps = replayer(StepKind::kTrain, r.batch_size, batches);
  backend_->fill(stats_, 0.0f, 2);
  float previous[2] = {0, 0};
  int since_report = 0;
  const bool finished = for_each_batch(
      r.indices.size(), r.batch_size,
      [&](const Batch& batch) {
        const StepReplayer::Ran ran =
            run_step(steps, batch, !first_step_, true, [&] { train_step(data, r, batch.count); });
        if (ran != StepReplayer::Ran::kEager) totals.replayed_steps++;
        totals.count += batch.count;
        since_report += batch.count;
        const size_t done = batch.index + 1;
        const bool report_now = r.progress_every > 0 && (done % r.progress_every == 0 || done == batch.of);
        if (on_batch && report_now) {
          float now[2];
          backend_->download_bytes(now, stats_, sizeof(now));
          on_batch(int(done), int(batch.of), (now[0] - previous[0]) / since_report, now[1] - previous[1], since_report);
          previous[0] = now[0];
          previous[1] = now[1];
          since_report = 0;
        }
      },
      &stop);  // a stop request ends the epoch at a batch boundary
  totals.stopped = !finished;
  float final_stats[2];
  backend_->download_bytes(final_stats, stats_, sizeof(final_stats));
  totals.loss = final_stats[0];
  totals.correct = final_stats[1];
  return totals;
}

std::vector<float> Engine::predict(const ResidentDataset& data, const std::vector<int32_t>& indices, int batch_size) {
  const size_t batches = batch_count(indices.size(), batch_size);
  const int classes = net_->config().classes;
  std::vector<float> logits(indices.size() * classes);
  begin_pass(data, indices, {}, PassUse::kLogitsOnly);
  // Every batch's logits go to one device buffer, read back once: no host sync per batch.
  DeviceAllocations memory(*backend_);
  float* all = memory.floats(logits.size());
  StepReplayer steps = replayer(StepKind::kPredict, batch_size, batches);
  const float* out = nullptr;  // the network's logits buffer (the same for every batch)
  for_each_batch(indices.size(), batch_size, [&](const Batch& batch) {
    run_step(steps, batch, true, false, [&] {
      gather_staged(data, batch.count, false, 0, 0);
      out = net_->infer(x_, batch.count);
    });
    backend_->copy_bytes(all + batch.begin * classes, out, sizeof(float) * batch.count * classes);
  });
  if (!logits.empty()) backend_->download_bytes(logits.data(), all, sizeof(float) * logits.size());
  return logits;
}

std::vector<float> Engine::gradient(const ResidentDataset& data, const GradientRequest& r) {
  const size_t n = net_->parameter_count();
  const int classes = net_->config().classes;
  backend_->fill(grad_sum_, 0.0f, n);
  std::vector<float> squares, host_grad;
  if (r.squared) squares.assign(n, 0.0f), host_grad.resize(n);
  begin_pass(data, r.indices, r.labels, PassUse::kLoss);
  const size_t batches = batch_count(r.indices.size(), r.batch_size);
  // The squared pass reads every batch's gradient on the host, so none of its steps is replayed.
  StepReplayer steps = replayer(r.train ? StepKind::kGradientTrainMode : StepKind::kGradientEvalMode, r.batch_size,
                                r.squared ? 0 : batches);
  for_each_batch(r.indices.size(), r.batch_size, [&](const Batch& batch) {
    run_step(steps, batch, true, r.train, [&] {
      gather_staged(data, batch.count, r.augment, r.seed, r.epoch);
      const float* logits = net_->forward(x_, batch.count, r.train);
      backend_->softmax_xent(batch.count, classes, logits, labels_, r.loss_scale, dlogits_, stats_);
      net_->backward(dlogits_, nullptr);
      if (!r.squared) backend_->axpy(1.0f, net_->gradients(), grad_sum_, n);
    });
    if (r.squared) {
      // Importance estimates (SSD) are a one-off pass: squaring on the host keeps the interface small.
      backend_->download_bytes(host_grad.data(), net_->gradients(), n * sizeof(float));
      for (size_t i = 0; i < n; ++i) squares[i] += host_grad[i] * host_grad[i];
    }
  });
  if (r.squared) return squares;
  std::vector<float> out(n);
  backend_->download_bytes(out.data(), grad_sum_, n * sizeof(float));
  backend_->fill(grad_sum_, 0.0f, n);
  return out;
}

double Engine::forget_loss(const ResidentDataset& data, const std::vector<int32_t>& indices, int batch_size) {
  const int classes = net_->config().classes;
  const size_t batches = batch_count(indices.size(), batch_size);
  // Each batch's sums (loss, correct) in a slot of their own, read once after the last batch: no
  // host synchronization per batch.
  DeviceAllocations memory(*backend_);
  float* sums = memory.filled(2 * batches, 0.0f);
  begin_pass(data, indices, {}, PassUse::kLoss);
  for_each_batch(indices.size(), batch_size, [&](const Batch& batch) {
    load_batch(data, batch.begin, batch.count, false, 0, 0);
    const float* logits = net_->infer(x_, batch.count);
    backend_->softmax_xent(batch.count, classes, logits, labels_, 1.0f, nullptr, sums + 2 * batch.index);
  });
  std::vector<float> host(2 * batches);
  backend_->download_bytes(host.data(), sums, host.size() * sizeof(float));
  double total = 0;
  for_each_batch(indices.size(), batch_size, [&](const Batch& batch) {
    total += double(host[2 * batch.index]) / batch.count;  // batch-mean CE
  });
  return total;
}

IgResult Engine::integrated_gradients(const ResidentDataset& data, const std::vector<int32_t>& indices, int batch_size,
                                      const std::vector<float>& baseline, const std::vector<double>& nodes,
                                      const std::vector<double>& weights,
                                      const std::function<void(int, int)>& on_point) {
  const size_t n = net_->parameter_count();
  const int classes = net_->config().classes;
  if (baseline.size() != n)
    throw std::invalid_argument("baseline has " + std::to_string(baseline.size()) + " values, the model has " +
                                std::to_string(n) + " parameters");
  if (nodes.size() != weights.size() || nodes.empty())
    throw std::invalid_argument("integrated gradients need as many weights as nodes (at least one)");
  const size_t batches = batch_count(indices.size(), batch_size);
  DeviceAllocations memory(*backend_);
  float *theta = memory.floats(n), *start = memory.floats(n), *point_sum = memory.floats(n);
  float* params = net_->parameters();
  IgResult result;
  try {
    backend_->copy_bytes(theta, params, n * sizeof(float));
    backend_->upload_bytes(start, baseline.data(), n * sizeof(float));
    backend_->fill(grad_sum_, 0.0f, n);
    begin_pass(data, indices, {}, PassUse::kLoss);
    // One recording serves every path point: lerp moves the parameters in place, and each point's
    // gradients collect unweighted in point_sum, weighted once per point outside the recording.
    StepReplayer steps = replayer(StepKind::kIntegratedGradient, batch_size, batches * nodes.size());
    for (size_t k = 0; k < nodes.size(); ++k) {
      backend_->lerp(start, theta, float(nodes[k]), params, n);
      backend_->fill(point_sum, 0.0f, n);
      for_each_batch(indices.size(), batch_size, [&](const Batch& batch) {
        run_step(steps, batch, true, false, [&] {
          gather_staged(data, batch.count, false, 0, 0);
          const float* logits = net_->forward(x_, batch.count, false);
          backend_->softmax_xent(batch.count, classes, logits, labels_, 1.0f, dlogits_, stats_);
          net_->backward(dlogits_, nullptr);
          backend_->axpy(1.0f, net_->gradients(), point_sum, n);
        });
      });
      backend_->axpy(float(weights[k]), point_sum, grad_sum_, n);
      if (on_point) on_point(int(k) + 1, int(nodes.size()));
    }
    backend_->copy_bytes(params, start, n * sizeof(float));
    result.loss_at_baseline = forget_loss(data, indices, batch_size);
    backend_->copy_bytes(params, theta, n * sizeof(float));
    result.loss_at_model = forget_loss(data, indices, batch_size);
    backend_->mul_diff(theta, start, grad_sum_, n);
    result.ig.resize(n);
    backend_->download_bytes(result.ig.data(), grad_sum_, n * sizeof(float));
    backend_->fill(grad_sum_, 0.0f, n);
  } catch (...) {
    backend_->copy_bytes(params, theta, n * sizeof(float));  // never leave the model on the path
    throw;
  }
  return result;
}

// Eager steps: each batch's images and input gradient go to the host and back.
std::vector<int32_t> Engine::fgsm_predict(const ResidentDataset& data, const std::vector<int32_t>& indices, float eps,
                                          int batch_size) {
  const ResNetConfig& c = net_->config();
  const size_t image = size_t(c.in_channels) * c.image * c.image, plane = size_t(c.image) * c.image;
  const std::vector<float>&mean = data.host_mean(), &stdev = data.host_std();
  std::vector<int32_t> predictions(indices.size());
  std::vector<float> x, g, logits;
  begin_pass(data, indices, {}, PassUse::kLoss);
  // float32 copies of the batch and its gradient on their way to and from the host
  DeviceAllocations memory(*backend_);
  float* staging = memory.floats(std::min<size_t>(batch_size, indices.size()) * image);
  for_each_batch(indices.size(), batch_size, [&](const Batch& batch) {
    const int count = batch.count;
    load_batch(data, batch.begin, count, false, 0, 0);
    const float* out = net_->forward(x_, count, false);
    backend_->softmax_xent(count, c.classes, out, labels_, 1.0f, dlogits_, stats_);
    net_->backward(dlogits_, input_grad_);
    x.resize(count * image);
    g.resize(count * image);
    const NormShape shape{count, c.in_channels, c.image * c.image};
    backend_->activations_to_float(shape, x_, staging);
    backend_->download_bytes(x.data(), staging, x.size() * sizeof(float));
    backend_->activations_to_float(shape, input_grad_, staging);
    backend_->download_bytes(g.data(), staging, g.size() * sizeof(float));
    // One signed step in pixel space ([0,1]), clamped, then normalized again. The sign of the
    // gradient is the same in both spaces because std > 0.
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t ch = (i % image) / plane;
      const float raw = x[i] * stdev[ch] + mean[ch];
      const float step = g[i] > 0 ? eps : (g[i] < 0 ? -eps : 0.0f);
      x[i] = (std::clamp(raw + step, 0.0f, 1.0f) - mean[ch]) / stdev[ch];
    }
    backend_->upload_bytes(staging, x.data(), x.size() * sizeof(float));
    backend_->activations_from_float(shape, staging, x_);
    const float* adv = net_->infer(x_, count);
    logits.resize(size_t(count) * c.classes);
    backend_->download_bytes(logits.data(), adv, logits.size() * sizeof(float));
    for (int i = 0; i < count; ++i) {
      const float* z = logits.data() + size_t(i) * c.classes;
      predictions[batch.begin + i] = int32_t(std::max_element(z, z + c.classes) - z);
    }
  });
  return predictions;
}

std::vector<float> Engine::forward_batch(const ResidentDataset& data, const std::vector<int32_t>& indices, bool train,
                                         bool augment, uint64_t seed, uint32_t epoch) {
  if (indices.empty()) throw std::invalid_argument("forwardBatch needs at least one index");
  const int classes = net_->config().classes;
  begin_pass(data, indices, {}, PassUse::kLogitsOnly);
  load_batch(data, 0, int(indices.size()), augment, seed, epoch);
  const float* out = net_->forward(x_, int(indices.size()), train);
  std::vector<float> logits(indices.size() * classes);
  backend_->download_bytes(logits.data(), out, logits.size() * sizeof(float));
  return logits;
}

void Engine::backward_batch(const std::vector<float>& dlogits) {
  const int classes = net_->config().classes;
  if (last_batch_ == 0 || dlogits.size() != size_t(last_batch_) * classes)
    throw std::invalid_argument("backwardBatch needs dL/dlogits of the last forwardBatch (" +
                                std::to_string(last_batch_) + " x " + std::to_string(classes) + ")");
  backend_->upload_bytes(dlogits_, dlogits.data(), dlogits.size() * sizeof(float));
  net_->backward(dlogits_, nullptr);
  backend_->axpy(1.0f, net_->gradients(), grad_sum_, net_->parameter_count());
}

void Engine::zero_gradients() { backend_->fill(grad_sum_, 0.0f, net_->parameter_count()); }

void Engine::step(const SgdConfig& sgd) { apply_sgd(sgd, grad_sum_); }

}  // namespace insalun
