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

# The split planner (host code).
pal_add_test(pal_split_planner_tests
  SOURCES test_split_planner.cpp
  LIBS pal_kernels
  LABELS kernels)

# The emulated grouped kernel: properties (one executable), and the grid in shards that ctest can
# run in parallel; the sanitizer build runs the quick grid.
pal_add_test(pal_grouped_emulator_tests
  SOURCES test_grouped_emulator.cpp
  LIBS pal_kernels pal_reference pal_compare
  LABELS kernels grouped)
# fp8 caches in the grouped kernel: every configuration the build compiled for the emulator (the
# reduced set's 11, or a full build's 240: kernels/grouped.cmake), each with unit and non-unit
# scales, against the references, and bit for bit against an auto cache.
pal_add_test(pal_grouped_fp8_tests
  SOURCES test_grouped_fp8.cpp
  LIBS pal_kernels pal_reference pal_compare pal_run
  LABELS kernels grouped)
if(PAL_SANITIZE)
  set_tests_properties(pal_grouped_fp8_tests PROPERTIES ENVIRONMENT PAL_KERNEL_GRID=quick)
endif()
set(pal_grouped_shards 4)
add_executable(pal_grouped_emulator_grid_tests test_grouped_emulator_grid.cpp)
target_link_libraries(pal_grouped_emulator_grid_tests PRIVATE pal_test_main pal_kernels pal_reference pal_compare pal_warnings)
math(EXPR pal_grouped_last_shard "${pal_grouped_shards} - 1")
foreach(shard RANGE ${pal_grouped_last_shard})
  add_test(NAME pal_grouped_emulator_grid_tests_${shard} COMMAND pal_grouped_emulator_grid_tests)
  set(grouped_grid_env PAL_SHARD=${shard}/${pal_grouped_shards})
  if(PAL_SANITIZE)
    list(APPEND grouped_grid_env PAL_KERNEL_GRID=quick)
  endif()
  set_tests_properties(pal_grouped_emulator_grid_tests_${shard} PROPERTIES
    ENVIRONMENT "${grouped_grid_env}" LABELS "kernels;grouped;grid;host" TIMEOUT 900)
endforeach()

# The grouped kernel on the GPU (label gpu: exit 77 without one): the full grid in 16 shards for the
# device machine's 16 cores, the emulator comparison and long contexts with forced splits.
add_executable(pal_grouped_gpu_tests test_grouped_gpu.cpp)
target_link_libraries(pal_grouped_gpu_tests PRIVATE Catch2::Catch2 pal_kernels pal_reference pal_compare pal_warnings)
foreach(shard RANGE 15)
  add_test(NAME pal_grouped_gpu_tests_${shard} COMMAND pal_grouped_gpu_tests)
  set_tests_properties(pal_grouped_gpu_tests_${shard} PROPERTIES
    ENVIRONMENT PAL_SHARD=${shard}/16 LABELS "gpu" SKIP_RETURN_CODE 77 TIMEOUT 900)
endforeach()
