// The primitive bodies of simt_primitive_bodies.h launched on the GPU (simt_primitives_gpu.cu), from
// plain C++. Each function copies its inputs to the device, runs one thread_block, copies the
// outputs back, and throws std::runtime_error with the CUDA error when a call fails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/kernels/simt_primitive_data.h"

namespace pal::test {

std::vector<std::uint32_t> gpu_ldmatrix(const std::vector<std::uint16_t>& matrices);
std::vector<float> gpu_mma(const MmaCase& data);
struct CopyOutputs {
  std::vector<unsigned char> after_wait1, after_all;
};
CopyOutputs gpu_cp_async(const std::vector<unsigned char>& source);
std::vector<std::uint32_t> gpu_integer_shuffle(const std::vector<std::uint32_t>& bits);

// False, with the reason, when no CUDA device answers. Asked here rather than through the GPU
// backend so that this executable links none of the attention kernels (it stays small to carry).
bool gpu_present(std::string* why_not);

}  // namespace pal::test
