# Project-wide options and compiler flags.
option(PAL_SANITIZE "Build host code with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(PAL_WERROR "Treat warnings as errors" OFF)
option(PAL_BUILD_VISUALIZER "Build pal-viz, the app (needs GLFW, OpenGL, Dear ImGui); the headless model and its tests build either way" ON)
option(PAL_BUILD_DOCS "Add the 'docs' target (needs Doxygen)" ON)
option(PAL_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (clang only; preset fuzz)" OFF)

# Warnings apply to host C++ only; nvcc gets its own set in PalCuda.cmake.
add_library(pal_warnings INTERFACE)
target_compile_options(pal_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${PAL_WERROR}>>:-Werror>)

# float-cast-overflow is not part of GCC's "undefined" group: without it a NaN or 1e30 cast to an
# integer (issue 14: --max-recording-mib nan) passes silently.
if(PAL_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined,float-cast-overflow>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=address,undefined,float-cast-overflow)
endif()

# Fuzzing: every host library gets libFuzzer's coverage instrumentation (fuzzer-no-link); only the
# fuzz targets link libFuzzer's main (tests/fuzz/CMakeLists.txt). Debian's clang finds the runtime
# in libclang-rt-14-dev (scripts/setup.sh).
if(PAL_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PAL_BUILD_FUZZERS needs clang for libFuzzer (found ${CMAKE_CXX_COMPILER_ID}); "
                        "use the fuzz preset, or -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()
