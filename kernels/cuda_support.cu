#include "kernels/cuda_support.cuh"

#include <utility>

namespace pal {

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) throw_on_cuda_error(cudaMalloc(&ptr_, bytes), "cudaMalloc");
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);  // no throw from a destructor; a failed free is reported by the next call
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DeviceBuffer upload(const Tensor& tensor, cudaStream_t stream) {
  DeviceBuffer buffer(tensor.bytes.size());
  if (!tensor.bytes.empty()) {
    throw_on_cuda_error(
        cudaMemcpyAsync(buffer.get(), tensor.bytes.data(), tensor.bytes.size(), cudaMemcpyHostToDevice, stream),
        "cudaMemcpyAsync host to device");
    throw_on_cuda_error(cudaStreamSynchronize(stream), "cudaStreamSynchronize after a host-to-device copy");
  }
  return buffer;
}

void download(Tensor& tensor, const DeviceBuffer& buffer, cudaStream_t stream) {
  if (tensor.bytes.empty()) return;
  if (tensor.bytes.size() > buffer.bytes())
    throw std::logic_error("download: the tensor (" + std::to_string(tensor.bytes.size()) +
                           " bytes) is larger than the device buffer (" + std::to_string(buffer.bytes()) + " bytes)");
  throw_on_cuda_error(
      cudaMemcpyAsync(tensor.bytes.data(), buffer.get(), tensor.bytes.size(), cudaMemcpyDeviceToHost, stream),
      "cudaMemcpyAsync device to host");
  throw_on_cuda_error(cudaStreamSynchronize(stream), "cudaStreamSynchronize after a device-to-host copy");
}

DeviceBuffer duplicate(const DeviceBuffer& source, cudaStream_t stream) {
  DeviceBuffer copy(source.bytes());
  if (source.bytes() > 0)
    throw_on_cuda_error(cudaMemcpyAsync(copy.get(), source.get(), source.bytes(), cudaMemcpyDeviceToDevice, stream),
                        "cudaMemcpyAsync device to device");
  return copy;
}

void poison(const DeviceBuffer& buffer, cudaStream_t stream) {
  if (buffer.bytes() > 0)
    throw_on_cuda_error(cudaMemsetAsync(buffer.get(), 0xFF, buffer.bytes(), stream), "cudaMemsetAsync (poison)");
}

}  // namespace pal
