// Compiles the kernel file named by INSALUN_KERNELS once per x86 instruction set: inside namespace
// avx2 with `using V = Avx2;` and inside namespace avx512 with `using V = Avx512;`, each under its
// target pragma (simd.h says why pragmas rather than -m flags). Include it, inside namespace
// insalun::cpu and after every header the kernels need, as
//   #define INSALUN_KERNELS "conv_direct_kernels.h"
//   #include "for_each_isa.h"
// (no include guard: each file that compiles kernels includes it once per kernel file).
#if INSALUN_SIMD_X86
INSALUN_BEGIN_AVX2
namespace avx2 {
using V = Avx2;
#include INSALUN_KERNELS
}  // namespace avx2
INSALUN_END_AVX2

INSALUN_BEGIN_AVX512
namespace avx512 {
using V = Avx512;
#include INSALUN_KERNELS
}  // namespace avx512
INSALUN_END_AVX512
#endif
#undef INSALUN_KERNELS
