// Tests of core/fp8.h: decoding, encoding and dequantisation of both fp8 formats, bit for bit,
// against models written here from the formats' definitions in double precision (no bit tricks
// shared with the code under test). The GPU's conversions are held against the same host functions
// by test_fp8_gpu.cu.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/fp8.h"
#include "core/inputs.h"

using namespace pal;

namespace {

constexpr Fp8Format kFormats[] = {Fp8Format::e4m3, Fp8Format::e5m2};

// ---- the model: each format from its definition ------------------------------------------------

struct Fp8Model {
  Fp8Format format;
  int mantissa_bits;
  int exponent_bits;
  int bias;

  explicit Fp8Model(Fp8Format f)
      : format(f),
        mantissa_bits(f == Fp8Format::e4m3 ? 3 : 2),
        exponent_bits(f == Fp8Format::e4m3 ? 4 : 5),
        bias(f == Fp8Format::e4m3 ? 7 : 15) {}

  bool is_nan(int code) const {
    const int magnitude = code & 0x7F;
    if (format == Fp8Format::e4m3) return magnitude == 0x7F;  // the "fn" variant: one NaN, no inf
    return (magnitude >> mantissa_bits) == (1 << exponent_bits) - 1 && (magnitude & ((1 << mantissa_bits) - 1)) != 0;
  }
  bool is_inf(int code) const {
    return format == Fp8Format::e5m2 && (code & 0x7F) == 0x7C;
  }
  double value(int code) const {
    if (is_nan(code)) return std::numeric_limits<double>::quiet_NaN();
    const double sign = (code & 0x80) ? -1.0 : 1.0;
    if (is_inf(code)) return sign * std::numeric_limits<double>::infinity();
    const int exponent = (code & 0x7F) >> mantissa_bits;
    const int mantissa = code & ((1 << mantissa_bits) - 1);
    const double significand = exponent == 0 ? mantissa : (1 << mantissa_bits) + mantissa;
    return sign * std::ldexp(significand, (exponent == 0 ? 1 : exponent) - bias - mantissa_bits);
  }
  int max_finite_code() const {
    int code = 0;
    while (code + 1 < 0x80 && !is_nan(code + 1) && !is_inf(code + 1)) ++code;
    return code;
  }
  // Round to nearest by exact distance over the finite codes (which grow with the code from 0 to
  // the largest), ties to the even code; at or beyond the largest finite value: saturate.
  int encode(double x) const {
    if (std::isnan(x)) return -1;  // any NaN code is right; checked with is_nan
    const int sign = std::signbit(x) ? 0x80 : 0;
    const double magnitude = std::fabs(x);
    const int largest = max_finite_code();
    if (magnitude >= value(largest)) return sign | largest;
    int below = 0;
    while (value(below + 1) <= magnitude) ++below;
    const double to_below = magnitude - value(below);
    const double to_above = value(below + 1) - magnitude;
    if (to_below < to_above) return sign | below;
    if (to_above < to_below) return sign | (below + 1);
    return sign | ((below & 1) ? below + 1 : below);
  }
};

// Round to a binary format with `precision` significand bits and smallest normal exponent
// `min_exponent` (subnormals below it), to nearest with ties to even; no overflow handling.
double round_to_binary(double x, int precision, int min_exponent) {
  if (x == 0.0 || !std::isfinite(x)) return x;
  const int exponent = std::max(std::ilogb(x), min_exponent);
  const double quantum = std::ldexp(1.0, exponent - precision + 1);
  return std::nearbyint(x / quantum) * quantum;  // default rounding mode: to nearest, ties to even
}

double round_to_fp16_model(double x) {
  const double rounded = round_to_binary(x, 11, -14);
  return std::fabs(rounded) > 65504.0 ? std::copysign(std::numeric_limits<double>::infinity(), x) : rounded;
}
double round_to_bf16_model(double x) { return round_to_binary(x, 8, -126); }

bool same_value(double got, double want) { return (std::isnan(got) && std::isnan(want)) || got == want; }

float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

TEST_CASE("the formats' constants agree with their definitions", "[fp8]") {
  for (Fp8Format format : kFormats) {
    const Fp8Model model(format);
    CHECK(fp8_max_finite_code(format) == model.max_finite_code());
    CHECK(double(fp8_max_finite(format)) == model.value(model.max_finite_code()));
    CHECK(model.is_nan(kFp8NanCode));
  }
  CHECK(fp8_max_finite(Fp8Format::e4m3) == 448.0f);
  CHECK(fp8_max_finite(Fp8Format::e5m2) == 57344.0f);
}

TEST_CASE("every fp8 code decodes to the value its format defines, through fp16 exactly", "[fp8]") {
  for (Fp8Format format : kFormats) {
    const Fp8Model model(format);
    for (int code = 0; code < 256; ++code) {
      const auto byte = static_cast<std::uint8_t>(code);
      INFO(fp8_format_name(format) << " code " << code);
      const double want = model.value(code);
      CHECK(same_value(fp8_to_float(byte, format), want));
      CHECK(same_value(to_float(fp8_to_half(byte, format)), want));  // fp16 holds every fp8 value
      CHECK(fp8_is_nan(byte, format) == model.is_nan(code));
      CHECK(fp8_is_inf(byte, format) == model.is_inf(code));
      const bool subnormal = !model.is_nan(code) && !model.is_inf(code) && want != 0.0 &&
                             std::fabs(want) < std::ldexp(1.0, 1 - model.bias);
      CHECK(fp8_is_subnormal(byte, format) == subnormal);
    }
  }
}

TEST_CASE("every fp8 code re-encodes to itself except NaN, and infinity saturates", "[fp8]") {
  for (Fp8Format format : kFormats) {
    for (int code = 0; code < 256; ++code) {
      const auto byte = static_cast<std::uint8_t>(code);
      INFO(fp8_format_name(format) << " code " << code);
      const std::uint8_t again = float_to_fp8(fp8_to_float(byte, format), format);
      if (fp8_is_nan(byte, format)) {
        CHECK(again == kFp8NanCode);
      } else if (fp8_is_inf(byte, format)) {
        CHECK(again == ((byte & 0x80) | fp8_max_finite_code(format)));  // E5M2's inf becomes +-57344
      } else {
        CHECK(again == byte);
      }
    }
  }
}

TEST_CASE("encoding rounds to nearest with ties to even, as the distance model does", "[fp8]") {
  for (Fp8Format format : kFormats) {
    const Fp8Model model(format);
    auto check = [&](float value) {
      const int want = model.encode(value);
      const std::uint8_t got = float_to_fp8(value, format);
      if (want < 0) {
        if (!fp8_is_nan(got, format)) FAIL(fp8_format_name(format) << ": NaN input gave code " << int(got));
      } else if (got != want) {
        FAIL(fp8_format_name(format) << ": float " << value << " (bits " << float_to_bits(value) << ") gave code "
                                     << int(got) << ", the model " << want);
      }
    };
    SECTION(std::string(fp8_format_name(format)) + ": midpoints between neighbouring codes, and one float ulp around") {
      for (int code = 0; code < model.max_finite_code(); ++code) {
        const double middle = (model.value(code) + model.value(code + 1)) / 2;  // exact in float
        for (float value : {static_cast<float>(middle), std::nextafter(static_cast<float>(middle), 0.0f),
                            std::nextafter(static_cast<float>(middle), 1e9f)}) {
          check(value);
          check(-value);
        }
      }
    }
    SECTION(std::string(fp8_format_name(format)) + ": random floats from far below the subnormals to past the largest") {
      SplitMix64 random(7);
      for (int i = 0; i < 200'000; ++i) {
        const auto exponent = static_cast<std::uint32_t>(127 - 30 + random.below(48));  // 2^-30 .. 2^17
        const auto mantissa = static_cast<std::uint32_t>(random.next() & 0x7FFFFFu);
        const auto sign = static_cast<std::uint32_t>((random.next() & 1u) << 31);
        check(float_from_bits(sign | (exponent << 23) | mantissa));
      }
    }
    SECTION(std::string(fp8_format_name(format)) + ": random bit patterns over the whole float range") {
      SplitMix64 random(8);
      for (int i = 0; i < 200'000; ++i) check(float_from_bits(static_cast<std::uint32_t>(random.next())));
    }
  }
}

TEST_CASE("encoding saturates at the largest finite value instead of overflowing", "[fp8]") {
  const float inf = std::numeric_limits<float>::infinity();
  // E4M3: 448 is the largest; 464 is halfway to the (NaN) step above and rounds to even, i.e. 448.
  CHECK(float_to_fp8(448.0f, Fp8Format::e4m3) == 0x7E);
  CHECK(float_to_fp8(464.0f, Fp8Format::e4m3) == 0x7E);
  CHECK(float_to_fp8(480.0f, Fp8Format::e4m3) == 0x7E);
  CHECK(float_to_fp8(1e30f, Fp8Format::e4m3) == 0x7E);
  CHECK(float_to_fp8(-1e30f, Fp8Format::e4m3) == 0xFE);
  CHECK(float_to_fp8(inf, Fp8Format::e4m3) == 0x7E);
  CHECK(float_to_fp8(-inf, Fp8Format::e4m3) == 0xFE);
  // E5M2: saturating too (upstream's __NV_SATFINITE), so never its infinity code 0x7C.
  CHECK(float_to_fp8(57344.0f, Fp8Format::e5m2) == 0x7B);
  CHECK(float_to_fp8(61440.0f, Fp8Format::e5m2) == 0x7B);
  CHECK(float_to_fp8(1e30f, Fp8Format::e5m2) == 0x7B);
  CHECK(float_to_fp8(inf, Fp8Format::e5m2) == 0x7B);
  CHECK(float_to_fp8(-inf, Fp8Format::e5m2) == 0xFB);
  for (Fp8Format format : kFormats) CHECK(float_to_fp8(std::numeric_limits<float>::quiet_NaN(), format) == kFp8NanCode);
}

TEST_CASE("subnormals keep their spacing, and half the smallest one rounds to zero", "[fp8]") {
  // E4M3: subnormals are m * 2^-9; E5M2: m * 2^-16.
  CHECK(float_to_fp8(0x1.0p-9f, Fp8Format::e4m3) == 0x01);
  CHECK(float_to_fp8(0x1.0p-10f, Fp8Format::e4m3) == 0x00);        // tie with 0: even
  CHECK(float_to_fp8(0x1.8p-10f, Fp8Format::e4m3) == 0x01);        // above the tie
  CHECK(float_to_fp8(0x1.8p-9f, Fp8Format::e4m3) == 0x02);         // 1.5 steps: tie, to even 2
  CHECK(float_to_fp8(0x1.4p-8f, Fp8Format::e4m3) == 0x02);         // 2.5 steps: tie, to even 2
  CHECK(float_to_fp8(0x1.Cp-7f, Fp8Format::e4m3) == 0x07);         // the largest subnormal, 7 * 2^-9
  CHECK(float_to_fp8(0x1.Ep-7f, Fp8Format::e4m3) == 0x08);         // 7.5 steps: up to the smallest normal 2^-6
  CHECK(float_to_fp8(-0x1.0p-12f, Fp8Format::e4m3) == 0x80);       // a negative underflow keeps its sign
  CHECK(float_to_fp8(0x1.0p-16f, Fp8Format::e5m2) == 0x01);
  CHECK(float_to_fp8(0x1.0p-17f, Fp8Format::e5m2) == 0x00);
  CHECK(float_to_fp8(-0.0f, Fp8Format::e5m2) == 0x80);
  CHECK(float_to_fp8(std::numeric_limits<float>::denorm_min(), Fp8Format::e5m2) == 0x00);
}

TEST_CASE("dequantisation rounds the scaled value once, where upstream's load does", "[fp8]") {
  // 1 and 0.5 scale exactly; 0.0123 and 3.7 make the fp32 product and its rounding matter; 3.7
  // also overflows fp16 for E5M2's largest values (the kernel would produce inf there).
  for (Fp8Format format : kFormats) {
    const Fp8Model model(format);
    for (float scale : {1.0f, 0.5f, 0.0123f, 3.7f}) {
      for (int code = 0; code < 256; ++code) {
        if (model.is_nan(code)) continue;
        const auto byte = static_cast<std::uint8_t>(code);
        INFO(fp8_format_name(format) << " code " << code << " scale " << scale);
        // The fp32 product: the exact product (at most 4 + 24 significant bits, exact in double)
        // rounded once to float.
        const double product = static_cast<double>(static_cast<float>(model.value(code) * double(scale)));
        CHECK(same_value(dequantize_fp8_to_fp32(byte, format, scale), product));
        CHECK(same_value(to_float(dequantize_fp8_to_fp16(byte, format, scale)), round_to_fp16_model(product)));
        CHECK(same_value(to_float(dequantize_fp8_to_bf16(byte, format, scale)), round_to_bf16_model(product)));
        CHECK(same_value(dequantize_fp8_to_fp32_via_half(byte, format, scale), round_to_fp16_model(product)));
        // The run-time dispatch picks the same case per query dtype and load width.
        CHECK(same_value(dequantize_fp8_as_float(byte, format, scale, DType::fp32, 1), product));
        CHECK(same_value(dequantize_fp8_as_float(byte, format, scale, DType::fp32, 4), round_to_fp16_model(product)));
        CHECK(same_value(dequantize_fp8_as_float(byte, format, scale, DType::fp16, 1), round_to_fp16_model(product)));
        CHECK(same_value(dequantize_fp8_as_float(byte, format, scale, DType::bf16, 8), round_to_bf16_model(product)));
      }
    }
  }
}

TEST_CASE("at scale 1 every dequantised code is exactly the fp8 value, in every query dtype", "[fp8]") {
  for (Fp8Format format : kFormats) {
    for (int code = 0; code < 256; ++code) {
      const auto byte = static_cast<std::uint8_t>(code);
      if (fp8_is_nan(byte, format)) continue;
      const float exact = fp8_to_float(byte, format);
      for (DType dtype : {DType::fp32, DType::fp16, DType::bf16})
        for (int width : {1, 2, 4, 8}) CHECK(dequantize_fp8_as_float(byte, format, 1.0f, dtype, width) == exact);
    }
  }
}

TEST_CASE("quantisation divides by the scale and counts what it did", "[fp8]") {
  CHECK(quantize_fp8(0.75f, 0.5f, Fp8Format::e4m3) == float_to_fp8(1.5f, Fp8Format::e4m3));
  Fp8QuantizationCounts counts;
  const Fp8Format format = Fp8Format::e4m3;
  for (float value : {0.1f, 1e-3f, 1e-6f, 0.0f, 500.0f, -1000.0f})
    counts.add(value, 1.0f, quantize_fp8(value, 1.0f, format), format);
  CHECK(counts.num_values == 6);
  CHECK(counts.num_subnormal == 1);        // 1e-3 (0.0156 is the smallest normal)
  CHECK(counts.num_flushed_to_zero == 1);  // 1e-6 (0 was zero already)
  CHECK(counts.num_saturated == 2);        // 500 and -1000
}

TEST_CASE("KV-cache dtype names parse back, with upstream's fp8 alias", "[fp8]") {
  for (KvCacheDtype dtype : {KvCacheDtype::automatic, KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
    KvCacheDtype parsed = KvCacheDtype::automatic;
    REQUIRE(parse_kv_cache_dtype(kv_cache_dtype_name(dtype), parsed));
    CHECK(parsed == dtype);
  }
  KvCacheDtype parsed = KvCacheDtype::automatic;
  CHECK(parse_kv_cache_dtype("fp8", parsed));
  CHECK(parsed == KvCacheDtype::fp8_e4m3);
  CHECK_FALSE(parse_kv_cache_dtype("fp16", parsed));
  CHECK_FALSE(parse_kv_cache_dtype("int8", parsed));
  CHECK(fp8_format_of(KvCacheDtype::fp8_e5m2) == Fp8Format::e5m2);
  CHECK_FALSE(is_fp8(KvCacheDtype::automatic));
}
