// Error checking for the CUDA backend: every CUDA runtime and cuDNN call goes through one of these
// macros, which throw std::runtime_error naming the call, the place and the library's message. The
// Node addon turns the exception into a JS error.
//
// Kernel launches are checked with CUDA_CHECK_LAUNCH(), which only catches launch-time errors (bad
// configuration, missing kernel image); a fault inside a kernel surfaces at the next synchronizing
// call (download, synchronize), as the CUDA runtime reports it there, under that call's name. The
// debugging switch INSALUN_CUDA_SYNC=1 makes each launch outside a graph capture wait for its
// kernel, so that a fault is reported under the kernel's name and its op (LaunchScope).
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <stdexcept>
#include <string>

namespace insalun::cuda {

// "native/cuda/conv.cu:42" rather than the absolute path of the build machine.
inline std::string source_place(const char* file, int line) {
  std::string f(file);
  const size_t at = f.rfind("native/");
  if (at != std::string::npos) f = f.substr(at);
  return f + ":" + std::to_string(line);
}

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  cudaGetLastError();  // reported here: not again, under another name, by the next launch check
  throw std::runtime_error(std::string("CUDA error: ") + call + " failed at " + source_place(file, line) + ": " +
                           cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}

[[noreturn]] inline void throw_cudnn(cudnnStatus_t s, const char* call, const char* file, int line) {
  std::string msg =
      std::string("cuDNN error: ") + call + " failed at " + source_place(file, line) + ": " + cudnnGetErrorString(s);
  // cuDNN 9 keeps a more specific message for the last failure of this thread.
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0]) msg += std::string(" [") + detail + "]";
  throw std::runtime_error(msg);
}

}  // namespace insalun::cuda

#define CUDA_CHECK(call)                                                                                   \
  do {                                                                                                     \
    const cudaError_t insalun_err_ = (call);                                                               \
    if (insalun_err_ != cudaSuccess) ::insalun::cuda::throw_cuda(insalun_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUDNN_CHECK(call)                                                                                          \
  do {                                                                                                             \
    const cudnnStatus_t insalun_st_ = (call);                                                                      \
    if (insalun_st_ != CUDNN_STATUS_SUCCESS) ::insalun::cuda::throw_cudnn(insalun_st_, #call, __FILE__, __LINE__); \
  } while (0)

namespace insalun::cuda {

// The backend op whose kernels the calling thread is launching, for INSALUN_CUDA_SYNC: each op
// opens one (CudaBackendImpl::open_op) for the length of its call. `wait` is the switch, off while
// a step is being captured (a synchronization would invalidate the capture; a captured step's
// kernels are not waited for, in its recording or its replays).
class LaunchScope {
 public:
  LaunchScope(const char* op, cudaStream_t stream, bool wait)
      : op_(op), stream_(stream), wait_(wait), outer_(innermost()) {
    innermost() = this;
  }
  ~LaunchScope() { innermost() = outer_; }
  LaunchScope(const LaunchScope&) = delete;
  LaunchScope& operator=(const LaunchScope&) = delete;

  // With the switch on: waits for the work `what` (a kernel, a cuDNN call) of the innermost op
  // just queued, and reports its fault under its name and the op's.
  static void wait_if_debugging(const char* what, const char* file, int line) {
    const LaunchScope* scope = innermost();
    if (!scope || !scope->wait_) return;
    const cudaError_t e = cudaStreamSynchronize(scope->stream_);
    if (e != cudaSuccess)
      throw_cuda(e, (std::string(what) + " of " + scope->op_ + " (waited for by INSALUN_CUDA_SYNC=1)").c_str(), file,
                 line);
  }

 private:
  static const LaunchScope*& innermost() {
    static thread_local const LaunchScope* scope = nullptr;
    return scope;
  }
  const char* op_;
  cudaStream_t stream_;
  bool wait_;
  const LaunchScope* outer_;
};

}  // namespace insalun::cuda

// After a kernel launch (INSALUN_LAUNCH): reports (and clears) a launch error under the kernel's
// name, and with INSALUN_CUDA_SYNC=1 waits for the kernel (LaunchScope).
#define CUDA_CHECK_LAUNCH(kernel_name)                                                          \
  do {                                                                                          \
    const cudaError_t insalun_err_ = cudaGetLastError();                                        \
    if (insalun_err_ != cudaSuccess)                                                            \
      ::insalun::cuda::throw_cuda(insalun_err_, "launch of " kernel_name, __FILE__, __LINE__);  \
    ::insalun::cuda::LaunchScope::wait_if_debugging("kernel " kernel_name, __FILE__, __LINE__); \
  } while (0)
