// The emulated grouped kernel with an fp8 KV cache (issue 11 x issue 10): both formats, unit and
// non-unit scales, every query dtype, both math paths, block sizes 8, 16 and 32 (a full build:
// every fp8 configuration it compiled), against its
// stage-by-stage reference, the dense oracle and v1's reference; a recorded run's stage checks; and
// a property that needs no reference: an fp8 run equals an auto-cache run on the dequantised values
// (bit for bit on tensor cores, within fp32 reordering on CUDA cores).
//
// Tolerances (tests/kernels/grouped_grid.h's grouped_output_tolerance with the cache dtype): twice
// the paged reference's fp8 rule against the oracle (tests/reference/reference_test_support.h). The
// oracle takes the exact values the codes stand for (code * scale in double), while the kernel and
// both references round each dequantised K and V element to the query dtype first (fp32 queries:
// through fp16 where v1/v2's loads convert several codes at once, core/fp8.h); that rounding adds
// u_d * max|v| to the output and a logit shift of the same order, which the rule bounds. The
// grouped reference dequantises with the same rounding as the kernel, so against it only the fp32
// summation order differs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/fp8.h"
#include "core/kv_cache_layout.h"
#include "kernels/geometry.h"
#include "tests/kernels/grouped_grid.h"

using namespace pal;

namespace {

struct Fp8Config {
  DType dtype;
  KvCacheDtype kv;
  int head_size;
  int block_size;
  GroupedMath math;
  bool operator==(const Fp8Config&) const = default;
};

// The candidates: the emulator's reduced fp8 set (kernels/grouped.cmake) and a few more that a
// full build (PAL_EMULATOR_INSTANTIATIONS=full) runs as well.
constexpr Fp8Config kCandidates[] = {
    {DType::fp16, KvCacheDtype::fp8_e4m3, 128, 16, GroupedMath::tensor_cores},
    {DType::fp16, KvCacheDtype::fp8_e5m2, 128, 16, GroupedMath::tensor_cores},
    {DType::fp16, KvCacheDtype::fp8_e4m3, 64, 8, GroupedMath::tensor_cores},
    {DType::fp16, KvCacheDtype::fp8_e5m2, 64, 32, GroupedMath::tensor_cores},
    {DType::fp16, KvCacheDtype::fp8_e4m3, 128, 16, GroupedMath::cuda_cores},
    {DType::fp16, KvCacheDtype::fp8_e5m2, 64, 8, GroupedMath::cuda_cores},
    {DType::bf16, KvCacheDtype::fp8_e4m3, 128, 16, GroupedMath::tensor_cores},
    {DType::bf16, KvCacheDtype::fp8_e5m2, 64, 8, GroupedMath::tensor_cores},
    {DType::fp32, KvCacheDtype::fp8_e5m2, 128, 16, GroupedMath::cuda_cores},
    {DType::fp32, KvCacheDtype::fp8_e4m3, 64, 8, GroupedMath::cuda_cores},
    {DType::fp32, KvCacheDtype::fp8_e4m3, 64, 32, GroupedMath::cuda_cores},
    // full builds only
    {DType::fp16, KvCacheDtype::fp8_e5m2, 256, 32, GroupedMath::tensor_cores},
    {DType::bf16, KvCacheDtype::fp8_e5m2, 80, 16, GroupedMath::cuda_cores},
    {DType::fp32, KvCacheDtype::fp8_e5m2, 192, 8, GroupedMath::cuda_cores},
};

bool compiled(const Fp8Config& c) {
  return grouped_emulator_config_compiled(c.dtype, c.kv, c.head_size, c.block_size, c.math);
}

// Every configuration this build compiled for the emulator: the compiled candidates first, in their
// order (so that a reduced build's cases and seeds stay as they were), then every other compiled
// one, which a full build adds (every dtype x format x head size x block size x math path that
// kernels/grouped.cmake lists). fp32 runs on CUDA cores only (the dispatch maps any math request of
// a 4-byte dtype to them, so its tensor-core "configuration" is not asked about).
std::vector<Fp8Config> compiled_configs(int* not_compiled_candidates) {
  std::vector<Fp8Config> configs;
  for (const Fp8Config& c : kCandidates) {
    if (compiled(c))
      configs.push_back(c);
    else
      ++*not_compiled_candidates;
  }
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32})
    for (KvCacheDtype kv : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2})
      for (int head_size : kSupportedHeadSizes)
        for (int block_size : kSupportedBlockSizes)
          for (GroupedMath math : {GroupedMath::tensor_cores, GroupedMath::cuda_cores}) {
            if (dtype == DType::fp32 && math == GroupedMath::tensor_cores) continue;
            const Fp8Config c{dtype, kv, head_size, block_size, math};
            if (compiled(c) && std::find(configs.begin(), configs.end(), c) == configs.end()) configs.push_back(c);
          }
  return configs;
}

struct Fp8Case {
  Scenario scenario;
  GroupedMath math;
};

// Each compiled configuration with unit scales and with non-unit ones (a power of two for K, so
// that it is exact, and 0.3 for V, so that the product rounds), group sizes 4 and 32 (two
// tensor-core row tiles), ALiBi on every other case; sequences around the block size (partial last
// kv_blocks, whose unused slots hold the format's NaN), past one 64-token tile and over several splits.
std::vector<Fp8Case> fp8_cases() {
  std::vector<Fp8Case> cases;
  // PAL_KERNEL_GRID=quick (the sanitizer build, where the emulator is ~10x slower): non-unit scales only.
  const bool quick = test::grid_choice("ci") == "quick";
  int config = 0;
  int not_compiled = 0;
  for (const Fp8Config& c : compiled_configs(&not_compiled)) {
    for (bool unit_scales : {true, false}) {
      if (quick && unit_scales) continue;
      Scenario s;
      s.dtype = c.dtype;
      s.kv_cache_dtype = c.kv;
      s.k_scale = unit_scales ? 1.0f : 0.0625f;
      s.v_scale = unit_scales ? 1.0f : 0.3f;
      s.head_size = c.head_size;
      s.block_size = c.block_size;
      s.num_heads = config % 2 == 0 ? 8 : 32;
      s.num_kv_heads = config % 2 == 0 ? 2 : 1;
      s.alibi = config % 4 >= 2;
      s.seq_lens = {1, c.block_size - 1, c.block_size + 1, 3 * c.block_size + 5, 100, 700};
      s.num_seqs = int(s.seq_lens.size());
      s.seed = std::uint64_t(7100 + config);
      cases.push_back({s, c.math});
      ++config;
    }
  }
  if (not_compiled > 0)
    std::printf("grouped fp8: %d of %zu configurations were not compiled for the emulator in this build "
                "(PAL_EMULATOR_INSTANTIATIONS=reduced)\n",
                not_compiled, std::size(kCandidates));
  return cases;
}

std::string describe_case(const Fp8Case& c, const GroupedRun& run) {
  return test::describe(c.scenario, run) + " | " + std::string(kv_cache_dtype_name(c.scenario.kv_cache_dtype)) +
         " k_scale " + std::to_string(c.scenario.k_scale) + " v_scale " + std::to_string(c.scenario.v_scale) +
         (c.math == GroupedMath::tensor_cores ? " | tensor cores" : " | CUDA cores");
}

// The same pool with an auto cache holding, in the query dtype, the values the kernel computes
// with: each code dequantised as the kernel's (and v1/v2's) loads do it, keys with VEC_SIZE codes per
// conversion and values with V_VEC_SIZE (only fp32 queries tell them apart), re-laid out with the
// auto cache's x.
Inputs dequantised_auto_inputs(const Scenario& fp8_scenario, const Inputs& fp8_inputs, Scenario& auto_scenario) {
  auto_scenario = fp8_scenario;
  auto_scenario.kv_cache_dtype = KvCacheDtype::automatic;
  auto_scenario.k_scale = 1.0f;
  auto_scenario.v_scale = 1.0f;
  Inputs inputs = fp8_inputs;
  inputs.k_scale = 1.0f;
  inputs.v_scale = 1.0f;
  const KvCacheLayout from = kv_cache_layout(fp8_scenario);
  const KvCacheLayout to = kv_cache_layout(auto_scenario);
  const ElementType type = element_type_of(fp8_scenario.dtype);
  const std::int64_t num_blocks = fp8_inputs.key_cache.shape.at(0);
  const auto key_shape = to.key_shape(num_blocks);
  const auto value_shape = to.value_shape(num_blocks);
  inputs.key_cache = Tensor(type, std::vector<std::int64_t>(key_shape.begin(), key_shape.end()));
  inputs.value_cache = Tensor(type, std::vector<std::int64_t>(value_shape.begin(), value_shape.end()));
  const Fp8Format format = fp8_format_of(fp8_scenario.kv_cache_dtype);
  const KernelGeometry loads{dtype_size_bytes(fp8_scenario.dtype), fp8_scenario.head_size, fp8_scenario.block_size,
                             kNumThreads, 1};
  const std::uint8_t* key_codes = fp8_inputs.key_cache.data<std::uint8_t>();
  const std::uint8_t* value_codes = fp8_inputs.value_cache.data<std::uint8_t>();
  for (std::int64_t block = 0; block < num_blocks; ++block)
    for (int kv_head = 0; kv_head < from.num_kv_heads; ++kv_head)
      for (int dim = 0; dim < from.head_size; ++dim)
        for (int slot = 0; slot < from.block_size; ++slot) {
          inputs.key_cache.set_float(to.key_offset(block, kv_head, dim, slot),
                                     dequantize_fp8_as_float(key_codes[from.key_offset(block, kv_head, dim, slot)], format,
                                                             fp8_inputs.k_scale, fp8_scenario.dtype, loads.vec_size()));
          inputs.value_cache.set_float(
              to.value_offset(block, kv_head, dim, slot),
              dequantize_fp8_as_float(value_codes[from.value_offset(block, kv_head, dim, slot)], format,
                                      fp8_inputs.v_scale, fp8_scenario.dtype, loads.v_vec_size()));
        }
  return inputs;
}

}  // namespace

TEST_CASE("the emulated grouped kernel reads fp8 caches: both formats, any scale, every query dtype and math path") {
  const auto cases = fp8_cases();
  REQUIRE(cases.size() >= 11);  // the reduced set's 11 configurations (twice unless quick)
  // How many configurations (head size x block size x math path) each (query dtype, format) walks.
  std::map<std::string, std::set<std::tuple<int, int, GroupedMath>>> walked;
  for (const Fp8Case& c : cases)
    walked[std::string(dtype_name(c.scenario.dtype)) + " " + std::string(kv_cache_dtype_name(c.scenario.kv_cache_dtype))]
        .insert({c.scenario.head_size, c.scenario.block_size, c.math});
  for (const auto& [name, configs] : walked)
    std::printf("grouped fp8: %s cache: %zu configurations\n", name.c_str(), configs.size());
  double worst_reference = 0, worst_oracle = 0, worst_v1 = 0;
  int states = 0;
  for (const Fp8Case& c : cases) {
    const Inputs inputs = generate_inputs(c.scenario);
    GroupedOptions options;
    options.math = c.math;
    const GroupedRun run = run_grouped(c.scenario, inputs, Backend::emulator, options);
    const test::GroupedCheck check = test::check_grouped_run(c.scenario, inputs, run);
    INFO(describe_case(c, run));
    INFO(check.failures);
    CHECK(check.failures.empty());
    worst_reference = std::fmax(worst_reference, check.max_vs_reference);
    worst_oracle = std::fmax(worst_oracle, check.max_vs_oracle);
    worst_v1 = std::fmax(worst_v1, check.max_vs_v1_reference);
    states += check.compared_split_states;
  }
  std::printf("grouped fp8 emulator grid: %zu scenarios, %d split states compared; largest |diff| vs reference "
              "%.3g, vs oracle %.3g, vs v1 reference %.3g\n",
              cases.size(), states, worst_reference, worst_oracle, worst_v1);
}

TEST_CASE("an fp8 grouped run equals an auto-cache run on the dequantised values, bit for bit on tensor cores") {
  // The kernel's only fp8 step is the per-element dequantisation on the way from the tile to the
  // math: everything after it (the mma or FMA order, the softmax, the merges) is the auto path's.
  // On tensor cores that holds bit for bit: the mma sees the same B values in the same positions.
  // On CUDA cores the two half-warps split each key into 16-byte units, 8 dims of an fp16 / bf16
  // cache (4 of fp32) but 16 of an fp8 one, so the fp32 dot products are summed in another order;
  // there the two runs are held to a few fp32 roundings instead.
  const test::Tolerance fp32_reordering{1e-6, 1e-5};
  int compared = 0;
  for (const Fp8Case& c : fp8_cases()) {
    const Inputs fp8_inputs = generate_inputs(c.scenario);
    Scenario auto_scenario;
    const Inputs auto_inputs = dequantised_auto_inputs(c.scenario, fp8_inputs, auto_scenario);
    GroupedOptions options;
    options.math = c.math;
    const GroupedRun fp8 = run_grouped(c.scenario, fp8_inputs, Backend::emulator, options);
    const GroupedRun automatic = run_grouped(auto_scenario, auto_inputs, Backend::emulator, options);
    INFO(describe_case(c, fp8));
    REQUIRE(fp8.plan.num_splits == automatic.plan.num_splits);
    REQUIRE(fp8.output.bytes.size() == automatic.output.bytes.size());
    if (c.math == GroupedMath::tensor_cores) {
      CHECK(std::memcmp(fp8.output.bytes.data(), automatic.output.bytes.data(), fp8.output.bytes.size()) == 0);
      CHECK(std::memcmp(fp8.exp_sums.bytes.data(), automatic.exp_sums.bytes.data(), fp8.exp_sums.bytes.size()) == 0);
    } else {
      int mismatches = 0;
      for (std::int64_t i = 0; i < fp8.output.numel(); ++i)
        if (!fp32_reordering.allows(fp8.output.get_float(i), automatic.output.get_float(i))) ++mismatches;
      for (std::int64_t i = 0; i < fp8.exp_sums.numel(); ++i) {
        const float a = fp8.exp_sums.get_float(i), b = automatic.exp_sums.get_float(i);
        if (std::isnan(a) != std::isnan(b) || (!std::isnan(a) && !fp32_reordering.allows(a, b))) ++mismatches;
      }
      CHECK(mismatches == 0);
    }
    ++compared;
  }
  CHECK(compared >= 11);
}

TEST_CASE("a recorded fp8 grouped run passes every stage check against its reference") {
  for (KvCacheDtype kv : {KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2}) {
    Scenario s;
    s.dtype = DType::fp16;
    s.kv_cache_dtype = kv;
    s.k_scale = 0.5f;
    s.v_scale = 0.3f;
    s.head_size = 128;
    s.block_size = 16;
    s.num_heads = 8;
    s.num_kv_heads = 2;
    s.seq_lens = {7, 130};
    s.num_seqs = 2;
    s.version = KernelVersion::grouped;
    s.seed = 77;
    if (!grouped_emulator_config_compiled(s.dtype, kv, s.head_size, s.block_size, GroupedMath::tensor_cores)) continue;
    const RecordedRun run = test::run_against_reference(CheckedInputs::generate(s), KernelVersion::grouped,
                                                        Backend::emulator);
    INFO(run.report().table());
    CHECK(run.report().passed());
    CHECK(run.report().stages.size() >= 5);
  }
}
