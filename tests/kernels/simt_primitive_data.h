// Host-side inputs for the primitive bodies of simt_primitive_bodies.h, shared by the emulator test
// and the GPU comparison test so that both feed the same bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/inputs.h"
#include "tests/kernels/simt_primitive_bodies.h"

namespace pal::test {

// Four 8x8 matrices whose element (m, r, c) is the fp16 value m * 64 + r * 8 + c: every element is
// distinct, so a misplaced one shows.
inline std::vector<std::uint16_t> ldmatrix_input() {
  std::vector<std::uint16_t> matrices(4 * 8 * 8);
  for (int i = 0; i < 256; ++i) matrices[std::size_t(i)] = to_fp16(float(i)).bits;
  return matrices;
}

struct MmaCase {
  int k = 16;
  DType dtype = DType::fp16;
  std::vector<float> a_values, b_values, c;  // [16, k], [k, 8], [16, 8]; a and b exactly representable
  std::vector<std::uint16_t> a_bits, b_bits;
};

inline std::uint16_t bits_of(float value, DType dtype) {
  return dtype == DType::bf16 ? to_bf16(value).bits : to_fp16(value).bits;
}

inline void encode(MmaCase& data) {
  data.a_bits.clear();
  data.b_bits.clear();
  for (float v : data.a_values) data.a_bits.push_back(bits_of(v, data.dtype));
  for (float v : data.b_values) data.b_bits.push_back(bits_of(v, data.dtype));
}

// Small integers (|a|, |b| <= 8, |c| <= 100): every product and partial sum is exact in fp32, so the
// hardware's accumulation order cannot change the result and the emulator must match it bit for bit.
inline MmaCase mma_integer_case(int k, DType dtype, std::uint64_t seed) {
  SplitMix64 random(seed);
  MmaCase data;
  data.k = k;
  data.dtype = dtype;
  for (int i = 0; i < 16 * k; ++i) data.a_values.push_back(float(int(random.below(17)) - 8));
  for (int i = 0; i < k * 8; ++i) data.b_values.push_back(float(int(random.below(17)) - 8));
  for (int i = 0; i < 16 * 8; ++i) data.c.push_back(float(int(random.below(201)) - 100));
  encode(data);
  return data;
}

// Values like the kernel's (uniform in [-1, 1), rounded to the dtype; C uniform too): the sums are
// not exact, so GPU and emulator may differ in the last bits of fp32.
inline MmaCase mma_random_case(int k, DType dtype, std::uint64_t seed) {
  SplitMix64 random(seed);
  MmaCase data;
  data.k = k;
  data.dtype = dtype;
  for (int i = 0; i < 16 * k; ++i) data.a_values.push_back(round_to_dtype(random.uniform(-1, 1), dtype));
  for (int i = 0; i < k * 8; ++i) data.b_values.push_back(round_to_dtype(random.uniform(-1, 1), dtype));
  for (int i = 0; i < 16 * 8; ++i) data.c.push_back(random.uniform(-1, 1));
  encode(data);
  return data;
}

#if !defined(__CUDACC__)
// Runs mma_body for the case's (dtype, k) in an emulated launch's body (host code only).
inline void run_mma_body(const MmaCase& data, float* d) {
  if (data.dtype == DType::bf16) {
    if (data.k == 16) mma_body<bf16_t, 16>(data.a_bits.data(), data.b_bits.data(), data.c.data(), d);
    else mma_body<bf16_t, 8>(data.a_bits.data(), data.b_bits.data(), data.c.data(), d);
  } else {
    if (data.k == 16) mma_body<fp16_t, 16>(data.a_bits.data(), data.b_bits.data(), data.c.data(), d);
    else mma_body<fp16_t, 8>(data.a_bits.data(), data.b_bits.data(), data.c.data(), d);
  }
}
#endif

// Distinct, non-zero bytes, so a zero-filled byte cannot be mistaken for a copied one.
inline std::vector<unsigned char> copy_source() {
  std::vector<unsigned char> source(kCopyThreads * 2 * 16);
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<unsigned char>(1 + (i * 37) % 251);
  return source;
}

// 32-bit patterns including NaN payloads, infinities and denormals (as float bits).
inline std::vector<std::uint32_t> shuffle_input() {
  std::vector<std::uint32_t> bits(32);
  for (int i = 0; i < 32; ++i) bits[std::size_t(i)] = 0x7FC00001u + std::uint32_t(i) * 0x01010101u;
  bits[4] = 0x7F800000u;
  bits[5] = 0x00000001u;
  bits[6] = 0xFFFFFFFFu;
  return bits;
}

}  // namespace pal::test
