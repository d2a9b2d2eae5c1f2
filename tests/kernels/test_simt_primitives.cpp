// The grouped kernel's SIMT primitives in the emulator: fragment ownership as the PTX ISA states it
// (hand-worked cases and whole-matrix properties), ldmatrix, mma.sync, cp.async's asynchrony and
// zero fill, and the integer shuffles. The same bodies run on the GPU in simt_primitives_gpu_test.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <set>
#include <tuple>
#include <vector>

#include "kernels/simt/emulator.h"
#include "kernels/simt/fragments.h"
#include "tests/kernels/simt_primitive_bodies.h"
#include "tests/kernels/simt_primitive_data.h"

using namespace pal;

TEST_CASE("lane 5 holds A rows 1 and 9, columns 2-3 and 10-11, of an m16n8k16 fragment") {
  // Register order a0..a3: (row 1, cols 2-3), (row 9, cols 2-3), (row 1, cols 10-11), (row 9, cols 10-11).
  const int expected_rows[4] = {1, 9, 1, 9};
  const int expected_cols[4] = {2, 2, 10, 10};
  for (int reg = 0; reg < 4; ++reg) {
    CHECK(fragment::a_row(5, reg) == expected_rows[reg]);
    CHECK(fragment::a_col(5, reg) == expected_cols[reg]);
  }
  // B: lane 5 holds column 1, rows 2-3 (reg 0) and 10-11 (reg 1); C: (1, 2), (1, 3), (9, 2), (9, 3).
  CHECK(fragment::b_col(5) == 1);
  CHECK(fragment::b_row(5, 0) == 2);
  CHECK(fragment::b_row(5, 1) == 10);
  CHECK(std::tuple(fragment::c_row(5, 0), fragment::c_col(5, 0)) == std::tuple(1, 2));
  CHECK(std::tuple(fragment::c_row(5, 1), fragment::c_col(5, 1)) == std::tuple(1, 3));
  CHECK(std::tuple(fragment::c_row(5, 2), fragment::c_col(5, 2)) == std::tuple(9, 2));
  CHECK(std::tuple(fragment::c_row(5, 3), fragment::c_col(5, 3)) == std::tuple(9, 3));
  // Lane 31 (quad 7, quad lane 3): A rows 7 and 15, columns 6-7 and 14-15.
  CHECK(fragment::a_row(31, 3) == 15);
  CHECK(fragment::a_col(31, 3) == 14);
}

TEST_CASE("every element of the A, B and C fragments is held by exactly one lane") {
  std::set<std::pair<int, int>> a, b, c;
  for (int lane = 0; lane < 32; ++lane) {
    for (int reg = 0; reg < 4; ++reg)
      for (int h = 0; h < 2; ++h) CHECK(a.insert({fragment::a_row(lane, reg), fragment::a_col(lane, reg) + h}).second);
    for (int reg = 0; reg < 2; ++reg)
      for (int h = 0; h < 2; ++h) CHECK(b.insert({fragment::b_row(lane, reg) + h, fragment::b_col(lane)}).second);
    for (int e = 0; e < 4; ++e) CHECK(c.insert({fragment::c_row(lane, e), fragment::c_col(lane, e)}).second);
  }
  CHECK(a.size() == 16 * 16);
  CHECK(b.size() == 16 * 8);
  CHECK(c.size() == 16 * 8);
  for (const auto& [row, col] : a) CHECK((row < 16 && col < 16));
  for (const auto& [row, col] : b) CHECK((row < 16 && col < 8));
  for (const auto& [row, col] : c) CHECK((row < 16 && col < 8));
}

TEST_CASE("the C fragment of one mma is laid out like the A fragment of the next (FlashAttention-2 reuse)") {
  // C of n-tile 0 (tokens 0-7) gives A regs 0 and 1, C of n-tile 1 (tokens 8-15) regs 2 and 3.
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 4; ++reg) {
      const int n_tile = reg >> 1;
      const int element = 2 * (reg & 1);  // c0 (row quad) for even regs, c2 (row quad + 8) for odd
      CHECK(fragment::a_row(lane, reg) == fragment::c_row(lane, element));
      CHECK(fragment::a_col(lane, reg) == 8 * n_tile + fragment::c_col(lane, element));
    }
}

TEST_CASE("ldmatrix gives each lane the row and columns the PTX ISA lists, with and without .trans") {
  const std::vector<std::uint16_t> matrices = test::ldmatrix_input();
  std::vector<std::uint32_t> out(32 * test::kLdmatrixVariants * 4, 0xDEADBEEFu);
  simt::launch_emulated({1, 1, 1}, 32, test::kLdmatrixSharedBytes,
                        [&] { test::ldmatrix_body(matrices.data(), out.data()); });
  auto element = [&](int matrix, int row, int col) { return std::uint32_t(matrices[std::size_t((matrix * 8 + row) * 8 + col)]); };
  auto pair = [&](int matrix, int row0, int col0, int row1, int col1) {
    return element(matrix, row0, col0) | (element(matrix, row1, col1) << 16);
  };
  // Hand-worked: lane 5 receives row 1, columns 2-3 of each matrix; with .trans, column 1, rows 2-3.
  const std::uint32_t* lane5 = &out[5 * test::kLdmatrixVariants * 4];
  CHECK(lane5[2 * 4 + 0] == pair(0, 1, 2, 1, 3));
  CHECK(lane5[2 * 4 + 3] == pair(3, 1, 2, 1, 3));
  CHECK(lane5[5 * 4 + 1] == pair(1, 2, 1, 3, 1));
  for (int lane = 0; lane < 32; ++lane) {
    const std::uint32_t* mine = &out[std::size_t(lane * test::kLdmatrixVariants * 4)];
    const int row = lane / 4, col = 2 * (lane % 4);
    for (int variant = 0; variant < test::kLdmatrixVariants; ++variant) {
      const int num = (variant % 3 == 0) ? 1 : (variant % 3 == 1 ? 2 : 4);
      const bool trans = variant >= 3;
      for (int m = 0; m < num; ++m) {
        INFO("lane " << lane << " variant " << variant << " matrix " << m);
        CHECK(mine[variant * 4 + m] == (trans ? pair(m, col, row, col + 1, row) : pair(m, row, col, row, col + 1)));
      }
    }
  }
}

TEST_CASE("mma m16n8k16 and m16n8k8 on integer-valued fp16 and bf16 inputs equal A*B + C exactly") {
  for (int k : {16, 8}) {
    for (DType dtype : {DType::fp16, DType::bf16}) {
      const test::MmaCase data = test::mma_integer_case(k, dtype, 7);
      std::vector<float> d(16 * 8, -1.0f);
      simt::launch_emulated({1, 1, 1}, 32, 0, [&] { test::run_mma_body(data, d.data()); });
      for (int row = 0; row < 16; ++row)
        for (int col = 0; col < 8; ++col) {
          double want = data.c[std::size_t(row * 8 + col)];
          for (int kk = 0; kk < k; ++kk) want += double(data.a_values[std::size_t(row * k + kk)]) * data.b_values[std::size_t(kk * 8 + col)];
          INFO("k " << k << " " << dtype_name(dtype) << " D(" << row << ", " << col << ")");
          CHECK(d[std::size_t(row * 8 + col)] == float(want));
        }
    }
  }
}

TEST_CASE("mma adds to a hand-worked accumulator: identity times B plus C") {
  // A = I (16 x 16), so D = B[0:16][:] + C; with B[k][n] = k - n and C[m][n] = 100 m.
  test::MmaCase data;
  data.k = 16;
  data.dtype = DType::fp16;
  data.a_values.assign(16 * 16, 0.0f);
  for (int i = 0; i < 16; ++i) data.a_values[std::size_t(i * 16 + i)] = 1.0f;
  for (int kk = 0; kk < 16; ++kk)
    for (int n = 0; n < 8; ++n) data.b_values.push_back(float(kk - n));
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) data.c.push_back(100.0f * float(m));
  test::encode(data);
  std::vector<float> d(16 * 8);
  simt::launch_emulated({1, 1, 1}, 32, 0, [&] { test::run_mma_body(data, d.data()); });
  CHECK(d[0 * 8 + 0] == 0.0f);
  CHECK(d[3 * 8 + 5] == 300.0f + (3 - 5));
  CHECK(d[15 * 8 + 7] == 1500.0f + (15 - 7));
}

TEST_CASE("cp.async poisons its destination until a wait covers its group, and zero-fills past src-size") {
  const std::vector<unsigned char> source = test::copy_source();
  std::vector<unsigned char> before(test::kCopyThreads * 16), after1(test::kCopyThreads * 16), after_all(test::kCopyThreads * 32);
  simt::launch_emulated({1, 1, 1}, test::kCopyThreads, test::kCopySharedBytes, [&] {
    test::cp_async_body(source.data(), before.data(), after1.data(), after_all.data());
  });
  for (int t = 0; t < test::kCopyThreads; ++t) {
    INFO("thread " << t);
    for (int i = 0; i < 16; ++i) CHECK(before[std::size_t(t * 16 + i)] == 0xFF);  // not landed yet
    for (int chunk = 0; chunk < 2; ++chunk) {
      const int n = test::copy_src_bytes(t, chunk);
      for (int i = 0; i < 16; ++i) {
        const unsigned char want = i < n ? source[std::size_t((t * 2 + chunk) * 16 + i)] : 0;
        CHECK(after_all[std::size_t((t * 2 + chunk) * 16 + i)] == want);
        if (chunk == 0) CHECK(after1[std::size_t(t * 16 + i)] == want);
      }
    }
  }
}

TEST_CASE("wait_group 1 leaves the newest group in flight: its destination still reads as NaN") {
  std::vector<float> source(8, 2.5f), seen(8);
  simt::launch_emulated({1, 1, 1}, 32, 64, [&] {
    float* shared = simt::dynamic_shared<float>();
    if (simt::thread_idx() == 0) {
      simt::cp_async_16(shared, source.data(), 16);
      simt::cp_async_commit();
      simt::cp_async_16(shared + 4, source.data() + 4, 16);
      simt::cp_async_commit();
      simt::cp_async_wait<1>();
      for (int i = 0; i < 8; ++i) seen[std::size_t(i)] = shared[i];
      simt::cp_async_wait<0>();
    }
  });
  for (int i = 0; i < 4; ++i) CHECK(seen[std::size_t(i)] == 2.5f);
  for (int i = 4; i < 8; ++i) CHECK(std::isnan(seen[std::size_t(i)]));
}

TEST_CASE("a thread that reads another thread's cp.async destination without a barrier sees poison") {
  std::vector<float> source(4 * 32, 1.0f);
  float seen_by_thread_0 = 0;
  simt::launch_emulated({1, 1, 1}, 32, 32 * 16, [&] {
    float* shared = simt::dynamic_shared<float>();
    const int t = simt::thread_idx();
    simt::cp_async_16(shared + 4 * t, source.data() + 4 * t, 16);
    simt::cp_async_commit();
    simt::cp_async_wait<0>();
    // Missing simt::sync_threads() here: thread 0 runs first and reads thread 31's chunk too early.
    if (t == 0) seen_by_thread_0 = shared[4 * 31];
  });
  CHECK(std::isnan(seen_by_thread_0));
}

TEST_CASE("cp.async refuses a misaligned address and a destination outside dynamic shared memory") {
  alignas(16) unsigned char source[64] = {};
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 32, 64,
                                            [&] { simt::cp_async_16(simt::dynamic_shared<unsigned char>() + 8, source, 16); }),
                      Catch::Contains("not 16-byte aligned"));
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 32, 64,
                                            [&] { simt::cp_async_16(simt::dynamic_shared<unsigned char>() + 64, source, 16); }),
                      Catch::Contains("outside the thread_block's dynamic shared memory"));
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 32, 64,
                                            [&] { simt::cp_async_16(simt::dynamic_shared<unsigned char>(), source, 17); }),
                      Catch::Contains("src-size 17"));
}

TEST_CASE("an ldmatrix or mma that only part of a warp reaches is reported as a deadlock") {
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 32, 512,
                                            [] {
                                              std::uint32_t regs[4];
                                              if (simt::thread_idx() < 16)
                                                simt::ldmatrix<4, false>(regs, simt::dynamic_shared<unsigned char>());
                                            }),
                      Catch::Contains("deadlock") && Catch::Contains("warp-collective"));
  REQUIRE_THROWS_WITH(simt::launch_emulated({1, 1, 1}, 32, 0,
                                            [] {
                                              float d[4];
                                              const std::uint32_t a[4] = {}, b[2] = {};
                                              const float c[4] = {};
                                              if (simt::thread_idx() != 3) simt::mma_m16n8k16<fp16_t>(d, a, b, c);
                                            }),
                      Catch::Contains("deadlock"));
}

TEST_CASE("integer shuffles and sync_warp move 32-bit patterns unchanged between lanes") {
  const std::vector<std::uint32_t> bits = test::shuffle_input();
  std::vector<std::uint32_t> out(64);
  simt::launch_emulated({1, 1, 1}, 32, 0, [&] { test::integer_shuffle_body(bits.data(), out.data()); });
  for (int lane = 0; lane < 32; ++lane) {
    CHECK(out[std::size_t(lane * 2)] == bits[std::size_t(lane ^ 3)]);
    CHECK(out[std::size_t(lane * 2 + 1)] == bits[7]);
  }
}

TEST_CASE("pack_pair puts the first element in the low half and rounds like from_float") {
  const std::uint32_t packed = pack_pair<fp16_t>(1.0f, -2.0f);
  CHECK((packed & 0xFFFFu) == 0x3C00u);
  CHECK((packed >> 16) == 0xC000u);
  CHECK(pair_element<fp16_t>(packed, 0) == 1.0f);
  CHECK(pair_element<fp16_t>(packed, 1) == -2.0f);
  CHECK(pair_element<bf16_t>(pack_pair<bf16_t>(3.0f, 1.00390625f), 1) == round_to<bf16_t>(1.00390625f));
}
