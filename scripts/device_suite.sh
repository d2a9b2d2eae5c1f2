#!/usr/bin/env bash
# The one script to run on the lent GPU machine. It builds nothing: it runs what
# scripts/pack_device_build.sh built here and packed into build-device/ (carried with the call).
#
#   bash scripts/device_suite.sh [BUILD_DIR]        (default: build-device)
#
# Steps, each under its own timeout, the whole suite inside PAL_SUITE_BUDGET_S (default 510 s, under
# the 9 minutes one call may take with margin):
#   info      nvidia-smi -q, GPU state, shared-library check
#   ctest     ctest -L gpu -j <cores> --output-on-failure
#   bench     pal-bench, full grids with v1, v2 and grouped rows (or the shapes of PAL_BENCH_SHAPES), CSV and Markdown, its
#             upstream columns from the figures measured on this kind of GPU (an H200 today); its
#             own time budget is what is left, at most 330 s
#   sanitize  compute-sanitizer memcheck / racecheck / synccheck / initcheck on small pal-run runs,
#             v1 and v2, with the recording probe (and memcheck / racecheck without it); the grouped
#             kernel's production launch under all four tools
# Everything lands flat in $OUT (at most 8 files come back from the device tool):
#   report.md  nvidia-smi.txt  ctest.log  bench.log  bench.csv  bench.md  sanitizer.log
# and report.md is printed last, ending with pal-bench's summary against upstream.
#
# Environment: OUT (where results go; default ./device-out), PAL_SUITE_STEPS (default
# "info,ctest,bench,sanitize"), PAL_BENCH_ARGS (extra pal-bench flags, e.g. "--quick"),
# PAL_CTEST_MAX_S (the ctest step's cap, default 200 s),
# PAL_BENCH_SHAPES (a shapes file in this checkout, e.g. bench/shapes/h200-v1-misses.csv: pal-bench
# times only those shapes, plus the copy ceiling), PAL_SUITE_BUDGET_S.
set -uo pipefail

suite_start=$(date +%s)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
build=${1:-build-device}
build_path=$root/$build
OUT=${OUT:-$root/device-out}
mkdir -p "$OUT"
steps=${PAL_SUITE_STEPS:-info,ctest,bench,sanitize}
budget=${PAL_SUITE_BUDGET_S:-510}
report=$OUT/report.md
step_rows=()

elapsed() { echo $(($(date +%s) - suite_start)); }
remaining() { echo $((budget - $(elapsed))); }
wants() { [[ ",$steps," == *",$1,"* ]]; }
note() { echo "[suite $(elapsed)s] $*"; }

# Runs one step under a timeout; records its exit status and duration for the report.
#   run_step NAME SECONDS LOGFILE command...
run_step() {
  local name=$1 seconds=$2 log=$3
  shift 3
  if [ "$seconds" -lt 10 ]; then
    note "$name: skipped, only ${seconds}s of the suite's budget left"
    step_rows+=("| $name | skipped (budget) | 0 | $(basename "$log") |")
    return 0
  fi
  note "$name: start (timeout ${seconds}s)"
  local start rc
  start=$(date +%s)
  timeout --kill-after=10 "$seconds" "$@" >>"$log" 2>&1
  rc=$?
  local took=$(($(date +%s) - start))
  local status="exit $rc"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && status="TIMEOUT after ${seconds}s"
  note "$name: $status in ${took}s"
  step_rows+=("| $name | $status | $took | $(basename "$log") |")
  return $rc
}

if [ ! -d "$build_path/bin" ]; then
  echo "device_suite: $build_path/bin does not exist. Build and pack here first (scripts/pack_device_build.sh)" \
       "and carry the folder: run(..., carry=[\"$build\"])." >&2
  exit 2
fi
export LD_LIBRARY_PATH="$build_path/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ctest's lists and the tests' data paths hold the absolute paths of the machine that built them
# (BUILD_INFO.txt). Where this checkout lives elsewhere, make those paths lead here.
info_value() { awk -v key="$1" '$1 == key {print $2}' "$build_path/BUILD_INFO.txt" 2>/dev/null; }
built_source=$(info_value source_dir)
built_build=$(info_value build_dir)
relocation="paths as built"
if [ -n "$built_source" ] && [ "$built_source" != "$root" ]; then
  if [ ! -e "$built_source" ]; then
    mkdir -p "$(dirname "$built_source")" && ln -s "$root" "$built_source" &&
      relocation="linked $built_source -> $root"
  else
    relocation="WARNING: built in $built_source, which exists here and is not this checkout ($root): ctest may run other binaries"
  fi
fi
if [ -n "$built_build" ] && [ ! -e "$built_build" ]; then
  ln -s "$build_path" "$built_build" && relocation="$relocation; linked $built_build -> $build_path"
fi
note "$relocation"

# ---- info --------------------------------------------------------------------------------------------
gpu_line="unknown"
library_problems=""
if wants info; then
  nvidia-smi -q >"$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi -q failed" >>"$OUT/nvidia-smi.txt"
  gpu_line=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,persistence_mode,compute_mode \
             --format=csv,noheader 2>/dev/null | head -1)
  for exe in "$build_path"/bin/*; do
    missing=$(ldd "$exe" 2>/dev/null | grep "not found" | awk '{print $1}' | tr '\n' ' ')
    [ -n "$missing" ] && library_problems+="$(basename "$exe"): $missing; "
  done
  [ -n "$library_problems" ] && note "missing shared libraries: $library_problems"
fi
gpu_state() {
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw,utilization.gpu,memory.used \
    --format=csv,noheader 2>/dev/null | head -1
}
state_before=$(gpu_state)

# ---- ctest -L gpu -------------------------------------------------------------------------------------
ctest_summary="not run"
if wants ctest; then
  : >"$OUT/ctest.log"
  # The GPU grid comes in shards meant to run side by side (tests/kernels/CMakeLists.txt), hence -j.
  # At most PAL_CTEST_MAX_S (default 200 s), and, when pal-bench or the sanitizer follow, never so
  # long that they get less than ~4 minutes (a full-instantiation build's grid needs more: run it
  # with PAL_SUITE_STEPS=info,ctest and a larger PAL_CTEST_MAX_S).
  ctest_reserve=$( (wants bench || wants sanitize) && echo 240 || echo 20)
  ctest_seconds=$(( $(remaining) - ctest_reserve ))
  ctest_max=${PAL_CTEST_MAX_S:-200}
  [ $ctest_seconds -gt "$ctest_max" ] && ctest_seconds=$ctest_max
  run_step ctest "$ctest_seconds" "$OUT/ctest.log" \
    bash -c "cd '$build_path' && ctest -L gpu -j $(nproc) -V --output-on-failure --timeout $((ctest_seconds - 10))"
  ctest_summary=$(grep -E "tests passed|No tests were found|Errors while running" "$OUT/ctest.log" | tr '\n' ' ')
  skipped_tests=$(grep -c '\*\*\*Skipped' "$OUT/ctest.log")
  # ctest counts a skipped test (exit 77: no GPU seen) as passed: say how many were skipped.
  [ "$skipped_tests" -gt 0 ] && ctest_summary="$ctest_summary(of which SKIPPED: $skipped_tests)"
  [ -z "$ctest_summary" ] && ctest_summary="(no summary line; see ctest.log)"
fi

# ---- pal-bench ----------------------------------------------------------------------------------------
bench_summary="not run"
if wants bench; then
  : >"$OUT/bench.log"
  if [ -x "$build_path/bin/pal-bench" ]; then
    # Keep ~100 s for the sanitizer and the report; pal-bench stops starting shapes at its budget,
    # and the timeout leaves it 60 s more to finish the shape in hand, the recording rows and files.
    left=$(remaining)
    sanitize_reserve=$(wants sanitize && echo 100 || echo 10)
    bench_budget=$(( left - sanitize_reserve - 60 ))
    [ $bench_budget -gt 330 ] && bench_budget=330
    shapes_args=()
    if [ -n "${PAL_BENCH_SHAPES:-}" ]; then
      shapes_args=(--shapes "$PAL_BENCH_SHAPES")
      note "bench: only the shapes of $PAL_BENCH_SHAPES"
    fi
    if [ $bench_budget -lt 20 ]; then
      note "bench: skipped, only ${left}s left"
      step_rows+=("| bench | skipped (budget) | 0 | bench.log |")
    else
      # shellcheck disable=SC2086  # PAL_BENCH_ARGS is a list of flags
      run_step bench $((bench_budget + 60)) "$OUT/bench.log" \
        "$build_path/bin/pal-bench" --csv "$OUT/bench.csv" --markdown "$OUT/bench.md" \
        --time-budget-s "$bench_budget" "${shapes_args[@]}" ${PAL_BENCH_ARGS:-}
    fi
    bench_summary=$(sed -n '/^== pal-bench summary/,$p' "$OUT/bench.log")
    [ -z "$bench_summary" ] && bench_summary="(pal-bench printed no summary; the end of bench.log:)
$(tail -20 "$OUT/bench.log")"
  else
    echo "pal-bench is not in $build_path/bin (built only with CUDA)" >>"$OUT/bench.log"
    bench_summary="pal-bench missing from $build/bin"
  fi
fi
state_after=$(gpu_state)

# ---- compute-sanitizer --------------------------------------------------------------------------------
sanitizer_rows=()
if wants sanitize; then
  : >"$OUT/sanitizer.log"
  sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  pal_run=$build_path/bin/pal-run
  if [ ! -x "$pal_run" ]; then
    echo "skipped: $pal_run does not exist (pal-run not built yet)" >>"$OUT/sanitizer.log"
    sanitizer_rows+=("| all | - | - | skipped: pal-run missing |")
  elif [ ! -x "$sanitizer" ]; then
    echo "skipped: compute-sanitizer not found" >>"$OUT/sanitizer.log"
    sanitizer_rows+=("| all | - | - | skipped: compute-sanitizer missing |")
  else
    # Small enough to sanitize in seconds, large enough to reach every path: a partial last
    # kv_block (37 tokens), GQA (4 query heads over 2 KV heads), and 2 partitions for v2 (700 tokens).
    scenario=(--num-seqs 3 --num-heads 4 --num-kv-heads 2 --head-size 64 --block-size 16 --dtype fp16
              --seq-lens "37,512,700" --seed 3)
    work=$(mktemp -d)
    sanitize_start=$(date +%s)
    # The kernel's full signature: an E5M2 cache at non-unit scales with block sparsity (v1 and v2;
    # the grouped kernel takes the fp8 cache, not block sparsity).
    full_signature=(--kv-cache-dtype fp8_e5m2 --k-scale 0.5 --v-scale 0.25 --blocksparse-vert-stride 4
                    --blocksparse-local-blocks 2 --blocksparse-block-size 64 --blocksparse-head-sliding-step 1)
    for version in v1 v2 grouped v1+fp8-sparse v2+fp8-sparse grouped+fp8; do
      cases=("memcheck record" "racecheck record" "synccheck record" "initcheck record"
             "memcheck production" "racecheck production")
      # The grouped kernel records on the emulator only: on the GPU every tool checks its production
      # launch (the main kernel and, with these short sequences on many SMs, split_merge).
      [ "$version" = grouped ] && cases=("memcheck production" "racecheck production" "synccheck production"
                                         "initcheck production")
      extra=()
      if [[ $version == *+fp8-sparse ]]; then
        extra=("${full_signature[@]}")
        cases=("memcheck record" "racecheck record" "initcheck record" "memcheck production")
      fi
      if [ "$version" = grouped+fp8 ]; then
        extra=(--kv-cache-dtype fp8_e5m2 --k-scale 0.5 --v-scale 0.25)
        cases=("memcheck production" "racecheck production")
      fi
      for case in "${cases[@]}"; do
        read -r tool mode <<<"$case"
        if [ $(( $(date +%s) - sanitize_start )) -gt 260 ] || [ "$(remaining)" -lt 25 ]; then
          sanitizer_rows+=("| $tool | $version | $mode | skipped: time budget |")
          continue
        fi
        # The reduced build compiles the fp8 / block-sparse kernels at head 128 only.
        version_scenario=("${scenario[@]}")
        [ ${#extra[@]} -gt 0 ] && version_scenario=("${scenario[@]/#64/128}")
        flags=(--backend gpu --version "${version%%+*}" "${version_scenario[@]}" "${extra[@]}")
        [ "$mode" = record ] && flags+=(--record)
        {
          echo "=================================================================="
          echo "== $tool, $version, $mode: pal-run ${flags[*]}"
        } >>"$OUT/sanitizer.log"
        lines_before=$(wc -l <"$OUT/sanitizer.log")
        (cd "$work" && timeout --kill-after=5 60 "$sanitizer" --tool "$tool" --error-exitcode 86 --print-limit 20 \
           "$pal_run" "${flags[@]}") >>"$OUT/sanitizer.log" 2>&1
        rc=$?
        summary=$(tail -n +$((lines_before + 1)) "$OUT/sanitizer.log" | grep "ERROR SUMMARY" | tail -1 | sed 's/^=* *//')
        case $rc in
          0) verdict="ok" ;;
          86) verdict="ERRORS FOUND" ;;
          124|137) verdict="TIMEOUT" ;;
          *) verdict="exit $rc" ;;
        esac
        sanitizer_rows+=("| $tool | $version | $mode | $verdict: ${summary:-no summary line} |")
      done
    done
    rm -rf "$work"
    step_rows+=("| sanitize | see table | $(( $(date +%s) - sanitize_start )) | sanitizer.log |")
  fi
fi

# ---- report -------------------------------------------------------------------------------------------
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo "unknown (no .git on this machine)")
{
  echo "# Device suite report"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- device: $gpu_line"
  echo "- GPU state before / after the benchmark (SM MHz, mem MHz, °C, W, util, mem used): $state_before / $state_after"
  echo "- commit (working tree here): $commit"
  echo "- build: $(head -1 "$build_path/BUILD_INFO.txt" 2>/dev/null || echo 'no BUILD_INFO.txt'); $(grep instantiations "$build_path/BUILD_INFO.txt" 2>/dev/null)"
  echo "- paths: $relocation"
  [ -n "$library_problems" ] && echo "- MISSING SHARED LIBRARIES: $library_problems"
  echo "- suite wall time: $(elapsed) s of a $budget s budget"
  echo
  echo "| step | status | seconds | log |"
  echo "|---|---|---|---|"
  printf '%s\n' "${step_rows[@]}"
  echo
  echo "## ctest -L gpu"
  echo
  echo "$ctest_summary"
  grep -E "^\s*[0-9]+/[0-9]+ Test" "$OUT/ctest.log" 2>/dev/null | sed 's/^/    /'
  echo
  echo "What the grids ran and skipped on this build (the tests' own lines):"
  echo
  grep -E "^[0-9]+: .*(running [0-9]+ of [0-9]+|skipped [0-9]+ of [0-9]+|scenarios run|not compiled)" "$OUT/ctest.log" 2>/dev/null |
    sed 's/^[0-9]*: /    /' | sort | uniq -c | sed 's/^/    /' | head -40
  echo
  echo "## compute-sanitizer (pal-run, small scenario)"
  echo
  if [ ${#sanitizer_rows[@]} -gt 0 ]; then
    echo "| tool | version | probe | result |"
    echo "|---|---|---|---|"
    printf '%s\n' "${sanitizer_rows[@]}"
  else
    echo "not run"
  fi
  echo
  echo "## pal-bench (full table: bench.md, bench.csv; log: bench.log)"
  echo
  grep -E "^device:|^CUDA runtime|^upstream figures|^device-to-device" "$OUT/bench.log" 2>/dev/null | sed 's/^/    /'
  echo
  echo '```'
  echo "$bench_summary"
  echo '```'
} >"$report"

cat "$report"
