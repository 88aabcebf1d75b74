// Runs one block of an emulated kernel: every thread a fiber on the calling OS thread, switched at
// __syncthreads and at warp shuffles, so that a block's threads see one another's shared-memory
// writes exactly where CUDA orders them. Blocks run one after another, threads in the order the
// caller gives (schedule.h). Every thread is a fiber, even in kernels that never synchronize: which
// threads reach a barrier or a shuffle can differ by warp (a warp-per-item loop whose spare warps
// never enter it), so no thread can be assumed to run as a plain call. A barrier waits for the
// threads that have not exited, as on current GPUs.
//
// The fiber switch: on x86-64 a few instructions that swap the callee-saved registers and the stack
// pointer (about 10 ns); elsewhere ucontext, whose swapcontext also saves the signal mask with a
// system call (about a microsecond: kernels with many barriers then run several times slower).
#include "kernel_runner.h"

#include <cstring>
#include <exception>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace insalun::emulation {
namespace {

constexpr int kWarp = 32;
constexpr size_t kStackBytes = 256 * 1024;

enum class State { kRunnable, kAtBarrier, kAtShuffle, kDone };

// ---- the context switch -------------------------------------------------------------------------
#if defined(__x86_64__) && defined(__ELF__)
// Saves the callee-saved registers on the current stack, stores the stack pointer in *from, loads
// `to` and restores the registers saved there (System V ABI: everything else is caller-saved; the
// floating-point control words are the same in every fiber and left alone).
extern "C" void insalun_emulation_switch(void** from, void* to);
asm(R"(
  .text
  .globl insalun_emulation_switch
  .hidden insalun_emulation_switch
  .type insalun_emulation_switch, @function
insalun_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size insalun_emulation_switch, .-insalun_emulation_switch
)");

struct Context {
  void* sp = nullptr;
};

void switch_context(Context& from, Context& to) { insalun_emulation_switch(&from.sp, to.sp); }

// A context that starts `entry` (which never returns) on the stack [base, base + bytes): the six
// registers insalun_emulation_switch pops, then `entry` as its return address, then a null frame
// address, with the alignment a call leaves (rsp + 8 a multiple of 16 at entry).
void make_context(Context& c, char* base, size_t bytes, void (*entry)()) {
  auto top = reinterpret_cast<uintptr_t>(base + bytes) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top);
  *--slot = nullptr;
  *--slot = reinterpret_cast<void*>(entry);
  for (int i = 0; i < 6; ++i) *--slot = nullptr;
  c.sp = slot;
}
#else
#include <ucontext.h>

struct Context {
  ucontext_t uc;
};

void switch_context(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }

void make_context(Context& c, char* base, size_t bytes, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = base;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;  // entry never returns
  makecontext(&c.uc, entry, 0);
}
#endif

// ---- the block scheduler ------------------------------------------------------------------------
struct Fiber {
  Context context;
  State state = State::kRunnable;
  uint64_t offered = 0, received = 0;  // the warp exchange
  int source = 0;
  unsigned mask = 0;
};

// The block being run on this OS thread.
struct BlockRun {
  const std::function<void()>* body = nullptr;
  std::vector<Fiber> fibers;
  Context scheduler;
  int current = 0;      // linear index of the running thread
  uint64_t serial = 0;  // this block's number among the blocks run on this OS thread, from 1
  std::string error;
};

thread_local BlockRun* active = nullptr;
thread_local uint64_t blocks_run = 0;
// Fiber stacks, kept for the next block (up to 1024 threads).
thread_local std::unique_ptr<char[]> stacks;
thread_local size_t stacks_for = 0;

void set_thread_index(int linear) {
  threadIdx.x = unsigned(linear) % blockDim.x;
  threadIdx.y = unsigned(linear) / blockDim.x % blockDim.y;
  threadIdx.z = unsigned(linear) / (blockDim.x * blockDim.y);
}

// A fiber's first frame: runs the kernel body for its thread, then hands back to the scheduler for
// good. An exception cannot unwind past a fiber's stack, so it is kept as the block's error.
void fiber_main() {
  BlockRun& run = *active;
  try {
    (*run.body)();
  } catch (const std::exception& e) {
    if (run.error.empty()) run.error = e.what();
  } catch (...) {
    if (run.error.empty()) run.error = "an unknown exception in a kernel";
  }
  run.fibers[run.current].state = State::kDone;
  switch_context(run.fibers[run.current].context, run.scheduler);
}

void start_fiber(BlockRun& run, int t) {
  Fiber& f = run.fibers[t];
  make_context(f.context, stacks.get() + size_t(t) * kStackBytes, kStackBytes, fiber_main);
  f.state = State::kRunnable;
}

void resume(BlockRun& run, int t) {
  run.current = t;
  set_thread_index(t);
  switch_context(run.scheduler, run.fibers[t].context);
}

// Leaves the running fiber in `state` and returns to the scheduler; back when released.
void wait_as(State state) {
  BlockRun& run = *active;
  const int t = run.current;
  run.fibers[t].state = state;
  switch_context(run.fibers[t].context, run.scheduler);
  set_thread_index(t);
}

// Releases the warps whose live lanes all wait at a shuffle, and the block when all its live
// threads wait at the barrier. Returns whether any thread was released.
bool release_waiting(BlockRun& run) {
  const int n = int(run.fibers.size());
  bool released = false;
  for (int w0 = 0; w0 < n; w0 += kWarp) {
    const int w1 = std::min(n, w0 + kWarp);
    bool all = true, any = false;
    for (int t = w0; t < w1; ++t) {
      const State s = run.fibers[t].state;
      if (s == State::kAtShuffle)
        any = true;
      else if (s != State::kDone)
        all = false;
    }
    if (!any || !all) continue;
    for (int t = w0; t < w1; ++t) {
      Fiber& f = run.fibers[t];
      if (f.state != State::kAtShuffle) continue;
      if (f.mask != 0xffffffffu && run.error.empty())
        run.error = "a warp shuffle with a partial mask (the emulator models full warps only)";
      const int src = w0 + f.source;
      if (f.source < 0 || f.source >= kWarp || src >= w1 || run.fibers[src].state != State::kAtShuffle) {
        if (run.error.empty())
          run.error = "a warp shuffle read lane " + std::to_string(f.source) +
                      ", which did not take part (an exited thread or a partial warp)";
        f.received = f.offered;
      } else {
        f.received = run.fibers[src].offered;
      }
    }
    for (int t = w0; t < w1; ++t)
      if (run.fibers[t].state == State::kAtShuffle) run.fibers[t].state = State::kRunnable;
    released = true;
  }
  bool all_at_barrier = true, any_at_barrier = false;
  for (const Fiber& f : run.fibers) {
    if (f.state == State::kAtBarrier)
      any_at_barrier = true;
    else if (f.state != State::kDone)
      all_at_barrier = false;
  }
  if (any_at_barrier && all_at_barrier) {
    for (Fiber& f : run.fibers)
      if (f.state == State::kAtBarrier) f.state = State::kRunnable;
    released = true;
  }
  return released;
}

}  // namespace

void run_block(const std::function<void()>& body, int threads, const uint32_t* order) {
  if (threads <= 0 || threads > 1024) throw std::logic_error("run_block: bad block size");
  if (stacks_for < size_t(threads)) {
    stacks.reset(new char[size_t(threads) * kStackBytes]);
    stacks_for = size_t(threads);
  }
  // The k-th thread to start (and, each round, to resume).
  auto nth = [order](int k) { return order ? int(order[k]) : k; };
  BlockRun run;
  run.body = &body;
  run.fibers.resize(size_t(threads));
  run.serial = ++blocks_run;
  BlockRun* outer = active;
  active = &run;
  struct Restore {
    BlockRun* outer;
    ~Restore() { active = outer; }
  } restore{outer};

  for (int t = 0; t < threads; ++t) start_fiber(run, t);
  for (;;) {
    bool ran = false;
    for (int k = 0; k < threads; ++k) {
      const int t = nth(k);
      if (run.fibers[t].state != State::kRunnable) continue;
      resume(run, t);
      ran = true;
    }
    bool done = true;
    for (const Fiber& f : run.fibers) done = done && f.state == State::kDone;
    if (done) break;
    if (!release_waiting(run) && !ran) {
      // Nobody can move: some threads wait at a barrier or shuffle that others never reach.
      // Their fibers are abandoned (the stacks are reused), as a hung GPU kernel would be killed.
      throw std::runtime_error(
          "emulated kernel deadlocked: threads wait at a barrier or warp "
          "shuffle that other threads of the block never reach");
    }
  }
  if (!run.error.empty()) throw std::runtime_error("emulated kernel: " + run.error);
}

void block_barrier() {
  BlockRun* run = active;
  if (!run) throw std::logic_error("__syncthreads outside an emulated kernel");
  wait_as(State::kAtBarrier);
}

uint64_t warp_exchange(unsigned mask, uint64_t value, int source) {
  BlockRun* run = active;
  if (!run) throw std::logic_error("a warp shuffle outside an emulated kernel");
  Fiber& f = run->fibers[run->current];
  f.offered = value;
  f.source = source;
  f.mask = mask;
  wait_as(State::kAtShuffle);
  return run->fibers[run->current].received;
}

int lane() { return active ? active->current % kWarp : 0; }

void poison_shared_once(void* array, size_t bytes, uint64_t* stamp) {
  if (!active) throw std::logic_error("a block-shared array outside an emulated kernel");
  if (*stamp == active->serial) return;
  std::memset(array, 0xff, bytes);
  *stamp = active->serial;
}

}  // namespace insalun::emulation
