// Device memory for the length of one call: every allocation made through a DeviceAllocations is
// freed when it goes away, however the call ends. Used by the engine's passes, the per-kernel
// bench and the op bindings.
#pragma once

#include <algorithm>
#include <vector>

#include "backend.h"

namespace insalun {

class DeviceAllocations {
 public:
  explicit DeviceAllocations(Backend& backend) : be_(backend) {}
  ~DeviceAllocations() {
    for (void* p : owned_) be_.release_bytes(p);
  }
  DeviceAllocations(const DeviceAllocations&) = delete;
  DeviceAllocations& operator=(const DeviceAllocations&) = delete;

  Backend& backend() { return be_; }

  // Uninitialized; never null, even for n = 0.
  void* bytes(size_t n) { return keep(be_.alloc_bytes(std::max<size_t>(n, 1))); }
  float* floats(size_t n) { return static_cast<float*>(bytes(n * sizeof(float))); }
  float* filled(size_t n, float value) {
    float* p = floats(n);
    be_.fill(p, value, n);
    return p;
  }
  template <typename T>
  T* upload(const T* data, size_t n) {
    T* p = static_cast<T*>(bytes(n * sizeof(T)));
    if (n) be_.upload_bytes(p, data, n * sizeof(T));
    return p;
  }
  // Activations of shape s (backend type and layout) from float32 NCHW values on the device.
  Act* activations(const NormShape& s, const float* values) {
    Act* a = static_cast<Act*>(keep(be_.alloc_activations(std::max<size_t>(s.size(), 1))));
    be_.activations_from_float(s, values, a);
    return a;
  }

 private:
  void* keep(void* p) {
    owned_.push_back(p);
    return p;
  }

  Backend& be_;
  std::vector<void*> owned_;
};

}  // namespace insalun
