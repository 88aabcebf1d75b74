// Finds, checks and loads cuDNN at run time (see cudnn_library.h), and defines the cuDNN functions
// the backend calls as forwarders into the loaded library, so that the addon has no load-time
// dependency on libcudnn.so.9. The CUDA emulation has its cuDNN built in and needs none of this.
#include "cudnn_library.h"

#include <cudnn.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <type_traits>

namespace insalun::cuda {

std::string cudnn_version_text(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

}  // namespace insalun::cuda

#ifdef INSALUN_CUDA_EMULATION

namespace insalun::cuda {

const CudnnLibrary& cudnn_library() {
  static const CudnnLibrary emulated = [] {
    CudnnLibrary lib;
    lib.usable = true;
    lib.path = "(built in)";
    lib.found_by = "the CPU emulation of CUDA";
    lib.version = CUDNN_VERSION;
    lib.cuda_version = CUDART_VERSION;
    return lib;
  }();
  return emulated;
}

}  // namespace insalun::cuda

#else  // a real CUDA build

namespace insalun::cuda {

namespace {

// Every cuDNN function the backend calls; a forwarder below for each. A cuDNN call elsewhere that
// is missing here would leave an undefined symbol in the addon (the CI check on the CUDA build,
// `nm -D --undefined-only`, finds it).
// clang-format off: one function a line (clang-format cannot settle on a layout for this list)
#define INSALUN_CUDNN_FUNCTIONS(X)                  \
  X(cudnnGetVersion)                                \
  X(cudnnGetCudartVersion)                          \
  X(cudnnGetErrorString)                            \
  X(cudnnGetLastErrorString)                        \
  X(cudnnCreate)                                    \
  X(cudnnDestroy)                                   \
  X(cudnnSetStream)                                 \
  X(cudnnOpsVersionCheck)                           \
  X(cudnnCnnVersionCheck)                           \
  X(cudnnCreateTensorDescriptor)                    \
  X(cudnnDestroyTensorDescriptor)                   \
  X(cudnnSetTensor4dDescriptor)                     \
  X(cudnnCreateFilterDescriptor)                    \
  X(cudnnDestroyFilterDescriptor)                   \
  X(cudnnSetFilter4dDescriptor)                     \
  X(cudnnCreateConvolutionDescriptor)               \
  X(cudnnDestroyConvolutionDescriptor)              \
  X(cudnnSetConvolution2dDescriptor)                \
  X(cudnnSetConvolutionMathType)                    \
  X(cudnnGetConvolution2dForwardOutputDim)          \
  X(cudnnFindConvolutionForwardAlgorithm)           \
  X(cudnnFindConvolutionBackwardDataAlgorithm)      \
  X(cudnnFindConvolutionBackwardFilterAlgorithm)    \
  X(cudnnGetConvolutionForwardAlgorithm_v7)         \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7)    \
  X(cudnnGetConvolutionBackwardFilterAlgorithm_v7)  \
  X(cudnnGetConvolutionForwardWorkspaceSize)        \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize)   \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize) \
  X(cudnnConvolutionForward)                        \
  X(cudnnConvolutionBackwardData)                   \
  X(cudnnConvolutionBackwardFilter)
// clang-format on

// The loaded library's entry points, typed from cudnn.h's own declarations.
struct CudnnApi {
#define INSALUN_CUDNN_SLOT(name) decltype(&::name) name = nullptr;
  INSALUN_CUDNN_FUNCTIONS(INSALUN_CUDNN_SLOT)
#undef INSALUN_CUDNN_SLOT
};

CudnnApi api;
std::atomic<bool> api_ready{false};  // set once every slot is filled and the library checked

// The sub-libraries that hold the graph, the legacy convolution API, the heuristics and the
// kernels. libcudnn.so.9 loads them lazily and aborts the process when one it needs is missing,
// so they are all checked before the first cuDNN call. The graph library first: it answers the
// version.
constexpr const char* kSubLibraries[] = {"libcudnn_graph.so.9",
                                         "libcudnn_ops.so.9",
                                         "libcudnn_cnn.so.9",
                                         "libcudnn_heuristic.so.9",
                                         "libcudnn_engines_precompiled.so.9",
                                         "libcudnn_engines_runtime_compiled.so.9"};

const char* kWheelHint =
    "pip install nvidia-cudnn-cu13 (any python3), then "
    "export CUDNN_ROOT=$(python3 -c 'import nvidia.cudnn as c; print(c.__path__[0])'); or a system "
    "install (NVIDIA's cudnn9-cuda-13 package)";

bool is_file(const std::string& path) {
  struct stat s;
  return stat(path.c_str(), &s) == 0 && S_ISREG(s.st_mode);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// The file a dlopen handle came from (the loader may have found it anywhere on its path).
std::string loaded_file(void* handle, const char* symbol) {
  Dl_info info{};
  void* address = dlsym(handle, symbol);
  if (address && dladdr(address, &info) && info.dli_fname) return info.dli_fname;
  return "";
}

std::string last_dlerror() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}

// The nvidia-cudnn wheel's folder of the python3 on PATH, or "".
std::string python_wheel_folder() {
  FILE* pipe = popen("python3 -c 'import nvidia.cudnn as c; print(c.__path__[0])' 2>/dev/null", "r");
  if (!pipe) return "";
  char line[4096] = {0};
  const bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  pclose(pipe);
  if (!got) return "";
  std::string folder(line);
  while (!folder.empty() && (folder.back() == '\n' || folder.back() == '\r')) folder.pop_back();
  return folder;
}

// The libcudnn.so.9 under a prefix (CUDNN_ROOT's layout: lib/, lib64/, or Debian's multiarch).
std::string library_under(const std::string& prefix) {
  for (const char* sub : {"/lib/", "/lib64/", "/lib/x86_64-linux-gnu/", "/lib/aarch64-linux-gnu/"})
    if (is_file(prefix + sub + "libcudnn.so.9")) return prefix + sub + "libcudnn.so.9";
  return "";
}

// Opens libcudnn.so.9 where the search order says; the handle, or nullptr with lib.problem set.
void* open_front_library(CudnnLibrary& lib) {
  if (const char* root = std::getenv("CUDNN_ROOT"); root && *root) {
    lib.searched.push_back(std::string("CUDNN_ROOT=") + root);
    const std::string file = library_under(root);
    if (file.empty()) {
      lib.problem = std::string("CUDNN_ROOT=") + root +
                    " holds no lib/libcudnn.so.9; point CUDNN_ROOT at the folder that holds "
                    "include/cudnn.h and lib/libcudnn.so.9 (for the pip wheel: python3 -c 'import "
                    "nvidia.cudnn as c; print(c.__path__[0])'), or unset it to search the system";
      return nullptr;
    }
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) lib.problem = file + " cannot be loaded: " + last_dlerror();
    lib.found_by = "CUDNN_ROOT";
    return handle;
  }
  lib.searched.push_back("the library search path (LD_LIBRARY_PATH, ldconfig, system folders)");
  if (void* handle = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL)) {
    lib.found_by = "the library search path";
    return handle;
  }
  const std::string loader_error = last_dlerror();
  const std::string wheel = python_wheel_folder();
  lib.searched.push_back("the nvidia-cudnn wheel of python3" +
                         (wheel.empty() ? std::string(" (none)") : " (" + wheel + ")"));
  if (!wheel.empty()) {
    const std::string file = library_under(wheel);
    if (!file.empty()) {
      void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) lib.problem = file + " cannot be loaded: " + last_dlerror();
      lib.found_by = "the nvidia-cudnn wheel of python3";
      return handle;
    }
  }
  // A "cannot open" is the expected miss; anything else (a broken file, a wrong architecture)
  // is worth showing as it is.
  const bool absent =
      loader_error.find("No such file") != std::string::npos || loader_error.find("cannot open") != std::string::npos;
  lib.problem = std::string("cuDNN 9 (libcudnn.so.9) was not found") + (absent ? "" : " (" + loader_error + ")") +
                "; install it: " + kWheelHint;
  return nullptr;
}

// A sub-library, next to the front library (where it looks first: it carries RPATH $ORIGIN), else
// on the loader's path; nullptr with `problem` set when neither has it. Loaded for good: cuDNN would
// load it on first use anyway.
void* open_sub_library(const std::string& folder, const char* name, std::string* problem) {
  const std::string beside = folder.empty() ? std::string() : folder + "/" + name;
  if (!beside.empty() && is_file(beside)) {
    if (void* handle = dlopen(beside.c_str(), RTLD_LAZY | RTLD_LOCAL)) return handle;
    *problem = std::string("cuDNN is incomplete: ") + beside + " cannot be loaded (" + last_dlerror() +
               "); reinstall cuDNN 9 (" + kWheelHint + ")";
    return nullptr;
  }
  if (void* handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL)) return handle;
  const std::string what = std::string(name).find("engines") != std::string::npos     ? "convolution kernels"
                           : std::string(name).find("heuristic") != std::string::npos ? "algorithm heuristics"
                                                                                      : "API";
  *problem = std::string("cuDNN is incomplete: ") + name + " is missing (looked beside " +
             (folder.empty() ? std::string("libcudnn.so.9") : folder + "/libcudnn.so.9") +
             " and on the library search path); it holds cuDNN's " + what +
             ", which the first convolution loads; reinstall cuDNN 9 (" + kWheelHint + ")";
  return nullptr;
}

template <typename Fn>
bool resolve(void* handle, const char* name, Fn* slot, CudnnLibrary& lib) {
  *slot = reinterpret_cast<Fn>(dlsym(handle, name));
  if (*slot) return true;
  lib.problem = lib.path + " has no " + name + ": it is not the cuDNN 9 library this addon needs";
  return false;
}

CudnnLibrary load() {
  CudnnLibrary lib;
  void* handle = open_front_library(lib);
  if (!handle) return lib;
  lib.path = loaded_file(handle, "cudnnGetVersion");
  if (lib.path.empty()) lib.path = "libcudnn.so.9";

  // libcudnn.so.9 hands every call, cudnnGetVersion included, to its sub-libraries, and aborts the
  // process when one is missing: nothing of it may run before they are all found. The version
  // comes first, from libcudnn_graph.so.9, which implements it: a library too old, or not cuDNN
  // at all, is refused before anything else is looked at.
  const std::string folder = directory_of(lib.path);
  void* graph = open_sub_library(folder, kSubLibraries[0], &lib.problem);
  if (!graph) return lib;
  auto graph_version = reinterpret_cast<size_t (*)()>(dlsym(graph, "cudnnGetVersion"));
  auto graph_cuda_version = reinterpret_cast<size_t (*)()>(dlsym(graph, "cudnnGetCudartVersion"));
  if (!graph_version || !graph_cuda_version) {
    lib.problem = folder + "/" + kSubLibraries[0] + " has no cudnnGetVersion: it is not cuDNN 9";
    return lib;
  }
  lib.version = graph_version();
  const std::string found = "cuDNN " + cudnn_version_text(lib.version) + " at " + lib.path;
  const std::string needed = cudnn_version_text(CUDNN_VERSION);
  if (lib.version / 10000 != CUDNN_MAJOR) {
    lib.problem = found + " is not cuDNN " + std::to_string(CUDNN_MAJOR) + "; this addon needs " + needed +
                  " or a newer " + std::to_string(CUDNN_MAJOR) + ".x: " + kWheelHint;
    return lib;
  }
  if (lib.version < CUDNN_VERSION) {
    const char* allow = std::getenv("INSALUN_CUDNN_ALLOW_OLDER");
    if (!(allow && std::string(allow) == "1")) {
      lib.problem = found + " is older than the " + needed +
                    " this addon was built against (NVIDIA supports only the same or a newer 9.x at "
                    "run time); install cuDNN " +
                    needed + " or newer (" + kWheelHint +
                    "), or rebuild the addon against this cuDNN's headers (CUDNN_ROOT=... npm run "
                    "build:cuda); INSALUN_CUDNN_ALLOW_OLDER=1 runs it anyway, unsupported";
      return lib;
    }
    lib.note = "older than the " + needed +
               " headers it was built against; allowed by "
               "INSALUN_CUDNN_ALLOW_OLDER=1, a combination NVIDIA does not support";
  }
  lib.cuda_version = graph_cuda_version();
  if (lib.cuda_version / 1000 != CUDART_VERSION / 1000) {
    lib.problem = found + " is built for CUDA " + std::to_string(lib.cuda_version / 1000) +
                  " but this addon uses the CUDA " + std::to_string(CUDART_VERSION / 1000) +
                  " runtime; install the cuDNN for CUDA " + std::to_string(CUDART_VERSION / 1000) +
                  " (pip install nvidia-cudnn-cu" + std::to_string(CUDART_VERSION / 1000) + ")";
    return lib;
  }
  for (const char* name : kSubLibraries)
    if (!open_sub_library(folder, name, &lib.problem)) return lib;
#define INSALUN_CUDNN_RESOLVE(name) \
  if (!resolve(handle, #name, &api.name, lib)) return lib;
  INSALUN_CUDNN_FUNCTIONS(INSALUN_CUDNN_RESOLVE)
#undef INSALUN_CUDNN_RESOLVE
  lib.usable = true;
  api_ready.store(true, std::memory_order_release);
  return lib;
}

// What a forwarder answers if called before cuDNN was loaded (a bug: callers check first).
template <typename R>
R not_loaded() {
  if constexpr (std::is_same_v<R, cudnnStatus_t>)
    return CUDNN_STATUS_NOT_INITIALIZED;
  else if constexpr (std::is_same_v<R, const char*>)
    return "cuDNN is not loaded";
  else if constexpr (!std::is_void_v<R>)
    return R{};
}

}  // namespace

const CudnnLibrary& cudnn_library() {
  static std::once_flag once;
  static CudnnLibrary lib;
  std::call_once(once, [] {
    try {
      lib = load();
    } catch (const std::exception& e) {  // std::bad_alloc from the strings, at worst
      lib = CudnnLibrary{};
      lib.problem = std::string("loading cuDNN failed: ") + e.what();
    }
  });
  return lib;
}

}  // namespace insalun::cuda

// ---- the forwarders: cudnn.h's declarations, defined here (hidden, so no other module sees them)

namespace {
using insalun::cuda::CudnnApi;

const CudnnApi* loaded_api() {
  return insalun::cuda::api_ready.load(std::memory_order_acquire) ? &insalun::cuda::api : nullptr;
}
}  // namespace

// One forwarder: RET NAME PARAMS calls the loaded library's NAME with ARGS.
#define INSALUN_CUDNN_FORWARD(ret, name, params, args) \
  extern "C" ret CUDNNWINAPI name params {             \
    const CudnnApi* a = loaded_api();                  \
    if (!a) return insalun::cuda::not_loaded<ret>();   \
    return a->name args;                               \
  }

// Deprecated in cuDNN 9 (the legacy convolution API), still supported through 9.x.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

using Tensor = cudnnTensorDescriptor_t;
using Filter = cudnnFilterDescriptor_t;
using Conv = cudnnConvolutionDescriptor_t;

INSALUN_CUDNN_FORWARD(size_t, cudnnGetVersion, (void), ())
INSALUN_CUDNN_FORWARD(size_t, cudnnGetCudartVersion, (void), ())
INSALUN_CUDNN_FORWARD(const char*, cudnnGetErrorString, (cudnnStatus_t s), (s))
INSALUN_CUDNN_FORWARD(void, cudnnGetLastErrorString, (char* message, size_t max_size), (message, max_size))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnCreate, (cudnnHandle_t * h), (h))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnDestroy, (cudnnHandle_t h), (h))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnSetStream, (cudnnHandle_t h, cudaStream_t s), (h, s))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnOpsVersionCheck, (void), ())
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnCnnVersionCheck, (void), ())
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnCreateTensorDescriptor, (Tensor * d), (d))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnDestroyTensorDescriptor, (Tensor d), (d))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnSetTensor4dDescriptor,
                      (Tensor d, cudnnTensorFormat_t f, cudnnDataType_t t, int n, int c, int h, int w),
                      (d, f, t, n, c, h, w))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnCreateFilterDescriptor, (Filter * d), (d))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnDestroyFilterDescriptor, (Filter d), (d))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnSetFilter4dDescriptor,
                      (Filter d, cudnnDataType_t t, cudnnTensorFormat_t f, int k, int c, int h, int w),
                      (d, t, f, k, c, h, w))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnCreateConvolutionDescriptor, (Conv * d), (d))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnDestroyConvolutionDescriptor, (Conv d), (d))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnSetConvolution2dDescriptor,
                      (Conv d, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w, cudnnConvolutionMode_t mode,
                       cudnnDataType_t compute),
                      (d, pad_h, pad_w, u, v, dil_h, dil_w, mode, compute))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnSetConvolutionMathType, (Conv d, cudnnMathType_t m), (d, m))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolution2dForwardOutputDim,
                      (const Conv conv, const Tensor x, const Filter w, int* n, int* c, int* h, int* wo),
                      (conv, x, w, n, c, h, wo))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnFindConvolutionForwardAlgorithm,
                      (cudnnHandle_t h, const Tensor x, const Filter w, const Conv conv, const Tensor y,
                       const int requested, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf),
                      (h, x, w, conv, y, requested, returned, perf))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnFindConvolutionBackwardDataAlgorithm,
                      (cudnnHandle_t h, const Filter w, const Tensor dy, const Conv conv, const Tensor dx,
                       const int requested, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf),
                      (h, w, dy, conv, dx, requested, returned, perf))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnFindConvolutionBackwardFilterAlgorithm,
                      (cudnnHandle_t h, const Tensor x, const Tensor dy, const Conv conv, const Filter dw,
                       const int requested, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf),
                      (h, x, dy, conv, dw, requested, returned, perf))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolutionForwardAlgorithm_v7,
                      (cudnnHandle_t h, const Tensor x, const Filter w, const Conv conv, const Tensor y,
                       const int requested, int* returned, cudnnConvolutionFwdAlgoPerf_t* perf),
                      (h, x, w, conv, y, requested, returned, perf))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithm_v7,
                      (cudnnHandle_t h, const Filter w, const Tensor dy, const Conv conv, const Tensor dx,
                       const int requested, int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf),
                      (h, w, dy, conv, dx, requested, returned, perf))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithm_v7,
                      (cudnnHandle_t h, const Tensor x, const Tensor dy, const Conv conv, const Filter dw,
                       const int requested, int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf),
                      (h, x, dy, conv, dw, requested, returned, perf))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolutionForwardWorkspaceSize,
                      (cudnnHandle_t h, const Tensor x, const Filter w, const Conv conv, const Tensor y,
                       cudnnConvolutionFwdAlgo_t algo, size_t* bytes),
                      (h, x, w, conv, y, algo, bytes))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolutionBackwardDataWorkspaceSize,
                      (cudnnHandle_t h, const Filter w, const Tensor dy, const Conv conv, const Tensor dx,
                       cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes),
                      (h, w, dy, conv, dx, algo, bytes))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnGetConvolutionBackwardFilterWorkspaceSize,
                      (cudnnHandle_t h, const Tensor x, const Tensor dy, const Conv conv, const Filter dw,
                       cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes),
                      (h, x, dy, conv, dw, algo, bytes))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnConvolutionForward,
                      (cudnnHandle_t h, const void* alpha, const Tensor xd, const void* x, const Filter wd,
                       const void* w, const Conv conv, cudnnConvolutionFwdAlgo_t algo, void* ws, size_t ws_bytes,
                       const void* beta, const Tensor yd, void* y),
                      (h, alpha, xd, x, wd, w, conv, algo, ws, ws_bytes, beta, yd, y))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnConvolutionBackwardData,
                      (cudnnHandle_t h, const void* alpha, const Filter wd, const void* w, const Tensor dyd,
                       const void* dy, const Conv conv, cudnnConvolutionBwdDataAlgo_t algo, void* ws, size_t ws_bytes,
                       const void* beta, const Tensor dxd, void* dx),
                      (h, alpha, wd, w, dyd, dy, conv, algo, ws, ws_bytes, beta, dxd, dx))
INSALUN_CUDNN_FORWARD(cudnnStatus_t, cudnnConvolutionBackwardFilter,
                      (cudnnHandle_t h, const void* alpha, const Tensor xd, const void* x, const Tensor dyd,
                       const void* dy, const Conv conv, cudnnConvolutionBwdFilterAlgo_t algo, void* ws, size_t ws_bytes,
                       const void* beta, const Filter dwd, void* dw),
                      (h, alpha, xd, x, dyd, dy, conv, algo, ws, ws_bytes, beta, dwd, dw))

#pragma GCC diagnostic pop

#endif  // a real CUDA build
