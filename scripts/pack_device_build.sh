#!/usr/bin/env bash
# Builds the project for the lent GPU (an NVIDIA H200, sm_90; an H100 before) here, and packs what
# the device machine needs into one folder small enough to carry (the device tool carries at most
# 64 MiB of working tree + carried paths, and the device machine has no Boost.Fiber and no Catch2,
# so nothing is built there).
#
#   scripts/pack_device_build.sh            build in build-device-work/, pack into build-device/
#   JOBS=4 scripts/pack_device_build.sh     more parallel compile jobs (default 2)
#   PAL_CUDA_INSTANTIATIONS=reduced ...     a quicker build (fp16/bf16/fp32 x head 64,128 x block 16,
#                                           plus fp16's secondary benchmark shapes)
#   PAL_CUDA_GROUPED_INSTANTIATIONS=full    the grouped kernel's whole set whatever the above says
#                                           (its instantiations compile in seconds each)
#   PAL_PACK_ONLY="pal-bench pal-run ..."  pack only the named executables
#   PAL_CUDA_QUERY_DTYPES="fp16"            compile only these query dtypes' kernels (a ;-list of
#                                           fp16, bf16, fp32; default all three)
#   PAL_PACK_XZ=1                           also write build-device.tar.xz with a dictionary larger than
#                                           one executable, so the test executables' identical kernel
#                                           images are stored once; the size check applies to it
#
# The full set does not fit one call: every executable that links the kernels carries all of them
# (about 25 MB of compressed sm_90 code per query dtype). A full-grid run on the device is one call
# per query dtype, e.g.
#   PAL_CUDA_QUERY_DTYPES=fp16 PAL_PACK_XZ=1 PAL_PACK_ONLY="pal_gpu_tests pal_grouped_gpu_tests ..." \
#     scripts/pack_device_build.sh
#   device run (carry ["build-device.tar.xz"]):
#     tar -xJf build-device.tar.xz && PAL_SUITE_STEPS=info,ctest PAL_CTEST_MAX_S=480 bash scripts/device_suite.sh
#
# Then run on the device, carrying build-device:
#   device run (carry ["build-device"]):  bash scripts/device_suite.sh
#   device run (carry ["build-device"]):  bash scripts/ncu_vs_emulator.sh   (ncu's shared-memory wavefronts,
#       bank conflicts and global sectors beside the emulator's prediction, pal-run --profile; ncu_vs_emulator.md)
#
# What build-device/ holds:
#   bin/       pal-bench, pal-run and the gpu-labelled test executables (v1/v2 and grouped), stripped
#              of host symbols
#   lib/       the shared libraries the executables need that Ubuntu 24.04's CUDA image lacks:
#              Boost (fiber, context, ...) from this Debian machine, and libcudart as a fallback
#   **/CTestTestfile.cmake   ctest's test lists, with paths rewritten to build-device/
#   BUILD_INFO.txt           commit, date, configuration, and the source / build paths baked in
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${PAL_DEVICE_WORK_DIR:-$root/build-device-work}
pack=${PAL_DEVICE_PACK_DIR:-$root/build-device}
jobs=${JOBS:-2}
instantiations=${PAL_CUDA_INSTANTIATIONS:-full}
query_dtypes=${PAL_CUDA_QUERY_DTYPES:-fp16;bf16;fp32}
limit_mib=${PAL_CARRY_LIMIT_MIB:-56}  # leaves room under 64 MiB for the tracked files

echo "== configure $work (sm_90 SASS only, $instantiations instantiations, Release)"
# Size: every executable that links pal_kernels embeds every compiled kernel (both probes, all
# dtypes, head and block sizes): about 70 MB of sm_90 code with -lineinfo when stored raw. So:
#   90-real              SASS for sm_90 only, no PTX (the H200, like the H100, needs no JIT fallback);
#   --compress-mode=size nvcc compresses the fatbin (about 6x here; the driver inflates it at load);
# and only the executables the suite runs are packed (pal-bench, pal-run, the tests labelled gpu).
cmake -S "$root" -B "$work" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DPAL_ENABLE_CUDA=ON \
  -DPAL_CUDA_ARCHITECTURES=90-real \
  -DCMAKE_CUDA_FLAGS="--compress-mode=size" \
  -DPAL_CUDA_INSTANTIATIONS="$instantiations" \
  -DPAL_CUDA_QUERY_DTYPES="$query_dtypes" \
  -DPAL_CUDA_GROUPED_INSTANTIATIONS="${PAL_CUDA_GROUPED_INSTANTIATIONS:-}" \
  -DPAL_BUILD_VISUALIZER=OFF \
  -DPAL_BUILD_DOCS=OFF \
  -DPAL_SANITIZE=OFF >/dev/null

# kernels/CMakeLists.txt writes this list only when the CUDA backend is on.
if [ ! -f "$work/kernels/gpu_compiled_configs.inc" ]; then
  echo "pack_device_build: the configure did not enable CUDA (is nvcc at /usr/local/cuda/bin/nvcc?)" >&2
  exit 1
fi

# The executables the device suite runs: the tools, and every test executable ctest -L gpu would
# start (read from the CTestTestfile.cmake lists, which exist before the build).
# PAL_PACK_ALL=1 packs every executable instead.
wanted=(pal-bench pal-run)
while read -r test_exe; do
  wanted+=("$(basename "$test_exe")")
done < <(find "$work" -name CTestTestfile.cmake -print0 | xargs -0 cat |
         python3 -c 'import re, sys
# Read before the build, when ctest cannot yet resolve the commands: each add_test line names the
# test and its executable, and its set_tests_properties line its labels.
text = sys.stdin.read()
commands = dict(re.findall(r"add_test\(\[=\[(.*?)\]=\] \"([^\"]+)\"", text))
for name, labels in re.findall(r"set_tests_properties\(\[=\[(.*?)\]=\] PROPERTIES .*?LABELS \"([^\"]*)\"", text):
    if "gpu" in labels.split(";") and name in commands:
        print(commands[name])' | sort -u)
# PAL_PACK_ONLY="exe ..." packs just those (e.g. the grouped kernel's programs, when everything
# together would exceed the carry limit).
if [ -n "${PAL_PACK_ONLY:-}" ]; then
  read -r -a wanted <<<"$PAL_PACK_ONLY"
fi

# Only what is packed is built (PAL_PACK_ALL=1 builds everything): the host-only tests, the
# chapters and the emulator's instances of the test grid are not needed on the device.
echo "== build ($jobs jobs)"
if [ "${PAL_PACK_ALL:-0}" = 1 ]; then
  ninja -C "$work" -j "$jobs"
else
  known=$(ninja -C "$work" -t targets all 2>/dev/null | cut -d: -f1)
  targets=()
  for name in "${wanted[@]}"; do
    if grep -qx "bin/$name" <<<"$known"; then targets+=("bin/$name"); else echo "  (no target bin/$name)"; fi
  done
  ninja -C "$work" -j "$jobs" "${targets[@]}"
fi

echo "== pack $pack"
rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/lib"
if [ "${PAL_PACK_ALL:-0}" = 1 ]; then
  wanted=()
  for exe in "$work"/bin/*; do wanted+=("$(basename "$exe")"); done
fi
for name in "${wanted[@]}"; do
  exe=$work/bin/$name
  if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then
    echo "  (not built, not packed: $name)"
    continue
  fi
  cp "$exe" "$pack/bin/"
  # --strip-unneeded keeps what the loader needs; the CUDA fatbin is data and stays.
  strip --strip-unneeded "$pack/bin/$name"
done
echo "  packed: $(cd "$pack/bin" && echo *)"

# ctest's lists, with the work dir's paths pointing at the pack instead.
(cd "$work" && find . -name CTestTestfile.cmake) | while read -r file; do
  mkdir -p "$pack/$(dirname "$file")"
  sed "s|$work|$pack|g" "$work/$file" >"$pack/$file"
done

# Shared libraries: Boost is not on the device image; copy every libboost_* an executable needs
# (resolved through symlinks to the real file, saved under the soname the loader asks for).
# libcudart.so.13 is copied too, in case the device's loader path lacks /usr/local/cuda/lib64.
for exe in "$pack"/bin/*; do
  ldd "$exe" 2>/dev/null | awk '/=>/ {print $1, $3}'
done | sort -u | while read -r soname path; do
  case "$soname" in
    libboost_*|libcudart.so*)
      [ -f "$pack/lib/$soname" ] || cp -L "$path" "$pack/lib/$soname"
      ;;
  esac
done
strip --strip-unneeded "$pack"/lib/*.so* 2>/dev/null || true

commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$( (git -C "$root" status --porcelain --untracked-files=no 2>/dev/null || echo "?") | wc -l)
{
  echo "commit $commit (modified tracked files: $dirty)"
  echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "source_dir $root"
  echo "build_dir $pack"
  echo "instantiations $instantiations, grouped ${PAL_CUDA_GROUPED_INSTANTIATIONS:-as v1/v2}"
  echo "query_dtypes $query_dtypes"
  echo "cuda_architectures 90-real (SASS only), fatbin compressed (--compress-mode=size)"
  echo "nvcc $(/usr/local/cuda/bin/nvcc --version | tail -1)"
  echo "host $(uname -m) $(grep -m1 PRETTY_NAME /etc/os-release | cut -d= -f2)"
} >"$pack/BUILD_INFO.txt"

echo "== contents"
du -sh "$pack/bin" "$pack/lib"
ls -la "$pack/lib"
size_kib=$(du -sk "$pack" | cut -f1)
if [ "${PAL_PACK_XZ:-0}" = 1 ]; then
  # A dictionary larger than the biggest executable lets xz find the second copy of the kernels.
  archive=$pack.tar.xz
  rm -f "$archive"
  (cd "$(dirname "$pack")" && XZ_OPT="--lzma2=preset=6,dict=192MiB -T1" \
     tar -cJf "$archive.tmp" "$(basename "$pack")") && mv "$archive.tmp" "$archive"
  echo "archive: $archive, $(($(du -sk "$archive" | cut -f1) / 1024)) MiB (carry it and untar it on the device)"
  size_kib=$(du -sk "$archive" | cut -f1)
fi
tracked_kib=$( (cd "$root" && git ls-files -z 2>/dev/null | xargs -0 -r du -ck 2>/dev/null | tail -1 | cut -f1) || true)
tracked_kib=${tracked_kib:-0}
echo "pack: $((size_kib / 1024)) MiB; tracked files: $((tracked_kib / 1024)) MiB; limit for the pack: $limit_mib MiB"
if [ "$size_kib" -gt $((limit_mib * 1024)) ]; then
  echo "pack_device_build: $pack is $((size_kib / 1024)) MiB, over $limit_mib MiB: the device tool would refuse it." >&2
  echo "  Largest files:" >&2
  find "$pack" -type f -printf '%s %p\n' | sort -rn | head -8 >&2
  exit 2
fi
if [ "${PAL_PACK_XZ:-0}" = 1 ]; then
  echo "ok: carry [\"$(basename "$pack").tar.xz\"] and run: tar -xJf $(basename "$pack").tar.xz && bash scripts/device_suite.sh $(basename "$pack")"
else
  echo "ok: carry [\"$(basename "$pack")\"] and run: bash scripts/device_suite.sh $(basename "$pack")"
fi
