#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz: clang, ASan + UBSan) and runs each one for a bounded
# time from its seed corpus. CI runs it from scripts/test.sh.
#
#   bash scripts/fuzz.sh                  # every target (safetensors, scenario, dump), 60 s each
#   PAL_FUZZ_SECONDS=600 bash scripts/fuzz.sh scenario
#
# The three targets at 60 s each keep CI's fuzzing at 3 minutes.
#
# Environment:
#   PAL_FUZZ_SECONDS  seconds per target (default 60)
#   PAL_JOBS          parallel build jobs (default: the number of cores)
#
# Fails when a target reports a crash, a sanitizer finding, a leak, a timeout or an out-of-memory.
# The input that did it is kept in build-fuzz/findings/<target>/: once fixed, copy it into
# tests/data/fuzz/<target>/, where pal_test_fuzz_corpus replays it in every build.
#
# Inputs can be large (-max_len 131072) so that nesting far beyond the JSON depth limit is reached;
# the seeds include 30,000-deep nesting, deep enough to overflow the stack of an unguarded reader
# in this sanitized build (tests/fuzz/deep_seeds.py says why not the issue's 100,000).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=${PAL_FUZZ_SECONDS:-60}
jobs=${PAL_JOBS:-$(nproc)}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=(safetensors scenario dump); fi

echo "== fuzz targets: configure + build (preset fuzz, $jobs jobs)"
cmake --preset fuzz > /dev/null
# Only the fuzz targets (and the libraries they link): the fuzz preset's tests and tools are the
# other presets' business, and building them again with clang + ASan would double CI's build time.
fuzz_binaries=()
for target in "${targets[@]}"; do fuzz_binaries+=("pal_fuzz_$target"); done
cmake --build --preset fuzz --parallel "$jobs" --target "${fuzz_binaries[@]}"

for target in "${targets[@]}"; do
  binary=build-fuzz/bin/pal_fuzz_$target
  seeds=tests/fuzz/corpus/$target
  findings=build-fuzz/findings/$target
  # libFuzzer adds the inputs it finds to its first corpus folder: a scratch copy, never the sources.
  work=build-fuzz/corpus/$target
  rm -rf "$work"
  mkdir -p "$work" "$findings"
  cp "$seeds"/* "$work"/
  python3 tests/fuzz/deep_seeds.py "$target" "$work"
  corpora=("$work")
  if [[ -d tests/data/fuzz/$target ]]; then corpora+=("tests/data/fuzz/$target"); fi

  echo "== fuzz $target for ${seconds}s"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a run near 2 GiB is a runaway
  # allocation (the readers bound every size by the input's length).
  "$binary" "${corpora[@]}" -max_total_time="$seconds" -max_len=131072 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" -print_final_stats=1 2> "build-fuzz/fuzz-$target.log" || {
    tail -n 60 "build-fuzz/fuzz-$target.log"
    echo "fuzz: $target found a problem; the input is in $findings/" >&2
    exit 1
  }
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE" "build-fuzz/fuzz-$target.log" || true
done
echo "== fuzz: no findings"
