// Runs native work off the JavaScript thread and settles a Promise with its result. Exceptions
// thrown by the work (std::exception and subclasses) reject the Promise with their message, so a
// native error never takes the Node process down.
#pragma once

#include <napi.h>

#include <functional>
#include <mutex>
#include <new>
#include <string>

namespace insalun::addon {

// All native compute is serialized: the backends keep scratch buffers and use every core.
std::mutex& compute_lock();

// The message a native exception reaches JavaScript with (std::bad_alloc's own, "std::bad_alloc",
// says nothing to a user).
inline std::string error_message(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return "not enough host memory (a smaller model, batch or dataset may fit)";
  return e.what();
}

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using ToJs = std::function<Napi::Value(Napi::Env, Result&)>;
  PromiseWorker(Napi::Env env, Work work, ToJs to_js)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        to_js_(std::move(to_js)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      std::lock_guard<std::mutex> lock(compute_lock());
      result_ = work_();
    } catch (const std::exception& e) {
      SetError(error_message(e));
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    try {
      deferred_.Resolve(to_js_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs to_js_;
  Result result_{};
};

// Like PromiseWorker, but the work can report progress items that are delivered, in order, to a
// JavaScript callback on the JS thread while the work goes on.
template <typename Result, typename Progress>
class ProgressPromiseWorker : public Napi::AsyncProgressQueueWorker<Progress> {
  using Base = Napi::AsyncProgressQueueWorker<Progress>;

 public:
  using Report = std::function<void(const Progress&)>;
  using Work = std::function<Result(const Report&)>;
  using ToJs = std::function<Napi::Value(Napi::Env, Result&)>;
  using ProgressToJs = std::function<Napi::Value(Napi::Env, const Progress&)>;

  ProgressPromiseWorker(Napi::Env env, Napi::Function callback, Work work, ToJs to_js, ProgressToJs progress_to_js)
      : Base(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        to_js_(std::move(to_js)),
        progress_to_js_(std::move(progress_to_js)) {
    if (!callback.IsEmpty()) callback_ = Napi::Persistent(callback);
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute(const typename Base::ExecutionProgress& progress) override {
    try {
      std::lock_guard<std::mutex> lock(compute_lock());
      const bool report = !callback_.IsEmpty();
      result_ = work_([&](const Progress& p) {
        if (report) progress.Send(&p, 1);
      });
    } catch (const std::exception& e) {
      this->SetError(error_message(e));
    } catch (...) {
      this->SetError("unknown native error");
    }
  }
  void OnProgress(const Progress* items, size_t count) override {
    if (callback_.IsEmpty()) return;
    Napi::HandleScope scope(this->Env());
    for (size_t i = 0; i < count; ++i) {
      try {
        callback_.Call({progress_to_js_(this->Env(), items[i])});
      } catch (const Napi::Error& e) {
        // A throwing progress callback must not abort native work half-way; report it later.
        if (callback_error_.empty()) callback_error_ = e.Message();
      }
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(this->Env());
    if (!callback_error_.empty()) {
      deferred_.Reject(Napi::Error::New(this->Env(), "progress callback failed: " + callback_error_).Value());
      return;
    }
    deferred_.Resolve(to_js_(this->Env(), result_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference callback_;
  Work work_;
  ToJs to_js_;
  ProgressToJs progress_to_js_;
  Result result_{};
  std::string callback_error_;
};

}  // namespace insalun::addon
