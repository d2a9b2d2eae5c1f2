// The device side of test_fp8_gpu.cpp: one thread per conversion, through core/fp8.h's device pass.
#include "fp8_gpu_probe.h"

#include <cuda_runtime.h>

#include <stdexcept>

#include "core/fp8.h"

namespace pal::test {

namespace {

constexpr int kNumCodes = 256;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

// One thread per (format, scale, code).
__global__ void dequantize_every_code(const float* scales, int num_scales, std::uint16_t* half_bits,
                                      std::uint16_t* fp16_bits, std::uint16_t* bf16_bits, std::uint32_t* fp32_bits,
                                      std::uint32_t* fp32_via_half_bits) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= 2 * num_scales * kNumCodes) return;
  const auto code = static_cast<std::uint8_t>(i % kNumCodes);
  const float scale = scales[(i / kNumCodes) % num_scales];
  const Fp8Format format = (i / (kNumCodes * num_scales)) == 0 ? Fp8Format::e4m3 : Fp8Format::e5m2;
  half_bits[i] = fp8_to_half(code, format).bits;
  fp16_bits[i] = dequantize_fp8_to_fp16(code, format, scale).bits;
  bf16_bits[i] = dequantize_fp8_to_bf16(code, format, scale).bits;
  fp32_bits[i] = float_to_bits(dequantize_fp8_to_fp32(code, format, scale));
  fp32_via_half_bits[i] = float_to_bits(dequantize_fp8_to_fp32_via_half(code, format, scale));
}

// One thread per (format, scale, pair of codes).
__global__ void dequantize_every_pair(const float* scales, int num_scales, std::uint32_t* fp16_pairs,
                                      std::uint32_t* bf16_pairs) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  constexpr std::int64_t kNumPairs = std::int64_t(kNumCodes) * kNumCodes;
  if (i >= 2 * num_scales * kNumPairs) return;
  const auto codes = static_cast<std::uint16_t>(i % kNumPairs);
  const float scale = scales[(i / kNumPairs) % num_scales];
  const Fp8Format format = (i / (kNumPairs * num_scales)) == 0 ? Fp8Format::e4m3 : Fp8Format::e5m2;
  fp16_pairs[i] = dequantize_fp8_pair<fp16_t>(codes, format, scale);
  bf16_pairs[i] = dequantize_fp8_pair<bf16_t>(codes, format, scale);
}

// One thread per (format, value).
__global__ void encode_every_value(const float* values, int num_values, std::uint8_t* codes) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= 2 * num_values) return;
  codes[i] = float_to_fp8(values[i % num_values], i < num_values ? Fp8Format::e4m3 : Fp8Format::e5m2);
}

template <typename T>
struct DeviceArray {
  T* data = nullptr;
  std::size_t count = 0;
  explicit DeviceArray(std::size_t n) : count(n) { check(cudaMalloc(&data, n * sizeof(T)), "cudaMalloc"); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(data); }
  std::vector<T> download() const {
    std::vector<T> host(count);
    check(cudaMemcpy(host.data(), data, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
    return host;
  }
};

}  // namespace

bool fp8_gpu_available(std::string* why_not) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    if (why_not) *why_not = status != cudaSuccess ? cudaGetErrorString(status) : "no CUDA device";
    return false;
  }
  return true;
}

Fp8DeviceResults run_fp8_conversions_on_gpu(const std::vector<float>& scales, const std::vector<float>& values) {
  const int num_scales = static_cast<int>(scales.size());
  const int num_values = static_cast<int>(values.size());
  const std::size_t num_conversions = std::size_t(2) * num_scales * kNumCodes;
  DeviceArray<float> device_scales(scales.size()), device_values(values.size());
  check(cudaMemcpy(device_scales.data, scales.data(), scales.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy scales");
  check(cudaMemcpy(device_values.data, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy values");
  DeviceArray<std::uint16_t> half_bits(num_conversions), fp16_bits(num_conversions), bf16_bits(num_conversions);
  DeviceArray<std::uint32_t> fp32_bits(num_conversions), fp32_via_half_bits(num_conversions);
  DeviceArray<std::uint8_t> encoded(std::size_t(2) * num_values);

  constexpr int kThreads = 256;
  dequantize_every_code<<<static_cast<unsigned>((num_conversions + kThreads - 1) / kThreads), kThreads>>>(
      device_scales.data, num_scales, half_bits.data, fp16_bits.data, bf16_bits.data, fp32_bits.data,
      fp32_via_half_bits.data);
  check(cudaGetLastError(), "dequantize_every_code launch");
  encode_every_value<<<static_cast<unsigned>((2 * num_values + kThreads - 1) / kThreads), kThreads>>>(
      device_values.data, num_values, encoded.data);
  check(cudaGetLastError(), "encode_every_value launch");
  const std::size_t num_pairs = std::size_t(2) * num_scales * kNumCodes * kNumCodes;
  DeviceArray<std::uint32_t> fp16_pairs(num_pairs), bf16_pairs(num_pairs);
  dequantize_every_pair<<<static_cast<unsigned>((num_pairs + kThreads - 1) / kThreads), kThreads>>>(
      device_scales.data, num_scales, fp16_pairs.data, bf16_pairs.data);
  check(cudaGetLastError(), "dequantize_every_pair launch");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");

  Fp8DeviceResults results;
  results.half_bits = half_bits.download();
  results.fp16_bits = fp16_bits.download();
  results.bf16_bits = bf16_bits.download();
  results.fp32_bits = fp32_bits.download();
  results.fp32_via_half_bits = fp32_via_half_bits.download();
  results.encoded = encoded.download();
  results.fp16_pair_bits = fp16_pairs.download();
  results.bf16_pair_bits = bf16_pairs.download();
  return results;
}

}  // namespace pal::test
