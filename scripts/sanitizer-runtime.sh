#!/usr/bin/env bash
# Prints the path of the AddressSanitizer runtime that an addon built with SANITIZE=address links,
# for LD_PRELOAD: Node itself is not instrumented, so the runtime has to be loaded ahead of
# everything else. Read from the addon's own dependencies, so it is the runtime of whichever
# compiler built it (GCC's libasan, or Clang's libclang_rt.asan, which CMakeLists.txt links as a
# shared library for this reason). Exits 1, saying why, when the addon links none.
#   LD_PRELOAD=$(scripts/sanitizer-runtime.sh build/emulation-asan/insalun.node) ASAN_OPTIONS=detect_leaks=0 ...
set -euo pipefail
addon=${1:?usage: sanitizer-runtime.sh <addon built with SANITIZE=address>}
[ -f "$addon" ] || { echo "sanitizer-runtime.sh: $addon does not exist" >&2; exit 1; }
line=$(ldd "$addon" 2>/dev/null | grep -E 'lib(asan|clang_rt\.asan)[^ ]*\.so' | head -n 1 || true)
[ -n "$line" ] || { echo "sanitizer-runtime.sh: $addon links no AddressSanitizer runtime (built without SANITIZE=address?)" >&2; exit 1; }
runtime=$(echo "$line" | awk '$3 ~ /^\// { print $3 }')
[ -n "$runtime" ] || { echo "sanitizer-runtime.sh: the loader cannot find the runtime $addon links ($(echo $line)); put its compiler's runtime folder on LD_LIBRARY_PATH" >&2; exit 1; }
echo "$runtime"
