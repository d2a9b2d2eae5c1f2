# The Python module (python/, `import pal`): built when pybind11 and the Python 3 development files
# are found (Debian: pybind11-dev, python3-dev), unless PAL_BUILD_PYTHON says otherwise.
#
# The interpreter is Debian's /usr/bin/python3 when it exists, because the Debian packages the module
# and its tests use (python3-numpy, python3-pytest, python3-torch) are installed for that one; a
# Python on the PATH first (pyenv, a virtual environment) usually lacks them. Another interpreter:
# -DPython3_EXECUTABLE=/path/to/python3.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "The Python the pal module is built and tested for")
endif()

# A sanitized module cannot be loaded by an uninstrumented interpreter (ASan must come first in the
# process), so the sanitizer and fuzz builds leave the module out unless asked.
set(pal_python_default OFF)
if(NOT PAL_SANITIZE AND NOT PAL_BUILD_FUZZERS)
  find_package(Python3 3.8 COMPONENTS Interpreter Development.Module QUIET)
  set(PYBIND11_FINDPYTHON ON)
  find_package(pybind11 2.6 CONFIG QUIET)
  if(Python3_FOUND AND pybind11_FOUND)
    set(pal_python_default ON)
  endif()
endif()
option(PAL_BUILD_PYTHON "Build the Python module (import pal; needs pybind11-dev and python3-dev)" ${pal_python_default})

if(PAL_BUILD_PYTHON)
  find_package(Python3 3.8 REQUIRED COMPONENTS Interpreter Development.Module)
  set(PYBIND11_FINDPYTHON ON)
  find_package(pybind11 2.6 CONFIG)
  if(NOT pybind11_FOUND)
    message(FATAL_ERROR "PAL_BUILD_PYTHON is ON but pybind11 was not found: install pybind11-dev "
                        "(bash scripts/setup.sh) or configure with -DPAL_BUILD_PYTHON=OFF")
  endif()
  # The module is a shared object that links the project's static libraries: they must be
  # position-independent code (host and CUDA objects alike).
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  message(STATUS "Python module: on, for ${Python3_EXECUTABLE} (Python ${Python3_VERSION}, pybind11 ${pybind11_VERSION})")
else()
  message(STATUS "Python module: off (PAL_BUILD_PYTHON=OFF; needs pybind11-dev and python3-dev, not in sanitizer builds)")
endif()
