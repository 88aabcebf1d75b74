// Which instruction set the CPU backend's kernels use, chosen at run time: the C++ is built for
// x86-64-v3 (AVX2 and FMA), and the kernels whose speed depends on the vector width (the GEMM, the
// direct convolutions) are compiled a second time for AVX-512 in the same file (see simd.h); the
// first call picks the widest set the CPU has, or the one INSALUN_CPU_ISA names (avx2, avx512,
// auto, or generic: the build's baseline without the hand-written kernels), so that one machine can
// run, test and time each.
#pragma once

#include <string>
#include <vector>

namespace insalun::cpu {

enum class Isa { generic, avx2, avx512 };

// The kernels' instruction set for this process (fixed at the first call; throws for an
// INSALUN_CPU_ISA the CPU or the build cannot run).
Isa active_isa();
const char* isa_name(Isa isa);
// Every set this CPU and this build can run, narrowest first (["generic"] off x86).
std::vector<std::string> runnable_isas();

}  // namespace insalun::cpu
