// What the emulated CUDA runtime has done since the addon was loaded: a test aid for properties of
// the backend's structure that results cannot show, such as "no host synchronization inside an
// epoch" (the counts must not grow with the number of steps).
#pragma once

#include <cstdint>

namespace insalun::emulation {

struct RuntimeCounters {
  uint64_t synchronizations = 0;      // cudaStreamSynchronize calls
  uint64_t copies_to_device = 0;      // host-to-device cudaMemcpyAsync calls
  uint64_t copies_to_host = 0;        // device-to-host cudaMemcpyAsync calls
  uint64_t allocations = 0;           // cudaMalloc calls
  uint64_t kernels_run = 0;           // kernel launches executed, graph replays included
  uint64_t graph_launches = 0;        // cudaGraphLaunch calls
  uint64_t graph_instantiations = 0;  // cudaGraphInstantiate calls
  uint64_t graph_updates = 0;         // cudaGraphExecUpdate calls that updated
  // Device memory held now (cudaMalloc'd minus cudaFree'd, in the sizes handed out), and the most
  // it has been: whether everything a piece of work allocated came back.
  uint64_t live_device_bytes = 0;
  uint64_t peak_device_bytes = 0;
};
RuntimeCounters runtime_counters();

}  // namespace insalun::emulation
