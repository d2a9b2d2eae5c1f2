// The comparison of two versions on the same inputs (run/version_compare.h), on a GQA scenario small
// enough to count by hand: 8 query heads over 2 KV heads (groups of 4), head_size 32, fp16, 16-token
// kv_blocks, one sequence of 20 tokens, so 2 kv_blocks of which the second holds 4 tokens.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "run/version_compare.h"

using namespace pal;

namespace {

Scenario gqa_scenario(KernelVersion version) {
  Scenario s;
  s.num_seqs = 1;
  s.seq_lens = {20};
  s.num_heads = 8;
  s.num_kv_heads = 2;
  s.head_size = 32;
  s.block_size = 16;
  s.dtype = DType::fp16;
  s.version = version;
  return s;
}

RecordedRun recorded(KernelVersion version) {
  RecordedRunOptions options;
  options.backend = Backend::emulator;
  options.record = true;
  return RecordedRun::from_scenario(gqa_scenario(version), options);
}

}  // namespace

TEST_CASE("v1 loads each KV head's bytes once per query head of its group; the grouped kernel loads them once") {
  const RecordedRun v1 = recorded(KernelVersion::v1);
  const RecordedRun grouped = recorded(KernelVersion::grouped);
  const VersionComparison c = compare_versions(v1, grouped);

  // One KV head's K in one kv_block: 32 dims x 16 slots x 2 bytes = 1024 bytes; V the same.
  // v1 reads both kv_blocks whole (the 12 slots past the sequence too: upstream loads them and
  // masks the logits, zeroes the values), in each of the group's 4 thread_blocks:
  // 2 blocks x 2048 bytes = 4096 distinct bytes, 4 x 4096 = 16384 loaded.
  REQUIRE(c.a.kv_heads.size() == 2);
  for (const KvHeadTraffic& head : c.a.kv_heads) {
    CHECK(head.unique_bytes == 4096);
    CHECK(head.loaded_bytes == 16384);
    CHECK(head.reads_per_byte() == Approx(4.0));
  }
  // The grouped kernel copies the first kv_block whole (2048 bytes) and of the second only its 4
  // tokens: K 4 tokens x 32 dims x 2 bytes = 256, V 32 rows x 4 tokens x 2 bytes = 256, each byte once.
  REQUIRE(c.b.kv_heads.size() == 2);
  for (const KvHeadTraffic& head : c.b.kv_heads) {
    CHECK(head.unique_bytes == 2560);
    CHECK(head.loaded_bytes == 2560);
    CHECK(head.reads_per_byte() == Approx(1.0));
  }
  CHECK(c.a.loaded_bytes == 2 * 16384);
  CHECK(c.b.loaded_bytes == 2 * 2560);

  // v1: one thread_block per (sequence, query head) = 8; 128 threads. Warps 0 and 1 take one kv_block
  // each: per thread 4 key vecs (vec_size 4, 2-lane thread groups) and 2 value rows (16-byte vecs):
  // 6 loads on 64 of the 128 lanes, mean 3.
  CHECK(c.a.num_thread_blocks == 8);
  CHECK(c.a.num_launches == 1);
  CHECK(c.a.max_loads_per_lane == 6);
  CHECK(c.a.mean_loads_per_lane == Approx(3.0));
  // grouped: one thread_block per (sequence, KV head) = 2, one split (20 tokens). A 64-token tile
  // gives each kv_block 32 threads of 4 16-byte copies: 128 copies for the full kv_block, and for the
  // partial one 16 K copies (the units of tokens 16-19) and 32 V copies (the 8-token units that
  // start at token 16, 8 bytes each): 176 over 128 lanes.
  CHECK(c.b.num_thread_blocks == 2);
  CHECK(c.b.num_launches == 1);
  CHECK(c.b.max_loads_per_lane == 4);
  CHECK(c.b.mean_loads_per_lane == Approx(176.0 / 128.0));

  // v1's shared memory: max(logits of 32 slots, 2 warps' outputs of 32 floats) = 256 bytes, plus
  // q_vecs (32 fp16 = 64 bytes) and red_smem (8 floats = 32 bytes).
  CHECK(c.a.shared_memory_bytes == 352);
  CHECK(c.b.shared_memory_bytes == std::size_t(grouped.kernel().grouped_plan.shared_bytes));
  CHECK(c.b.shared_memory_bytes > c.a.shared_memory_bytes);  // the grouped kernel's K/V pipeline

  // Each version runs its own stages; both have a query load, logits and an output.
  for (const VersionProfile* p : {&c.a, &c.b})
    for (const char* stage : {"qk_logits", "output"})
      CHECK(std::find(p->stages.begin(), p->stages.end(), stage) != p->stages.end());
  CHECK(std::find(c.b.stages.begin(), c.b.stages.end(), "kv_tile_load") != c.b.stages.end());
  CHECK(std::find(c.a.stages.begin(), c.a.stages.end(), "kv_tile_load") == c.a.stages.end());

  // Two correct kernels with different summation orders: close, not equal, and the place is real.
  const OutputDifference& d = c.difference;
  CHECK(d.num_elements == 8 * 32);
  CHECK(d.max_abs < 2e-3);
  // Ulps are dense near zero, so the largest count sits on a tiny output; at the largest absolute
  // difference the two differ by an ulp or two of fp16.
  CHECK(ulps_between(d.value_a, d.value_b, DType::fp16) <= 2);
  CHECK(d.max_ulps >= ulps_between(d.value_a, d.value_b, DType::fp16));
  CHECK(d.seq_idx == 0);
  CHECK(d.head_idx >= 0);
  CHECK(d.head_idx < 8);
  CHECK(d.dim_idx >= 0);
  CHECK(d.dim_idx < 32);
  CHECK(std::abs(double(d.value_a) - double(d.value_b)) == Approx(d.max_abs));

  const std::string table = format_comparison(c);
  CHECK_THAT(table, Catch::Contains("4.00x") && Catch::Contains("1.00x") && Catch::Contains("KV head 1"));
}

TEST_CASE("v1 and v2 read the same bytes when v2 has a single partition") {
  const VersionComparison c = compare_versions(recorded(KernelVersion::v1), recorded(KernelVersion::v2));
  CHECK(c.a.loaded_bytes == c.b.loaded_bytes);
  CHECK(c.a.unique_bytes == c.b.unique_bytes);
  CHECK(c.b.num_launches == 2);  // v2's reduce
  CHECK(c.difference.max_ulps == 0);  // one partition: the same arithmetic
}

TEST_CASE("the comparison refuses runs of different scenarios") {
  RecordedRunOptions options;
  options.backend = Backend::emulator;
  Scenario other = gqa_scenario(KernelVersion::v1);
  other.seq_lens = {21};
  CHECK_THROWS_AS(compare_versions(recorded(KernelVersion::v1), RecordedRun::from_scenario(other, options)), ScenarioError);
}

TEST_CASE("ulps count the representable values of the dtype between two numbers") {
  CHECK(ulps_between(1.0f, 1.0f, DType::fp16) == 0);
  CHECK(ulps_between(1.0f, 1.0f + 1.0f / 1024.0f, DType::fp16) == 1);  // fp16: 10 mantissa bits
  CHECK(ulps_between(1.0f, 1.0f + 1.0f / 128.0f, DType::bf16) == 1);   // bf16: 7
  CHECK(ulps_between(1.0f, 1.0f + 1.0f / 1024.0f, DType::bf16) == 0);  // rounds to 1 in bf16
  CHECK(ulps_between(0.0f, -0.0f, DType::fp32) == 0);
  CHECK(ulps_between(-1e-45f, 1e-45f, DType::fp32) == 2);  // the two smallest subnormals around zero
  CHECK(ulps_between(2.0f, 1.0f, DType::fp16) == 1024);    // one binade
  CHECK(ulps_between(std::nanf(""), 1.0f, DType::fp16) == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("the element-wise difference holds both outputs and |a - b|; each head's maximum is its largest element") {
  const VersionComparison c = compare_versions(recorded(KernelVersion::v1), recorded(KernelVersion::grouped));
  const OutputDifference& d = c.difference;
  REQUIRE(d.num_seqs == 1);
  REQUIRE(d.num_heads == 8);
  REQUIRE(d.head_size == 32);
  REQUIRE(d.abs_diff.size() == std::size_t(d.num_elements));
  REQUIRE(d.head_max_abs.size() == 8u);
  double overall = 0.0;
  for (int head = 0; head < 8; ++head) {
    double largest = 0.0;
    for (int dim = 0; dim < 32; ++dim) {
      const std::size_t i = std::size_t(head * 32 + dim);
      CHECK(d.abs_diff[i] == Approx(std::fabs(double(d.values_a[i]) - double(d.values_b[i]))));
      largest = std::max(largest, double(d.abs_diff[i]));
    }
    CHECK(d.head_max_abs[std::size_t(head)] == Approx(largest));
    overall = std::max(overall, largest);
  }
  CHECK(overall == Approx(d.max_abs));
  // The outputs are each run's own.
  const RecordedRun v1 = recorded(KernelVersion::v1);
  CHECK(d.values_a[5] == v1.kernel().output.get_float(5));
}

TEST_CASE("--compare takes two different versions; anything else is refused saying what to give") {
  CHECK(parse_compared_versions("v1,grouped") == std::vector<KernelVersion>{KernelVersion::v1, KernelVersion::grouped});
  CHECK(parse_compared_versions("grouped,v2") == std::vector<KernelVersion>{KernelVersion::grouped, KernelVersion::v2});
  CHECK_THROWS_WITH(parse_compared_versions("v1,v1"), Catch::Contains("the same version twice"));
  CHECK_THROWS_WITH(parse_compared_versions("v1,auto"), Catch::Contains("'auto' is not a version"));
  CHECK_THROWS_WITH(parse_compared_versions("v1,v3", "--compare"), Catch::Contains("'v3' is not a version"));
  CHECK_THROWS_WITH(parse_compared_versions("v1"), Catch::Contains("give two versions"));
  CHECK_THROWS_WITH(parse_compared_versions("v1,v2,grouped"), Catch::Contains("give two versions"));
  CHECK_THROWS_WITH(parse_compared_versions(""), Catch::Contains("'' is not a version"));
}

TEST_CASE("compared runs share one set of inputs; a version the scenario cannot run is refused before any runs") {
  RecordedRunOptions options;
  options.backend = Backend::emulator;
  options.record = false;  // the comparison records anyway
  const std::vector<RecordedRun> runs =
      run_compared_versions(gqa_scenario(KernelVersion::automatic), {KernelVersion::grouped, KernelVersion::v1}, options);
  REQUIRE(runs.size() == 2u);
  CHECK(runs[0].version() == KernelVersion::grouped);
  CHECK(runs[1].version() == KernelVersion::v1);
  CHECK(runs[0].recorded());
  CHECK(runs[0].inputs().key_cache.bytes == runs[1].inputs().key_cache.bytes);
  CHECK(compare_versions(runs[1], runs[0]).b.loaded_bytes == 2 * 2560);

  // The grouped kernel has no block sparsity (v1 has, compiled for head 128 in every build).
  Scenario sparse = gqa_scenario(KernelVersion::automatic);
  sparse.head_size = 128;
  sparse.block_sparse.vert_stride = 4;
  sparse.block_sparse.local_blocks = 1;
  CHECK_THROWS_WITH(run_compared_versions(sparse, {KernelVersion::v1, KernelVersion::grouped}, options),
                    Catch::Contains("cannot run grouped on this scenario"));
}
