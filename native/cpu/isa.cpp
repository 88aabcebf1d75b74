#include "isa.h"

#include <cstdlib>
#include <stdexcept>

#include "simd.h"

namespace insalun::cpu {
namespace {

bool cpu_has(Isa isa) {
#if INSALUN_SIMD_X86
  // The AVX-512 kernels use F, BW (16-bit masks), DQ and VL, as every AVX-512 CPU since Skylake-SP.
  __builtin_cpu_init();
  if (isa == Isa::avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx512)
    return cpu_has(Isa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return true;
#else
  return isa == Isa::generic;
#endif
}

Isa widest() {
  if (cpu_has(Isa::avx512)) return Isa::avx512;
  return cpu_has(Isa::avx2) ? Isa::avx2 : Isa::generic;
}

Isa choose() {
  const char* requested = std::getenv("INSALUN_CPU_ISA");
  const std::string name = requested ? requested : "";
  if (name.empty() || name == "auto") return widest();
  for (const Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (name != isa_name(isa)) continue;
    if (!cpu_has(isa))
      throw std::runtime_error("INSALUN_CPU_ISA=" + name + ": this CPU cannot run it (it runs " + isa_name(widest()) +
                               ")");
    return isa;
  }
  throw std::runtime_error("INSALUN_CPU_ISA=" + name +
                           ": expected avx2, avx512, auto or generic (no direct convolutions, the plain GEMM)");
}

}  // namespace

Isa active_isa() {
  static const Isa isa = choose();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
    default:
      return "generic";
  }
}

std::vector<std::string> runnable_isas() {
  std::vector<std::string> out;
  for (const Isa isa : {Isa::avx2, Isa::avx512})
    if (cpu_has(isa)) out.push_back(isa_name(isa));
  if (out.empty()) out.push_back(isa_name(Isa::generic));
  return out;
}

}  // namespace insalun::cpu
