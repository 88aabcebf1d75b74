// cuDNN is loaded at run time (dlopen), not linked: the addon, and with it the CPU backend, loads
// on any machine, whatever is wrong with cuDNN there. cudnn_library() finds, checks and loads it
// once per process and says why it cannot be used; nothing may call a cuDNN function before it
// answers usable (the cuDNN functions this backend calls are forwarders into the loaded library,
// defined in cudnn_library.cpp).
//
// Version policy (NVIDIA's rule for cuDNN 9): an application built against cuDNN 9.y runs on 9.z
// only for z >= y. So a build supports the cuDNN of the headers it was compiled with and every
// newer 9.x; build against the oldest cuDNN your machines have. An older cuDNN is refused unless
// INSALUN_CUDNN_ALLOW_OLDER=1 (unsupported by NVIDIA; doctor says so). cuDNN must also be built
// for the CUDA major version of this addon's runtime (nvidia-cudnn-cu13 for CUDA 13).
//
// Where it looks, in this order: CUDNN_ROOT (the prefix holding lib/libcudnn.so.9, as for the
// build; when set, nowhere else), the dynamic loader's search path (LD_LIBRARY_PATH, the ldconfig
// cache, /usr/lib/...), then the nvidia-cudnn wheel of the python3 on PATH.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace insalun::cuda {

struct CudnnLibrary {
  bool usable = false;
  std::string path;                   // the libcudnn.so.9 that was loaded (empty if none)
  std::string found_by;               // how it was found: "CUDNN_ROOT", "the library search path", ...
  size_t version = 0;                 // cudnnGetVersion(): 10000 * major + 100 * minor + patch
  size_t cuda_version = 0;            // cudnnGetCudartVersion(): the CUDA it was built for
  std::string problem;                // empty when usable: otherwise the exact cause and the fix
  std::string note;                   // a caveat when usable (an older cuDNN allowed by the override)
  std::vector<std::string> searched;  // where it looked, for doctor
};

// Found, checked and loaded on the first call; the same answer afterwards. Never throws.
const CudnnLibrary& cudnn_library();

// "9.24.0" from cuDNN 9's version encoding.
std::string cudnn_version_text(size_t version);

}  // namespace insalun::cuda
