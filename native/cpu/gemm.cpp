// The GEMM (gemm_kernels.h) compiled once per instruction set (simd.h), the copy chosen at run time
// (isa.h): AVX-512's 8x32 register tile measured 1.7-1.9x AVX2's 6x16 on the ResNet shapes.
#include "gemm.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "isa.h"
#include "parallel.h"
#include "simd.h"
#include "threads.h"

namespace insalun::cpu {

namespace generic {
using V = GenericVectors;
#include "gemm_kernels.h"
}  // namespace generic

#define INSALUN_KERNELS "gemm_kernels.h"
#include "for_each_isa.h"

#if INSALUN_SIMD_X86
#define INSALUN_GEMM(call) \
  (active_isa() == Isa::avx512 ? avx512::call : active_isa() == Isa::avx2 ? avx2::call : generic::call)
#else
#define INSALUN_GEMM(call) generic::call
#endif

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc, bool parallel) {
  INSALUN_GEMM(sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel));
}

double vector_multiply_add_loop(size_t rounds) { return INSALUN_GEMM(multiply_add_loop(rounds)); }
#undef INSALUN_GEMM

}  // namespace insalun::cpu
