// INSALUN_EMULATION_ORDER and the orders it names (see schedule.h).
#include "schedule.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

#include "emulation.h"

namespace insalun::emulation {
namespace {

// splitmix64: a full-period mixer, enough to draw a shuffle from (seed, salt).
uint64_t mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Schedule current_schedule() {
  const char* raw = std::getenv("INSALUN_EMULATION_ORDER");
  const std::string value = raw ? raw : "";
  Schedule s;
  if (value.empty() || value == "forward") return s;
  if (value == "reverse") {
    s.kind = Schedule::Kind::kReverse;
    return s;
  }
  if (value.rfind("shuffle", 0) == 0) {
    s.kind = Schedule::Kind::kShuffle;
    const std::string rest = value.substr(7);
    if (rest.empty()) return s;
    if (rest[0] == ':' && rest.size() > 1 && rest.size() <= 20 &&
        rest.find_first_not_of("0123456789", 1) == std::string::npos) {
      s.seed = std::strtoull(rest.c_str() + 1, nullptr, 10);
      return s;
    }
  }
  throw std::invalid_argument(
      "INSALUN_EMULATION_ORDER must be forward, reverse or shuffle[:SEED] "
      "(SEED a decimal integer), not '" +
      value + "'");
}

std::string schedule_name(const Schedule& s) {
  switch (s.kind) {
    case Schedule::Kind::kForward:
      return "forward";
    case Schedule::Kind::kReverse:
      return "reverse";
    case Schedule::Kind::kShuffle:
      return "shuffle:" + std::to_string(s.seed);
  }
  return "forward";
}

std::vector<uint32_t> schedule_order(const Schedule& s, uint32_t n, uint64_t salt) {
  std::vector<uint32_t> order;
  if (s.kind == Schedule::Kind::kForward) return order;
  order.resize(n);
  std::iota(order.begin(), order.end(), 0u);
  if (s.kind == Schedule::Kind::kReverse) {
    std::reverse(order.begin(), order.end());
    return order;
  }
  uint64_t state = s.seed * 0xd1b54a32d192ed03ull ^ salt;
  for (uint32_t i = n; i > 1; --i) {  // Fisher-Yates
    const uint32_t j = uint32_t(mix(state) % i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

namespace {

// Every thread appends its global index to `log` (after a barrier when `barrier`). A race on a GPU;
// here threads run one at a time, so the log is the order they ran in.
__global__ void record_order(uint32_t* log, uint32_t* count, bool barrier) {
  if (barrier) __syncthreads();
  log[(*count)++] = blockIdx.x * blockDim.x + threadIdx.x;
}

}  // namespace

ScheduleTrace trace_schedule(unsigned grid, unsigned threads, bool barrier) {
  if (grid == 0 || threads == 0 || threads > 1024 || uint64_t(grid) * threads > (1u << 20))
    throw std::invalid_argument("trace_schedule: threads must be 1..1024 and grid x threads at most 2^20");
  std::vector<uint32_t> log(size_t(grid) * threads);
  uint32_t count = 0;
  launch(dim3(grid), dim3(threads), 0, nullptr, record_order, "record_order")(log.data(), &count, barrier);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("trace_schedule: ") + cudaGetErrorString(e));
  // Blocks in the order their first thread ran; block 0's threads in the order they ran.
  ScheduleTrace trace;
  std::vector<bool> seen(grid, false);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t block = log[i] / threads, thread = log[i] % threads;
    if (!seen[block]) trace.blocks.push_back(block);
    seen[block] = true;
    if (block == 0) trace.threads.push_back(thread);
  }
  return trace;
}

}  // namespace insalun::emulation
