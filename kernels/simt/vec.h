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

// The same load through the GPU's read-only (non-coherent) data path, `ld.global.nc` (LDG.E.CONSTANT
// in SASS), for memory that no thread writes while the kernel runs: the KV cache, the block table,
// the query. Upstream gets these instructions implicitly, from its `const T* __restrict__` kernel
// parameters; this kernel's pointers travel in an argument struct, where nvcc cannot see that they
// do not alias, so it asks for them explicitly. On the host it is load_vec.
template <typename VecT, typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE VecT load_vec_read_only(const T* address) {
#if PAL_DEVICE_PASS
  static_assert(sizeof(VecT) == 1 || sizeof(VecT) == 2 || sizeof(VecT) == 4 || sizeof(VecT) == 8 ||
                    sizeof(VecT) == 16,
                "one read-only load moves 1, 2, 4, 8 or 16 bytes");
  VecT value;
  if constexpr (sizeof(VecT) == 16) {
    const uint4 bits = __ldg(reinterpret_cast<const uint4*>(address));
    std::memcpy(&value, &bits, sizeof(VecT));
  } else if constexpr (sizeof(VecT) == 8) {
    const uint2 bits = __ldg(reinterpret_cast<const uint2*>(address));
    std::memcpy(&value, &bits, sizeof(VecT));
  } else if constexpr (sizeof(VecT) == 4) {
    const unsigned int bits = __ldg(reinterpret_cast<const unsigned int*>(address));
    std::memcpy(&value, &bits, sizeof(VecT));
  } else if constexpr (sizeof(VecT) == 2) {
    const unsigned short bits = __ldg(reinterpret_cast<const unsigned short*>(address));
    std::memcpy(&value, &bits, sizeof(VecT));
  } else {
    const unsigned char bits = __ldg(reinterpret_cast<const unsigned char*>(address));
    std::memcpy(&value, &bits, sizeof(VecT));
  }
  return value;
#else
  return load_vec<VecT>(address);
#endif
}

// One element through the read-only path (see load_vec_read_only).
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE T load_read_only(const T* address) {
  return load_vec_read_only<T>(address);
}

// load_vec_read_only when READ_ONLY, else load_vec: for kernels that choose the path per variant.
template <typename VecT, bool READ_ONLY, typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE VecT load_vec_via(const T* address) {
  if constexpr (READ_ONLY) {
    return load_vec_read_only<VecT>(address);
  } else {
    return load_vec<VecT>(address);
  }
}

// Two 16-bit elements in one 32-bit register, the first in the low half: the element order of an
// mma or ldmatrix register (kernels/simt/fragments.h). The rounding is from_float's, on both sides.
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint32_t pack_pair(float first, float second) {
  static_assert(sizeof(T) == 2, "pack_pair packs two 16-bit elements");
  return std::uint32_t(from_float<T>(first).bits) | (std::uint32_t(from_float<T>(second).bits) << 16);
}
// Two 16-bit elements already in their type, packed the same way (no conversion at all).
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint32_t pack_elements(T first, T second) {
  static_assert(sizeof(T) == 2, "pack_elements packs two 16-bit elements");
  return std::uint32_t(first.bits) | (std::uint32_t(second.bits) << 16);
}
// Element `which` (0: low half, 1: high half) of a packed pair, as float.
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE float pair_element(std::uint32_t pair, int which) {
  static_assert(sizeof(T) == 2, "pair_element reads a 16-bit element");
  return to_float(T{static_cast<std::uint16_t>(which == 0 ? (pair & 0xFFFFu) : (pair >> 16))});
}
// Two consecutive 16-bit elements in memory (4-byte aligned) as one packed pair.
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint32_t load_pair(const T* address) {
  static_assert(sizeof(T) == 2, "load_pair reads two 16-bit elements");
  const Vec<T, 2> pair = load_vec<Vec<T, 2>>(address);
  return std::uint32_t(pair.elem[0].bits) | (std::uint32_t(pair.elem[1].bits) << 16);
}

}  // namespace pal
