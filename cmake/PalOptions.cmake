# Project-wide options and compiler flags.
option(PAL_SANITIZE "Build host code with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(PAL_WERROR "Treat warnings as errors" OFF)
option(PAL_BUILD_VISUALIZER "Build pal-viz (needs GLFW, OpenGL, Dear ImGui)" ON)
option(PAL_BUILD_DOCS "Add the 'docs' target (needs Doxygen)" ON)

# Warnings apply to host C++ only; nvcc gets its own set in PalCuda.cmake.
add_library(pal_warnings INTERFACE)
target_compile_options(pal_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${PAL_WERROR}>>:-Werror>)

if(PAL_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=address,undefined)
endif()
