// Tests of the benchmark's host side: the bytes it counts, the upstream tables and their look-ups,
// the variant axis, planning, the output check and the formats. The published tables are independent
// data: their percentages were computed by whoever timed upstream's kernels, so reproducing them from
// our byte count and their times checks the count.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include "bench/bench_model.h"
#include "bench/output_check.h"
#include "bench/plan.h"
#include "bench/report.h"
#include "bench/upstream_anchors.h"
#include "bench/variants.h"
#include "kernels/grouped_launch.h"

using namespace pal;
using namespace pal::bench;
using Catch::Contains;
using Catch::EndsWith;

namespace {

BenchShape table_shape(const UpstreamTable& table, const UpstreamRow& row) {
  BenchShape shape;
  shape.dtype = table.dtype;
  shape.head_size = table.head_size;
  shape.block_size = table.block_size;
  shape.num_heads = row.num_heads;
  shape.num_kv_heads = row.num_kv_heads;
  shape.batch = row.batch;
  shape.context_len = row.context_len;
  return shape;
}

const UpstreamTable& table_named(std::string_view device) {
  for (const UpstreamTable& table : kUpstreamTables)
    if (table.device_name == device) return table;
  throw std::logic_error("no table for " + std::string(device));
}

DeviceIdentity identity_of(const UpstreamTable& table) {
  return {std::string(table.device_name), table.compute_major, table.compute_minor, table.sm_count};
}

std::size_t count_csv_fields(const std::string& line) {
  std::size_t fields = 1;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) ++fields;
  }
  return fields;
}

std::size_t count_cells(const std::string& markdown_row) {
  std::size_t bars = 0;
  for (char c : markdown_row) bars += c == '|';
  return bars - 1;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

DeviceLimits h200_limits() {
  DeviceLimits limits;
  limits.shared_memory_per_block = 232448;
  limits.l2_bytes = std::int64_t{60} << 20;
  limits.free_memory_bytes = std::int64_t{140} << 30;
  limits.memory_margin_bytes = std::int64_t{1} << 30;
  return limits;
}

BenchRow measured_row(const BenchShape& shape, KernelVersion version, double hot_us) {
  BenchRow row;
  row.shape = shape;
  row.version = version;
  row.section = "primary";
  row.bytes = unique_bytes(shape);
  row.hot = summarize({hot_us, hot_us, hot_us});
  row.check = "ok";
  return row;
}

}  // namespace

// ---- the upstream tables ------------------------------------------------------------------------------

TEST_CASE("counted bytes over the upstream times reproduce every published percent of peak and TB/s") {
  for (const UpstreamTable& table : kUpstreamTables) {
    for (const UpstreamRow& row : table.rows) {
      const BenchShape shape = table_shape(table, row);
      INFO(table.device_name << " " << shape.name() << " v" << row.version);
      // Times are rounded to 0.1 us, TB/s to 0.01 and percent to 1: allow exactly those roundings
      // (the time's relative error carries into both rates). A wrong byte count (K or V forgotten,
      // bytes per query head instead of per KV head) misses by a factor of 2 or more.
      auto check_percent = [&](const std::optional<double>& time_us, const std::optional<double>& published) {
        REQUIRE(time_us.has_value() == published.has_value());
        if (!time_us) return;
        const double percent = 100 * terabytes_per_second(unique_bytes(shape), *time_us) / table.nominal_peak_tbs;
        CHECK(std::fabs(percent - *published) <= 0.5 + percent * 0.05 / *time_us + 1e-6);
      };
      check_percent(row.vllm_hot_us, row.published_vllm_percent);
      check_percent(row.flashinfer_cuda_core_hot_us, row.published_flashinfer_cuda_core_percent);
      check_percent(row.flashinfer_tensor_core_hot_us, row.published_flashinfer_tensor_core_percent);
      if (row.published_vllm_tbs) {
        const double tbs = terabytes_per_second(unique_bytes(shape), *row.vllm_hot_us);
        CHECK(std::fabs(tbs - *row.published_vllm_tbs) <= 0.005 + tbs * 0.05 / *row.vllm_hot_us + 1e-6);
      }
    }
  }
}

TEST_CASE("vLLM's heuristic picks the versions every upstream table marks as vLLM's pick") {
  for (const UpstreamTable& table : kUpstreamTables)
    for (const UpstreamRow& row : table.rows) {
      const BenchShape shape = table_shape(table, row);
      INFO(table.device_name << " " << shape.name() << " v" << row.version);
      CHECK((upstream_pick(shape) == (row.version == 1 ? KernelVersion::v1 : KernelVersion::v2)) == row.vllm_picks);
    }
}

TEST_CASE("a table's rows are unique, and FlashInfer's figure repeats on both versions of a shape") {
  for (const UpstreamTable& table : kUpstreamTables)
    for (std::size_t i = 0; i < table.rows.size(); ++i)
      for (std::size_t j = i + 1; j < table.rows.size(); ++j) {
        const UpstreamRow& a = table.rows[i];
        const UpstreamRow& b = table.rows[j];
        const bool same_shape = a.num_heads == b.num_heads && a.num_kv_heads == b.num_kv_heads && a.batch == b.batch &&
                                a.context_len == b.context_len;
        CHECK_FALSE((same_shape && a.version == b.version));
        if (same_shape) {
          CHECK(a.flashinfer_cuda_core_hot_us == b.flashinfer_cuda_core_hot_us);
          CHECK(a.flashinfer_tensor_core_hot_us == b.flashinfer_tensor_core_hot_us);
        }
      }
}

TEST_CASE("the primary grid holds every row of every table; the H200 table covers all 64 rows, the H100 one 56") {
  const std::vector<BenchShape> grid = primary_grid(false);
  CHECK(grid.size() == 2 * 4 * 4);
  for (const UpstreamTable& table : kUpstreamTables) {
    std::size_t covered = 0;
    for (const BenchShape& shape : grid)
      for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2})
        covered += upstream_figures(table, shape, version).vllm_hot_us.has_value();
    CHECK(covered == table.rows.size());
  }
  CHECK(table_named("NVIDIA H200").rows.size() == 64);
  CHECK(table_named("NVIDIA H100 80GB HBM3").rows.size() == 56);
}

TEST_CASE("a device gets the table measured on its kind, and no other GPU gets one, with the reason") {
  for (const UpstreamTable& table : kUpstreamTables) CHECK(upstream_table_for(identity_of(table), nullptr) == &table);

  const UpstreamTable& h200 = table_named("NVIDIA H200");
  std::string why;
  DeviceIdentity nvl = identity_of(h200);
  nvl.name = "NVIDIA H200 NVL";  // same chip, another power envelope: not the same kind
  CHECK(upstream_table_for(nvl, &why) == nullptr);
  CHECK_THAT(why, Contains("NVIDIA H200 NVL") && Contains("NVIDIA H200 (132 SMs, 2026-11-29)"));
  DeviceIdentity pcie{"NVIDIA H100 PCIe", 9, 0, 114};
  CHECK(upstream_table_for(pcie, nullptr) == nullptr);
  DeviceIdentity fewer_sms = identity_of(h200);
  fewer_sms.sm_count = 114;  // a partitioned (MIG) or cut-down part
  CHECK(upstream_table_for(fewer_sms, nullptr) == nullptr);
  CHECK(upstream_table_for({"NVIDIA A100-SXM4-80GB", 8, 0, 108}, nullptr) == nullptr);
}

TEST_CASE("a row is compared with vLLM's same version, and FlashInfer's figures whatever the version") {
  const UpstreamTable& h200 = table_named("NVIDIA H200");
  BenchShape shape;
  shape.num_kv_heads = 8;
  shape.batch = 8;
  shape.context_len = 2048;
  const UpstreamFigures v1 = upstream_figures(h200, shape, KernelVersion::v1);
  const UpstreamFigures v2 = upstream_figures(h200, shape, KernelVersion::v2);
  CHECK(v1.vllm_version == 1);
  CHECK(*v1.vllm_hot_us == Approx(67.1));
  CHECK(*v1.vllm_cold_us == Approx(67.5));
  CHECK(*v2.vllm_hot_us == Approx(49.0));
  CHECK(*v1.flashinfer_cuda_core_hot_us == Approx(27.4));
  CHECK(*v2.flashinfer_tensor_core_hot_us == Approx(26.6));
  // The H100 table has vLLM hot only, and no v1 at 32768 tokens.
  const UpstreamTable& h100 = table_named("NVIDIA H100 80GB HBM3");
  CHECK_FALSE(upstream_figures(h100, shape, KernelVersion::v1).vllm_cold_us);
  CHECK_FALSE(upstream_figures(h100, shape, KernelVersion::v1).flashinfer_cuda_core_hot_us);
  shape.context_len = 32768;
  CHECK_FALSE(upstream_figures(h100, shape, KernelVersion::v1).any());
  // Outside the table's configuration: nothing.
  shape.context_len = 2048;
  BenchShape bf16 = shape;
  bf16.dtype = DType::bf16;
  CHECK_FALSE(upstream_figures(h200, bf16, KernelVersion::v1).any());
  BenchShape head64 = shape;
  head64.head_size = 64;
  CHECK_FALSE(upstream_figures(h200, head64, KernelVersion::v2).any());
  BenchShape other_batch = shape;
  other_batch.batch = 16;
  CHECK_FALSE(upstream_figures(h200, other_batch, KernelVersion::v2).any());
}

// ---- shapes, bytes, grids ------------------------------------------------------------------------------

TEST_CASE("the quick grids are subsets of the full grids") {
  const std::vector<BenchShape> full = primary_grid(false);
  for (const BenchShape& quick : primary_grid(true)) {
    bool found = false;
    for (const BenchShape& shape : full) found = found || shape.name() == quick.name();
    CHECK(found);
  }
  const std::vector<BenchShape> secondary = secondary_grid(false);
  for (const BenchShape& quick : secondary_grid(true)) {
    bool found = false;
    for (const BenchShape& shape : secondary) found = found || shape.name() == quick.name();
    CHECK(found);
  }
}

TEST_CASE("benchmark scenarios are valid and allocate exactly the blocks the sequences need") {
  std::vector<BenchShape> shapes = secondary_grid(false);
  for (const BenchShape& shape : primary_grid(false)) shapes.push_back(shape);
  for (const BenchShape& shape : shapes) {
    INFO(shape.name());
    const Scenario scenario = make_scenario(shape, KernelVersion::v2, 7);
    CHECK(scenario.num_blocks == scenario.num_blocks_needed());
    CHECK(scenario.kv_cache_dtype == shape.cache_format());
    // Inputs made on the device are not bound by core's host-memory limit; every other rule holds.
    CHECK(scenario_problems(scenario, std::numeric_limits<std::int64_t>::max()).empty());
  }
}

TEST_CASE("the allocated KV cache equals the counted K/V bytes when contexts are whole blocks") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  shape.batch = 3;
  shape.context_len = 2048;
  const std::int64_t query_and_out = 2 * std::int64_t{3} * 32 * 128 * 2;
  CHECK(kv_cache_bytes(shape) == unique_bytes(shape) - query_and_out);
  shape.context_len = 2049;  // one token into a new block: the block is allocated, not counted
  CHECK(kv_cache_bytes(shape) > unique_bytes(shape) - query_and_out);
}

TEST_CASE("an fp8 cache is counted at one byte per element and named after the query's dtype") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  shape.batch = 2;
  shape.context_len = 512;
  BenchShape fp8_cache = shape;
  fp8_cache.kv_cache_dtype = KvCacheDtype::fp8_e4m3;
  const std::int64_t kv_elements = std::int64_t{2} * 512 * 8 * 128 * 2;
  CHECK(unique_bytes(shape) - unique_bytes(fp8_cache) == kv_elements * (2 - 1));
  CHECK(2 * kv_cache_bytes(fp8_cache) == kv_cache_bytes(shape));
  CHECK(fp8_cache.name() == "fp16/kv-fp8_e4m3/h128/bs16/32x8/b2/c512");
  BenchShape same_cache = shape;
  same_cache.kv_cache_dtype = KvCacheDtype::automatic;
  CHECK(same_cache.name() == shape.name());
}

TEST_CASE("summaries interpolate percentiles between order statistics") {
  const TimingSummary summary = summarize({11, 1, 10, 2, 9, 3, 8, 4, 7, 5, 6});
  CHECK(summary.count == 11);
  CHECK(summary.median == Approx(6));
  CHECK(summary.p10 == Approx(2));
  CHECK(summary.p90 == Approx(10));
  CHECK(summary.min == Approx(1));
  CHECK(summary.max == Approx(11));
  const TimingSummary even = summarize({4, 1, 3, 2});
  CHECK(even.median == Approx(2.5));
  CHECK(summarize({}).count == 0);
}

TEST_CASE("filters are regular expressions over row names, and a malformed one is refused with the flag's name") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  const std::string name = row_name(shape, KernelVersion::v2);
  CHECK(name == "fp16/h128/bs16/32x8/b1/c512/v2");
  CHECK(filter_matches("", name));
  CHECK(filter_matches("/v2$", name));
  CHECK_FALSE(filter_matches("/v1$", name));
  CHECK(filter_matches("32x8/b(1|8)/", name));
  CHECK_THROWS_WITH(filter_matches("b(1", name), Contains("--filter"));
}

// ---- the variant axis ---------------------------------------------------------------------------------

TEST_CASE("--versions selects variants by version, and auto selects the version auto picks for the shape") {
  BenchShape shape;
  shape.dtype = DType::bf16;  // a shape without the fp8 rows (those have their own test below)
  const auto versions_of = [](const std::vector<KernelVariant>& variants) {
    std::vector<KernelVersion> versions;
    for (const KernelVariant& variant : variants) versions.push_back(variant.version);
    return versions;
  };
  CHECK(versions_of(variants_for(shape, {"v1", "v2"}, KernelVersion::v1)) ==
        std::vector<KernelVersion>{KernelVersion::v1, KernelVersion::v2});
  CHECK(versions_of(variants_for(shape, {"v2"}, KernelVersion::v1)) == std::vector<KernelVersion>{KernelVersion::v2});
  CHECK(versions_of(variants_for(shape, {"auto"}, KernelVersion::v1)) == std::vector<KernelVersion>{KernelVersion::v1});
  CHECK(versions_of(variants_for(shape, {"auto"}, KernelVersion::v2)) == std::vector<KernelVersion>{KernelVersion::v2});
  // auto and an explicit version together still time each version once.
  CHECK(versions_of(variants_for(shape, {"auto", "v2"}, KernelVersion::v2)) ==
        std::vector<KernelVersion>{KernelVersion::v2});
  const std::vector<std::string> names = selectable_versions();
  CHECK(names == std::vector<std::string>{"v1", "v2", "grouped", "auto"});
  // The grouped kernel runs on GQA and MHA shapes of the query dtype's cache; auto never picks it.
  CHECK(versions_of(variants_for(shape, {"v1", "v2", "grouped"}, KernelVersion::v1)) ==
        std::vector<KernelVersion>{KernelVersion::v1, KernelVersion::v2, KernelVersion::grouped});
  BenchShape mha = shape;
  mha.num_kv_heads = mha.num_heads;
  CHECK(versions_of(variants_for(mha, {"grouped"}, KernelVersion::v1)) ==
        std::vector<KernelVersion>{KernelVersion::grouped});
  // A shape that already has an fp8 cache gets the grouped kernel on it, and no cache variants.
  BenchShape fp8 = shape;
  fp8.kv_cache_dtype = KvCacheDtype::fp8_e4m3;
  const std::vector<KernelVariant> on_fp8 = variants_for(fp8, {"grouped"}, KernelVersion::v1);
  REQUIRE(on_fp8.size() == 1);
  CHECK(on_fp8[0].version == KernelVersion::grouped);
  CHECK_FALSE(on_fp8[0].kv_cache_dtype);
}

TEST_CASE("the grouped kernel gets E4M3- and E5M2-cache rows on fp16-query head-128 block-16 shapes, after its fp16 row") {
  BenchShape shape;  // fp16, head 128, block 16
  shape.num_kv_heads = 8;
  const std::vector<KernelVariant> rows = variants_for(shape, {"grouped"}, KernelVersion::v1);
  REQUIRE(rows.size() == 3);
  CHECK_FALSE(rows[0].kv_cache_dtype);  // the baseline first: its time is known when the fp8 rows report
  std::set<KvCacheDtype> formats;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i].version == KernelVersion::grouped);
    REQUIRE(rows[i].kv_cache_dtype);
    formats.insert(*rows[i].kv_cache_dtype);
    CHECK(baseline_of(rows[i])->version == KernelVersion::grouped);
    CHECK(shape_for(shape, rows[i]).name() ==
          "fp16/kv-" + std::string(kv_cache_dtype_name(*rows[i].kv_cache_dtype)) + "/h128/bs16/32x8/b1/c512");
  }
  CHECK(formats == std::set<KvCacheDtype>{KvCacheDtype::fp8_e4m3, KvCacheDtype::fp8_e5m2});
  BenchShape other = shape;
  other.head_size = 64;
  CHECK(variants_for(other, {"grouped"}, KernelVersion::v1).size() == 1);
}

TEST_CASE("every variant's row is named after its shape and version, and only cache variants have a baseline") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  for (const KernelVariant& variant : kernel_variants()) {
    const BenchShape variant_shape = shape_for(shape, variant);
    CHECK(variant.version != KernelVersion::automatic);
    if (variant.kv_cache_dtype) {
      CHECK(variant_shape.cache_format() == *variant.kv_cache_dtype);
      REQUIRE(baseline_of(variant));
      CHECK(baseline_of(variant)->version == variant.version);
      CHECK_FALSE(baseline_of(variant)->kv_cache_dtype);
    } else {
      CHECK(variant_shape.name() == shape.name());
      CHECK_FALSE(baseline_of(variant));
    }
  }
  // A cache variant is its own baseline's comparison: the same version on the query dtype's cache.
  const KernelVariant cache_variant{KernelVersion::v2, KvCacheDtype::fp8_e5m2, nullptr};
  CHECK(shape_for(shape, cache_variant).name() == "fp16/kv-fp8_e5m2/h128/bs16/32x8/b1/c512");
  CHECK(baseline_of(cache_variant)->version == KernelVersion::v2);
}

TEST_CASE("fp16-query head-128 block-16 shapes get E4M3- and E5M2-cache rows of v1 and v2, each against its fp16-cache row") {
  const BenchShape shape;  // fp16, head 128, block 16
  std::vector<KernelVariant> fp8_rows;
  for (const KernelVariant& variant : variants_for(shape, {"v1", "v2"}, KernelVersion::v1))
    if (variant.kv_cache_dtype) fp8_rows.push_back(variant);
  REQUIRE(fp8_rows.size() == 4);
  std::set<std::pair<KernelVersion, KvCacheDtype>> seen;
  for (const KernelVariant& variant : fp8_rows) seen.insert({variant.version, *variant.kv_cache_dtype});
  CHECK(seen.size() == 4);
  for (const KernelVariant& variant : fp8_rows) {
    CHECK(is_fp8(*variant.kv_cache_dtype));
    CHECK(shape_for(shape, variant).cache_element_bytes() == 1);
    CHECK_FALSE(baseline_of(variant)->kv_cache_dtype);
  }
  BenchShape other = shape;
  other.head_size = 64;
  for (const KernelVariant& variant : variants_for(other, {"v1", "v2"}, KernelVersion::v1))
    CHECK_FALSE(variant.kv_cache_dtype);
}

TEST_CASE("the launch description says the grid, and v2's partitions and reduce") {
  BenchShape shape;
  shape.batch = 8;
  shape.context_len = 2048;
  const auto launch = [&](KernelVersion version) {
    return make_launch_shape(make_scenario(shape, version, 0), version);
  };
  CHECK(describe_launch(launch(KernelVersion::v1)) == "grid 32x8");
  CHECK(describe_launch(launch(KernelVersion::v2)) == "grid 32x8x4 + reduce");
  // The grouped kernel's grid is its plan's: (KV heads x head chunks) x seqs x splits; GQA 32/8.
  shape.num_kv_heads = 8;
  const LaunchShape grouped = launch(KernelVersion::grouped);
  GroupedPlan plan = plan_grouped(grouped_plan_request(grouped, GroupedMath::tensor_cores, 4));
  CHECK(describe_grouped_launch(grouped, plan) == "grid 8x8x4 mma + merge");
  plan = plan_grouped(grouped_plan_request(grouped, GroupedMath::cuda_cores, 1));
  CHECK(describe_grouped_launch(grouped, plan) == "grid 8x8x1 fma");
}

// ---- planning -----------------------------------------------------------------------------------------

TEST_CASE("the static shared memory of the main kernel is one head of q in the query dtype, its padding, and 2 floats per warp") {
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32})
    for (int head_size : kSupportedHeadSizes) {
      BenchShape shape;
      shape.dtype = dtype;
      shape.head_size = head_size;
      const LaunchShape launch = make_launch_shape(make_scenario(shape, KernelVersion::v1, 0), KernelVersion::v1);
      // q_vecs rows are padded where two rows would start in the same bank (issue 12).
      const KernelGeometry g{dtype_size_bytes(dtype), head_size, shape.block_size, kNumThreads, dtype_size_bytes(dtype)};
      const int padding = g.thread_group_size() * g.q_row_padding_vecs() * g.q_vec_bytes();
      CHECK(launch.main_static_shared_memory_bytes() ==
            std::size_t(head_size * dtype_size_bytes(dtype) + padding + 2 * (kNumThreads / kWarpSize) * 4));
      CHECK(launch.main_total_shared_memory_bytes() ==
            launch.main_shared_memory_bytes() + launch.main_static_shared_memory_bytes());
    }
}

TEST_CASE("planning skips v1 where its shared memory exceeds the device's limit, and auto then picks v2") {
  BenchShape shape;
  shape.dtype = DType::bf16;  // no fp8-cache rows (those follow fp16 queries): just v1 and v2
  shape.context_len = 65536;  // v1's logits: 256 KiB, over an H200's 227 KiB per thread block
  const std::vector<KernelVariant> both = variants_for(shape, {"v1", "v2"}, KernelVersion::v2);
  const ShapePlan plan = plan_shape(shape, both, true, h200_limits(), PlanOptions{});
  REQUIRE(plan.rows.size() == 2);
  CHECK_THAT(plan.rows[0].skipped, Contains("B of shared memory per thread block; this GPU allows 232448"));
  CHECK(plan.rows[1].skipped.empty());
  // Without the grouped kernel compiled, auto is upstream's heuristic, then v2 where v1 does not fit.
  CHECK(auto_pick(shape, h200_limits(), false) == KernelVersion::v2);
  CHECK(upstream_auto_pick(shape, h200_limits()) == KernelVersion::v2);
  // Where v1 fits, auto follows vLLM's heuristic.
  shape.context_len = 512;
  CHECK(auto_pick(shape, h200_limits(), false) == upstream_pick(shape));
  DeviceLimits tiny = h200_limits();
  tiny.shared_memory_per_block = 1024;  // not even v1 at 512 tokens fits
  CHECK(auto_pick(shape, tiny, false) == KernelVersion::v2);
}

TEST_CASE("auto picks the grouped kernel where this project's rule says so, it was compiled and its shared memory "
          "fits, and the faithful kernel's version otherwise") {
  BenchShape gqa;
  gqa.num_kv_heads = 8;
  gqa.batch = 32;
  gqa.context_len = 8192;
  CHECK(auto_pick(gqa, h200_limits(), true) == KernelVersion::grouped);
  CHECK(auto_pick(gqa, h200_limits(), false) == upstream_pick(gqa));
  CHECK(upstream_auto_pick(gqa, h200_limits()) == upstream_pick(gqa));
  DeviceLimits small = h200_limits();
  small.shared_memory_per_block = 48 * 1024;  // below the grouped kernel's 3-stage pipeline at head 128
  CHECK(auto_pick(gqa, small, true) != KernelVersion::grouped);
  BenchShape fp8 = gqa;  // an fp8 cache with query groups: grouped measured faster (H200 run 35)
  fp8.kv_cache_dtype = KvCacheDtype::fp8_e4m3;
  CHECK(auto_pick(fp8, h200_limits(), true) == KernelVersion::grouped);
  BenchShape fp8_mha = fp8;  // multi-head beyond batch 1 with an fp8 cache: v1/v2 measured faster
  fp8_mha.num_kv_heads = 32;
  CHECK(auto_pick(fp8_mha, h200_limits(), true) == upstream_pick(fp8_mha));
  BenchShape mha_large = gqa;
  mha_large.num_kv_heads = 32;  // 4096 (sequence, KV head) pairs at 512 tokens: v1 measured faster (run 35)
  mha_large.batch = 128;
  mha_large.context_len = 512;
  CHECK(auto_pick(mha_large, h200_limits(), true) == upstream_pick(mha_large));
}

TEST_CASE("each row says which version auto picks for its shape and whether that was the fastest measured") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  std::vector<BenchRow> rows;
  for (auto [version, us] : {std::pair{KernelVersion::v1, 30.0}, {KernelVersion::v2, 20.0}, {KernelVersion::grouped, 10.0}}) {
    BenchRow row = measured_row(shape, version, us);
    row.auto_version = KernelVersion::v2;
    rows.push_back(row);
  }
  BenchShape other = shape;
  other.batch = 8;
  BenchRow alone = measured_row(other, KernelVersion::grouped, 5.0);
  alone.auto_version = KernelVersion::grouped;
  rows.push_back(alone);
  BenchRow skipped = measured_row(other, KernelVersion::v1, 0.0);
  skipped.skipped = "not compiled";
  skipped.auto_version = KernelVersion::grouped;
  rows.push_back(skipped);
  mark_auto_verdicts(rows);
  for (int i = 0; i < 3; ++i) CHECK(rows[std::size_t(i)].auto_verdict == "x2.00 of grouped");
  CHECK(auto_cell(rows[0]) == "v2, x2.00 of grouped");
  CHECK(rows[3].auto_verdict == "alone");
  CHECK(rows[4].auto_verdict == "alone");
  rows[0].auto_version = rows[1].auto_version = rows[2].auto_version = KernelVersion::grouped;
  mark_auto_verdicts(rows);
  CHECK(auto_cell(rows[1]) == "grouped, fastest");
  std::ostringstream csv;
  write_csv_header(csv);
  write_csv_row(csv, rows[1], RunContext{});
  const std::vector<std::string> lines = lines_of(csv.str());
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], EndsWith(",auto_version,auto_verdict"));
  CHECK_THAT(lines[1], EndsWith(",grouped,fastest"));
  std::ostringstream markdown;
  write_markdown(markdown, rows, RunContext{});
  CHECK_THAT(markdown.str(), Contains("| auto picks |") && Contains("| grouped, fastest |"));
}

TEST_CASE("planning skips every row of a shape the build did not compile or the device memory cannot hold") {
  BenchShape shape;
  const std::vector<KernelVariant> both = variants_for(shape, {"v1", "v2"}, KernelVersion::v1);
  const ShapePlan not_compiled = plan_shape(shape, both, false, h200_limits(), PlanOptions{});
  for (const PlannedRow& row : not_compiled.rows) CHECK_THAT(row.skipped, Contains("PAL_CUDA_INSTANTIATIONS=full"));
  CHECK_FALSE(not_compiled.any_runnable());

  shape.batch = 128;
  shape.context_len = 32768;  // 64 GiB of K and V
  DeviceLimits small = h200_limits();
  small.free_memory_bytes = std::int64_t{40} << 30;
  const ShapePlan too_big = plan_shape(shape, both, true, small, PlanOptions{});
  for (const PlannedRow& row : too_big.rows) CHECK_THAT(row.skipped, Contains("of device memory;"));
}

TEST_CASE("the cold rotation asks for input sets over 3x L2 together, within device memory and the cap") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  const std::vector<KernelVariant> both = variants_for(shape, {"v1", "v2"}, KernelVersion::v1);
  const DeviceLimits limits = h200_limits();
  const ShapePlan small = plan_shape(shape, both, true, limits, PlanOptions{});
  const double together = double(small.cold_sets) * double(kv_cache_bytes(shape));
  CHECK(together >= 3.0 * double(limits.l2_bytes));
  CHECK(double(small.cold_sets - 1) * double(kv_cache_bytes(shape)) < 3.0 * double(limits.l2_bytes));
  CHECK(small.inputs_on_host);

  shape.batch = 32;
  shape.context_len = 8192;  // 2 GiB of K and V: one set is over 3x L2
  const ShapePlan large = plan_shape(shape, both, true, limits, PlanOptions{});
  CHECK(large.cold_sets_wanted == 1);
  CHECK_FALSE(large.inputs_on_host);

  PlanOptions flush;
  flush.cold_method = ColdMethod::flush;
  CHECK(plan_shape(primary_grid(true).front(), both, true, limits, flush).cold_sets_wanted == 1);

  shape.batch = 1;
  shape.context_len = 512;
  DeviceLimits tight = limits;
  tight.free_memory_bytes = limits.memory_margin_bytes + 4 * input_set_bytes(shape) + workspace_bytes(shape);
  const ShapePlan fitted = plan_shape(shape, both, true, tight, PlanOptions{});
  CHECK(fitted.cold_sets == 4);
  CHECK(fitted.cold_sets_wanted > 4);
}

// ---- the output check ---------------------------------------------------------------------------------

TEST_CASE("the output check refuses NaN and values outside the inputs' range, naming the element") {
  BenchShape shape;
  shape.num_heads = 2;
  shape.num_kv_heads = 2;
  shape.batch = 2;
  shape.head_size = 64;
  const float range = 1.0f / 8.0f;
  std::vector<float> values(2 * 2 * 64, range * 0.5f);
  CHECK(check_output_range(shape, values) == "ok");
  values[64 + 3] = std::nanf("");  // seq 0, head 1, dim 3
  CHECK_THAT(check_output_range(shape, values), Contains("FAIL: out(seq 0, head 1, dim 3)"));
  values[64 + 3] = range * 1.01f;
  CHECK_THAT(check_output_range(shape, values), Contains("FAIL: out(seq 0, head 1, dim 3)"));
  values[64 + 3] = -range;  // the bound itself is allowed
  CHECK(check_output_range(shape, values) == "ok");
}

TEST_CASE("two outputs agree within a few units of the dtype, and any NaN is a disagreement") {
  BenchShape shape;
  shape.num_heads = 1;
  shape.num_kv_heads = 1;
  shape.head_size = 64;
  const std::vector<float> a(64, 0.01f);
  std::vector<float> b = a;
  const double unit = rounding_unit(shape) / 8.0;  // the values' range is 1/8 for head 64
  b[5] = float(0.01 + 4 * unit);
  CHECK(compare_outputs(shape, "v1", a, "v2", b) == "ok, v1=v2");
  b[5] = float(0.01 + 16 * unit);
  CHECK_THAT(compare_outputs(shape, "v1", a, "v2", b), Contains("FAIL: v1 and v2 differ") && Contains("dim 5"));
  b[5] = std::nanf("");
  CHECK_THAT(compare_outputs(shape, "v1", a, "v2", b), Contains("FAIL"));
  CHECK_THAT(compare_outputs(shape, "v1", a, "v2", std::vector<float>(3)), Contains("FAIL"));
}

// ---- formats ------------------------------------------------------------------------------------------

TEST_CASE("every CSV row has as many fields as the header, even with commas in the notes") {
  std::ostringstream header;
  write_csv_header(header);
  RunContext context;
  context.peak_tbs = 4.8;
  context.copy_tbs = 4.2;
  context.upstream = &table_named("NVIDIA H200");
  BenchRow measured = measured_row(BenchShape{}, KernelVersion::v1, 11);
  measured.cold = summarize({20, 21});
  measured.upstream.vllm_hot_us = 12.4;
  measured.check = "ok, v1=v2";
  measured.cold_method = "rotate 75 sets";
  measured.launch = "grid 32x1";
  measured.baseline = "fp16/h128/bs16/32x32/b1/c512/v1";
  measured.baseline_us = 20;
  BenchRow skipped;
  skipped.skipped = "needs 70.00 GiB of device memory; 60.00 GiB usable, \"quoted\"";
  std::string header_text = header.str();
  header_text.pop_back();
  for (const BenchRow& row : {measured, skipped}) {
    std::ostringstream line;
    write_csv_row(line, row, context);
    std::string text = line.str();
    REQUIRE(!text.empty());
    text.pop_back();  // the newline
    CHECK(count_csv_fields(text) == count_csv_fields(header_text));
  }
  // The columns of earlier versions come first, unchanged.
  CHECK(header_text.rfind("name,dtype,num_heads,num_kv_heads,head_size,block_size,batch,ctx,version,upstream_picks,", 0) ==
        0);
  CHECK(header_text.find(",anchor_us,ratio_vs_anchor,check,skipped,") != std::string::npos);
}

TEST_CASE("every Markdown row has as many cells as the header, with and without upstream figures") {
  BenchShape shape;
  shape.num_kv_heads = 8;
  BenchRow v1 = measured_row(shape, KernelVersion::v1, 15);
  BenchRow v2 = measured_row(shape, KernelVersion::v2, 14);
  BenchRow skipped = v1;
  skipped.skipped = "time budget spent";
  BenchRow with_baseline = v2;
  with_baseline.baseline = "x";
  with_baseline.baseline_us = 28;
  for (bool upstream : {false, true})
    for (bool baseline : {false, true}) {
      RunContext context;
      context.peak_tbs = 4.8;
      context.upstream = upstream ? &table_named("NVIDIA H200") : nullptr;
      context.upstream_absent = "no table for this GPU";
      std::vector<BenchRow> rows = {v1, v2, skipped};
      if (baseline) rows.push_back(with_baseline);
      std::ostringstream out;
      write_markdown(out, rows, context);
      std::vector<std::string> table;
      for (const std::string& line : lines_of(out.str()))
        if (!line.empty() && line.front() == '|') table.push_back(line);
      REQUIRE(table.size() == rows.size() + 2);
      for (const std::string& line : table) CHECK(count_cells(line) == count_cells(table.front()));
      CHECK((out.str().find("FlashInfer") != std::string::npos) == upstream);
      if (!upstream) CHECK_THAT(out.str(), Contains("no table for this GPU"));
    }
}

TEST_CASE("the summary's geometric means are those of the ratios it lists, and it says what auto picked") {
  const UpstreamTable& h200 = table_named("NVIDIA H200");
  RunContext context;
  context.peak_tbs = 4.8;
  context.upstream = &h200;
  std::vector<BenchRow> rows;
  BenchShape shape;
  shape.num_kv_heads = 8;
  shape.batch = 8;
  shape.context_len = 2048;  // vLLM: v1 67.1 us, v2 49.0 us (picked)
  for (KernelVersion version : {KernelVersion::v1, KernelVersion::v2}) {
    BenchRow row = measured_row(shape, version, version == KernelVersion::v1 ? 2 * 67.1 : 0.5 * 49.0);
    row.upstream = upstream_figures(h200, shape, version);
    row.upstream_picks = upstream_pick(shape) == version;
    row.auto_picks = row.upstream_picks;
    rows.push_back(row);
  }
  std::ostringstream out;
  write_summary(out, rows, context);
  const std::string text = out.str();
  CHECK_THAT(text, Contains("== pal-bench summary") && Contains("NVIDIA H200 (2026-11-29"));
  // Ratios 2 and 0.5: geometric mean 1 over both rows, 0.5 over the row vLLM picks.
  CHECK_THAT(text, Contains("geometric-mean ratio over 2 anchored rows: 1.000; over the 1 rows upstream's heuristic picks: 0.500"));
  CHECK_THAT(text, Contains("v1 / vLLM v1: 2.000 over 1 rows") && Contains("v2 / vLLM v2: 0.500 over 1 rows"));
  CHECK_THAT(text, Contains("auto picks: v2 on 1 shapes; the fastest measured version on 1 of 1 shapes"));

  context.upstream = nullptr;
  context.upstream_absent = "no upstream figures were measured on a GPU X";
  std::ostringstream none;
  write_summary(none, rows, context);
  CHECK_THAT(none.str(), Contains("no upstream comparison on this GPU") && Contains("GPU X"));
}
