#include "bench/device_inputs.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace pal::bench {

namespace {

// splitmix64's finaliser: a bijective mix of a 64-bit counter, good enough to decorrelate
// neighbouring elements for a benchmark (the values only need to be "random-looking" so that no
// path of the kernel sees unrealistically regular data).
__device__ __forceinline__ std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void fill_uniform_kernel(T* __restrict__ data,  // [count]
                                    std::int64_t count, float range, std::uint64_t seed) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const std::uint64_t bits = mix64(seed + std::uint64_t(i + 1) * 0x9e3779b97f4a7c15ull);
    // 24 random bits: a fraction in [0, 1) exact in fp32, as core's generator draws it.
    const float unit = float(bits >> 40) * 0x1.0p-24f;
    data[i] = from_float<T>(-range + 2.0f * range * unit);
  }
}

// One byte per element: the value drawn as fill_uniform_kernel draws it, rounded to T, quantised.
template <typename T>
__global__ void fill_fp8_kernel(std::uint8_t* __restrict__ data,  // [count]
                                std::int64_t count, float range, std::uint64_t seed, Fp8Format format, float scale) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const std::uint64_t bits = mix64(seed + std::uint64_t(i + 1) * 0x9e3779b97f4a7c15ull);
    const float unit = float(bits >> 40) * 0x1.0p-24f;
    const float value = to_float(from_float<T>(-range + 2.0f * range * unit));
    data[i] = quantize_fp8(value, scale, format);
  }
}

// A grid-stride loop over at most 64K blocks: enough to fill any GPU, and far from the 2^31 limit.
unsigned fill_blocks(std::int64_t count, int threads) {
  const std::int64_t wanted_blocks = (count + threads - 1) / threads;
  return unsigned(wanted_blocks < 65536 ? (wanted_blocks > 0 ? wanted_blocks : 1) : 65536);
}

template <typename T>
void launch_fill(void* data, std::int64_t count, float range, std::uint64_t seed, cudaStream_t stream) {
  constexpr int kThreads = 256;
  fill_uniform_kernel<T><<<fill_blocks(count, kThreads), kThreads, 0, stream>>>(static_cast<T*>(data), count, range, seed);
}

}  // namespace

void device_fill_fp8(void* data, DType dtype, Fp8Format format, float scale, std::int64_t count, float range,
                     std::uint64_t seed, void* stream) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  visit_dtype(dtype, [&](auto element) {
    fill_fp8_kernel<decltype(element)><<<fill_blocks(count, kThreads), kThreads, 0, cuda_stream>>>(
        static_cast<std::uint8_t*>(data), count, range, seed, format, scale);
  });
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("device_fill_fp8 launch failed: ") + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

void device_fill_uniform(void* data, DType dtype, std::int64_t count, float range, std::uint64_t seed, void* stream) {
  if (count <= 0) return;
  const auto cuda_stream = static_cast<cudaStream_t>(stream);
  visit_dtype(dtype, [&](auto element) { launch_fill<decltype(element)>(data, count, range, seed, cuda_stream); });
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("device_fill_uniform launch failed: ") + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

}  // namespace pal::bench
