// Tests of core/dtype.h and core/tensor.h: the host conversions must match IEEE round-to-nearest-even
// bit for bit, because the GPU's conversion instructions do, and the emulator must agree with them.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/dtype.h"
#include "core/inputs.h"
#include "core/tensor.h"

using namespace pal;

namespace {

bool is_fp16_nan(std::uint16_t bits) { return (bits & 0x7c00u) == 0x7c00u && (bits & 0x3ffu) != 0; }

#if defined(__FLT16_MANT_DIG__)
std::uint16_t compiler_fp16_bits(float value) {
  const auto half = static_cast<_Float16>(value);
  std::uint16_t bits;
  std::memcpy(&bits, &half, sizeof bits);
  return bits;
}
#endif

// The exact value of a bf16 bit pattern as a double, with the all-ones exponent read as 2^128: the
// "next value up" that IEEE rounding overflows to.
double bf16_value_for_rounding(std::uint32_t bf16_bits) {
  const double sign = (bf16_bits & 0x8000u) ? -1.0 : 1.0;
  const std::uint32_t exponent = (bf16_bits >> 7) & 0xffu;
  const std::uint32_t mantissa = bf16_bits & 0x7fu;
  if (exponent == 0xff) return sign * std::ldexp(1.0, 128);
  if (exponent == 0) return sign * std::ldexp(static_cast<double>(mantissa), -133);
  return sign * std::ldexp(static_cast<double>(mantissa | 0x80u), static_cast<int>(exponent) - 134);
}

// bf16 rounding written independently of the bit trick in dtype.h: pick the nearer of the two
// neighbouring bf16 values by exact distance (doubles hold every float and every midpoint), and
// on a tie the one with an even last mantissa bit.
std::uint16_t reference_bf16_bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const std::uint32_t below = bits >> 16;  // toward zero
  const std::uint32_t above = below + 1;   // away from zero (may become inf)
  const double exact = static_cast<double>(value);
  const double distance_below = std::fabs(exact - bf16_value_for_rounding(below));
  const double distance_above = std::fabs(bf16_value_for_rounding(above) - exact);
  if (distance_below < distance_above) return static_cast<std::uint16_t>(below);
  if (distance_above < distance_below) return static_cast<std::uint16_t>(above);
  return static_cast<std::uint16_t>((below & 1u) ? above : below);
}

float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

TEST_CASE("every non-NaN fp16 pattern survives fp16 -> float -> fp16 unchanged", "[dtype][fp16]") {
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    const fp16_t half{static_cast<std::uint16_t>(bits)};
    const fp16_t back = to_fp16(to_float(half));
    if (is_fp16_nan(half.bits)) {
      INFO("pattern " << bits);
      REQUIRE(std::isnan(to_float(half)));
      REQUIRE(is_fp16_nan(back.bits));
    } else if (back.bits != half.bits) {
      FAIL("fp16 pattern " << bits << " came back as " << back.bits);
    }
  }
}

#if defined(__FLT16_MANT_DIG__)
TEST_CASE("fp16 to float matches the compiler's _Float16 for all 65536 patterns", "[dtype][fp16]") {
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    const auto pattern = static_cast<std::uint16_t>(bits);
    _Float16 half;
    std::memcpy(&half, &pattern, sizeof half);
    const float expected = static_cast<float>(half);
    const float actual = to_float(fp16_t{pattern});
    if (std::isnan(expected)) {
      REQUIRE(std::isnan(actual));
    } else if (float_to_bits(actual) != float_to_bits(expected)) {
      FAIL("fp16 pattern " << bits << ": got " << actual << ", the compiler says " << expected);
    }
  }
}

TEST_CASE("float to fp16 rounds exactly like the compiler's _Float16", "[dtype][fp16]") {
  auto check = [](float value) {
    const std::uint16_t expected = compiler_fp16_bits(value);
    const std::uint16_t actual = to_fp16(value).bits;
    if (std::isnan(value)) {
      if (!is_fp16_nan(actual)) FAIL("NaN input " << float_to_bits(value) << " gave non-NaN " << actual);
    } else if (actual != expected) {
      FAIL("float " << value << " (bits " << float_to_bits(value) << "): got " << actual << ", expected " << expected);
    }
  };

  SECTION("random bit patterns over the whole float range") {
    SplitMix64 random(1);
    for (int i = 0; i < 1'000'000; ++i) check(float_from_bits(static_cast<std::uint32_t>(random.next())));
  }
  SECTION("random floats with exponents around fp16's range (subnormals to overflow)") {
    SplitMix64 random(2);
    for (int i = 0; i < 1'000'000; ++i) {
      const auto exponent = static_cast<std::uint32_t>(100 + random.below(46));  // 2^-27 .. 2^18
      const auto mantissa = static_cast<std::uint32_t>(random.next() & 0x7fffffu);
      const std::uint32_t sign = (random.next() & 1u) << 31;
      check(float_from_bits(sign | (exponent << 23) | mantissa));
    }
  }
  SECTION("exact midpoints between neighbouring fp16 values (ties go to even)") {
    for (std::uint32_t bits = 0; bits < 0x7bffu; ++bits) {  // below the largest finite value
      const float low = to_float(fp16_t{static_cast<std::uint16_t>(bits)});
      const float high = to_float(fp16_t{static_cast<std::uint16_t>(bits + 1)});
      const float middle = low + (high - low) / 2;  // exact: one more mantissa bit than fp16 has
      check(middle);
      check(-middle);
      check(std::nextafter(middle, 0.0f));
      check(std::nextafter(middle, 1e9f));
    }
  }
  SECTION("the overflow boundary and special values") {
    for (float value : {65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e10f, std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::denorm_min(), 5.960464477539063e-8f, 2.9802322387695312e-8f,
                        2.98023259e-8f, 6.103515625e-5f, 0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN()}) {
      check(value);
      check(-value);
    }
  }
}
#else
TEST_CASE("float to fp16 rounds exactly like the compiler's _Float16", "[dtype][fp16][!mayfail]") {
  WARN("this compiler has no _Float16; the comparison with hardware conversion is skipped");
}
#endif

TEST_CASE("fp16 conversion handles the special values", "[dtype][fp16]") {
  CHECK(to_fp16(65504.0f).bits == 0x7bffu);  // largest finite fp16
  CHECK(to_fp16(65520.0f).bits == 0x7c00u);  // halfway to the next step: rounds to inf
  CHECK(to_fp16(-1e30f).bits == 0xfc00u);
  CHECK(to_fp16(0x1.0p-24f).bits == 0x0001u);  // smallest subnormal
  CHECK(to_fp16(0x1.0p-25f).bits == 0x0000u);  // exactly half of it: tie to even, zero
  CHECK(to_fp16(0x1.8p-25f).bits == 0x0001u);  // above half: rounds up
  CHECK(to_fp16(-0.0f).bits == 0x8000u);
  CHECK(is_fp16_nan(to_fp16(std::numeric_limits<float>::quiet_NaN()).bits));
  CHECK(std::isinf(to_float(fp16_t{0x7c00u})));
}

TEST_CASE("bf16 rounds to nearest with ties to even", "[dtype][bf16]") {
  // bf16 keeps 7 mantissa bits, so one step at 1.0 is 2^-7 and half a step is 2^-8.
  CHECK(to_bf16(1.0f + 0x1.0p-8f).bits == to_bf16(1.0f).bits);           // tie, 1.0 is even: stays
  CHECK(to_bf16(1.0f + 0x1.0p-8f + 0x1.0p-20f).bits == 0x3f81u);          // just above the tie: up
  CHECK(to_bf16(1.0f + 0x1.0p-7f + 0x1.0p-8f).bits == 0x3f82u);           // tie from an odd value: up to even
  CHECK(to_bf16(1.0f + 0x1.0p-8f - 0x1.0p-23f).bits == 0x3f80u);          // just below the tie: down
  CHECK(to_bf16(-(1.0f + 0x1.0p-7f + 0x1.0p-8f)).bits == 0xbf82u);        // symmetric for negatives
  CHECK(to_bf16(std::numeric_limits<float>::max()).bits == 0x7f80u);      // rounds past the largest bf16: inf
  CHECK(to_bf16(std::numeric_limits<float>::infinity()).bits == 0x7f80u);
  // A NaN whose payload sits only in the low 16 bits must not truncate into inf.
  const bf16_t nan = to_bf16(float_from_bits(0x7f800001u));
  CHECK((nan.bits & 0x7f80u) == 0x7f80u);
  CHECK((nan.bits & 0x7fu) != 0u);
  CHECK(to_float(bf16_t{0x3f80u}) == 1.0f);
}

TEST_CASE("bf16 rounding agrees with a distance-based reference on random floats", "[dtype][bf16]") {
  SplitMix64 random(3);
  for (int i = 0; i < 1'000'000; ++i) {
    const float value = float_from_bits(static_cast<std::uint32_t>(random.next()));
    if (std::isnan(value)) continue;
    const std::uint16_t expected = reference_bf16_bits(value);
    const std::uint16_t actual = to_bf16(value).bits;
    if (actual != expected) FAIL("float bits " << float_to_bits(value) << ": got " << actual << ", expected " << expected);
  }
}

TEST_CASE("round_to_dtype rounds through the named dtype", "[dtype]") {
  const float value = 0.1f;
  CHECK(round_to_dtype(value, DType::fp32) == value);
  CHECK(round_to_dtype(value, DType::fp16) == to_float(to_fp16(value)));
  CHECK(round_to_dtype(value, DType::bf16) == to_float(to_bf16(value)));
  CHECK(round_to_dtype(value, DType::fp16) != value);  // 0.1 is not exact in fp16
}

TEST_CASE("dtype names parse back and unknown names are refused", "[dtype]") {
  for (DType dtype : {DType::fp32, DType::fp16, DType::bf16}) {
    DType parsed = dtype == DType::fp32 ? DType::fp16 : DType::fp32;
    REQUIRE(parse_dtype(dtype_name(dtype), parsed));
    CHECK(parsed == dtype);
  }
  DType untouched = DType::bf16;
  CHECK_FALSE(parse_dtype("half", untouched));
  CHECK_FALSE(parse_dtype("FP16", untouched));
  CHECK_FALSE(parse_dtype("", untouched));
  CHECK(untouched == DType::bf16);
  CHECK(dtype_size_bytes(DType::fp32) == 4);
  CHECK(dtype_size_bytes(DType::bf16) == 2);
}

TEST_CASE("a tensor stores and reads back every element type", "[tensor]") {
  SECTION("floats round to the element type on store") {
    Tensor half(ElementType::f16, {2, 3});
    half.set_float(5, 0.1f);
    CHECK(half.get_float(5) == to_float(to_fp16(0.1f)));
    Tensor brain(ElementType::bf16, {4});
    brain.set_float(0, 3.14159f);
    CHECK(brain.get_float(0) == to_float(to_bf16(3.14159f)));
    Tensor single(ElementType::f32, {1});
    single.set_float(0, 0.1f);
    CHECK(single.get_float(0) == 0.1f);
  }
  SECTION("integers store exactly and saturate instead of overflowing") {
    Tensor ints(ElementType::i32, {3});
    ints.set_float(0, -7.0f);
    ints.set_float(1, 1e20f);
    ints.set_float(2, std::numeric_limits<float>::quiet_NaN());
    CHECK(ints.data<std::int32_t>()[0] == -7);
    CHECK(ints.data<std::int32_t>()[1] == std::numeric_limits<std::int32_t>::max());
    CHECK(ints.data<std::int32_t>()[2] == 0);
    Tensor bytes(ElementType::u8, {2});
    bytes.set_float(0, 300.0f);
    bytes.set_float(1, -5.0f);
    CHECK(bytes.get_float(0) == 255.0f);
    CHECK(bytes.get_float(1) == 0.0f);
    Tensor longs(ElementType::i64, {1});
    longs.set_float(0, 16777216.0f);
    CHECK(longs.data<std::int64_t>()[0] == 16777216);
  }
}

TEST_CASE("a tensor's size follows its shape", "[tensor]") {
  const Tensor tensor(ElementType::bf16, {2, 3, 4});
  CHECK(tensor.numel() == 24);
  CHECK(tensor.bytes.size() == 48);
  CHECK(tensor.shape_string() == "[2, 3, 4]");
  CHECK(Tensor(ElementType::i64, {5}).bytes.size() == 40);

  const Tensor empty;
  CHECK(empty.numel() == 0);
  CHECK(empty.bytes.empty());
  const Tensor scalar(ElementType::f32, {});
  CHECK(scalar.numel() == 1);
  CHECK(scalar.shape_string() == "[]");

  CHECK_THROWS_AS(Tensor(ElementType::f32, {2, -1}), std::invalid_argument);
  CHECK_THROWS_AS(Tensor(ElementType::f32, {1 << 30, 1 << 30, 1 << 30}), std::length_error);
}

TEST_CASE("element type names are the safetensors dtype names", "[tensor]") {
  CHECK(element_type_name(ElementType::f32) == "F32");
  CHECK(element_type_name(ElementType::f16) == "F16");
  CHECK(element_type_name(ElementType::bf16) == "BF16");
  CHECK(element_type_name(ElementType::i32) == "I32");
  CHECK(element_type_name(ElementType::i64) == "I64");
  CHECK(element_type_name(ElementType::u8) == "U8");
  CHECK(element_type_of(DType::fp16) == ElementType::f16);
  CHECK(element_type_of(DType::bf16) == ElementType::bf16);
  CHECK(element_type_of(DType::fp32) == ElementType::f32);
  CHECK(element_size_bytes(ElementType::u8) == 1);
}
