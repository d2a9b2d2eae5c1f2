#!/usr/bin/env bash
# Builds Paged Attention Lab and runs every test, the way CI does.
#
#   bash scripts/test.sh
#
# Environment:
#   PAL_PRESET          configure/build/test preset (default: default; CI uses ci). See CMakePresets.json.
#   PAL_JOBS            parallel build and test jobs (default: the number of cores)
#   PAL_SANITIZE_TESTS  0 skips the second pass: the host tests rebuilt with AddressSanitizer and
#                       UBSan (preset sanitize, in build-sanitize/). Default 1.
#   PAL_FUZZ_SECONDS    seconds each libFuzzer target runs in the third pass (preset fuzz, clang,
#                       in build-fuzz/; scripts/fuzz.sh). Default 60; 0 skips the pass.
# Tests that need a GPU are labelled gpu and skip with a message where there is none.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

preset=${PAL_PRESET:-default}
jobs=${PAL_JOBS:-$(nproc)}

bash scripts/setup.sh

echo "== configure + build (preset $preset, $jobs jobs)"
cmake --preset "$preset"
cmake --build --preset "$preset" --parallel "$jobs"

echo "== tests (preset $preset)"
ctest --preset "$preset" --output-on-failure --parallel "$jobs"

if [[ "${PAL_SANITIZE_TESTS:-1}" != "0" ]]; then
  echo "== host tests under AddressSanitizer + UBSan (preset sanitize)"
  cmake --preset sanitize
  cmake --build --preset sanitize --parallel "$jobs"
  ctest --preset sanitize --output-on-failure --parallel "$jobs"
fi

if [[ "${PAL_FUZZ_SECONDS:-60}" != "0" ]]; then
  echo "== fuzz targets under AddressSanitizer + UBSan (preset fuzz, ${PAL_FUZZ_SECONDS:-60} s each)"
  PAL_FUZZ_SECONDS=${PAL_FUZZ_SECONDS:-60} PAL_JOBS=$jobs bash scripts/fuzz.sh
fi
echo "== all tests passed"
