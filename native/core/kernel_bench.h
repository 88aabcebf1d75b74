// Per-kernel timings of one ResNet-18 training step on a backend: every convolution direction per
// layer shape, the batch-norm passes (with their fused epilogues), the data gather, the optimizer,
// and two reference measurements of the device (a large device copy and a large 1x1 convolution)
// against which the kernels' rates can be read. For people who benchmark kernels: what each piece
// costs, how often a step runs it, and how close it gets to what the device can do.
#pragma once

#include <string>
#include <vector>

#include "backend.h"
#include "resnet.h"

namespace insalun {

struct KernelBenchConfig {
  ResNetConfig network;
  int batch = 256;
  double min_seconds = 0.05;  // each kernel is repeated until it has run at least this long
};

struct KernelTiming {
  std::string group;  // "peak", "conv", "batchnorm", "elementwise", "data", "optimizer"
  std::string kernel, shape;
  int per_step = 0;             // how many times one training step runs it (0 for the peak references)
  double seconds = 0;           // per call
  double flops = 0, bytes = 0;  // per call: useful floating-point work, and memory traffic
};

std::vector<KernelTiming> bench_kernels(Backend& backend, const KernelBenchConfig& config);

}  // namespace insalun
