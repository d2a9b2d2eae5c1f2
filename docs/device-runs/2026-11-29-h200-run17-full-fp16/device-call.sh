# Run 17: the full instantiation set, fp16 queries only (all cache dtypes, block sparsity, every head
# and block size; v1/v2 and the grouped kernel), ctest -L gpu only. Built here at 75b3a9e (= 696db6b
# plus the per-dtype instantiation option) with:
#   PAL_CUDA_INSTANTIATIONS=full PAL_CUDA_QUERY_DTYPES=fp16 PAL_PACK_XZ=1 \
#   PAL_DEVICE_PACK_DIR=build-device-fp16 \
#   PAL_PACK_ONLY="pal_gpu_tests pal_grouped_gpu_tests pal_fp8_gpu_tests pal_simt_primitive_gpu_tests" \
#   bash scripts/pack_device_build.sh          # 22 MiB archive
# Device call (carry ["build-device-fp16.tar.xz"]):
tar -xJf build-device-fp16.tar.xz && OUT=$OUT PAL_SUITE_STEPS=info,ctest PAL_SUITE_BUDGET_S=540 PAL_CTEST_MAX_S=500 \
  bash scripts/device_suite.sh build-device-fp16
# Note: the tests' skip lines in ctest.log say "PAL_CUDA_INSTANTIATIONS=reduced"; that text was fixed
# afterwards (41e225a): they now name the set and the query dtypes the build compiled (here: full, fp16).
