// A test aid for the emulation's block-shared memory (INSALUN_SHARED, native/cuda/impl.cuh): what a
// kernel reads from a shared array before its block writes it, and after.
#pragma once

#include <cstdint>
#include <vector>

namespace insalun::emulation {

struct SharedMemoryProbe {
  // Per block, the float bits its thread 0 read from a shared array before the block wrote it
  // (another block's value here would mean shared memory leaks between blocks).
  std::vector<uint32_t> before_write;
  // Per block, what its last thread read back, after a barrier, through a second pass over the
  // declaration (a helper called again): the block's own write, block index + 1, if it survived.
  std::vector<float> after_write;
};
SharedMemoryProbe probe_shared_memory(unsigned blocks, unsigned threads);

}  // namespace insalun::emulation
