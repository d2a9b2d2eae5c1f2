#!/usr/bin/env bash
# Shared-memory wavefronts, bank conflicts and global sectors of one scenario: measured by ncu on the
# GPU and predicted by the emulator's access profile (pal-run --profile), in one Markdown table.
# Both sides run pal-run with the same scenario flags, so the scenario is the same by construction.
#
# On the device machine, after scripts/pack_device_build.sh here (carry build-device):
#   bash scripts/ncu_vs_emulator.sh [--build DIR] [-- SCENARIO FLAGS...]
# Default scenario: run 11's shape for one sequence (v1, fp16, head 128, block 16, 32 query / 8 KV
# heads, 8192 tokens): every thread_block of run 11's batch of 32 does the same work, so its counters
# per thread_block are these.
#
# Writes to $OUT (default ./device-out): ncu_vs_emulator.md (the table), ncu_metrics.csv (ncu's raw
# CSV), emulator_profile.txt (pal-run --profile's report, per stage and source line).
# Only the attention kernel is compared (paged_attention_kernel, or grouped_attention_kernel): the
# emulator's profile has no sites in v2's reduce kernel or the grouped kernel's split merge.
# Exit status: 0 when the table was written, 2 when a tool is missing or a run failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
build=build-device
if [ "${1:-}" = "--build" ]; then
  build=$2
  shift 2
fi
[ "${1:-}" = "--" ] && shift
flags=("$@")
if [ ${#flags[@]} -eq 0 ]; then
  flags=(--version v1 --dtype fp16 --head-size 128 --block-size 16 --num-heads 32 --num-kv-heads 8 --seq-lens 8192)
fi
OUT=${OUT:-$root/device-out}
mkdir -p "$OUT"
bin=$root/$build/bin
export LD_LIBRARY_PATH="$root/$build/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
if [ ! -x "$bin/pal-run" ]; then
  echo "ncu_vs_emulator: $bin/pal-run does not exist (build and pack with scripts/pack_device_build.sh, carry $build)" >&2
  exit 2
fi
if [ ! -x "$ncu" ]; then
  echo "ncu_vs_emulator: ncu not found (PATH or /usr/local/cuda/bin)" >&2
  exit 2
fi

# metric name | the emulator's total it is set beside (run/access_report.cpp) | what it counts
rows=(
  "smsp__sass_inst_executed_op_shared_ld.sum|shared_ld_instructions|shared-load instructions (warp-wide)"
  "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum|shared_ld_wavefronts|shared-load wavefronts"
  "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum|shared_ld_bank_conflicts|shared-load bank conflicts (wavefronts - ideal)"
  "smsp__sass_inst_executed_op_shared_st.sum|shared_st_instructions|shared-store instructions"
  "l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum|shared_st_wavefronts|shared-store wavefronts"
  "l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum|shared_st_bank_conflicts|shared-store bank conflicts"
  "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum|global_ld_requests|global-load requests"
  "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum|global_ld_sectors|global-load sectors"
  "l1tex__t_requests_pipe_lsu_mem_global_op_ldgsts.sum|-|cp.async requests (grouped; the emulator counts them as global loads)"
  "l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts.sum|-|cp.async sectors"
)
metrics=$(printf '%s\n' "${rows[@]}" | cut -d'|' -f1 | paste -sd, -)

echo "== emulator: pal-run --profile ${flags[*]}"
if ! "$bin/pal-run" --backend emulator --profile "${flags[@]}" >"$OUT/emulator_profile.txt" 2>&1; then
  echo "ncu_vs_emulator: the emulator's run failed (its exit status is 1 when a stage is out of tolerance):" >&2
  tail -5 "$OUT/emulator_profile.txt" >&2
  grep -q "^profile totals:" "$OUT/emulator_profile.txt" || exit 2
fi

echo "== ncu: pal-run --backend gpu ${flags[*]}"
# The production kernel (no --record: the no-op probe), the attention kernel's launches only.
if ! "$ncu" --csv --metrics "$metrics" --kernel-name-base function \
      --kernel-name "regex:^(paged_attention_kernel|grouped_attention_kernel)$" \
      "$bin/pal-run" --backend gpu "${flags[@]}" >"$OUT/ncu_metrics.csv" 2>"$OUT/ncu_stderr.txt"; then
  echo "ncu_vs_emulator: ncu failed:" >&2
  tail -5 "$OUT/ncu_stderr.txt" >&2
  exit 2
fi

# A metric's value summed over the profiled launches: the last quoted field of its CSV lines,
# thousands separators dropped.
measured() {
  grep "\"$1\"" "$OUT/ncu_metrics.csv" | sed 's/.*,"\([^"]*\)"[[:space:]]*$/\1/' | tr -d ', ' |
    awk '{s += $1; n++} END {if (n) printf "%.0f", s; else printf "-"}'
}
predicted() { awk -v key="$1" '$1 == key && $2 == "=" {print $3}' "$OUT/emulator_profile.txt"; }
launches=$(grep -c "\"smsp__sass_inst_executed_op_shared_ld.sum\"" "$OUT/ncu_metrics.csv")

table=$OUT/ncu_vs_emulator.md
{
  echo "# ncu measured vs emulator predicted"
  echo
  echo "scenario: \`pal-run ${flags[*]}\`; $(grep -m1 '^scenario' "$OUT/emulator_profile.txt" | sed 's/^scenario *: //')"
  echo "device: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1);" \
       "ncu $("$ncu" --version 2>/dev/null | tail -1); attention-kernel launches profiled: $launches;" \
       "emulator thread_blocks: $(predicted thread_blocks)"
  echo
  echo "| counter | ncu metric | ncu measured | emulator predicted | measured / predicted |"
  echo "|---|---|---:|---:|---:|"
  for row in "${rows[@]}"; do
    IFS='|' read -r metric key what <<<"$row"
    m=$(measured "$metric")
    p=-
    [ "$key" != "-" ] && p=$(predicted "$key")
    ratio=$(awk -v m="$m" -v p="$p" 'BEGIN { if (m == "-" || p == "" || p == "-" || p + 0 == 0) print "-"; else printf "%.3f", m / p }')
    echo "| $what | \`$metric\` | $m | ${p:--} | $ratio |"
  done
  echo
  echo "Derived: shared-load wavefronts per instruction, measured $(awk -v w="$(measured l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum)" -v i="$(measured smsp__sass_inst_executed_op_shared_ld.sum)" 'BEGIN{ if (i + 0) printf "%.2f", w / i; else print "-" }')," \
       "predicted $(awk -v w="$(predicted shared_ld_wavefronts)" -v i="$(predicted shared_ld_instructions)" 'BEGIN{ if (i + 0) printf "%.2f", w / i; else print "-" }');" \
       "global sectors per request, measured $(awk -v s="$(measured l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum)" -v r="$(measured l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum)" 'BEGIN{ if (r + 0) printf "%.2f", s / r; else print "-" }')," \
       "predicted $(awk -v s="$(predicted global_ld_sectors)" -v r="$(predicted global_ld_requests)" 'BEGIN{ if (r + 0) printf "%.2f", s / r; else print "-" }')."
  echo
  echo "The emulator counts the accesses of the kernel source (kernels/simt/access_profile.h says how);"
  echo "ncu counts the instructions ptxas emitted, which may merge neighbouring accesses into wider ones or"
  echo "keep values in registers. Per-site figures: emulator_profile.txt."
} >"$table"
cat "$table"
