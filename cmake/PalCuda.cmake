# CUDA is optional: without nvcc every CPU part (the emulator included) still builds and runs.
#
# Which GPU architectures nvcc compiles for (PAL_CUDA_ARCHITECTURES):
#   - an explicit list (-DPAL_CUDA_ARCHITECTURES=86, or a preset's value such as ci's "90") is used
#     exactly as given;
#   - "auto" (the default presets): the compute capability of every GPU that nvidia-smi lists at
#     configure time, so a first build next to a GPU compiles one architecture instead of four;
#     with no GPU visible (a CI machine, a container without the driver), or a GPU this nvcc cannot
#     target, the portable list PAL_CUDA_PORTABLE_ARCHITECTURES. The configure log says which.
# The result is PAL_CUDA_TARGET_ARCHITECTURES (and CMAKE_CUDA_ARCHITECTURES), used by every CUDA target.
include(CheckLanguage)
option(PAL_ENABLE_CUDA "Build the GPU backend when a CUDA compiler is found" ON)
set(PAL_CUDA_ARCHITECTURES "auto" CACHE STRING
    "GPU targets of the CUDA backend: 'auto' (the GPUs present, else the portable list) or a CMake list such as 90 or 80;90")
# Ampere (A100, RTX 30), Ada (RTX 40, L4/L40) and Hopper (H100, H200): SASS plus PTX for each, so
# newer GPUs can still JIT from the sm_90 PTX.
set(PAL_CUDA_PORTABLE_ARCHITECTURES "80;86;89;90")
set(PAL_CUDA_INSTANTIATIONS "full" CACHE STRING
    "Kernel configurations compiled for the GPU: 'full' (every dtype x head size x block size) or 'reduced' (a CI subset)")
set_property(CACHE PAL_CUDA_INSTANTIATIONS PROPERTY STRINGS full reduced)
# The grouped kernel's GPU set on its own: empty (the default) follows PAL_CUDA_INSTANTIATIONS. Its
# instantiations compile in a few seconds each, v1/v2's full set in hours on a small machine, so a
# device pack can check every grouped configuration beside a reduced v1/v2 set
# (-DPAL_CUDA_INSTANTIATIONS=reduced -DPAL_CUDA_GROUPED_INSTANTIATIONS=full).
set(PAL_CUDA_GROUPED_INSTANTIATIONS "" CACHE STRING
    "Grouped-kernel configurations compiled for the GPU: '' (as PAL_CUDA_INSTANTIATIONS), 'full' or 'reduced'")
set_property(CACHE PAL_CUDA_GROUPED_INSTANTIATIONS PROPERTY STRINGS "" full reduced)
if(PAL_CUDA_GROUPED_INSTANTIATIONS STREQUAL "")
  set(PAL_CUDA_GROUPED_SET "${PAL_CUDA_INSTANTIATIONS}")
elseif(PAL_CUDA_GROUPED_INSTANTIATIONS STREQUAL "full" OR PAL_CUDA_GROUPED_INSTANTIATIONS STREQUAL "reduced")
  set(PAL_CUDA_GROUPED_SET "${PAL_CUDA_GROUPED_INSTANTIATIONS}")
else()
  message(FATAL_ERROR "PAL_CUDA_GROUPED_INSTANTIATIONS: '${PAL_CUDA_GROUPED_INSTANTIATIONS}'; use full, reduced or leave it empty")
endif()

# Sets `out_list` to the architectures of the GPUs nvidia-smi lists ("90" for compute 9.0), or to
# the portable list; `out_reason` says which and why, for the configure log.
function(pal_detect_cuda_architectures nvcc out_list out_reason)
  set(${out_list} "${PAL_CUDA_PORTABLE_ARCHITECTURES}" PARENT_SCOPE)
  find_program(PAL_NVIDIA_SMI nvidia-smi)
  if(NOT PAL_NVIDIA_SMI)
    set(${out_reason} "auto: nvidia-smi not found, so no GPU to build for; the portable list" PARENT_SCOPE)
    return()
  endif()
  execute_process(COMMAND "${PAL_NVIDIA_SMI}" --query-gpu=compute_cap,name --format=csv,noheader
                  RESULT_VARIABLE status OUTPUT_VARIABLE gpus ERROR_QUIET TIMEOUT 30)
  if(NOT status EQUAL 0 OR gpus STREQUAL "")
    set(${out_reason} "auto: nvidia-smi lists no GPU (exit ${status}); the portable list" PARENT_SCOPE)
    return()
  endif()
  # What this nvcc can generate SASS for ("sm_90" per line), to refuse a GPU it cannot target.
  execute_process(COMMAND "${nvcc}" --list-gpu-code RESULT_VARIABLE list_status OUTPUT_VARIABLE supported ERROR_QUIET)
  set(found "")
  set(names "")
  string(REPLACE "\n" ";" lines "${gpus}")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^[ ]*([0-9]+)\\.([0-9]+)[ ]*,[ ]*(.*)$")
      continue()
    endif()
    set(arch "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")
    set(compute "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
    set(name "${CMAKE_MATCH_3}")
    if(list_status EQUAL 0 AND NOT supported MATCHES "(^|\n)sm_${arch}(\n|$)")
      set(${out_reason} "auto: ${name} (compute ${compute}) is not a target of ${nvcc}; the portable list, which will not run on it" PARENT_SCOPE)
      return()
    endif()
    list(APPEND found ${arch})
    list(APPEND names "${name}")
  endforeach()
  list(REMOVE_DUPLICATES found)
  list(REMOVE_DUPLICATES names)
  if(NOT found)
    set(${out_reason} "auto: could not read nvidia-smi's compute capability ('${gpus}'); the portable list" PARENT_SCOPE)
    return()
  endif()
  string(JOIN ", " names_text ${names})
  set(${out_list} "${found}" PARENT_SCOPE)
  set(${out_reason} "auto: the GPU present (${names_text})" PARENT_SCOPE)
endfunction()

set(PAL_HAVE_CUDA OFF)
if(PAL_ENABLE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(PAL_CUDA_ARCHITECTURES STREQUAL "auto" OR PAL_CUDA_ARCHITECTURES STREQUAL "")
      pal_detect_cuda_architectures("${CMAKE_CUDA_COMPILER}" PAL_CUDA_TARGET_ARCHITECTURES pal_arch_reason)
    else()
      set(PAL_CUDA_TARGET_ARCHITECTURES "${PAL_CUDA_ARCHITECTURES}")
      set(pal_arch_reason "PAL_CUDA_ARCHITECTURES as given")
    endif()
    set(CMAKE_CUDA_ARCHITECTURES ${PAL_CUDA_TARGET_ARCHITECTURES})
    enable_language(CUDA)
    # CMake 3.25 predates nvcc's C++20 support: tell it the flag, then use C++20 like the host code.
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(PAL_HAVE_CUDA ON)
    message(STATUS "Paged Attention Lab: CUDA backend ON (${CMAKE_CUDA_COMPILER}, archs ${PAL_CUDA_TARGET_ARCHITECTURES}: ${pal_arch_reason}; ${PAL_CUDA_INSTANTIATIONS} instantiations, grouped ${PAL_CUDA_GROUPED_SET})")
  else()
    message(STATUS "Paged Attention Lab: no CUDA compiler found; building the CPU emulator only")
  endif()
endif()
