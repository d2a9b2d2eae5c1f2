// Element types of q, out and the KV cache, and their conversions to and from fp32.
//
// fp16 and bf16 are stored as 16-bit patterns (fp16_t, bf16_t) so that the same tensors, files and
// kernel source work with and without the CUDA toolkit. On the GPU the conversions use the
// hardware instructions; on the host they are exact software versions of the same IEEE rules
// (round to nearest, ties to even), so both sides produce bit-identical values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/host_device.h"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace pal {

enum class DType : std::uint8_t { fp32, fp16, bf16 };

constexpr int dtype_size_bytes(DType dtype) { return dtype == DType::fp32 ? 4 : 2; }
std::string_view dtype_name(DType dtype);                // "fp32", "fp16", "bf16"
bool parse_dtype(std::string_view text, DType& dtype);   // false when unknown

struct fp16_t {
  std::uint16_t bits;
};
struct bf16_t {
  std::uint16_t bits;
};
static_assert(sizeof(fp16_t) == 2 && sizeof(bf16_t) == 2);

PAL_HOST_DEVICE PAL_FORCE_INLINE float bits_to_float(std::uint32_t bits) {
#if PAL_DEVICE_PASS
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint32_t float_to_bits(float value) {
#if PAL_DEVICE_PASS
  return __float_as_uint(value);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

// ---- fp16 (IEEE binary16: 1 sign, 5 exponent, 10 mantissa bits) ---------------------------------

PAL_HOST_DEVICE PAL_FORCE_INLINE float to_float(fp16_t h) {
#if PAL_DEVICE_PASS
  return __half2float(__ushort_as_half(h.bits));
#else
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (h.bits >> 10) & 0x1fu;
  std::uint32_t mantissa = h.bits & 0x3ffu;
  if (exponent == 0x1f)  // inf or NaN: keep the payload
    return bits_to_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);
    // Subnormal: value = mantissa * 2^-24, exact in fp32.
    float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return bits_to_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
#endif
}

PAL_HOST_DEVICE PAL_FORCE_INLINE fp16_t to_fp16(float value) {
#if PAL_DEVICE_PASS
  return fp16_t{__half_as_ushort(__float2half_rn(value))};
#else
  const std::uint32_t bits = float_to_bits(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u)  // NaN: quiet, keep the top payload bits
    return fp16_t{static_cast<std::uint16_t>(sign | 0x7e00u | ((abs_bits >> 13) & 0x3ffu))};
  if (abs_bits >= 0x477ff000u)  // rounds to >= 65520: overflow to inf
    return fp16_t{static_cast<std::uint16_t>(sign | 0x7c00u)};
  if (abs_bits < 0x38800000u) {  // below the smallest normal 2^-14: subnormal or zero
    // Scale so that one fp16 subnormal step (2^-24) becomes 1, then round to nearest even.
    const std::uint32_t exponent = abs_bits >> 23;
    if (exponent < 102) return fp16_t{sign};  // < 2^-25: rounds to zero
    const std::uint32_t mantissa = (abs_bits & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;  // 14 + (112 - exponent) ... bits to drop
    const std::uint32_t kept = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    const std::uint32_t rounded = kept + ((rest > half || (rest == half && (kept & 1u))) ? 1u : 0u);
    return fp16_t{static_cast<std::uint16_t>(sign | rounded)};
  }
  // Normal: rebias the exponent (127 -> 15) and round the mantissa from 23 to 10 bits.
  const std::uint32_t rebased = abs_bits - (112u << 23);
  const std::uint32_t kept = rebased >> 13;
  const std::uint32_t rest = rebased & 0x1fffu;
  const std::uint32_t rounded = kept + ((rest > 0x1000u || (rest == 0x1000u && (kept & 1u))) ? 1u : 0u);
  return fp16_t{static_cast<std::uint16_t>(sign | rounded)};
#endif
}

// ---- bf16 (the top 16 bits of an fp32) -----------------------------------------------------------

PAL_HOST_DEVICE PAL_FORCE_INLINE float to_float(bf16_t b) {
  return bits_to_float(static_cast<std::uint32_t>(b.bits) << 16);
}

PAL_HOST_DEVICE PAL_FORCE_INLINE bf16_t to_bf16(float value) {
#if PAL_DEVICE_PASS
  return bf16_t{__bfloat16_as_ushort(__float2bfloat16_rn(value))};
#else
  const std::uint32_t bits = float_to_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u)  // NaN: quiet it so truncation cannot make it inf
    return bf16_t{static_cast<std::uint16_t>((bits >> 16) | 0x0040u)};
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);  // ties to even
  return bf16_t{static_cast<std::uint16_t>((bits + rounding) >> 16)};
#endif
}

PAL_HOST_DEVICE PAL_FORCE_INLINE float to_float(float value) { return value; }

// from_float<T>: the rounding the kernel applies when it stores a float as T.
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE T from_float(float value);
template <>
PAL_HOST_DEVICE PAL_FORCE_INLINE float from_float<float>(float value) { return value; }
template <>
PAL_HOST_DEVICE PAL_FORCE_INLINE fp16_t from_float<fp16_t>(float value) { return to_fp16(value); }
template <>
PAL_HOST_DEVICE PAL_FORCE_INLINE bf16_t from_float<bf16_t>(float value) { return to_bf16(value); }

// round_to<T>: a float rounded through T and back (what a value looks like after a store as T).
template <typename T>
PAL_HOST_DEVICE PAL_FORCE_INLINE float round_to(float value) { return to_float(from_float<T>(value)); }

// The element type that stands for a DType, and back.
template <DType D> struct dtype_traits;
template <> struct dtype_traits<DType::fp32> { using type = float; };
template <> struct dtype_traits<DType::fp16> { using type = fp16_t; };
template <> struct dtype_traits<DType::bf16> { using type = bf16_t; };

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::fp32; }
template <> constexpr DType dtype_of<fp16_t>() { return DType::fp16; }
template <> constexpr DType dtype_of<bf16_t>() { return DType::bf16; }

// Calls fn(T{}) with the element type of a runtime DType: the one place a dtype becomes a type.
template <typename Fn>
decltype(auto) visit_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::fp16: return fn(fp16_t{});
    case DType::bf16: return fn(bf16_t{});
    case DType::fp32: break;
  }
  return fn(float{});
}

// Float rounded through a runtime dtype (used by the reference and the input generator).
float round_to_dtype(float value, DType dtype);

}  // namespace pal
