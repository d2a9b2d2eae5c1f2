#!/usr/bin/env bash
# Installs the Debian packages Paged Attention Lab builds and tests with, and only those missing.
# Idempotent: when everything is installed it changes nothing and does not touch the network.
# Runs as root, or through sudo when available.
#
#   bash scripts/setup.sh
#
# The CUDA toolkit is not a Debian package here: nvcc is picked up from /usr/local/cuda/bin when
# present, and everything except the GPU backend builds and runs without it.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # compiler, build system
  catch2                                          # tests (Catch2 v2)
  nlohmann-json3-dev libcli11-dev                 # scenario files and command-line flags
  libboost-fiber-dev                              # the SIMT emulator's lightweight threads
  libimgui-dev libglfw3-dev libstb-dev libgl1-mesa-dri   # the visualizer (pal-viz)
  xvfb xauth                                      # run pal-viz without a display (tests, screenshots)
  doxygen graphviz                                # docs
  python3-numpy                                   # the numpy read-back test of dump files; the Python module
  pybind11-dev python3-dev python3-pytest         # the Python module (import pal) and its tests
  clang libclang-rt-14-dev                        # the fuzz targets: clang and its libFuzzer runtime
)

# PyTorch lets the Python module's tests pass torch tensors (they skip without it). It is large:
# 174 packages (142 MB of .debs), 609 MB on disk, 4 min 47 s to install on the 2-core CI machine
# (measured 2026-11-29); PAL_SETUP_TORCH=0 leaves it out.
if [[ "${PAL_SETUP_TORCH:-1}" != "0" ]]; then
  packages+=(python3-torch)
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} Debian packages are installed"
  exit 0
fi

echo "setup: installing missing packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: need root to install them; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup: done"
