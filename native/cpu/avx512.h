// The AVX-512 intrinsics, where the compiler targets AVX-512. GCC 12's headers warn that their
// own _mm512_undefined_ps() is uninitialized (GCC bug 105593); the warning says nothing about the
// including file, so it is silenced around the include only.
#pragma once

#if defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
