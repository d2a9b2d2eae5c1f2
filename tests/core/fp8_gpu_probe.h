// Runs core/fp8.h's conversions on the GPU (its device pass: cuda_fp8.h's conversions) for the test
// that holds them against the host's software versions (test_fp8_gpu.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pal::test {

// Every result is laid out [format (e4m3, e5m2)][scale][code] for the conversions of the 256 codes,
// and [format][value] for the encodings.
struct Fp8DeviceResults {
  std::vector<std::uint16_t> half_bits;            // fp8_to_half            (scale unused: first scale only)
  std::vector<std::uint16_t> fp16_bits;            // dequantize_fp8_to_fp16
  std::vector<std::uint16_t> bf16_bits;            // dequantize_fp8_to_bf16
  std::vector<std::uint32_t> fp32_bits;            // dequantize_fp8_to_fp32
  std::vector<std::uint32_t> fp32_via_half_bits;   // dequantize_fp8_to_fp32_via_half
  std::vector<std::uint8_t> encoded;               // float_to_fp8, [format][value]
  // dequantize_fp8_pair of every pair of codes (the first in the low byte), [format][scale][pair]
  std::vector<std::uint32_t> fp16_pair_bits;
  std::vector<std::uint32_t> bf16_pair_bits;
};

// False with the reason when there is no usable CUDA device.
bool fp8_gpu_available(std::string* why_not);

// Throws std::runtime_error naming the failed CUDA call.
Fp8DeviceResults run_fp8_conversions_on_gpu(const std::vector<float>& scales, const std::vector<float>& values);

}  // namespace pal::test
