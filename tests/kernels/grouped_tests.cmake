# Tests of the grouped decode kernel and the SIMT primitives it added (included from
# tests/kernels/CMakeLists.txt, kept apart so that the grouped work stays in its own files).
#
#   pal_simt_primitive_tests   each primitive in the emulator against hand-worked cases (host)
pal_add_test(pal_simt_primitive_tests
  SOURCES test_simt_primitives.cpp
  LIBS pal_kernels
  LABELS kernels)

# Each primitive on the GPU against the emulator on the same data (label gpu: exit 77 without a GPU).
if(PAL_HAVE_CUDA)
  add_executable(pal_simt_primitive_gpu_tests test_simt_primitives_gpu.cpp simt_primitives_gpu.cu)
  target_link_libraries(pal_simt_primitive_gpu_tests PRIVATE Catch2::Catch2 pal_kernels CUDA::cudart_static pal_warnings)
  set_target_properties(pal_simt_primitive_gpu_tests PROPERTIES CUDA_ARCHITECTURES "${PAL_CUDA_ARCHITECTURES}")
  target_compile_options(pal_simt_primitive_gpu_tests PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo --expt-relaxed-constexpr>)
  add_test(NAME pal_simt_primitive_gpu_tests COMMAND pal_simt_primitive_gpu_tests)
  set_tests_properties(pal_simt_primitive_gpu_tests PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77 TIMEOUT 120)
endif()
