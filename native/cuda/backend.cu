// Construction of the CUDA backend, its memory ops and its scratch buffers.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "cuda_info.h"
#include "cudnn_library.h"
#include "impl.cuh"

namespace insalun {
namespace cuda {
namespace {

// Touched only to ask whether this binary has kernels the device can run.
__global__ void probe_kernel() {}

}  // namespace

CudaBackendImpl::CudaBackendImpl(int device) : device_(device) {
  try {
    CUDA_CHECK(cudaSetDevice(device_));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    device_name_ = prop.name;
    sm_count_ = std::max(1, prop.multiProcessorCount);
    // A GPU older than the architectures compiled in has no kernel image: say so now, clearly,
    // rather than at the first launch.
    cudaFuncAttributes attr;
    const cudaError_t image = cudaFuncGetAttributes(&attr, probe_kernel);
    if (image != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error("this addon has no CUDA kernels for " + device_name_ + " (compute capability " +
                               std::to_string(prop.major) + "." + std::to_string(prop.minor) + "); it was built for " +
                               INSALUN_CUDA_ARCHS_STRING + ": " + cudaGetErrorString(image));
    }
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUDA_CHECK(cudaMalloc(&arrivals_, kMaxReductionGroups * sizeof(unsigned)));
    CUDA_CHECK(cudaMemsetAsync(arrivals_, 0, kMaxReductionGroups * sizeof(unsigned), stream_));
    CUDNN_CHECK(cudnnCreate(&cudnn_));
    CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    // cuDNN 9 loads its sub-libraries lazily; load and version-check them now so a missing or
    // mismatched libcudnn_ops/_cnn is reported when the backend is chosen, not mid-training.
    CUDNN_CHECK(cudnnOpsVersionCheck());
    CUDNN_CHECK(cudnnCnnVersionCheck());
  } catch (...) {
    release();
    throw;
  }
}

CudaBackendImpl::~CudaBackendImpl() { release(); }

void CudaBackendImpl::release() noexcept {
  // Teardown never throws: after a device fault every call here may fail, and there is nothing
  // better to do than to let go of what we can. Queued work ends before any memory is freed.
  abort_capture();
  if (stream_) cudaStreamSynchronize(stream_);
  drop_capture();
  destroy_dormant();
  plans_.clear();
  if (cudnn_) cudnnDestroy(cudnn_);
  workspace_.release();
  scratch_.release();
  weight_scratch_.release();
  pad_scratch_.release();
  weight_copies_.release();
  weight_grad_copies_.release();
  prepared_copies_ = nullptr;
  prepared_grads_ = nullptr;
  if (arrivals_) cudaFree(arrivals_);
  arrivals_ = nullptr;
  if (stream_) cudaStreamDestroy(stream_);
  cudnn_ = nullptr;
  stream_ = nullptr;
  cudaGetLastError();
}

// ---- memory -------------------------------------------------------------------------------------

void* CudaBackendImpl::alloc_bytes(size_t bytes) {
  refuse_while_capturing("alloc");
  // Never null, like the CPU backend, so a zero-length tensor still has an address.
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(bytes, 1)));
  return p;
}

void CudaBackendImpl::free_bytes(void* p) {
  refuse_while_capturing("free");
  if (!p) return;
  // Work queued on the stream may still use p (a step's buffers freed by an exception part-way
  // through it, say), and cudaFree need not wait for it.
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  CUDA_CHECK(cudaFree(p));
}

void CudaBackendImpl::upload_bytes(void* dst, const void* src, size_t bytes) {
  refuse_while_capturing("upload");
  if (bytes == 0) return;
  // Synchronous from the caller's view: the host buffer (often a JS ArrayBuffer) may go away
  // as soon as we return.
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackendImpl::download_bytes(void* dst, const void* src, size_t bytes) {
  refuse_while_capturing("download");
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackendImpl::copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackendImpl::synchronize() {
  refuse_while_capturing("synchronize");
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

// ---- step capture ---------------------------------------------------------------------------------

void CudaBackendImpl::refuse_while_capturing(const char* what) const {
  if (capturing_)
    throw std::logic_error(std::string(what) +
                           " is not allowed while capturing a step (CUDA graph); the uncaptured "
                           "step before it should have prepared everything");
}

void CudaBackendImpl::begin_capture() {
  if (capturing_) throw std::logic_error("begin_capture: already capturing");
  drop_capture();
  // Thread-local mode: only this thread's unsafe calls break the capture; the addon runs all
  // native work on one thread at a time anyway.
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  capturing_ = true;
}

void CudaBackendImpl::end_capture() {
  if (!capturing_) throw std::logic_error("end_capture without begin_capture");
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  // The most recent dormant graph of the same topology takes the new recording's parameters; a
  // refused update leaves it as it was (and clears its error), and the next one is tried.
  for (size_t i = dormant_.size(); i-- > 0;) {
    cudaGraphExecUpdateResultInfo result{};
    if (cudaGraphExecUpdate(dormant_[i], graph, &result) == cudaSuccess) {
      captured_ = dormant_[i];
      dormant_.erase(dormant_.begin() + std::ptrdiff_t(i));
      cudaGraphDestroy(graph);
      return;
    }
    cudaGetLastError();
  }
  const cudaError_t made = cudaGraphInstantiate(&captured_, graph, 0);
  cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    captured_ = nullptr;
    CUDA_CHECK(made);
  }
}

void CudaBackendImpl::abort_capture() noexcept {
  // Unconditional: a capture that failed in begin_capture or end_capture has already cleared
  // capturing_ but may still have the stream in capture mode or an error pending.
  capturing_ = false;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (stream_ && cudaStreamIsCapturing(stream_, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t graph = nullptr;
    if (cudaStreamEndCapture(stream_, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
  }
  cudaGetLastError();  // an invalidated capture leaves an error behind; it is not the caller's
}

void CudaBackendImpl::replay() {
  if (capturing_ || !captured_) throw std::logic_error("replay: no captured step");
  CUDA_CHECK(cudaGraphLaunch(captured_, stream_));
}

void CudaBackendImpl::drop_capture() noexcept {
  if (captured_) {
    dormant_.push_back(captured_);
    if (dormant_.size() > kDormantGraphs) {
      cudaGraphExecDestroy(dormant_.front());
      dormant_.erase(dormant_.begin());
    }
  }
  captured_ = nullptr;
  // Buffers the dropped step used, once a replay still in flight has finished.
  for (GrowingBuffer* b :
       {&scratch_, &workspace_, &weight_scratch_, &pad_scratch_, &weight_copies_, &weight_grad_copies_})
    b->free_retired(stream_);
}

void CudaBackendImpl::destroy_dormant() noexcept {
  for (cudaGraphExec_t exec : dormant_) cudaGraphExecDestroy(exec);
  dormant_.clear();
}

namespace {

// The value of environment switch `name`, one of `allowed` (the first is the default when unset).
std::string env_choice(const char* name, std::initializer_list<const char*> allowed) {
  const char* value = std::getenv(name);
  if (!value) return *allowed.begin();
  std::string list;
  for (const char* a : allowed) {
    if (std::string(value) == a) return value;
    list += (list.empty() ? "" : " or ") + std::string(a);
  }
  throw std::invalid_argument(std::string(name) + " must be " + list + ", got '" + value + "'");
}

}  // namespace

// The switches are read here, when a model or op set picks its precision.
void CudaBackendImpl::set_precision(Precision p) {
  const std::string layout = env_choice("INSALUN_CUDA_BF16_LAYOUT", {"nhwc", "nchw"});
  const std::string vector = env_choice("INSALUN_CUDA_VECTOR_LOADS", {"1", "0"});
  const std::string search = env_choice("INSALUN_CUDNN_SEARCH", {"benchmark", "heuristic"});
  const std::string deterministic = env_choice("INSALUN_CUDNN_DETERMINISTIC", {"0", "1"});
  const std::string sync = env_choice("INSALUN_CUDA_SYNC", {"0", "1"});
  precision_ = p;
  nhwc_ = p == Precision::kBf16 && layout == "nhwc";
  prepared_copies_ = nullptr;  // made for the previous precision and layout
  prepared_grads_ = nullptr;
  vector_loads_ = vector == "1";
  deterministic_ = deterministic == "1";
  sync_launches_ = sync == "1";
  // Reproducible runs take the heuristic ranking: benchmark timings differ between processes.
  benchmark_algorithms_ = search == "benchmark" && !deterministic_;
}

void* GrowingBuffer::reserve(size_t bytes, cudaStream_t stream, bool capturing, bool capture_alive, const char* what,
                             size_t min_bytes) {
  if (bytes <= bytes_ && data_) return data_;
  if (capturing)
    throw std::logic_error(std::string("growing ") + what +
                           " is not allowed while capturing a step (CUDA graph); the uncaptured "
                           "step before it should have sized it");
  // Grows by at least half its size, so that slowly rising requests (shape by shape, batch by
  // batch) reallocate, and retire buffers a captured step still uses, only a few times.
  const size_t grown = std::max({bytes, min_bytes, bytes_ + bytes_ / 2});
  if (data_ && capture_alive) {
    retired_.push_back(data_);  // the captured step still uses it
  } else if (data_) {
    CUDA_CHECK(cudaStreamSynchronize(stream));  // the launches queued so far may use it
    CUDA_CHECK(cudaFree(data_));
  }
  data_ = nullptr;
  bytes_ = 0;
  CUDA_CHECK(cudaMalloc(&data_, std::max<size_t>(grown, 1)));
  bytes_ = grown;
  return data_;
}

void GrowingBuffer::free_retired(cudaStream_t stream) noexcept {
  if (retired_.empty()) return;
  // A replay of the step that used them may still be running. After a device fault, which the
  // wait reports, they are freed all the same: nothing runs on the stream any more.
  cudaStreamSynchronize(stream);
  for (void* p : retired_) cudaFree(p);
  retired_.clear();
}

void GrowingBuffer::release() noexcept {
  for (void* p : retired_) cudaFree(p);
  retired_.clear();
  if (data_) cudaFree(data_);
  data_ = nullptr;
  bytes_ = 0;
}

}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend(std::string* why) {
  auto fail = [&](const std::string& reason) -> std::unique_ptr<Backend> {
    if (why) *why = reason;
    return nullptr;
  };
  // The runtime is linked statically, so the driver is the part that may be missing or too old.
  const std::string driver_problem = cuda_driver_problem();
  if (!driver_problem.empty()) return fail(driver_problem);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(std::string("no usable CUDA device: ") + cudaGetErrorString(e));
  }
  if (count == 0) return fail("no CUDA device found");
  // cuDNN is loaded here, on first use (cudnn_library.h): its absence leaves the CPU backend whole.
  const cuda::CudnnLibrary& cudnn = cuda::cudnn_library();
  if (!cudnn.usable) return fail(cudnn.problem);
  // Device 0: a new host thread (the addon's async workers) starts on device 0 as well, so the
  // backend needs no per-call cudaSetDevice. Use CUDA_VISIBLE_DEVICES to pick another GPU.
  try {
    auto backend = std::make_unique<cuda::CudaBackendImpl>(0);
    if (why) why->clear();
    return backend;
  } catch (const std::exception& ex) {
    return fail(ex.what());
  }
}

}  // namespace insalun
