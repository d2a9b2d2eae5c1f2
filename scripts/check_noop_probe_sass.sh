#!/usr/bin/env bash
# Shows that the no-op probe costs nothing: the production kernel (NoopProbe) and the same kernel
# source with every probe call deleted compile to identical SASS. Needs nvcc, no GPU. Where
# cuobjdump is missing (the CUDA toolkit packaging of some machines leaves it out) it compares the
# PTX instead, which is what ptxas turns into SASS, and says so.
#
# usage: scripts/check_noop_probe_sass.sh [ARCH=90]
# Configurations: "scalar_t head block kv_cache_dtype block_sparse"; the last one has an fp8 cache and
# block sparsity, whose extra probe calls (dequantized values, skipped tokens) must vanish too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-90}
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
cuobjdump=$(dirname "$nvcc")/cuobjdump
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A copy of the tree's kernel headers where the body has no probe calls.
mkdir -p "$work/stripped/kernels" "$work/stripped/core"
cp -r "$root/kernels/." "$work/stripped/kernels/"
cp -r "$root/core/." "$work/stripped/core/"
python3 "$root/scripts/strip_probe_calls.py" "$root/kernels/paged_attention_kernel.h" \
  "$work/stripped/kernels/paged_attention_kernel.h"

configs=("fp16_t 128 16 automatic false" "bf16_t 64 8 automatic false" "float 256 32 automatic false"
         "fp16_t 128 16 fp8_e5m2 true")
if [ -x "$cuobjdump" ]; then level=SASS; else level=PTX; fi
status=0
for config in "${configs[@]}"; do
  read -r scalar head block kv sparse <<<"$config"
  if [ "$kv" = automatic ]; then cache=$scalar; else cache=std::uint8_t; fi
  for tree in "$root" "$work/stripped"; do
    name=$([ "$tree" = "$root" ] && echo noop || echo stripped)
    cat >"$work/$name.cu" <<CU
#include "kernels/gpu_kernels.cuh"
namespace pal {
template __global__ void paged_attention_kernel<$scalar, $cache, $head, $block, KvCacheDtype::$kv, $sparse, 0, NoopProbe>(
    AttentionArgs<$scalar, $cache>, BlockSparseParams, NoopProbe);
template __global__ void paged_attention_kernel<$scalar, $cache, $head, $block, KvCacheDtype::$kv, $sparse, 512, NoopProbe>(
    AttentionArgs<$scalar, $cache>, BlockSparseParams, NoopProbe);
}
CU
    if [ $level = SASS ]; then
      "$nvcc" -std=c++20 -O3 -arch=sm_$arch --expt-relaxed-constexpr -I"$tree" -cubin -o "$work/$name.cubin" "$work/$name.cu"
      # Keep the instructions only: drop addresses, encodings and the file's own name.
      "$cuobjdump" -sass "$work/$name.cubin" | sed -E 's@/\*[0-9a-f]{4,}\*/@@; s@/\* 0x[0-9a-f]+ \*/@@; s@^\s+@@' |
        grep -vE '^(code for|Function|\.|$|Fatbin|arch|host|compile_size)' >"$work/$name.sass"
    else
      "$nvcc" -std=c++20 -O3 -arch=sm_$arch --expt-relaxed-constexpr -I"$tree" -ptx -o "$work/$name.ptx" "$work/$name.cu"
      # Drop comments and the file name; keep every instruction and declaration.
      grep -vE '^\s*//|\.file' "$work/$name.ptx" >"$work/$name.sass"
    fi
  done
  n=$(grep -c ';' "$work/noop.sass" || true)
  if diff -q "$work/noop.sass" "$work/stripped.sass" >/dev/null; then
    echo "identical $level ($n lines): $scalar head $head block $block cache $kv sparse $sparse, v1 and v2, no-op probe vs no probe calls"
  else
    echo "DIFFERENT $level: $scalar head $head block $block cache $kv sparse $sparse"
    diff "$work/noop.sass" "$work/stripped.sass" | head -20
    status=1
  fi
done
# Negative control: the recording probe must change the code, or this comparison could not fail.
cat >"$work/record.cu" <<CU
#include "kernels/gpu_kernels.cuh"
namespace pal {
template __global__ void paged_attention_kernel<fp16_t, fp16_t, 128, 16, KvCacheDtype::automatic, false, 0, RecordingProbe>(
    AttentionArgs<fp16_t, fp16_t>, BlockSparseParams, RecordingProbe);
}
CU
"$nvcc" -std=c++20 -O3 -arch=sm_$arch --expt-relaxed-constexpr -I"$root" -ptx -o "$work/record.ptx" "$work/record.cu"
if [ "$(grep -c 'st.global' "$work/record.ptx")" -le 10 ]; then
  echo "negative control FAILED: the recording probe's kernel has almost no global stores"
  status=1
else
  echo "negative control: the recording probe's kernel has $(grep -c 'st.global' "$work/record.ptx") global stores in its PTX"
fi
exit $status
