// The GPU's fp8 conversions (core/fp8.h's device pass, cuda_fp8.h's conversions: PTX cvt on sm_89
// and newer) against the host's software versions, bit for bit: every code of both formats decoded
// and dequantised at several scales for every query dtype, and encodings of every fp16 value, every
// midpoint between fp8 codes and random floats. NaN results must be NaN on both sides; their bit
// patterns may differ. Exits with 77 (ctest: skipped) and says why when there is no GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/fp8.h"
#include "core/inputs.h"
#include "fp8_gpu_probe.h"

using namespace pal;

namespace {

constexpr Fp8Format kFormats[] = {Fp8Format::e4m3, Fp8Format::e5m2};

bool fp16_is_nan(std::uint16_t bits) { return (bits & 0x7C00u) == 0x7C00u && (bits & 0x3FFu) != 0; }
bool bf16_is_nan(std::uint16_t bits) { return (bits & 0x7F80u) == 0x7F80u && (bits & 0x7Fu) != 0; }
bool fp32_is_nan(std::uint32_t bits) { return (bits & 0x7FFFFFFFu) > 0x7F800000u; }

float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// The values to encode: every fp16 value, every midpoint between neighbouring fp8 codes of both
// formats with a float ulp either side, specials, and random floats around fp8's range.
std::vector<float> values_to_encode() {
  std::vector<float> values;
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) values.push_back(to_float(fp16_t{static_cast<std::uint16_t>(bits)}));
  for (Fp8Format format : kFormats)
    for (int code = 0; code < fp8_max_finite_code(format); ++code) {
      const float middle = (fp8_to_float(static_cast<std::uint8_t>(code), format) +
                            fp8_to_float(static_cast<std::uint8_t>(code + 1), format)) / 2;
      for (float value : {middle, std::nextafter(middle, 0.0f), std::nextafter(middle, 1e9f)}) {
        values.push_back(value);
        values.push_back(-value);
      }
    }
  for (float value : {0.0f, 448.0f, 464.0f, 480.0f, 57344.0f, 61440.0f, 1e30f, std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()}) {
    values.push_back(value);
    values.push_back(-value);
  }
  SplitMix64 random(11);
  for (int i = 0; i < 100'000; ++i) {
    const auto exponent = static_cast<std::uint32_t>(127 - 30 + random.below(48));
    values.push_back(float_from_bits(static_cast<std::uint32_t>((random.next() & 1u) << 31) | (exponent << 23) |
                                     static_cast<std::uint32_t>(random.next() & 0x7FFFFFu)));
  }
  return values;
}

}  // namespace

TEST_CASE("the GPU decodes, dequantises and encodes fp8 exactly as the host functions do") {
  const std::vector<float> scales = {1.0f, 0.5f, 2.0f, 0.0123f, 0.37f, 3.7f, 1e-4f};
  const std::vector<float> values = values_to_encode();
  const test::Fp8DeviceResults gpu = test::run_fp8_conversions_on_gpu(scales, values);
  const int num_scales = static_cast<int>(scales.size());

  int num_mismatches = 0;
  auto report = [&](bool same, const char* what, Fp8Format format, float scale, int code, std::uint32_t got,
                    std::uint32_t want) {
    if (same) return;
    if (num_mismatches++ < 20)
      UNSCOPED_INFO(what << " " << fp8_format_name(format) << " scale " << scale << " code " << code << ": GPU bits "
                         << got << ", host bits " << want);
  };
  auto report_encoding = [&](bool same, Fp8Format format, float value, int got, int want) {
    if (same) return;
    if (num_mismatches++ < 20)
      UNSCOPED_INFO("encode " << fp8_format_name(format) << " float " << value << " (bits " << float_to_bits(value)
                              << "): GPU code " << got << ", host code " << want);
  };
  for (int f = 0; f < 2; ++f) {
    const Fp8Format format = kFormats[f];
    for (int s = 0; s < num_scales; ++s) {
      const float scale = scales[static_cast<std::size_t>(s)];
      for (int code = 0; code < 256; ++code) {
        const auto i = static_cast<std::size_t>((f * num_scales + s) * 256 + code);
        const auto byte = static_cast<std::uint8_t>(code);
        const std::uint16_t half = fp8_to_half(byte, format).bits;
        report(gpu.half_bits[i] == half || (fp16_is_nan(gpu.half_bits[i]) && fp16_is_nan(half)), "fp8_to_half", format,
               scale, code, gpu.half_bits[i], half);
        const std::uint16_t fp16 = dequantize_fp8_to_fp16(byte, format, scale).bits;
        report(gpu.fp16_bits[i] == fp16 || (fp16_is_nan(gpu.fp16_bits[i]) && fp16_is_nan(fp16)), "fp16", format, scale,
               code, gpu.fp16_bits[i], fp16);
        const std::uint16_t bf16 = dequantize_fp8_to_bf16(byte, format, scale).bits;
        report(gpu.bf16_bits[i] == bf16 || (bf16_is_nan(gpu.bf16_bits[i]) && bf16_is_nan(bf16)), "bf16", format, scale,
               code, gpu.bf16_bits[i], bf16);
        const std::uint32_t fp32 = float_to_bits(dequantize_fp8_to_fp32(byte, format, scale));
        report(gpu.fp32_bits[i] == fp32 || (fp32_is_nan(gpu.fp32_bits[i]) && fp32_is_nan(fp32)), "fp32", format, scale,
               code, gpu.fp32_bits[i], fp32);
        const std::uint32_t via_half = float_to_bits(dequantize_fp8_to_fp32_via_half(byte, format, scale));
        report(gpu.fp32_via_half_bits[i] == via_half || (fp32_is_nan(gpu.fp32_via_half_bits[i]) && fp32_is_nan(via_half)),
               "fp32 via half", format, scale, code, gpu.fp32_via_half_bits[i], via_half);
      }
    }
    for (std::size_t v = 0; v < values.size(); ++v) {
      const std::uint8_t got = gpu.encoded[static_cast<std::size_t>(f) * values.size() + v];
      const std::uint8_t want = float_to_fp8(values[v], format);
      report_encoding(got == want || (fp8_is_nan(got, format) && fp8_is_nan(want, format)), format, values[v], got, want);
    }
  }
  CHECK(num_mismatches == 0);
}

TEST_CASE("the GPU's pair dequantisation gives every pair of codes the bits of two one-code dequantisations") {
  // dequantize_fp8_pair's device pass (one cvt.rn.f16x2.e4m3x2 / e5m2x2 and one two-lane rounding)
  // against the host's, which is the one-code functions packed: all 65536 pairs, both formats, the
  // scales of the test above, fp16 and bf16 queries. NaN halves may differ in payload only.
  const std::vector<float> scales = {1.0f, 0.5f, 2.0f, 0.0123f, 0.37f, 3.7f, 1e-4f};
  const test::Fp8DeviceResults gpu = test::run_fp8_conversions_on_gpu(scales, {1.0f});
  const std::size_t num_pairs = 256 * 256;
  REQUIRE(gpu.fp16_pair_bits.size() == 2 * scales.size() * num_pairs);
  auto same_halves = [](std::uint32_t got, std::uint32_t want, bool (*is_nan)(std::uint16_t)) {
    for (int half = 0; half < 2; ++half) {
      const auto a = static_cast<std::uint16_t>(got >> (16 * half)), b = static_cast<std::uint16_t>(want >> (16 * half));
      if (a != b && !(is_nan(a) && is_nan(b))) return false;
    }
    return true;
  };
  int num_mismatches = 0;
  for (int f = 0; f < 2; ++f)
    for (std::size_t s = 0; s < scales.size(); ++s)
      for (std::size_t pair = 0; pair < num_pairs; ++pair) {
        const std::size_t i = (std::size_t(f) * scales.size() + s) * num_pairs + pair;
        const auto codes = static_cast<std::uint16_t>(pair);
        const std::uint32_t fp16 = dequantize_fp8_pair<fp16_t>(codes, kFormats[f], scales[s]);
        const std::uint32_t bf16 = dequantize_fp8_pair<bf16_t>(codes, kFormats[f], scales[s]);
        const bool ok = same_halves(gpu.fp16_pair_bits[i], fp16, fp16_is_nan) &&
                        same_halves(gpu.bf16_pair_bits[i], bf16, bf16_is_nan);
        if (!ok && num_mismatches++ < 20)
          UNSCOPED_INFO(fp8_format_name(kFormats[f]) << " scale " << scales[s] << " codes " << pair << ": GPU fp16 "
                                                      << gpu.fp16_pair_bits[i] << " / host " << fp16 << ", GPU bf16 "
                                                      << gpu.bf16_pair_bits[i] << " / host " << bf16);
      }
  CHECK(num_mismatches == 0);
}

int main(int argc, char* argv[]) {
  std::string why;
  if (!test::fp8_gpu_available(&why)) {
    std::printf("SKIPPED: no GPU to test fp8 conversions on (%s)\n", why.c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
