// The CUDA runtime calls the backend makes, on host memory. Work runs synchronously on the calling
// thread, in issue order; a stream being captured records its work instead, and a graph launch
// replays the records, so that a captured step runs what was captured (with the arguments of the
// capture) and not what the host would do now. One emulated device, compute capability 9.0.
//
// Two things a GPU leaves unsaid are made to show. Work runs at once here, but is taken as queued
// until its stream is synchronized: a cudaFree of memory that such work was given is refused (CUDA
// only says that cudaFree *may* wait for it). And INSALUN_EMULATION_FAULT=KERNEL (a test aid) makes
// every launch of that kernel fault as a GPU kernel does: reported by the stream's next
// synchronization, which does not say which kernel it was.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../core/sanitizer.h"
#include "counters.h"
#include "emulation.h"
#include "kernel_runner.h"
#include "runtime.h"
#include "schedule.h"

// One recorded piece of work: a node of the graph a capture makes.
struct RecordedNode {
  insalun::emulation::NodeKind kind;
  std::function<void()> work;
  std::vector<const void*> uses;  // the device memory it is given
};
struct CUstream_st {
  bool capturing = false;
  bool invalidated = false;  // an unsupported call during the capture
  std::vector<RecordedNode> recorded;
  // The allocations given to the work issued since the stream's last synchronization (under
  // streams_mutex), and the fault of an INSALUN_EMULATION_FAULT kernel among that work.
  std::set<const void*> in_use;
  cudaError_t fault = cudaSuccess;
};
struct CUgraph_st {
  std::vector<RecordedNode> nodes;
};
struct CUgraphExec_st {
  std::vector<RecordedNode> nodes;
};

namespace insalun::emulation {
namespace {

// The counts behind runtime_counters() (counters.h), for every thread of the process.
std::mutex& counters_mutex = *new std::mutex;
RuntimeCounters counters;
void count(uint64_t RuntimeCounters::*counter) {
  std::lock_guard<std::mutex> lock(counters_mutex);
  ++(counters.*counter);
}
void count_device_bytes(size_t allocated, size_t freed) {
  std::lock_guard<std::mutex> lock(counters_mutex);
  counters.live_device_bytes = counters.live_device_bytes + allocated - freed;
  counters.peak_device_bytes = std::max(counters.peak_device_bytes, counters.live_device_bytes);
}

thread_local cudaError_t last_error = cudaSuccess;
thread_local std::string last_detail;

// Allocations, to refuse frees of unknown pointers as CUDA does.
std::mutex& allocations_mutex = *new std::mutex;
std::map<void*, size_t>& allocations = *new std::map<void*, size_t>;

CUstream_st legacy_stream;
CUstream_st* resolve(cudaStream_t s) { return s ? s : &legacy_stream; }

// Every stream, for cudaFree to ask whether work not yet synchronized uses the memory.
std::mutex& streams_mutex = *new std::mutex;
std::set<CUstream_st*>& streams = *new std::set<CUstream_st*>{&legacy_stream};

// The device allocation holding p, or null (host memory: a copy's source, a test aid's output).
const void* allocation_of(const void* p) {
  std::lock_guard<std::mutex> lock(allocations_mutex);
  auto it = allocations.upper_bound(const_cast<void*>(p));
  if (it == allocations.begin()) return nullptr;
  --it;
  return static_cast<const char*>(p) < static_cast<const char*>(it->first) + it->second ? it->first : nullptr;
}

// Whether work issued on some stream since its last synchronization uses allocation p.
bool in_use(const void* p) {
  std::lock_guard<std::mutex> lock(streams_mutex);
  for (const CUstream_st* s : streams)
    if (s->in_use.count(p)) return true;
  return false;
}

// Whether INSALUN_EMULATION_FAULT names `kernel` (its name up to the template arguments).
bool injected_fault(const std::string& kernel) {
  const char* name = std::getenv("INSALUN_EMULATION_FAULT");
  return name && *name && kernel.substr(0, kernel.find('<')) == name;
}

// Streams being captured by this thread (cudaStreamCaptureModeThreadLocal): the calls that are
// unsafe during a capture invalidate them and fail, as on a GPU.
thread_local std::vector<CUstream_st*> capturing_here;

bool refuse_during_capture() {
  if (capturing_here.empty()) return false;
  for (CUstream_st* s : capturing_here) s->invalidated = true;
  set_error(cudaErrorStreamCaptureUnsupported);
  return true;
}

cudaError_t fail(cudaError_t e) {
  set_error(e);
  return e;
}

}  // namespace

void set_error(cudaError_t e, const std::string& detail) {
  last_error = e;
  last_detail = detail;
}

RuntimeCounters runtime_counters() {
  std::lock_guard<std::mutex> lock(counters_mutex);
  return counters;
}

void enqueue(cudaStream_t stream, NodeKind kind, std::function<void()> work, std::vector<const void*> uses) {
  CUstream_st* s = resolve(stream);
  if (s->capturing) {
    s->recorded.push_back(RecordedNode{kind, std::move(work), std::move(uses)});
    return;
  }
  for (const void* p : uses)
    if (const void* allocation = allocation_of(p)) {
      std::lock_guard<std::mutex> lock(streams_mutex);
      s->in_use.insert(allocation);
    }
  work();
}

void submit_launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, const char* kernel,
                   std::function<void()> thread_body, std::vector<const void*> uses) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535 || shared_bytes > 48 * 1024) {
    set_error(cudaErrorInvalidConfiguration, std::string("invalid configuration for ") + kernel + ": grid " +
                                                 std::to_string(grid.x) + "x" + std::to_string(grid.y) + "x" +
                                                 std::to_string(grid.z) + ", block " + std::to_string(block.x) + "x" +
                                                 std::to_string(block.y) + "x" + std::to_string(block.z));
    return;
  }
  std::string name = kernel;
  enqueue(
      stream, NodeKind::kKernel,
      [grid, block, name, stream, body = std::move(thread_body)]() {
        count(&RuntimeCounters::kernels_run);
        try {
          // The order is read when the work runs (a graph replay included); see schedule.h.
          const Schedule schedule = current_schedule();
          static std::atomic<uint64_t> launches{0};
          const uint64_t salt = launches.fetch_add(1) * 2;
          const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
          const int threads = int(block.x * block.y * block.z);
          if (blocks > UINT32_MAX) throw std::length_error("more blocks than the emulator can order");
          const std::vector<uint32_t> block_order = schedule_order(schedule, uint32_t(blocks), salt);
          const std::vector<uint32_t> thread_order = schedule_order(schedule, uint32_t(threads), salt + 1);
          gridDim = grid;
          blockDim = block;
          for (uint64_t i = 0; i < blocks; ++i) {
            const uint64_t b = block_order.empty() ? i : block_order[i];
            blockIdx = uint3{unsigned(b % grid.x), unsigned(b / grid.x % grid.y), unsigned(b / grid.x / grid.y)};
            run_block(body, threads, thread_order.empty() ? nullptr : thread_order.data());
          }
        } catch (const std::exception& e) {
          // A kernel fault: reported by the next error check, as a GPU reports it.
          set_error(cudaErrorLaunchFailure, name + ": " + e.what());
        }
        if (injected_fault(name)) {
          std::lock_guard<std::mutex> lock(streams_mutex);
          resolve(stream)->fault = cudaErrorIllegalAddress;
        }
      },
      std::move(uses));
}

}  // namespace insalun::emulation

using insalun::emulation::fail;
using insalun::emulation::refuse_during_capture;
using insalun::emulation::resolve;

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = insalun::emulation::last_error;
  insalun::emulation::last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    case cudaErrorGraphExecUpdateFailure:
      return "cudaErrorGraphExecUpdateFailure";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  // The emulator's own account of the last failure, where it has one (a kernel's deadlock, say).
  thread_local std::string text;
  text = std::string(cudaGetErrorName(error)) + " in the CUDA emulation";
  if (!insalun::emulation::last_detail.empty()) text += ": " + insalun::emulation::last_detail;
  return text.c_str();
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof(*prop));
  std::strncpy(prop->name, "CUDA emulation on the CPU", sizeof(prop->name) - 1);
  prop->major = 9;
  prop->minor = 0;
  // Few SMs: grid-stride loops then cover many elements per thread, and launches stay cheap.
  prop->multiProcessorCount = 2;
  prop->totalGlobalMem = size_t(8) << 30;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func) {
  if (!func) return fail(cudaErrorInvalidValue);
  std::memset(attr, 0, sizeof(*attr));
  attr->maxThreadsPerBlock = 1024;
  attr->binaryVersion = 90;
  attr->ptxVersion = 90;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  if (refuse_during_capture()) return cudaErrorStreamCaptureUnsupported;
  insalun::emulation::count(&insalun::emulation::RuntimeCounters::allocations);
#if INSALUN_ASAN
  // Under AddressSanitizer the exact size, so that a read one byte past the end is caught.
  const size_t rounded = std::max<size_t>(bytes, 1);
#else
  // Whole 256-byte granules, as a GPU hands them out (reads past the end stay in the allocation).
  const size_t rounded = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
#endif
  void* mem = nullptr;
  if (posix_memalign(&mem, 256, rounded) != 0) return fail(cudaErrorMemoryAllocation);
  // Fresh device memory holds garbage: NaN bit patterns make reads of unwritten memory show.
  std::memset(mem, 0xff, rounded);
  {
    std::lock_guard<std::mutex> lock(insalun::emulation::allocations_mutex);
    insalun::emulation::allocations[mem] = rounded;
  }
  insalun::emulation::count_device_bytes(rounded, 0);
  *p = mem;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (refuse_during_capture()) return cudaErrorStreamCaptureUnsupported;
  if (!p) return cudaSuccess;
  if (insalun::emulation::in_use(p)) {
    insalun::emulation::set_error(cudaErrorIllegalState,
                                  "cudaFree of memory that work queued on a stream uses: CUDA's "
                                  "cudaFree need not wait for it; synchronize the stream first");
    return cudaErrorIllegalState;
  }
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(insalun::emulation::allocations_mutex);
    const auto found = insalun::emulation::allocations.find(p);
    if (found == insalun::emulation::allocations.end()) return fail(cudaErrorInvalidValue);
    bytes = found->second;
    insalun::emulation::allocations.erase(found);
  }
  insalun::emulation::count_device_bytes(0, bytes);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (resolve(stream)->capturing && kind != cudaMemcpyDeviceToDevice) {
    // Copies from or to pageable host memory cannot be captured.
    resolve(stream)->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  using insalun::emulation::RuntimeCounters;
  if (kind == cudaMemcpyHostToDevice) insalun::emulation::count(&RuntimeCounters::copies_to_device);
  if (kind == cudaMemcpyDeviceToHost) insalun::emulation::count(&RuntimeCounters::copies_to_host);
  insalun::emulation::enqueue(stream, insalun::emulation::NodeKind::kMemcpy,
                              [dst, src, count] { std::memmove(dst, src, count); }, {dst, src});
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t stream) {
  insalun::emulation::enqueue(stream, insalun::emulation::NodeKind::kMemset,
                              [dst, value, count] { std::memset(dst, value, count); }, {dst});
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  *stream = new CUstream_st;
  std::lock_guard<std::mutex> lock(insalun::emulation::streams_mutex);
  insalun::emulation::streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidValue);
  {
    std::lock_guard<std::mutex> lock(insalun::emulation::streams_mutex);
    insalun::emulation::streams.erase(stream);
  }
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (resolve(stream)->capturing) {
    resolve(stream)->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  insalun::emulation::count(&insalun::emulation::RuntimeCounters::synchronizations);
  // The work ran when it was issued; now it counts as done.
  cudaError_t fault = cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(insalun::emulation::streams_mutex);
    CUstream_st* s = resolve(stream);
    s->in_use.clear();
    std::swap(fault, s->fault);
  }
  return fault == cudaSuccess ? cudaSuccess : fail(fault);
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  CUstream_st* s = resolve(stream);
  if (!stream || s->capturing) return fail(cudaErrorIllegalState);
  s->capturing = true;
  s->invalidated = false;
  s->recorded.clear();
  insalun::emulation::capturing_here.push_back(s);
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  const CUstream_st* s = resolve(stream);
  *status = !s->capturing    ? cudaStreamCaptureStatusNone
            : s->invalidated ? cudaStreamCaptureStatusInvalidated
                             : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  CUstream_st* s = resolve(stream);
  *graph = nullptr;
  if (!s->capturing) return fail(cudaErrorIllegalState);
  s->capturing = false;
  auto& here = insalun::emulation::capturing_here;
  here.erase(std::remove(here.begin(), here.end(), s), here.end());
  std::vector<RecordedNode> nodes = std::move(s->recorded);
  s->recorded.clear();
  if (s->invalidated) return fail(cudaErrorStreamCaptureInvalidated);
  *graph = new CUgraph_st{std::move(nodes)};
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!graph) return fail(cudaErrorInvalidValue);
  insalun::emulation::count(&insalun::emulation::RuntimeCounters::graph_instantiations);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}

// A stream capture makes a chain, so the same topology is the same number of nodes; each node must
// keep its kind. Otherwise the executable graph is left as it was, as CUDA leaves it.
cudaError_t cudaGraphExecUpdate(cudaGraphExec_t exec, cudaGraph_t graph, cudaGraphExecUpdateResultInfo* info) {
  if (info) *info = cudaGraphExecUpdateResultInfo{};
  if (!exec || !graph) {
    if (info) info->result = cudaGraphExecUpdateError;
    return fail(cudaErrorInvalidValue);
  }
  cudaGraphExecUpdateResult result = cudaGraphExecUpdateSuccess;
  if (exec->nodes.size() != graph->nodes.size()) {
    result = cudaGraphExecUpdateErrorTopologyChanged;
  } else {
    for (size_t i = 0; i < graph->nodes.size(); ++i)
      if (exec->nodes[i].kind != graph->nodes[i].kind) result = cudaGraphExecUpdateErrorNodeTypeChanged;
  }
  if (info) info->result = result;
  if (result != cudaGraphExecUpdateSuccess) return fail(cudaErrorGraphExecUpdateFailure);
  insalun::emulation::count(&insalun::emulation::RuntimeCounters::graph_updates);
  exec->nodes = graph->nodes;
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec) return fail(cudaErrorInvalidValue);
  insalun::emulation::count(&insalun::emulation::RuntimeCounters::graph_launches);
  for (const auto& node : exec->nodes) insalun::emulation::enqueue(stream, node.kind, node.work, node.uses);
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

}  // extern "C"
