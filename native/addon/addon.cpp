// Node-API glue: the Model and Dataset classes and backends(). Argument checking happens here, on
// the JS thread, so bad input becomes a TypeError/RangeError before any native work starts.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "../core/engine.h"
#include "../core/kernel_bench.h"
#include "../cpu/isa.h"
#include "../cpu/threads.h"
#include "async.h"

#ifdef INSALUN_WITH_CUDA
#include <cuda_runtime_api.h>
#include <cudnn_version.h>

#include "../cuda/cuda_info.h"
#include "../cuda/cudnn_library.h"
#endif
#ifdef INSALUN_CUDA_EMULATION
#include "../cuda_emulation/counters.h"
#include "../cuda_emulation/schedule.h"
#include "../cuda_emulation/shared_memory_probe.h"
#endif

namespace insalun::addon {

std::mutex& compute_lock() {
  static std::mutex lock;
  return lock;
}

namespace {

// ---- argument helpers ----------------------------------------------------------------------------

[[noreturn]] void throw_type(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject()) throw_type(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

double number_field(Napi::Object o, const char* key, double fallback, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    if (required) throw_type(o.Env(), std::string("missing numeric option '") + key + "'");
    return fallback;
  }
  if (!v.IsNumber()) throw_type(o.Env(), std::string("option '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A finite number: NaN or an infinity (an lr, a loss scale) would spread through the weights
// silently instead of failing.
double finite_field(Napi::Object o, const char* key, double fallback, bool required = false) {
  const double v = number_field(o, key, fallback, required);
  if (!std::isfinite(v))
    throw Napi::RangeError::New(o.Env(), std::string("option '") + key + "' must be a finite number");
  return v;
}

// A whole number in [0, max]: seeds (up to 2^53, the integers a JS number holds exactly), epoch
// counters.
constexpr double kMaxSafeInteger = 9007199254740991.0;
double whole_number(Napi::Env env, double v, const std::string& what, double max) {
  if (!(v >= 0 && v <= max) || v != std::floor(v))
    throw Napi::RangeError::New(env, what + " must be an integer in [0, " + std::to_string(uint64_t(max)) + "]");
  return v;
}
double whole_field(Napi::Object o, const char* key, double fallback, double max) {
  return whole_number(o.Env(), number_field(o, key, fallback), std::string("option '") + key + "'", max);
}

// An optional callback: absent, or a function.
Napi::Function callback_field(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return Napi::Function();
  if (!v.IsFunction()) throw_type(o.Env(), std::string("option '") + key + "' must be a function");
  return v.As<Napi::Function>();
}

bool bool_field(Napi::Object o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw_type(o.Env(), std::string("option '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::vector<int32_t> int32_array(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw_type(env, std::string(what) + " must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> float32_array(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_type(env, std::string(what) + " must be a Float32Array");
  auto a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<double> number_list(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw_type(env, std::string(what) + " must be an array of numbers");
  auto a = v.As<Napi::Array>();
  std::vector<double> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    if (!x.IsNumber()) throw_type(env, std::string(what) + " must be an array of numbers");
    out[i] = x.As<Napi::Number>().DoubleValue();
  }
  return out;
}

int positive_int(Napi::Env env, double v, const char* what) {
  if (!(v >= 1) || v != double(int(v)))
    throw Napi::RangeError::New(env, std::string(what) + " must be a positive integer");
  return int(v);
}

Napi::Float32Array to_float32(Napi::Env env, const std::vector<float>& v) {
  auto out = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

Precision precision_option(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined()) return Precision::kFp32;
  const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kBf16})
    if (name == precision_name(p)) return p;
  throw Napi::TypeError::New(env, "precision must be 'fp32', 'tf32' or 'bf16'");
}

SgdConfig sgd_config(Napi::Object o) {
  SgdConfig c;
  c.lr = float(finite_field(o, "lr", 0, true));
  c.momentum = float(finite_field(o, "momentum", 0.9));
  c.weight_decay = float(finite_field(o, "weightDecay", 5e-4));
  c.nesterov = bool_field(o, "nesterov", false);
  c.l1 = float(finite_field(o, "l1", 0));
  return c;
}

// ---- backends ----------------------------------------------------------------------------------

// A backend for `device` computing in `precision` (an error, as a JS exception, for a precision
// the backend does not offer).
std::shared_ptr<Backend> make_backend(Napi::Env env, const std::string& device,
                                      Precision precision = Precision::kFp32) {
  std::shared_ptr<Backend> backend;
  if (device == "cpu") {
    backend = make_cpu_backend();
  } else if (device == "cuda") {
    std::string why;
    backend = make_cuda_backend(&why);
    if (!backend) throw Napi::Error::New(env, "CUDA backend unavailable: " + why);
  } else {
    throw Napi::TypeError::New(env, "device must be 'cpu' or 'cuda', got '" + device + "'");
  }
  try {
    backend->set_precision(precision);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
  return backend;
}

constexpr int kMaxWidth = 1024, kMaxImage = 1024, kMaxChannels = 1024, kMaxClasses = 1 << 20;

// The network's shape from {classes, inChannels, width, image}, checked.
ResNetConfig network_config(Napi::Env env, Napi::Object o) {
  ResNetConfig config;
  config.classes = positive_int(env, number_field(o, "classes", 10), "classes");
  config.in_channels = positive_int(env, number_field(o, "inChannels", 3), "inChannels");
  config.width = positive_int(env, number_field(o, "width", 64), "width");
  config.image = positive_int(env, number_field(o, "image", 32), "image");
  if (config.image < 8) throw Napi::RangeError::New(env, "image size must be at least 8");
  // Beyond these every size in the network still fits the ints it is counted in, and no GPU's
  // memory would hold the model or a batch anyway.
  if (config.width > kMaxWidth) throw Napi::RangeError::New(env, "width must be at most " + std::to_string(kMaxWidth));
  if (config.image > kMaxImage)
    throw Napi::RangeError::New(env, "image size must be at most " + std::to_string(kMaxImage));
  if (config.in_channels > kMaxChannels || config.classes > kMaxClasses)
    throw Napi::RangeError::New(env, "inChannels must be at most " + std::to_string(kMaxChannels) +
                                         " and classes at most " + std::to_string(kMaxClasses));
  return config;
}

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw_type(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// ---- native memory held by JS objects ------------------------------------------------------------

// What a Model or a Dataset holds natively, and the work in flight on it. V8 sees a small JS object
// only, so it is told the bytes behind it (AdjustExternalMemory: device memory, and the CPU
// backend's host memory), which makes its collector weigh them. dispose() frees them at once, but
// not while a worker thread is using them: each queued worker holds a lease until it is deleted,
// on the JS thread, right after its promise settles. Used on the JS thread only.
class Holding : public std::enable_shared_from_this<Holding> {
 public:
  explicit Holding(std::function<size_t()> measure) : measure_(std::move(measure)) {}

  // Copies are one lease; the last copy going reports the bytes again (the work may have grown
  // them: a larger batch, a cuDNN workspace).
  std::shared_ptr<void> lease(Napi::Env env) {
    ++in_flight_;
    auto self = shared_from_this();
    return std::shared_ptr<void>(self.get(), [self, env](void*) {
      if (--self->in_flight_ == 0) self->report(env);
    });
  }
  bool in_use() const { return in_flight_ > 0; }
  int64_t reported() const { return reported_; }
  // Tells V8 what is held now; not while work is in flight, which may be resizing it.
  void report(Napi::Env env) {
    if (measure_ && in_flight_ == 0) tell(env, int64_t(measure_()));
  }
  // The memory is gone (dispose, finalizer): V8 gets back what it was told.
  void release(Napi::Env env) {
    measure_ = nullptr;
    tell(env, 0);
  }

 private:
  void tell(Napi::Env env, int64_t bytes) {
    if (bytes != reported_) Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_);
    reported_ = bytes;
  }

  std::function<size_t()> measure_;
  int in_flight_ = 0;
  int64_t reported_ = 0;
};

// Symbol.dispose, where the runtime has it (Node 20.4 and later): Model and Dataset alias dispose()
// under it, so that `using` frees them at the end of a block.
std::optional<Napi::Symbol> symbol_dispose(Napi::Env env) {
  Napi::Value key = env.Global().Get("Symbol").As<Napi::Object>().Get("dispose");
  if (!key.IsSymbol()) return std::nullopt;
  return key.As<Napi::Symbol>();
}

// ---- Dataset ------------------------------------------------------------------------------------

class Dataset : public Napi::ObjectWrap<Dataset> {
 public:
  static Napi::Function Define(Napi::Env env) {
    std::vector<PropertyDescriptor> properties = {
        InstanceAccessor<&Dataset::Count>("count"), InstanceAccessor<&Dataset::Disposed>("disposed"),
        InstanceAccessor<&Dataset::NativeBytes>("nativeBytes"), InstanceMethod<&Dataset::Dispose>("dispose")};
    if (auto key = symbol_dispose(env)) properties.push_back(InstanceMethod<&Dataset::Dispose>(*key));
    return DefineClass(env, "Dataset", properties);
  }

  // new Dataset(device, images: Uint8Array, labels: Int32Array, {n,c,h,w}, mean[], std[])
  explicit Dataset(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Dataset>(info) {
    Napi::Env env = info.Env();
    const std::string device = string_arg(info, 0, "device");
    if (info.Length() < 6) throw_type(env, "Dataset(device, images, labels, shape, mean, std)");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_type(env, "images must be a Uint8Array");
    auto images = info[1].As<Napi::Uint8Array>();
    std::vector<int32_t> labels = int32_array(env, info[2], "labels");
    Napi::Object shape = object_arg(info, 3, "shape");
    const int n = positive_int(env, number_field(shape, "n", 0, true), "shape.n");
    const int c = positive_int(env, number_field(shape, "c", 0, true), "shape.c");
    const int h = positive_int(env, number_field(shape, "h", 0, true), "shape.h");
    const int w = positive_int(env, number_field(shape, "w", 0, true), "shape.w");
    // In double: the product of four ints can overflow 64 bits.
    const double expected = double(n) * c * h * w;
    if (double(images.ElementLength()) != expected)
      throw Napi::RangeError::New(env, "images has " + std::to_string(images.ElementLength()) +
                                           " bytes, expected n*c*h*w = " + std::to_string(n) + "*" + std::to_string(c) +
                                           "*" + std::to_string(h) + "*" + std::to_string(w));
    if (labels.size() != size_t(n)) throw Napi::RangeError::New(env, "labels must have n entries");
    std::vector<double> mean = number_list(env, info[4], "mean"), stdev = number_list(env, info[5], "std");
    for (double s : stdev)
      if (!(s > 0) || !std::isfinite(s)) throw Napi::RangeError::New(env, "std values must be positive and finite");
    for (double m : mean)
      if (!std::isfinite(m)) throw Napi::RangeError::New(env, "mean values must be finite");
    backend_ = make_backend(env, device);
    device_ = device;
    std::lock_guard<std::mutex> lock(compute_lock());
    try {
      data_ = std::make_unique<ResidentDataset>(backend_, images.Data(), labels.data(), n, c, h, w,
                                                std::vector<float>(mean.begin(), mean.end()),
                                                std::vector<float>(stdev.begin(), stdev.end()));
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, error_message(e));
    }
    holding_->report(env);
  }
  ~Dataset() override { holding_->release(Env()); }

  Napi::Value Count(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), data(info.Env()).view().n); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !data_); }
  Napi::Value NativeBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(holding_->reported()));
  }

  // Frees the dataset's memory now rather than when V8 collects it; again, nothing. Refused while
  // a model's work that reads the dataset is in flight.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!data_) return env.Undefined();
    if (holding_->in_use())
      throw Napi::Error::New(
          env,
          "this dataset is in use by a model's work in flight (trainEpoch, predict, ...); await it before dispose()");
    holding_->release(env);
    std::lock_guard<std::mutex> lock(compute_lock());
    data_.reset();
    backend_.reset();
    return env.Undefined();
  }

  const ResidentDataset& data(Napi::Env env) const {
    if (!data_) throw Napi::Error::New(env, "this dataset was disposed");
    return *data_;
  }
  const std::string& device() const { return device_; }
  // Held by a worker that reads the dataset, for as long as it may.
  std::shared_ptr<void> lease(Napi::Env env) { return holding_->lease(env); }

 private:
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<ResidentDataset> data_;
  std::string device_;
  std::shared_ptr<Holding> holding_ = std::make_shared<Holding>([this] { return data_->device_bytes(); });
};

Napi::FunctionReference* dataset_constructor = nullptr;

// ---- Model --------------------------------------------------------------------------------------

struct BatchReport {
  int batch, batches;
  float loss, correct;
  int count;
};

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    std::vector<PropertyDescriptor> properties = {InstanceAccessor<&Model::Device>("device"),
                                                  InstanceAccessor<&Model::Disposed>("disposed"),
                                                  InstanceAccessor<&Model::NativeBytes>("nativeBytes"),
                                                  InstanceMethod<&Model::Dispose>("dispose"),
                                                  InstanceAccessor<&Model::PrecisionName>("precision"),
                                                  InstanceAccessor<&Model::StepCapture>("stepCapture"),
                                                  InstanceAccessor<&Model::CaptureError>("captureError"),
                                                  InstanceAccessor<&Model::ParameterCount>("parameterCount"),
                                                  InstanceMethod<&Model::Tensors>("tensors"),
                                                  InstanceMethod<&Model::GetTensor>("getTensor"),
                                                  InstanceMethod<&Model::SetTensor>("setTensor"),
                                                  InstanceMethod<&Model::Initialize>("initialize"),
                                                  InstanceMethod<&Model::GetParameters>("getParameters"),
                                                  InstanceMethod<&Model::SetParameters>("setParameters"),
                                                  InstanceMethod<&Model::ResetOptimizer>("resetOptimizer"),
                                                  InstanceMethod<&Model::GetOptimizerState>("getOptimizerState"),
                                                  InstanceMethod<&Model::SetOptimizerState>("setOptimizerState"),
                                                  InstanceMethod<&Model::SetMask>("setMask"),
                                                  InstanceMethod<&Model::TrainEpoch>("trainEpoch"),
                                                  InstanceMethod<&Model::Predict>("predict"),
                                                  InstanceMethod<&Model::Gradient>("gradient"),
                                                  InstanceMethod<&Model::IntegratedGradients>("integratedGradients"),
                                                  InstanceMethod<&Model::FgsmPredict>("fgsmPredict"),
                                                  InstanceMethod<&Model::ForwardBatch>("forwardBatch"),
                                                  InstanceMethod<&Model::BackwardBatch>("backwardBatch"),
                                                  InstanceMethod<&Model::ZeroGradients>("zeroGradients"),
                                                  InstanceMethod<&Model::Step>("step"),
                                                  InstanceMethod<&Model::RequestStop>("requestStop"),
                                                  InstanceMethod<&Model::ClearStop>("clearStop")};
    if (auto key = symbol_dispose(env)) properties.push_back(InstanceMethod<&Model::Dispose>(*key));
    return DefineClass(env, "Model", properties);
  }

  // new Model({classes, inChannels, width, device, image?, precision?, stepCapture?, emulateCapture?})
  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    Napi::Env env = info.Env();
    Napi::Object o = object_arg(info, 0, "model options");
    const ResNetConfig config = network_config(env, o);
    Napi::Value device = o.Get("device");
    device_ = device.IsUndefined() ? "cpu" : device.ToString().Utf8Value();
    const Precision precision = precision_option(env, o.Get("precision"));
    const bool step_capture = bool_field(o, "stepCapture", true);
    // A test aid: the CPU backend imitates step capture on the host (capture_emulator.cpp);
    // 'refuse' makes every capture fail, to test the fallback to eager steps, 'refuse-second' only
    // the second one.
    const Napi::Value emulate = o.Get("emulateCapture");
    const std::string refusal = emulate.IsString() ? emulate.As<Napi::String>().Utf8Value() : "";
    const CaptureRefusal refuse_capture = refusal == "refuse"          ? CaptureRefusal::kEvery
                                          : refusal == "refuse-second" ? CaptureRefusal::kSecond
                                                                       : CaptureRefusal::kNone;
    const bool emulate_capture =
        refuse_capture != CaptureRefusal::kNone || (emulate.IsBoolean() && emulate.As<Napi::Boolean>().Value());
    if (!emulate.IsUndefined() && !emulate.IsBoolean() && refuse_capture == CaptureRefusal::kNone)
      throw Napi::TypeError::New(env, "emulateCapture must be a boolean, 'refuse' or 'refuse-second'");
    if (emulate_capture && device_ != "cpu") throw Napi::TypeError::New(env, "emulateCapture is for the cpu device");
    std::lock_guard<std::mutex> lock(compute_lock());
    try {
      std::shared_ptr<Backend> backend = make_backend(env, device_, precision);
      if (emulate_capture) backend = make_capture_emulator(std::move(backend), refuse_capture);
      engine_ = std::make_shared<Engine>(std::move(backend), config);
      engine_->set_step_capture(step_capture);
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, error_message(e));
    }
    holding_->report(env);
  }
  ~Model() override { holding_->release(Env()); }

 private:
  // The engine, or a clear error once dispose() has freed it.
  Engine& engine(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "this model was disposed");
    return *engine_;
  }
  // The engine for a worker thread: a handle that also holds this model's lease, so that
  // dispose() refuses for as long as the worker keeps it (aliasing shared_ptr: it points at the
  // engine and owns both the engine and the lease).
  std::shared_ptr<Engine> engine_for_worker(Napi::Env env) {
    Engine& e = engine(env);
    auto owners =
        std::make_shared<std::pair<std::shared_ptr<Engine>, std::shared_ptr<void>>>(engine_, holding_->lease(env));
    return std::shared_ptr<Engine>(owners, &e);
  }

  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device_); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !engine_); }
  Napi::Value NativeBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(holding_->reported()));
  }

  // Frees the engine (weights, activations, the backend with its stream, cuDNN handle and
  // workspace) now rather than when V8 collects the model; again, nothing. Refused while work
  // queued on the model has not settled: its worker thread is using the engine.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return env.Undefined();
    if (holding_->in_use())
      throw Napi::Error::New(env,
                             "this model has work in flight (trainEpoch, predict, ...); await it before dispose()");
    holding_->release(env);
    std::lock_guard<std::mutex> lock(compute_lock());
    engine_.reset();
    return env.Undefined();
  }
  Napi::Value PrecisionName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), precision_name(engine(info.Env()).backend().precision()));
  }
  Napi::Value StepCapture(const Napi::CallbackInfo& info) {
    Engine& e = engine(info.Env());
    return Napi::Boolean::New(info.Env(), e.step_capture() && e.backend().can_capture());
  }
  Napi::Value CaptureError(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), engine(info.Env()).capture_error());
  }
  Napi::Value ParameterCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(engine(info.Env()).net().parameter_count()));
  }

  const TensorInfo& find_tensor(Napi::Env env, const std::string& name) {
    for (const TensorInfo& t : engine(env).net().tensors())
      if (t.name == name) return t;
    throw Napi::Error::New(env, "no tensor named '" + name + "' in this model");
  }

  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& tensors = engine(env).net().tensors();
    auto out = Napi::Array::New(env, tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorInfo& t = tensors[i];
      auto entry = Napi::Object::New(env);
      entry.Set("name", t.name);
      auto shape = Napi::Array::New(env, t.shape.size());
      for (size_t d = 0; d < t.shape.size(); ++d) shape.Set(uint32_t(d), t.shape[d]);
      entry.Set("shape", shape);
      entry.Set("kind", t.kind == TensorKind::kParameter ? "parameter"
                        : t.kind == TensorKind::kBuffer  ? "buffer"
                                                         : "counter");
      out.Set(uint32_t(i), entry);
    }
    return out;
  }

  Napi::Value GetTensor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const TensorInfo& t = find_tensor(env, string_arg(info, 0, "tensor name"));
    std::lock_guard<std::mutex> lock(compute_lock());
    ResNet18& net = engine(env).net();
    if (t.kind == TensorKind::kCounter) {
      auto out = Napi::BigInt64Array::New(env, 1);
      out[0] = net.counters()[t.offset];
      return out;
    }
    auto out = Napi::Float32Array::New(env, t.size);
    const float* base = t.kind == TensorKind::kParameter ? net.parameters() : net.buffers();
    engine(env).backend().download_bytes(out.Data(), base + t.offset, t.size * sizeof(float));
    return out;
  }

  Napi::Value SetTensor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string name = string_arg(info, 0, "tensor name");
    const TensorInfo& t = find_tensor(env, name);
    if (info.Length() < 2 || !info[1].IsTypedArray())
      throw_type(env, "setTensor(name, data): data must be a typed array");
    auto array = info[1].As<Napi::TypedArray>();
    std::lock_guard<std::mutex> lock(compute_lock());
    ResNet18& net = engine(env).net();
    if (t.kind == TensorKind::kCounter) {
      if (array.TypedArrayType() != napi_bigint64_array || array.ElementLength() != 1)
        throw_type(env, name + " is an int64 counter: pass a BigInt64Array of length 1");
      net.counters()[t.offset] = array.As<Napi::BigInt64Array>()[0];
      return env.Undefined();
    }
    if (array.TypedArrayType() != napi_float32_array) throw_type(env, name + " needs a Float32Array");
    if (array.ElementLength() != t.size)
      throw Napi::RangeError::New(
          env, name + " has " + std::to_string(t.size) + " values, got " + std::to_string(array.ElementLength()));
    const float* data = array.As<Napi::Float32Array>().Data();
    for (size_t i = 0; i < t.size; ++i)
      if (!std::isfinite(data[i])) throw Napi::RangeError::New(env, name + " contains NaN or infinite values");
    float* base = t.kind == TensorKind::kParameter ? net.parameters() : net.buffers();
    engine(env).backend().upload_bytes(base + t.offset, data, t.size * sizeof(float));
    return env.Undefined();
  }

  Napi::Value Initialize(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) throw_type(info.Env(), "initialize(seed: number)");
    const double seed = whole_number(info.Env(), info[0].As<Napi::Number>().DoubleValue(), "seed", kMaxSafeInteger);
    std::lock_guard<std::mutex> lock(compute_lock());
    engine(info.Env()).net().initialize(uint64_t(seed));
    return info.Env().Undefined();
  }

  Napi::Value GetParameters(const Napi::CallbackInfo& info) {
    Engine& e = engine(info.Env());
    std::lock_guard<std::mutex> lock(compute_lock());
    const size_t n = e.net().parameter_count();
    auto out = Napi::Float32Array::New(info.Env(), n);
    e.backend().download_bytes(out.Data(), e.net().parameters(), n * sizeof(float));
    return out;
  }

  Napi::Value SetParameters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<float> flat = float32_array(env, info.Length() ? info[0] : env.Undefined(), "parameters");
    check_flat(env, flat, "parameters");
    std::lock_guard<std::mutex> lock(compute_lock());
    engine(env).backend().upload_bytes(engine(env).net().parameters(), flat.data(), flat.size() * sizeof(float));
    return env.Undefined();
  }

  void check_flat(Napi::Env env, const std::vector<float>& flat, const char* what) {
    const size_t n = engine(env).net().parameter_count();
    if (flat.size() != n)
      throw Napi::RangeError::New(env, std::string(what) + " has " + std::to_string(flat.size()) +
                                           " values, the model has " + std::to_string(n) + " parameters");
  }

  Napi::Value ResetOptimizer(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(compute_lock());
    engine(info.Env()).reset_optimizer();
    return info.Env().Undefined();
  }

  Napi::Value GetOptimizerState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Engine& e = engine(env);
    std::lock_guard<std::mutex> lock(compute_lock());
    auto out = Napi::Object::New(env);
    out.Set("momentum", to_float32(env, e.momentum()));
    out.Set("firstStep", e.first_step());
    return out;
  }

  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = object_arg(info, 0, "optimizer state");
    std::vector<float> momentum = float32_array(env, o.Get("momentum"), "momentum");
    check_flat(env, momentum, "momentum");
    std::lock_guard<std::mutex> lock(compute_lock());
    engine(env).set_optimizer_state(momentum, bool_field(o, "firstStep", false));
    return env.Undefined();
  }

  Napi::Value SetMask(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) {
      std::lock_guard<std::mutex> lock(compute_lock());
      engine(env).set_mask(nullptr, MaskMode::kNone);
      return env.Undefined();
    }
    std::vector<float> mask = float32_array(env, info[0], "mask");
    check_flat(env, mask, "mask");
    for (float m : mask)
      if (m != 0.0f && m != 1.0f) throw Napi::RangeError::New(env, "mask values must be 0 or 1");
    const std::string mode = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "hard";
    if (mode != "hard" && mode != "grad") throw Napi::TypeError::New(env, "mask mode must be 'hard' or 'grad'");
    {
      std::lock_guard<std::mutex> lock(compute_lock());
      engine(env).set_mask(mask.data(), mode == "hard" ? MaskMode::kHard : MaskMode::kGrad);
    }
    holding_->report(env);  // the first mask allocates its buffer
    return env.Undefined();
  }

  Dataset& dataset_arg(const Napi::CallbackInfo& info, size_t i) {
    Napi::Env env = info.Env();
    if (info.Length() <= i || !info[i].IsObject() ||
        !info[i].As<Napi::Object>().InstanceOf(dataset_constructor->Value()))
      throw_type(env, "expected a Dataset");
    Dataset* d = Dataset::Unwrap(info[i].As<Napi::Object>());
    if (d->device() != device_)
      throw Napi::Error::New(env, "the dataset lives on '" + d->device() + "' but the model on '" + device_ + "'");
    return *d;
  }

  // Keeps the JS Dataset alive while a worker uses it, and holds its lease (its dispose() refuses
  // meanwhile).
  struct Hold {
    std::shared_ptr<Napi::ObjectReference> ref;
    std::shared_ptr<void> lease;
    Hold(Napi::Object o)
        : ref(std::make_shared<Napi::ObjectReference>(Napi::Persistent(o))),
          lease(Dataset::Unwrap(o)->lease(o.Env())) {}
  };

  Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataset& data = dataset_arg(info, 0);
    Napi::Object o = object_arg(info, 1, "epoch options");
    EpochRequest r;
    r.indices = int32_array(env, o.Get("indices"), "indices");
    if (!o.Get("labels").IsUndefined()) r.labels = int32_array(env, o.Get("labels"), "labels");
    r.batch_size = positive_int(env, number_field(o, "batchSize", 0, true), "batchSize");
    r.augment = bool_field(o, "augment", true);
    r.seed = uint64_t(whole_field(o, "seed", 0, kMaxSafeInteger));
    r.epoch = uint32_t(whole_field(o, "epoch", 0, UINT32_MAX));
    r.loss_scale = float(finite_field(o, "lossScale", 1));
    r.progress_every = int(whole_field(o, "progressEvery", 1, INT32_MAX));
    Napi::Value sgd = o.Get("sgd");
    if (!sgd.IsObject()) throw_type(env, "option 'sgd' must be an object");
    r.sgd = sgd_config(sgd.As<Napi::Object>());
    Napi::Function callback = callback_field(o, "onBatch");
    auto engine = engine_for_worker(env);
    auto stop = stop_;
    Hold hold(info[0].As<Napi::Object>());
    const ResidentDataset* d = &data.data(env);
    auto* worker = new ProgressPromiseWorker<EpochTotals, BatchReport>(
        env, callback,
        [engine, stop, d, r, hold,
         wants_progress = !callback.IsEmpty()](const std::function<void(const BatchReport&)>& report) {
          BatchCallback on_batch;
          if (wants_progress)
            on_batch = [&](int b, int nb, float loss, float correct, int count) {
              report(BatchReport{b, nb, loss, correct, count});
            };
          return engine->train_epoch(*d, r, on_batch, *stop);
        },
        [](Napi::Env env, EpochTotals& t) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("loss", t.count ? t.loss / t.count : 0.0);
          out.Set("correct", t.correct);
          out.Set("count", t.count);
          out.Set("stopped", t.stopped);
          out.Set("replayedSteps", t.replayed_steps);
          return out;
        },
        [](Napi::Env env, const BatchReport& p) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("batch", p.batch);
          out.Set("batches", p.batches);
          out.Set("loss", p.loss);
          out.Set("correct", p.correct);
          out.Set("count", p.count);
          return out;
        });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value Predict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataset& data = dataset_arg(info, 0);
    std::vector<int32_t> indices = int32_array(env, info.Length() > 1 ? info[1] : env.Undefined(), "indices");
    const int batch = positive_int(
        env, info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0, "batchSize");
    auto engine = engine_for_worker(env);
    const ResidentDataset* d = &data.data(env);
    Hold hold(info[0].As<Napi::Object>());
    auto* worker = new PromiseWorker<std::vector<float>>(
        env, [engine, d, indices, batch, hold] { return engine->predict(*d, indices, batch); },
        [](Napi::Env env, std::vector<float>& v) -> Napi::Value { return to_float32(env, v); });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value Gradient(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataset& data = dataset_arg(info, 0);
    Napi::Object o = object_arg(info, 1, "gradient options");
    GradientRequest r;
    r.indices = int32_array(env, o.Get("indices"), "indices");
    if (!o.Get("labels").IsUndefined()) r.labels = int32_array(env, o.Get("labels"), "labels");
    if (!r.labels.empty() && r.labels.size() != r.indices.size())
      throw Napi::RangeError::New(env, "labels must have one entry per index");
    r.batch_size = positive_int(env, number_field(o, "batchSize", 0, true), "batchSize");
    r.train = bool_field(o, "train", false);
    r.augment = bool_field(o, "augment", false);
    r.squared = bool_field(o, "squared", false);
    r.seed = uint64_t(whole_field(o, "seed", 0, kMaxSafeInteger));
    r.epoch = uint32_t(whole_field(o, "epoch", 0, UINT32_MAX));
    r.loss_scale = float(finite_field(o, "lossScale", 1));
    auto engine = engine_for_worker(env);
    const ResidentDataset* d = &data.data(env);
    Hold hold(info[0].As<Napi::Object>());
    auto* worker = new PromiseWorker<std::vector<float>>(
        env, [engine, d, r, hold] { return engine->gradient(*d, r); },
        [](Napi::Env env, std::vector<float>& v) -> Napi::Value { return to_float32(env, v); });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value IntegratedGradients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataset& data = dataset_arg(info, 0);
    Napi::Object o = object_arg(info, 1, "integrated-gradient options");
    std::vector<int32_t> indices = int32_array(env, o.Get("indices"), "indices");
    const int batch = positive_int(env, number_field(o, "batchSize", 0, true), "batchSize");
    std::vector<float> baseline = float32_array(env, o.Get("baseline"), "baseline");
    check_flat(env, baseline, "baseline");
    for (float v : baseline)
      if (!std::isfinite(v)) throw Napi::RangeError::New(env, "baseline contains NaN or infinite values");
    std::vector<double> nodes = number_list(env, o.Get("nodes"), "nodes");
    std::vector<double> weights = number_list(env, o.Get("weights"), "weights");
    if (nodes.empty() || nodes.size() != weights.size())
      throw Napi::RangeError::New(env, "nodes and weights must be non-empty and of equal length");
    for (size_t k = 0; k < nodes.size(); ++k)
      if (!(nodes[k] >= 0 && nodes[k] <= 1) || !std::isfinite(weights[k]))
        throw Napi::RangeError::New(env, "path points must lie in [0, 1] and weights be finite (point " +
                                             std::to_string(k) + ": " + std::to_string(nodes[k]) + ", weight " +
                                             std::to_string(weights[k]) + ")");
    Napi::Function callback = callback_field(o, "onPoint");
    auto engine = engine_for_worker(env);
    const ResidentDataset* d = &data.data(env);
    Hold hold(info[0].As<Napi::Object>());
    using Point = std::pair<int, int>;
    auto* worker = new ProgressPromiseWorker<IgResult, Point>(
        env, callback,
        [engine, d, indices, batch, baseline, nodes, weights, hold](const std::function<void(const Point&)>& report) {
          return engine->integrated_gradients(*d, indices, batch, baseline, nodes, weights, [&](int k, int m) {
            report(Point{k, m});
          });
        },
        [](Napi::Env env, IgResult& r) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("ig", to_float32(env, r.ig));
          out.Set("lossAtModel", r.loss_at_model);
          out.Set("lossAtBaseline", r.loss_at_baseline);
          return out;
        },
        [](Napi::Env env, const Point& p) -> Napi::Value {
          auto out = Napi::Object::New(env);
          out.Set("k", p.first);
          out.Set("of", p.second);
          return out;
        });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value FgsmPredict(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataset& data = dataset_arg(info, 0);
    std::vector<int32_t> indices = int32_array(env, info.Length() > 1 ? info[1] : env.Undefined(), "indices");
    if (info.Length() < 4 || !info[2].IsNumber() || !info[3].IsNumber())
      throw_type(env, "fgsmPredict(data, indices, eps, batchSize)");
    const double eps = info[2].As<Napi::Number>().DoubleValue();
    if (!(eps >= 0 && eps <= 1)) throw Napi::RangeError::New(env, "eps must lie in [0, 1] (pixel units)");
    const int batch = positive_int(env, info[3].As<Napi::Number>().DoubleValue(), "batchSize");
    auto engine = engine_for_worker(env);
    const ResidentDataset* d = &data.data(env);
    Hold hold(info[0].As<Napi::Object>());
    auto* worker = new PromiseWorker<std::vector<int32_t>>(
        env, [engine, d, indices, eps, batch, hold] { return engine->fgsm_predict(*d, indices, eps, batch); },
        [](Napi::Env env, std::vector<int32_t>& v) -> Napi::Value {
          auto out = Napi::Int32Array::New(env, v.size());
          std::copy(v.begin(), v.end(), out.Data());
          return out;
        });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value ForwardBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataset& data = dataset_arg(info, 0);
    std::vector<int32_t> indices = int32_array(env, info.Length() > 1 ? info[1] : env.Undefined(), "indices");
    Napi::Object o = object_arg(info, 2, "forward options");
    const bool train = bool_field(o, "train", false), augment = bool_field(o, "augment", false);
    const uint64_t seed = uint64_t(whole_field(o, "seed", 0, kMaxSafeInteger));
    const uint32_t epoch = uint32_t(whole_field(o, "epoch", 0, UINT32_MAX));
    auto engine = engine_for_worker(env);
    const ResidentDataset* d = &data.data(env);
    Hold hold(info[0].As<Napi::Object>());
    auto* worker = new PromiseWorker<std::vector<float>>(
        env,
        [engine, d, indices, train, augment, seed, epoch, hold] {
          return engine->forward_batch(*d, indices, train, augment, seed, epoch);
        },
        [](Napi::Env env, std::vector<float>& v) -> Napi::Value { return to_float32(env, v); });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value BackwardBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<float> dlogits = float32_array(env, info.Length() ? info[0] : env.Undefined(), "dlogits");
    auto engine = engine_for_worker(env);
    auto* worker = new PromiseWorker<bool>(
        env,
        [engine, dlogits] {
          engine->backward_batch(dlogits);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
    worker->Queue();
    return worker->promise();
  }

  Napi::Value ZeroGradients(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(compute_lock());
    engine(info.Env()).zero_gradients();
    return info.Env().Undefined();
  }

  Napi::Value Step(const Napi::CallbackInfo& info) {
    SgdConfig c = sgd_config(object_arg(info, 0, "sgd options"));
    std::lock_guard<std::mutex> lock(compute_lock());
    engine(info.Env()).step(c);
    return info.Env().Undefined();
  }

  Napi::Value RequestStop(const Napi::CallbackInfo& info) {
    stop_->store(true);
    return info.Env().Undefined();
  }
  Napi::Value ClearStop(const Napi::CallbackInfo& info) {
    stop_->store(false);
    return info.Env().Undefined();
  }

  std::shared_ptr<Engine> engine_;
  std::string device_;
  std::shared_ptr<std::atomic<bool>> stop_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<Holding> holding_ = std::make_shared<Holding>([this] { return engine_->device_bytes(); });
};

#ifdef INSALUN_CUDA_EMULATION
// ---- the emulation's test aids (emulation builds only) -------------------------------------------

// Arguments info[0..count) as unsigned sizes; the aid checks its own limits, here only what fits.
std::vector<unsigned> positive_sizes(const Napi::CallbackInfo& info, size_t count, const char* message) {
  std::vector<unsigned> out;
  for (size_t i = 0; i < count; ++i) {
    const double v = info[i].As<Napi::Number>().DoubleValue();
    if (!(v >= 1 && v <= UINT32_MAX) || v != std::floor(v)) throw Napi::RangeError::New(info.Env(), message);
    out.push_back(unsigned(v));
  }
  return out;
}

// Runs one aid under the compute lock, its C++ exceptions as JavaScript errors.
template <typename Aid>
auto run_emulation_aid(Napi::Env env, Aid aid) {
  try {
    std::lock_guard<std::mutex> lock(compute_lock());
    return aid();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
}

template <typename T>
Napi::Array number_array(Napi::Env env, const std::vector<T>& v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(uint32_t(i), Napi::Number::New(env, double(v[i])));
  return a;
}

// emulationTrace(grid, threads, barrier): the order in which the emulator ran the blocks of a grid
// and the threads of block 0 (a test aid for INSALUN_EMULATION_ORDER).
Napi::Value EmulationTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsBoolean())
    throw Napi::TypeError::New(env, "emulationTrace(grid: number, threads: number, barrier: boolean)");
  const auto sizes = positive_sizes(info, 2, "emulationTrace: grid and threads must be positive integers");
  const bool barrier = info[2].As<Napi::Boolean>().Value();
  const auto trace = run_emulation_aid(env, [&] { return emulation::trace_schedule(sizes[0], sizes[1], barrier); });
  auto out = Napi::Object::New(env);
  out.Set("blocks", number_array(env, trace.blocks));
  out.Set("threads", number_array(env, trace.threads));
  return out;
}

// emulationSharedProbe(blocks, threads): what each block read from a block-shared array before
// and after writing it (a test aid for INSALUN_SHARED's poisoning).
Napi::Value EmulationSharedProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "emulationSharedProbe(blocks: number, threads: number)");
  const auto sizes = positive_sizes(info, 2, "emulationSharedProbe: blocks and threads must be positive integers");
  const auto probe = run_emulation_aid(env, [&] { return emulation::probe_shared_memory(sizes[0], sizes[1]); });
  auto out = Napi::Object::New(env);
  out.Set("beforeWrite", number_array(env, probe.before_write));
  out.Set("afterWrite", number_array(env, probe.after_write));
  return out;
}
// emulationCounters(): what the emulated runtime has done since the addon loaded (counters.h).
Napi::Value EmulationCounters(const Napi::CallbackInfo& info) {
  const emulation::RuntimeCounters c = emulation::runtime_counters();
  auto out = Napi::Object::New(info.Env());
  for (const auto& [name, value] : {std::pair{"synchronizations", c.synchronizations},
                                    {"copiesToDevice", c.copies_to_device},
                                    {"copiesToHost", c.copies_to_host},
                                    {"allocations", c.allocations},
                                    {"kernelsRun", c.kernels_run},
                                    {"graphLaunches", c.graph_launches},
                                    {"graphInstantiations", c.graph_instantiations},
                                    {"graphUpdates", c.graph_updates},
                                    {"liveDeviceBytes", c.live_device_bytes},
                                    {"peakDeviceBytes", c.peak_device_bytes}})
    out.Set(name, Napi::Number::New(info.Env(), double(value)));
  return out;
}
#endif

// How this addon file was built: what doctor reports, and what decides where it can run.
Napi::Object BuildFacts(Napi::Env env) {
  auto out = Napi::Object::New(env);
#ifdef INSALUN_CPU_ARCH_STRING
  out.Set("cpuArch", INSALUN_CPU_ARCH_STRING);  // CMake's -march (empty: the compiler's default)
#else
  out.Set("cpuArch", "native");  // node-gyp's build (binding.gyp)
#endif
#ifdef INSALUN_WITH_CUDA
  out.Set("cudaArchs", INSALUN_CUDA_ARCHS_STRING);
  out.Set("cudnnHeaders", cuda::cudnn_version_text(CUDNN_VERSION));
  out.Set("cudaRuntime", std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10));
#endif
  return out;
}

// The CUDA build's facts for doctor, one per line (driver, runtime, cuDNN and where it was found,
// GPUs); empty for a CPU-only build. Apart from backends(), which --device auto calls on every
// start: this one loads cuDNN even where no GPU would use it.
Napi::Value CudaReport(const Napi::CallbackInfo& info) {
#ifdef INSALUN_WITH_CUDA
  std::lock_guard<std::mutex> lock(compute_lock());
  return Napi::String::New(info.Env(), cuda_backend_report());
#else
  return Napi::String::New(info.Env(), "");
#endif
}

// externalMemory(): the bytes of native memory V8 has been told of in this process (the running
// total of AdjustExternalMemory, which every Model and Dataset adds its bytes to).
Napi::Value ExternalMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), 0)));
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("cpu", true);
  out.Set("cpuThreads", cpu::max_threads());
  try {
    out.Set("cpuIsa", cpu::isa_name(cpu::active_isa()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
  auto isas = Napi::Array::New(env);
  for (const std::string& isa : cpu::runnable_isas()) isas.Set(isas.Length(), isa);
  out.Set("cpuIsas", isas);
  std::string why;
  bool cuda = false;
  {
    std::lock_guard<std::mutex> lock(compute_lock());
    try {
      cuda = make_cuda_backend(&why) != nullptr;
    } catch (const std::exception& e) {
      why = error_message(e);
    }
  }
  out.Set("cuda", cuda);
  out.Set("cudaWhy", why);
#ifdef INSALUN_CUDA_EMULATION
  out.Set("cudaEmulated", true);  // the CUDA code runs on the CPU: right answers, meaningless timings
  try {
    out.Set("cudaEmulationOrder", emulation::schedule_name(emulation::current_schedule()));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
#else
  out.Set("cudaEmulated", false);
#endif
#ifdef INSALUN_WITH_CUDA
  out.Set("cudaBuilt", true);
#else
  out.Set("cudaBuilt", false);
#endif
  out.Set("build", BuildFacts(env));
  return out;
}

}  // namespace

Napi::Object make_op_bindings(Napi::Env env, std::shared_ptr<Backend> be);

// ops(device, {precision}?): the op-level conformance interface (see op_bindings.cpp).
Napi::Value Ops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string device = info.Length() && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
  const Precision precision = info.Length() > 1 && info[1].IsObject()
                                  ? precision_option(env, info[1].As<Napi::Object>().Get("precision"))
                                  : Precision::kFp32;
  return make_op_bindings(env, make_backend(env, device, precision));
}

// benchKernels(device, {batch, classes, inChannels, width, image, precision, minSeconds})
//   -> Promise<rows>
Napi::Value BenchKernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string device = string_arg(info, 0, "device");
  Napi::Object o = object_arg(info, 1, "bench options");
  KernelBenchConfig config;
  config.network = network_config(env, o);
  config.batch = positive_int(env, number_field(o, "batch", 256), "batch");
  config.min_seconds = number_field(o, "minSeconds", 0.05);
  if (!(config.min_seconds > 0 && config.min_seconds <= 60))
    throw Napi::RangeError::New(env, "minSeconds must be in (0, 60]");
  const Precision precision = precision_option(env, o.Get("precision"));
  std::shared_ptr<Backend> backend;
  {
    std::lock_guard<std::mutex> lock(compute_lock());
    backend = make_backend(env, device, precision);
  }
  auto* worker = new PromiseWorker<std::vector<KernelTiming>>(
      env, [backend, config] { return bench_kernels(*backend, config); },
      [](Napi::Env env, std::vector<KernelTiming>& rows) -> Napi::Value {
        auto out = Napi::Array::New(env, rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
          const KernelTiming& r = rows[i];
          auto row = Napi::Object::New(env);
          row.Set("group", r.group);
          row.Set("kernel", r.kernel);
          row.Set("shape", r.shape);
          row.Set("perStep", r.per_step);
          row.Set("seconds", r.seconds);
          row.Set("flops", r.flops);
          row.Set("bytes", r.bytes);
          out.Set(uint32_t(i), row);
        }
        return out;
      });
  worker->Queue();
  return worker->promise();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  dataset_constructor = new Napi::FunctionReference(Napi::Persistent(Dataset::Define(env)));
  exports.Set("Dataset", dataset_constructor->Value());
  exports.Set("Model", Model::Define(env));
  exports.Set("backends", Napi::Function::New(env, Backends));
  exports.Set("cudaReport", Napi::Function::New(env, CudaReport));
  exports.Set("externalMemory", Napi::Function::New(env, ExternalMemory));
  exports.Set("ops", Napi::Function::New(env, Ops));
  exports.Set("benchKernels", Napi::Function::New(env, BenchKernels));
#ifdef INSALUN_CUDA_EMULATION
  exports.Set("emulationTrace", Napi::Function::New(env, EmulationTrace));
  exports.Set("emulationSharedProbe", Napi::Function::New(env, EmulationSharedProbe));
  exports.Set("emulationCounters", Napi::Function::New(env, EmulationCounters));
#endif
  return exports;
}

}  // namespace insalun::addon

static Napi::Object InitInsalun(Napi::Env env, Napi::Object exports) { return insalun::addon::Init(env, exports); }
NODE_API_MODULE(insalun, InitInsalun)
