// Single-precision GEMM for the CPU backend: C = alpha * op(A) * op(B) + beta * C, row-major.
// Cache-blocked (Goto/BLIS style: pack a KCxNC block of B and an MCxKC block of A, then a register-tiled
// micro-kernel: 8x32 with AVX-512, 6x16 otherwise) and written with GCC/Clang vector extensions, compiled
// once per instruction set and chosen at run time (isa.h). All cores through OpenMP.
#pragma once

#include <cstddef>

namespace insalun::cpu {

// parallel: use every OpenMP thread (false: run on the calling thread only, e.g. inside a
// parallel region that already splits the work).
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc, bool parallel = true);

// Floating-point operations of `rounds` rounds of independent vector multiply-adds on every thread
// (the kernel bench's arithmetic peak), in the active instruction set's vectors.
double vector_multiply_add_loop(size_t rounds);

}  // namespace insalun::cpu
