#!/usr/bin/env bash
# The style gate, run first by `npm test` (and so by CI): Biome formats and lints the TypeScript and
# JavaScript, clang-format formats the C++ and CUDA, both at one line length (120; biome.json,
# .clang-format). `npm run format` applies both instead of checking.
#   scripts/style.sh          check: prints what differs and fails
#   scripts/style.sh fix      rewrite the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t cpp < <(find native bench -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)
case "${1:-check}" in
  check)
    npx --no-install biome ci --colors=off .
    npx --no-install clang-format --dry-run --Werror "${cpp[@]}"
    echo "style: clean (Biome; clang-format over ${#cpp[@]} C++/CUDA files)"
    ;;
  fix)
    npx --no-install biome check --write .
    npx --no-install clang-format -i "${cpp[@]}"
    ;;
  *) echo "usage: $0 [check|fix]" >&2; exit 2 ;;
esac
