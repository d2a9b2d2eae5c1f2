// GPU launches of the primitive bodies (see simt_primitives_gpu.h).
#include "tests/kernels/simt_primitives_gpu.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace pal::test {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

template <typename T>
struct Device {
  T* ptr = nullptr;
  std::size_t count = 0;
  explicit Device(std::size_t n) : count(n) { check(cudaMalloc(&ptr, n * sizeof(T)), "cudaMalloc"); }
  explicit Device(const std::vector<T>& host) : Device(host.size()) {
    check(cudaMemcpy(ptr, host.data(), count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  ~Device() { cudaFree(ptr); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  std::vector<T> download() const {
    std::vector<T> host(count);
    check(cudaMemcpy(host.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
    return host;
  }
};

void finish(const char* what) {
  check(cudaGetLastError(), what);
  check(cudaDeviceSynchronize(), what);
}

__global__ void ldmatrix_kernel(const std::uint16_t* matrices, std::uint32_t* out) { ldmatrix_body(matrices, out); }

template <typename T, int K>
__global__ void mma_kernel(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d) {
  mma_body<T, K>(a, b, c, d);
}

__global__ void cp_async_kernel(const unsigned char* source, unsigned char* before, unsigned char* after1,
                                unsigned char* after_all) {
  cp_async_body(source, before, after1, after_all);
}

__global__ void integer_shuffle_kernel(const std::uint32_t* bits, std::uint32_t* out) { integer_shuffle_body(bits, out); }

}  // namespace

std::vector<std::uint32_t> gpu_ldmatrix(const std::vector<std::uint16_t>& matrices) {
  const Device<std::uint16_t> in(matrices);
  Device<std::uint32_t> out(32 * kLdmatrixVariants * 4);
  check(cudaMemset(out.ptr, 0, out.count * sizeof(std::uint32_t)), "cudaMemset");
  ldmatrix_kernel<<<1, 32, kLdmatrixSharedBytes>>>(in.ptr, out.ptr);
  finish("ldmatrix_kernel");
  return out.download();
}

std::vector<float> gpu_mma(const MmaCase& data) {
  const Device<std::uint16_t> a(data.a_bits), b(data.b_bits);
  const Device<float> c(data.c);
  Device<float> d(16 * 8);
  const bool bf16 = data.dtype == DType::bf16;
  if (data.k == 16) {
    if (bf16) mma_kernel<bf16_t, 16><<<1, 32>>>(a.ptr, b.ptr, c.ptr, d.ptr);
    else mma_kernel<fp16_t, 16><<<1, 32>>>(a.ptr, b.ptr, c.ptr, d.ptr);
  } else {
    if (bf16) mma_kernel<bf16_t, 8><<<1, 32>>>(a.ptr, b.ptr, c.ptr, d.ptr);
    else mma_kernel<fp16_t, 8><<<1, 32>>>(a.ptr, b.ptr, c.ptr, d.ptr);
  }
  finish("mma_kernel");
  return d.download();
}

CopyOutputs gpu_cp_async(const std::vector<unsigned char>& source) {
  const Device<unsigned char> in(source);
  Device<unsigned char> before(kCopyThreads * 16), after1(kCopyThreads * 16), after_all(kCopyThreads * 32);
  cp_async_kernel<<<1, kCopyThreads, kCopySharedBytes>>>(in.ptr, before.ptr, after1.ptr, after_all.ptr);
  finish("cp_async_kernel");
  return {after1.download(), after_all.download()};
}

bool gpu_present(std::string* why_not) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count > 0) return true;
  if (why_not) *why_not = status != cudaSuccess ? cudaGetErrorString(status) : "no CUDA device found";
  cudaGetLastError();
  return false;
}

std::vector<std::uint32_t> gpu_integer_shuffle(const std::vector<std::uint32_t>& bits) {
  const Device<std::uint32_t> in(bits);
  Device<std::uint32_t> out(64);
  integer_shuffle_kernel<<<1, 32>>>(in.ptr, out.ptr);
  finish("integer_shuffle_kernel");
  return out.download();
}

}  // namespace pal::test
