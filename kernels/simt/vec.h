// Vectors of elements loaded with one memory instruction, and the conversions the kernel needs.
//
// Vec<T, N> is N elements of T aligned to their total size, so that on the GPU a load of a
// Vec<fp16_t, 8> is one 16-byte instruction (LDG.E.128). On the host the same load is a memcpy,
// which sidesteps C++ aliasing rules and compiles to the same wide move.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "core/host_device.h"

namespace pal {

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  static_assert((sizeof(T) * N & (sizeof(T) * N - 1)) == 0, "a vector's size must be a power of two");
  T elem[N];
};

template <typename VecT, typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE VecT load_vec(const T* address) {
#if PAL_DEVICE_PASS
  return *reinterpret_cast<const VecT*>(address);
#else
  VecT value;
  std::memcpy(&value, address, sizeof(VecT));
  return value;
#endif
}

}  // namespace pal
