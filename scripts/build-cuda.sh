#!/usr/bin/env bash
# Builds the addon with the CUDA/cuDNN backend as build/Release/insalun.node, where node-gyp-build
# finds it (it replaces a CPU-only build there). Needs nvcc (CUDA 12.x/13.x), CMake >= 3.18 and
# cuDNN 9, found through CUDNN_ROOT, the system paths, or a pip-installed nvidia-cudnn wheel.
# No GPU is needed to build.
#   scripts/build-cuda.sh                        # Release build for sm_80/86/89/90
#   CUDNN_ROOT=path/to/cudnn scripts/build-cuda.sh
#   CUDA_ARCHS="90" scripts/build-cuda.sh        # only Hopper: a quarter of the compile time
#   CPU_ARCH=native scripts/build-cuda.sh        # C++ for this CPU only (default on x86-64: x86-64-v3,
#                                                # any AVX2 CPU; the CPU kernels pick AVX-512 at run time)
#   scripts/build-cuda-portable.sh               # one file for every machine of a lab (see there)
# Environment: BUILD_DIR (CMake's tree, default build/cmake-cuda), OUTPUT_DIR (where insalun.node
# goes, default build/Release), CUDA_EMULATION=1 (the CPU emulation of CUDA instead, see
# scripts/build-cuda-emulation.sh), SANITIZE (a -fsanitize= value for the C++, e.g. address).
# Extra arguments go to cmake-js (e.g. --debug).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${CUDA_EMULATION:-0}" = 1 ]; then
  flavour=INSALUN_CUDA_EMULATION tree=build/cmake-emulation out=build/emulation
else
  flavour=INSALUN_CUDA tree=build/cmake-cuda out=build/Release
fi
work=$(realpath -m "${BUILD_DIR:-$tree}")
dest=$(realpath -m "${OUTPUT_DIR:-$out}")
# CMake's tree sits beside node-gyp's files in build/ rather than on top of them; the library
# output is redirected to $dest (the later -D wins over the one cmake-js derives from --out).
# The addon is built into the CMake tree and only replaces $dest/insalun.node (the CPU addon that
# npm install made, say) once a child Node process has loaded it: a build that cannot load on this
# machine never takes the place of one that can.
staged="$work/staged"
defs=(--out "$work" "--CD$flavour=ON" "--CDCMAKE_LIBRARY_OUTPUT_DIRECTORY=$staged")
[ -n "${CUDNN_ROOT:-}" ] && defs+=("--CDCUDNN_ROOT=$CUDNN_ROOT")
[ -n "${CUDA_ARCHS:-}" ] && defs+=("--CDINSALUN_CUDA_ARCHITECTURES=$CUDA_ARCHS")
[ -n "${CPU_ARCH+set}" ] && defs+=("--CDINSALUN_CPU_ARCH=$CPU_ARCH")
# Always passed, so that a later build without SANITIZE in the same tree drops it again.
defs+=("--CDINSALUN_SANITIZE=${SANITIZE:-}")
jobs=$(nproc 2>/dev/null || echo 4)

# Configure explicitly, then build: `cmake-js compile` alone keeps an existing cache and would
# silently ignore INSALUN_CUDA=ON after a CPU-only cmake-js build.
npx --no-install cmake-js configure "${defs[@]}" "$@"
npx --no-install cmake-js build --out "$work" --parallel "$jobs" "$@"

[ -f "$staged/insalun.node" ] || { echo "$(basename "$0"): $staged/insalun.node was not produced" >&2; exit 1; }
# A sanitizer build loads only with its runtime preloaded (scripts/sanitizer-runtime.sh): its user
# loads it that way, so the check is left to them.
if [ -n "${SANITIZE:-}" ]; then
  check="not loaded here: a -fsanitize=$SANITIZE build needs its runtime in LD_PRELOAD"
elif ! check=$(env -u INSALUN_ADDON node -e "
  const a = require(process.argv[1]);
  const b = a.backends();
  if (!b.cudaBuilt) throw new Error('the build reports no CUDA backend');
  console.log(b.cuda ? 'CUDA backend available' : 'CUDA backend not available here: ' + b.cudaWhy);" "$staged/insalun.node" 2>&1); then
  echo "$(basename "$0"): the new build does not load in Node, so $dest/insalun.node was left as it was:" >&2
  echo "$check" >&2
  exit 1
fi
mkdir -p "$dest"
cp "$staged/insalun.node" "$dest/.insalun.node.partial"
mv -f "$dest/.insalun.node.partial" "$dest/insalun.node"
echo "built $dest/insalun.node ($check)"
