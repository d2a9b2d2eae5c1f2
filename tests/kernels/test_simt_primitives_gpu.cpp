// Each SIMT primitive of the grouped kernel on the GPU and in the emulator, on the same data: equal
// bit for bit where the hardware is exact (ldmatrix, cp.async with its zero fill, shuffles, mma on
// small integers), and within a bound for mma on general values (the PTX ISA does not specify the
// order or internal precision of the hardware's accumulation). Exits with 77 (ctest: skipped) and
// says why when there is no GPU.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "kernels/simt/emulator.h"
#include "tests/kernels/simt_primitives_gpu.h"

using namespace pal;

TEST_CASE("ldmatrix x1, x2, x4, with and without .trans, gives the same registers on GPU and emulator") {
  const auto matrices = test::ldmatrix_input();
  std::vector<std::uint32_t> emulated(32 * test::kLdmatrixVariants * 4);
  simt::launch_emulated({1, 1, 1}, 32, test::kLdmatrixSharedBytes,
                        [&] { test::ldmatrix_body(matrices.data(), emulated.data()); });
  CHECK(test::gpu_ldmatrix(matrices) == emulated);
}

TEST_CASE("mma on integer-valued inputs is bit-identical on GPU and emulator (fp16, bf16, k16, k8)") {
  for (int k : {16, 8})
    for (DType dtype : {DType::fp16, DType::bf16})
      for (std::uint64_t seed : {1u, 2u, 3u}) {
        const test::MmaCase data = test::mma_integer_case(k, dtype, seed);
        std::vector<float> emulated(16 * 8);
        simt::launch_emulated({1, 1, 1}, 32, 0, [&] { test::run_mma_body(data, emulated.data()); });
        INFO("k " << k << " " << dtype_name(dtype) << " seed " << seed);
        CHECK(test::gpu_mma(data) == emulated);
      }
}

TEST_CASE("mma on general values agrees within the accumulation's rounding on GPU and emulator") {
  for (int k : {16, 8})
    for (DType dtype : {DType::fp16, DType::bf16}) {
      const test::MmaCase data = test::mma_random_case(k, dtype, 11);
      std::vector<float> emulated(16 * 8);
      simt::launch_emulated({1, 1, 1}, 32, 0, [&] { test::run_mma_body(data, emulated.data()); });
      const std::vector<float> gpu = test::gpu_mma(data);
      double worst = 0;
      for (std::size_t i = 0; i < gpu.size(); ++i) {
        // Bound: a few fp32 roundings of the largest partial sum (|a|, |b|, |c| <= 1: sums <= k + 1).
        const double bound = 4.0 * (k + 1) * std::ldexp(1.0, -23);
        worst = std::fmax(worst, std::fabs(double(gpu[i]) - emulated[i]));
        INFO("k " << k << " " << dtype_name(dtype) << " element " << i);
        CHECK(std::fabs(double(gpu[i]) - emulated[i]) <= bound);
      }
      std::printf("mma k%d %s: max |GPU - emulator| = %.3g\n", k, std::string(dtype_name(dtype)).c_str(), worst);
    }
}

TEST_CASE("cp.async lands the same bytes, zero fill included, on GPU and emulator") {
  const auto source = test::copy_source();
  std::vector<unsigned char> before(test::kCopyThreads * 16), after1(test::kCopyThreads * 16),
      after_all(test::kCopyThreads * 32);
  simt::launch_emulated({1, 1, 1}, test::kCopyThreads, test::kCopySharedBytes,
                        [&] { test::cp_async_body(source.data(), before.data(), after1.data(), after_all.data()); });
  const test::CopyOutputs gpu = test::gpu_cp_async(source);
  CHECK(gpu.after_wait1 == after1);
  CHECK(gpu.after_all == after_all);
}

TEST_CASE("integer shuffles carry the same bits on GPU and emulator") {
  const auto bits = test::shuffle_input();
  std::vector<std::uint32_t> emulated(64);
  simt::launch_emulated({1, 1, 1}, 32, 0, [&] { test::integer_shuffle_body(bits.data(), emulated.data()); });
  CHECK(test::gpu_integer_shuffle(bits) == emulated);
}

int main(int argc, char* argv[]) {
  std::string why;
  if (!test::gpu_present(&why)) {
    std::printf("SKIPPED: no GPU to test on (%s)\n", why.c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
