// The order in which the emulator runs the blocks of a grid and the threads of a block.
//
// CUDA promises no order between blocks, nor between the threads of a block outside barriers and
// shuffles. Run in one fixed order, a kernel whose block reads what another block of the same
// launch writes (or a thread what another thread writes without a barrier) can pass by luck. The
// environment variable INSALUN_EMULATION_ORDER picks another order, read at every launch:
//   forward          (default) blocks x, then y, then z, and threads in index order
//   reverse          both backwards
//   shuffle[:SEED]   a fresh random order per launch, reproducible from SEED (default 1) and the
//                    number of launches before it
// A race-free kernel gives bit-identical results in every order. The backend's one atomic, the
// arrival counter of its one-launch reductions (impl.cuh), decides which block finishes a
// reduction, not the order in which it adds the partials, so it changes nothing there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace insalun::emulation {

struct Schedule {
  enum class Kind { kForward, kReverse, kShuffle } kind = Kind::kForward;
  uint64_t seed = 1;
};

// INSALUN_EMULATION_ORDER parsed; throws std::invalid_argument, saying what is accepted, on
// anything else.
Schedule current_schedule();

// The schedule's name as INSALUN_EMULATION_ORDER spells it ("shuffle:7").
std::string schedule_name(const Schedule& s);

// A permutation of 0..n-1 in the schedule's order; `salt` varies a shuffle between uses. Empty for
// forward, which callers run without a table.
std::vector<uint32_t> schedule_order(const Schedule& s, uint32_t n, uint64_t salt);

// A test aid: runs a kernel of `grid` blocks of `threads` threads through the emulated runtime and
// returns the order in which blocks started and in which the threads of block 0 ran (after a
// __syncthreads when `barrier`, which makes the threads fibers).
struct ScheduleTrace {
  std::vector<uint32_t> blocks, threads;
};
ScheduleTrace trace_schedule(unsigned grid, unsigned threads, bool barrier);

}  // namespace insalun::emulation
