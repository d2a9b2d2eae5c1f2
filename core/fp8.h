// The two 8-bit floating-point formats of an fp8 KV cache, their conversions, and the
// dequantisation the kernel applies when it loads a cached key or value.
//
// Formats (OCP "OFP8", the ones CUDA's cuda_fp8.h calls __NV_E4M3 and __NV_E5M2):
//   E4M3  1 sign, 4 exponent (bias 7), 3 mantissa bits. No infinity; s.1111.111 is NaN, so the
//         largest finite value is s.1111.110 = 448. Smallest normal 2^-6, smallest subnormal 2^-9.
//   E5M2  1 sign, 5 exponent (bias 15), 2 mantissa bits: IEEE-like, the top byte of an fp16.
//         s.11111.00 is infinity, s.11111.{01,10,11} NaN; largest finite 57344, smallest normal
//         2^-14, smallest subnormal 2^-16.
// Every value of either format is exactly an fp16 (and a bf16 and an fp32) value.
//
// Scale convention, upstream's: code = quantise(value / scale) and value ~ decode(code) * scale.
// One per-tensor scale for the key cache (k_scale) and one for the value cache (v_scale).
//
// Encoding rounds to nearest, ties to even, and saturates: a magnitude at or beyond the largest
// finite value (infinity included) becomes +-max finite, as upstream's conversions ask of
// __nv_cvt_float_to_fp8 with __NV_SATFINITE for both formats. NaN stays NaN (code 0x7F).
//
// On the GPU these functions call cuda_fp8.h's conversions (PTX cvt on sm_89 and newer); on the
// host they are software versions of the same rules, checked against the GPU for every code by
// tests/core/test_fp8_gpu.cu.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/dtype.h"
#include "core/host_device.h"

#if defined(__CUDACC__)
#include <cuda_fp8.h>
#endif

namespace pal {

enum class Fp8Format : std::uint8_t { e4m3, e5m2 };

std::string_view fp8_format_name(Fp8Format format);  // "e4m3", "e5m2"

// What the KV cache stores: upstream's Fp8KVCacheDataType {kAuto, kFp8E4M3, kFp8E5M2}. `automatic`
// stores the query's own dtype ("auto"); the fp8 ones store 1-byte codes plus per-tensor scales.
// Upstream's name "fp8" means fp8_e4m3 (parse_kv_cache_dtype accepts it).
enum class KvCacheDtype : std::uint8_t { automatic, fp8_e4m3, fp8_e5m2 };

std::string_view kv_cache_dtype_name(KvCacheDtype dtype);                 // "auto", "fp8_e4m3", "fp8_e5m2"
bool parse_kv_cache_dtype(std::string_view text, KvCacheDtype& dtype);  // also "fp8"; false when unknown

PAL_HOST_DEVICE constexpr bool is_fp8(KvCacheDtype dtype) { return dtype != KvCacheDtype::automatic; }
// The number format of an fp8 cache (E4M3 for `automatic`, which has none; ask is_fp8 first).
PAL_HOST_DEVICE constexpr Fp8Format fp8_format_of(KvCacheDtype dtype) {
  return dtype == KvCacheDtype::fp8_e5m2 ? Fp8Format::e5m2 : Fp8Format::e4m3;
}

PAL_HOST_DEVICE constexpr int fp8_mantissa_bits(Fp8Format format) { return format == Fp8Format::e4m3 ? 3 : 2; }
PAL_HOST_DEVICE constexpr int fp8_exponent_bias(Fp8Format format) { return format == Fp8Format::e4m3 ? 7 : 15; }
// The largest finite code: 0x7E = 448 for E4M3 (0x7F is NaN), 0x7B = 57344 for E5M2 (0x7C is inf).
PAL_HOST_DEVICE constexpr std::uint8_t fp8_max_finite_code(Fp8Format format) {
  return format == Fp8Format::e4m3 ? std::uint8_t{0x7E} : std::uint8_t{0x7B};
}
PAL_HOST_DEVICE constexpr float fp8_max_finite(Fp8Format format) { return format == Fp8Format::e4m3 ? 448.0f : 57344.0f; }
// The NaN code both conversions produce, and the poison of unused cache slots (all exponent and
// mantissa bits set is NaN in both formats).
inline constexpr std::uint8_t kFp8NanCode = 0x7F;

PAL_HOST_DEVICE constexpr bool fp8_is_nan(std::uint8_t code, Fp8Format format) {
  const int magnitude = code & 0x7F;
  return format == Fp8Format::e4m3 ? magnitude == 0x7F : magnitude > 0x7C;
}
PAL_HOST_DEVICE constexpr bool fp8_is_inf(std::uint8_t code, Fp8Format format) {
  return format == Fp8Format::e5m2 && (code & 0x7F) == 0x7C;
}
// Nonzero with a zero exponent field.
PAL_HOST_DEVICE constexpr bool fp8_is_subnormal(std::uint8_t code, Fp8Format format) {
  const int magnitude = code & 0x7F;
  return magnitude != 0 && (magnitude >> fp8_mantissa_bits(format)) == 0;
}

// ---- decoding: exact ---------------------------------------------------------------------------

PAL_HOST_DEVICE PAL_FORCE_INLINE fp16_t fp8_to_half(std::uint8_t code, Fp8Format format) {
#if PAL_DEVICE_PASS
  return fp16_t{__nv_cvt_fp8_to_halfraw(code, format == Fp8Format::e4m3 ? __NV_E4M3 : __NV_E5M2).x};
#else
  // NaN becomes fp16's canonical NaN (sign dropped), as cuda_fp8.h's conversion returns it.
  if (fp8_is_nan(code, format)) return fp16_t{0x7FFF};
  const auto sign = static_cast<std::uint16_t>((code & 0x80u) << 8);
  // E5M2 has fp16's exponent width and bias: its code is the top byte of the fp16 pattern.
  if (format == Fp8Format::e5m2) return fp16_t{static_cast<std::uint16_t>(code << 8)};
  // E4M3: rebias the exponent from 7 to 15 and widen the mantissa from 3 to 10 bits. Its subnormals
  // (m * 2^-9) are normal in fp16, so they are normalised: shift the mantissa up until its leading
  // one reaches the implicit-bit position, lowering the exponent once per shift.
  const unsigned exponent_field = (code >> 3) & 0xFu;
  unsigned mantissa = code & 0x7u;
  if (exponent_field == 0 && mantissa == 0) return fp16_t{sign};
  unsigned half_exponent = exponent_field + 8u;  // 15 - 7
  if (exponent_field == 0) {
    half_exponent = 9u;  // the subnormal scale 2^-6 as an fp16 exponent field, before normalising
    while ((mantissa & 0x8u) == 0) {
      mantissa <<= 1;
      --half_exponent;
    }
    mantissa &= 0x7u;  // the leading one becomes the implicit bit
  }
  return fp16_t{static_cast<std::uint16_t>(sign | (half_exponent << 10) | (mantissa << 7))};
#endif
}

PAL_HOST_DEVICE PAL_FORCE_INLINE float fp8_to_float(std::uint8_t code, Fp8Format format) {
  return to_float(fp8_to_half(code, format));
}

// ---- encoding: round to nearest even, saturating -------------------------------------------------

PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint8_t float_to_fp8(float value, Fp8Format format) {
#if PAL_DEVICE_PASS
  return static_cast<std::uint8_t>(
      __nv_cvt_float_to_fp8(value, __NV_SATFINITE, format == Fp8Format::e4m3 ? __NV_E4M3 : __NV_E5M2));
#else
  const std::uint32_t bits = float_to_bits(value);
  const auto sign = static_cast<std::uint8_t>((bits >> 24) & 0x80u);
  const std::uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return kFp8NanCode;
  // Saturation: everything from the largest finite value up (infinity too) is stored as it. Values
  // just below it round to it at most, never past it, so no other overflow check is needed.
  if (abs_bits >= float_to_bits(fp8_max_finite(format))) return static_cast<std::uint8_t>(sign | fp8_max_finite_code(format));
  if (abs_bits < 0x00800000u) return sign;  // zero or an fp32 subnormal: far below half the smallest fp8 step

  const int mantissa_bits = fp8_mantissa_bits(format);
  const int bias = fp8_exponent_bias(format);
  // value = significand * 2^(float_exponent - 23), with the implicit bit in the significand.
  const int float_exponent = static_cast<int>(abs_bits >> 23) - 127;
  const std::uint32_t significand = (abs_bits & 0x7FFFFFu) | 0x800000u;
  // The fp8 exponent of the result's binade; below the normal range it stays at the subnormal one,
  // where the spacing of fp8 values stops shrinking.
  const int min_normal_exponent = 1 - bias;
  const int exponent = float_exponent > min_normal_exponent ? float_exponent : min_normal_exponent;
  // Count the value in steps of the fp8 spacing there, 2^(exponent - mantissa_bits): drop `shift`
  // low bits of the significand, rounding to nearest with ties to even.
  const int shift = 23 - mantissa_bits + (exponent - float_exponent);
  if (shift > 24) return sign;  // below half a step: rounds to zero
  const std::uint32_t kept = significand >> shift;
  const std::uint32_t rest = significand & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  const std::uint32_t steps = kept + ((rest > half || (rest == half && (kept & 1u))) ? 1u : 0u);
  // steps < 2^mantissa_bits is a subnormal (exponent field 0); 2^mantissa_bits and above carry into
  // the exponent field by themselves, so one formula covers both (and a round-up into the next binade).
  const auto code = static_cast<std::uint32_t>(exponent + bias - 1) * (1u << mantissa_bits) + steps;
  return static_cast<std::uint8_t>(sign | code);
#endif
}

// Quantisation as upstream's cache writes do it: divide by the scale in fp32, then encode.
PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint8_t quantize_fp8(float value, float scale, Fp8Format format) {
  return float_to_fp8(value / scale, format);
}

// ---- dequantisation at the kernel's K/V loads ------------------------------------------------------
//
// Upstream converts each loaded fp8 code to fp16 (exact), to fp32 (exact), multiplies by the scale
// in fp32, and produces the query's element type. Where the product is rounded depends on the query
// dtype, and for fp32 queries on how many codes one conversion handles (upstream's
// scaled_vec_conversion specialisations in csrc/quantization/fp8/nvidia/quant_utils.cuh):
//   fp16 queries    the product is rounded once to fp16 (RN)                  dequantize_fp8_to_fp16
//   bf16 queries    the product is rounded once to bf16 (RN)                  dequantize_fp8_to_bf16
//   fp32, 1 code    the fp32 product is used as it is                         dequantize_fp8_to_fp32
//   fp32, 2-8 codes the pair conversions go through half2: the product is
//                   rounded to fp16 (RN) and widened back to fp32            dequantize_fp8_to_fp32_via_half
// The kernel loads VEC_SIZE codes per key vec and V_VEC_SIZE per value vec; dequantize_fp8() picks
// the case from the query type and that width.

PAL_HOST_DEVICE PAL_FORCE_INLINE fp16_t dequantize_fp8_to_fp16(std::uint8_t code, Fp8Format format, float scale) {
  return to_fp16(fp8_to_float(code, format) * scale);
}
PAL_HOST_DEVICE PAL_FORCE_INLINE bf16_t dequantize_fp8_to_bf16(std::uint8_t code, Fp8Format format, float scale) {
  return to_bf16(fp8_to_float(code, format) * scale);
}
PAL_HOST_DEVICE PAL_FORCE_INLINE float dequantize_fp8_to_fp32(std::uint8_t code, Fp8Format format, float scale) {
  return fp8_to_float(code, format) * scale;
}
PAL_HOST_DEVICE PAL_FORCE_INLINE float dequantize_fp8_to_fp32_via_half(std::uint8_t code, Fp8Format format, float scale) {
  return to_float(to_fp16(fp8_to_float(code, format) * scale));
}

template <typename scalar_t>
PAL_HOST_DEVICE PAL_FORCE_INLINE scalar_t dequantize_fp8(std::uint8_t code, Fp8Format format, float scale,
                                                          int codes_per_conversion);

// Two codes (the first in the low byte) dequantised for fp16 or bf16 queries, each exactly as
// dequantize_fp8_to_fp16 / _to_bf16 does it, packed as two 16-bit elements (the first in the low
// half): an mma's B register. On the GPU one cvt.rn.f16x2.{e4m3x2,e5m2x2} decodes both codes and one
// cvt.rn.{f16x2,bf16x2}.f32 rounds both products, where the one-code functions take a conversion
// and a rounding each (the grouped kernel's tensor-core path; tests/core checks every pair of codes
// against the one-code functions on the GPU).
template <typename scalar_t>
PAL_HOST_DEVICE PAL_FORCE_INLINE std::uint32_t dequantize_fp8_pair(std::uint16_t codes, Fp8Format format, float scale) {
  static_assert(sizeof(scalar_t) == 2, "a pair of 16-bit elements: fp16 or bf16 queries");
#if PAL_DEVICE_PASS
  const __half2_raw halves = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(codes),
                                                        format == Fp8Format::e4m3 ? __NV_E4M3 : __NV_E5M2);
  const float2 decoded = __half22float2(__half2(halves));
  const float first = decoded.x * scale, second = decoded.y * scale;
  if constexpr (std::is_same_v<scalar_t, fp16_t>) {
    const __half2_raw rounded = __floats2half2_rn(first, second);
    return std::uint32_t(rounded.x) | (std::uint32_t(rounded.y) << 16);
  } else {
    const __nv_bfloat162_raw rounded = __floats2bfloat162_rn(first, second);
    return std::uint32_t(rounded.x) | (std::uint32_t(rounded.y) << 16);
  }
#else
  const auto first = static_cast<std::uint8_t>(codes & 0xFFu), second = static_cast<std::uint8_t>(codes >> 8);
  if constexpr (std::is_same_v<scalar_t, fp16_t>) {
    return std::uint32_t(dequantize_fp8_to_fp16(first, format, scale).bits) |
           (std::uint32_t(dequantize_fp8_to_fp16(second, format, scale).bits) << 16);
  } else {
    return std::uint32_t(dequantize_fp8_to_bf16(first, format, scale).bits) |
           (std::uint32_t(dequantize_fp8_to_bf16(second, format, scale).bits) << 16);
  }
#endif
}
template <>
PAL_HOST_DEVICE PAL_FORCE_INLINE fp16_t dequantize_fp8<fp16_t>(std::uint8_t code, Fp8Format format, float scale, int) {
  return dequantize_fp8_to_fp16(code, format, scale);
}
template <>
PAL_HOST_DEVICE PAL_FORCE_INLINE bf16_t dequantize_fp8<bf16_t>(std::uint8_t code, Fp8Format format, float scale, int) {
  return dequantize_fp8_to_bf16(code, format, scale);
}
template <>
PAL_HOST_DEVICE PAL_FORCE_INLINE float dequantize_fp8<float>(std::uint8_t code, Fp8Format format, float scale,
                                                             int codes_per_conversion) {
  return codes_per_conversion == 1 ? dequantize_fp8_to_fp32(code, format, scale)
                                   : dequantize_fp8_to_fp32_via_half(code, format, scale);
}

// The same as a float, for a query dtype known only at run time (the reference, the tools).
float dequantize_fp8_as_float(std::uint8_t code, Fp8Format format, float scale, DType query_dtype,
                              int codes_per_conversion);

// ---- what quantisation did to a set of values ---------------------------------------------------------

// Counts over the values one quantisation pass encoded (the cache slots the sequences use).
struct Fp8QuantizationCounts {
  std::int64_t num_values = 0;
  std::int64_t num_subnormal = 0;        // became a nonzero subnormal code (fewer significant bits)
  std::int64_t num_flushed_to_zero = 0;  // a nonzero value that became +-0
  std::int64_t num_saturated = 0;        // |value / scale| beyond the largest finite value: stored as +-max

  // Records one value, the scale it was divided by and the code it became.
  void add(float value, float scale, std::uint8_t code, Fp8Format format);
};

}  // namespace pal
