// Device memory owned by one object: every allocation made through a DeviceAllocations is freed
// when it goes away, however the call ends, unless freed before. Used by the engine (its buffers
// for its lifetime), the engine's passes, the per-kernel bench and the op bindings.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "backend.h"

namespace insalun {

class DeviceAllocations {
 public:
  explicit DeviceAllocations(Backend& backend) : be_(backend) {}
  ~DeviceAllocations() {
    for (const auto& owned : owned_) be_.release_bytes(owned.first);
  }
  DeviceAllocations(const DeviceAllocations&) = delete;
  DeviceAllocations& operator=(const DeviceAllocations&) = delete;

  Backend& backend() { return be_; }
  // The bytes of every allocation held now.
  size_t held_bytes() const {
    size_t total = 0;
    for (const auto& owned : owned_) total += owned.second;
    return total;
  }

  // Uninitialized; never null, even for n = 0.
  void* bytes(size_t n) {
    n = std::max<size_t>(n, 1);
    return keep(be_.alloc_bytes(n), n);
  }
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
  // Uninitialized activations, n elements of the backend's type (at least one).
  Act* activations(size_t n) { return static_cast<Act*>(bytes(std::max<size_t>(n, 1) * be_.activation_bytes())); }
  // Activations of shape s (backend type and layout) from float32 NCHW values on the device.
  Act* activations(const NormShape& s, const float* values) {
    Act* a = activations(s.size());
    be_.activations_from_float(s, values, a);
    return a;
  }

  // Frees each of these allocations now, in order, and sets each pointer to null; null ones are
  // skipped. A failure to free throws (Backend::free_bytes), the allocation forgotten all the same
  // so that it is never freed twice.
  template <typename... T>
  void free(T*&... p) {
    (free_one(p), ...);
  }

 private:
  void* keep(void* p, size_t n) {
    owned_.emplace_back(p, n);
    return p;
  }
  template <typename T>
  void free_one(T*& p) {
    void* const bytes = p;
    if (!bytes) return;
    const auto it = std::find_if(owned_.begin(), owned_.end(), [&](const auto& owned) { return owned.first == bytes; });
    if (it == owned_.end()) throw std::logic_error("DeviceAllocations::free: not allocated here");
    owned_.erase(it);
    p = nullptr;
    be_.free_bytes(bytes);
  }

  Backend& be_;
  std::vector<std::pair<void*, size_t>> owned_;  // each allocation and its bytes
};

}  // namespace insalun
