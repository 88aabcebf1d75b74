// INSALUN_ASAN is 1 when AddressSanitizer instruments this build: GCC defines
// __SANITIZE_ADDRESS__, Clang (before 17) only answers __has_feature(address_sanitizer). Memory
// handed out by the backends then has its exact size, so that one byte read past the end shows.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define INSALUN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INSALUN_ASAN 1
#endif
#endif
#ifndef INSALUN_ASAN
#define INSALUN_ASAN 0
#endif
